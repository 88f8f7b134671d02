"""A raw Pusher protocol-7 client for the checks: it sends what it is told, keeps every frame.

Unlike pushcli's listener it never reconnects, never hides a frame and sends malformed input
on purpose. ``websockets`` is imported when a connection is opened.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import Callable
from typing import Any

from pushcli import __version__

Frame = dict[str, Any]
Predicate = Callable[[Frame], bool]


class Closed(Exception):
    """The server closed the connection (``code`` is None when no close frame came)."""

    def __init__(self, code: int | None, reason: str) -> None:
        super().__init__(f"connection closed ({code if code is not None else 'no close frame'})")
        self.code = code
        self.reason = reason


def decode(data: Any) -> Any:
    """A frame's data: JSON-decoded when it is a JSON string, else as sent."""
    if isinstance(data, str):
        try:
            return json.loads(data)
        except ValueError:
            return data
    return data


def short(obj: Any, limit: int = 240) -> str:
    text = obj if isinstance(obj, str) else json.dumps(obj, separators=(",", ":"))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def is_event(event: str, channel: str | None = None) -> Predicate:
    def pred(frame: Frame) -> bool:
        return frame.get("event") == event and (channel is None or frame.get("channel") == channel)

    return pred


class Conn:
    """One WebSocket connection. ``history`` holds every frame received, in order."""

    def __init__(self, ws: Any, url: str) -> None:
        self.ws = ws
        self.url = url
        self.history: list[Frame] = []
        self._unread: deque[Frame] = deque()
        self.socket_id = ""
        self.established: Any = None
        self.auto_pong = True
        self.closed: Closed | None = None

    @classmethod
    async def open(cls, url: str, timeout: float, *, established: bool = True) -> Conn:
        """Connect; with ``established``, wait for ``pusher:connection_established``."""
        from websockets.asyncio.client import connect

        ws = await asyncio.wait_for(
            connect(
                url,
                ping_interval=None,  # the Pusher protocol has its own ping
                open_timeout=timeout,
                close_timeout=1,
                max_size=2**22,
                max_queue=None,  # frames nobody reads yet must not stall the close handshake
                proxy=None,
                user_agent_header=f"pushcli/{__version__} conform",
            ),
            timeout + 1,
        )
        conn = cls(ws, url)
        if established:
            try:
                frame = await conn.expect(
                    is_event("pusher:connection_established"), timeout, "connection_established"
                )
            except BaseException:
                await conn.close()
                raise
            conn.established = decode(frame.get("data"))
            if isinstance(conn.established, dict):
                conn.socket_id = str(conn.established.get("socket_id", ""))
        return conn

    # ---- sending

    async def send(self, frame: Frame | str) -> None:
        await self.ws.send(frame if isinstance(frame, str) else json.dumps(frame))

    async def subscribe_frame(
        self, channel: str, auth: str | None = None, channel_data: str | None = None
    ) -> None:
        data: dict[str, Any] = {"channel": channel}
        if auth is not None:
            data["auth"] = auth
        if channel_data is not None:
            data["channel_data"] = channel_data
        await self.send({"event": "pusher:subscribe", "data": data})

    async def unsubscribe(self, channel: str) -> None:
        await self.send({"event": "pusher:unsubscribe", "data": {"channel": channel}})

    async def client_event(self, channel: str, event: str, data: Any) -> None:
        await self.send({"event": event, "channel": channel, "data": data})

    # ---- receiving

    async def next(self, timeout: float) -> Frame:
        """The next frame not yet read; raises TimeoutError, or Closed when the socket closes."""
        if self._unread:
            return self._unread.popleft()
        return await self._receive(timeout)

    async def _receive(self, timeout: float) -> Frame:
        if self.closed is not None:
            raise self.closed
        from websockets.exceptions import ConnectionClosed

        try:
            raw = await asyncio.wait_for(self.ws.recv(), timeout)
        except ConnectionClosed as e:
            rcvd = e.rcvd
            self.closed = Closed(rcvd.code if rcvd else None, rcvd.reason if rcvd else "")
            raise self.closed from None
        try:
            frame = json.loads(raw)
        except ValueError:
            frame = {"event": None, "raw": raw}
        if not isinstance(frame, dict):
            frame = {"event": None, "raw": raw}
        self.history.append(frame)
        if self.auto_pong and frame.get("event") == "pusher:ping":
            await self.send({"event": "pusher:pong", "data": {}})
        return frame

    async def expect(self, pred: Predicate, timeout: float, what: str) -> Frame:
        """The first frame, already received or arriving within ``timeout``, that matches
        ``pred``. Frames passed over stay unread for later calls (and all are in ``history``).

        Raises TimeoutError("no WHAT within Ns") or Closed.
        """
        for i, frame in enumerate(self._unread):
            if pred(frame):
                del self._unread[i]
                return frame
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        skipped: list[Frame] = []
        try:
            while True:
                left = deadline - loop.time()
                if left <= 0:
                    raise TimeoutError(f"no {what} within {timeout:g}s")
                try:
                    frame = await self._receive(left)
                except TimeoutError:
                    raise TimeoutError(f"no {what} within {timeout:g}s") from None
                if pred(frame):
                    return frame
                skipped.append(frame)
        finally:
            self._unread.extend(skipped)

    async def wait_closed(self, timeout: float) -> Closed | None:
        """Read until the server closes (returns why) or ``timeout`` passes (returns None)."""
        try:
            await self.expect(lambda f: False, timeout, "close")
        except Closed as c:
            return c
        except TimeoutError:
            return None
        return None

    def seen(self, pred: Predicate) -> list[Frame]:
        return [f for f in self.history if pred(f)]

    def errors(self) -> list[Frame]:
        return self.seen(is_event("pusher:error"))

    async def close(self) -> None:
        try:
            await asyncio.wait_for(self.ws.close(), 2)
        except Exception:  # noqa: BLE001, S110 - closing a socket that may be gone already
            pass
