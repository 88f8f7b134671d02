"""The command line: exit codes, config commands, dry runs, secrets kept out of output.

Nothing here needs a server: what a server decides is tested in test_rest_soketi.py.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pushcli.cli import app
from pushcli.errors import ExitCode

SECRET = "s3cr3t-value-never-shown"
runner = CliRunner()


def run(*args: str, input: str | None = None, env: dict[str, str] | None = None):  # noqa: A002
    return runner.invoke(app, list(args), input=input, env=env)


def closed_port() -> int:
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.fixture
def creds(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    env = {
        "PUSHER_APP_ID": "123",
        "PUSHER_APP_KEY": "key",
        "PUSHER_APP_SECRET": SECRET,
        "PUSHER_HOST": "127.0.0.1",
        "PUSHER_PORT": str(closed_port()),
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return env


def test_version_and_help() -> None:
    from pushcli import __version__

    r = run("--version")
    assert r.exit_code == 0 and r.stdout.strip() == f"pushcli {__version__}"
    r = run("--help")
    assert r.exit_code == 0
    for command in ("trigger", "batch", "channels", "members", "auth", "config", "users"):
        assert command in r.stdout


def test_usage_error_is_exit_2() -> None:
    assert run("trigger").exit_code == ExitCode.USAGE
    assert run("no-such-command").exit_code == ExitCode.USAGE
    assert run("trigger", "c", "e", "--bogus").exit_code == ExitCode.USAGE


def test_unknown_profile_is_exit_3() -> None:
    r = run("--profile", "nope", "trigger", "c", "e")
    assert r.exit_code == ExitCode.CONFIG
    assert "unknown profile 'nope'" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_missing_credential_is_exit_3(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PUSHER_APP_KEY", "only-a-key")
    monkeypatch.setenv("PUSHER_HOST", "127.0.0.1")
    r = run("trigger", "c", "e")
    assert r.exit_code == ExitCode.CONFIG
    assert "missing app_id, secret" in r.stderr and "PUSHER_APP_SECRET" in r.stderr


def test_unreadable_config_is_exit_3(_isolated_config: Path) -> None:
    _isolated_config.write_text("this is = not toml [")
    r = run("channels")
    assert r.exit_code == ExitCode.CONFIG and "invalid config" in r.stderr


@pytest.mark.parametrize(
    "args",
    [
        ("trigger", "bad channel", "e"),
        ("trigger", "c", "e", '{"broken": '),
        ("trigger", ",".join(f"c{i}" for i in range(101)), "e"),
        ("trigger", "c", "x" * 201),
        ("trigger", "c", "e", "--socket-id", "nope"),
        ("trigger", "private-encrypted-a,b", "e"),
        ("trigger", "c", "e", "--info", "bogus"),
        ("trigger", "c", "e", "@/no/such/file"),
        ("members", "public-channel"),
        ("channel", "c", "--info", "user_count"),
        ("auth", "sign", "presence-x", "--socket-id", "1.1"),
        ("auth", "sign", "public", "--socket-id", "1.1"),
        ("auth", "user", "--socket-id", "1.1", "--user-data", '{"name":"no id"}'),
        ("users", "send", "bad user", "e"),
    ],
)
def test_invalid_input_is_exit_4_and_nothing_is_sent(creds: dict, args: tuple) -> None:
    # The server port is closed: had anything been sent, the exit would be 6, not 4.
    r = run(*args)
    assert r.exit_code == ExitCode.INPUT, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert r.stdout == ""


def test_batch_invalid_events_listed_exit_4(creds: dict, tmp_path: Path) -> None:
    f = tmp_path / "events.ndjson"
    f.write_text('{"channel":"ok","name":"e"}\n{"channel":"a b","name":"e"}\n{"name":"e"}\n')
    r = run("batch", str(f))
    assert r.exit_code == ExitCode.INPUT
    assert "line 2" in r.stderr and "line 3" in r.stderr and "line 1" not in r.stderr


def test_unreachable_server_is_exit_6(creds: dict) -> None:
    r = run("trigger", "c", "e", '{"a":1}')
    assert r.exit_code == ExitCode.UNAVAILABLE
    assert "cannot reach" in r.stderr
    assert SECRET not in r.stderr + r.stdout


def test_batch_unreachable_is_exit_6_and_keeps_failed(creds: dict, tmp_path: Path) -> None:
    f = tmp_path / "events.json"
    f.write_text(json.dumps([{"channel": "c", "name": "e", "data": {"i": i}} for i in range(15)]))
    failed = tmp_path / "failed.ndjson"
    r = run("batch", str(f), "--retries", "0", "--failed-to", str(failed), "--json")
    assert r.exit_code == ExitCode.UNAVAILABLE
    lines = failed.read_text().splitlines()
    assert [json.loads(line)["data"] for line in lines] == [
        json.dumps({"i": i}, separators=(",", ":")) for i in range(15)
    ]
    summary = json.loads(r.stdout)
    assert summary["sent"] == 0 and summary["failed"] == 15


def test_dry_run_prints_signed_request_without_secret(creds: dict) -> None:
    r = run("trigger", "c", "e", '{"a": 1}', "--dry-run")
    assert r.exit_code == 0, r.stderr
    first, *_, body = r.stdout.strip().splitlines()
    assert first.startswith(
        f"POST http://127.0.0.1:{creds['PUSHER_PORT']}/apps/123/events?auth_key=key&"
    )
    assert "auth_signature=" in first and "body_md5=" in first
    assert json.loads(body) == {"name": "e", "data": '{"a": 1}', "channel": "c"}
    assert SECRET not in r.stdout + r.stderr


def test_batch_dry_run_chunks_of_ten(creds: dict, tmp_path: Path) -> None:
    f = tmp_path / "e.ndjson"
    f.write_text(
        "".join(json.dumps({"channels": ["a", "b"], "name": "e"}) + "\n" for _ in range(11))
    )
    r = run("batch", str(f), "--dry-run")
    assert r.exit_code == 0
    bodies = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
    assert [len(b["batch"]) for b in bodies] == [10, 10, 2]
    assert "nothing sent" in r.stderr


def test_data_from_stdin_and_file(creds: dict, tmp_path: Path) -> None:
    r = run("trigger", "c", "e", "-", "--dry-run", input='{"from":"stdin"}')
    assert json.loads(r.stdout.splitlines()[-1])["data"] == '{"from":"stdin"}'
    f = tmp_path / "d.json"
    f.write_text('{"from": "file"}\n')
    r = run("trigger", "c", "e", f"@{f}", "--dry-run")
    assert json.loads(r.stdout.splitlines()[-1])["data"] == '{"from": "file"}'


def test_encrypted_trigger_needs_master_key_exit_3(creds: dict) -> None:
    r = run("trigger", "private-encrypted-x", "e", "--dry-run")
    assert r.exit_code == ExitCode.CONFIG and "master key" in r.stderr


def test_encrypted_dry_run_sends_ciphertext(creds: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    import base64

    monkeypatch.setenv("PUSHER_ENCRYPTION_MASTER_KEY_BASE64", base64.b64encode(b"k" * 32).decode())
    r = run("trigger", "private-encrypted-x", "e", '{"plain":"text"}', "--dry-run")
    assert r.exit_code == 0
    data = json.loads(json.loads(r.stdout.splitlines()[-1])["data"])
    assert set(data) == {"nonce", "ciphertext"} and "plain" not in r.stdout


def test_auth_sign_prints_exact_endpoint_json(creds: dict) -> None:
    r = run("auth", "sign", "private-foobar", "--socket-id", "1234.1234")
    assert r.exit_code == 0
    out = json.loads(r.stdout)
    assert list(out) == ["auth"] and out["auth"].startswith("key:")
    r = run("auth", "user", "--socket-id", "1.2", "--user-data", '{"id":"u1"}')
    assert json.loads(r.stdout)["user_data"] == '{"id":"u1"}'


# --- config commands ---------------------------------------------------------------------------


def test_config_add_secret_from_stdin_list_show_use_remove(_isolated_config: Path) -> None:
    r = run(
        "config",
        "add",
        "prod",
        "--app-id",
        "42",
        "--key",
        "pk",
        "--cluster",
        "eu",
        "--secret-stdin",
        input=SECRET + "\n",
    )
    assert r.exit_code == 0, r.stderr
    assert stat.S_IMODE(_isolated_config.stat().st_mode) == 0o600
    r = run(
        "config",
        "add",
        "local",
        "--app-id",
        "app-id",
        "--key",
        "app-key",
        "--host",
        "127.0.0.1",
        "--port",
        "6001",
        "--secret-stdin",
        input="app-secret\n",
    )
    assert r.exit_code == 0

    r = run("config", "list", "--json")
    rows = json.loads(r.stdout)
    assert [(x["name"], x["default"]) for x in rows] == [("local", False), ("prod", True)]

    r = run("config", "show", "--json")
    shown = json.loads(r.stdout)
    assert shown["profile"] == "prod"
    assert shown["settings"]["secret"] == {"value": "…hown", "source": "profile prod"}
    assert shown["rest"] == "https://api-eu.pusher.com"
    assert SECRET not in r.stdout

    r = run("config", "show")
    assert SECRET not in r.stdout + r.stderr

    assert run("config", "use", "local").exit_code == 0
    assert json.loads(run("config", "show", "--json").stdout)["profile"] == "local"
    assert run("config", "remove", "local").exit_code == 0
    assert run("config", "use", "local").exit_code == ExitCode.CONFIG
    assert run("config", "path").stdout.strip() == str(_isolated_config)


def test_config_add_from_url_stdin_and_env_secret(
    _isolated_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    r = run("config", "add", "u", "--url-stdin", input="http://k:urlsecret@127.0.0.1:6001/apps/7\n")
    assert r.exit_code == 0, r.stderr
    doc = (_isolated_config).read_text()
    assert 'host = "127.0.0.1"' in doc and "port = 6001" in doc and 'app_id = "7"' in doc
    monkeypatch.setenv("PUSHER_APP_SECRET", "from-env-secret")
    r = run("config", "add", "e", "--app-id", "1", "--key", "k", "--cluster", "mt1")
    assert r.exit_code == 0
    assert "from-env-secret" in _isolated_config.read_text()


def test_config_add_refuses_without_secret_and_duplicates(_isolated_config: Path) -> None:
    r = run("config", "add", "p", "--app-id", "1", "--key", "k", "--cluster", "eu", input="")
    assert r.exit_code == ExitCode.CONFIG and "secret" in r.stderr
    assert not _isolated_config.exists()
    args = (
        "config",
        "add",
        "p",
        "--app-id",
        "1",
        "--key",
        "k",
        "--cluster",
        "eu",
        "--secret-stdin",
    )
    assert run(*args, input="x\n").exit_code == 0
    assert run(*args, input="x\n").exit_code == ExitCode.CONFIG
    assert run(*args, "--force", input="y\n").exit_code == 0


def test_secret_is_not_an_option() -> None:
    r = run("config", "add", "p", "--app-id", "1", "--key", "k", "--cluster", "eu", "--secret", "x")
    assert r.exit_code == ExitCode.USAGE


def test_profile_selection(_isolated_config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, port in (("a", "7001"), ("b", "7002")):
        run(
            "config",
            "add",
            name,
            "--app-id",
            "1",
            "--key",
            "k",
            "--host",
            "127.0.0.1",
            "--port",
            port,
            "--secret-stdin",
            input="s\n",
        )
    url = lambda *a: run(*a, "trigger", "c", "e", "--dry-run").stdout.split()[1]  # noqa: E731
    assert ":7001/" in url()
    assert ":7002/" in url("-p", "b")
    monkeypatch.setenv("PUSHCLI_PROFILE", "b")
    assert ":7002/" in url()
    assert ":7001/" in url("--profile", "a")
    assert ":7009/" in url("--port", "7009")


def test_local_default_hint(creds: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    for k in list(os.environ):
        if k.startswith("PUSHER_"):
            monkeypatch.delenv(k)
    r = run("trigger", "c", "e", "--dry-run")
    assert r.exit_code == 0
    assert "http://127.0.0.1:6001/apps/app-id/events" in r.stdout
    assert "pushcli serve" in r.stderr


def test_debug_shows_traceback_otherwise_one_line(creds: dict) -> None:
    r = run("--debug", "trigger", "c", "e")
    assert "Traceback" in r.stderr
    r = run("trigger", "c", "e")
    assert "Traceback" not in r.stderr


def test_cli_import_is_light() -> None:
    code = (
        "import sys, pushcli.cli; "
        "heavy = [m for m in ('httpx', 'websockets', 'nacl', 'rich.live', 'rich.progress') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "pushcli", "--help"],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0
    imported = {line.rsplit("|", 1)[-1].strip() for line in out.stderr.splitlines()}
    assert not imported & {"httpx", "websockets", "nacl", "rich.live"}
