"""pushcli listen against broken servers: silence, refusals that are not subscription errors,
and a server that closes every subscriber with 4200.

The broken servers are small stand-ins: real WebSocket servers on 127.0.0.1 (the websockets
library's asyncio server, in a thread of their own) that speak just enough protocol 7 to misbehave.
pushcli runs as a subprocess, as a user would run it. soketi and ``pushcli serve`` are on the other
end where a real server's answer matters (refusals, a normal --timeout run).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from servers import free_tcp_ports

ROOT = Path(__file__).resolve().parent.parent

Handler = Callable[[Any], Awaitable[None]]


def run_cli(*args: str, env: dict[str, str], timeout: float = 20) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(
            [sys.executable, "-m", "pushcli", *args],
            capture_output=True,
            text=True,
            env=env,
            cwd=ROOT,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as e:
        err = e.stderr.decode(errors="replace") if isinstance(e.stderr, bytes) else e.stderr
        tail = "\n".join((err or "").splitlines()[-5:])
        raise AssertionError(
            f"pushcli did not exit within {timeout}s; stderr ends:\n{tail}"
        ) from None


def pushcli_env(port: int, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        PUSHER_APP_ID="1",
        PUSHER_APP_KEY="k",
        PUSHER_APP_SECRET="s",
        PUSHER_HOST="127.0.0.1",
        PUSHER_PORT=str(port),
        PUSHER_SCHEME="http",
    )
    env.update(extra)
    return env


class StandIn:
    """A WebSocket server on 127.0.0.1 that runs ``handler`` for each connection, counting them."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.connected_at: list[float] = []  # time.monotonic() of each accepted connection
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._stop: asyncio.Future[None] | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="stand-in", daemon=True)

    def __enter__(self) -> StandIn:
        self._thread.start()
        assert self._ready.wait(5), "stand-in server did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._stop_soon)
        self._thread.join(10)

    def env(self, **extra: str) -> dict[str, str]:
        return pushcli_env(self.port, **extra)

    def _stop_soon(self) -> None:
        if self._stop is not None and not self._stop.done():
            self._stop.set_result(None)

    def _run(self) -> None:
        self._loop.run_until_complete(self._main())
        self._loop.close()

    async def _main(self) -> None:
        from websockets.asyncio.server import serve

        async def counted(ws: Any) -> None:
            self.connected_at.append(time.monotonic())
            await self.handler(ws)

        self._stop = self._loop.create_future()
        async with serve(counted, "127.0.0.1", 0, ping_interval=None) as server:
            self.port = server.sockets[0].getsockname()[1]
            self._ready.set()
            await self._stop
            server.close(close_connections=True)


def established(n: int = 1) -> str:
    data = {"socket_id": f"1.{n}", "activity_timeout": 120}
    return json.dumps({"event": "pusher:connection_established", "data": json.dumps(data)})


async def silent(ws: Any) -> None:
    """Accepts the WebSocket and never says a word."""
    await ws.wait_closed()


async def established_then_silent(ws: Any) -> None:
    """Says hello, then ignores every subscription."""
    await ws.send(established())
    async for _ in ws:
        pass


async def close_4200_on_subscribe(ws: Any) -> None:
    """Says hello, then answers every subscribe with close 4200 ("reconnect at once")."""
    await ws.send(established())
    async for msg in ws:
        if json.loads(msg)["event"] == "pusher:subscribe":
            await ws.close(4200, "go away and come back")
            return


async def pusher_style_refusal(ws: Any) -> None:
    """Refuses a bad channel signature as Pusher's own service does: a ``pusher:error`` with
    ``code: null`` and no channel (not soketi's ``pusher:subscription_error``), socket left open."""
    await ws.send(established())
    async for msg in ws:
        frame = json.loads(msg)
        if frame["event"] == "pusher:subscribe":
            channel = frame["data"]["channel"]
            message = (
                f"Invalid signature: Expected HMAC SHA256 hex digest of 1.1:{channel}, "
                f"but got {frame['data'].get('auth', '').split(':')[-1]}"
            )
            error = {"event": "pusher:error", "data": {"code": None, "message": message}}
            await ws.send(json.dumps(error))


# --- (a) a server that never sends connection_established ----------------------------------


def test_silent_server_is_a_failed_attempt_after_the_connect_timeout():
    with StandIn(silent) as server:
        started = time.monotonic()
        r = run_cli(
            "listen", "c", "--json", "--connect-timeout", "0.5", "--retries", "2", env=server.env()
        )
        took = time.monotonic() - started
    assert r.returncode == 6, r.stderr
    assert "no pusher:connection_established within 0.5s" in r.stderr
    assert "cannot connect to" in r.stderr and "(2 attempts)" in r.stderr
    assert len(server.connected_at) == 2  # each attempt ended, then it retried once
    assert took < 8


def test_connect_timeout_is_a_constant_as_long_as_pusher_js_waits():
    import inspect

    from pushcli.cli import listen as cli
    from pushcli.client.profiles import Settings
    from pushcli.client.realtime import CONNECT_TIMEOUT, STABLE_AFTER, Listener

    assert CONNECT_TIMEOUT == 15.0
    assert Listener(Settings(key="k"), ["c"]).connect_timeout == CONNECT_TIMEOUT
    for command in (cli.listen, cli.client_event):  # the CLI cannot import realtime for it
        default = inspect.signature(command).parameters["connect_timeout"].default
        assert default == CONNECT_TIMEOUT, command
    assert f"within {STABLE_AFTER:g} s" in cli.RetriesOpt.__metadata__[0].help


# --- (b) --timeout that never subscribed does not exit 0 -----------------------------------


def test_timeout_on_a_closed_port_exits_6():
    [port] = free_tcp_ports(1)
    r = run_cli(
        "listen", "c", "--json", "--timeout", "1.5", "--retries", "20", env=pushcli_env(port)
    )
    assert r.returncode == 6, r.stderr
    assert f"not connected to ws://127.0.0.1:{port} within 1.5s: connection refused" in r.stderr


def test_timeout_on_a_silent_server_exits_6():
    with StandIn(silent) as server:
        r = run_cli("listen", "c", "--json", "--timeout", "1", env=server.env())
    assert r.returncode == 6, r.stderr
    assert "not connected to" in r.stderr and "within 1s" in r.stderr


@pytest.mark.parametrize("awaiting", [[], ["--count", "1"]], ids=["duration", "count"])
def test_timeout_when_the_subscription_is_never_answered_exits_6(awaiting):
    with StandIn(established_then_silent) as server:
        r = run_cli("listen", "c", "d", "--json", "--timeout", "1", *awaiting, env=server.env())
    assert r.returncode == 6, r.stderr
    assert "not subscribed to c, d within 1s: the server did not confirm" in r.stderr


def test_timeout_after_a_pusher_style_refusal_exits_5_with_the_servers_message():
    with StandIn(pusher_style_refusal) as server:
        r = run_cli(
            "listen", "private-x", "--json", "--timeout", "1", "--no-signin", env=server.env()
        )
    assert r.returncode == 5, r.stderr
    assert "not subscribed to private-x within 1s: server error: Invalid signature" in r.stderr


@pytest.mark.parametrize(
    "args",
    [["private-{c}", "--no-signin"], ["{c}"]],
    ids=["bad-channel-auth", "bad-signin"],
)
def test_timeout_with_a_wrong_secret_exits_5(pusher_server, args):
    """soketi and pushcli serve refuse at once (subscription_error / 4009): 5, not a timeout."""
    c = f"faults-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, **pusher_server.env(), "PUSHER_APP_SECRET": "wrong-secret"}
    r = run_cli("listen", *[a.format(c=c) for a in args], "--json", "--timeout", "3", env=env)
    assert r.returncode == 5, r.stderr
    assert "refused" in r.stderr


def test_timeout_alone_still_exits_0_once_subscribed(pusher_server):
    c = f"faults-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, **pusher_server.env()}
    r = run_cli("listen", c, "--json", "--timeout", "1", env=env)
    assert r.returncode == 0, r.stderr
    assert f"subscribed to {c}" in r.stderr and "listened for 1s: 0 events arrived" in r.stderr


# --- (c) a server that closes every subscriber with 4200 -----------------------------------


def test_4200_on_every_subscribe_is_backed_off():
    with StandIn(close_4200_on_subscribe) as server:
        r = run_cli("listen", "c", "--json", "--timeout", "3", "--retries", "50", env=server.env())
        times = list(server.connected_at)
    assert r.returncode == 6, r.stderr  # never subscribed
    assert "not subscribed to c within 3s: connection closed (4200" in r.stderr
    assert 2 <= len(times) < 10, f"{len(times)} connections in 3 s"
    assert times[1] - times[0] < 0.5  # the first 4200 is honoured at once ...
    gaps = [b - a for a, b in zip(times[1:], times[2:], strict=False)]
    assert gaps and all(g >= 0.4 for g in gaps), gaps  # ... later ones are backed off


def test_4200_on_every_subscribe_gives_up_after_retries():
    with StandIn(close_4200_on_subscribe) as server:
        started = time.monotonic()
        r = run_cli("listen", "c", "--json", "--retries", "3", env=server.env(), timeout=15)
        took = time.monotonic() - started
    assert r.returncode == 6, r.stderr
    assert "keeps closing the connection: connection closed (4200: go away" in r.stderr
    assert "3 attempts in a row" in r.stderr
    assert len(server.connected_at) == 3
    assert took < 10
