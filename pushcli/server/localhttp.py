"""A small local HTTP server for pushcli's development endpoints (auth serve, webhook listen).

The same HTTP stack as the embedded server (asyncio + h11, :mod:`pushcli.server.http11`: the
request size and time bounds, keep-alive, the answers); a handler function decides. Handlers
may block (``webhook listen --forward-to`` waits for the app), so each request is handled on a
thread of its own while the loop keeps serving the others. Binds 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import h11

from pushcli.server.http11 import KEEPALIVE_SECONDS, REQUEST_TIMEOUT_SECONDS, HttpConnection

MAX_BODY = 1024 * 1024
log = logging.getLogger(__name__)


@dataclass
class HttpRequest:
    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes
    client: str


@dataclass
class HttpResponse:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[HttpRequest], HttpResponse]


class _Connection(HttpConnection):
    log = log

    def __init__(self, server: LocalServer) -> None:
        super().__init__(MAX_BODY)
        self.server = server

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.server.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.connections.discard(self)

    def error_body(self, status: int, message: str) -> tuple[bytes, str]:
        return json.dumps({"error": message}, separators=(",", ":")).encode(), "application/json"

    def handle(self, request: h11.Request, body: bytes) -> None:
        assert self.transport is not None
        peer = self.transport.get_extra_info("peername")
        req = HttpRequest(
            request.method.decode("ascii", "replace"),
            request.target.decode("ascii", "replace"),
            {n.decode("latin-1"): v.decode("latin-1") for n, v in request.headers},
            body,
            str(peer[0]) if isinstance(peer, tuple) else str(peer),
        )
        loop = asyncio.get_running_loop()
        thread = threading.Thread(
            target=self._work, args=(req, loop), name="pushcli-localhttp", daemon=True
        )
        thread.start()

    def _work(self, req: HttpRequest, loop: asyncio.AbstractEventLoop) -> None:
        try:
            resp = self.server.handler(req)
        except Exception as e:  # noqa: BLE001 - one bad request must not stop the server
            log.error("pushcli: error handling %s %s: %s", req.method, req.path, e)
            resp = HttpResponse(500, b'{"error":"internal error"}')
        with contextlib.suppress(RuntimeError):  # the loop is gone: the server has stopped
            loop.call_soon_threadsafe(self._answer, resp)

    def _answer(self, resp: HttpResponse) -> None:
        headers = {"Content-Type": "application/json", **resp.headers}
        content_type = headers.pop("Content-Type")
        self.respond(resp.status, resp.body, content_type, list(headers.items()))


class LocalServer:
    """A bound listening socket and the handler; :func:`run_until_stopped` serves it."""

    def __init__(self, sock: socket.socket, handler: Handler) -> None:
        self.socket = sock
        self.handler = handler
        self.server_address: tuple[str, int] = sock.getsockname()[:2]
        self.connections: set[_Connection] = set()
        self.request_timeout = REQUEST_TIMEOUT_SECONDS
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._stopped = threading.Event()

    async def serve(self, *, signals: bool = False) -> None:
        """Serve until :meth:`shutdown` (or, with ``signals``, SIGINT / SIGTERM)."""
        loop = self._loop = asyncio.get_running_loop()
        stop = self._stop = asyncio.Event()
        self._stopped.clear()
        if signals:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
        server = await loop.create_server(lambda: _Connection(self), sock=self.socket)
        sweeper = loop.create_task(self._sweep())
        try:
            await stop.wait()
        finally:
            sweeper.cancel()
            server.close()
            for conn in list(self.connections):
                if conn.transport is not None:
                    conn.transport.abort()
            if signals:
                for sig in (signal.SIGINT, signal.SIGTERM):
                    loop.remove_signal_handler(sig)
            self._stopped.set()

    async def _sweep(self) -> None:
        """HTTP requests that take too long (408), idle keep-alive connections."""
        timeout = self.request_timeout
        while True:
            await asyncio.sleep(min(1.0, timeout / 4))
            now = time.monotonic()
            for conn in list(self.connections):
                if conn.request_overdue(now, timeout):
                    conn.request_timed_out(timeout)
                elif conn.idle_http(now, KEEPALIVE_SECONDS) and conn.transport is not None:
                    conn.transport.close()

    def serve_forever(self) -> None:
        asyncio.run(self.serve())

    def shutdown(self) -> None:
        """Stop :meth:`serve_forever` running on another thread, and wait for it."""
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(stop.set)
            self._stopped.wait(5)

    def server_close(self) -> None:
        self.socket.close()


def make_server(host: str, port: int, handler: Handler) -> LocalServer:
    """Bind ``host:port`` now (OSError when it cannot be) for a handler to be served."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return LocalServer(sock, handler)


def run_until_stopped(server: LocalServer) -> None:
    """Serve until Ctrl-C or SIGTERM (the normal ways to stop a local server), then close."""
    try:
        asyncio.run(server.serve(signals=threading.current_thread() is threading.main_thread()))
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def serve_in_thread(server: LocalServer) -> threading.Thread:
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    return t


def is_loopback(host: str) -> bool:
    return host in ("localhost", "::1") or host.startswith("127.")
