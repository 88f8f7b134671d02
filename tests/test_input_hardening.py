"""Input that used to slip through, and secrets/config hardening (issue 10, items 6 and 8).

Every bad input gets one line on stderr (at most one hint besides), nothing on stdout, its
documented exit code, and nothing sent. Where a server decides, the server is soketi and
``pushcli serve``, and the party that would see a partial send is pusher-js.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import stat
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from servers import SubscriptionError, WsSubscriber
from typer.testing import CliRunner

from pushcli.cli import app
from pushcli.errors import ExitCode
from pushcli.protocol.signing import sign_params

runner = CliRunner()
JS_CLIENT = Path(__file__).parent / "js" / "pusherjs_client.js"
SECRET = "prod-secret-0123456789"
DEEP = "[" * 5000 + "]" * 5000


def run(*args: str, input: str | None = None):  # type: ignore[no-untyped-def]  # noqa: A002
    return runner.invoke(app, list(args), input=input)


def assert_refused(r: Any, code: ExitCode, phrase: str) -> None:
    """Exit ``code``, nothing on stdout, one error line on stderr (and no traceback)."""
    assert r.exit_code == code, (r.exit_code, r.stdout, r.stderr)
    assert r.stdout == ""
    lines = r.stderr.splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("error: ") and phrase in lines[0], r.stderr
    assert "Traceback" not in r.stderr


@pytest.fixture
def creds(monkeypatch: pytest.MonkeyPatch) -> None:
    """An app on a port where nothing listens: a request that got out would be exit 6."""
    for name, value in {
        "PUSHER_APP_ID": "123456",
        "PUSHER_APP_KEY": "app-key",
        "PUSHER_APP_SECRET": "app-secret",
        "PUSHER_HOST": "127.0.0.1",
        "PUSHER_PORT": "9",
        "PUSHER_SCHEME": "http",
    }.items():
        monkeypatch.setenv(name, value)


def _line(**fields: Any) -> str:
    return json.dumps({"channel": "orders", "name": "created", "data": {}, **fields})


# --------------------------------------------------------------------------- names


@pytest.mark.parametrize(
    ("args", "phrase"),
    [
        (("trigger", "--dry-run", "orders", "created\n"), "invalid event name 'created\\n'"),
        (("trigger", "--dry-run", "orders", "a\tb"), "invalid event name"),
        (
            ("trigger", "--dry-run", "orders", "created", "--socket-id", "1234.5678\n"),
            "invalid socket id",
        ),
        (("channel", "orders\n"), "invalid channel name 'orders\\n'"),
        (("members", "presence-room\n"), "invalid channel name"),
        (("auth", "sign", "private-room\n", "--socket-id", "1234.5678"), "invalid channel name"),
        (("auth", "sign", "private-room", "--socket-id", "1234.5678\n"), "invalid socket id"),
        (("users", "terminate", "user-1\n"), "invalid user id"),
    ],
    ids=[
        "trigger-event",
        "trigger-event-tab",
        "trigger-socket-id",
        "channel",
        "members",
        "auth-channel",
        "auth-socket-id",
        "user-id",
    ],
)
def test_a_trailing_newline_does_not_pass_as_a_name(creds: None, args: tuple, phrase: str) -> None:
    assert_refused(run(*args), ExitCode.INPUT, phrase)


@pytest.mark.parametrize(
    ("line", "phrase"),
    [
        (_line(channel="orders\n"), "line 2: invalid channel name 'orders\\n'"),
        (_line(name="created\n"), "line 2: invalid event name"),
        (_line(socket_id="1.2\n"), "line 2: invalid socket id"),
        (_line(channels=["a", "b\n"]), "line 2: invalid channel name 'b\\n'"),
        (_line(channel="#server-to-user-u1\n"), "line 2: invalid channel name"),
        (json.dumps({"channel": "orders", "name": "\udcff", "data": {}}), "invalid event name"),
        (json.dumps({"channel": "orders", "name": "e", "data": "\udcff"}), "not valid UTF-8"),
    ],
    ids=[
        "channel",
        "event",
        "socket-id",
        "channels",
        "server-to-user",
        "surrogate-name",
        "surrogate-data",
    ],
)
def test_batch_refuses_names_ending_in_a_newline(
    creds: None, tmp_path: Path, line: str, phrase: str
) -> None:
    f = tmp_path / "events.ndjson"
    f.write_text(_line() + "\n" + line + "\n" + _line() + "\n")
    assert_refused(run("batch", str(f), "--dry-run"), ExitCode.INPUT, phrase)


def test_profile_names_and_clusters_are_whole_matches(tmp_path: Path) -> None:
    r = run(
        "config",
        "add",
        "prod\n",
        "--app-id",
        "1",
        "--key",
        "k",
        "--cluster",
        "eu",
        "--secret-stdin",
        input=SECRET + "\n",
    )
    assert_refused(r, ExitCode.CONFIG, "invalid profile name")
    r = run(
        "config",
        "add",
        "prod",
        "--app-id",
        "1",
        "--key",
        "k",
        "--cluster",
        "eu\n",
        "--secret-stdin",
        input=SECRET + "\n",
    )
    assert_refused(r, ExitCode.CONFIG, "invalid cluster")


# --------------------------------------------------------------------------- JSON


@pytest.mark.parametrize(
    "data",
    ['{"price": NaN}', "[Infinity]", '{"t": -Infinity}', DEEP],
    ids=["NaN", "Infinity", "-Infinity", "deep"],
)
def test_trigger_refuses_what_is_not_json(creds: None, tmp_path: Path, data: str) -> None:
    f = tmp_path / "data.json"
    f.write_text(data)
    phrase = "nested too deeply" if data == DEEP else "is not JSON"
    assert_refused(run("trigger", "--dry-run", "orders", "e", f"@{f}"), ExitCode.INPUT, phrase)
    # the same text from stdin
    assert_refused(
        run("trigger", "--dry-run", "orders", "e", "-", input=data), ExitCode.INPUT, phrase
    )


@pytest.mark.parametrize(
    ("text", "phrase"),
    [
        (
            _line() + '\n{"channel":"orders","name":"e","data":{"x":NaN}}\n',
            "line 2: invalid JSON (NaN",
        ),
        (_line() + '\n{"channel":"orders","name":"e","data":1e999}\n', "line 2: data is not JSON"),
        (
            _line() + '\n{"channel":"orders","name":"e","data":' + DEEP + "}\n",
            "line 2: invalid JSON (nested too deeply)",
        ),
        ('[{"channel":"orders","name":"e","data":[Infinity]}]', "Infinity is not JSON"),
        (DEEP, "nested too deeply"),
    ],
    ids=["ndjson-NaN", "ndjson-1e999", "ndjson-deep", "array-Infinity", "deep-document"],
)
def test_batch_refuses_what_is_not_json(
    creds: None, tmp_path: Path, text: str, phrase: str
) -> None:
    f = tmp_path / "events"
    f.write_text(text)
    assert_refused(run("batch", str(f), "--dry-run"), ExitCode.INPUT, phrase)


@pytest.mark.parametrize("info", ['{"name": NaN}', DEEP], ids=["NaN", "deep"])
def test_user_info_refuses_what_is_not_json(creds: None, info: str) -> None:
    r = run(
        "auth",
        "sign",
        "presence-room",
        "--socket-id",
        "1.2",
        "--user-id",
        "u1",
        "--user-info",
        info,
    )
    assert_refused(r, ExitCode.INPUT, "--user-info is not valid JSON")


def test_client_event_refuses_nan(creds: None) -> None:
    r = run("client-event", "private-room", "client-x", '{"a": NaN}')
    assert_refused(r, ExitCode.INPUT, "is not JSON")


# --------------------------------------------------------------------------- stdin, argv


def _pushcli(args: list[str | bytes], **kw: Any) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "pushcli", *args], capture_output=True, timeout=30, **kw
    )


def _close_stdin() -> None:
    os.close(0)


def assert_refused_proc(p: subprocess.CompletedProcess[bytes], code: int, phrase: str) -> None:
    err = p.stderr.decode()
    assert p.returncode == code, (p.returncode, p.stdout, err)
    assert p.stdout == b""
    assert len(err.splitlines()) == 1, err
    assert err.startswith("error: ") and phrase in err, err


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["trigger", "orders", "e", "-"], ExitCode.INPUT),
        (["trigger", "orders", "e", "@-"], ExitCode.INPUT),
        (["batch", "-"], ExitCode.INPUT),
        (["webhook", "verify", "--body", "-", "--signature", "00"], ExitCode.INPUT),
        (
            [
                "config",
                "add",
                "p",
                "--app-id",
                "1",
                "--key",
                "k",
                "--host",
                "127.0.0.1",
                "--secret-stdin",
            ],
            ExitCode.CONFIG,
        ),
    ],
    ids=["trigger", "trigger-@-", "batch", "webhook-verify", "config-add-secret"],
)
def test_a_closed_stdin_is_one_line_not_a_traceback(
    creds: None, args: list[str], code: int
) -> None:
    assert_refused_proc(_pushcli(list(args), preexec_fn=_close_stdin), code, "stdin is closed")


def test_no_secret_from_a_closed_stdin(creds: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PUSHER_APP_SECRET")
    p = _pushcli(
        ["config", "add", "p", "--app-id", "1", "--key", "k", "--host", "127.0.0.1"],
        preexec_fn=_close_stdin,
    )
    assert_refused_proc(p, ExitCode.CONFIG, "no secret")


def test_empty_or_non_utf8_stdin(creds: None) -> None:
    assert_refused(run("trigger", "orders", "e", "-", input=""), ExitCode.INPUT, "no DATA on stdin")
    p = _pushcli(["trigger", "orders", "e", "-"], input=b'{"a": "\xff"}')
    assert_refused_proc(p, ExitCode.INPUT, "stdin is not UTF-8")
    p = _pushcli(["batch", "-"], input=b'{"channel":"orders","name":"\xff","data":{}}\n')
    assert_refused_proc(p, ExitCode.INPUT, "stdin is not UTF-8")


@pytest.mark.parametrize(
    "args",
    [
        [b"trigger", b"orders", b"caf\xe9"],
        [b"trigger", b"orders\xff", b"e"],
        [b"trigger", b"orders", b"e", b'{"a":"\xff"}'],
        [b"auth", b"sign", b"presence-room", b"--socket-id", b"1.2", b"--user-id", b"u\xfe"],
    ],
    ids=["event", "channel", "data", "option"],
)
def test_an_argument_that_is_not_utf8_is_a_usage_error(creds: None, args: list[bytes]) -> None:
    assert_refused_proc(_pushcli(list(args)), ExitCode.USAGE, "is not valid UTF-8")


# --------------------------------------------------------------------------- config files


def _add(name: str = "p", *extra: str):  # type: ignore[no-untyped-def]
    return run(
        "config",
        "add",
        name,
        "--app-id",
        "1",
        "--key",
        "k",
        "--host",
        "127.0.0.1",
        "--secret-stdin",
        *extra,
        input=SECRET + "\n",
    )


def test_an_unwritable_config_path_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    # /proc refuses new directories, for root too
    monkeypatch.setenv("PUSHCLI_CONFIG", f"/proc/pushcli-test-{uuid.uuid4().hex[:8]}/config.toml")
    assert_refused(_add(), ExitCode.CONFIG, "cannot write config /proc/pushcli-test-")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a 0500 directory anyway")
def test_a_directory_without_write_permission_is_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    monkeypatch.setenv("PUSHCLI_CONFIG", str(locked / "config.toml"))
    try:
        assert_refused(_add(), ExitCode.CONFIG, "Permission denied")
        monkeypatch.setenv("PUSHCLI_CONFIG", str(locked / "sub" / "config.toml"))
        assert_refused(_add(), ExitCode.CONFIG, "Permission denied")
    finally:
        locked.chmod(0o700)


def test_a_symlinked_config_writes_the_target_and_stays_a_link(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dotfiles = tmp_path / "dotfiles"
    dotfiles.mkdir()
    target = dotfiles / "pushcli.toml"
    (tmp_path / "cfg").mkdir()
    link = tmp_path / "cfg" / "config.toml"
    link.symlink_to(Path("..") / "dotfiles" / "pushcli.toml")  # dangling until the first add
    monkeypatch.setenv("PUSHCLI_CONFIG", str(link))
    for name in ("first", "second"):
        r = _add(name)
        assert r.exit_code == 0, r.stderr
        assert link.is_symlink(), "the link was replaced by a file"
        assert os.readlink(link) == str(Path("..") / "dotfiles" / "pushcli.toml")
        assert stat.S_IMODE(target.stat().st_mode) == 0o600
    names = [row["name"] for row in json.loads(run("config", "list", "--json").stdout)]
    assert names == ["first", "second"]
    assert "second" in target.read_text()
    assert [p.name for p in dotfiles.iterdir()] == ["pushcli.toml"]  # no temp file left


def test_pushclis_own_config_directory_is_tightened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PUSHCLI_CONFIG")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    own = tmp_path / "xdg" / "pushcli"
    own.mkdir(parents=True)
    own.chmod(0o755)
    r = _add()
    assert r.exit_code == 0, r.stderr
    assert stat.S_IMODE(own.stat().st_mode) == 0o700
    notices = [line for line in r.stderr.splitlines() if "tightened" in line]
    assert notices == [f"pushcli: {own} was mode 755, open to other users; tightened it to 700"]
    assert stat.S_IMODE((own / "config.toml").stat().st_mode) == 0o600
    r = _add("again")  # already tight: no notice
    assert r.exit_code == 0 and "tightened" not in r.stderr

    # a directory the user chose is theirs: left as it is
    chosen = tmp_path / "project"
    chosen.mkdir(mode=0o755)
    chosen.chmod(0o755)
    monkeypatch.setenv("PUSHCLI_CONFIG", str(chosen / "pushcli.toml"))
    r = _add()
    assert r.exit_code == 0 and "tightened" not in r.stderr
    assert stat.S_IMODE(chosen.stat().st_mode) == 0o755


def test_secrets_are_masked_to_the_last_four(monkeypatch: pytest.MonkeyPatch) -> None:
    import base64

    master = base64.b64encode(b"k" * 32).decode()
    monkeypatch.setenv("PUSHER_ENCRYPTION_MASTER_KEY_BASE64", master)
    monkeypatch.setenv("PUSHER_APP_SECRET", SECRET)
    monkeypatch.setenv("PUSHER_APP_ID", "1")
    monkeypatch.setenv("PUSHER_APP_KEY", "k")
    monkeypatch.setenv("PUSHER_APP_CLUSTER", "eu")
    r = run("config", "show", "--json")
    assert r.exit_code == 0, r.stderr
    shown = json.loads(r.stdout)["settings"]
    assert shown["secret"]["value"] == "…6789"
    assert shown["encryption_master_key"]["value"] == "…" + master[-4:]
    for leak in (SECRET[:4], master[:4]):
        assert leak not in r.stdout


# --------------------------------------------------------------------------- servers


class PusherJs:
    """pusher-js (Node) subscribed to one public channel; reports every event it gets."""

    def __init__(self, server: Any, channel: str) -> None:
        self.proc = subprocess.Popen(  # noqa: S603
            ["node", str(JS_CLIENT)],  # noqa: S607
            stdout=subprocess.PIPE,
            text=True,
            env={
                **os.environ,
                "WS_HOST": server.host,
                "WS_PORT": str(server.port),
                "APP_KEY": server.key,
                "CHANNELS": channel,
                "EXPECT": "1",
                "TIMEOUT_MS": "20000",
            },
        )
        self.lines: list[dict[str, Any]] = []
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            self.lines.append(json.loads(raw))
            if self.lines[-1]["type"] == "subscribed":
                return
            assert self.lines[-1]["type"] == "connected", self.lines
        raise AssertionError(f"pusher-js did not subscribe: {self.lines}")

    def events(self) -> list[dict[str, Any]]:
        out, _ = self.proc.communicate(timeout=30)
        self.lines += [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        return [x for x in self.lines if x["type"] == "event"]


def test_nothing_is_partly_sent_when_one_event_in_the_middle_is_bad(
    pusher_server_env: Any, tmp_path: Path
) -> None:
    """25 events (three requests) with one bad event in the middle: nothing reaches pusher-js,
    which then gets the event sent after it as its first."""
    channel = f"partial-{uuid.uuid4().hex[:8]}"
    good = [json.dumps({"channel": channel, "name": f"e{i}", "data": {"i": i}}) for i in range(25)]
    bad_events = {
        "event-newline": {"channel": channel, "name": "e\n", "data": {}},
        "channel-newline": {"channel": channel + "\n", "name": "e", "data": {}},
        "socket-id-newline": {"channel": channel, "name": "e", "data": {}, "socket_id": "1.2\n"},
    }
    client = PusherJs(pusher_server_env, channel)
    try:
        for kind, bad in bad_events.items():
            lines = [*good[:13], json.dumps(bad), *good[13:]]
            f = tmp_path / f"{kind}.ndjson"
            f.write_text("\n".join(lines) + "\n")
            for parallel in ("1", "4"):
                r = run("batch", str(f), "--parallel", parallel)
                assert_refused(r, ExitCode.INPUT, "line 14: invalid")
        nan = tmp_path / "nan.ndjson"
        nan.write_text("\n".join([*good[:13], good[13].replace('{"i": 13}', '{"i": NaN}')]) + "\n")
        assert_refused(run("batch", str(nan)), ExitCode.INPUT, "line 14: invalid JSON (NaN")
        assert_refused(
            run("trigger", channel, "e", '{"i": NaN}'), ExitCode.INPUT, "NaN is not JSON"
        )
        time.sleep(0.3)  # anything wrongly sent would be on its way by now
        r = run("trigger", channel, "after")
        assert r.exit_code == 0, r.stderr
        events = client.events()
    finally:
        if client.proc.poll() is None:
            client.proc.kill()
    assert [(e["event"], e["channel"]) for e in events] == [("after", channel)], events


def _signed(server: Any, method: str, path: str, body: Any = None) -> tuple[int, str]:
    full = f"/apps/{server.app_id}{path}"
    data = json.dumps(body).encode() if body is not None else None
    signed = sign_params(
        server.key, server.secret, method, full, timestamp=int(time.time()), body=data or b""
    )
    conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
    try:
        conn.request(
            method,
            f"{full}?{urlencode(signed)}",
            body=data,
            headers={"Content-Type": "application/json"},
        )
        resp = conn.getresponse()
        return resp.status, resp.read().decode()
    finally:
        conn.close()


def test_serve_refuses_names_ending_in_a_newline(embedded: Any) -> None:
    """pushcli serve: a WebSocket subscribe, the HTTP API, and the official Python library."""

    async def subscribe(channel: str) -> Any:
        async with await WsSubscriber.connect(embedded.ws_url) as sub:
            with pytest.raises(SubscriptionError) as refused:
                await sub.subscribe(channel)
            # the connection is still usable: a good name subscribes
            await sub.subscribe(channel.strip())
            return refused.value.frame

    frame = asyncio.run(asyncio.wait_for(subscribe(f"room-{uuid.uuid4().hex[:6]}\n"), 20))
    assert "Invalid channel name" in json.dumps(frame)

    ok = {"name": "e", "channel": "orders", "data": "{}"}
    for body in (
        {**ok, "channel": "orders\n"},
        {**ok, "channels": ["orders", "b\n"]},
        {**ok, "name": "e\n"},
        {**ok, "socket_id": "1.2\n"},
    ):
        status, text = _signed(embedded, "POST", "/events", body)
        assert status == 400, (body, status, text)
        status, text = _signed(embedded, "POST", "/batch_events", {"batch": [ok, body]})
        assert status == 400, (body, status, text)
    status, text = _signed(embedded, "GET", "/channels/" + quote("orders\n", safe=""))
    assert status == 400, text

    import pusher  # the official library checks channels and socket ids, not event names

    with pytest.raises(pusher.errors.PusherBadRequest, match="invalid event name"):
        embedded.pusher_client().trigger("orders", "created\n", {})
