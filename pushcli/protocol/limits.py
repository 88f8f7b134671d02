"""Every Pusher limit in one place, and the checks that enforce them (pure)."""

from __future__ import annotations

import re

from pushcli.errors import InputError
from pushcli.protocol.channels import check_channel, kind_of

SOCKET_ID_RE = re.compile(r"\A[0-9]+\.[0-9]+\Z")
#: What an event name never contains: control characters (a newline from a line-based
#: pipeline, a tab, NUL) and lone surrogates (an argument or JSON escape that is not UTF-8).
EVENT_NAME_BAD_RE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
MAX_EVENT_NAME = 200
MAX_CHANNELS_PER_TRIGGER = 100
MAX_EVENTS_PER_BATCH = 10
#: Pusher's data limit; self-hosted servers (soketi) default to 100 KB.
PUSHER_MAX_DATA_BYTES = 10 * 1024
SELF_HOSTED_MAX_DATA_BYTES = 100 * 1024
MAX_PRESENCE_USER_INFO_BYTES = 1024


def check_channels(channels: list[str], *, allow_server_to_user: bool = False) -> list[str]:
    if not channels:
        raise InputError("no channel given")
    if len(channels) > MAX_CHANNELS_PER_TRIGGER:
        raise InputError(
            f"too many channels ({len(channels)} > {MAX_CHANNELS_PER_TRIGGER} per event)"
        )
    for c in channels:
        check_channel(c, allow_server_to_user=allow_server_to_user)
    if len(channels) > 1 and any(kind_of(c).encrypted for c in channels):
        raise InputError(
            "an event for a private-encrypted- channel cannot go to other channels too"
        )
    if len(set(channels)) != len(channels):
        raise InputError("a channel is listed twice")
    return channels


def check_event_name(name: str) -> str:
    if not name:
        raise InputError("empty event name")
    if len(name) > MAX_EVENT_NAME:
        raise InputError(f"event name too long ({len(name)} > {MAX_EVENT_NAME} characters)")
    if not valid_event_name_chars(name):
        raise InputError(
            f"invalid event name {name!r}: control characters (such as a newline) are not allowed"
        )
    return name


def valid_event_name_chars(name: str) -> bool:
    return EVENT_NAME_BAD_RE.search(name) is None


def check_socket_id(socket_id: str) -> str:
    if not SOCKET_ID_RE.fullmatch(socket_id):
        raise InputError(f"invalid socket id {socket_id!r}: expected digits.digits, e.g. 1234.5678")
    return socket_id


def check_data_size(data: str, max_bytes: int) -> int:
    # ASCII text is its own UTF-8; anything else is encoded, which also refuses lone
    # surrogates (a JSON escape such as "\udcff" decodes to one) before anything is sent.
    if data.isascii():
        size = len(data)
    else:
        try:
            size = len(data.encode())
        except UnicodeEncodeError as e:
            raise InputError(
                f"data is not valid UTF-8 (lone surrogate {data[e.start]!r} at character {e.start})"
            ) from None
    if size > max_bytes:
        raise InputError(f"data too large ({size} bytes > {max_bytes} bytes)")
    return size
