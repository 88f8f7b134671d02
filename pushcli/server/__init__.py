"""The embedded Pusher-compatible server (``pushcli serve``).

One port for WebSocket (protocol 7 at ``/app/{key}``) and the HTTP API (``/apps/{id}/...``), on
asyncio: h11 parses HTTP, websockets' sans-I/O protocol handles WebSocket frames (transport.py);
the Pusher semantics live in protocol.py (connections), http_api.py (REST) and state.py.

Use in-process::

    server = Server([App("123", "key", "secret")], port=0)
    await server.start()      # server.port is the bound port
    ...
    await server.stop()       # clients are closed with 4200

or ``run(server)`` to serve until SIGINT / SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import itertools
import logging
import secrets
import signal
import socket
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from pushcli.server.apps import App, AppRegistry, Limits
from pushcli.server.http_api import Api
from pushcli.server.protocol import Session
from pushcli.server.records import OnRecord
from pushcli.server.state import AppState
from pushcli.server.transport import Connection
from pushcli.server.webhooks import WebhookSender

__all__ = ["App", "Limits", "Server", "run"]

log = logging.getLogger("pushcli.server")
HTTP_KEEPALIVE_SECONDS = 75.0
BACKLOG = 4096
#: connections taken per readiness event of the listening socket
ACCEPT_BATCH = 100
#: when accept() fails (out of file descriptors): first and longest pause before trying again
ACCEPT_PAUSE = (0.05, 1.0)
#: accept() trouble is over (and said so, once) after this long without a failure
ACCEPT_RECOVERED_AFTER = 2.0
_OUT_OF_RESOURCES = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)


class Server:
    def __init__(
        self,
        apps: Iterable[App],
        *,
        host: str = "127.0.0.1",
        port: int = 6001,
        limits: Limits | None = None,
        activity_timeout: int = 120,
        pong_timeout: float = 30.0,
        cache_ttl: float = 1800.0,
        webhook_urls: Iterable[str] = (),
        webhook_batch_seconds: float = 0.5,
        on_record: OnRecord | None = None,
    ) -> None:
        self.registry = AppRegistry(apps)
        #: the debug console's hook (records.py): called once per thing that happened, or None
        self.on_record = on_record
        self.host = host
        self.port = port
        self.limits = limits or Limits()
        self.activity_timeout = activity_timeout
        self.pong_timeout = pong_timeout
        self.webhooks = WebhookSender(tuple(webhook_urls), batch_seconds=webhook_batch_seconds)
        self.webhooks.on_record = on_record
        self.states = {
            app.id: AppState(
                app,
                cache_ttl=cache_ttl,
                max_cache_channels=self.limits.max_cache_channels,
                max_cache_bytes=self.limits.max_cache_bytes,
                notify=self.webhooks.add if self.webhooks.wants(app) else None,
            )
            for app in self.registry
        }
        self.api = Api(self.registry, self.states, self.limits, on_record=on_record)
        self.connections: set[Connection] = set()
        self.closing = False
        self._ids = itertools.count(1)
        self._sockets: list[socket.socket] = []
        self._accept_failing: float | None = None  # when accept() started failing
        self._accept_failed = 0.0  # its last failure
        self._accept_pause = ACCEPT_PAUSE[0]
        self._accept_timer: asyncio.TimerHandle | None = None
        self._adopting: set[asyncio.Task[None]] = set()
        self._sweeper: asyncio.Task[None] | None = None
        self._stopped = asyncio.Event()

    def next_socket_id(self) -> str:
        return f"{secrets.randbelow(10**9)}.{next(self._ids)}"

    @property
    def sessions(self) -> list[Session]:
        return [c.session for c in self.connections if c.session is not None and c.session.open]

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._sockets = await _listen(loop, self.host, self.port)
        self.port = self._sockets[0].getsockname()[1]
        self._start_accepting()
        self._sweeper = loop.create_task(self._sweep())

    # ---- accepting connections (our own loop: asyncio's logs a traceback per failed accept()
    # ---- when descriptors run out, thousands a second, and keeps retrying in a tight loop)

    def _start_accepting(self) -> None:
        self._accept_timer = None
        if self.closing:
            return
        loop = asyncio.get_running_loop()
        for sock in self._sockets:
            loop.add_reader(sock.fileno(), self._accept, sock)

    def _accept(self, sock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        for _ in range(ACCEPT_BATCH):
            try:
                conn, _ = sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except ConnectionAbortedError:
                continue
            except OSError as e:
                return self._pause_accepting(e)
            conn.setblocking(False)
            task = loop.create_task(self._adopt(conn))
            self._adopting.add(task)
            task.add_done_callback(self._adopting.discard)

    def _pause_accepting(self, error: OSError) -> None:
        """accept() failed: stop accepting for a moment (longer each time), and say so once
        until it has worked for a while (see ``_accept_recovered``)."""
        loop = asyncio.get_running_loop()
        for sock in self._sockets:
            loop.remove_reader(sock.fileno())
        self._accept_failed = time.monotonic()
        if self._accept_failing is None:
            self._accept_failing = self._accept_failed
            self._accept_pause = ACCEPT_PAUSE[0]
            log.warning(
                "cannot accept new connections: %s%s; %d open, new ones wait until some close",
                error.strerror or error,
                " (raise `ulimit -n`)" if error.errno in _OUT_OF_RESOURCES else "",
                len(self.connections) + len(self._adopting),
            )
        else:
            self._accept_pause = min(self._accept_pause * 2, ACCEPT_PAUSE[1])
        self._accept_timer = loop.call_later(self._accept_pause, self._start_accepting)

    def forget(self, conn: Connection) -> None:
        """A connection is gone: its descriptor is free, so a paused accept may go on now."""
        self.connections.discard(conn)
        if self._accept_timer is not None:
            self._accept_timer.cancel()
            self._start_accepting()

    def _accept_recovered(self, now: float) -> None:
        if self._accept_failing is not None and now - self._accept_failed > ACCEPT_RECOVERED_AFTER:
            log.warning("accepting new connections again")
            self._accept_failing = None

    async def _adopt(self, conn: socket.socket) -> None:
        try:
            await asyncio.get_running_loop().connect_accepted_socket(lambda: Connection(self), conn)
        except OSError:  # gone already
            conn.close()

    def _stop_accepting(self) -> None:
        loop = asyncio.get_running_loop()
        if self._accept_timer is not None:
            self._accept_timer.cancel()
            self._accept_timer = None
        for sock in self._sockets:
            if sock.fileno() != -1:
                loop.remove_reader(sock.fileno())
                sock.close()

    async def _sweep(self) -> None:
        """Once a second: keep-alive pings, 4201 for silent clients, HTTP requests that take too
        long (408), idle HTTP, expired cache, the subscription counts of large channels."""
        request_timeout = self.limits.request_timeout_seconds
        interval = max(
            0.2, min(1.0, self.activity_timeout / 4, self.pong_timeout / 4, request_timeout / 4)
        )
        while True:
            await asyncio.sleep(interval)
            now = time.monotonic()
            self._accept_recovered(now)
            for conn in list(self.connections):
                session = conn.session
                if session is not None:
                    if session.open:
                        session.check_alive(now, self.pong_timeout)
                elif conn.request_overdue(now, request_timeout):
                    conn.request_timed_out(request_timeout)
                elif conn.idle_http(now, HTTP_KEEPALIVE_SECONDS) and conn.transport is not None:
                    conn.transport.close()
            for state in self.states.values():
                state.expire_cache()
                state.flush_counts()

    async def stop(self, grace: float = 2.0) -> None:
        """Stop accepting, close every client with 4200, send queued webhooks."""
        if self.closing:
            await self._stopped.wait()
            return
        self.closing = True
        self._stop_accepting()
        for state in self.states.values():
            state.quiet = True
        for conn in list(self.connections):
            conn.shutdown()
        deadline = time.monotonic() + grace
        while self.connections and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        for conn in list(self.connections):
            if conn.transport is not None:
                conn.transport.abort()
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        await self.webhooks.close()
        self._stopped.set()

    async def serve_forever(self) -> None:
        await self._stopped.wait()


async def _listen(loop: asyncio.AbstractEventLoop, host: str, port: int) -> list[socket.socket]:
    """Listening sockets for every address of ``host`` (as asyncio's create_server binds)."""
    infos = await loop.getaddrinfo(
        host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )
    socks: list[socket.socket] = []
    try:
        for family, kind, proto, _, addr in dict.fromkeys(infos):
            sock = socket.socket(family, kind, proto)
            socks.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            if port == 0 and len(socks) > 1:  # one port for every address
                addr = (addr[0], socks[0].getsockname()[1], *addr[2:])
            sock.bind(addr)
            sock.listen(BACKLOG)
            sock.setblocking(False)
    except BaseException:
        for sock in socks:
            sock.close()
        raise
    return socks


def run(server: Server, on_ready: Callable[[Server], None] | None = None) -> None:
    """Serve until SIGINT or SIGTERM, then shut down cleanly (clients get 4200)."""

    async def main() -> None:
        await server.start()
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        if on_ready is not None:
            on_ready(server)
        await stop.wait()
        log.info("shutting down: closing %d connection(s) with 4200", len(server.sessions))
        await server.stop()

    asyncio.run(main())


def cli_run(
    apps: list[App],
    *,
    host: str,
    port: int,
    verbose: bool = False,
    ready_file: Path | None = None,
    **options: object,
) -> None:
    """``pushcli serve``: serve until Ctrl-C / SIGTERM, logging to ``pushcli.server`` (every
    frame and request with ``verbose``); the caller shows the log (``pushcli.app.logs``)."""
    from pushcli.errors import UnavailableError

    log.setLevel(logging.DEBUG if verbose else logging.INFO)
    server = Server(apps, host=host, port=port, **options)  # type: ignore[arg-type]

    def ready(srv: Server) -> None:
        shown = f"[{srv.host}]" if ":" in srv.host else srv.host
        log.info(
            "pushcli serve: listening on %s:%d (WebSocket /app/{key}, HTTP API /apps/{id})",
            shown,
            srv.port,
        )
        for app in srv.registry:
            log.info(
                "  app %s  key %s  client events %s",
                app.id,
                app.key,
                "on" if app.client_events else "off",
            )
        if srv.webhooks.urls:
            log.info("  webhooks to %s", ", ".join(srv.webhooks.urls))
        if host not in ("127.0.0.1", "::1", "localhost"):
            log.warning("  warning: %s is reachable from other machines (plain HTTP, no TLS)", host)
        log.info("Ctrl-C to stop")
        if ready_file is not None:
            ready_file.write_text(f"{srv.host} {srv.port}\n")

    try:
        run(server, ready)
    except OSError as e:
        raise UnavailableError(
            f"cannot listen on {host}:{port}: {e.strerror or e}",
            hint="is another server (soketi, pushcli serve) running there? choose another --port",
        ) from None
