"""HTTP/1.1 on asyncio with h11: reading requests within size and time bounds, writing answers.

:class:`HttpConnection` is the part every pushcli HTTP server shares: the embedded server's
connections (transport.py, which may upgrade to WebSocket) and the local development endpoints
(localhttp.py: ``auth serve``, ``webhook listen``). h11 parses (keep-alive, pipelining, chunked
bodies, malformed input); a subclass decides in :meth:`HttpConnection.handle`, answering at once
or later with :meth:`HttpConnection.respond`. A request must be complete within the request
timeout (checked by the owner's sweep: :meth:`request_overdue`, :meth:`request_timed_out`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from http import HTTPStatus

import h11

#: how long a request may take to arrive, and an idle keep-alive connection may stay
REQUEST_TIMEOUT_SECONDS = 10.0
KEEPALIVE_SECONDS = 75.0
MAX_INCOMPLETE_EVENT = 16384


class HttpConnection(asyncio.Protocol):
    """One TCP connection speaking HTTP/1.1 (until a subclass hands it to another protocol by
    setting ``self.http`` to None)."""

    log = logging.getLogger("pushcli.server")

    def __init__(self, max_body: int) -> None:
        self.max_body = max_body
        self.transport: asyncio.Transport | None = None
        self.peer = "?"
        self.http: h11.Connection | None = h11.Connection(
            h11.SERVER, max_incomplete_event_size=MAX_INCOMPLETE_EVENT
        )
        self.request: h11.Request | None = None
        self.body: list[bytes] = []
        self.body_size = 0
        #: the answer to the request is being worked out (reading is paused until it is sent)
        self.answering = False
        self.last_active = time.monotonic()
        #: when the request being received began (the first one: at the connection); None
        #: between requests. A request must be complete within the request timeout.
        self.request_started: float | None = self.last_active

    # ---- to be decided by the subclass

    def handle(self, request: h11.Request, body: bytes) -> None:
        """A complete request: answer with :meth:`respond`, now or later, or take the
        connection over (an upgrade: set ``self.http`` to None)."""
        raise NotImplementedError

    def error_body(self, status: int, message: str) -> tuple[bytes, str]:
        """Body and content type of an error this layer answers itself (400, 408, 413)."""
        return (message + "\n").encode(), "text/plain; charset=utf-8"

    # ---- asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        peer = transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)

    def data_received(self, data: bytes) -> None:
        self.last_active = time.monotonic()
        if self.request_started is None:
            self.request_started = self.last_active
        conn = self.http
        assert conn is not None
        try:
            conn.receive_data(data)
        except RuntimeError:  # data after the end of the stream
            return
        self._process()

    # ---- reading

    def _process(self) -> None:
        conn, transport = self.http, self.transport
        assert conn is not None and transport is not None
        try:
            while True:
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    if self.request_started is None and conn.trailing_data[0]:
                        self.request_started = time.monotonic()  # the next one has begun
                    return
                if isinstance(event, h11.Request):
                    self.request, self.body, self.body_size = event, [], 0
                    if self._too_large(event):
                        return
                    if conn.they_are_waiting_for_100_continue:
                        transport.write(
                            conn.send(h11.InformationalResponse(status_code=100, headers=[]))
                        )
                elif isinstance(event, h11.Data):
                    self.body_size += len(event.data)
                    if self.body_size > self.max_body:
                        return self.respond_error(413, "Request body too large")
                    self.body.append(event.data)
                elif isinstance(event, h11.EndOfMessage):
                    self.request_started = None
                    assert self.request is not None
                    body, self.body = b"".join(self.body), []
                    self.handle(self.request, body)
                    if self.http is not conn or transport.is_closing():
                        return  # taken over, or closed
                    if conn.our_state is h11.SEND_RESPONSE:  # answered later
                        self.answering = True
                        transport.pause_reading()
                        return
                    if not self._next_cycle():
                        return
                elif isinstance(event, h11.ConnectionClosed):
                    transport.close()
                    return
                else:  # PAUSED: waiting for our answer or a protocol switch
                    return
        except h11.RemoteProtocolError as e:
            status = e.error_status_hint if 400 <= e.error_status_hint < 600 else 400
            self.respond_error(status, f"Bad HTTP request: {e}")

    def _too_large(self, request: h11.Request) -> bool:
        for name, value in request.headers:
            if name == b"content-length" and int(value) > self.max_body:
                self.respond_error(413, "Request body too large")
                return True
        return False

    def _next_cycle(self) -> bool:
        """After an answer: close, or get ready for the next request on this connection."""
        conn, transport = self.http, self.transport
        assert conn is not None and transport is not None
        if conn.our_state is h11.MUST_CLOSE or transport.is_closing():
            transport.close()
            return False
        if conn.our_state is h11.DONE and conn.their_state is h11.DONE:
            conn.start_next_cycle()
            self.request = None
        return True

    # ---- writing

    def respond(
        self,
        status: int,
        body: bytes,
        content_type: str,
        headers: list[tuple[str, str]] | tuple[()] = (),
        *,
        close: bool = False,
    ) -> None:
        conn, transport = self.http, self.transport
        if conn is None or transport is None or transport.is_closing():
            return
        all_headers = [
            ("Content-Type", content_type),
            ("Content-Length", str(len(body))),
            ("Server", "pushcli"),
            ("Date", http_date()),
            *headers,
        ]
        if close:
            all_headers.append(("Connection", "close"))
        try:
            if conn.our_state in (h11.IDLE, h11.SEND_RESPONSE):
                reason = HTTPStatus(status).phrase.encode()
                out = conn.send(
                    h11.Response(status_code=status, headers=all_headers, reason=reason)
                )
                if self.request is None or self.request.method != b"HEAD":
                    out += conn.send(h11.Data(data=body)) or b""
                out += conn.send(h11.EndOfMessage()) or b""
                transport.write(out)
        except h11.LocalProtocolError:
            close = True
        if close:
            transport.close()
        elif self.answering:  # an answer worked out later: go on with the connection
            self.answering = False
            if self._next_cycle():
                transport.resume_reading()
                self._process()

    def respond_error(self, status: int, message: str) -> None:
        """Answer an error this layer found, and close (the rest of the stream is unreliable)."""
        body, content_type = self.error_body(status, message)
        self.respond(status, body, content_type, close=True)

    # ---- timers (the owner's sweep calls these)

    def request_overdue(self, now: float, timeout: float) -> bool:
        return (
            self.http is not None
            and self.request_started is not None
            and now - self.request_started > timeout
        )

    def request_timed_out(self, timeout: float) -> None:
        """The request did not arrive in time (slowloris): 408 if it began, then close."""
        conn, transport = self.http, self.transport
        if conn is None or transport is None or transport.is_closing():
            return
        self.request_started = None
        began = conn.their_state is not h11.IDLE or bool(conn.trailing_data[0])
        # a connection that never sent a byte (a browser's preconnect) is not worth a line
        self.log.log(
            logging.INFO if began else logging.DEBUG,
            "closed %s: no complete HTTP request within %g s",
            self.peer,
            timeout,
        )
        if began:
            self.respond_error(408, f"Request Timeout: send the whole request within {timeout:g} s")
        else:
            transport.close()

    def idle_http(self, now: float, keepalive: float) -> bool:
        return (
            self.http is not None
            and not self.answering
            and self.http.their_state is h11.IDLE
            and now - self.last_active > keepalive
        )


_date_cache: tuple[int, str] = (0, "")


def http_date() -> str:
    """The Date header (clients such as `pushcli doctor` read the server's clock from it)."""
    global _date_cache
    now = int(time.time())
    if _date_cache[0] != now:
        from email.utils import formatdate

        _date_cache = (now, formatdate(now, usegmt=True))
    return _date_cache[1]
