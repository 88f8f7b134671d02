"""``pushcli serve --log FILE|- --log-format text|json`` and ``--console``: the debug console.

``pushcli serve`` runs as a subprocess on loopback. The other parties are third-party code:
pusher-js (tests/js/serve_log_party.js) connecting, signing in, subscribing, sending client
events and getting refused; the official Python ``pusher`` library triggering and batching;
``pushcli trigger``; a raw protocol-7 WebSocket client (servers.WsSubscriber, on websockets);
and a small webhook receiver. What the log says is checked against what those parties did.
The live view runs under a pseudo-terminal at 80 and 140 columns.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import pty
import queue
import re
import shutil
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from servers import LOOPBACK, EmbeddedServer, WsSubscriber, free_tcp_ports, private_auth

ROOT = Path(__file__).resolve().parent.parent
PARTY = ROOT / "tests" / "js" / "serve_log_party.js"
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
TEXT_LINE = re.compile(r"^\d\d:\d\d:\d\d\.\d{3} (\S+) +(.*)$")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\x1b[()][A-Z0-9]|\x1b[=>78]")

needs_node = pytest.mark.skipif(shutil.which("node") is None, reason="needs node")


def read_records(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def wait_for(pred: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def env_for(server: EmbeddedServer) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PUSHER_", "PUSHCLI_"))}
    env.update(server.env())
    env["PUSHCLI_CONFIG"] = str(server.log_dir / "no-config.toml")
    return env


def pushcli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - fixed argv
        [sys.executable, "-m", "pushcli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=20,
    )


class HookReceiver:
    """A webhook endpoint on 127.0.0.1 that answers 500 to its first request, then 200."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.bodies.append(json.loads(body))
                status = 500 if len(outer.bodies) == 1 else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self.url = f"http://{LOOPBACK}:{self.server.server_address[1]}/pusher/webhook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hooks() -> Iterator[HookReceiver]:
    receiver = HookReceiver()
    try:
        yield receiver
    finally:
        receiver.close()


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., EmbeddedServer]]:
    started: list[EmbeddedServer] = []

    def start(*args: str) -> EmbeddedServer:
        server = EmbeddedServer(tmp_path / f"serve{len(started)}", extra_args=args).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def _lines(stream: Any, into: queue.Queue[str]) -> None:
    for line in stream:
        into.put(line)


# --------------------------------------------------------------------------- json, pusher-js


@needs_node
def test_json_log_records_what_pusher_js_and_the_libraries_did(
    serve: Callable[..., EmbeddedServer], hooks: HookReceiver, tmp_path: Path
) -> None:
    log = tmp_path / "serve.ndjson"
    server = serve("--log", str(log), "--log-format", "json", "--webhook-url", hooks.url)
    ch = {
        "public": "log-pub",
        "private": "private-log",
        "presence": "presence-log",
        "bad": "private-log-bad",
    }
    pub, priv, pres = ch["public"], ch["private"], ch["presence"]
    cfg = {
        "host": server.host,
        "port": server.port,
        "key": server.key,
        "secret": server.secret,
        "channels": ch,
        "expect": ["py-ev", "cli-ev", "batch-ev"],
    }
    node = subprocess.Popen(  # noqa: S603 - fixed argv
        [shutil.which("node") or "node", str(PARTY), json.dumps(cfg)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    out: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_lines, args=(node.stdout, out), daemon=True).start()
    try:
        ready = json.loads(out.get(timeout=20))
        assert ready.get("ready"), ready
        alice, bob = ready["alice"], ready["bob"]

        official = server.pusher_client()
        official.trigger([pub, priv], "py-ev", {"n": 1}, socket_id=bob)
        r = pushcli("trigger", pub, "cli-ev", '{"n": 2}', env=env_for(server))
        assert r.returncode == 0, r.stderr
        official.trigger_batch(
            [
                {"channel": priv, "name": "batch-ev", "data": json.dumps({"n": 3})},
                {"channel": pub, "name": "batch-ev", "data": "plain"},
            ]
        )
        official.trigger(pub, "done", {})
        result = json.loads(out.get(timeout=20))
        assert node.wait(10) == 0, result
    finally:
        if node.poll() is None:
            node.kill()
            node.wait()
    got = sorted((c, e) for c, e, _ in result["received"])
    assert got == sorted(
        [(pub, "py-ev"), (priv, "py-ev"), (pub, "cli-ev"), (priv, "batch-ev"), (pub, "batch-ev")]
    )

    def settled() -> bool:
        recs = read_records(log)
        closed = {r["socket_id"] for r in recs if r["type"] == "connection_closed"}
        answers = {r["status"] for r in recs if r["type"] == "webhook"}
        return {alice, bob} <= closed and {500, 200} <= answers

    wait_for(settled, 10, "both connections closed and webhooks answered 500, then 200")
    server.stop()
    records = read_records(log)
    assert server.secret not in log.read_text()

    for r in records:
        assert ISO.match(r["time"]) and isinstance(r["type"], str), r
    by_type: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        by_type.setdefault(r["type"], []).append(r)

    opened = {r["socket_id"]: r for r in by_type["connection_opened"]}
    assert {alice, bob} <= set(opened)
    for sid in (alice, bob):
        assert opened[sid]["app_id"] == server.app_id
        assert opened[sid]["remote"].startswith("127.0.0.1:")
        assert "origin" in opened[sid] and "user_agent" in opened[sid]

    assert [(r["socket_id"], r["user_id"]) for r in by_type["signin"]] == [(alice, "js-alice")]

    subs = {(r["socket_id"], r["channel"], r["user_id"]) for r in by_type["subscribed"]}
    assert {
        (alice, pub, None),
        (alice, priv, None),
        (alice, pres, "js-alice"),
        (bob, priv, None),
        (bob, pres, "js-bob"),
        (bob, pub, None),
    } <= subs
    assert not any(c == ch["bad"] for _, c, _ in subs)

    [sub_error] = [r for r in by_type["error"] if r["event"] == "pusher:subscription_error"]
    assert sub_error["socket_id"] == alice and sub_error["channel"] == ch["bad"]
    assert sub_error["code"] == 401 and sub_error["error_type"] == "AuthError"
    assert sub_error["message"].startswith("Invalid signature")
    [refused] = [r for r in by_type["error"] if r["event"] == "pusher:error"]
    assert (refused["socket_id"], refused["channel"], refused["code"]) == (bob, pub, 4301)
    assert "Client event rejected" in refused["message"]

    client = {
        (r["socket_id"], r["channel"], r["event"], r["user_id"], r["size"])
        for r in by_type["client_event"]
    }
    size = len(json.dumps({"from": "bob"}, separators=(",", ":")))
    assert client == {
        (bob, priv, "client-hello", None, size),
        (bob, pres, "client-wave", "js-bob", size),
    }

    api = [
        (r["endpoint"], r["event"], r["channels"], r["size"], r["excluded_socket_id"])
        for r in by_type["api_message"]
    ]
    assert api[0] == ("events", "py-ev", [pub, priv], len(json.dumps({"n": 1})), bob)
    assert api[1][:3] == ("events", "cli-ev", [pub]) and api[1][3] in (7, 8) and api[1][4] is None
    assert api[2] == ("batch_events", "batch-ev", [priv], len(json.dumps({"n": 3})), None)
    assert api[3] == ("batch_events", "batch-ev", [pub], len("plain"), None)
    assert api[4][:3] == ("events", "done", [pub])

    closed = {r["socket_id"]: r for r in by_type["connection_closed"]}
    assert closed[bob]["by"] == "client" and sorted(closed[bob]["channels"]) == sorted(
        [priv, pres, pub]
    )
    assert sorted(closed[alice]["channels"]) == sorted([pub, priv, pres])
    assert (
        closed[alice]["user_id"] == "js-alice"
        and closed[alice]["remote"] == opened[alice]["remote"]
    )
    assert isinstance(closed[alice]["code"], int)

    webhooks = by_type["webhook"]
    first = webhooks[0]
    assert (first["url"], first["status"], first["attempt"], first["retry"]) == (
        hooks.url,
        500,
        1,
        True,
    )
    assert first["error"] is None and first["app_id"] == server.app_id
    again = [w for w in webhooks if w["events"] == first["events"] and w["attempt"] == 2]
    assert again and again[0]["status"] == 200 and again[0]["retry"] is False
    names = {(e["name"], e["channel"]) for w in webhooks for e in w["events"]}
    assert ("channel_occupied", pub) in names and ("member_added", pres) in names
    hook_client = [e for w in webhooks for e in w["events"] if e["name"] == "client_event"]
    assert hook_client and all("data" not in e for e in hook_client)  # data stays out of the log
    assert {e["event"] for e in hook_client} == {"client-hello", "client-wave"}
    # what the receiver was sent and what the log says it sent are the same events
    sent = [{k: v for k, v in e.items() if k != "data"} for b in hooks.bodies for e in b["events"]]
    assert [e for w in webhooks for e in w["events"]] == sent


# --------------------------------------------------------------------------- text


def test_text_log_is_one_line_per_record_without_terminal_control(
    serve: Callable[..., EmbeddedServer], tmp_path: Path
) -> None:
    """A raw protocol-7 client, pushcli trigger and a refused API call; control characters a
    client put in an event name are shown escaped, never written to the terminal."""
    log = tmp_path / "serve.log"
    server = serve("--log", str(log))
    evil = "client-\x1b[2Jwiped"

    async def session() -> str:
        async with await WsSubscriber.connect(server.ws_url) as ws:
            priv = "private-text"
            await ws.subscribe(
                priv, auth=private_auth(server.key, server.secret, ws.socket_id, priv)["auth"]
            )
            await ws.subscribe("text-pub")
            await ws.trigger_client_event(priv, evil, {"x": 1})
            await ws.trigger_client_event("text-pub", "client-nope", {})
            r = await asyncio.to_thread(
                pushcli, "trigger", "text-pub", "hello", '"hi"', env=env_for(server)
            )
            assert r.returncode == 0, r.stderr
            assert (await ws.next_event())["event"] == "hello"
            assert ws.errors and ws.errors[0]["data"]["code"] == 4301
            return ws.socket_id

    sid = asyncio.run(session())
    env = env_for(server)
    env["PUSHER_APP_SECRET"] = "not-the-secret"
    assert pushcli("trigger", "text-pub", "x", "1", env=env).returncode == 5

    def lines() -> list[str]:
        return log.read_text(encoding="utf-8").splitlines() if log.exists() else []

    wait_for(lambda: any(" close " in line for line in lines()), 5, "the close line")
    server.stop()
    text = log.read_text(encoding="utf-8")
    assert "\x1b" not in text and "\\x1b[2Jwiped" in text
    parsed = [TEXT_LINE.match(line) for line in lines()]
    assert all(parsed), lines()
    labels = [m.group(1) for m in parsed if m]
    assert labels == [
        "open",
        "subscribe",
        "subscribe",
        "client",
        "error",
        "api",
        "close",
        "api-error",
    ], lines()
    rest = [m.group(2) for m in parsed if m]
    assert rest[0].startswith(sid) and "from 127.0.0.1:" in rest[0]
    assert rest[1].startswith(f"{sid}  private-text")
    assert rest[3] == f"{sid}  private-text  client-\\x1b[2Jwiped  7 B"
    assert rest[4].startswith(f"{sid}  text-pub  pusher:error  4301  Client event rejected")
    assert rest[5] == "text-pub  hello  4 B  via events"
    assert rest[6].startswith(f"{sid}  code 1000") and "by client" in rest[6]
    assert rest[7].startswith("POST /apps/123456/events  -> 401  Invalid signature")


# --------------------------------------------------------------------------- terminals


class PtyServe:
    """``pushcli serve ARGS`` with stdout and stderr on a pseudo-terminal of COLS x ROWS."""

    def __init__(self, tmp_path: Path, cols: int, rows: int, *args: str) -> None:
        (self.port,) = free_tcp_ports(1)
        self.ready = tmp_path / f"ready-{cols}"
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PUSHER_", "PUSHCLI_"))}
        for name in ("COLUMNS", "LINES", "NO_COLOR"):
            env.pop(name, None)
        env.update(
            {
                "PUSHER_APP_ID": "123456",
                "PUSHER_APP_KEY": "app-key",
                "PUSHER_APP_SECRET": "app-secret",
                "PUSHCLI_CONFIG": str(tmp_path / "no-config.toml"),
                "TERM": "xterm-256color",
            }
        )
        self.proc = subprocess.Popen(  # noqa: S603 - fixed argv
            [
                sys.executable,
                "-m",
                "pushcli",
                "serve",
                "--host",
                LOOPBACK,
                "--port",
                str(self.port),
                "--ready-file",
                str(self.ready),
                *args,
            ],
            stdin=subprocess.DEVNULL,
            stdout=slave,
            stderr=slave,
            env=env,
            cwd=tmp_path,
            start_new_session=True,
        )
        os.close(slave)
        self.master = master
        self._chunks: list[bytes] = []
        self._lock = threading.Lock()
        self.reader = threading.Thread(target=self._drain, daemon=True)
        self.reader.start()
        wait_for(lambda: self.ready.exists() or self.proc.poll() is not None, 15, "serve ready")
        assert self.proc.poll() is None, self.screen()
        self.server = EmbeddedServer(tmp_path / "unused")
        self.server.port = self.port

    def _drain(self) -> None:
        while True:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:
                return
            if not chunk:
                return
            with self._lock:
                self._chunks.append(chunk)

    def raw(self) -> str:
        with self._lock:
            return b"".join(self._chunks).decode(errors="replace")

    def screen(self) -> str:
        return ANSI.sub("", self.raw())

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            rc = self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(
                f"serve did not stop on SIGINT:\n{self.screen()[-3000:]}"
            ) from None
        self.reader.join(5)
        os.close(self.master)
        return rc


async def _connect_subscribe_trigger(server: EmbeddedServer, channel: str) -> None:
    async with await WsSubscriber.connect(server.ws_url) as ws:
        await ws.subscribe(channel)
        await asyncio.to_thread(server.pusher_client().trigger, channel, "tick", {"n": 1})
        assert (await ws.next_event())["event"] == "tick"
        await asyncio.sleep(1.2)  # the view is redrawn (4 per second) while it is connected


@pytest.mark.parametrize("cols", [80, 140])
def test_console_live_view_on_a_terminal(tmp_path: Path, cols: int) -> None:
    rows = 24
    view = PtyServe(tmp_path, cols, rows, "--console")
    channel = "console-room-with-a-rather-long-channel-name-to-cut"
    try:
        asyncio.run(_connect_subscribe_trigger(view.server, channel))
        wait_for(
            lambda: "connections 0" in view.screen().rpartition("pushcli serve")[2], 5, "the close"
        )
    finally:
        rc = view.stop()
    assert rc == 0
    raw, screen = view.raw(), view.screen()
    assert "\x1b[" in raw  # drawn with colours and cursor moves: a live view
    # a frame while the client was connected: header counts, the records
    assert re.search(r"connections 1\s+channels 1\s+messages 1", screen), screen[-3000:]
    assert "pushcli serve" in screen and f"127.0.0.1:{view.port}" in screen
    for label in ("open", "subscribe", "api", "close"):
        assert re.search(rf"\s{label}\s", screen), label
    assert "tick" in screen
    # nothing wider than the terminal, nothing of the server's stderr log over the view
    lines = re.split(r"[\r\n]+", screen)
    assert max(len(line) for line in lines) <= cols, max(lines, key=len)
    assert "connected " not in screen and "disconnected " not in screen
    if cols >= 100:
        assert re.search(r"\d\d:\d\d:\d\d\.\d{3}", screen)  # wide: milliseconds
        assert channel[:32] in screen or channel[:31] + "…" in screen
    else:
        assert "…" in screen  # narrow: long values are cut, not wrapped


def test_text_log_on_a_terminal_is_coloured(tmp_path: Path) -> None:
    view = PtyServe(tmp_path, 100, 24, "--log", "-")
    try:
        asyncio.run(_connect_subscribe_trigger(view.server, "tty-log"))
        wait_for(lambda: " close " in view.screen(), 5, "the close line")
    finally:
        assert view.stop() == 0
    raw = view.raw()
    assert "\x1b[32mopen" in raw and "\x1b[36msubscribe" in raw and "\x1b[1;35mapi" in raw
    assert re.search(
        r"\d\d:\d\d:\d\d\.\d{3}.*api\S*\s+tty-log  tick  8 B  via events", view.screen()
    )


# --------------------------------------------------------------------------- options


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (["--log-format", "json"], 2, "give --log too"),
        (["--log", "-", "--log-format", "yaml"], 2, "text or json"),
        (["--console"], 2, "needs a terminal"),
        (["--console", "--log", "-"], 2, "give --log a FILE"),
        (["--log", "/nonexistent-dir/serve.log"], 4, "cannot write /nonexistent-dir/serve.log"),
    ],
)
def test_log_options_are_checked(tmp_path: Path, args: list[str], code: int, says: str) -> None:
    (port,) = free_tcp_ports(1)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PUSHER_", "PUSHCLI_"))}
    env["PUSHCLI_CONFIG"] = str(tmp_path / "none.toml")
    r = subprocess.run(  # noqa: S603 - fixed argv
        [sys.executable, "-m", "pushcli", "serve", "--port", str(port), *args],
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        timeout=20,
    )
    assert r.returncode == code, r.stderr
    assert says in r.stderr and "listening" not in r.stderr
