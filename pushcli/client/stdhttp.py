"""The lean REST transport: one HTTP/1.1 connection on a plain socket, for batch's senders.

``pushcli batch`` keeps many requests in flight, one connection per sender thread, and on a
fast link the client's CPU per request is the limit. httpx costs about 0.8 ms of CPU per request
(URL parsing and validation, pool, extensions), ``http.client`` about 0.3 ms, most of it in the
``email`` header parser and a second ``send`` for the body. Here a request is one ``sendall`` of
bytes built in one go, and the answer is read with :func:`read_answer` (status line, headers,
a ``Content-Length`` or chunked body). A new connection, which soketi asks for after every
answer (``Connection: close``), is one ``connect()``. Errors are those of
:class:`~pushcli.client.rest.HttpxTransport`, with the same messages and the same rule: a
request that went out without a whole answer is :class:`~pushcli.client.rest.OutcomeUnknown`.

No local server offers HTTP/2 (soketi's uWebSockets.js and ``pushcli serve`` answer HTTP/1.1
to an h2c upgrade and do not speak prior-knowledge h2c), so it is many HTTP/1.1 connections.
"""

from __future__ import annotations

import select
import socket
import ssl
from functools import cache
from typing import BinaryIO
from urllib.parse import urlsplit

from pushcli.client.profiles import Settings
from pushcli.client.rest import (
    USER_AGENT,
    Answer,
    Request,
    RestClient,
    SharedBackoff,
    answer_lost,
    no_answer_in_time,
)
from pushcli.errors import UnavailableError

MAX_LINE = 65536
MAX_HEADERS = 100
#: answers larger than this are refused (the REST API's are a few hundred bytes)
MAX_BODY = 16 * 1024 * 1024


class BadAnswer(Exception):
    """The server's bytes are not an HTTP/1.x answer (or the connection ended inside one)."""


@cache
def tls_context() -> ssl.SSLContext:
    """Certificates verified against the same bundle httpx uses (certifi), once per process."""
    try:
        import certifi
    except ImportError:  # pragma: no cover - httpx depends on it
        return ssl.create_default_context()
    return ssl.create_default_context(cafile=certifi.where())


def read_answer(f: BinaryIO, *, head: bool = False) -> tuple[int, dict[bytes, bytes], bytes, bool]:
    """Status, headers (names lowercased), body, and whether the connection may be used again.
    Informational (1xx) answers are skipped. Raises :class:`BadAnswer` (or the socket's error)."""
    while True:
        line = f.readline(MAX_LINE + 1)
        if not line:
            raise BadAnswer("server closed the connection without answering")
        parts = line.split(None, 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
            raise BadAnswer(f"not an HTTP answer: {line[:40]!r}")
        status = int(parts[1])
        headers: dict[bytes, bytes] = {}
        for _ in range(MAX_HEADERS + 1):
            line = f.readline(MAX_LINE + 1)
            if line in (b"\r\n", b"\n"):
                break
            if not line:
                raise BadAnswer("connection closed inside the answer's headers")
            if len(line) > MAX_LINE:
                raise BadAnswer("answer headers too large")
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
        else:
            raise BadAnswer("too many answer headers")
        if status >= 200 or status < 100:
            break
    keep = parts[0] != b"HTTP/1.0" and headers.get(b"connection", b"").lower() != b"close"
    if head or status in (204, 304):
        return status, headers, b"", keep
    if b"chunked" in headers.get(b"transfer-encoding", b"").lower():
        return status, headers, _read_chunked(f), keep
    length = headers.get(b"content-length")
    if length is None:  # the body runs to the end of the connection
        body = f.read(MAX_BODY + 1)
        if len(body) > MAX_BODY:
            raise BadAnswer("answer too large")
        return status, headers, body, False
    if not length.isdigit() or int(length) > MAX_BODY:
        raise BadAnswer(f"bad Content-Length {length[:20]!r}")
    body = f.read(int(length))
    if len(body) != int(length):
        raise BadAnswer("connection closed inside the answer")
    return status, headers, body, keep


def _read_chunked(f: BinaryIO) -> bytes:
    out = bytearray()
    while True:
        line = f.readline(MAX_LINE + 1)
        size_text = line.split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise BadAnswer("bad chunk size") from None
        if size == 0:
            while (line := f.readline(MAX_LINE + 1)) not in (b"\r\n", b"\n"):  # trailers
                if not line:
                    raise BadAnswer("connection closed inside the answer")
            return bytes(out)
        if len(out) + size > MAX_BODY:
            raise BadAnswer("answer too large")
        chunk = f.read(size + 2)
        if len(chunk) != size + 2:
            raise BadAnswer("connection closed inside the answer")
        out += chunk[:size]


class StdlibTransport:
    """One keep-alive connection (re-opened when the server closed it). Not thread-safe: one per
    sender."""

    def __init__(self, base: str, server: str, timeout: float) -> None:
        parts = urlsplit(base)
        self.server = server
        self.timeout = timeout
        self._https = parts.scheme == "https"
        self._host = parts.hostname or ""
        self._port = parts.port or (443 if self._https else 80)
        try:
            self._host_header = f"Host: {parts.netloc}\r\n".encode("ascii")
        except UnicodeEncodeError:
            self._host_header = f"Host: {parts.netloc}\r\n".encode("idna")
        self._sock: socket.socket | None = None
        self._file: BinaryIO | None = None

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def _connected(self) -> tuple[socket.socket, BinaryIO]:
        if self._sock is not None and self._file is not None:
            if not _closed_by_peer(self._sock):
                return self._sock, self._file
            self.close()  # an idle connection the server has closed: a fresh one, not an error
        sock: socket.socket | None = None
        try:
            sock = socket.create_connection((self._host, self._port), self.timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self._https:
                sock = tls_context().wrap_socket(sock, server_hostname=self._host)
        except TimeoutError:
            if sock is not None:
                sock.close()
            raise UnavailableError(f"{self.server} did not answer in time") from None
        except OSError as e:
            if sock is not None:
                sock.close()
            raise UnavailableError(f"cannot reach {self.server}: {_reason(e)}") from None
        self._sock, self._file = sock, sock.makefile("rb")
        return sock, self._file

    def request_bytes(self, req: Request) -> bytes:
        head = f"{req.method} {req.target} HTTP/1.1\r\n".encode() + self._host_header
        head += f"User-Agent: {USER_AGENT}\r\nAccept: application/json\r\n".encode()
        if req.body is None:
            return head + b"\r\n"
        length = f"Content-Type: application/json\r\nContent-Length: {len(req.body)}\r\n\r\n"
        return head + length.encode() + req.body

    def send(self, req: Request) -> Answer:
        data = self.request_bytes(req)
        sock, f = self._connected()
        try:
            sock.sendall(data)
        except TimeoutError:  # sending: the request did not get there whole
            self.close()
            raise UnavailableError(f"{self.server} did not answer in time") from None
        except OSError as e:
            self.close()
            raise UnavailableError(f"cannot reach {self.server}: {_reason(e)}") from None
        try:
            status, headers, body, keep = read_answer(f, head=req.method == "HEAD")
        except TimeoutError:
            self.close()
            raise no_answer_in_time(self.server) from None
        except (OSError, BadAnswer) as e:
            # The request was sent; the connection broke before a whole answer came back.
            self.close()
            raise answer_lost(self.server, _reason(e)) from None
        if not keep:
            self.close()
        retry_after = headers.get(b"retry-after")
        return Answer(status, body, retry_after.decode("latin-1") if retry_after else None)


def _closed_by_peer(sock: socket.socket) -> bool:
    """An idle connection with something to read has been closed by the server (or sent
    something unasked, which makes it unusable all the same)."""
    if isinstance(sock, ssl.SSLSocket) and sock.pending():
        return True
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


def _reason(e: BaseException) -> str:
    return str(e) or e.__class__.__name__


def rest_client(
    settings: Settings, *, retries: int, timeout: float, backoff: SharedBackoff | None = None
) -> RestClient:
    """A :class:`RestClient` on a lean connection of its own: one per sender."""
    transport = StdlibTransport(settings.rest_base, settings.server_label, timeout)
    return RestClient(
        settings, retries=retries, timeout=timeout, transport=transport, backoff=backoff
    )
