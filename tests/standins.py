"""Deliberately wrong servers on 127.0.0.1, for showing that a conform check catches a fault.

* ``errors_as_200()``: a tiny asyncio + h11 HTTP server that answers every request with status
  200 and the error in the body, ``{"error": ..., "code": 401}`` (soketi's way); no WebSocket.
* ``FaultyServer``: the embedded server (``pushcli.server.Server``) in a thread of this process,
  with one fault applied to its instance: echoing client events, dropping members without
  user_info, accepting any signature, ignoring ``info``... (see ``FAULTS``). Everything else
  about it is right, so a conform run shows which checks the fault trips, and only those.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from servers import APP_ID, APP_KEY, APP_SECRET, LOOPBACK

Fault = Callable[[Any, pytest.MonkeyPatch], None]


def env_for(port: int) -> dict[str, str]:
    return {
        "PUSHER_APP_ID": APP_ID,
        "PUSHER_APP_KEY": APP_KEY,
        "PUSHER_APP_SECRET": APP_SECRET,
        "PUSHER_HOST": LOOPBACK,
        "PUSHER_PORT": str(port),
        "PUSHER_SCHEME": "http",
    }


class _LoopThread:
    """An event loop in a daemon thread; ``start(coro_fn)`` runs ``coro_fn()`` there and
    returns its result; ``stop()`` runs the cleanup it registered."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def call(self, coro: Any, timeout: float = 10) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


# --------------------------------------------------------------------------- errors as 200


@contextlib.contextmanager
def errors_as_200() -> Iterator[int]:
    """Yield the port of an HTTP server that answers everything 200 with an error body."""
    import h11

    body = json.dumps({"error": "The secret authentication failed", "code": 401}).encode()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = h11.Connection(h11.SERVER)
        try:
            while True:
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    conn.receive_data(await reader.read(65536))
                    continue
                if isinstance(event, h11.ConnectionClosed):
                    return
                if isinstance(event, h11.EndOfMessage):
                    headers = [
                        ("Content-Type", "application/json"),
                        ("Content-Length", str(len(body))),
                    ]
                    writer.write(conn.send(h11.Response(status_code=200, headers=headers)) or b"")
                    writer.write(
                        (conn.send(h11.Data(data=body)) or b"")
                        + (conn.send(h11.EndOfMessage()) or b"")
                    )
                    await writer.drain()
                    if conn.our_state is h11.MUST_CLOSE:
                        return
                    conn.start_next_cycle()
        except (h11.ProtocolError, OSError):
            return
        finally:
            writer.close()

    runner = _LoopThread()
    server = runner.call(asyncio.start_server(serve, LOOPBACK, 0))
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        runner.close()


# --------------------------------------------------------------------------- faulty embedded


def _each_state(server: Any) -> list[Any]:
    return list(server.states.values())


def errors_in_200_body(server: Any, mp: pytest.MonkeyPatch) -> None:
    from pushcli.server.http_api import Reply

    handle = server.api.handle

    def wrapped(method: str, target: str, body: bytes, now: float) -> Any:
        reply = handle(method, target, body, now)
        if reply.status >= 400:
            text = reply.body.decode().strip()
            return Reply(200, json.dumps({"error": text, "code": reply.status}).encode())
        return reply

    server.api.handle = wrapped


def echo_client_events(server: Any, mp: pytest.MonkeyPatch) -> None:
    for state in _each_state(server):
        publish = state.publish

        def echoing(name: str, data: bytes, except_id: str | None = None, _p: Any = publish) -> int:
            if b'"event":"client-' in data:
                except_id = None  # the sender gets its own event back
            return _p(name, data, except_id)

        state.publish = echoing


def drop_members_without_user_info(server: Any, mp: pytest.MonkeyPatch) -> None:
    for state in _each_state(server):
        snapshot = state.presence_snapshot

        def without(name: str, _s: Any = snapshot) -> Any:
            data = _s(name)
            p = data["presence"]
            p["hash"] = {k: v for k, v in p["hash"].items() if v is not None}
            return data

        state.presence_snapshot = without


def client_events_anywhere(server: Any, mp: pytest.MonkeyPatch) -> None:
    from pushcli.server.protocol import Session

    def refusal(self: Any, event: str, channel: Any, data: Any) -> str | None:
        return None if channel in self.channels else "not subscribed"

    mp.setattr(Session, "_client_event_refusal", refusal)


def any_signature(server: Any, mp: pytest.MonkeyPatch) -> None:
    from pushcli.server.protocol import Session

    mp.setattr(Session, "_check_auth", lambda self, channel, auth, to_sign: True)


def no_timestamp_check(server: Any, mp: pytest.MonkeyPatch) -> None:
    server.api.limits = dataclasses.replace(server.api.limits, timestamp_window_seconds=10**10)


def ignore_info(server: Any, mp: pytest.MonkeyPatch) -> None:
    from pushcli.server import http_api

    mp.setattr(http_api, "_parse_info", lambda raw, allowed: [])


def no_cache(server: Any, mp: pytest.MonkeyPatch) -> None:
    for state in _each_state(server):
        state.cached = lambda name: None


def no_subscription_count(server: Any, mp: pytest.MonkeyPatch) -> None:
    for state in _each_state(server):
        state.subscription_counted = lambda name: None


def member_added_per_connection(server: Any, mp: pytest.MonkeyPatch) -> None:
    from pushcli.server import wire

    for state in _each_state(server):
        join = state.join

        def joining(
            client: Any, name: str, member: Any = None, _j: Any = join, _st: Any = state
        ) -> None:
            ch = _st.channels.get(name)
            again = member is not None and ch is not None and member[0] in (ch.members or {})
            _j(client, name, member)
            if again:  # announce the user again for its second connection
                added = {"user_id": member[0], "user_info": member[1]}
                frame = wire.internal("pusher_internal:member_added", added, name)
                _st.publish(name, frame, except_id=client.socket_id)

        state.join = joining


def ignore_unsubscribe(server: Any, mp: pytest.MonkeyPatch) -> None:
    from pushcli.server.protocol import Session

    mp.setattr(Session, "_unsubscribe", lambda self, msg: None)


def forged_webhook_signature(server: Any, mp: pytest.MonkeyPatch) -> None:
    from types import SimpleNamespace

    from pushcli.protocol import webhooks as real
    from pushcli.server import webhooks

    forged = SimpleNamespace(
        body=real.body,
        headers=lambda key, secret, body, **kw: real.headers(key, secret + "-forged", body, **kw),
    )
    mp.setattr(webhooks, "webhooks", forged)


def no_webhook_retry(server: Any, mp: pytest.MonkeyPatch) -> None:
    server.webhooks.attempts = 1


class FaultyServer:
    """``pushcli.server.Server`` with one fault, in a thread of the test process."""

    def __init__(
        self, fault: Fault, mp: pytest.MonkeyPatch, *, webhook_urls: tuple[str, ...] = ()
    ) -> None:
        self.fault = fault
        self.mp = mp
        self.webhook_urls = webhook_urls
        self.port = 0
        self._runner: _LoopThread | None = None
        self._server: Any = None

    def env(self) -> dict[str, str]:
        return env_for(self.port)

    def __enter__(self) -> FaultyServer:
        from pushcli.server import App, Server

        runner = self._runner = _LoopThread()

        async def start() -> Any:
            server = Server(
                [App(APP_ID, APP_KEY, APP_SECRET)],
                host=LOOPBACK,
                port=0,
                webhook_urls=self.webhook_urls,
                webhook_batch_seconds=0.1,
            )
            await server.start()
            self.fault(server, self.mp)
            return server

        self._server = runner.call(start())
        self.port = self._server.port
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._runner is not None
        try:
            self._runner.call(self._server.stop(grace=0.5))
        finally:
            self._runner.close()
