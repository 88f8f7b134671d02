"""What the embedded server did, as typed records: the debug console of ``pushcli serve``.

A :class:`Server` built with ``on_record=callback`` calls ``callback(record)`` once for each
thing below, on the event loop thread, as it happens. Without a callback nothing is built: every
emit point is one ``is not None`` test, and none sits in fan-out (a record is per message, never
per recipient). How records are shown (text lines, NDJSON, a live view) is the UI's business
(pushcli/ui/serverlog.py); each record knows only its ``type`` and its fields.

The callback must not raise and must not block (write to a file, append to a queue).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar


@dataclass(slots=True, kw_only=True)
class Record:
    """One thing that happened; ``time`` is Unix seconds (``time.time()``) when it did."""

    type: ClassVar[str] = "record"
    time: float = field(default_factory=time.time)


OnRecord = Callable[[Record], None]


@dataclass(slots=True, kw_only=True)
class ConnectionOpened(Record):
    """A WebSocket connection was accepted and got its socket id."""

    type: ClassVar[str] = "connection_opened"
    app_id: str
    socket_id: str
    remote: str  # the peer's address, host:port
    origin: str | None = None  # the Origin header (browsers send it)
    user_agent: str | None = None


@dataclass(slots=True, kw_only=True)
class ConnectionClosed(Record):
    """A connection is gone. ``code`` / ``reason`` come from the close frame (``code`` is None
    when the TCP connection ended without one); ``by`` says who sent the close frame first."""

    type: ClassVar[str] = "connection_closed"
    app_id: str
    socket_id: str
    remote: str
    code: int | None
    reason: str
    by: str | None  # "client", "server", or None without a close frame
    channels: list[str]  # what it was still subscribed to (it has left them now)
    user_id: str | None = None  # the signed-in user, if any


@dataclass(slots=True, kw_only=True)
class Subscribed(Record):
    type: ClassVar[str] = "subscribed"
    app_id: str
    socket_id: str
    channel: str
    user_id: str | None = None  # presence channels: the member's user_id


@dataclass(slots=True, kw_only=True)
class Unsubscribed(Record):
    type: ClassVar[str] = "unsubscribed"
    app_id: str
    socket_id: str
    channel: str
    user_id: str | None = None


@dataclass(slots=True, kw_only=True)
class ApiMessage(Record):
    """An event published through the HTTP API (one record per event, also in a batch)."""

    type: ClassVar[str] = "api_message"
    app_id: str
    endpoint: str  # "events" or "batch_events"
    event: str
    channels: list[str]
    size: int  # bytes of the data string (UTF-8), as the size limit counts them
    excluded_socket_id: str | None = None  # the request's socket_id: not sent to that one


@dataclass(slots=True, kw_only=True)
class ApiError(Record):
    """A request to the HTTP API (``/apps/...``) was refused."""

    type: ClassVar[str] = "api_error"
    method: str
    path: str
    status: int
    message: str


@dataclass(slots=True, kw_only=True)
class ClientEvent(Record):
    """A ``client-`` event from a connection, passed on to the channel's other subscribers."""

    type: ClassVar[str] = "client_event"
    app_id: str
    socket_id: str
    channel: str
    event: str
    size: int
    user_id: str | None = None  # presence channels: the sender's user_id


@dataclass(slots=True, kw_only=True)
class ErrorSent(Record):
    """``pusher:error`` or ``pusher:subscription_error`` sent to a client. For a subscription
    error ``code`` is its ``status`` and ``error_type`` its ``type`` (e.g. AuthError)."""

    type: ClassVar[str] = "error"
    event: str
    code: int | None
    message: str
    app_id: str | None = None
    socket_id: str | None = None  # None: refused before it got one (unknown app key, ...)
    remote: str | None = None
    channel: str | None = None
    error_type: str | None = None


@dataclass(slots=True, kw_only=True)
class SignedIn(Record):
    type: ClassVar[str] = "signin"
    app_id: str
    socket_id: str
    user_id: str


@dataclass(slots=True, kw_only=True)
class Terminated(Record):
    """``POST /users/{id}/terminate_connections``: every connection of the user closed."""

    type: ClassVar[str] = "terminate"
    app_id: str
    user_id: str
    connections: int


@dataclass(slots=True, kw_only=True)
class WebhookSent(Record):
    """One attempt to deliver a webhook request: ``status`` is the receiver's answer, or
    ``error`` says why there was none; ``retry`` is True when another attempt follows."""

    type: ClassVar[str] = "webhook"
    app_id: str
    url: str
    events: list[dict[str, Any]]  # name, channel (and user_id / event / socket_id), no data
    attempt: int
    status: int | None
    error: str | None
    retry: bool


def webhook_events(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The events of a webhook as a record shows them: without their data."""
    return [{k: v for k, v in e.items() if k != "data"} for e in events]
