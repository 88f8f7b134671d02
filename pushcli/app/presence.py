"""``pushcli members CHANNEL --watch``: who is present on a presence channel, live.

Two ways to watch, one output:

* over the WebSocket (the default): pushcli subscribes to the channel as a presence member of
  its own (``--user-id``, default ``pushcli-<random>``), as a browser would. It is the only way
  to see ``user_info`` (the HTTP API lists ids only) and to see joins and leaves as they happen
  (``pusher_internal:member_added`` / ``member_removed``), not up to an interval late; after a
  reconnect the new member list is compared with the old one, so nothing that happened while
  disconnected is missed. The others see pushcli's member join (and leave).
* ``--poll``: ``GET /channels/CHANNEL/users`` every ``interval`` seconds on one keep-alive
  connection (the poll loop of :mod:`pushcli.app.watch`: Retry-After, backoff, errors shown). No
  member is added, so nobody sees the watcher; no ``user_info``.

:class:`MembersTracker` (pure) keeps the members and says what changed; the sink the caller
opens (pushcli.ui.watchview: a live view or NDJSON) draws each :class:`MembersUpdate`.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from pushcli.app.calls import SettingsSource, settings_of
from pushcli.app.watch import LINGER, check_interval, poll_loop
from pushcli.errors import InputError
from pushcli.protocol.channels import check_channel, kind_of

if TYPE_CHECKING:
    from pushcli.client.realtime import Listener
    from pushcli.client.rest import RestClient

ADDED, REMOVED = "added", "removed"
WEBSOCKET, REST = "websocket", "rest"


@dataclass(frozen=True, slots=True)
class Member:
    """A member as last seen (replaced, never changed in place)."""

    user_id: str
    #: None when not known (REST polling) or not sent
    user_info: Any
    #: when the watch first saw the member present
    since: float
    #: present when the watch began (``since`` is then only "by this time")
    at_start: bool
    changed_at: float
    #: when the member left (kept for a few seconds, for the view), else None
    left_at: float | None = None


@dataclass(frozen=True, slots=True)
class MemberChange:
    time: float
    type: str
    channel: str
    user_id: str
    user_info: Any = None


@dataclass
class MembersUpdate:
    """What changed, and the members now (present ones, and those that just left)."""

    time: float
    channel: str
    #: by user id; valid until the next update
    members: dict[str, Member]
    changes: list[MemberChange] = field(default_factory=list)
    #: the first member list: the members the watch began with
    snapshot: bool = False
    #: REST polling: the poll, its latency, the wait until the next, and why it failed
    poll: int | None = None
    latency: float | None = None
    next_in: float | None = None
    error: str | None = None

    @property
    def present(self) -> int:
        return sum(1 for m in self.members.values() if m.left_at is None)


@dataclass
class MembersWatch:
    """What a view is told when the watch begins."""

    server: str
    channel: str
    #: ``websocket`` or ``rest``
    mode: str
    #: the watcher's own member (websocket), else None
    user_id: str | None = None
    #: seconds between polls (rest)
    interval: float | None = None

    @property
    def has_info(self) -> bool:
        return self.mode == WEBSOCKET


class MembersSink(Protocol):
    def update(self, update: MembersUpdate) -> None: ...

    def status(self, text: str, state: str | None = None) -> None: ...


OpenMembersSink = Callable[[MembersWatch], contextlib.AbstractContextManager[MembersSink]]


class MembersTracker:
    """Pure: the members of one channel, and what changed."""

    def __init__(self, channel: str, *, linger: float = LINGER) -> None:
        self.channel = channel
        self.linger = linger
        self.members: dict[str, Member] = {}
        self.lists = 0

    def reset(self, members: Mapping[str, Any], now: float) -> list[MemberChange]:
        """A whole member list (subscribed, subscribed again, a poll): the first one is the
        state the watch begins with (no changes); later ones are compared with what was known."""
        first = self.lists == 0
        self.lists += 1
        changes: list[MemberChange] = []
        if first:
            self.members = {
                str(uid): Member(str(uid), info, now, True, now) for uid, info in members.items()
            }
        else:
            for uid, info in members.items():
                changes += self.added(str(uid), info, now)
            for uid in [u for u, m in self.members.items() if m.left_at is None]:
                if uid not in members:
                    changes += self.removed(uid, now)
        self._forget(now)
        return changes

    def added(self, user_id: str, user_info: Any, now: float) -> list[MemberChange]:
        known = self.members.get(user_id)
        if known is not None and known.left_at is None:
            if known.user_info != user_info and user_info is not None:
                self.members[user_id] = Member(
                    user_id, user_info, known.since, known.at_start, known.changed_at
                )
            return []
        self.members[user_id] = Member(user_id, user_info, now, False, now)
        return [MemberChange(now, ADDED, self.channel, user_id, user_info)]

    def removed(self, user_id: str, now: float) -> list[MemberChange]:
        known = self.members.get(user_id)
        if known is None or known.left_at is not None:
            return []
        self.members[user_id] = Member(
            user_id, known.user_info, known.since, known.at_start, now, left_at=now
        )
        return [MemberChange(now, REMOVED, self.channel, user_id, known.user_info)]

    def _forget(self, now: float) -> None:
        gone = [u for u, m in self.members.items() if m.left_at is not None]
        for uid in gone:
            if now - (self.members[uid].left_at or now) >= self.linger:
                del self.members[uid]

    def update(self, now: float, changes: list[MemberChange], **extra: Any) -> MembersUpdate:
        self._forget(now)
        return MembersUpdate(now, self.channel, self.members, changes, **extra)


def check_presence(channel: str) -> str:
    check_channel(channel)
    if not kind_of(channel).has_members:
        raise InputError(
            f"{channel} is not a presence channel: members exist only on presence- channels"
        )
    return channel


def watch_members(
    settings: SettingsSource,
    channel: str,
    *,
    open_sink: OpenMembersSink,
    poll: bool = False,
    interval: float = 1.0,
    polls: int | None = None,
    user_id: str | None = None,
    user_info: str | None = None,
    retries: int = 5,
    connect_timeout: float | None = None,
    signin: bool | None = None,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
    rest: RestClient | None = None,
) -> None:
    """Watch the members of ``channel`` until interrupted (or ``polls`` polls with ``poll``)."""
    check_presence(channel)
    check_interval(interval)
    resolved = settings_of(settings)
    if poll:
        if user_id is not None or user_info is not None:
            raise InputError("--user-id and --user-info are for the WebSocket watch, not --poll")
        if rest is None:
            resolved.require("app_id", "key", "secret", "location")
        watch = MembersWatch(resolved.rest_base, channel, REST, interval=interval)
        with open_sink(watch) as sink:
            _poll(resolved, channel, sink, interval, polls, clock, sleep, rest)
        return
    if polls is not None:
        raise InputError("--polls is for --poll")
    import asyncio

    from pushcli.app.listen import make_listener
    from pushcli.client.authorize import default_user_id

    resolved.require("key", "location")
    uid = user_id or default_user_id()
    listener = make_listener(
        resolved,
        [channel],
        user_id=uid,
        user_info=user_info,
        retries=retries,
        connect_timeout=connect_timeout,
        signin=signin,
    )
    with open_sink(MembersWatch(resolved.ws_base, channel, WEBSOCKET, uid)) as sink:
        asyncio.run(_listen(listener, channel, sink))


def _poll(
    settings: Any,
    channel: str,
    sink: MembersSink,
    interval: float,
    polls: int | None,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
    rest: RestClient | None,
) -> None:
    tracker = MembersTracker(channel)
    with contextlib.ExitStack() as stack:
        if rest is None:
            from pushcli.client.rest import RestClient

            rest = stack.enter_context(RestClient(settings, retries=0))
        client = rest

        def ids() -> dict[str, None]:
            answer = client.users(channel)
            users = answer.get("users") if isinstance(answer, dict) else None
            found = users if isinstance(users, list) else []
            return {str(u["id"]): None for u in found if isinstance(u, dict) and "id" in u}

        for out in poll_loop(ids, interval=interval, polls=polls, clock=clock, sleep=sleep):
            timing = {"poll": out.poll, "latency": out.latency, "next_in": out.next_in}
            if out.error is not None:
                update = tracker.update(out.time, [], error=out.error.message, **timing)
            else:
                first = tracker.lists == 0
                changes = tracker.reset(out.value, out.time)
                update = tracker.update(out.time, changes, snapshot=first, **timing)
            sink.update(update)


async def _listen(listener: Listener, channel: str, sink: MembersSink) -> None:
    from pushcli.app.tail import status_text
    from pushcli.protocol.client_session import MemberAdded, MemberRemoved, Status, Subscribed

    tracker = MembersTracker(channel)
    async with contextlib.aclosing(listener.items()) as items:
        async for item in items:
            changes = None
            if isinstance(item, Subscribed) and item.members is not None:
                first = tracker.lists == 0
                changes = tracker.reset(item.members, item.time)
                sink.status(status_text(item) or "", "subscribed")
                sink.update(tracker.update(item.time, changes, snapshot=first))
                continue
            if isinstance(item, MemberAdded) and item.channel == channel:
                changes = tracker.added(item.user_id, item.user_info, item.time)
            elif isinstance(item, MemberRemoved) and item.channel == channel:
                changes = tracker.removed(item.user_id, item.time)
            if changes is not None:
                if changes:
                    sink.update(tracker.update(item.time, changes))
                continue
            text = status_text(item)
            if text is not None:
                sink.status(text, item.state if isinstance(item, Status) else None)
