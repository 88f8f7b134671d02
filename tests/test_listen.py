"""pushcli listen / client-event against real servers on loopback: soketi and ``pushcli serve``.

Tests that take ``pusher_server`` run once against each (what the server decides is checked on
both); the few that need soketi's own behaviour say so. pushcli runs as a subprocess
(``--json --ready-file``); the other party is the official python ``pusher`` library (server
side), a raw protocol-7 WebSocket client from servers.py, or the official Node libraries.
"""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import pytest
from servers import free_tcp_ports, make_auth_fn, presence_auth, private_auth, subscriber_thread
from typer.testing import CliRunner

from pushcli.cli import app

ROOT = Path(__file__).resolve().parent.parent
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def chan(prefix: str = "") -> str:
    return f"{prefix}listen-{uuid.uuid4().hex[:10]}"


class Proc:
    """A running ``pushcli`` subprocess whose stdout lines and stderr are collected by threads."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.p = subprocess.Popen(
            [sys.executable, "-m", "pushcli", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd=ROOT,
            text=True,
        )
        self.lines: list[dict] = []
        self.err: list[str] = []
        self._cond = threading.Condition()
        self._threads = [
            threading.Thread(target=self._pump, args=(self.p.stdout, True), daemon=True),
            threading.Thread(target=self._pump, args=(self.p.stderr, False), daemon=True),
        ]
        for t in self._threads:
            t.start()

    def _pump(self, stream, is_stdout: bool) -> None:
        for line in stream:
            with self._cond:
                if is_stdout:
                    self.lines.append(json.loads(line))
                else:
                    self.err.append(line.rstrip("\n"))
                self._cond.notify_all()

    @property
    def stderr(self) -> str:
        with self._cond:
            return "\n".join(self.err)

    def wait_until(self, pred, timeout: float = 5.0, what: str = "condition") -> None:
        with self._cond:
            if not self._cond.wait_for(lambda: pred(self) or self.p.poll() is not None, timeout):
                raise AssertionError(
                    f"timed out waiting for {what}; stderr:\n{self.stderr_nolock()}"
                )
            if not pred(self):
                raise AssertionError(
                    f"pushcli exited ({self.p.poll()}) before {what}:\n{self.stderr_nolock()}"
                )

    def stderr_nolock(self) -> str:
        return "\n".join(self.err)

    def finish(self, timeout: float = 10.0) -> int:
        try:
            rc = self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
            raise AssertionError(f"pushcli did not exit; stderr:\n{self.stderr}") from None
        for t in self._threads:
            t.join(5)
        return rc

    def kill(self) -> None:
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()

    def events(self) -> list[dict]:
        return [line for line in self.lines if not line["event"].startswith("pusher")]


def env_for(server, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(server.env())
    env.update(extra)
    return env


@pytest.fixture
def listen(request, tmp_path):
    """Start ``pushcli listen ... --json --ready-file`` and wait until it is subscribed.

    The server is the test's ``pusher_server`` unless ``server=`` names another."""
    procs: list[Proc] = []

    def start(*args: str, server=None, wait_ready: bool = True, **env_extra: str) -> Proc:
        if server is None:
            server = request.getfixturevalue("pusher_server")
        ready = tmp_path / f"ready-{uuid.uuid4().hex[:6]}"
        proc = Proc(
            ["listen", *args, "--json", "--ready-file", str(ready)],
            env_for(server, **env_extra),
        )
        procs.append(proc)
        if wait_ready:
            deadline = time.monotonic() + 8
            while not ready.exists():
                if proc.p.poll() is not None or time.monotonic() > deadline:
                    proc.finish(5)
                    raise AssertionError(
                        f"not ready (rc {proc.p.returncode}); stderr:\n{proc.stderr}"
                    )
                time.sleep(0.02)
            proc.ready_text = ready.read_text()
        return proc

    yield start
    for proc in procs:
        proc.kill()


def run_cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 15
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pushcli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=timeout,
    )


# --- channel kinds ---------------------------------------------------------------------------


def test_public_channel_ndjson(pusher_server, listen):
    c = chan()
    proc = listen(c, "--count", "2")
    assert re.fullmatch(r"\d+\.\d+\n", proc.ready_text)  # the ready file holds the socket id
    client = pusher_server.pusher_client()
    client.trigger(c, "greet", {"message": "hello", "n": 1})
    client.trigger(c, "plain", "just text")
    assert proc.finish() == 0, proc.stderr
    first, second = proc.lines
    assert ISO.match(first["time"])
    assert first == {
        "time": first["time"],
        "channel": c,
        "event": "greet",
        "data": {"message": "hello", "n": 1},
    }
    assert second["event"] == "plain" and second["data"] == "just text"
    assert "user_id" not in first
    assert f"pushcli: subscribed to {c}" in proc.stderr
    assert "pushcli: connected (socket id" in proc.stderr


def test_private_channel_signed_locally(pusher_server, listen):
    c = chan("private-")
    proc = listen(c, "--count", "1")
    pusher_server.pusher_client().trigger(c, "secret-thing", {"ok": True})
    assert proc.finish() == 0, proc.stderr
    assert proc.events() == [
        {"time": proc.lines[0]["time"], "channel": c, "event": "secret-thing", "data": {"ok": True}}
    ]


def test_presence_members_join_and_leave(pusher_server, listen):
    c = chan("presence-")
    proc = listen(c, "--user-id", "me", "--user-info", '{"name": "Me"}', "--count", "1")
    [sub] = proc.lines
    assert sub["event"] == "pusher:subscription_succeeded"
    assert sub["members"] == {"me": {"name": "Me"}} and sub["count"] == 1
    auth = make_auth_fn(
        pusher_server.key, pusher_server.secret, user_id="bob", user_info={"name": "Bob"}
    )
    with subscriber_thread(pusher_server.ws_url, [c], auth):
        proc.wait_until(
            lambda p: any(x["event"] == "pusher:member_added" for x in p.lines), what="member_added"
        )
    proc.wait_until(
        lambda p: any(x["event"] == "pusher:member_removed" for x in p.lines), what="member_removed"
    )
    time.sleep(0.2)
    assert proc.p.poll() is None  # member lines do not count toward --count
    pusher_server.pusher_client().trigger(c, "after", {})
    assert proc.finish() == 0, proc.stderr
    added, removed, after = proc.lines[1:]
    assert added == {
        "time": added["time"],
        "channel": c,
        "event": "pusher:member_added",
        "user_id": "bob",
        "user_info": {"name": "Bob"},
    }
    assert removed["event"] == "pusher:member_removed" and removed["user_id"] == "bob"
    assert removed["user_info"] == {"name": "Bob"}
    assert after["event"] == "after"


def test_encrypted_channel_decrypted_and_wrong_key_is_an_error_row(pusher_server, listen):
    c = chan("private-encrypted-")
    key = base64.b64encode(os.urandom(32)).decode()
    other = base64.b64encode(os.urandom(32)).decode()
    good = listen(c, "--count", "2", PUSHER_ENCRYPTION_MASTER_KEY_BASE64=key)
    bad = listen(c, "--count", "2", PUSHER_ENCRYPTION_MASTER_KEY_BASE64=other)
    client = pusher_server.pusher_client(encryption_master_key_base64=key)
    client.trigger(c, "enc", {"card": "4242"})
    client.trigger(c, "enc2", "a plain string")
    assert good.finish() == 0, good.stderr
    assert [(x["event"], x["data"]) for x in good.lines] == [
        ("enc", {"card": "4242"}),
        ("enc2", "a plain string"),
    ]
    assert bad.finish() == 0, bad.stderr  # error rows, no crash
    assert [x["event"] for x in bad.lines] == ["enc", "enc2"]
    for line in bad.lines:
        assert "cannot decrypt" in line["error"] and "data" not in line


def test_encrypted_channel_without_master_key_is_a_config_error(soketi):
    r = run_cli("listen", chan("private-encrypted-"), "--json", env=env_for(soketi))
    assert r.returncode == 3, r.stderr
    assert "master key" in r.stderr and "connecting" not in r.stderr
    assert r.stdout == ""


def test_cache_channel_shows_last_event_and_cache_miss(pusher_server, listen):
    c = chan("cache-")
    pusher_server.pusher_client().trigger(c, "last-state", {"v": 42})
    proc = listen(c, "--count", "1")
    assert proc.finish() == 0, proc.stderr
    assert [(x["event"], x["data"]) for x in proc.lines] == [("last-state", {"v": 42})]

    empty = chan("cache-")
    proc = listen(empty, "--system", "--until", "pusher:cache_miss", wait_ready=False)
    assert proc.finish() == 0, proc.stderr
    assert proc.lines[-1]["event"] == "pusher:cache_miss" and proc.lines[-1]["channel"] == empty
    assert "cache miss" in proc.stderr


# --- CI semantics ----------------------------------------------------------------------------


def test_until_prints_the_event_then_exits_0(pusher_server, listen):
    c = chan()
    proc = listen(c, "--until", "deploy-done")
    client = pusher_server.pusher_client()
    for name in ["step-1", "step-2", "deploy-done", "never-seen"]:
        client.trigger(c, name, {})
    assert proc.finish() == 0, proc.stderr
    assert [x["event"] for x in proc.lines] == ["step-1", "step-2", "deploy-done"]


def test_timeout_exits_8_and_says_what_arrived(pusher_server, listen):
    c = chan()
    proc = listen(c, "--count", "3", "--timeout", "2")
    client = pusher_server.pusher_client()
    client.trigger(c, "a", {})
    client.trigger(c, "b", {})
    assert proc.finish() == 8
    assert "timed out after 2s: 2 of 3 events arrived" in proc.stderr
    assert [x["event"] for x in proc.lines] == ["a", "b"]


def test_event_filter(pusher_server, listen):
    c = chan()
    proc = listen(c, "-e", "order-*", "-e", "refund", "--count", "2")
    client = pusher_server.pusher_client()
    for name in ["noise", "order-created", "other", "refund"]:
        client.trigger(c, name, {})
    assert proc.finish() == 0, proc.stderr
    assert [x["event"] for x in proc.lines] == ["order-created", "refund"]


def test_ctrl_c_closes_cleanly_with_130(pusher_server, listen):
    proc = listen(chan())
    proc.p.send_signal(signal.SIGINT)
    assert proc.finish() == 130
    assert "pushcli: closed" in proc.stderr


# --- refusals and failures -------------------------------------------------------------------


class AuthEndpoint:
    """A tiny app auth endpoint on 127.0.0.1: signs with the secret, refuses one channel."""

    def __init__(self, key: str, secret: str, refuse: str) -> None:
        self.requests: list[tuple[dict, dict]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                form = {k: v[0] for k, v in parse_qs(body).items()}
                outer.requests.append((dict(self.headers), form))
                channel, socket_id = form.get("channel_name", ""), form.get("socket_id", "")
                if channel == refuse or self.headers.get("X-Token") != "t0ken":
                    self._answer(403, "text/plain", "Forbidden: not your channel")
                elif channel.startswith("presence-"):
                    answer = presence_auth(
                        key, secret, socket_id, channel, "endpoint-user", {"via": "endpoint"}
                    )
                    self._answer(200, "application/json", json.dumps(answer))
                else:
                    self._answer(
                        200,
                        "application/json",
                        json.dumps(private_auth(key, secret, socket_id, channel)),
                    )

            def _answer(self, status: int, ctype: str, body: str) -> None:
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/pusher/auth"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> AuthEndpoint:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_auth_endpoint_authorizes_like_pusher_js(pusher_server, listen):
    ok, pres = chan("private-"), chan("presence-")
    with AuthEndpoint(pusher_server.key, pusher_server.secret, refuse="none") as endpoint:
        proc = listen(
            ok,
            pres,
            "--auth-endpoint",
            endpoint.url,
            "--auth-header",
            "X-Token: t0ken",
            "--count",
            "1",
        )
        pusher_server.pusher_client().trigger(ok, "hi", {})
        assert proc.finish() == 0, proc.stderr
    headers, form = endpoint.requests[0]
    assert headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert set(form) == {"socket_id", "channel_name"} and form["channel_name"] == ok
    assert form["socket_id"] == proc.ready_text.strip()
    [sub] = [x for x in proc.lines if x["event"] == "pusher:subscription_succeeded"]
    assert sub["members"] == {"endpoint-user": {"via": "endpoint"}}  # the endpoint decides the user


def test_auth_endpoint_refusal_exits_5_with_status_and_body(pusher_server):
    good, bad = chan("private-"), chan("private-")
    with AuthEndpoint(pusher_server.key, pusher_server.secret, refuse=bad) as endpoint:
        r = run_cli(
            "listen",
            good,
            bad,
            "--json",
            "--auth-endpoint",
            endpoint.url,
            "--auth-header",
            "X-Token: t0ken",
            env=env_for(pusher_server),
        )
    assert r.returncode == 5, r.stderr
    assert f"auth endpoint refused {bad}: 403" in r.stderr
    assert "Forbidden: not your channel" in r.stderr


def test_subscription_error_from_the_server_exits_5(pusher_server):
    r = run_cli(
        "listen",
        chan("private-"),
        "--json",
        "--no-signin",
        env=env_for(pusher_server, PUSHER_APP_SECRET="wrong-secret"),
    )
    assert r.returncode == 5, r.stderr
    assert "refused" in r.stderr and "401" in r.stderr


def test_unknown_app_key_is_fatal_exit_5(pusher_server):
    env = env_for(pusher_server, PUSHER_APP_KEY="no-such-key")
    r = run_cli("listen", chan(), "--json", env=env)
    assert r.returncode == 5, r.stderr
    assert "does not exist" in r.stderr and "4001" in r.stderr


def test_unreachable_server_exits_6_after_retries(tmp_path):
    [port] = free_tcp_ports(1)
    env = dict(
        os.environ,
        PUSHER_APP_ID="1",
        PUSHER_APP_KEY="k",
        PUSHER_APP_SECRET="s",
        PUSHER_HOST="127.0.0.1",
        PUSHER_PORT=str(port),
        PUSHER_SCHEME="http",
    )
    started = time.monotonic()
    r = run_cli("listen", "c", "--json", "--retries", "3", env=env)
    assert r.returncode == 6, r.stderr
    assert "cannot connect" in r.stderr and "3 attempts" in r.stderr
    assert r.stderr.count("reconnecting in") == 2
    assert time.monotonic() - started < 8


@pytest.mark.parametrize("restartable", ["soketi_restartable", "embedded_restartable"])
def test_reconnects_after_server_restart_and_resubscribes(restartable, request, listen):
    server = request.getfixturevalue(restartable)
    c, p = chan(), chan("presence-")
    proc = listen(c, p, "--user-id", "steady", "--count", "2", "--retries", "20", server=server)
    server.stop()
    proc.wait_until(lambda x: "reconnecting in" in x.stderr_nolock(), what="reconnecting")
    server.start()
    proc.wait_until(
        lambda x: f"subscribed again to {p}" in x.stderr_nolock(), timeout=15, what="resubscribed"
    )
    client = server.pusher_client()
    client.trigger(c, "after-restart-1", {})
    client.trigger(p, "after-restart-2", {})
    assert proc.finish() == 0, proc.stderr
    assert [x["event"] for x in proc.events()] == ["after-restart-1", "after-restart-2"]
    subs = [x for x in proc.lines if x["event"] == "pusher:subscription_succeeded"]
    steady = {"steady": {"id": "steady", "name": "pushcli"}}  # the default user_info
    assert [s["members"] for s in subs] == [steady, steady]  # same user id
    assert "4200" in proc.stderr  # both servers say goodbye with 4200 "Server closed"


# --- client events ---------------------------------------------------------------------------


def test_client_event_reaches_another_subscriber(pusher_server):
    c = chan("private-")
    auth = make_auth_fn(pusher_server.key, pusher_server.secret)
    with subscriber_thread(pusher_server.ws_url, [c], auth) as sub:
        r = run_cli(
            "client-event",
            c,
            "client-typing",
            '{"who": "ada"}',
            "--wait",
            "0.3",
            env=env_for(pusher_server),
        )
        assert r.returncode == 0, r.stderr
        [got] = sub.wait_for(1)
    assert got["event"] == "client-typing" and got["channel"] == c
    data = got["data"] if isinstance(got["data"], dict) else json.loads(got["data"])
    assert data == {"who": "ada"}
    assert f"sent client-typing to {c}" in r.stderr


def test_client_event_on_presence_carries_user_id_to_a_listener(pusher_server, listen):
    c = chan("presence-")
    proc = listen(c, "--count", "1")
    r = run_cli(
        "client-event",
        c,
        "client-hi",
        "plain words",
        "--user-id",
        "alice",
        "--wait",
        "0.3",
        env=env_for(pusher_server),
    )
    assert r.returncode == 0, r.stderr
    assert proc.finish() == 0, proc.stderr
    [ev] = proc.events()
    assert (ev["event"], ev["data"], ev["user_id"]) == ("client-hi", "plain words", "alice")


def test_client_event_refused_by_the_server_exits_5(pusher_server, tmp_path):
    big = tmp_path / "big.json"
    big.write_text(json.dumps({"blob": "x" * 120_000}))
    env = env_for(pusher_server)
    r = run_cli("client-event", chan("private-"), "client-big", f"@{big}", env=env)
    assert r.returncode == 5, r.stderr
    assert "4301" in r.stderr and "KB" in r.stderr


@pytest.mark.parametrize(
    ("channel", "event", "message"),
    [
        ("public-chan", "client-x", "public"),
        ("private-encrypted-x", "client-x", "encrypted"),
        ("private-x", "not-client", "client-"),
    ],
)
def test_client_event_input_errors_exit_4(channel, event, message):
    r = CliRunner().invoke(app, ["client-event", channel, event])
    assert r.exit_code == 4
    assert message in r.stderr


# --- keep-alive (a scripted server: soketi always answers pings, so it cannot show this) -----


def test_keepalive_answers_pings_pings_when_silent_and_reconnects_without_pong():
    import asyncio
    import contextlib

    from websockets.asyncio.server import serve

    from pushcli.client.profiles import Settings
    from pushcli.client.realtime import Listener, Status, Subscribed

    received: list[tuple[int, str]] = []
    connections = 0

    async def handler(ws) -> None:
        nonlocal connections
        connections += 1
        n = connections
        established = {"socket_id": f"1.{n}", "activity_timeout": 1}
        await ws.send(
            json.dumps({"event": "pusher:connection_established", "data": json.dumps(established)})
        )
        await ws.send(json.dumps({"event": "pusher:ping", "data": {}}))
        async for msg in ws:  # never answers pushcli's pings
            frame = json.loads(msg)
            received.append((n, frame["event"]))
            if frame["event"] == "pusher:subscribe":
                channel = frame["data"]["channel"]
                await ws.send(
                    json.dumps(
                        {"event": "pusher_internal:subscription_succeeded", "channel": channel}
                    )
                )

    async def main() -> list[Status]:
        statuses: list[Status] = []
        async with serve(handler, "127.0.0.1", 0) as server:
            port = server.sockets[0].getsockname()[1]
            settings = Settings(key="k", host="127.0.0.1", port=port, scheme="http")
            listener = Listener(settings, ["c"], pong_timeout=0.5)
            async with asyncio.timeout(10), contextlib.aclosing(listener.items()) as items:
                async for item in items:
                    if isinstance(item, Status):
                        statuses.append(item)
                    if isinstance(item, Subscribed) and not item.first:
                        assert listener.socket_id == "1.2"
                        break
            assert listener.reconnects == 1
        return statuses

    started = time.monotonic()
    statuses = asyncio.run(main())
    assert time.monotonic() - started < 5
    first = [event for n, event in received if n == 1]
    assert first[:2] == ["pusher:subscribe", "pusher:pong"]  # answered the server's ping
    assert "pusher:ping" in first  # pinged after 1 s of silence
    [recon] = [s for s in statuses if s.state == "reconnecting"]
    assert recon.detail == "no pong within 0.5s" and recon.delay == 0
    assert (2, "pusher:subscribe") in received  # resubscribed after reconnecting


def test_keepalive_does_not_ping_while_frames_arrive():
    """Every frame resets the activity timer: events every 0.3 s under a 1 s activity timeout
    never make pushcli ping (nor reconnect), and it pings once they stop."""
    import asyncio
    import contextlib

    from websockets.asyncio.server import serve

    from pushcli.client.profiles import Settings
    from pushcli.client.realtime import Event, Listener, Status

    received: list[tuple[float, str]] = []

    async def handler(ws) -> None:
        established = {"socket_id": "1.1", "activity_timeout": 1}
        await ws.send(
            json.dumps({"event": "pusher:connection_established", "data": json.dumps(established)})
        )

        async def tick() -> None:
            for i in range(8):
                await asyncio.sleep(0.3)
                await ws.send(json.dumps({"event": "tick", "channel": "c", "data": str(i)}))

        ticker = asyncio.create_task(tick())
        try:
            async for msg in ws:
                event = json.loads(msg)["event"]
                received.append((time.monotonic(), event))
                if event == "pusher:ping":
                    await ws.send(json.dumps({"event": "pusher:pong", "data": {}}))
        finally:
            ticker.cancel()

    async def main() -> tuple[int, list[Status]]:
        ticks, statuses = 0, []
        async with serve(handler, "127.0.0.1", 0) as server:
            port = server.sockets[0].getsockname()[1]
            settings = Settings(key="k", host="127.0.0.1", port=port, scheme="http")
            listener = Listener(settings, ["c"], pong_timeout=5)
            async with asyncio.timeout(10), contextlib.aclosing(listener.items()) as items:
                async for item in items:
                    if isinstance(item, Status):
                        statuses.append(item)
                    if isinstance(item, Event) and item.event == "tick":
                        ticks += 1
                        last_tick = time.monotonic()
                    if isinstance(item, Event) and item.event == "pusher:pong":
                        break
        [ping_at] = [t for t, e in received if e == "pusher:ping"]
        assert ping_at - last_tick >= 0.9  # a second of silence after the last tick
        return ticks, statuses

    ticks, statuses = asyncio.run(main())
    assert ticks == 8  # 2.4 s of events, not one ping in between
    assert [s.state for s in statuses] == ["connecting", "connected"]


# --- the official Node libraries as the other party ----------------------------------------


def node_party(server, mode: str, **cfg) -> None:
    import shutil

    node = shutil.which("node")
    if node is None:
        pytest.skip("node not found")
    cfg.update(
        mode=mode,
        host=server.host,
        port=server.port,
        appId=server.app_id,
        key=server.key,
        secret=server.secret,
    )
    script = ROOT / "tests" / "soketi" / "party.js"
    r = subprocess.run(
        [node, str(script), json.dumps(cfg)],
        capture_output=True,
        text=True,
        timeout=15,
        cwd=script.parent,
    )
    assert r.returncode == 0, r.stderr


def test_encrypted_events_from_the_node_library(pusher_server, listen):
    c = chan("private-encrypted-")
    key = base64.b64encode(os.urandom(32)).decode()
    proc = listen(c, "--count", "2", PUSHER_ENCRYPTION_MASTER_KEY_BASE64=key)
    for event, data in [("node-obj", {"amount": 5}), ("node-str", "hi")]:
        node_party(pusher_server, "trigger", channel=c, event=event, data=data, masterKey=key)
    assert proc.finish() == 0, proc.stderr
    assert [(x["event"], x["data"]) for x in proc.lines] == [
        ("node-obj", {"amount": 5}),
        ("node-str", "hi"),
    ]


def test_pusher_js_member_and_client_event(pusher_server, listen):
    c = chan("presence-")
    proc = listen(c, "--count", "1")
    node_party(
        pusher_server,
        "client-event",
        channel=c,
        event="client-wave",
        data={"hand": "left"},
        userId="js-user",
        userInfo={"lib": "pusher-js"},
    )
    assert proc.finish() == 0, proc.stderr
    added = [x for x in proc.lines if x["event"] == "pusher:member_added"]
    assert (
        added and added[0]["user_id"] == "js-user" and added[0]["user_info"] == {"lib": "pusher-js"}
    )
    [ev] = proc.events()
    assert (ev["event"], ev["data"], ev["user_id"]) == ("client-wave", {"hand": "left"}, "js-user")
