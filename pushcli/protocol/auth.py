"""Auth responses as an app's auth endpoint returns them (pure: credentials come as an object
with the app's key, secret and master key, e.g. the client's ``Settings``)."""

from __future__ import annotations

import json
from typing import Any, Protocol

from pushcli.errors import InputError
from pushcli.protocol import crypto, events, limits, signing
from pushcli.protocol.channels import check_channel, kind_of


class Credentials(Protocol):
    """What signing an auth response needs (``pushcli.client.profiles.Settings`` is one)."""

    @property
    def key(self) -> str | None: ...
    @property
    def secret(self) -> str | None: ...
    @property
    def encryption_master_key(self) -> str | None: ...

    def require(self, *names: str) -> object:
        """Raise (``ConfigError``, saying where to set them) unless ``names`` are all set."""
        ...


def parse_json_arg(text: str, what: str) -> Any:
    try:
        return events.loads(text)  # NaN, Infinity and too-deep nesting are refused too
    except ValueError as e:
        raise InputError(f"{what} is not valid JSON ({e})") from None


#: ``user_info`` sent for a presence member when none is given. soketi leaves a member without
#: ``user_info`` out of the presence hash, and pusher-js builds ``members`` from that hash, so a
#: member must always carry an object. Laravel Echo's ``here()`` / ``joining()`` hand out only
#: this object, hence the ``id`` in it; ``name`` is what member lists usually display.
DEFAULT_USER_INFO_NAME = "pushcli"


def default_user_info(user_id: str) -> dict[str, str]:
    """The presence ``user_info`` when the caller gives none: ``{"id": ID, "name": "pushcli"}``."""
    return {"id": user_id, "name": DEFAULT_USER_INFO_NAME}


def channel_auth_response(
    settings: Credentials,
    channel: str,
    socket_id: str,
    *,
    user_id: str | None = None,
    user_info: str | None = None,
) -> dict[str, str]:
    """``{auth}``, ``{auth, channel_data}`` or ``{auth, shared_secret}`` by channel kind.

    Presence ``channel_data`` always carries ``user_info``: ``default_user_info`` without one.
    """
    check_channel(channel)
    limits.check_socket_id(socket_id)
    kind = kind_of(channel)
    if not kind.needs_auth:
        raise InputError(
            f"{channel} is a public channel: it needs no auth (use private- or presence-)"
        )
    settings.require("key", "secret")
    key, secret = settings.key or "", settings.secret or ""
    if kind.has_members:
        if not user_id:
            raise InputError("presence channels need --user-id")
        if user_info is None:
            info: Any = default_user_info(user_id)
        else:
            info = parse_json_arg(user_info, "--user-info")
        channel_data = signing.presence_channel_data(user_id, info)
        if info is not None:
            size = len(json.dumps(info, separators=(",", ":")).encode())
            if size > limits.MAX_PRESENCE_USER_INFO_BYTES:
                raise InputError(
                    f"--user-info too large ({size} bytes > {limits.MAX_PRESENCE_USER_INFO_BYTES})"
                )
        return {
            "auth": signing.channel_auth(key, secret, socket_id, channel, channel_data),
            "channel_data": channel_data,
        }
    if user_id or user_info:
        raise InputError("--user-id and --user-info are only for presence- channels")
    answer = {"auth": signing.channel_auth(key, secret, socket_id, channel)}
    if kind.encrypted:
        master = crypto.require_master_key(settings.encryption_master_key, channel)
        answer["shared_secret"] = crypto.shared_secret_b64(channel, master)
    return answer


def check_user_data(user_data: str) -> str:
    data = parse_json_arg(user_data, "--user-data")
    if not isinstance(data, dict) or not isinstance(data.get("id"), str) or not data["id"]:
        raise InputError('user data must be a JSON object with a non-empty string "id"')
    return user_data.strip()


def user_auth_response(settings: Credentials, socket_id: str, user_data: str) -> dict[str, str]:
    """``{auth, user_data}`` for ``pusher:signin``; user_data is signed exactly as given."""
    limits.check_socket_id(socket_id)
    user_data = check_user_data(user_data)
    settings.require("key", "secret")
    return {
        "auth": signing.user_auth(settings.key or "", settings.secret or "", socket_id, user_data),
        "user_data": user_data,
    }
