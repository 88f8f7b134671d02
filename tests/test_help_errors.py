"""Help, errors and tables as a person meets them (issue 13, items 3-5).

* help: the terminal's width (COLUMNS), option names never split, metavars and no Python type
  placeholders, examples in every command's help, option panels, "did you mean";
* errors: each path prints exactly its line(s) and exit code: usage errors, JSON the shell
  split or that has single quotes, batch files with many bad events, ``config add`` checked
  before the secret prompt (under a real pseudo-terminal), the listener after ``users
  terminate`` (soketi and pushcli serve; the official ``pusher`` library terminates), doctor's
  fix for a wrong secret on a local server (soketi and pushcli serve);
* tables on a terminal (a pseudo-terminal, 80 columns): titles are a line of their own,
  counts are pluralised, booleans are yes/no (soketi and pushcli serve answer; a raw
  protocol-7 client from servers.py is the presence member).
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import select
import shutil
import signal
import struct
import subprocess
import sys
import termios
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import typer.main
from servers import subscriber_thread
from typer.testing import CliRunner

from pushcli.cli import app
from pushcli.errors import ExitCode

ROOT = Path(__file__).resolve().parent.parent
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
runner = CliRunner()


def run(*args: str, input: str | None = None, env: dict[str, str] | None = None) -> Any:  # noqa: A002
    return runner.invoke(app, list(args), input=input, env=env)


def lines_of(text: str) -> list[str]:
    return text.splitlines()


@pytest.fixture
def creds(monkeypatch: pytest.MonkeyPatch) -> None:
    """An app on a port where nothing listens (nothing here may reach a server)."""
    for name, value in {
        "PUSHER_APP_ID": "123456",
        "PUSHER_APP_KEY": "app-key",
        "PUSHER_APP_SECRET": "app-secret",
        "PUSHER_HOST": "127.0.0.1",
        "PUSHER_PORT": "9",
    }.items():
        monkeypatch.setenv(name, value)


def pushcli_help(*path: str, columns: int) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "pushcli", *path, "--help"],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": str(columns)},
        cwd=ROOT,
        timeout=30,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


def every_command() -> list[tuple[str, ...]]:
    """The path of every command and group, the root included."""
    found: list[tuple[str, ...]] = []

    def walk(cmd: Any, ctx: Any, path: tuple[str, ...]) -> None:
        found.append(path)
        if hasattr(cmd, "list_commands"):
            for name in cmd.list_commands(ctx):
                sub = cmd.get_command(ctx, name)
                walk(sub, sub.context_class(sub, info_name=name, parent=ctx), (*path, name))

    root = typer.main.get_command(app)
    walk(root, root.context_class(root, info_name="pushcli"), ())
    return found


COMMANDS = every_command()


# --------------------------------------------------------------------------- help


def test_help_uses_a_wide_terminal_and_never_splits_an_option_name() -> None:
    text = pushcli_help("listen", columns=140)
    widths = [len(line) for line in lines_of(text)]
    assert max(widths) > 80, text  # the width is used ...
    assert max(widths) <= 140, text  # ... and not exceeded
    assert "--auth-endpoint]" in text  # in the --signin help, whole
    assert not re.search(r"--[\w-]*-\n", text), text  # no option name broken at a hyphen


def test_help_at_80_columns_wraps_at_spaces_only() -> None:
    for path in [("listen",), ("serve",), ("bench",), ("webhook", "send"), ()]:
        text = pushcli_help(*path, columns=80)
        assert max(len(line) for line in lines_of(text)) <= 80, (path, text)
        assert not re.search(r"--[\w-]*-\n", text), (path, text)


def test_long_examples_continue_with_a_backslash_and_stay_whole() -> None:
    text = pushcli_help("webhook", "send", columns=80)
    examples = text.split("Examples:\n")[1]
    joined = re.sub(r" \\\n\s+", " ", examples)
    assert (
        "  pushcli webhook send http://localhost:3000/pusher/webhook member_added "
        "--channel presence-room --user-id u1\n"
    ) in joined
    assert " \\\n      --channel" in examples


@pytest.mark.parametrize("path", COMMANDS, ids=[" ".join(p) or "pushcli" for p in COMMANDS])
def test_every_help_has_examples_and_no_python_types(path: tuple[str, ...]) -> None:
    r = run(*path, "--help", env={"COLUMNS": "100"})
    assert r.exit_code == 0, r.output
    text = r.stdout
    assert not re.search(r"<(str|int|float|bool|path|list|file|text)\b|range>", text), text
    assert "\nExamples:\n" in text, text
    examples = text.split("\nExamples:\n")[1].splitlines()
    assert examples and all(line.startswith("  ") for line in examples), text
    command = " ".join(("pushcli", *path))
    assert any(line.strip().startswith(command) for line in examples), text


def test_listen_options_are_grouped_into_panels() -> None:
    text = pushcli_help("listen", columns=120)
    sections = re.findall(r"^(\S[^:\n]*):\n((?:  .*\n?)+)", text, re.M)
    by_title = {title: body for title, body in sections}
    assert {"What to listen to", "When to stop", "Presence and auth", "Connection"} <= set(
        by_title
    ), list(by_title)
    for name in ("--count N", "--until EVENT", "--timeout SECONDS", "--ready-file FILE"):
        assert name in by_title["When to stop"]
    assert "--auth-endpoint URL" in by_title["Presence and auth"]
    assert "--retries N" in by_title["Connection"]


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["trigegr"], "error: no such command 'trigegr'; did you mean 'trigger'?"),
        (["memebrs"], "error: no such command 'memebrs'; did you mean 'members'?"),
        (["users", "termnate"], "error: no such command 'termnate'; did you mean 'terminate'?"),
    ],
)
def test_a_mistyped_command_gets_did_you_mean(args: list[str], line: str) -> None:
    r = run(*args)
    assert r.exit_code == ExitCode.USAGE
    assert lines_of(r.stderr) == [line]


def test_an_unknown_command_points_to_the_list() -> None:
    r = run("frobnicate")
    assert r.exit_code == ExitCode.USAGE
    assert lines_of(r.stderr) == [
        "error: no such command 'frobnicate'",
        "hint: pushcli -h lists the commands",
    ]


def test_a_usage_error_is_one_line_and_the_usage() -> None:
    r = run("trigger", "orders")
    assert r.exit_code == ExitCode.USAGE
    assert lines_of(r.stderr) == [
        "error: missing argument 'EVENT'",
        "usage: pushcli trigger [OPTIONS] CHANNEL[,CHANNEL...] EVENT [DATA]  (-h for help)",
    ]


# --------------------------------------------------------------------------- DATA and the shell


SPLIT_HINT = (
    "hint: the shell split a JSON argument at its spaces (and dropped its double quotes): "
    """put it in single quotes, e.g. '{"text": "hello world"}'"""
)


@pytest.mark.parametrize(
    ("argv", "extra"),
    [
        # what bash passes for: pushcli trigger orders created {"text": "hello world"}
        (["trigger", "orders", "created", "{text:", "hello", "world}"], "hello world}"),
        (["users", "send", "u1", "notice", "{id:", "1}"], "1}"),
        (["client-event", "private-x", "client-hi", "{a:", "1,", "b:", "2}"], "1, b: 2}"),
    ],
)
def test_json_split_by_the_shell_says_to_quote_it(creds: None, argv: list[str], extra: str) -> None:
    r = run(*argv)
    assert r.exit_code == ExitCode.USAGE
    word = "arguments" if " " in extra else "argument"
    assert lines_of(r.stderr) == [f"error: unexpected extra {word}: {extra}", SPLIT_HINT]


def test_extra_words_that_are_not_json_get_the_usage(creds: None) -> None:
    r = run("trigger", "orders", "created", '{"a": 1}', "again")
    assert r.exit_code == ExitCode.USAGE
    assert lines_of(r.stderr) == [
        "error: unexpected extra argument: again",
        "usage: pushcli trigger [OPTIONS] CHANNEL[,CHANNEL...] EVENT [DATA]  (-h for help)",
    ]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (
            "{'text': 'hi'}",
            [
                "error: DATA is not valid JSON (Expecting property name enclosed in double "
                "quotes, column 2)",
                """hint: JSON strings need double quotes, e.g. '{"text": "hi"}' (the outer """
                "single quotes are for the shell)",
            ],
        ),
        (
            "{text:hi}",
            [
                "error: DATA is not valid JSON (Expecting property name enclosed in double "
                "quotes, column 2)",
                "hint: keys and strings need double quotes (typed, the shell removed them: put "
                """DATA in single quotes), e.g. '{"text": "hello"}'""",
            ],
        ),
        (
            '{"text": "hi"',
            [
                "error: DATA is not valid JSON (Expecting ',' delimiter, column 14); "
                "use --raw to send it as it is"
            ],
        ),
    ],
    ids=["single-quotes", "bare-keys", "truncated"],
)
def test_data_that_is_not_json_says_why(creds: None, data: str, expected: list[str]) -> None:
    r = run("trigger", "--dry-run", "orders", "created", data)
    assert r.exit_code == ExitCode.INPUT
    assert r.stdout == ""
    assert lines_of(r.stderr) == expected


# --------------------------------------------------------------------------- batch files


def _ev(channel: str = "orders", name: str = "created") -> str:
    return json.dumps({"channel": channel, "name": name, "data": {"id": 1}})


def batch(path: Path) -> Any:
    return run("batch", "--dry-run", str(path))


def test_batch_reports_every_bad_line_syntax_errors_included(creds: None, tmp_path: Path) -> None:
    f = tmp_path / "events.ndjson"
    f.write_text(
        "\n".join(
            [
                _ev(),
                _ev(channel="bad channel"),
                "{broken",
                '{"channel": "orders"}',
                "",
                '{"channel": "orders", "name": "e", "data": {"x": NaN}}',
                _ev(name="x" * 201),
                _ev(),
            ]
        )
        + "\n"
    )
    r = batch(f)
    assert r.exit_code == ExitCode.INPUT
    assert r.stdout == ""
    assert lines_of(r.stderr) == [
        "error: 5 invalid events (nothing sent):",
        "  line 2: invalid channel name 'bad channel': only letters, digits and -_=@,.; are allowed",
        "  line 3: invalid JSON (Expecting property name enclosed in double quotes, column 2)",
        '  line 4: missing "name" (or "event")',
        "  line 6: invalid JSON (NaN is not JSON; use null or a string)",
        "  line 7: event name too long (201 > 200 characters)",
    ]
    f.write_text(_ev() + "\n" + '{"channel": "orders"}\n')  # one bad event: one line
    r = batch(f)
    assert r.exit_code == ExitCode.INPUT
    assert lines_of(r.stderr) == ['error: 1 invalid event: line 2: missing "name" (or "event")']


def test_batch_lists_twenty_and_counts_the_rest(creds: None, tmp_path: Path) -> None:
    f = tmp_path / "events.ndjson"
    f.write_text("".join(_ev(channel=f"bad {i}") + "\n" for i in range(27)))
    r = batch(f)
    assert r.exit_code == ExitCode.INPUT
    lines = lines_of(r.stderr)
    assert lines[0] == "error: 27 invalid events (nothing sent):"
    assert lines[1:21] == [
        f"  line {i + 1}: invalid channel name 'bad {i}': only letters, digits and -_=@,.; are allowed"
        for i in range(20)
    ]
    assert lines[21:] == ["  … and 7 more"]


@pytest.mark.parametrize(
    "text",
    [
        "[\n  " + _ev() + ",\n  " + _ev().replace(', "name"', ' "name"') + "\n]\n",
        '{"batch": [\n  ' + _ev() + ",\n  " + _ev().replace(', "name"', ' "name"') + "\n]}\n",
        "\n\n[\n  " + _ev() + ",\n  " + _ev().replace(', "name"', ' "name"') + "\n]\n",
    ],
    ids=["array", "batch-object", "after-blank-lines"],
)
def test_a_json_document_with_a_syntax_error_is_one_line_with_line_and_column(
    creds: None, tmp_path: Path, text: str
) -> None:
    f = tmp_path / "events.json"
    f.write_text(text)
    r = batch(f)
    assert r.exit_code == ExitCode.INPUT
    lines = text.splitlines()
    n = next(i for i, line in enumerate(lines, 1) if '"orders" "name"' in line)
    column = lines[n - 1].index(' "name"') + 2
    assert lines_of(r.stderr) == [
        f"error: line {n}:{column}: invalid JSON (Expecting ',' delimiter)"
    ]


# --------------------------------------------------------------------------- a pseudo-terminal


def run_on_terminal(
    args: list[str],
    env: dict[str, str],
    *,
    answer: tuple[str, str] | None = None,
    timeout: float = 8.0,
    columns: int = 80,
) -> tuple[int | None, str]:
    """Run pushcli with a pseudo-terminal as its controlling terminal, stdin, stdout and
    stderr (``columns`` wide). ``answer``: (prompt, text) typed when the prompt shows. The exit
    code (None when it had to be killed: still waiting) and what the terminal showed."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))

    def controlling_terminal() -> None:
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    p = subprocess.Popen(  # noqa: S603 - fixed argv
        [sys.executable, "-m", "pushcli", *args],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env={**env, "COLUMNS": str(columns), "TERM": "xterm"},
        cwd=ROOT,
        preexec_fn=controlling_terminal,  # noqa: PLW1509 - getpass reads /dev/tty
    )
    os.close(slave)
    screen = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:
                    break  # the other side closed: the process ended
                if not chunk:
                    break
                screen += chunk
                if answer and answer[0].encode() in screen:
                    os.write(master, answer[1].encode() + b"\n")
                    answer = None
            elif p.poll() is not None:
                break
        try:
            code: int | None = p.wait(2)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
            code = None
    finally:
        os.close(master)
    text = ANSI.sub("", screen.decode(errors="replace")).replace("\r\n", "\n")
    return code, text


PROMPT = "App secret (hidden):"


def test_config_add_prompts_on_a_terminal_once_the_rest_is_right(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    env = {**os.environ, "PUSHCLI_CONFIG": str(config), "NO_COLOR": "1"}
    args = ["config", "add", "prod", "--app-id", "123", "--key", "abc", "--cluster", "eu"]
    code, screen = run_on_terminal(args, env, answer=(PROMPT, "typed-secret"))
    assert code == 0, screen
    assert PROMPT in screen and "typed-secret" not in screen
    assert "typed-secret" in config.read_text()
    code, screen = run_on_terminal(args, env, timeout=6)  # again: the name is taken
    assert (code, screen.splitlines()) == (
        ExitCode.CONFIG,
        ["error: profile 'prod' exists (use --force to replace it)"],
    ), screen


def _bad_config_add_cases(tmp_path: Path) -> list[tuple[list[str], str, Path]]:
    config = tmp_path / "config.toml"
    config.write_text(
        'default = "prod"\n[profiles.prod]\napp_id = "1"\nkey = "k"\ncluster = "eu"\n'
    )
    config.chmod(0o600)
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    app = ["--app-id", "123", "--key", "abc"]
    return [
        (
            ["prod", *app, "--cluster", "eu"],
            "profile 'prod' exists (use --force to replace it)",
            config,
        ),
        (["new", *app, "--cluster", "e u"], "invalid cluster 'e u' (e.g. mt1, eu, ap2)", config),
        (["new", *app], "a profile needs --cluster (Pusher) or --host (self-hosted)", config),
        (
            ["new", "--app-id", "123", "--key", "a b", "--host", "127.0.0.1"],
            "invalid app key 'a b': use letters, digits, '_', '.', '-'",
            config,
        ),
        (
            ["new", *app, "--host", "127.0.0.1", "--scheme", "ftp"],
            "invalid scheme 'ftp': use http or https",
            config,
        ),
        (["new", "--key", "abc", "--cluster", "eu"], "a profile needs app-id", config),
        (
            ["bad name", *app, "--cluster", "eu"],
            "invalid profile name 'bad name': use letters, digits, '_', '.', '-'",
            config,
        ),
        (
            ["new", *app, "--cluster", "eu"],
            f"cannot write config {a_file / 'config.toml'}: {a_file} is not a directory",
            a_file / "config.toml",
        ),
    ]


@pytest.mark.parametrize(
    "case",
    range(8),
    ids=["exists", "cluster", "no-server", "key", "scheme", "no-app-id", "name", "unwritable"],
)
def test_config_add_checks_everything_before_asking_for_the_secret(
    tmp_path: Path, case: int
) -> None:
    args, message, config = _bad_config_add_cases(tmp_path)[case]
    env = {**os.environ, "PUSHCLI_CONFIG": str(config), "NO_COLOR": "1"}
    code, screen = run_on_terminal(["config", "add", *args], env, timeout=6)
    assert PROMPT not in screen, screen
    assert code == ExitCode.CONFIG, screen
    assert screen.splitlines() == [f"error: {message}"], screen


# --------------------------------------------------------------------------- servers


def server_env(server: Any, **extra: str) -> dict[str, str]:
    return {**os.environ, **server.env(), "NO_COLOR": "1", **extra}


def test_members_and_channel_tables(pusher_server: Any) -> None:
    empty = f"presence-empty-{uuid.uuid4().hex[:8]}"
    code, screen = run_on_terminal(["members", empty], server_env(pusher_server))
    assert code == 0, screen
    assert screen.splitlines() == [f"0 members of {empty}"]

    room = f"presence-room-{uuid.uuid4().hex[:8]}"
    auth = pusher_server.auth_fn(user_id="ada", user_info={"name": "Ada"})
    with subscriber_thread(pusher_server.ws_url, [room], auth):
        code, screen = run_on_terminal(["members", room], server_env(pusher_server))
        assert code == 0, screen
        lines = screen.splitlines()
        assert lines[0] == f"1 member of {room}", screen
        assert any("│ ada " in line for line in lines), screen
        code, screen = run_on_terminal(
            ["channel", room, "--info", "user_count"], server_env(pusher_server)
        )
        assert code == 0, screen
        rows = [line.split() for line in screen.splitlines()]
        assert ["occupied", "yes"] in rows, screen
        assert "True" not in screen and "False" not in screen


def test_doctor_on_a_local_server_with_a_wrong_secret(pusher_server: Any) -> None:
    r = subprocess.run(
        [sys.executable, "-m", "pushcli", "doctor", "--json", "--timeout", "3"],
        capture_output=True,
        text=True,
        env=server_env(pusher_server, PUSHER_APP_SECRET="not-the-servers-secret"),
        cwd=ROOT,
        timeout=30,
    )
    assert r.returncode == ExitCode.REJECTED, r.stdout + r.stderr
    checks = {c["name"]: c for c in json.loads(r.stdout)["checks"]}
    rest = checks["REST signature"]
    assert rest["status"] == "fail"
    assert rest["fix"] == (
        "this local server runs with another secret: give pushcli the one it was started with "
        "(pushcli serve: its settings' secret, app-secret when nothing is configured; "
        "soketi: SOKETI_DEFAULT_APP_SECRET)"
    )


def terminate_with_the_npm_library(server: Any, user: str) -> None:
    cfg = {
        "host": server.host,
        "port": server.port,
        "appId": server.app_id,
        "key": server.key,
        "secret": server.secret,
        "user": user,
    }
    p = subprocess.run(  # noqa: S603 - fixed argv
        [shutil.which("node") or "node", str(ROOT / "tests" / "js" / "terminate_user.js")]
        + [json.dumps(cfg)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert p.returncode == 0, p.stdout + p.stderr
    assert json.loads(p.stdout)["status"] == 200, p.stdout


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node")
def test_listen_after_users_terminate_says_so(pusher_server: Any, tmp_path: Path) -> None:
    user = f"u-{uuid.uuid4().hex[:8]}"
    channel = f"term-{uuid.uuid4().hex[:8]}"
    ready = tmp_path / "ready"
    listener = subprocess.Popen(
        [sys.executable, "-m", "pushcli", "listen", channel, "--user-id", user, "--json"]
        + ["--ready-file", str(ready), "--timeout", "20"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=server_env(pusher_server),
        cwd=ROOT,
    )
    try:
        deadline = time.monotonic() + 10
        while not ready.exists() and listener.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert ready.exists(), listener.communicate(timeout=5)
        terminate_with_the_npm_library(pusher_server, user)
        _, err = listener.communicate(timeout=15)
    finally:
        if listener.poll() is None:
            listener.kill()
            listener.wait()
    assert listener.returncode == ExitCode.REJECTED, err
    assert err.splitlines()[-2:] == [
        "error: the app terminated this user's connections (4009: you got disconnected by the app)",
        "hint: its backend called terminate_connections (pushcli users terminate USER_ID); "
        "the credentials are fine",
    ], err
    assert "secret" not in err
