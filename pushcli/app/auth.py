"""``pushcli auth sign / user / verify / serve``: what an auth endpoint answers, checked, served.

The signing itself is pushcli.protocol.auth; the endpoint's decisions app/authserver.py.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from pushcli.app import endpoint
from pushcli.client.profiles import Settings
from pushcli.errors import InputError, RejectedError
from pushcli.protocol import auth, diagnose


@dataclass
class AuthAnswer:
    """The JSON an auth endpoint returns: ``{auth}`` and, by kind, channel_data, shared_secret
    or user_data."""

    answer: dict[str, str]


@dataclass
class VerifyResult:
    verdict: diagnose.Verdict

    @property
    def error(self) -> RejectedError | None:
        """The error to exit with once the verdict is shown (None when it verifies)."""
        if self.verdict.valid:
            return None
        return RejectedError("the signature does not verify (expected and likely cause above)")


@dataclass
class Serving:
    """``auth serve`` accepts requests (on ``where``) for the app ``key``."""

    where: endpoint.Listening
    key: str | None


class ServeView(Protocol):
    """What ``auth serve`` shows while it runs (pushcli.ui.show.AuthServeView)."""

    def started(self, serving: Serving) -> None: ...

    def request(self, record: dict[str, Any]) -> None: ...


def sign(
    settings: Settings,
    channel: str,
    socket_id: str,
    *,
    user_id: str | None = None,
    user_info: str | None = None,
) -> AuthAnswer:
    """The answer for a subscription to a private, presence or encrypted channel."""
    return AuthAnswer(
        auth.channel_auth_response(
            settings, channel, socket_id, user_id=user_id, user_info=user_info
        )
    )


def user(settings: Settings, socket_id: str, user_data: str) -> AuthAnswer:
    """The answer for ``pusher:signin`` (``user_data`` is signed exactly as given)."""
    return AuthAnswer(auth.user_auth_response(settings, socket_id, user_data))


def verify(
    settings: Settings,
    channel: str | None,
    socket_id: str,
    auth_value: str,
    *,
    channel_data: str | None = None,
    user_data: str | None = None,
) -> VerifyResult:
    """Check a channel (or, with ``user_data``, a user) signature; say what should be signed."""
    settings = settings.require("key", "secret")
    key, secret = settings.key or "", settings.secret or ""
    if user_data is not None:
        if channel_data is not None:
            raise InputError("give --channel-data or --user-data, not both")
        return VerifyResult(
            diagnose.verify_user_auth(key, secret, socket_id, auth_value, user_data)
        )
    if channel is None:
        raise InputError("give a CHANNEL (or --user-data to check user authentication)")
    return VerifyResult(
        diagnose.verify_channel_auth(
            key, secret, channel, socket_id, auth_value, channel_data=channel_data
        )
    )


class _Quiet:
    def started(self, serving: Serving) -> None:
        pass

    def request(self, record: dict[str, Any]) -> None:
        pass


def serve(
    settings: Settings,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    user_id: str | None = None,
    user_info: str | None = None,
    cors_origins: list[str] | None = None,
    deny: list[str] | None = None,
    view: ServeView | None = None,
) -> None:
    """Answer POST /pusher/auth and /pusher/user-auth until Ctrl-C or SIGTERM."""
    from pushcli.app.authserver import AuthEndpoint

    settings = settings.require("key", "secret")
    if user_info is not None:
        auth.parse_json_arg(user_info, "--user-info")
    shown = view or _Quiet()
    log: Callable[[dict[str, Any]], None] = shown.request
    handler = AuthEndpoint(
        settings,
        user_id=user_id,
        user_info=user_info,
        deny=list(deny or []),
        cors_origins=list(cors_origins or []),
        log=log,
    )
    server, where = endpoint.bind(host, port, handler)
    shown.started(Serving(where, settings.key))
    endpoint.serve(server)
