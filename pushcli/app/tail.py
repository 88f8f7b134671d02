"""The live tail: what to show, what counts, when to stop (--event, --system, --count, --until,
--timeout, --ready-file), and client events. Output goes to a sink (see pushcli.ui.liveview).

Works on the items a :class:`pushcli.client.realtime.Listener` yields; imports nothing heavy itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from pushcli.errors import NotArrivedError, PushcliError, RejectedError, UnavailableError

if TYPE_CHECKING:
    from pushcli.client.realtime import Listener
    from pushcli.protocol.client_session import Event, Item, Status


@dataclass(slots=True)
class Row:
    """One line of output. ``kind``: event, system, member, presence."""

    time: float
    channel: str | None
    event: str
    kind: str = "event"
    data: str | None = None
    user_id: str | None = None
    user_info: Any = None
    members: dict[str, Any] | None = None
    error: str | None = None


class Sink(Protocol):
    def row(self, row: Row) -> None: ...

    def status(self, text: str, item: Any = None) -> None: ...

    def problem(self, text: str) -> None: ...

    def observe(self, item: Any) -> None: ...


@dataclass
class Options:
    events: list[str] = field(default_factory=list)
    system: bool = False
    count: int | None = None
    until: str | None = None
    timeout: float | None = None
    ready_file: Path | None = None


@dataclass
class Selector:
    """Pure: which rows are shown, which count toward --count, which end the run (--until)."""

    globs: list[str] = field(default_factory=list)
    system: bool = False
    until: str | None = None

    def matches(self, name: str) -> bool:
        return any(fnmatchcase(name, g) for g in self.globs)

    def is_until(self, row: Row) -> bool:
        return self.until is not None and fnmatchcase(row.event, self.until)

    def shown(self, row: Row) -> bool:
        if self.is_until(row):
            return True
        if row.kind == "system" and not self.system:
            return False
        return not self.globs or self.matches(row.event)

    def counts(self, row: Row) -> bool:
        """Events count; member, presence and system lines only when a --event glob names them."""
        if row.kind == "event":
            return not self.globs or self.matches(row.event)
        return bool(self.globs) and self.matches(row.event)


def _event_row(item: Event) -> Row:
    kind = "system" if item.system else "event"
    return Row(item.time, item.channel, item.event, kind, item.data, item.user_id, error=item.error)


def rows_for(item: Item) -> list[Row]:
    from pushcli.protocol.client_session import Event, MemberAdded, MemberRemoved, Subscribed

    if isinstance(item, Event):
        return [_event_row(item)]
    if isinstance(item, MemberAdded | MemberRemoved):
        name = "pusher:member_added" if isinstance(item, MemberAdded) else "pusher:member_removed"
        return [Row(item.time, item.channel, name, "member", None, item.user_id, item.user_info)]
    if isinstance(item, Subscribed) and item.members is not None:
        return [
            Row(
                item.time,
                item.channel,
                "pusher:subscription_succeeded",
                "presence",
                members=item.members,
            )
        ]
    return []


def status_text(item: Item) -> str | None:
    from pushcli.protocol.client_session import Event, Problem, Status, Subscribed

    if isinstance(item, Status):
        if item.state == "connecting":
            return f"connecting to {item.detail}"
        if item.state == "connected":
            return f"connected (socket id {item.socket_id})"
        if item.state == "signed_in":
            return f"signed in as {item.detail}"
        if item.state == "reconnecting":
            return f"reconnecting in {item.delay or 0:.1f}s{attempt_text(item)}: {item.detail}"
        return f"{item.state} {item.detail}".strip()
    if isinstance(item, Subscribed):
        again = "" if item.first else " again"
        if item.members is None:
            return f"subscribed{again} to {item.channel}"
        n = len(item.members)
        return f"subscribed{again} to {item.channel} ({n} member{'s' if n != 1 else ''})"
    if isinstance(item, Event) and item.event == "pusher:cache_miss":
        return f"{item.channel}: cache miss (nothing cached yet)"
    if isinstance(item, Problem):
        code = f" ({item.code})" if item.code is not None else ""
        where = f"{item.channel}: " if item.channel else ""
        return f"server error: {where}{item.message}{code}"
    return None


def attempt_text(item: Status) -> str:
    """`` (attempt 2 of 5)``, `` (attempt 7)`` with no limit, or nothing."""
    if item.attempt is None:
        return ""
    limit = "" if item.retries is None else f" of {item.retries}"
    return f" (attempt {item.attempt}{limit})"


def _write_ready(path: Path, socket_id: str | None) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(f"{socket_id or ''}\n", encoding="utf-8")
    os.replace(tmp, path)


@dataclass
class Progress:
    counted: int = 0
    shown: int = 0
    #: every channel was subscribed (at once) at least once
    ready: bool = False
    started: float = field(default_factory=time.monotonic)
    #: a connection reached ``pusher:connection_established``
    connected: bool = False
    #: channels ever subscribed
    subscribed: set[str] = field(default_factory=set)
    #: the server's last error on the current connection before ``ready``, as shown
    problem: str | None = None


async def _consume(listener: Listener, sink: Sink, opts: Options, progress: Progress) -> None:
    from pushcli.protocol.client_session import Event

    select = Selector(opts.events, opts.system, opts.until)
    wanted = set(listener.channels)
    async with contextlib.aclosing(listener.items()) as items:
        async for item in items:
            sink.observe(item)
            if type(item) is Event and not item.system:
                rows = [_event_row(item)]  # the bulk of a busy channel: no status, one row
            else:
                _note(item, listener, sink, opts, progress, wanted)
                rows = rows_for(item)
            for row in rows:
                if not select.shown(row):
                    continue
                sink.row(row)
                progress.shown += 1
                if select.counts(row):
                    progress.counted += 1
                if select.is_until(row):
                    return
                if opts.count is not None and progress.counted >= opts.count:
                    return


def _note(
    item: Item,
    listener: Listener,
    sink: Sink,
    opts: Options,
    progress: Progress,
    wanted: set[str],
) -> None:
    """Status lines, and the ready file once every channel is subscribed."""
    from pushcli.protocol.client_session import Problem, Status, Subscribed

    text = status_text(item)
    if text is not None:
        if isinstance(item, Problem):
            sink.problem(text)
            if not progress.ready:
                progress.problem = text
        else:
            sink.status(text, item)
    if isinstance(item, Status) and item.state == "connected":
        progress.connected, progress.problem = True, None
    if isinstance(item, Subscribed):
        progress.subscribed.add(item.channel)
    if not progress.ready and isinstance(item, Subscribed) and listener.subscribed >= wanted:
        progress.ready = True
        if opts.ready_file is not None:
            _write_ready(opts.ready_file, listener.socket_id)


async def run(listener: Listener, sink: Sink, opts: Options) -> None:
    """Listen until --count/--until is satisfied, --timeout passes, or the task is cancelled.

    A --timeout that passes before every channel was subscribed is not "nothing arrived": it
    raises :class:`UnavailableError` (never connected, or the server did not answer), or
    :class:`RejectedError` when the server answered the subscription with an error.
    """
    if opts.ready_file is not None:
        opts.ready_file.unlink(missing_ok=True)
    progress = Progress()
    try:
        async with asyncio.timeout(opts.timeout):
            await _consume(listener, sink, opts, progress)
    except TimeoutError:
        if not progress.ready:
            raise _not_ready(listener, opts, progress) from None
        raise NotArrivedError(_timeout_message(opts, progress)) from None
    finally:
        sink.status("closed")


def _not_ready(listener: Listener, opts: Options, progress: Progress) -> PushcliError:
    within = f"within {opts.timeout:g}s"
    if not progress.connected:
        why = listener.last_failure or "no pusher:connection_established yet"
        return UnavailableError(f"not connected to {listener.server} {within}: {why}")
    missing = ", ".join(c for c in listener.channels if c not in progress.subscribed)
    if not missing:  # each was subscribed, but never all of them at once
        missing = ", ".join(listener.channels)
    head = f"not subscribed to {missing} {within}"
    if progress.problem is not None:
        return RejectedError(f"{head}: {progress.problem}")
    if listener.last_failure is not None:
        return UnavailableError(f"{head}: {listener.last_failure}")
    return UnavailableError(f"{head}: the server did not confirm the subscription")


def _timeout_message(opts: Options, progress: Progress) -> str:
    if awaits(opts):
        head = f"timed out after {opts.timeout:g}s"
    else:
        head = f"listened for {opts.timeout:g}s"
    n = progress.counted
    if opts.count is not None:
        return f"{head}: {n} of {opts.count} event{'s' if opts.count != 1 else ''} arrived"
    if opts.until is not None:
        return f"{head} waiting for {opts.until}: {n} event{'s' if n != 1 else ''} arrived"
    return f"{head}: {n} event{'s' if n != 1 else ''} arrived"


def awaits(opts: Options) -> bool:
    return opts.count is not None or opts.until is not None


async def listen_for(listener: Listener, sink: Sink, opts: Options) -> None:
    """:func:`run`, but a --timeout without --count/--until is a duration: it ends with 0."""
    try:
        await run(listener, sink, opts)
    except NotArrivedError as e:
        if awaits(opts):
            raise
        sink.status(e.message)


# --- client events ---------------------------------------------------------------------------


async def send_client_event(
    listener: Listener,
    sink: Sink,
    channel: str,
    event: str,
    data: Any,
    *,
    wait: float,
    timeout: float,
) -> str | None:
    """Subscribe, send ``event``, and watch ``wait`` seconds for a ``pusher:error``.

    Returns the socket id the event was sent from.
    """
    from pushcli.protocol.client_session import Problem, Subscribed

    async with contextlib.aclosing(listener.items()) as items:
        try:
            async with asyncio.timeout(timeout):
                async for item in items:
                    _report(sink, item)
                    if isinstance(item, Subscribed) and item.channel == channel:
                        break
        except TimeoutError:
            raise UnavailableError(f"not subscribed to {channel} within {timeout:g}s") from None
        await listener.send(event, data, channel)
        sink.status(f"sent {event} to {channel}; watching {wait:g}s for errors")
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(wait):
                async for item in items:
                    _report(sink, item)
                    if isinstance(item, Problem):
                        code = f" ({item.code})" if item.code is not None else ""
                        raise RejectedError(f"server refused {event}: {item.message}{code}")
    return listener.socket_id


def _report(sink: Sink, item: Item) -> None:
    from pushcli.protocol.client_session import Problem

    text = status_text(item)
    if text is not None and not isinstance(item, Problem):
        sink.status(text, item)
