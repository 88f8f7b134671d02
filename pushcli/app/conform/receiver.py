"""The webhook receiver of a conformance run: an HTTP server on the event loop (h11) that keeps
every delivery, says whether its signature is right, and can refuse one to provoke a retry."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from pushcli.protocol import signing

MAX_BODY = 1024 * 1024


@dataclass
class Delivery:
    key: str | None
    signature: str | None
    body: bytes
    valid: bool
    events: list[dict[str, Any]]
    answered: int


@dataclass
class Receiver:
    key: str
    secret: str
    host: str = "127.0.0.1"
    port: int = 0
    deliveries: list[Delivery] = field(default_factory=list)
    #: channels whose first delivery is answered 503 (to see the server retry)
    refuse_once: set[str] = field(default_factory=set)
    _server: asyncio.Server | None = None
    _open: dict[asyncio.StreamWriter, asyncio.Task[None]] = field(default_factory=dict)

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        open_, self._open = self._open, {}
        for writer in open_:
            writer.close()  # a keep-alive connection: its reader sees the end and returns
        if open_:
            await asyncio.wait(set(open_.values()), timeout=1)

    def events(self, name: str, channel: str) -> list[tuple[Delivery, dict[str, Any]]]:
        return [
            (d, e)
            for d in self.deliveries
            for e in d.events
            if e.get("name") == name and e.get("channel") == channel
        ]

    async def wait_for(
        self, name: str, channel: str, timeout: float, count: int = 1
    ) -> list[tuple[Delivery, dict[str, Any]]]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            found = self.events(name, channel)
            if len(found) >= count or loop.time() >= deadline:
                return found
            await asyncio.sleep(0.05)

    def _answer(self, body: bytes, key: str | None, signature: str | None) -> Delivery:
        expected = signing.webhook_signature(self.secret, body)
        valid = (
            key == self.key and signature is not None and signing.verify_hex(expected, signature)
        )
        try:
            payload = json.loads(body)
            events = payload.get("events") if isinstance(payload, dict) else None
        except ValueError:
            events = None
        events = [e for e in events if isinstance(e, dict)] if isinstance(events, list) else []
        status = 200
        for e in events:
            if e.get("channel") in self.refuse_once:
                self.refuse_once.discard(e.get("channel"))
                status = 503
        return Delivery(key, signature, body, valid, events, status)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        import h11

        conn = h11.Connection(h11.SERVER)
        task = asyncio.current_task()
        if task is not None:
            self._open[writer] = task
        try:
            while True:
                request: h11.Request | None = None
                body = b""
                while True:
                    event = conn.next_event()
                    if event is h11.NEED_DATA:
                        data = await asyncio.wait_for(reader.read(65536), 30)
                        conn.receive_data(data)
                        continue
                    if isinstance(event, h11.Request):
                        request = event
                    elif isinstance(event, h11.Data):
                        body += event.data
                        if len(body) > MAX_BODY:
                            return
                    elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
                        break
                if request is None:
                    return
                headers = {k.decode().lower(): v.decode() for k, v in request.headers}
                delivery = self._answer(
                    body, headers.get("x-pusher-key"), headers.get("x-pusher-signature")
                )
                self.deliveries.append(delivery)
                reply = b"{}"
                out = conn.send(
                    h11.Response(
                        status_code=delivery.answered,
                        headers=[("Content-Type", "application/json"), ("Content-Length", "2")],
                    )
                )
                out = (out or b"") + (conn.send(h11.Data(data=reply)) or b"")
                out += conn.send(h11.EndOfMessage()) or b""
                writer.write(out)
                await writer.drain()
                if conn.our_state is h11.MUST_CLOSE:
                    return
                conn.start_next_cycle()
        except (h11.ProtocolError, OSError, TimeoutError):
            return
        finally:
            self._open.pop(writer, None)
            writer.close()
