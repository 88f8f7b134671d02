"""trigger, batch, channels, members and users against a real server over loopback.

A WebSocket subscriber (tests/servers.py) checks that every event arrives with exactly the
data that was sent.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from servers import WsSubscriber, subscriber_thread
from typer.testing import CliRunner

from pushcli.cli import app
from pushcli.errors import ExitCode

runner = CliRunner()
MASTER = base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()


@pytest.fixture
def server(pusher_server_env):  # type: ignore[no-untyped-def]
    """The server under test (soketi, then pushcli serve), with PUSHER_* pointing at it."""
    return pusher_server_env


def run(*args: str, input: str | None = None):  # noqa: A002
    return runner.invoke(app, list(args), input=input)


def test_trigger_delivers_exact_data(server) -> None:  # type: ignore[no-untyped-def]
    with subscriber_thread(server.ws_url, ["t-exact", "t-other"]) as sub:
        for data in ('{"a": 1,  "spaces": "kept"}', "plain text", '"a json string"', "[1,2]"):
            r = run("trigger", "t-exact", "ev", data)
            assert r.exit_code == 0, r.stderr
        r = run("trigger", "t-exact,t-other", "multi", '{"x":1}')
        assert r.exit_code == 0
        got = sub.wait_for(6)
    seen = [(e["channel"], e["event"], e["data"]) for e in got]
    assert seen[:4] == [
        ("t-exact", "ev", '{"a": 1,  "spaces": "kept"}'),
        ("t-exact", "ev", "plain text"),
        ("t-exact", "ev", '"a json string"'),
        ("t-exact", "ev", "[1,2]"),
    ]
    assert sorted(seen[4:]) == [("t-exact", "multi", '{"x":1}'), ("t-other", "multi", '{"x":1}')]


def test_trigger_socket_id_excludes_that_connection(server) -> None:  # type: ignore[no-untyped-def]
    with (
        subscriber_thread(server.ws_url, ["t-excl"]) as me,
        subscriber_thread(server.ws_url, ["t-excl"]) as other,
    ):
        r = run("trigger", "t-excl", "ev", "{}", "--socket-id", me.socket_id)
        assert r.exit_code == 0
        assert other.wait_for(1)[0]["event"] == "ev"
        time.sleep(0.3)
        assert me.events == []


def test_trigger_encrypted_channel(server, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    import nacl.secret

    monkeypatch.setenv("PUSHER_ENCRYPTION_MASTER_KEY_BASE64", MASTER)
    channel = "private-encrypted-t"
    with subscriber_thread(server.ws_url, [channel], server.auth_fn()) as sub:
        r = run("trigger", channel, "secret-ev", '{"hidden": true}')
        assert r.exit_code == 0, r.stderr
        wire = json.loads(sub.wait_for(1)[0]["data"])
    key = hashlib.sha256(channel.encode() + base64.b64decode(MASTER)).digest()
    plain = nacl.secret.SecretBox(key).decrypt(
        base64.b64decode(wire["ciphertext"]), base64.b64decode(wire["nonce"])
    )
    assert plain == b'{"hidden": true}'


def test_wrong_secret_is_rejected_exit_5(server, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("PUSHER_APP_SECRET", "definitely-wrong")
    r = run("trigger", "c", "e")
    assert r.exit_code == ExitCode.REJECTED
    assert "401" in r.stderr and "definitely-wrong" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_batch_sends_every_event_exactly_once_in_order(server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    events = [
        {"channel": "b-1", "name": "e", "data": {"i": i, "s": "é" * (i % 3)}} for i in range(23)
    ]
    events.append({"channels": ["b-1", "b-2"], "event": "both", "data": "str"})
    f = tmp_path / "events.json"
    f.write_text(json.dumps(events))
    with subscriber_thread(server.ws_url, ["b-1", "b-2"]) as sub:
        r = run("batch", str(f), "--json")
        assert r.exit_code == 0, r.stderr
        got = sub.wait_for(25)
        time.sleep(0.2)
        assert len(sub.events) == 25
    summary = json.loads(r.stdout)
    assert summary["sent"] == 25 and summary["failed"] == 0 and summary["requests"] == 3
    on_b1 = [e for e in got if e["channel"] == "b-1" and e["event"] == "e"]
    assert [json.loads(e["data"]) for e in on_b1] == [ev["data"] for ev in events[:23]]
    assert sorted((e["channel"], e["data"]) for e in got if e["event"] == "both") == [
        ("b-1", "str"),
        ("b-2", "str"),
    ]


def test_batch_ndjson_from_stdin_subprocess(server) -> None:  # type: ignore[no-untyped-def]
    lines = "".join(
        json.dumps({"channel": "b-stdin", "name": "n", "data": {"k": i}}) + "\n" for i in range(12)
    )
    with subscriber_thread(server.ws_url, ["b-stdin"]) as sub:
        p = subprocess.run(
            [sys.executable, "-m", "pushcli", "batch", "-"],
            input=lines,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert p.returncode == 0, p.stderr
        got = sub.wait_for(12)
    assert [json.loads(e["data"])["k"] for e in got] == list(range(12))
    assert json.loads(p.stdout)["sent"] == 12  # stdout is a pipe: JSON summary


def test_batch_partial_failure_resumes(
    soketi_restartable, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """Server stops mid-batch: exit 7, the rest written to --failed-to, and that file resumes."""
    srv = soketi_restartable
    for k, v in srv.env().items():
        monkeypatch.setenv(k, v)
    n = 30000
    src = tmp_path / "big.ndjson"
    src.write_text(
        "".join(
            json.dumps({"channel": "p", "name": "e", "data": {"i": i}}) + "\n" for i in range(n)
        )
    )
    failed = tmp_path / "failed.ndjson"
    with subscriber_thread(srv.ws_url, ["p"]) as sub:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "pushcli",
                "batch",
                str(src),
                "--retries",
                "0",
                "--failed-to",
                str(failed),
                "--json",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        sub.wait_for(50, timeout=20)  # sending has begun
        srv.stop(graceful=False)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == ExitCode.PARTIAL, err
    summary = json.loads(out)
    assert 0 < summary["sent"] < n and summary["sent"] + summary["failed"] == n
    assert "resume with: pushcli batch" in err
    rest = [json.loads(line) for line in failed.read_text().splitlines()]
    assert len(rest) == summary["failed"]
    assert [json.loads(e["data"])["i"] for e in rest] == list(range(summary["sent"], n))

    srv.start()
    with subscriber_thread(srv.ws_url, ["p"]) as sub:
        r = run("batch", str(failed), "--json")
        assert r.exit_code == 0, r.stderr
        got = sub.wait_for(len(rest), timeout=30)
    assert [json.loads(e["data"])["i"] for e in got] == list(range(summary["sent"], n))


def test_channels_channel_and_members(server) -> None:  # type: ignore[no-untyped-def]
    auth = server.auth_fn(user_id="alice", user_info={"name": "Alice"})
    with subscriber_thread(server.ws_url, ["q-public", "presence-q-room"], auth):
        r = run("channels", "--json")
        assert r.exit_code == 0, r.stderr
        assert {"q-public", "presence-q-room"} <= set(json.loads(r.stdout)["channels"])
        r = run("channels", "--prefix", "presence-q", "--json")
        assert set(json.loads(r.stdout)["channels"]) == {"presence-q-room"}
        r = run("channel", "q-public", "--info", "subscription_count", "--json")
        info = json.loads(r.stdout)
        assert info["occupied"] is True and info["subscription_count"] == 1
        r = run("members", "presence-q-room", "--json")
        assert r.exit_code == 0
        assert json.loads(r.stdout) == {"users": [{"id": "alice"}]}
        r = run("channel", "presence-q-room", "--info", "user_count", "--json")
        assert json.loads(r.stdout)["user_count"] == 1


def _signed_in_user(server, user_id: str, ready: threading.Event, box: dict) -> None:  # type: ignore[no-untyped-def]
    """A connection that signs in as user_id and records what it receives (or its close)."""

    async def main() -> None:
        sub = await WsSubscriber.connect(server.ws_url)
        user_data = json.dumps({"id": user_id})
        import hmac

        auth = (
            f"{server.key}:"
            + hmac.new(
                server.secret.encode(),
                f"{sub.socket_id}::user::{user_data}".encode(),
                hashlib.sha256,
            ).hexdigest()
        )
        await sub.send({"event": "pusher:signin", "data": {"auth": auth, "user_data": user_data}})
        await asyncio.sleep(0.3)
        ready.set()
        try:
            while True:
                frame = json.loads(await sub.ws.recv())
                box.setdefault("frames", []).append(frame)
        except Exception as e:  # noqa: BLE001 - the close is what we record
            rcvd = getattr(e, "rcvd", None)
            box["closed"] = rcvd.code if rcvd is not None else repr(e)

    asyncio.run(main())


def test_users_send_and_terminate(server) -> None:  # type: ignore[no-untyped-def]
    ready, box = threading.Event(), {}
    t = threading.Thread(target=_signed_in_user, args=(server, "user-7", ready, box), daemon=True)
    t.start()
    assert ready.wait(10)
    r = run("users", "send", "user-7", "notice", '{"n":1}')
    assert r.exit_code == 0, r.stderr
    deadline = time.time() + 5
    while time.time() < deadline and not any(
        f.get("event") == "notice" for f in box.get("frames", [])
    ):
        time.sleep(0.05)
    notice = [f for f in box.get("frames", []) if f.get("event") == "notice"]
    assert notice and notice[0]["data"] == '{"n":1}'
    r = run("users", "terminate", "user-7")
    assert r.exit_code == 0, r.stderr
    t.join(5)
    assert "closed" in box


def test_batch_parallel_keeps_each_channels_order(server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    channels = [f"par-{i}" for i in range(8)]
    events = [{"channel": channels[i % 8], "name": "e", "data": {"i": i}} for i in range(400)]
    f = tmp_path / "par.ndjson"
    f.write_text("".join(json.dumps(e) + "\n" for e in events))
    with subscriber_thread(server.ws_url, channels) as sub:
        p = subprocess.run(
            [sys.executable, "-m", "pushcli", "batch", str(f), "--parallel", "4"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert p.returncode == 0, p.stderr
        got = sub.wait_for(400, timeout=20)
    assert json.loads(p.stdout)["sent"] == 400
    for ch in channels:
        seq = [json.loads(e["data"])["i"] for e in got if e["channel"] == ch]
        assert seq == [i for i in range(400) if channels[i % 8] == ch]


def test_batch_server_rejections_partial_and_total(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server refuses oversize events (413): some sent → exit 7; none sent → the error's 5."""
    from servers import EmbeddedServer

    srv = EmbeddedServer(tmp_path / "srv", extra_args=["--max-data-kb", "1"]).start()
    try:
        for k, v in srv.env().items():
            monkeypatch.setenv(k, v)
        big = "x" * 2000
        mixed = [{"channel": "r", "name": "small", "data": {"i": i}} for i in range(10)]
        mixed += [{"channel": "r", "name": "big", "data": big} for _ in range(3)]
        f, failed = tmp_path / "mixed.json", tmp_path / "failed.ndjson"
        f.write_text(json.dumps(mixed))
        with subscriber_thread(srv.ws_url, ["r"]) as sub:
            r = run("batch", str(f), "--failed-to", str(failed), "--json")
            assert r.exit_code == ExitCode.PARTIAL, r.stderr
            assert [e["event"] for e in sub.wait_for(10)] == ["small"] * 10
        assert json.loads(r.stdout)["sent"] == 10
        assert [json.loads(line)["data"] for line in failed.read_text().splitlines()] == [big] * 3
        assert "413" in r.stderr and "event 10…event 12" in r.stderr
        r = run("batch", str(failed), "--json")  # only the big ones: nothing can be sent
        assert r.exit_code == ExitCode.REJECTED, r.stderr
        assert "nothing sent" in r.stderr
    finally:
        srv.stop()
