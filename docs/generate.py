"""Generate docs/cli.md and the shell completion scripts in completions/ from the Typer app.

.venv/bin/python docs/generate.py           # write them
.venv/bin/python docs/generate.py --check   # exit 1 if any is stale (a test runs this)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
COMPLETIONS = {
    "bash": "pushcli.bash",
    "zsh": "_pushcli",
    "fish": "pushcli.fish",
    "powershell": "pushcli.ps1",
}
HEADER = """# pushcli command reference

Generated from the application by `docs/generate.py`; do not edit by hand. Exit codes are in
the README. Every command also answers `--help`.

"""


def cli_reference() -> str:
    """Every command as its --help draws it (pushcli.cli.help): usage, the option panels and
    the examples."""
    import typer.main

    from pushcli.cli import app

    root = typer.main.get_command(app)
    ctx = root.context_class(root, info_name="pushcli", **root.context_settings)
    lines = command_doc(root, ctx, "pushcli", 1)
    return HEADER + "\n".join(line.rstrip() for line in lines).strip() + "\n"


def command_doc(command: Any, ctx: Any, path: str, level: int) -> list[str]:
    from pushcli.cli import help as cli_help

    text, examples = cli_help.split_help(command.help)
    out = [f"{'#' * level} `{path}`", ""]
    for paragraph in cli_help.paragraphs(text):
        out += [paragraph, ""]
    usage = " ".join([path, *cli_help.usage_pieces(command, ctx)])
    out += ["**Usage**:", "", "```console", f"$ {usage}", "```", ""]
    for title, rows in cli_help.sections(command, ctx):
        out += [f"**{title}**:", ""]
        out += [f"* `{name}`" + (f": {text}" if text else "") for name, text in rows]
        out.append("")
    if examples:
        out += ["**Examples**:", "", "```sh", *examples, "```", ""]
    names = command.list_commands(ctx) if hasattr(command, "list_commands") else []
    if names:
        subs = [(name, command.get_command(ctx, name)) for name in names]
        out += ["**Commands**:", ""]
        out += [f"* `{name}`: {sub.get_short_help_str(limit=200)}" for name, sub in subs]
        out.append("")
        for name, sub in subs:
            sub_ctx = sub.context_class(sub, info_name=name, parent=ctx)
            out += command_doc(sub, sub_ctx, f"{path} {name}", level + 1)
    return out


def completion(shell: str) -> str:
    from typer._completion_shared import get_completion_script

    script = get_completion_script(
        prog_name="pushcli", complete_var="_PUSHCLI_COMPLETE", shell=shell
    )
    return script.strip() + "\n"


def outputs() -> dict[Path, str]:
    out = {ROOT / "docs" / "cli.md": cli_reference()}
    for shell, name in COMPLETIONS.items():
        out[ROOT / "completions" / name] = completion(shell)
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--check", action="store_true", help="only check that the files are current")
    args = ap.parse_args()
    stale = []
    for path, text in outputs().items():
        current = path.read_text() if path.exists() else None
        if current == text:
            continue
        stale.append(path.relative_to(ROOT))
        if not args.check:
            path.write_text(text)
    if args.check and stale:
        print(f"stale: {', '.join(map(str, stale))}; run: python docs/generate.py", file=sys.stderr)
        return 1
    if not args.check:
        print(f"wrote {len(stale)} file(s)" if stale else "all current")
    return 0


if __name__ == "__main__":
    sys.exit(main())
