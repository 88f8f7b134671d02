"""``pushcli channels --watch``: the app's occupied channels, polled over the HTTP API.

Three parts, each usable alone:

* :class:`ChannelsTracker` (pure): feed it each poll's answer and the time; it keeps one
  :class:`ChannelRow` per occupied channel (counts, when it was first seen, its last change)
  and returns the :class:`ChannelChange` s (occupied, vacated, changed). Vacated rows are kept
  for ``linger`` seconds (so a view can fade them) and then forgotten: memory follows the
  number of occupied channels, not the history.
* :class:`ChannelsPoller`: what one poll asks, on one :class:`~pushcli.client.rest.RestClient`
  (one keep-alive connection where the server allows it):

  1. ``GET /channels?info=subscription_count`` (``filter_by_prefix`` = ``--prefix``; with a
     ``presence-`` prefix ``info=subscription_count,user_count``, and that is the whole poll);
  2. when presence channels are listed and the prefix is not a presence one:
     ``GET /channels?filter_by_prefix=presence-&info=user_count``, since Pusher gives
     ``user_count`` only for a presence- prefix;
  3. servers that ignore ``info`` on the listing (soketi) answer 1 and 2 without ``user_count``:
     then 2 is not asked again, and instead ``GET /channels/NAME?info=user_count`` for at most
     :data:`MAX_CHANNEL_QUERIES` presence channels per poll, the least recently asked first,
     each keeping its last known count in between.

  A poll is all or nothing: if any request fails, the tracker is not fed, so a failed poll never
  looks like channels being vacated.
* :func:`watch_channels`: the loop. Polls every ``interval`` seconds (start to start), yields a
  :class:`ChannelsPoll` after each, never retries inside a poll (the next poll is the retry):
  a 429 or 503 with ``Retry-After`` waits that long (capped), other errors back off
  (:func:`error_wait`). Only a refusal (4xx other than 429) before any poll succeeded ends it:
  wrong credentials or app do not heal. The clock and sleep are parameters.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pushcli.app.calls import SettingsSource, settings_of
from pushcli.errors import PushcliError, RejectedError
from pushcli.protocol.channels import PRESENCE_PREFIX, is_internal, kind_of

if TYPE_CHECKING:
    from pushcli.client.rest import RestClient

#: presence channels asked one by one per poll when the listing has no user_count (soketi)
MAX_CHANNEL_QUERIES = 10
#: seconds a vacated channel stays in the table (faded) before it is forgotten
LINGER = 5.0
#: at most this many vacated channels are kept lingering (the oldest go first)
MAX_LINGERING = 1000
#: the longest wait between polls after errors
MAX_ERROR_WAIT = 30.0

OCCUPIED, VACATED, CHANGED = "occupied", "vacated", "changed"


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@dataclass(frozen=True, slots=True)
class ChannelRow:
    """One channel as last seen. Never changed in place: a change replaces the row, so a view
    drawing from another thread can keep the rows of one poll while the next is made."""

    name: str
    subscription_count: int | None
    user_count: int | None
    #: when the watch first saw it occupied
    first_seen: float
    #: it was occupied when the watch began (``first_seen`` is then only "by this time")
    at_start: bool
    #: when its last change happened, and what it was: occupied, up, down, vacated, "" (none)
    changed_at: float
    change: str = ""
    #: when it was seen vacated (its counts are the last ones seen), else None
    vacated_at: float | None = None
    #: the last change of subscription_count (of user_count when that did not change)
    delta: int = 0


@dataclass(frozen=True, slots=True)
class ChannelChange:
    """One line of ``--json`` output: a channel became occupied, was vacated, or its counts
    changed (``user_count`` None: not a presence channel, or not known)."""

    time: float
    type: str
    channel: str
    subscription_count: int | None
    user_count: int | None = None


@dataclass
class ChannelsPoll:
    """What one poll gave (yielded by :func:`watch_channels` after every poll)."""

    #: 1, 2, ...
    poll: int
    #: when the poll ended
    time: float
    #: seconds the poll's requests took, in all
    latency: float
    #: HTTP requests the poll made
    requests: int
    #: seconds until the next poll
    next_in: float
    #: every channel in the table (occupied ones, and vacated ones still lingering), by name;
    #: None when the poll failed (the table is as the last good poll left it)
    rows: dict[str, ChannelRow] | None = None
    changes: list[ChannelChange] = field(default_factory=list)
    #: the first poll that succeeded: ``rows`` is the state the watch began with
    first: bool = False
    #: why the poll failed, else None; the HTTP status and Retry-After when there were any
    error: str | None = None
    status: int | None = None
    retry_after: float | None = None
    #: internal ``#server-to-user-`` channels left out (``show_all`` shows them)
    hidden: int = 0
    #: polls that succeeded so far
    ok: int = 0

    @property
    def occupied(self) -> int:
        return sum(1 for r in (self.rows or {}).values() if r.vacated_at is None)


class ChannelsTracker:
    """Pure: the table of channels across polls, and what changed at each."""

    def __init__(self, *, linger: float = LINGER, max_lingering: int = MAX_LINGERING) -> None:
        self.rows: dict[str, ChannelRow] = {}
        self.linger = linger
        self.max_lingering = max_lingering
        self.polls = 0
        self._lingering: dict[str, float] = {}  # name -> vacated_at, oldest first

    def feed(self, found: dict[str, dict[str, Any]], now: float) -> list[ChannelChange]:
        """One poll's channels (name → attributes); returns the changes, in name order for
        new and changed channels, then the vacated ones. The first poll returns none: it is
        the state the watch begins with."""
        first = self.polls == 0
        self.polls += 1
        rows, lingering = self.rows, self._lingering
        changes: list[ChannelChange] = []
        append = changes.append
        for name, attrs in found.items():
            subs = _count(attrs.get("subscription_count"))
            users = _count(attrs.get("user_count"))
            row = rows.get(name)
            if row is None or row.vacated_at is not None:
                if row is not None:
                    del lingering[name]
                rows[name] = ChannelRow(
                    name, subs, users, now, first, now, "" if first else OCCUPIED
                )
                if not first:
                    append(ChannelChange(now, OCCUPIED, name, subs, users))
                continue
            if users is None:
                users = row.user_count  # not asked this poll: the last known count stands
            if subs == row.subscription_count and users == row.user_count:
                continue
            delta = (subs or 0) - (row.subscription_count or 0)
            if not delta:
                delta = (users or 0) - (row.user_count or 0)
            rows[name] = ChannelRow(
                name,
                subs,
                users,
                row.first_seen,
                row.at_start,
                now,
                "up" if delta >= 0 else "down",
                delta=delta,
            )
            append(ChannelChange(now, CHANGED, name, subs, users))
        if len(rows) - len(lingering) > len(found):
            for name in rows.keys() - found.keys() - lingering.keys():
                row = rows[name]
                zero = 0 if row.user_count is not None else None
                rows[name] = ChannelRow(
                    name,
                    row.subscription_count,
                    row.user_count,
                    row.first_seen,
                    row.at_start,
                    now,
                    VACATED,
                    now,
                    -(row.subscription_count or 0),
                )
                lingering[name] = now
                append(ChannelChange(now, VACATED, name, 0, zero))
        self._forget(now)
        return changes

    def _forget(self, now: float) -> None:
        """Drop vacated rows older than ``linger`` (and the oldest beyond ``max_lingering``)."""
        lingering = self._lingering
        while lingering:
            name, at = next(iter(lingering.items()))
            if now - at < self.linger and len(lingering) <= self.max_lingering:
                break
            del lingering[name]
            self.rows.pop(name, None)


def listing_info(prefix: str | None) -> str:
    """``info`` for ``GET /channels``: user_count only where Pusher allows it."""
    if (prefix or "").startswith(PRESENCE_PREFIX):
        return "subscription_count,user_count"
    return "subscription_count"


def _channels_of(answer: Any) -> dict[str, dict[str, Any]]:
    found = answer.get("channels") if isinstance(answer, dict) else None
    if not isinstance(found, dict):
        return {}
    return {n: a if isinstance(a, dict) else {} for n, a in found.items() if isinstance(n, str)}


class ChannelsPoller:
    """The requests of one poll (see the module docstring), on ``client``."""

    def __init__(
        self,
        client: RestClient,
        prefix: str | None = None,
        *,
        show_all: bool = False,
        max_channel_queries: int = MAX_CHANNEL_QUERIES,
    ) -> None:
        self.client = client
        self.prefix = prefix or None
        self.show_all = show_all or is_internal(prefix or "")
        self.max_channel_queries = max_channel_queries
        #: False once the server answered a listing without user_count (soketi)
        self.listing_has_user_count: bool | None = None
        self.polls = 0
        self.hidden = 0
        self._asked: dict[str, int] = {}  # presence channel -> poll it was last asked at
        self._sent = 0

    @property
    def requests(self) -> int:
        """Requests the last poll made (so far, if it failed)."""
        return self.client.requests_sent - self._sent

    def poll(self) -> dict[str, dict[str, Any]]:
        """The channels (name → attributes, user_count merged in). Raises the first failed
        request's :class:`~pushcli.errors.PushcliError`."""
        self.polls += 1
        self._sent = self.client.requests_sent
        client, prefix = self.client, self.prefix
        found = _channels_of(client.channels(prefix, listing_info(prefix)))
        if not self.show_all:
            kept = {n: a for n, a in found.items() if not is_internal(n)}
            self.hidden, found = len(found) - len(kept), kept
        presence = [n for n in found if kind_of(n).has_members]
        if not presence:
            return found
        if prefix is not None and prefix.startswith(PRESENCE_PREFIX):
            if self.listing_has_user_count is None:
                self.listing_has_user_count = any("user_count" in found[n] for n in presence)
        elif self.listing_has_user_count is not False:
            counts = _channels_of(client.channels(PRESENCE_PREFIX, "user_count"))
            given = False
            for name in presence:
                users = _count(counts.get(name, {}).get("user_count"))
                if users is not None:
                    found[name] = {**found[name], "user_count": users}
                    given = True
            if self.listing_has_user_count is None:
                self.listing_has_user_count = given
        if self.listing_has_user_count is False:
            self._ask_each(found, presence)
        return found

    def _ask_each(self, found: dict[str, dict[str, Any]], presence: list[str]) -> None:
        """user_count of a few presence channels, one request each, the least recently asked
        first; the others keep their last known count (the tracker keeps it)."""
        asked = self._asked
        for name in asked.keys() - set(presence):
            del asked[name]
        due = sorted(presence, key=lambda n: asked.get(n, 0))[: self.max_channel_queries]
        for name in due:
            answer = self.client.channel(name, "user_count")
            users = _count(answer.get("user_count")) if isinstance(answer, dict) else None
            if users is not None:
                found[name] = {**found[name], "user_count": users}
            asked[name] = self.polls


def error_wait(interval: float, failures: int) -> float:
    """Seconds before the next poll after ``failures`` failed polls in a row (no Retry-After):
    the interval, doubling from at least 0.1 s, at most :data:`MAX_ERROR_WAIT`."""
    return max(interval, min(MAX_ERROR_WAIT, max(interval, 0.1) * 2.0 ** min(failures - 1, 16)))


def _retry_after(e: PushcliError) -> float | None:
    value = getattr(e, "retry_after", None)
    return float(value) if isinstance(value, float | int) else None


def _status(e: PushcliError) -> int | None:
    value = getattr(e, "status", None)
    return value if isinstance(value, int) else None


def fatal(e: PushcliError, succeeded: int) -> bool:
    """Whether a failed poll ends the watch: a refusal (4xx but 429) before any poll succeeded."""
    return succeeded == 0 and isinstance(e, RejectedError) and _status(e) != 429


@dataclass
class Outcome:
    """What the poll loop reports of one poll (the caller adds what it polled)."""

    poll: int
    time: float
    latency: float
    next_in: float
    value: Any = None
    error: PushcliError | None = None
    #: successful polls so far
    ok: int = 0


def poll_loop(
    poll: Callable[[], Any],
    *,
    interval: float,
    polls: int | None = None,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[Outcome]:
    """Call ``poll`` every ``interval`` seconds (start to start); yield each outcome; wait as
    the outcome says (Retry-After, error backoff); stop after ``polls`` polls."""
    n = ok = failures = 0
    while polls is None or n < polls:
        n += 1
        start = clock()
        error: PushcliError | None = None
        value: Any = None
        try:
            value = poll()
        except PushcliError as e:
            if fatal(e, ok):
                raise
            error = e
        end = clock()
        spent = max(0.0, end - start)
        next_at = start + interval
        if error is None:
            ok += 1
            failures = 0
        else:
            failures += 1
            after = _retry_after(error)
            if after is not None:
                next_at = max(next_at, end + after)
            else:
                next_at = max(next_at, start + error_wait(interval, failures))
        yield Outcome(n, end, spent, max(0.0, next_at - end), value, error, ok)
        if polls is not None and n >= polls:
            return
        wait = next_at - clock()  # the caller's drawing took some of it
        if wait > 0:
            sleep(wait)


def check_interval(interval: float) -> float:
    from pushcli.errors import InputError

    if not interval >= 0:  # also NaN
        raise InputError(f"--interval must be at least 0 seconds, not {interval:g}")
    return interval


def watch_channels(
    settings: SettingsSource,
    prefix: str | None = None,
    *,
    interval: float = 1.0,
    show_all: bool = False,
    polls: int | None = None,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
    rest: RestClient | None = None,
    linger: float = LINGER,
) -> Generator[ChannelsPoll, None, None]:
    """Poll the occupied channels until ``polls`` polls (or forever); one
    :class:`ChannelsPoll` per poll. Arguments and settings are checked before this returns;
    the REST client (one keep-alive connection, no retries of its own) is closed when the
    iterator is."""
    check_interval(interval)
    resolved = settings_of(settings)
    if rest is None:
        resolved.require("app_id", "key", "secret", "location")
    return _watch_channels(resolved, prefix, interval, show_all, polls, clock, sleep, rest, linger)


def _watch_channels(
    settings: Any,
    prefix: str | None,
    interval: float,
    show_all: bool,
    polls: int | None,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
    rest: RestClient | None,
    linger: float,
) -> Generator[ChannelsPoll, None, None]:
    import contextlib

    with contextlib.ExitStack() as stack:
        if rest is None:
            from pushcli.client.rest import RestClient

            rest = stack.enter_context(RestClient(settings, retries=0))
        poller = ChannelsPoller(rest, prefix, show_all=show_all)
        tracker = ChannelsTracker(linger=linger)
        for out in poll_loop(poller.poll, interval=interval, polls=polls, clock=clock, sleep=sleep):
            result = ChannelsPoll(
                out.poll,
                out.time,
                out.latency,
                poller.requests,
                out.next_in,
                hidden=poller.hidden,
                ok=out.ok,
            )
            if out.error is None:
                result.changes = tracker.feed(out.value, out.time)
                result.rows = tracker.rows
                result.first = out.ok == 1
            else:
                result.error = out.error.message
                result.status = _status(out.error)
                result.retry_after = _retry_after(out.error)
            yield result
