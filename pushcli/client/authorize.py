"""Channel authorization for the listener: signed locally, or by the app's own auth endpoint.

The endpoint authorizer POSTs ``socket_id`` and ``channel_name`` form-encoded, as pusher-js
does, so users can test their backend. httpx is imported on first use.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
from collections.abc import Callable
from typing import Any

from pushcli.client.profiles import Settings
from pushcli.errors import ConfigError, InputError, RejectedError, UnavailableError
from pushcli.protocol import auth, crypto
from pushcli.protocol.channels import kind_of

BODY_EXCERPT = 300
#: a syntactically valid socket id, to check that every channel can be signed before connecting
_PROBE_SOCKET_ID = "1.1"


def default_user_id() -> str:
    return f"pushcli-{secrets.token_hex(4)}"


def parse_header(text: str) -> tuple[str, str]:
    """``"Name: value"`` → ``(name, value)``."""
    name, sep, value = text.partition(":")
    if not sep or not name.strip() or any(c.isspace() for c in name.strip()):
        raise InputError(f'invalid header {text!r}: use "Name: value"')
    return name.strip(), value.strip()


def check_user_info(user_info: str | None) -> None:
    if user_info is not None:
        auth.parse_json_arg(user_info, "--user-info")


class LocalAuthorizer:
    """Signs subscriptions with the profile's secret (as an app's auth endpoint would)."""

    def __init__(self, settings: Settings, *, user_id: str, user_info: str | None = None) -> None:
        self.settings = settings
        self.user_id = user_id
        self.user_info = user_info

    def check(self, channels: list[str]) -> None:
        """Fail before connecting: missing secret (3), missing master key (3), bad user info (4)."""
        for channel in channels:
            if kind_of(channel).needs_auth:
                self._answer(channel, _PROBE_SOCKET_ID)

    def _answer(self, channel: str, socket_id: str) -> dict[str, str]:
        presence = kind_of(channel).has_members
        return auth.channel_auth_response(
            self.settings,
            channel,
            socket_id,
            user_id=self.user_id if presence else None,
            user_info=self.user_info if presence else None,
        )

    async def authorize(self, channel: str, socket_id: str) -> dict[str, str]:
        return self._answer(channel, socket_id)

    def decryptor(self, channel: str, answer: dict[str, str]) -> Callable[[str], str]:
        master = crypto.require_master_key(self.settings.encryption_master_key, channel)
        return lambda wire: crypto.decrypt(channel, wire, master)

    async def aclose(self) -> None:
        return None


class EndpointAuthorizer:
    """Asks the app's auth endpoint, exactly as pusher-js does (form POST, extra headers)."""

    def __init__(
        self, url: str, headers: list[tuple[str, str]] | None = None, timeout: float = 10.0
    ):
        if not url.startswith(("http://", "https://")):
            raise InputError(f"--auth-endpoint must be an http(s) URL, not {url!r}")
        self.url = url
        self.headers = list(headers or [])
        self.timeout = timeout
        self._client: Any = None

    async def authorize(self, channel: str, socket_id: str) -> dict[str, str]:
        import httpx

        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self.timeout, follow_redirects=True)
        try:
            r = await self._client.post(
                self.url,
                data={"socket_id": socket_id, "channel_name": channel},
                headers=self.headers,
            )
        except httpx.HTTPError as e:
            raise UnavailableError(
                f"auth endpoint {self.url} unreachable: {e.__class__.__name__}: {e}"
            ) from None
        body = r.text
        if not 200 <= r.status_code < 300:
            raise RejectedError(
                f"auth endpoint refused {channel}: {r.status_code} {r.reason_phrase}"
                f"{': ' + _excerpt(body) if body.strip() else ''}",
                status=r.status_code,
            )
        return _check_answer(channel, body, r.status_code)

    def decryptor(self, channel: str, answer: dict[str, str]) -> Callable[[str], str]:
        try:
            key = base64.b64decode(answer["shared_secret"], validate=True)
        except (KeyError, binascii.Error, ValueError):
            raise RejectedError(
                f"auth endpoint gave no valid shared_secret for {channel}"
            ) from None
        if len(key) != 32:
            raise RejectedError(f"auth endpoint's shared_secret for {channel} is not 32 bytes")
        return lambda wire: crypto.open_box(wire, key)

    async def aclose(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()


def _excerpt(body: str) -> str:
    text = " ".join(body.split())
    return text if len(text) <= BODY_EXCERPT else text[:BODY_EXCERPT] + "…"


def _check_answer(channel: str, body: str, status: int) -> dict[str, str]:
    try:
        answer = json.loads(body)
    except ValueError:
        answer = None
    if not isinstance(answer, dict) or not isinstance(answer.get("auth"), str):
        raise RejectedError(
            f'auth endpoint answered {status} for {channel} without JSON {{"auth": ...}}: '
            f"{_excerpt(body) or '(empty body)'}",
            status=status,
        )
    kind = kind_of(channel)
    out = {"auth": answer["auth"]}
    if kind.has_members:
        if not isinstance(answer.get("channel_data"), str):
            raise RejectedError(f"auth endpoint answered without channel_data for {channel}")
        out["channel_data"] = answer["channel_data"]
    if kind.encrypted:
        if not isinstance(answer.get("shared_secret"), str):
            raise RejectedError(f"auth endpoint answered without shared_secret for {channel}")
        out["shared_secret"] = answer["shared_secret"]
    return out


def build(
    settings: Settings,
    channels: list[str],
    *,
    endpoint: str | None,
    headers: list[str],
    user_id: str,
    user_info: str | None,
) -> LocalAuthorizer | EndpointAuthorizer | None:
    """The authorizer for ``channels`` (None when all are public); checks what it can now."""
    parsed = [parse_header(h) for h in headers]
    check_user_info(user_info)
    if endpoint:
        return EndpointAuthorizer(endpoint, parsed)
    if parsed:
        raise InputError("--auth-header only applies with --auth-endpoint")
    if not any(kind_of(c).needs_auth for c in channels):
        return None
    if not settings.secret:
        private = [c for c in channels if kind_of(c).needs_auth]
        raise ConfigError(
            f"{private[0]} needs authorization: configure the app secret "
            "(PUSHER_APP_SECRET or the profile), or use --auth-endpoint URL"
        )
    authorizer = LocalAuthorizer(settings, user_id=user_id, user_info=user_info)
    authorizer.check(channels)
    return authorizer


def signer(settings: Settings, user_id: str) -> Any:
    """``async socket_id → {auth, user_data}`` for ``pusher:signin``, or None without a secret."""
    if not settings.secret:
        return None
    user_data = json.dumps({"id": user_id}, separators=(",", ":"))

    async def sign(socket_id: str) -> dict[str, str]:
        return auth.user_auth_response(settings, socket_id, user_data)

    return sign
