"""Webhooks as Pusher sends them (pure): the events, the body, the signature and its check.

The body is ``{"time_ms": ..., "events": [...]}`` (compact JSON, UTF-8 as is); ``X-Pusher-Key``
names the app and ``X-Pusher-Signature`` is the hex HMAC-SHA256 of the raw body with the app
secret. A receiver checks the bytes it received, before any parsing. The clock is a parameter.
Used by the embedded server's sender and by ``pushcli webhook send / verify / listen``.
"""

from __future__ import annotations

import json
from typing import Any

from pushcli.errors import InputError
from pushcli.protocol import signing
from pushcli.protocol.channels import check_channel, kind_of

EVENT_NAMES = (
    "channel_occupied",
    "channel_vacated",
    "member_added",
    "member_removed",
    "client_event",
    "cache_miss",
    "subscription_count",
)
KEY_HEADER = "X-Pusher-Key"
SIGNATURE_HEADER = "X-Pusher-Signature"


def body(events: list[dict[str, Any]], time_ms: int) -> bytes:
    """The exact bytes that are signed and sent."""
    doc = {"time_ms": time_ms, "events": events}
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()


def signature(secret: str, raw: bytes) -> str:
    """``X-Pusher-Signature``: lowercase hex HMAC-SHA256 of the raw body."""
    return signing.webhook_signature(secret, raw)


def headers(key: str, secret: str, raw: bytes, *, user_agent: str) -> dict[str, str]:
    """The headers of a webhook POST carrying ``raw``."""
    return {
        "Content-Type": "application/json",
        KEY_HEADER: key,
        SIGNATURE_HEADER: signature(secret, raw),
        "User-Agent": user_agent,
    }


def verify(secret: str, raw: bytes, given: str) -> bool:
    """Whether ``given`` signs exactly these bytes (constant time; hex case and surrounding
    spaces do not matter)."""
    return signing.verify_hex(signature(secret, raw), given)


def sample_event(
    name: str,
    *,
    channel: str | None = None,
    user_id: str | None = None,
    data: str | None = None,
    event: str | None = None,
    socket_id: str | None = None,
) -> dict[str, Any]:
    """One webhook event of the given kind, with the fields Pusher sends for it."""
    if name not in EVENT_NAMES:
        raise InputError(f"unknown webhook event {name!r} (one of: {', '.join(EVENT_NAMES)})")
    if name.startswith("member_"):
        channel = channel or "presence-demo"
        if not kind_of(channel).has_members:
            raise InputError(f"{name} happens only on presence- channels")
        user_id = user_id or "user-1"
    channel = channel or "demo"
    check_channel(channel)
    out: dict[str, Any] = {"name": name, "channel": channel}
    if name.startswith("member_"):
        out["user_id"] = user_id
    elif name == "client_event":
        if not kind_of(channel).client_events:
            raise InputError("client events happen only on private- and presence- channels")
        out["event"] = event or "client-demo"
        out["data"] = data if data is not None else "{}"
        out["socket_id"] = socket_id or "123.456"
        if user_id or kind_of(channel).has_members:
            out["user_id"] = user_id or "user-1"
    elif name == "subscription_count":
        out["subscription_count"] = 1
    elif user_id:
        raise InputError(f"--user-id does not apply to {name}")
    if data is not None and name != "client_event":
        raise InputError("--data applies only to client_event")
    return out
