"""``pushcli users send / terminate``: server-to-user events, and disconnecting a user."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pushcli.app import publish
from pushcli.app.calls import RestSource, SettingsSource, rest_client, send_event, settings_of
from pushcli.errors import InputError
from pushcli.protocol.channels import CHANNEL_NAME_RE, server_to_user_channel


@dataclass
class UserSendResult:
    user_id: str
    event: str
    #: the server's answer; None on a dry run
    answer: Any = None
    #: on a dry run, the signed request that was not sent
    request: str | None = None


@dataclass
class TerminateResult:
    user_id: str
    answer: Any = None


def check_user_id(user_id: str) -> str:
    if not user_id or not CHANNEL_NAME_RE.fullmatch(user_id):
        raise InputError(
            f"invalid user id {user_id!r}: only letters, digits and -_=@,.; are allowed"
        )
    return user_id


def send(
    settings: SettingsSource,
    user_id: str,
    event: str,
    data: str,
    *,
    dry_run: bool = False,
    rest: RestSource | None = None,
) -> UserSendResult:
    """Send ``event`` (``data`` is the wire string) to every connection of ``user_id``."""
    resolved = settings_of(settings)
    check_user_id(user_id)
    channel = server_to_user_channel(user_id)
    body = publish.trigger_body(resolved, [channel], event, data)
    sent = send_event(resolved, body, dry_run=dry_run, rest=rest)
    return UserSendResult(user_id, event, sent.answer, sent.request)


def terminate(
    settings: SettingsSource, user_id: str, *, rest: RestSource | None = None
) -> TerminateResult:
    """Close every connection of ``user_id``."""
    check_user_id(user_id)
    with rest_client(settings_of(settings), rest) as client:
        return TerminateResult(user_id, client.terminate(user_id))
