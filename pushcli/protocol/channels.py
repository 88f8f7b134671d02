"""Channel kinds and channel names: every prefix and every per-kind rule is spelled here.

A new kind of channel is one member of :class:`ChannelKind` (its prefix and its rules); every
other module asks the kind (``kind_of(name).needs_auth``) instead of comparing prefixes.
"""

from __future__ import annotations

import re
from enum import Enum

from pushcli.errors import InputError

# Anchored with \A and \Z (as the official libraries do), not ^ and $: ``$`` also matches
# before a trailing newline, so "orders\n" would pass. Check with ``fullmatch``.
CHANNEL_NAME_RE = re.compile(r"\A[-a-zA-Z0-9_=@,.;]+\Z")
MAX_CHANNEL_NAME = 200
#: a cache channel is any kind's prefix followed by this
CACHE_MARK = "cache-"


class ChannelKind(Enum):
    """What a channel's name says about it. The value is the name shown to people."""

    PUBLIC = "public"
    PRIVATE = "private"
    PRESENCE = "presence"
    ENCRYPTED = "encrypted"
    SERVER_TO_USER = "server-to-user"

    @property
    def prefix(self) -> str:
        return _PREFIX[self]

    @property
    def needs_auth(self) -> bool:
        """Subscribing needs an ``auth`` signature from the app."""
        return self in (ChannelKind.PRIVATE, ChannelKind.PRESENCE, ChannelKind.ENCRYPTED)

    @property
    def has_members(self) -> bool:
        """Subscribers carry ``channel_data`` (user_id, user_info) and are listed as members."""
        return self is ChannelKind.PRESENCE

    @property
    def encrypted(self) -> bool:
        """Event data is end-to-end encrypted with a per-channel shared secret."""
        return self is ChannelKind.ENCRYPTED

    @property
    def client_events(self) -> bool:
        """Clients may send ``client-`` events (Pusher: private and presence channels only)."""
        return self in (ChannelKind.PRIVATE, ChannelKind.PRESENCE)

    @property
    def subscribable(self) -> bool:
        """A client may ask to subscribe (server-to-user channels come with signing in)."""
        return self is not ChannelKind.SERVER_TO_USER

    def cache_prefix(self) -> str:
        return self.prefix + CACHE_MARK


# Longest first: "private-encrypted-" must win over "private-".
_PREFIX = {
    ChannelKind.SERVER_TO_USER: "#server-to-user-",
    ChannelKind.ENCRYPTED: "private-encrypted-",
    ChannelKind.PRIVATE: "private-",
    ChannelKind.PRESENCE: "presence-",
    ChannelKind.PUBLIC: "",
}
_CACHE_PREFIXES = tuple(k.cache_prefix() for k in ChannelKind if k.subscribable)
SERVER_TO_USER_PREFIX = ChannelKind.SERVER_TO_USER.prefix
PRESENCE_PREFIX = ChannelKind.PRESENCE.prefix


def kind_of(channel: str) -> ChannelKind:
    for kind, prefix in _PREFIX.items():
        if channel.startswith(prefix):
            return kind
    return ChannelKind.PUBLIC  # pragma: no cover - the public prefix is ""


def is_cache(channel: str) -> bool:
    """A cache channel: new subscribers get the last event first (or ``pusher:cache_miss``)."""
    return channel.startswith(_CACHE_PREFIXES)


def server_to_user_channel(user_id: str) -> str:
    return SERVER_TO_USER_PREFIX + user_id


def user_of_server_channel(channel: str) -> str | None:
    """The user id of a ``#server-to-user-`` channel, or None for any other channel."""
    if channel.startswith(SERVER_TO_USER_PREFIX):
        return channel[len(SERVER_TO_USER_PREFIX) :]
    return None


def is_internal(channel: str) -> bool:
    """A channel the server creates for itself (hidden from listings unless asked)."""
    return channel.startswith("#")


def valid_name(
    channel: str, *, allow_server_to_user: bool = False, max_len: int = MAX_CHANNEL_NAME
) -> bool:
    """True when ``channel`` is a name a server accepts (no exception, for servers)."""
    if allow_server_to_user:
        user = user_of_server_channel(channel)
        if user is not None:
            return (
                bool(user)
                and len(channel) <= max_len
                and CHANNEL_NAME_RE.fullmatch(user) is not None
            )
    return 0 < len(channel) <= max_len and CHANNEL_NAME_RE.fullmatch(channel) is not None


def client_event_refusal(channel: str) -> str | None:
    """Why a client may not send a ``client-`` event on ``channel``, or None when it may."""
    kind = kind_of(channel)
    if kind.client_events:
        return None
    if kind is ChannelKind.PUBLIC:
        return f"{channel} is public: client events need a private- or presence- channel"
    if kind.encrypted:
        return f"{channel}: client events are not allowed on encrypted channels"
    return f"{channel}: client events need a private- or presence- channel"


def check_channel(channel: str, *, allow_server_to_user: bool = False) -> str:
    """``channel`` when it is a valid name; else :class:`InputError` saying why."""
    if valid_name(channel, allow_server_to_user=allow_server_to_user):
        return channel
    if not channel:
        raise InputError("empty channel name")
    if len(channel) > MAX_CHANNEL_NAME:
        raise InputError(
            f"channel name too long ({len(channel)} > {MAX_CHANNEL_NAME}): {channel[:40]}…"
        )
    raise InputError(
        f"invalid channel name {channel!r}: only letters, digits and -_=@,.; are allowed"
    )
