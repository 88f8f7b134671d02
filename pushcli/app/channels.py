"""``pushcli channels / channel / members``: what the HTTP API says about channels.

The rules for ``info`` live here, for the CLI and ``pushcli.api`` alike: ``user_count`` only on
presence channels (for a listing: only with ``--prefix presence-``), ``cache`` only for one
channel. Internal ``#server-to-user-`` channels (soketi lists the one pusher-js subscribes to
after signin) are left out of a listing unless asked for.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pushcli.app.calls import RestSource, SettingsSource, rest_client, settings_of
from pushcli.app.publish import check_info
from pushcli.errors import InputError
from pushcli.protocol.channels import PRESENCE_PREFIX, check_channel, is_internal, kind_of

CHANNEL_INFO = ("user_count", "subscription_count", "cache")


@dataclass
class ChannelsResult:
    #: the server's answer (without the hidden channels)
    answer: Any
    #: name → attributes of the channels listed
    channels: dict[str, Any]
    #: internal channels left out (``show_all`` lists them)
    hidden: int = 0
    #: the ``info`` attributes asked for, in order (the table's columns)
    fields: list[str] = field(default_factory=list)


@dataclass
class ChannelResult:
    name: str
    answer: Any
    #: ``cache`` was asked for and the server answered without it
    cache_missing: bool = False


@dataclass
class MembersResult:
    channel: str
    answer: Any

    @property
    def users(self) -> list[dict[str, Any]]:
        found = self.answer.get("users", []) if isinstance(self.answer, dict) else []
        return found if isinstance(found, list) else []

    @property
    def user_ids(self) -> list[Any]:
        return [u.get("id") for u in self.users]


def channels(
    settings: SettingsSource,
    prefix: str | None = None,
    info: str | None = None,
    *,
    show_all: bool = False,
    rest: RestSource | None = None,
) -> ChannelsResult:
    """List occupied channels, optionally only those starting with ``prefix``."""
    info = check_info(info)
    if info and "user_count" in info and not (prefix or "").startswith(PRESENCE_PREFIX):
        raise InputError("--info user_count needs --prefix presence-")
    with rest_client(settings_of(settings), rest) as client:
        answer = client.channels(prefix, info)
    found = answer.get("channels") if isinstance(answer, dict) else None
    found = found if isinstance(found, dict) else {}
    hidden = 0
    if not show_all and not is_internal(prefix or ""):
        kept = {n: a for n, a in found.items() if not is_internal(n)}
        hidden = len(found) - len(kept)
        if hidden:
            found = kept
            answer = {**answer, "channels": kept}
    return ChannelsResult(answer, found, hidden, info.split(",") if info else [])


def channel(
    settings: SettingsSource,
    name: str,
    info: str | None = None,
    *,
    rest: RestSource | None = None,
) -> ChannelResult:
    """One channel: occupied, and what ``info`` asks for."""
    check_channel(name)
    info = check_info(info, CHANNEL_INFO)
    if info and "user_count" in info and not kind_of(name).has_members:
        raise InputError("--info user_count is only for presence- channels")
    with rest_client(settings_of(settings), rest) as client:
        answer = client.channel(name, info)
    missing = bool(
        info and "cache" in info.split(",") and isinstance(answer, dict) and "cache" not in answer
    )
    return ChannelResult(name, answer, missing)


def members(
    settings: SettingsSource, channel: str, *, rest: RestSource | None = None
) -> MembersResult:
    """The members of a presence channel."""
    check_channel(channel)
    if not kind_of(channel).has_members:
        raise InputError(
            f"{channel} is not a presence channel: members exist only on presence- channels"
        )
    with rest_client(settings_of(settings), rest) as client:
        return MembersResult(channel, client.users(channel))
