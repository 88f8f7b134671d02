"""``pushcli serve`` under hostile or careless clients, each over loopback against the real server
in a subprocess, with a third party on the other end (pusher-js, the official ``pusher``
library, a raw ``websockets`` client, raw sockets):

* requests whose headers or body trickle in (slowloris) are answered 408 and closed in time,
  while normal clients are served;
* running out of file descriptors costs a line or two of log, not a traceback per accept(),
  and the server serves again once descriptors are free;
* JSON nested thousands deep in a frame or a body gets ``pusher:error`` / 400, never a
  traceback or a dropped connection;
* cache channels keep a bounded number of events and bytes, the oldest written going first.

soketi behaves differently on several of these (it keeps every cached event until its TTL,
starts shutting down when it runs out of descriptors); these tests run against pushcli serve.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from servers import EmbeddedServer, presence_auth, private_auth

from pushcli.protocol.signing import sign_params

HERE = Path(__file__).resolve().parent
PUSHERJS_CLIENT = HERE / "js" / "pusherjs_client.js"


def _name(prefix: str = "") -> str:
    return f"{prefix}h-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def serve(tmp_path: Path):  # type: ignore[no-untyped-def]
    """``serve(*args)`` starts a ``pushcli serve`` of this test's own with those arguments."""
    started: list[EmbeddedServer] = []

    def start(*args: str) -> EmbeddedServer:
        srv = EmbeddedServer(tmp_path / f"serve{len(started)}", extra_args=args)
        started.append(srv.start())
        return srv

    try:
        yield start
    finally:
        for srv in started:
            srv.stop()


def _log_lines(srv: EmbeddedServer) -> list[str]:
    return srv.log_path.read_text(errors="replace").splitlines()


def _signed_post(srv: EmbeddedServer, path: str, body: bytes) -> tuple[int, str]:
    full = f"/apps/{srv.app_id}{path}"
    query = sign_params(srv.key, srv.secret, "POST", full, timestamp=int(time.time()), body=body)
    conn = http.client.HTTPConnection(srv.host, srv.port, timeout=10)
    try:
        conn.request(
            "POST", f"{full}?{urlencode(query)}", body, {"Content-Type": "application/json"}
        )
        resp = conn.getresponse()
        return resp.status, resp.read().decode()
    finally:
        conn.close()


def _get_root(srv: EmbeddedServer, timeout: float = 2.0) -> bytes:
    conn = http.client.HTTPConnection(srv.host, srv.port, timeout=timeout)
    try:
        conn.request("GET", "/")
        return conn.getresponse().read()
    finally:
        conn.close()


# --------------------------------------------------------------------------- slowloris

TIMEOUT = 2.0  # --request-timeout for the test server

# what each slow client sends at once, then one more byte at a time, forever
SLOW_STARTS = {
    "headers": b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ",
    "body": (
        b"POST /apps/123456/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"
    ),
    "websocket handshake": (
        b"GET /app/app-key?protocol=7 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Upgrade: websocket\r\nConnection: Upgrade\r\nX-Slow: "
    ),
    "nothing": b"",
}


def _slow_client(srv: EmbeddedServer, start: bytes, result: dict[str, Any]) -> None:
    """Send ``start``, then a byte every 0.2 s; record when and how the server closed."""
    began = time.monotonic()
    answer = b""
    with socket.create_connection((srv.host, srv.port), timeout=0.2) as sock:
        sock.sendall(start)
        while time.monotonic() - began < TIMEOUT + 6:
            try:
                data = sock.recv(4096)
            except TimeoutError:
                try:
                    if start:
                        sock.sendall(b"a")
                except OSError:
                    break
                continue
            except OSError:
                break
            if not data:
                break
            answer += data
        else:
            result.update(closed_after=None, answer=answer)
            return
    result.update(closed_after=time.monotonic() - began, answer=answer)


def _pusherjs(srv: EmbeddedServer, channel: str) -> subprocess.Popen[str]:
    env = dict(
        os.environ,
        WS_HOST=srv.host,
        WS_PORT=str(srv.port),
        APP_KEY=srv.key,
        CHANNELS=channel,
        EXPECT="1",
        TIMEOUT_MS="15000",
    )
    return subprocess.Popen(  # noqa: S603 - fixed argv
        [shutil.which("node") or "node", str(PUSHERJS_CLIENT)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node (pusher-js)")
def test_slow_requests_get_408_and_close_while_others_are_served(serve) -> None:  # type: ignore[no-untyped-def]
    server = serve("--request-timeout", str(TIMEOUT))
    results: dict[str, list[dict[str, Any]]] = {kind: [] for kind in SLOW_STARTS}
    threads = []
    for kind, start in SLOW_STARTS.items():
        for _ in range(3):
            results[kind].append({})
            t = threading.Thread(target=_slow_client, args=(server, start, results[kind][-1]))
            t.start()
            threads.append(t)
    time.sleep(0.3)
    # meanwhile: a keep-alive HTTP client that is done in time keeps its connection past the
    # request timeout, the official library triggers, pusher-js connects and receives
    keepalive = http.client.HTTPConnection(server.host, server.port, timeout=5)
    keepalive.request("GET", "/")
    assert keepalive.getresponse().read() == b"OK"
    answered = time.monotonic()
    channel = _name()
    js = _pusherjs(server, channel)
    try:
        assert js.stdout is not None
        line = js.stdout.readline()
        assert json.loads(line)["type"] == "connected", line + js.stderr.read()  # type: ignore[union-attr]
        assert json.loads(js.stdout.readline()) == {"type": "subscribed", "channel": channel}
        server.pusher_client().trigger(channel, "ping", {"n": 1})
        out, err = js.communicate(timeout=15)
        assert js.returncode == 0, out + err
        assert {"type": "event", "channel": channel, "event": "ping", "data": {"n": 1}} in [
            json.loads(x) for x in out.splitlines()
        ]
    finally:
        if js.poll() is None:
            js.kill()
            js.wait()
    for t in threads:
        t.join(timeout=TIMEOUT + 10)
    time.sleep(max(0.0, answered + TIMEOUT + 0.5 - time.monotonic()))
    keepalive.request("GET", "/")  # idle longer than the request timeout, still open
    assert keepalive.getresponse().read() == b"OK"
    keepalive.close()
    for kind, outcomes in results.items():
        for r in outcomes:
            assert r["closed_after"] is not None, f"{kind}: still open after {TIMEOUT + 6} s"
            assert TIMEOUT - 0.2 < r["closed_after"] < TIMEOUT + 3.0, (kind, r)
            if kind == "nothing":
                assert r["answer"] == b"", r
            else:
                assert r["answer"].startswith(b"HTTP/1.1 408 "), (kind, r)
    assert not [x for x in _log_lines(server) if "Traceback" in x]


# --------------------------------------------------------------------------- out of descriptors


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc and prlimit")
def test_running_out_of_descriptors_logs_a_line_and_recovers(serve) -> None:  # type: ignore[no-untyped-def]
    """With RLIMIT_NOFILE lowered to what it has open + 20, 100 connections: the log grows by
    a line or two (not a traceback per accept()), and once they close it serves again."""
    server = serve()
    open_fds = len(os.listdir(f"/proc/{server.pid}/fd"))
    _, hard = resource.prlimit(server.pid, resource.RLIMIT_NOFILE)
    resource.prlimit(server.pid, resource.RLIMIT_NOFILE, (open_fds + 20, hard))
    before = len(_log_lines(server))
    socks = [socket.create_connection((server.host, server.port), timeout=2) for _ in range(100)]
    try:
        time.sleep(2.0)  # out of descriptors all this time
        during = _log_lines(server)[before:]
        assert 1 <= len(during) <= 3, "\n".join(during[:20])
        assert "Too many open files" in during[0] and "ulimit -n" in during[0], during
    finally:
        for s in socks:
            s.close()
    deadline = time.monotonic() + 5
    while True:
        try:
            assert _get_root(server) == b"OK"
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
    channel = _name()
    assert server.pusher_client().channel_info(channel) == {"occupied": False}
    assert server.pusher_client().trigger(channel, "e", {"after": True}) == {}
    deadline = time.monotonic() + 6  # said after a quiet spell of 2 s
    while not any("accepting new connections again" in x for x in _log_lines(server)[before:]):
        assert time.monotonic() < deadline, _log_lines(server)[before:][:20]
        time.sleep(0.2)
    after = _log_lines(server)[before:]
    assert len(after) <= 5, "\n".join(after[:20])
    assert not [x for x in after if "Traceback" in x]
    assert server.is_running()


# --------------------------------------------------------------------------- deep JSON

DEEP = 20_000  # far past Python's recursion limit, well within the 256 KB message limit


async def _ws(srv: EmbeddedServer) -> tuple[Any, str]:
    from websockets.asyncio.client import connect

    ws = await connect(srv.ws_url, proxy=None, open_timeout=5)
    hello = json.loads(await asyncio.wait_for(ws.recv(), 5))
    return ws, json.loads(hello["data"])["socket_id"]


async def _next(ws: Any) -> dict[str, Any]:
    """The next frame, past the subscription counts the server sends after each subscribe."""
    while True:
        frame: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), 5))
        if frame.get("event") != "pusher_internal:subscription_count":
            return frame


def test_json_nested_too_deep_in_frames_gets_pusher_error(serve) -> None:  # type: ignore[no-untyped-def]
    server = serve()
    private = _name("private-")
    presence = _name("presence-")
    deep_array = "[" * DEEP + "]" * DEEP
    deep_object = '{"a":' * DEEP + "1" + "}" * DEEP

    async def main() -> None:
        ws, socket_id = await _ws(server)
        watcher, watcher_id = await _ws(server)
        for conn, sid in ((ws, socket_id), (watcher, watcher_id)):
            auth = private_auth(server.key, server.secret, sid, private)
            await conn.send(
                json.dumps({"event": "pusher:subscribe", "data": {"channel": private, **auth}})
            )
            assert (await _next(conn))["event"] == "pusher_internal:subscription_succeeded"
        presence_data = presence_auth(server.key, server.secret, socket_id, presence, "u1")
        deep_member = '{"user_id":"u1","user_info":' + deep_array + "}"
        # a presence signature is HMAC("socket_id:channel:channel_data"), as private_auth
        # signs "socket_id:channel" with the channel "presence-…:channel_data"
        deep_auth = private_auth(server.key, server.secret, socket_id, f"{presence}:{deep_member}")
        messages = [
            deep_array,  # the whole frame
            '{"event":"pusher:ping","data":' + deep_object + "}",
            # data as a JSON string, decoded on its own
            json.dumps({"event": "pusher:subscribe", "data": deep_object}),
            # a client event whose data is too deep to decode (or to encode again)
            '{"event":"client-x","channel":"' + private + '","data":' + deep_array + "}",
            # a signed presence subscription whose channel_data is too deep
            json.dumps(
                {
                    "event": "pusher:subscribe",
                    "data": {
                        "channel": presence,
                        "auth": deep_auth["auth"],
                        "channel_data": deep_member,
                    },
                }
            ),
        ]
        for message in messages:
            await ws.send(message)
            answer = await _next(ws)
            assert answer["event"] in ("pusher:error", "pusher:subscription_error"), answer
            await ws.send('{"event":"pusher:ping","data":{}}')  # the connection still works
            assert await _next(ws) == {"event": "pusher:pong", "data": {}}
        # and it still does what it should
        await ws.send(
            json.dumps(
                {"event": "pusher:subscribe", "data": {"channel": presence, **presence_data}}
            )
        )
        assert (await _next(ws))["event"] == "pusher_internal:subscription_succeeded"
        await ws.send(json.dumps({"event": "client-ok", "channel": private, "data": {"n": 1}}))
        while (frame := await _next(watcher))["event"].startswith("pusher"):
            pass
        assert frame == {"event": "client-ok", "channel": private, "data": {"n": 1}}
        await ws.close()
        await watcher.close()

    asyncio.run(asyncio.wait_for(main(), 30))
    assert not [x for x in _log_lines(server) if "Traceback" in x or "RecursionError" in x]


def test_json_nested_too_deep_in_a_body_gets_400(serve) -> None:  # type: ignore[no-untyped-def]
    server = serve()
    deep = ("[" * DEEP + "]" * DEEP).encode()
    for path in ("/events", "/batch_events", "/users/u1/terminate_connections"):
        status, text = _signed_post(server, path, deep)
        assert (status, text) == (400, "Request body is JSON nested too deeply\n"), path
    nested_event = b'{"name":"e","channel":"c","data":"{}","info":' + deep + b"}"
    assert _signed_post(server, "/events", nested_event)[0] == 400
    # the official library still gets through, on a server that logged no traceback
    channel = _name()
    assert server.pusher_client().trigger(channel, "e", {"ok": 1}) == {}
    assert not [x for x in _log_lines(server) if "Traceback" in x or "RecursionError" in x]


def test_deep_json_leaves_the_connection_and_the_server_working_on_both(pusher_server) -> None:  # type: ignore[no-untyped-def]
    """soketi too: a body nested too deeply is a 400 (soketi's in a 200 answer's body), a frame
    nested too deeply leaves the connection working (soketi ignores it, pushcli serve answers
    pusher:error)."""
    srv = pusher_server
    status, text = _signed_post(srv, "/events", ("[" * DEEP + "]" * DEEP).encode())
    assert status == 400 or (status == 200 and json.loads(text).get("code") == 400), (status, text)

    async def main() -> None:
        ws, _ = await _ws(srv)
        await ws.send("[" * DEEP + "]" * DEEP)
        await ws.send('{"event":"pusher:ping","data":{}}')
        frame = await _next(ws)
        if frame["event"] == "pusher:error":
            frame = await _next(ws)
        assert frame == {"event": "pusher:pong", "data": {}}
        await ws.close()

    asyncio.run(asyncio.wait_for(main(), 30))
    channel = _name()
    assert srv.pusher_client().trigger(channel, "e", {"ok": 1}) in ({}, {"ok": True})


# --------------------------------------------------------------------------- cache limits

CACHE_CHANNELS = 150


async def _cached(srv: EmbeddedServer, channels: list[str]) -> dict[str, Any]:
    """What a new subscriber gets first on each cache channel: its event data or "miss"."""
    ws, _ = await _ws(srv)
    got: dict[str, Any] = {}
    try:
        for channel in channels:
            await ws.send(json.dumps({"event": "pusher:subscribe", "data": {"channel": channel}}))
            while channel not in got:
                frame = await _next(ws)
                if frame.get("channel") != channel:
                    continue
                if frame["event"] == "pusher:cache_miss":
                    got[channel] = "miss"
                elif not frame["event"].startswith("pusher"):
                    got[channel] = json.loads(frame["data"])
    finally:
        await ws.close()
    return got


def test_cache_keeps_a_bounded_number_of_channels_and_bytes(serve) -> None:  # type: ignore[no-untyped-def]
    server = serve("--cache-max-channels", str(CACHE_CHANNELS), "--cache-max-mb", "1")
    pusher = server.pusher_client()
    tag = uuid.uuid4().hex[:6]
    small = [f"cache-s{tag}-{i}" for i in range(CACHE_CHANNELS + 5)]

    def trigger_all(names: list[str], data: Any) -> None:
        for i in range(0, len(names), 10):
            pusher.trigger_batch(
                [{"channel": c, "name": "v", "data": data(c)} for c in names[i : i + 10]]
            )

    trigger_all(small[:CACHE_CHANNELS], lambda c: {"c": c})
    pusher.trigger(small[0], "v", {"c": small[0], "again": True})  # written last: kept
    trigger_all(small[CACHE_CHANNELS:], lambda c: {"c": c})  # 5 more: the 5 oldest go
    got = asyncio.run(_cached(server, [small[1], small[5], small[6], small[0], small[-1]]))
    assert got == {
        small[1]: "miss",
        small[5]: "miss",
        small[6]: {"c": small[6]},
        small[0]: {"c": small[0], "again": True},
        small[-1]: {"c": small[-1]},
    }
    # 110 events of 10,000 bytes are more than 1 MiB: the oldest go, though 110 < 150
    big = [f"cache-b{tag}-{i}" for i in range(110)]
    trigger_all(big, lambda c: {"c": c, "pad": "x" * 10_000})
    got = asyncio.run(_cached(server, [big[0], big[5], big[10], big[-1], small[-1]]))
    assert got[big[0]] == got[big[5]] == got[small[-1]] == "miss"
    assert got[big[10]]["c"] == big[10] and got[big[-1]]["c"] == big[-1]
