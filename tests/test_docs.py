"""The documentation cannot rot: generated files are current, every runnable example runs,
and shell completion (scripts and dynamic values) works.

Runnable examples are fenced blocks in README.md and docs/*.md whose info string contains
``runnable``::

    ```sh runnable         bash -euo pipefail, in a temp directory
    ```python runnable     the venv's python

Each runs with ``pushcli`` on PATH, ``PUSHCLI_CONFIG`` pointing at a fresh temp file, and
``PUSHER_*`` variables pointing at the session's embedded server (``pushcli serve``). It must
exit 0 within 30 s and leave no process behind. A ```` ```text output ```` block right after a
runnable block is its expected stdout: ``...`` in a line matches any text, a line that is
just ``...`` matches any number of lines. Blocks fenced ```` ```sh ```` (not runnable) are
for things a test cannot do (a Pusher account, a hidden prompt, installing) and are skipped.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOC_FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
GUIDES = ["ci.md", "config.md", "auth-debugging.md", "local-server.md", "api.md"]
BIN = Path(sys.executable).parent
BLOCK_TIMEOUT = 30.0

FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)$")
#: every fence info string in the docs must be one of these, so a typo such as
#: "sh runable" cannot silently turn an example into an untested one
KNOWN_INFO = {
    "",
    "sh",
    "sh runnable",
    "bash",
    "bash runnable",
    "python",
    "python runnable",
    "text",
    "text output",
    "console",
    "toml",
    "json",
    "yaml",
    "javascript",
    "js",
    "php",
    "ini",
    "powershell",
    "ndjson",
}


@dataclass
class Block:
    path: Path
    line: int  # 1-based line of the opening fence
    info: str
    text: str
    expected: str | None = None  # a following ```text output block

    @property
    def id(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"

    @property
    def runnable(self) -> bool:
        return "runnable" in self.info.split()

    @property
    def lang(self) -> str:
        return self.info.split()[0] if self.info.split() else ""


def parse_blocks(path: Path) -> list[Block]:
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, info, start = m["fence"], " ".join(m["info"].split()), i
        body: list[str] = []
        i += 1
        while i < len(lines) and not lines[i].strip().startswith(fence):
            body.append(lines[i])
            i += 1
        i += 1  # the closing fence
        blocks.append(Block(path, start + 1, info, "\n".join(body) + "\n"))
    # attach expected output to the runnable block right before it
    for prev, block in zip(blocks, blocks[1:], strict=False):
        if block.info == "text output":
            assert prev.runnable, f"{block.id}: a 'text output' block must follow a runnable one"
            prev.expected = block.text
    return blocks


ALL_BLOCKS = [b for path in DOC_FILES if path.exists() for b in parse_blocks(path)]
RUNNABLE = [b for b in ALL_BLOCKS if b.runnable]


def output_pattern(expected: str) -> re.Pattern[str]:
    """``...`` matches any text within a line; a line of just ``...`` any number of lines."""
    parts = []
    for line in expected.rstrip("\n").split("\n"):
        if line.strip() == "...":
            parts.append(r"(?:[^\n]*\n)*?")
        else:
            parts.append(".*?".join(re.escape(p) for p in line.rstrip().split("...")) + r"[ \t]*\n")
    return re.compile("".join(parts))


def _session_pids(sid: int) -> list[int]:
    """Processes still alive in session ``sid`` (the block's shell and what it started)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        # fields[0] is the state, [3] the session id; zombies are already dead
        if int(fields[3]) == sid and fields[0] != "Z":
            pids.append(int(entry.name))
    return pids


def _describe(pids: list[int]) -> str:
    out = []
    for pid in pids:
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
        except OSError:
            cmd = "?"
        out.append(f"{pid}: {cmd}")
    return "; ".join(out)


def run_block(block: Block, env: dict[str, str], cwd: Path) -> tuple[int, str, str, str]:
    """Run one block; returns (exit code, stdout, stderr, leftover processes)."""
    if block.lang in ("sh", "bash"):
        script = cwd.parent / "block.sh"
        script.write_text(block.text)
        argv = ["bash", "-euo", "pipefail", str(script)]
    elif block.lang == "python":
        script = cwd.parent / "block.py"
        script.write_text(block.text)
        argv = [sys.executable, str(script)]
    else:
        raise AssertionError(f"{block.id}: cannot run a {block.lang!r} block")
    out_path, err_path = cwd.parent / "stdout", cwd.parent / "stderr"
    # Output goes to files, not pipes: a background process the block forgot would otherwise
    # keep a pipe open and hang the test.
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        proc = subprocess.Popen(  # noqa: S603 - the block's own interpreter, no shell string
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            start_new_session=True,
        )
        try:
            code = proc.wait(timeout=BLOCK_TIMEOUT)
        except subprocess.TimeoutExpired:
            code = None
        leftover = ""
        deadline = time.monotonic() + 1.0
        while (
            (pids := _session_pids(proc.pid)) and time.monotonic() < deadline and code is not None
        ):
            time.sleep(0.05)
        if pids:
            leftover = _describe(pids)
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        if code is None:
            proc.wait(timeout=10)
    stdout = out_path.read_text(errors="replace")
    stderr = err_path.read_text(errors="replace")
    if code is None:
        stderr += f"\n[timed out after {BLOCK_TIMEOUT:g}s]"
        code = -1
    return code, stdout, stderr, leftover


@pytest.fixture
def block_env(embedded, tmp_path: Path) -> tuple[dict[str, str], Path]:
    home = tmp_path / "home"
    work = tmp_path / "work"
    home.mkdir()
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PUSHER_", "PUSHCLI_"))}
    env.update(embedded.env())
    env.update(
        {
            "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}",
            "PUSHCLI_CONFIG": str(tmp_path / "config" / "config.toml"),
            "HOME": str(home),  # nothing a block does can touch the developer's files
            "COLUMNS": "100",
            "NO_PROXY": "127.0.0.1,localhost,::1",
            "no_proxy": "127.0.0.1,localhost,::1",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
    )
    env.pop("XDG_CONFIG_HOME", None)
    return env, work


@pytest.mark.parametrize("block", RUNNABLE, ids=[b.id for b in RUNNABLE])
def test_runnable_block(block: Block, block_env: tuple[dict[str, str], Path]) -> None:
    env, work = block_env
    code, stdout, stderr, leftover = run_block(block, env, work)
    report = (
        f"{block.id} ({block.info})\n--- block\n{block.text}--- exit {code}\n"
        f"--- stdout\n{stdout}--- stderr\n{stderr}"
    )
    if code != 0:
        pytest.fail(f"the block exited {code}\n{report}", pytrace=False)
    if leftover:
        pytest.fail(
            f"the block left processes running (it must kill and wait for them): "
            f"{leftover}\n{report}",
            pytrace=False,
        )
    if block.expected is not None:
        text = stdout if stdout.endswith("\n") or not stdout else stdout + "\n"
        if not output_pattern(block.expected).fullmatch(text):
            pytest.fail(
                f"stdout does not match the 'text output' block after it\n--- expected\n"
                f"{block.expected}{report}",
                pytrace=False,
            )


# --------------------------------------------------------------------------- the docs themselves


def test_guides_exist_and_have_runnable_examples() -> None:
    for name in GUIDES:
        path = ROOT / "docs" / name
        assert path.exists(), f"docs/{name} is missing"
        assert any(b.runnable for b in parse_blocks(path)), f"docs/{name} runs no example"


def test_fence_info_strings_are_known() -> None:
    unknown = [f"{b.id}: {b.info!r}" for b in ALL_BLOCKS if b.info not in KNOWN_INFO]
    assert not unknown, "unknown fence info strings (a typo would skip the test):\n" + "\n".join(
        unknown
    )


def test_relative_links_resolve() -> None:
    broken = []
    for path in DOC_FILES:
        if not path.exists():
            continue
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", path.read_text()):
            if "://" in target or target.startswith("mailto:"):
                continue
            if not (path.parent / target).exists():
                broken.append(f"{path.relative_to(ROOT)}: {target}")
    assert not broken, "broken relative links:\n" + "\n".join(broken)


def test_output_pattern() -> None:
    pattern = output_pattern("a ... c\n...\nend\n")
    assert pattern.fullmatch("a b c\nx\ny\nend\n")
    assert pattern.fullmatch("a  c\nend\n")
    assert not pattern.fullmatch("a b c\nend\nmore\n")
    assert not output_pattern("exit 8\n").fullmatch("exit 0\n")


def test_generated_reference_and_completions_are_current() -> None:
    """docs/cli.md and completions/* are what docs/generate.py makes from the app now."""
    proc = subprocess.run(  # noqa: S603
        [sys.executable, str(ROOT / "docs" / "generate.py"), "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr + proc.stdout


def test_cli_reference_covers_every_command() -> None:
    text = (ROOT / "docs" / "cli.md").read_text()
    proc = subprocess.run(  # noqa: S603
        [str(BIN / "pushcli"), "--help"],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "COLUMNS": "200"},
    )
    commands = re.findall(r"^  (\S+)\s{2,}", proc.stdout.split("Commands:")[1], re.M)
    assert len(commands) >= 10, proc.stdout
    for name in commands:
        assert f"## `pushcli {name}`" in text, f"docs/cli.md lacks {name}"


# --------------------------------------------------------------------------- shell completion

PROFILES_TOML = """\
default = "prod"

[profiles.prod]
app_id = "1"
key = "k1"
secret = "s1"
cluster = "eu"

[profiles.staging]
app_id = "2"
key = "k2"
secret = "s2"
host = "127.0.0.1"
port = 6001
"""


@pytest.fixture
def completion_env(tmp_path: Path) -> dict[str, str]:
    config = tmp_path / "profiles.toml"
    config.write_text(PROFILES_TOML)
    config.chmod(0o600)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PUSHER_", "PUSHCLI_", "_"))}
    env.update({"PUSHCLI_CONFIG": str(config), "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}"})
    return env


def complete(env: dict[str, str], **extra: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(  # noqa: S603
        [str(BIN / "pushcli")],
        env={**env, **extra},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == "", proc.stderr
    return proc


def bash_complete(env: dict[str, str], line: str) -> list[str]:
    """What the bash protocol answers for ``line`` (the last word is being completed)."""
    words = shlex.split(line) + ([""] if line.endswith(" ") else [])
    out = complete(
        env, _PUSHCLI_COMPLETE="complete_bash", COMP_WORDS=line, COMP_CWORD=str(len(words) - 1)
    )
    return out.stdout.split()


def test_bash_completes_profile_names(completion_env: dict[str, str]) -> None:
    assert bash_complete(completion_env, "pushcli --profile p") == ["prod"]
    assert bash_complete(completion_env, "pushcli -p s") == ["staging"]
    assert bash_complete(completion_env, "pushcli --profile ") == ["prod", "staging"]
    assert bash_complete(completion_env, "pushcli config use s") == ["staging"]
    assert bash_complete(completion_env, "pushcli config show ") == ["prod", "staging"]
    assert bash_complete(completion_env, "pushcli config remove pr") == ["prod"]


def test_profile_completion_follows_the_config_file(
    completion_env: dict[str, str], tmp_path: Path
) -> None:
    other = tmp_path / "other.toml"
    other.write_text('[profiles.qa]\napp_id = "3"\nkey = "k"\nsecret = "s"\nhost = "h"\n')
    other.chmod(0o600)
    assert bash_complete({**completion_env, "PUSHCLI_CONFIG": str(other)}, "pushcli -p ") == ["qa"]
    # no config file, or a broken one: no candidates, no error output
    assert (
        bash_complete(
            {**completion_env, "PUSHCLI_CONFIG": str(tmp_path / "none.toml")}, "pushcli -p "
        )
        == []
    )
    broken = tmp_path / "broken.toml"
    broken.write_text("this is = = not toml")
    broken.chmod(0o600)
    assert bash_complete({**completion_env, "PUSHCLI_CONFIG": str(broken)}, "pushcli -p ") == []


def test_bash_completes_commands_and_options(completion_env: dict[str, str]) -> None:
    assert bash_complete(completion_env, "pushcli tri") == ["trigger"]
    assert bash_complete(completion_env, "pushcli con") == ["config", "conform"]
    assert bash_complete(completion_env, "pushcli conform --dest") == ["--destructive"]
    assert bash_complete(completion_env, "pushcli config u") == ["use"]
    assert "sign" in bash_complete(completion_env, "pushcli auth ")
    assert bash_complete(completion_env, "pushcli --pro") == ["--profile"]
    assert bash_complete(completion_env, "pushcli trigger --dr") == ["--dry-run"]
    options = bash_complete(completion_env, "pushcli listen --")
    for option in ("--count", "--until", "--timeout", "--ready-file", "--event"):
        assert option in options


def test_committed_bash_script_completes_in_bash(completion_env: dict[str, str]) -> None:
    """Source completions/pushcli.bash in a real bash and call its completion function."""
    script = ROOT / "completions" / "pushcli.bash"
    program = f"""
        source {shlex.quote(str(script))}
        complete -p pushcli
        COMP_WORDS=(pushcli --profile st); COMP_CWORD=2
        _pushcli_completion pushcli
        printf 'got:%s\\n' "${{COMPREPLY[@]}}"
        COMP_WORDS=(pushcli trig); COMP_CWORD=1
        _pushcli_completion pushcli
        printf 'got:%s\\n' "${{COMPREPLY[@]}}"
    """
    proc = subprocess.run(  # noqa: S603
        ["bash", "--norc", "--noprofile", "-c", program],  # noqa: S607
        env=completion_env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 0, proc.stderr
    assert "complete -o default -F _pushcli_completion pushcli" in proc.stdout
    assert [ln for ln in proc.stdout.splitlines() if ln.startswith("got:")] == [
        "got:staging",
        "got:trigger",
    ]


def test_zsh_protocol(completion_env: dict[str, str]) -> None:
    out = complete(
        completion_env, _PUSHCLI_COMPLETE="complete_zsh", _TYPER_COMPLETE_ARGS="pushcli --profile "
    )
    assert out.stdout.startswith("_arguments '*: :((")
    assert '"prod"' in out.stdout and '"staging"' in out.stdout
    out = complete(
        completion_env, _PUSHCLI_COMPLETE="complete_zsh", _TYPER_COMPLETE_ARGS="pushcli tri"
    )
    assert '"trigger":"Send an event' in out.stdout
    # the committed script passes the words in the variable the program reads
    assert "_TYPER_COMPLETE_ARGS=" in (ROOT / "completions" / "_pushcli").read_text()


def test_fish_protocol(completion_env: dict[str, str]) -> None:
    base = {"_PUSHCLI_COMPLETE": "complete_fish", "_TYPER_COMPLETE_FISH_ACTION": "get-args"}
    out = complete(completion_env, **base, _TYPER_COMPLETE_ARGS="pushcli --profile s")
    assert out.stdout.split("\n")[0] == "staging"
    out = complete(completion_env, **base, _TYPER_COMPLETE_ARGS="pushcli trigger --dr")
    assert out.stdout.startswith("--dry-run\t")
    script = (ROOT / "completions" / "pushcli.fish").read_text()
    assert (
        "_TYPER_COMPLETE_FISH_ACTION=get-args" in script and "complete --command pushcli" in script
    )


def test_powershell_protocol(completion_env: dict[str, str]) -> None:
    out = complete(
        completion_env,
        _PUSHCLI_COMPLETE="complete_powershell",
        _TYPER_COMPLETE_ARGS="pushcli --profile p",
        _TYPER_COMPLETE_WORD_TO_COMPLETE="p",
    )
    assert out.stdout.split(":::")[0] == "prod"
    assert (
        "Register-ArgumentCompleter -Native -CommandName pushcli"
        in (ROOT / "completions" / "pushcli.ps1").read_text()
    )


@pytest.mark.parametrize(
    ("shell", "name"),
    [
        ("bash", "pushcli.bash"),
        ("zsh", "_pushcli"),
        ("fish", "pushcli.fish"),
        ("powershell", "pushcli.ps1"),
    ],
)
def test_committed_scripts_match_what_the_program_prints(
    completion_env: dict[str, str], shell: str, name: str
) -> None:
    """``eval "$(_PUSHCLI_COMPLETE=source_bash pushcli)"`` and the committed files agree."""
    out = complete(completion_env, _PUSHCLI_COMPLETE=f"source_{shell}")
    assert out.stdout.strip() == (ROOT / "completions" / name).read_text().strip()


def test_show_and_install_completion_still_work(
    completion_env: dict[str, str], tmp_path: Path
) -> None:
    help_text = subprocess.run(  # noqa: S603
        [str(BIN / "pushcli"), "--help"],
        env={**completion_env, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=30,
    ).stdout
    assert "--install-completion" in help_text and "--show-completion" in help_text

    # Typer detects the shell from the parent process: run under bash.
    shown = subprocess.run(  # noqa: S603
        ["bash", "--norc", "-c", "pushcli --show-completion"],  # noqa: S607
        env=completion_env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.strip() == (ROOT / "completions" / "pushcli.bash").read_text().strip()

    # The argument form (pushcli --show-completion zsh) exists only without detection.
    zsh = subprocess.run(  # noqa: S603
        [str(BIN / "pushcli"), "--show-completion", "zsh"],
        env={**completion_env, "_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert zsh.returncode == 0, zsh.stderr
    assert zsh.stdout.strip() == (ROOT / "completions" / "_pushcli").read_text().strip()

    home = tmp_path / "home"
    home.mkdir()
    installed = subprocess.run(  # noqa: S603
        ["bash", "--norc", "-c", "pushcli --install-completion"],  # noqa: S607
        env={**completion_env, "HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert installed.returncode == 0, installed.stderr
    script = home / ".bash_completions" / "pushcli.sh"
    assert script.read_text().strip() == (ROOT / "completions" / "pushcli.bash").read_text().strip()
    assert f"source '{script}'" in (home / ".bashrc").read_text()


# Real shells, when installed (tests/run.sh does not install them; the protocol tests above
# cover the same answers without them).


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed")
def test_committed_fish_script_completes_in_fish(completion_env: dict[str, str]) -> None:
    script = shlex.quote(str(ROOT / "completions" / "pushcli.fish"))
    proc = subprocess.run(  # noqa: S603
        [  # noqa: S607 - fish from PATH, as a user's shell
            "fish",
            "--no-config",
            "-c",
            f'source {script}; complete -C "pushcli --profile p"; complete -C "pushcli tri"',
        ],
        env=completion_env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "prod"
    assert lines[1].startswith("trigger\tSend an event")


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed")
def test_committed_zsh_script_completes_in_zsh(completion_env: dict[str, str]) -> None:
    """Source completions/_pushcli with compsys stubbed, and call the completion function."""
    script = shlex.quote(str(ROOT / "completions" / "_pushcli"))
    program = f"""
        compdef() {{ print -r -- "compdef $*" }}
        _arguments() {{ print -r -- "_arguments $*" }}
        source {script}
        words=(pushcli --profile st); CURRENT=3; _pushcli_completion
        words=(pushcli config use ""); CURRENT=4; _pushcli_completion
    """
    proc = subprocess.run(  # noqa: S603
        ["zsh", "-f", "-c", program],  # noqa: S607
        env=completion_env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "compdef _pushcli_completion pushcli",
        '_arguments *: :(("staging"))',
        '_arguments *: :(("prod" "staging"))',
    ]
