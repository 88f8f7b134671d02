"""The lean REST transport: one HTTP/1.1 connection of the standard library's ``http.client``.

``pushcli batch`` keeps many requests in flight, one connection per sender thread, and on a
fast link the client's CPU per request is the limit: ``http.client`` costs a third of httpx's
(no URL re-parsing and validation, no pool, no extensions), and a new connection, which soketi
asks for after every answer (``Connection: close``), is a plain ``connect()``. Errors are the
ones :class:`~pushcli.client.rest.HttpxTransport` raises, with the same messages and the same
rule: a request that went out without an answer is :class:`~pushcli.client.rest.OutcomeUnknown`.

No local server offers HTTP/2 (soketi's uWebSockets.js and ``pushcli serve`` speak HTTP/1.1
only, also to prior-knowledge h2c), so many HTTP/1.1 connections it is.
"""

from __future__ import annotations

import http.client
import select
import socket
import ssl
from functools import cache
from urllib.parse import urlsplit

from pushcli.client.profiles import Settings
from pushcli.client.rest import (
    HEADERS,
    JSON_HEADERS,
    Answer,
    Request,
    RestClient,
    SharedBackoff,
    answer_lost,
    no_answer_in_time,
)
from pushcli.errors import UnavailableError


@cache
def tls_context() -> ssl.SSLContext:
    """Certificates verified against the same bundle httpx uses (certifi), once per process."""
    try:
        import certifi
    except ImportError:  # pragma: no cover - httpx depends on it
        return ssl.create_default_context()
    return ssl.create_default_context(cafile=certifi.where())


class StdlibTransport:
    """One keep-alive connection (re-opened when the server closed it). Not thread-safe: one per
    sender."""

    def __init__(self, base: str, server: str, timeout: float) -> None:
        parts = urlsplit(base)
        self.server = server
        self.timeout = timeout
        self._https = parts.scheme == "https"
        self._host = parts.hostname or ""
        self._port = parts.port
        self._conn: http.client.HTTPConnection | None = None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _connected(self) -> http.client.HTTPConnection:
        conn = self._conn
        if conn is not None and conn.sock is not None and _closed_by_peer(conn.sock):
            conn.close()  # an idle connection the server has closed: a fresh one, not an error
        if conn is None:
            if self._https:
                conn = http.client.HTTPSConnection(
                    self._host, self._port, timeout=self.timeout, context=tls_context()
                )
            else:
                conn = http.client.HTTPConnection(self._host, self._port, timeout=self.timeout)
            self._conn = conn
        if conn.sock is None:
            try:
                conn.connect()
            except TimeoutError:
                conn.close()
                raise UnavailableError(f"{self.server} did not answer in time") from None
            except OSError as e:
                conn.close()
                raise UnavailableError(f"cannot reach {self.server}: {_reason(e)}") from None
        return conn

    def send(self, req: Request) -> Answer:
        conn = self._connected()
        try:
            conn.request(
                req.method,
                req.target,
                body=req.body,
                headers=JSON_HEADERS if req.body is not None else HEADERS,
            )
        except TimeoutError:  # sending: the request did not get there whole
            conn.close()
            raise UnavailableError(f"{self.server} did not answer in time") from None
        except (OSError, http.client.HTTPException) as e:
            conn.close()
            raise UnavailableError(f"cannot reach {self.server}: {_reason(e)}") from None
        try:
            resp = conn.getresponse()
            content = resp.read()
        except TimeoutError:
            conn.close()
            raise no_answer_in_time(self.server) from None
        except (OSError, http.client.HTTPException) as e:
            # The request was sent; the connection broke before a whole answer came back.
            conn.close()
            raise answer_lost(self.server, _reason(e)) from None
        # On "Connection: close" http.client has already let go of the socket: the next
        # request connects again.
        return Answer(resp.status, content, resp.getheader("retry-after"))


def _closed_by_peer(sock: socket.socket) -> bool:
    """An idle connection with something to read has been closed by the server (or sent
    something unasked, which makes it unusable all the same)."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


def _reason(e: BaseException) -> str:
    if isinstance(e, http.client.RemoteDisconnected):
        return "server closed the connection without answering"
    return str(e) or e.__class__.__name__


def rest_client(
    settings: Settings, *, retries: int, timeout: float, backoff: SharedBackoff | None = None
) -> RestClient:
    """A :class:`RestClient` on a lean connection of its own: one per sender."""
    transport = StdlibTransport(settings.rest_base, settings.server_label, timeout)
    return RestClient(
        settings, retries=retries, timeout=timeout, transport=transport, backoff=backoff
    )
