"""A fault-injecting HTTP/1.1 proxy for tests: loopback only, bounded, scriptable.

It sits between a client under test and a real server (soketi, ``pushcli serve``) and decides,
request by request, what the client gets: the server's answer, or a fault. Nothing here
imports pushcli.

    from faultproxy import Fault, FaultProxy

    with FaultProxy(server.port) as proxy:            # upstream: 127.0.0.1:<server.port>
        env = proxy.env(server)                       # server.env() with PUSHER_PORT -> proxy
        proxy.next(Fault.status(503), Fault.status(503))      # the next two requests
        proxy.rule(Fault.reset_after(), body_contains=b'"channel":"c3"')   # every match
        proxy.rule(Fault.too_many(1), path_contains="/events", times=1)    # the first match
        ... run the client against env ...
        proxy.count()                                 # requests seen
        proxy.count("reset_after")                    # requests that got that fault
        [seen.body for seen in proxy.log]             # what came in, in arrival order

Which fault a request gets: the first matching :meth:`rule` (a rule with ``times`` is used up
after that many matches), else the next fault queued with :meth:`next`, else ``proxy.default``
(:meth:`Fault.forward` unless changed). Rules and queue may be changed while traffic flows.

Faults (see :class:`Fault`):

* ``forward()``: pass the request to the server and its answer back;
* ``status(code)`` / ``respond(code, body, headers)``: answer without forwarding (the server
  never sees the request); ``too_many(retry_after)`` is a 429 with ``Retry-After``;
* ``reset_before()``: read the request, then reset the TCP connection (RST) without forwarding;
* ``reset_after()``: forward the request, read the server's answer, then reset the client's
  connection instead of answering (the server acted on it, the client cannot know);
* ``stall(s)``: hold the connection ``s`` seconds without forwarding, then reset it;
  ``stall(s, forward=True)``: forward at once, hold the server's answer ``s`` seconds, then send
  it (a client with a shorter timeout gives up although the server acted on the request);
* ``silent_upgrade()``: for a WebSocket upgrade, pass the handshake both ways, then drop
  everything the server sends (the client still reaches the server). With ``forward()`` an
  upgrade becomes a plain two-way tunnel; the other faults apply to it as to any request.

Each request goes to the server on a connection of its own (``Connection: close`` upstream);
the client's connection is kept alive unless the server's answer said ``Connection: close``.
Chunked answers are re-framed with ``Content-Length``; chunked request bodies are refused (501).

Bounds: listens on 127.0.0.1 only and forwards to a loopback upstream only; at most
``max_connections`` client connections (more are reset), request heads of 64 KB and bodies of
``max_body`` bytes (else 413), answers of 16 MB, stalls of 30 s, 10 s to read a request and 15 s
for the server to answer (else 502). ``stop()`` (or leaving the ``with``) closes everything.

The proxy runs its own asyncio loop in a daemon thread, so it serves sync and async tests alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
MAX_HEAD = 64 * 1024
MAX_ANSWER = 16 * 1024 * 1024
MAX_STALL = 30.0
READ_REQUEST_TIMEOUT = 10.0
UPSTREAM_TIMEOUT = 15.0
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "upgrade"}


@dataclass(frozen=True)
class Fault:
    """What the proxy does with one request (build one with the class methods)."""

    kind: str
    code: int = 0
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    seconds: float = 0.0
    #: stall: forward the request first, then hold the answer
    forward_first: bool = False

    @classmethod
    def forward(cls) -> Fault:
        return cls("forward")

    @classmethod
    def respond(
        cls, status: int, body: bytes | str = b"", headers: Mapping[str, str] | None = None
    ) -> Fault:
        raw = body.encode() if isinstance(body, str) else body
        return cls("respond", code=status, body=raw, headers=tuple((headers or {}).items()))

    @classmethod
    def status(cls, code: int, message: str | None = None) -> Fault:
        """An error answer with a soketi-style JSON body ``{"error": ..., "code": N}``."""
        text = message or f"faultproxy: {HTTPStatus(code).phrase}"
        body = json.dumps({"error": text, "code": code})
        return cls.respond(code, body, {"Content-Type": "application/json"})

    @classmethod
    def too_many(cls, retry_after: float | str) -> Fault:
        """429 with ``Retry-After`` (seconds, or any string to test odd values)."""
        value = retry_after if isinstance(retry_after, str) else f"{retry_after:g}"
        body = json.dumps({"error": "faultproxy: rate limited", "code": 429})
        return cls.respond(429, body, {"Content-Type": "application/json", "Retry-After": value})

    @classmethod
    def reset_before(cls) -> Fault:
        return cls("reset_before")

    @classmethod
    def reset_after(cls) -> Fault:
        return cls("reset_after")

    @classmethod
    def stall(cls, seconds: float, *, forward: bool = False) -> Fault:
        if not 0 <= seconds <= MAX_STALL:
            raise ValueError(f"stall of {seconds} s: at most {MAX_STALL:g} s")
        return cls("stall", seconds=seconds, forward_first=forward)

    @classmethod
    def silent_upgrade(cls) -> Fault:
        return cls("silent_upgrade")


@dataclass
class Request:
    """A request as the proxy read it (what rules match on)."""

    method: str
    target: str
    headers: dict[str, str]
    body: bytes

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]

    @property
    def upgrade(self) -> bool:
        return "upgrade" in self.headers.get("connection", "").lower()

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Seen:
    """One request in :attr:`FaultProxy.log`."""

    n: int
    method: str
    target: str
    body: bytes
    fault: str
    at: float  # time.monotonic() when the request was complete
    upstream_status: int | None = None  # the server's status, when it was forwarded
    answered: int | None = None  # the status the client was sent (None: reset / no answer)

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]


@dataclass
class _Rule:
    fault: Fault
    match: Callable[[Request], bool]
    times: int | None


@dataclass
class _Stats:
    connections: int = 0
    refused: int = 0
    errors: list[str] = field(default_factory=list)


class FaultProxy:
    """See the module docstring. ``upstream_port`` is the real server's port on ``host``."""

    def __init__(
        self,
        upstream_port: int,
        *,
        upstream_host: str = "127.0.0.1",
        max_connections: int = 64,
        max_body: int = 1024 * 1024,
    ) -> None:
        if upstream_host not in LOOPBACK_HOSTS:
            raise ValueError(f"faultproxy forwards to loopback only, not {upstream_host!r}")
        self.upstream = (upstream_host, upstream_port)
        self.host = "127.0.0.1"
        self.port: int = 0
        self.max_connections = max_connections
        self.max_body = max_body
        self.default: Fault = Fault.forward()
        self.log: list[Seen] = []
        self.stats = _Stats()
        self._rules: list[_Rule] = []
        self._queue: list[Fault] = []
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._open = 0

    # ---- scripting

    def next(self, *faults: Fault) -> FaultProxy:
        """Queue faults for the next requests (after rules), in order."""
        with self._lock:
            self._queue.extend(faults)
        return self

    def rule(
        self,
        fault: Fault,
        *,
        match: Callable[[Request], bool] | None = None,
        path_contains: str | None = None,
        body_contains: bytes | None = None,
        times: int | None = None,
    ) -> FaultProxy:
        """Give ``fault`` to every request matching all the given conditions (``times``: only
        the first so many matches)."""

        def matches(req: Request) -> bool:
            return (
                (path_contains is None or path_contains in req.path)
                and (body_contains is None or body_contains in req.body)
                and (match is None or match(req))
            )

        with self._lock:
            self._rules.append(_Rule(fault, matches, times))
        return self

    def clear(self) -> FaultProxy:
        """Forget rules, queued faults and the log; the default goes back to forward()."""
        with self._lock:
            self._rules.clear()
            self._queue.clear()
            self.log.clear()
            self.default = Fault.forward()
        return self

    def _decide(self, req: Request) -> Fault:
        with self._lock:
            for rule in self._rules:
                if rule.times != 0 and rule.match(req):
                    if rule.times is not None:
                        rule.times -= 1
                    return rule.fault
            if self._queue:
                return self._queue.pop(0)
            return self.default

    # ---- observing

    def count(self, fault: str | None = None, *, path_contains: str | None = None) -> int:
        """Requests seen (that got ``fault``, to a path containing ``path_contains``)."""
        return sum(
            1
            for s in list(self.log)
            if (fault is None or s.fault == fault)
            and (path_contains is None or path_contains in s.path)
        )

    def wait_for_requests(self, n: int, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.log) < n:
            if time.monotonic() > deadline:
                raise TimeoutError(f"faultproxy saw {len(self.log)} of {n} requests in {timeout}s")
            time.sleep(0.02)

    def env(self, server: Any) -> dict[str, str]:
        """``server.env()`` (PUSHER_* variables) with host and port pointing at the proxy."""
        env = dict(server.env())
        env["PUSHER_HOST"] = self.host
        env["PUSHER_PORT"] = str(self.port)
        return env

    @property
    def http_base(self) -> str:
        return f"http://{self.host}:{self.port}"

    # ---- lifecycle

    def start(self) -> FaultProxy:
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                self._server = loop.run_until_complete(
                    asyncio.start_server(self._serve, self.host, 0, limit=MAX_HEAD)
                )
                self.port = self._server.sockets[0].getsockname()[1]
            except BaseException as e:  # noqa: BLE001 - reported to start()
                failure.append(e)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(self._shutdown())
                loop.close()

        self._thread = threading.Thread(target=run, name="faultproxy", daemon=True)
        self._thread.start()
        ready.wait(10)
        if failure:
            raise failure[0]
        return self

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        with contextlib.suppress(RuntimeError):  # loop already closed
            loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        self._loop = self._thread = None

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    # ---- serving

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.stats.connections += 1
        self._open += 1
        try:
            if self._open > self.max_connections:
                self.stats.refused += 1
                _reset(writer)
                return
            while True:
                try:
                    req = await asyncio.wait_for(self._read_request(reader), READ_REQUEST_TIMEOUT)
                except (asyncio.IncompleteReadError, ConnectionError, TimeoutError):
                    break  # the client went away (or never sent a whole request)
                except _BadRequest as e:
                    await _answer(writer, e.status, json.dumps({"error": str(e)}).encode(), ())
                    break
                if req is None:
                    break
                if not await self._handle(req, reader, writer):
                    return
        except asyncio.CancelledError:
            _reset(writer)  # stop(): end quietly (re-raising would only log the cancellation)
        except Exception as e:  # noqa: BLE001 - a proxy bug must not kill the loop
            self.stats.errors.append(f"{type(e).__name__}: {e}")
            _reset(writer)
        finally:
            self._open -= 1
            self._tasks.discard(task)
            if not writer.is_closing():
                writer.close()

    async def _read_request(self, reader: asyncio.StreamReader) -> Request | None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as e:
            if not e.partial.strip():
                return None  # clean close between requests
            raise
        except asyncio.LimitOverrunError:
            raise _BadRequest(431, "request head too large") from None
        lines = head.decode("latin-1").split("\r\n")
        try:
            method, target, _version = lines[0].split(" ", 2)
        except ValueError:
            raise _BadRequest(400, "bad request line") from None
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        if "chunked" in headers.get("transfer-encoding", "").lower():
            raise _BadRequest(501, "faultproxy does not take chunked request bodies")
        length = int(headers.get("content-length") or 0)
        if length > self.max_body:
            raise _BadRequest(413, f"body over {self.max_body} bytes")
        body = await reader.readexactly(length) if length else b""
        return Request(method, target, headers, body)

    async def _handle(
        self, req: Request, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        """Apply the fault; True when the client connection stays open for another request."""
        fault = self._decide(req)
        seen = Seen(
            len(self.log) + 1, req.method, req.target, req.body, fault.kind, time.monotonic()
        )
        self.log.append(seen)
        kind = fault.kind
        if kind == "respond":
            seen.answered = fault.code
            await _answer(writer, fault.code, fault.body, fault.headers)
            return True
        if kind == "reset_before":
            _reset(writer)
            return False
        if kind == "stall" and not fault.forward_first:
            await asyncio.sleep(fault.seconds)
            _reset(writer)
            return False
        if req.upgrade and kind in ("forward", "silent_upgrade"):
            await self._tunnel(req, reader, writer, silent=kind == "silent_upgrade")
            return False
        try:
            status, headers, body = await asyncio.wait_for(self._forward(req), UPSTREAM_TIMEOUT)
        except (OSError, TimeoutError, asyncio.IncompleteReadError, ValueError) as e:
            seen.answered = 502
            msg = f"faultproxy: upstream failed: {type(e).__name__}: {e}"
            await _answer(writer, 502, json.dumps({"error": msg}).encode(), ())
            return False
        seen.upstream_status = status
        if kind == "reset_after":
            _reset(writer)
            return False
        if kind == "stall":
            await asyncio.sleep(fault.seconds)
        keep = "close" not in _header(headers, "connection").lower()
        seen.answered = status
        try:
            await _answer(writer, status, body, headers, keep_alive=keep)
        except ConnectionError:
            return False
        return keep

    async def _forward(self, req: Request) -> tuple[int, list[tuple[str, str]], bytes]:
        host, port = self.upstream
        up_reader, up_writer = await asyncio.open_connection(host, port, limit=MAX_HEAD)
        try:
            head = [f"{req.method} {req.target} HTTP/1.1"]
            head += [f"{k}: {v}" for k, v in req.headers.items() if k not in ("connection",)]
            head.append("Connection: close")
            up_writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + req.body)
            await up_writer.drain()
            raw = await _read_all(up_reader, MAX_ANSWER)
        finally:
            up_writer.close()
        return _parse_answer(raw, head_only=req.method == "HEAD")

    async def _tunnel(
        self,
        req: Request,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        silent: bool,
    ) -> None:
        host, port = self.upstream
        up_reader, up_writer = await asyncio.open_connection(host, port, limit=MAX_HEAD)
        head = [f"{req.method} {req.target} HTTP/1.1"]
        head += [f"{k}: {v}" for k, v in req.headers.items()]
        up_writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + req.body)
        answer_head = await up_reader.readuntil(b"\r\n\r\n")
        writer.write(answer_head)
        await writer.drain()

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter | None) -> None:
            while data := await src.read(65536):
                if dst is not None:
                    dst.write(data)
                    await dst.drain()

        tasks = [
            asyncio.ensure_future(pipe(reader, up_writer)),
            asyncio.ensure_future(pipe(up_reader, None if silent else writer)),
        ]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            up_writer.close()


class _BadRequest(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP RST (SO_LINGER 0), not a FIN."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


def _header(headers: Iterable[tuple[str, str]], name: str) -> str:
    for k, v in headers:
        if k.lower() == name:
            return v
    return ""


async def _answer(
    writer: asyncio.StreamWriter,
    status: int,
    body: bytes,
    headers: Iterable[tuple[str, str]],
    *,
    keep_alive: bool = True,
) -> None:
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Unknown"
    lines = [f"HTTP/1.1 {status} {reason}"]
    lines += [f"{k}: {v}" for k, v in headers if k.lower() not in _HOP_BY_HOP]
    lines.append(f"Content-Length: {len(body)}")
    lines.append("Connection: keep-alive" if keep_alive else "Connection: close")
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
    await writer.drain()


async def _read_all(reader: asyncio.StreamReader, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while data := await reader.read(65536):
        size += len(data)
        if size > limit:
            raise ValueError(f"answer over {limit} bytes")
        chunks.append(data)
    return b"".join(chunks)


def _parse_answer(
    raw: bytes, *, head_only: bool = False
) -> tuple[int, list[tuple[str, str]], bytes]:
    """An HTTP/1.1 answer read to EOF: status, headers, body (de-chunked)."""
    head, sep, rest = raw.partition(b"\r\n\r\n")
    if not sep:
        raise ValueError("incomplete answer from upstream")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = []
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers.append((name.strip(), value.strip()))
    if head_only:
        return status, headers, b""
    if "chunked" in _header(headers, "transfer-encoding").lower():
        rest = _dechunk(rest)
    elif length := _header(headers, "content-length"):
        rest = rest[: int(length)]
    return status, headers, rest


def _dechunk(data: bytes) -> bytes:
    out = bytearray()
    while True:
        size_line, sep, data = data.partition(b"\r\n")
        if not sep:
            raise ValueError("bad chunked answer")
        size = int(size_line.split(b";", 1)[0], 16)
        if size == 0:
            return bytes(out)
        out += data[:size]
        data = data[size + 2 :]
