"""One TCP connection: HTTP/1.1 parsed by h11, upgraded to WebSocket with websockets' sans-I/O
``ServerProtocol``.

The same port serves the HTTP API and WebSocket connections (like soketi). h11 reads requests
(keep-alive, pipelining, bodies, malformed input: :mod:`pushcli.server.http11`, shared with the
local development endpoints); a request to ``/app/{key}`` asking for an upgrade is handed to
websockets, which validates the handshake and then parses frames. Outgoing server frames are
complete byte strings written straight to the transport (see wire.py).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from typing import Protocol
from urllib.parse import parse_qs

import h11
from websockets.datastructures import Headers
from websockets.frames import Frame, Opcode
from websockets.http11 import Request as WsRequest
from websockets.protocol import OPEN
from websockets.server import ServerProtocol

from pushcli.server import wire
from pushcli.server.apps import AppRegistry, Limits
from pushcli.server.http11 import HttpConnection
from pushcli.server.http_api import Api, Reply, error_reply
from pushcli.server.protocol import PROTOCOL_VERSIONS, Session
from pushcli.server.records import ConnectionClosed, ConnectionOpened, ErrorSent, OnRecord
from pushcli.server.state import AppState

log = logging.getLogger("pushcli.server")
_ws_log = logging.getLogger("websockets.server")
CLOSE_TIMEOUT = 3.0
#: a connection whose unsent output grows past this is too slow to keep up: it is dropped
MAX_WRITE_BUFFER = 16 * 1024 * 1024


class Host(Protocol):
    """What a connection needs of the server that accepted it (``pushcli.server.Server``)."""

    @property
    def registry(self) -> AppRegistry: ...
    @property
    def states(self) -> Mapping[str, AppState]: ...
    @property
    def limits(self) -> Limits: ...
    @property
    def api(self) -> Api: ...
    @property
    def activity_timeout(self) -> int: ...
    @property
    def closing(self) -> bool: ...
    @property
    def connections(self) -> set[Connection]: ...
    @property
    def on_record(self) -> OnRecord | None: ...

    def next_socket_id(self) -> str: ...

    def forget(self, conn: Connection) -> None: ...


class Connection(HttpConnection):
    def __init__(self, server: Host) -> None:
        super().__init__(server.limits.max_request_body_bytes)
        self.server = server
        self.ws: ServerProtocol | None = None
        self.ws_open = False
        self.session: Session | None = None
        self.fragments: list[bytes] | None = None
        self._close_timer: asyncio.TimerHandle | None = None
        #: why the server dropped the connection without a close frame (for the records)
        self.dropped: str | None = None

    # ---- asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        assert self.transport is not None
        self.transport.set_write_buffer_limits(high=MAX_WRITE_BUFFER)
        self.server.connections.add(self)

    def data_received(self, data: bytes) -> None:
        if self.ws is not None:
            self._ws_received(data)
        else:
            super().data_received(data)

    def eof_received(self) -> bool:
        if self.ws is not None:
            self.ws.receive_eof()
            self._ws_flush()
        return False  # the transport closes itself

    def connection_lost(self, exc: Exception | None) -> None:
        self.ws_open = False
        if self._close_timer is not None:
            self._close_timer.cancel()
        if self.session is not None:
            ws = self.ws
            close = (ws.close_rcvd or ws.close_sent) if ws is not None else None
            code = close.code if close is not None else None
            log.info(
                "disconnected %s (%s)%s",
                self.session.socket_id,
                self.peer,
                f" code {code}" if code else "",
            )
            self.session.closed()
            if self.server.on_record is not None:
                self._record_closed(self.session)
        self.server.forget(self)

    def _record_closed(self, session: Session) -> None:
        assert self.server.on_record is not None
        ws = self.ws
        rcvd, sent = (ws.close_rcvd, ws.close_sent) if ws is not None else (None, None)
        close = rcvd or sent
        by = None
        if rcvd is not None and (sent is None or (ws is not None and ws.close_rcvd_then_sent)):
            by = "client"
        elif sent is not None:
            by = "server"
        self.server.on_record(
            ConnectionClosed(
                app_id=session.app.id,
                socket_id=session.socket_id,
                remote=self.peer,
                code=close.code if close is not None else None,
                reason=close.reason if close is not None else (self.dropped or ""),
                by=by,
                channels=session.left,
                user_id=session.user_id,
            )
        )

    def pause_writing(self) -> None:
        log.warning(
            "dropping %s (%s): it does not read fast enough (%d bytes waiting)",
            self.session.socket_id if self.session else "connection",
            self.peer,
            self.transport.get_write_buffer_size() if self.transport else 0,
        )
        self.ws_open = False
        self.dropped = "dropped: it did not read fast enough"
        if self.session is not None:
            self.session.closed()
        if self.transport is not None:
            self.transport.abort()

    # ---- HTTP (reading and writing: http11.HttpConnection)

    def handle(self, request: h11.Request, body: bytes) -> None:
        if self._is_upgrade(request):
            return self._upgrade(request)
        method = request.method.decode("ascii", "replace")
        target = request.target.decode("ascii", "replace")
        if target.startswith("/app/"):
            reply = error_reply(
                426, "This is a WebSocket endpoint: connect with a WebSocket client"
            )
            reply.headers.append(("Upgrade", "websocket"))
        else:
            try:
                reply = self.server.api.handle(method, target, body, time.time())
            except Exception:  # a bug: answer it, keep serving
                log.exception("HTTP %s %s failed", method, target.partition("?")[0][:100])
                reply = error_reply(500, "Internal server error")
        self._respond(reply)

    def _respond(self, reply: Reply, *, close: bool = False) -> None:
        self.respond(reply.status, reply.body, reply.content_type, reply.headers, close=close)

    # ---- upgrade to WebSocket

    def _is_upgrade(self, request: h11.Request) -> bool:
        if not request.target.startswith(b"/app/") or request.method != b"GET":
            return False
        return any(n == b"upgrade" and v.lower() == b"websocket" for n, v in request.headers)

    def _upgrade(self, request: h11.Request) -> None:
        assert self.http is not None and self.transport is not None
        target = request.target.decode("ascii", "replace")
        headers = Headers([(n.decode("latin-1"), v.decode("latin-1")) for n, v in request.headers])
        ws = ServerProtocol(
            state=OPEN, max_size=self.server.limits.max_message_bytes, logger=_ws_log
        )
        response = ws.accept(WsRequest(target, headers))
        self.transport.write(response.serialize())
        if response.status_code != 101:
            self.transport.close()
            return
        trailing, _ = self.http.trailing_data
        self.http, self.request, self.ws, self.ws_open = None, None, ws, True
        self._open_session(target, headers)
        if trailing and self.ws_open:
            self._ws_received(bytes(trailing))

    def _open_session(self, target: str, headers: Headers) -> None:
        path, _, query = target.partition("?")
        key = path[len("/app/") :]
        server = self.server
        app = server.registry.by_key.get(key)
        if server.closing:
            return self._refuse(4200, "Server is shutting down. Please reconnect shortly.")
        if app is None:
            log.info("refused %s: unknown app key %r", self.peer, key[:100])
            return self._refuse(4001, f"App key {key[:100]} does not exist.")
        version = parse_qs(query).get("protocol", [None])[0]
        if version is None:
            return self._refuse(4008, "No protocol version supplied (add ?protocol=7).")
        if not version.isdigit() or int(version) not in PROTOCOL_VERSIONS:
            return self._refuse(
                4007, f"Unsupported protocol version {version[:20]} (7 is supported)."
            )
        self.session = Session(
            server.states[app.id],
            self,
            server.next_socket_id(),
            limits=server.limits,
            activity_timeout=server.activity_timeout,
            log=log,
            on_record=server.on_record,
        )
        log.info("connected %s (%s) app %s", self.session.socket_id, self.peer, app.id)
        if server.on_record is not None:
            server.on_record(
                ConnectionOpened(
                    app_id=app.id,
                    socket_id=self.session.socket_id,
                    remote=self.peer,
                    origin=headers.get("Origin"),
                    user_agent=headers.get("User-Agent"),
                )
            )
        self.session.start()

    def _refuse(self, code: int, message: str) -> None:
        if self.server.on_record is not None:
            self.server.on_record(
                ErrorSent(event="pusher:error", code=code, message=message, remote=self.peer)
            )
        self.write(wire.error(code, message))
        self.close(code, message)

    # ---- WebSocket

    def write(self, data: bytes) -> None:
        if self.ws_open:
            self.transport.write(data)  # type: ignore[union-attr]

    def close(self, code: int, reason: str) -> None:
        """Start the closing handshake (the session has already been forgotten)."""
        if not self.ws_open or self.ws is None:
            return
        self.ws_open = False
        self.ws.send_close(code, reason.encode()[:120].decode(errors="ignore"))
        self._ws_flush()

    def _ws_received(self, data: bytes) -> None:
        ws = self.ws
        assert ws is not None
        ws.receive_data(data)
        frames = ws.events_received()
        session = self.session
        if session is not None and frames:
            session.touch()
        for frame in frames:
            if not isinstance(frame, Frame):
                continue
            op = frame.opcode
            if op is Opcode.TEXT or op is Opcode.BINARY:
                if frame.fin:
                    self._message(frame.data)
                else:
                    self.fragments = [bytes(frame.data)]
            elif op is Opcode.CONT and self.fragments is not None:
                self.fragments.append(bytes(frame.data))
                if frame.fin:
                    data, self.fragments = b"".join(self.fragments), None
                    self._message(data)
            elif op is Opcode.CLOSE:
                self.ws_open = False
                if session is not None:
                    session.closed()
        self._ws_flush()

    def _message(self, data: bytes | bytearray | memoryview) -> None:
        session = self.session
        if session is None or not session.open:
            return
        try:
            text = bytes(data).decode()
        except UnicodeDecodeError:
            session.error(None, "Invalid message: not UTF-8")
            return
        try:
            session.received(text)
        except RecursionError:  # JSON nested too deeply to decode or encode again
            session.error(None, "Invalid message: JSON nested too deeply")

    def _ws_flush(self) -> None:
        ws, transport = self.ws, self.transport
        assert ws is not None and transport is not None
        for chunk in ws.data_to_send():
            if chunk:
                transport.write(chunk)
            else:  # end of stream: the closing handshake is over (or the peer is gone)
                transport.close()
        if ws.close_expected() and self._close_timer is None:
            self.ws_open = False
            if self.session is not None:
                self.session.closed()
            self._close_timer = asyncio.get_running_loop().call_later(
                CLOSE_TIMEOUT, transport.abort
            )

    # ---- shutdown and housekeeping

    def shutdown(self) -> None:
        """Server shutdown: WebSocket clients get 4200, idle HTTP connections are closed."""
        if self.session is not None and self.session.open:
            self.session.terminate(4200, "Server closed. Please reconnect shortly.")
        elif self.ws is None and self.transport is not None:
            if self.http is None or self.http.their_state is h11.IDLE:
                self.transport.close()
