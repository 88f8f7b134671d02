"""Server → client messages: JSON text once, then one WebSocket frame for every recipient.

The JSON of a Pusher frame is :mod:`pushcli.protocol.frames`' (the client's codec too); this
module adds only the WebSocket framing.

A server's frames are never masked and this server negotiates no extension, so the bytes of a
frame are the same for every connection: fan-out encodes once and writes the same bytes to each
subscriber's transport.
"""

from __future__ import annotations

from typing import Any

from websockets.frames import Frame, Opcode

from pushcli.protocol import frames

dumps = frames.dumps


def frame(payload: str | bytes) -> bytes:
    """A complete, unmasked WebSocket text frame."""
    data = payload.encode() if isinstance(payload, str) else payload
    return Frame(Opcode.TEXT, data).serialize(mask=False)


def message(event: str, data: Any = None, channel: str | None = None, **extra: Any) -> bytes:
    """The frame of ``{"event", "channel"?, "data"?, ...}``; ``data`` is sent as given."""
    return frame(frames.encode(event, frames.NO_DATA if data is None else data, channel, **extra))


def internal(event: str, data: Any, channel: str | None = None) -> bytes:
    """A ``pusher:`` / ``pusher_internal:`` message: ``data`` JSON-encoded into a string."""
    return message(event, frames.dumps(data), channel)


def error(code: int | None, text: str) -> bytes:
    """``pusher:error``; its data is an object (as Pusher and soketi send it)."""
    return message(frames.ERROR, {"code": code, "message": text})


def payload(data: bytes) -> bytes:
    """The payload of one unmasked frame built by :func:`frame` (for logs)."""
    n = data[1] & 0x7F
    return data[2 + (2 if n == 126 else 8 if n == 127 else 0) :]
