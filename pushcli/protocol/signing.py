"""Pure signing functions: REST requests, channel and user auth, webhooks.

Nothing here reads the clock or the network: the timestamp is a parameter, so the published
vectors can be checked directly.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

AUTH_VERSION = "1.0"


def hmac_hex(secret: str, message: str | bytes) -> str:
    """Lowercase hex HMAC-SHA256 of ``message`` keyed with ``secret``."""
    data = message.encode() if isinstance(message, str) else message
    return hmac.new(secret.encode(), data, hashlib.sha256).hexdigest()


def body_md5(body: bytes) -> str:
    return hashlib.md5(body, usedforsecurity=False).hexdigest()


def string_to_sign(method: str, path: str, params: Mapping[str, str]) -> str:
    """``METHOD\\nPATH\\nk=v&...`` with keys lowercased and sorted, values not escaped."""
    query = "&".join(
        f"{k}={v}"
        for k, v in sorted((k.lower(), str(v)) for k, v in params.items() if k != "auth_signature")
    )
    return f"{method.upper()}\n{path}\n{query}"


def sign_params(
    key: str,
    secret: str,
    method: str,
    path: str,
    *,
    timestamp: int,
    body: bytes | None = None,
    params: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Return the full query (``params`` plus auth fields and ``auth_signature``)."""
    query: dict[str, str] = dict(params or {})
    query["auth_key"] = key
    query["auth_timestamp"] = str(timestamp)
    query["auth_version"] = AUTH_VERSION
    if body is not None:
        query["body_md5"] = body_md5(body)
    query["auth_signature"] = hmac_hex(secret, string_to_sign(method, path, query))
    return query


def channel_auth_string(socket_id: str, channel: str, channel_data: str | None = None) -> str:
    if channel_data is None:
        return f"{socket_id}:{channel}"
    return f"{socket_id}:{channel}:{channel_data}"


def channel_auth(
    key: str, secret: str, socket_id: str, channel: str, channel_data: str | None = None
) -> str:
    """The ``auth`` value for a private or presence subscription: ``key:hexsig``."""
    return f"{key}:{hmac_hex(secret, channel_auth_string(socket_id, channel, channel_data))}"


def user_auth_string(socket_id: str, user_data: str) -> str:
    return f"{socket_id}::user::{user_data}"


def user_auth(key: str, secret: str, socket_id: str, user_data: str) -> str:
    """The ``auth`` value for ``pusher:signin``."""
    return f"{key}:{hmac_hex(secret, user_auth_string(socket_id, user_data))}"


def presence_channel_data(user_id: str, user_info: Any = None) -> str:
    """The exact ``channel_data`` string that is both signed and sent."""
    data: dict[str, Any] = {"user_id": user_id}
    if user_info is not None:
        data["user_info"] = user_info
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def webhook_signature(secret: str, body: bytes) -> str:
    return hmac_hex(secret, body)


def verify_hex(expected: str, given: str) -> bool:
    """Constant-time comparison of two signatures."""
    return hmac.compare_digest(expected.encode(), given.strip().lower().encode())
