"""A TCP proxy on loopback that delays every byte by a fixed one-way time (benchmarks only).

    python benchmarks/delayproxy.py --upstream-port 6001 --delay 0.025 --port-file PORT

listens on 127.0.0.1 (a free port, written to --port-file), and forwards each connection to
127.0.0.1:--upstream-port, holding what it reads ``--delay`` seconds in each direction before
writing it on: 25 ms each way is a 50 ms round trip, like a client tens of milliseconds away
from its Pusher cluster. Closing is delayed the same way, so a server's ``Connection: close``
arrives after its answer. Connecting is not delayed (a real TCP handshake would add one round
trip to every new connection, and soketi asks for a new one after every answer: real links are
slower still for every client alike).

Bounds: loopback only, at most ``--max-connections`` at once (more are closed at once), at most
4 MB held per direction of a connection (reading pauses beyond), and it exits after
``--max-seconds`` (default 900) or on SIGTERM / SIGINT. Runs in a process of its own, so its CPU
is not taken from the clients measured.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from pathlib import Path

LOOPBACK = "127.0.0.1"
MAX_HELD = 4 * 1024 * 1024


class _Side(asyncio.Protocol):
    """One end of a proxied connection; what it reads goes to ``peer`` ``delay`` later."""

    def __init__(self, proxy: DelayProxy, *, client: bool) -> None:
        self.proxy = proxy
        self.client = client
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.peer: _Side | None = None
        self.pending: list[bytes | None] = []  # due before the peer was connected (None: close)
        self.held = 0
        self.paused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.held += len(data)
        if self.held > MAX_HELD and self.transport is not None and not self.paused:
            self.paused = True
            self.transport.pause_reading()
        self.loop.call_later(self.proxy.delay, self._due, data)

    def eof_received(self) -> bool:
        self.loop.call_later(self.proxy.delay, self._due, None)
        return True  # keep our side open until the peer's answer has gone through

    def connection_lost(self, exc: Exception | None) -> None:
        if self.client:
            self.proxy.open -= 1
        self.loop.call_later(self.proxy.delay, self._due, None)

    def _due(self, data: bytes | None) -> None:
        if data is not None:
            self.held -= len(data)
            if self.paused and self.held < MAX_HELD // 2 and self.transport is not None:
                self.paused = False
                self.transport.resume_reading()
        if self.peer is None:
            self.pending.append(data)
        else:
            self._write(data)

    def _write(self, data: bytes | None) -> None:
        assert self.peer is not None
        out = self.peer.transport
        if out is None or out.is_closing():
            return
        if data is None:
            out.close()  # after what is buffered
        else:
            out.write(data)

    def connected(self, peer: _Side) -> None:
        self.peer = peer
        pending, self.pending = self.pending, []
        for data in pending:
            self._write(data)


class DelayProxy:
    def __init__(self, upstream_port: int, delay: float, max_connections: int = 512) -> None:
        if not 0 <= delay <= 1:
            raise ValueError("delay: 0 to 1 s")
        self.upstream_port = upstream_port
        self.delay = delay
        self.max_connections = max_connections
        self.open = 0
        self._tasks: set[asyncio.Task[None]] = set()

    def accept(self) -> asyncio.Protocol:
        client = _Side(self, client=True)
        self.open += 1
        loop = asyncio.get_running_loop()
        if self.open > self.max_connections:
            loop.call_soon(lambda: client.transport.close() if client.transport else None)
        else:
            task = loop.create_task(self._connect(client))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return client

    async def _connect(self, client: _Side) -> None:
        loop = asyncio.get_running_loop()
        try:
            _, upstream = await loop.create_connection(
                lambda: _Side(self, client=False), LOOPBACK, self.upstream_port
            )
        except OSError:
            if client.transport is not None:
                client.transport.close()
            return
        client.connected(upstream)
        upstream.connected(client)


async def serve(args: argparse.Namespace) -> None:
    proxy = DelayProxy(args.upstream_port, args.delay, args.max_connections)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(proxy.accept, LOOPBACK, 0, backlog=1024)
    port = server.sockets[0].getsockname()[1]
    if args.port_file:
        tmp = Path(args.port_file + ".tmp")
        tmp.write_text(str(port))
        tmp.rename(args.port_file)
    else:
        print(port, flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await asyncio.wait_for(stop.wait(), args.max_seconds)
    except TimeoutError:
        pass
    server.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--upstream-port", type=int, required=True)
    ap.add_argument("--delay", type=float, default=0.025, help="one-way seconds (default 0.025)")
    ap.add_argument("--max-connections", type=int, default=512)
    ap.add_argument("--max-seconds", type=float, default=900)
    ap.add_argument("--port-file")
    asyncio.run(serve(ap.parse_args()))


if __name__ == "__main__":
    main()
