"""Pusher protocol 7 frames, both directions: JSON text ``{"event", "channel"?, "data"?}``.

The one codec for the client (:mod:`pushcli.protocol.client_session`), the embedded server
(:mod:`pushcli.server.protocol`; :mod:`pushcli.server.wire` only adds the WebSocket framing),
``bench`` and ``doctor``. Also the rule for ``data``: on the wire it is usually a string, which
often holds JSON (:func:`decode_json`, :func:`wire_string`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Final, NamedTuple

PROTOCOL: Final = 7

# --- event names ---------------------------------------------------------------------------

CONNECTION_ESTABLISHED: Final = "pusher:connection_established"
ERROR: Final = "pusher:error"
PING: Final = "pusher:ping"
PONG: Final = "pusher:pong"
SUBSCRIBE: Final = "pusher:subscribe"
UNSUBSCRIBE: Final = "pusher:unsubscribe"
SUBSCRIPTION_ERROR: Final = "pusher:subscription_error"
SIGNIN: Final = "pusher:signin"
SIGNIN_SUCCESS: Final = "pusher:signin_success"
CACHE_MISS: Final = "pusher:cache_miss"
SUBSCRIPTION_SUCCEEDED: Final = "pusher_internal:subscription_succeeded"
MEMBER_ADDED: Final = "pusher_internal:member_added"
MEMBER_REMOVED: Final = "pusher_internal:member_removed"
SUBSCRIPTION_COUNT: Final = "pusher_internal:subscription_count"
#: events whose name starts so are the protocol's own, not an application's
SYSTEM_PREFIXES: Final = ("pusher:", "pusher_internal:")


def is_system(event: str) -> bool:
    """``pusher:*`` and ``pusher_internal:*``: the protocol's own events."""
    return event.startswith(SYSTEM_PREFIXES)


def ws_url(base: str, key: str, *, version: str, client: str = "pushcli") -> str:
    """``ws[s]://HOST[:PORT]/app/KEY?protocol=7&client=...&version=...`` for ``base``
    (``ws[s]://HOST[:PORT]``)."""
    return f"{base}/app/{key}?protocol={PROTOCOL}&client={client}&version={version}"


# --- encoding ------------------------------------------------------------------------------

#: compact JSON (one encoder: ``json.dumps(obj, **options)`` builds a new one per call)
dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


class _NoData:
    """The ``data`` argument of :func:`encode` when the frame has no ``data`` member."""

    def __repr__(self) -> str:
        return "NO_DATA"


NO_DATA: Final[Any] = _NoData()


def encode(event: str, data: Any = NO_DATA, channel: str | None = None, **extra: Any) -> str:
    """The frame ``{"event", "channel"?, "data"?, **extra}`` as compact JSON text.

    ``data`` goes as given (a string stays a string: see :func:`wire_string`).
    """
    obj: dict[str, Any] = {"event": event}
    if channel is not None:
        obj["channel"] = channel
    if data is not NO_DATA:
        obj["data"] = data
    if extra:
        obj.update(extra)
    return dumps(obj)


def wire_string(data: Any) -> str | None:
    """``data`` as a string, as a server sends it: strings as they are, anything else JSON
    (None stays None: the frame had no data)."""
    if data is None or type(data) is str:
        return data
    return dumps(data)


# --- decoding ------------------------------------------------------------------------------

#: the C scanner, without json.loads' layers around it: ``_scan(text, index) -> (value, end)``
_scan: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


def loads(text: str | bytes) -> Any:
    """``json.loads``, faster for the common case (a document with no surrounding blanks).

    Same results and errors as ``json.loads``: anything unusual is handed to it.
    """
    if type(text) is str:
        try:
            value, end = _scan(text, 0)
        except StopIteration:  # leading blanks, a BOM, nothing at all: json.loads decides
            return json.loads(text)
        if end == len(text) or not text[end:].strip(" \t\n\r"):
            return value
    return json.loads(text)


def decode_json(data: Any) -> Any:
    """Data that may be JSON inside a string: decoded when it is, else kept as it is."""
    if type(data) is str:
        try:
            return loads(data)
        except (ValueError, RecursionError):
            return data
    return data


class FrameError(ValueError):
    """A text frame that is not a protocol-7 message; ``str()`` says why, in a few words."""


class Frame(NamedTuple):
    """A decoded frame. ``channel`` and ``user_id`` are strings or None (a user id sent as a
    number is given as its string); ``data`` is as decoded (usually a string)."""

    event: str
    channel: str | None
    data: Any
    user_id: str | None


NOT_A_MESSAGE: Final = 'expected {"event": ..., "data": ...}'


def decode(text: str | bytes) -> Frame:
    """Decode and check one frame; raises :class:`FrameError`."""
    try:
        msg = loads(text)
    except RecursionError:
        raise FrameError("JSON nested too deeply") from None
    except ValueError:
        raise FrameError("not JSON") from None
    if type(msg) is not dict:
        raise FrameError(NOT_A_MESSAGE)
    event = msg.get("event")
    if type(event) is not str:
        raise FrameError(NOT_A_MESSAGE)
    channel = msg.get("channel")
    if channel is not None and type(channel) is not str:
        channel = None
    user_id = msg.get("user_id")
    if user_id is not None and type(user_id) is not str:
        user_id = str(user_id)
    return Frame(event, channel, msg.get("data"), user_id)
