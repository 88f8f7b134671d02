"""Generate docs/cli.md and the shell completion scripts in completions/ from the Typer app.

.venv/bin/python docs/generate.py           # write them
.venv/bin/python docs/generate.py --check   # exit 1 if any is stale (a test runs this)
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

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
    os.environ["COLUMNS"] = "100"
    import typer.main
    from typer.cli import get_docs_for_click

    from pushcli.cli import app

    command = typer.main.get_command(app)
    ctx = typer.Context(command, info_name="pushcli")
    text = get_docs_for_click(obj=command, ctx=ctx, name="pushcli", title="`pushcli`")
    lines = [line.rstrip() for line in text.splitlines()]
    return HEADER + "\n".join(lines).strip() + "\n"


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
