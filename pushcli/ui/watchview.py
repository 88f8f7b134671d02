"""``channels --watch`` and ``members --watch``: a live table on a terminal, NDJSON otherwise.

Import this module only inside a command body: rich is imported when a live view starts. The
live views are drawn by rich's refresh thread (a few times a second, whatever the poll rate)
from what the last update left under a lock; an update only swaps in the new rows, so drawing
never slows polling, and sorting is done once per poll, not once per frame.

NDJSON (``--json``, or stdout not a terminal), one object per line, flushed after each poll:

* channels: ``{"time", "type": "snapshot", "poll", "channels": {NAME: {"subscription_count",
  "user_count"?}}}`` after the first poll that succeeds (and after every poll with
  ``--snapshots``), then one line per change: ``{"time", "type": "occupied"|"vacated"|"changed",
  "channel", "subscription_count", "user_count"?}`` (``user_count`` for presence channels once
  known; a vacated channel has 0);
* members: ``{"time", "type": "snapshot", "channel", "members": [{"user_id", "user_info"?}],
  "count", "self"?}`` once, then ``{"time", "type": "added"|"removed", "channel", "user_id",
  "user_info"?}`` (``user_info`` over the WebSocket only; ``self`` is the watcher's own member).

Failed polls, connection states and notices go to stderr as ``pushcli: ...`` lines.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import threading
import time
from collections import deque
from collections.abc import Generator, Iterator
from typing import TYPE_CHECKING, Any, TextIO

from pushcli.protocol.channels import SERVER_TO_USER_PREFIX
from pushcli.ui import render
from pushcli.ui.liveview import iso_time

if TYPE_CHECKING:
    from pushcli.app.presence import MemberChange, MembersUpdate, MembersWatch
    from pushcli.app.watch import ChannelChange, ChannelRow, ChannelsPoll

PREFIX = "pushcli: "
SORTS = ("name", "count", "age")
#: seconds a change stays highlighted
HIGHLIGHT = 3.0
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


# --- NDJSON ----------------------------------------------------------------------------------


def change_object(c: ChannelChange) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "time": iso_time(c.time),
        "type": c.type,
        "channel": c.channel,
        "subscription_count": c.subscription_count,
    }
    if c.user_count is not None:
        obj["user_count"] = c.user_count
    return obj


def snapshot_object(poll: ChannelsPoll) -> dict[str, Any]:
    channels: dict[str, dict[str, int | None]] = {}
    for name, row in sorted((poll.rows or {}).items()):
        if row.vacated_at is None:
            attrs: dict[str, int | None] = {"subscription_count": row.subscription_count}
            if row.user_count is not None:
                attrs["user_count"] = row.user_count
            channels[name] = attrs
    return {
        "time": iso_time(poll.time),
        "type": "snapshot",
        "poll": poll.poll,
        "channels": channels,
    }


def poll_failed_text(poll: int | None, error: str, next_in: float | None) -> str:
    where = f"poll {poll} failed" if poll is not None else "failed"
    then = f"; next poll in {next_in:.1f}s" if next_in is not None else ""
    return f"{where}: {error}{then}"


class _Lines:
    """stdout lines flushed per poll; a closed pipe (``| head``) ends quietly."""

    def __init__(self, out: TextIO | None = None, err: TextIO | None = None) -> None:
        self.out = out or sys.stdout
        self.err = err or sys.stderr

    def write(self, objects: list[dict[str, Any]]) -> None:
        if not objects:
            return
        try:
            self.out.write("".join(_encode(o) + "\n" for o in objects))
            self.out.flush()
        except BrokenPipeError:
            with contextlib.suppress(OSError, ValueError):
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, self.out.fileno())  # no second error when Python exits
            raise

    def status(self, text: str) -> None:
        self.err.write(PREFIX + text + "\n")
        self.err.flush()


class ChannelsNdjson(_Lines):
    def __init__(self, *, snapshots: bool = False, **streams: Any) -> None:
        super().__init__(**streams)
        self.snapshots = snapshots
        self._hidden_told = False

    def update(self, poll: ChannelsPoll) -> None:
        if poll.error is not None:
            self.status(poll_failed_text(poll.poll, poll.error, poll.next_in))
            return
        if poll.hidden and not self._hidden_told:
            self._hidden_told = True
            self.status(f"{_hidden_text(poll.hidden)} not shown (--all shows them)")
        lines = [snapshot_object(poll)] if poll.first or self.snapshots else []
        lines += [change_object(c) for c in poll.changes]
        self.write(lines)


def _hidden_text(n: int) -> str:
    return f"{n} internal {SERVER_TO_USER_PREFIX}* channel{'s' if n != 1 else ''}"


def member_change_object(c: MemberChange, has_info: bool) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "time": iso_time(c.time),
        "type": c.type,
        "channel": c.channel,
        "user_id": c.user_id,
    }
    if has_info:
        obj["user_info"] = c.user_info
    return obj


class MembersNdjson(_Lines):
    def __init__(self, watch: MembersWatch, **streams: Any) -> None:
        super().__init__(**streams)
        self.watch = watch

    def status(self, text: str, state: str | None = None) -> None:
        super().status(text)

    def update(self, update: MembersUpdate) -> None:
        if update.error is not None:
            self.status(poll_failed_text(update.poll, update.error, update.next_in))
            return
        has_info = self.watch.has_info
        lines: list[dict[str, Any]] = []
        if update.snapshot:
            present = sorted(
                (m for m in update.members.values() if m.left_at is None), key=lambda m: m.user_id
            )
            members = [
                {"user_id": m.user_id, **({"user_info": m.user_info} if has_info else {})}
                for m in present
            ]
            snap: dict[str, Any] = {
                "time": iso_time(update.time),
                "type": "snapshot",
                "channel": update.channel,
                "members": members,
                "count": len(members),
            }
            if self.watch.user_id is not None:
                snap["self"] = self.watch.user_id
            lines.append(snap)
        lines += [member_change_object(c, has_info) for c in update.changes]
        self.write(lines)


# --- live views ------------------------------------------------------------------------------


def _clock(t: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(t))


def duration(seconds: float) -> str:
    """``42s``, ``3m04s``, ``2h05m``."""
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


def sort_rows(rows: list[ChannelRow], sort: str) -> list[ChannelRow]:
    """name: A-Z; count: most subscriptions first (then users, then name); age: newest first."""
    if sort == "count":
        return sorted(
            rows, key=lambda r: (-(r.subscription_count or 0), -(r.user_count or 0), r.name)
        )
    if sort == "age":
        return sorted(rows, key=lambda r: (-r.first_seen, r.name))
    return sorted(rows, key=lambda r: r.name)


class _Live:
    """A rich Live drawn from ``_render`` by rich's refresh thread."""

    fps = 4.0

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._live: Any = None
        #: what the clock says while drawing (tests and benchmarks pass a fixed one)
        self.now = time.time

    def __enter__(self) -> Any:
        from rich.live import Live

        self._live = Live(
            console=render.console(),
            get_renderable=self.renderable,
            refresh_per_second=self.fps,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self._live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.stop()

    def height(self) -> int:
        return int(self._live.console.height) if self._live is not None else 24

    def renderable(self) -> Any:
        raise NotImplementedError


class ChannelsLive(_Live):
    """Header (server, poll, latency, errors), then the channels, sorted, changes highlighted."""

    def __init__(
        self, server: str, *, prefix: str | None = None, sort: str = "name", interval: float = 1.0
    ) -> None:
        super().__init__()
        self.server = server
        self.prefix = prefix
        self.sort = sort
        self.interval = interval
        self._rows: list[ChannelRow] = []
        self._sorted: list[ChannelRow] | None = []
        self._poll: ChannelsPoll | None = None
        self._ok: ChannelsPoll | None = None  # the last poll that succeeded
        self._subs = 0

    def update(self, poll: ChannelsPoll) -> None:
        rows = list(poll.rows.values()) if poll.rows is not None else None
        with self._lock:
            self._poll = poll
            if rows is not None:
                self._ok = poll
                self._rows, self._sorted = rows, None
                self._subs = sum(r.subscription_count or 0 for r in rows if r.vacated_at is None)

    def renderable(self) -> Any:
        from rich import box
        from rich.console import Group
        from rich.table import Table
        from rich.text import Text

        now = self.now()
        with self._lock:
            poll, ok, subs = self._poll, self._ok, self._subs
            if self._sorted is None:
                self._sorted = sort_rows(self._rows, self.sort)
            rows = self._sorted
        occupied = ok.occupied if ok is not None else 0
        where = f" · prefix {self.prefix}" if self.prefix else ""
        parts: list[Any] = [
            Text.assemble(
                ("channels", "bold"),
                f" · {self.server}{where} · every {self.interval:g}s · sort: {self.sort}",
                overflow="ellipsis",
                no_wrap=True,
            ),
            Text.assemble(
                (f"{occupied} occupied", "bold"),
                f" · {subs} subscription{'s' if subs != 1 else ''}",
                overflow="ellipsis",
                no_wrap=True,
            ),
        ]
        if poll is None:
            parts.append(Text("first poll…", style="dim"))
        else:
            next_in = max(0.0, poll.time + poll.next_in - now)
            parts.append(
                Text(
                    f"poll {poll.poll} at {_clock(poll.time)} · {poll.latency * 1000:.0f} ms · "
                    f"{poll.requests} request{'s' if poll.requests != 1 else ''} · "
                    f"next in {next_in:.1f}s",
                    style="dim",
                    overflow="ellipsis",
                    no_wrap=True,
                )
            )
            if poll.error is not None:
                after = (
                    f" (Retry-After {poll.retry_after:g}s)" if poll.retry_after is not None else ""
                )
                since = f"; table as of poll {ok.poll}" if ok is not None else ""
                parts.append(
                    Text(
                        f"poll {poll.poll} failed: {poll.error}{after}{since}",
                        style="bold red",
                        overflow="ellipsis",
                        no_wrap=True,
                    )
                )
            elif ok is not None and ok.hidden:
                parts.append(Text(f"{_hidden_text(ok.hidden)} not shown (--all)", style="dim"))
        visible = max(1, self.height() - len(parts) - 3)
        table = Table(box=box.SIMPLE_HEAD, expand=True, pad_edge=False, header_style="bold")
        table.add_column("channel", no_wrap=True, overflow="ellipsis", ratio=1)
        table.add_column("subs", justify="right", no_wrap=True)
        table.add_column("users", justify="right", no_wrap=True)
        table.add_column("since", no_wrap=True)
        table.add_column("age", justify="right", no_wrap=True)
        table.add_column("change", no_wrap=True)
        shown = 0
        for row in rows:
            if shown >= visible:
                break
            if row.vacated_at is not None and now - row.vacated_at > 2 * HIGHLIGHT:
                continue
            shown += 1
            table.add_row(*_cells(row, now), style=_style(row, now))
        parts.append(table)
        if len(rows) > shown:
            parts.append(Text(f"{shown} of {occupied} shown (sorted by {self.sort})", style="dim"))
        return Group(*parts)


def _cells(row: ChannelRow, now: float) -> tuple[str, str, str, str, str, str]:
    since = ("≤" if row.at_start else "") + _clock(row.first_seen)
    fresh = now - row.changed_at < HIGHLIGHT
    change = ""
    if row.change == "vacated":
        change = "vacated"
    elif fresh and row.change == "occupied":
        change = "new"
    elif fresh and row.change in ("up", "down"):
        change = f"{'▲' if row.delta >= 0 else '▼'} {row.delta:+d}"
    users = "" if row.user_count is None else str(row.user_count)
    subs = "" if row.subscription_count is None else str(row.subscription_count)
    if row.vacated_at is not None:
        subs, users = "0", "" if row.user_count is None else "0"
    return row.name, subs, users, since, duration(now - row.first_seen), change


def _style(row: ChannelRow, now: float) -> str:
    if row.vacated_at is not None:
        return "dim strike red" if now - row.vacated_at < HIGHLIGHT else "dim strike"
    if now - row.changed_at >= HIGHLIGHT:
        return ""
    return {"occupied": "bold green", "up": "green", "down": "yellow"}.get(row.change, "")


class MembersLive(_Live):
    """Header (channel, how it is watched, connection), the members, the latest joins/leaves."""

    def __init__(self, watch: MembersWatch, *, recent: int = 6) -> None:
        super().__init__()
        self.watch = watch
        self._members: list[Any] = []
        self._recent: deque[MemberChange] = deque(maxlen=recent)
        self._update: MembersUpdate | None = None
        self._state = "starting"
        self._message = ""

    def status(self, text: str, state: str | None = None) -> None:
        with self._lock:
            self._message = text
            if state is not None and state != "signed_in":
                self._state = state

    def update(self, update: MembersUpdate) -> None:
        members = sorted(update.members.values(), key=lambda m: m.user_id)
        with self._lock:
            self._update = update
            if update.error is None:
                self._members = members
                self._recent.extend(update.changes)
                if update.poll is not None:
                    self._state = "polling"

    def renderable(self) -> Any:
        from rich import box
        from rich.console import Group
        from rich.table import Table
        from rich.text import Text

        now = self.now()
        w = self.watch
        with self._lock:
            members, recent = list(self._members), list(self._recent)
            update, state, message = self._update, self._state, self._message
        if w.mode == "websocket":
            how = f"joined as {w.user_id}: the others see this member"
        else:
            how = f"polled every {w.interval:g}s: nobody sees the watcher; no user_info over REST"
        present = sum(1 for m in members if m.left_at is None)
        parts: list[Any] = [
            Text.assemble((w.channel, "bold"), f" · {w.server}", overflow="ellipsis", no_wrap=True),
            Text(how, style="dim", overflow="ellipsis", no_wrap=True),
            Text.assemble(
                (state, "bold green" if state in ("subscribed", "polling") else "bold yellow"),
                f" · {present} member{'s' if present != 1 else ''}",
                *([f" · poll {update.poll}"] if update is not None and update.poll else []),
                overflow="ellipsis",
                no_wrap=True,
            ),
        ]
        if update is not None and update.error is not None:
            parts.append(
                Text(
                    poll_failed_text(update.poll, update.error, None),
                    style="bold red",
                    no_wrap=True,
                )
            )
        elif message:
            parts.append(Text(message, style="dim", overflow="ellipsis", no_wrap=True))
        visible = max(1, self.height() - len(parts) - 4 - len(recent))
        table = Table(box=box.SIMPLE_HEAD, expand=w.has_info, pad_edge=False, header_style="bold")
        table.add_column("user_id", no_wrap=True, overflow="ellipsis", max_width=32)
        table.add_column("since", no_wrap=True)
        table.add_column("", no_wrap=True)
        if w.has_info:
            table.add_column("user_info", no_wrap=True, overflow="ellipsis", ratio=1)
        members = [m for m in members if m.left_at is None or now - m.left_at < 2 * HIGHLIGHT]
        for m in members[:visible]:
            info = "" if m.user_info is None else render.dumps(m.user_info)
            mark = "you" if m.user_id == w.user_id else ""
            style = ""
            if m.left_at is not None:
                mark, style = "left", "dim strike red" if now - m.left_at < HIGHLIGHT else "dim"
            elif not m.at_start and now - m.changed_at < HIGHLIGHT:
                mark, style = "joined", "bold green"
            since = ("≤" if m.at_start else "") + _clock(m.since)
            table.add_row(m.user_id, since, mark, *([info] if w.has_info else []), style=style)
        parts.append(table)
        if len(members) > visible:
            parts.append(Text(f"{visible} of {len(members)} shown", style="dim"))
        for c in recent:
            verb = "joined" if c.type == "added" else "left  "
            info = "" if c.user_info is None or not w.has_info else " " + render.dumps(c.user_info)
            parts.append(
                Text(
                    f"{_clock(c.time)} {verb} {c.user_id}{info}",
                    style="green" if c.type == "added" else "red",
                    overflow="ellipsis",
                    no_wrap=True,
                )
            )
        return Group(*parts)


# --- entry points ----------------------------------------------------------------------------


def show_channels(
    polls: Generator[ChannelsPoll, None, None],
    *,
    as_json: bool,
    server: str,
    prefix: str | None = None,
    sort: str = "name",
    interval: float = 1.0,
    snapshots: bool = False,
) -> None:
    """Draw every poll until the polls end (or Ctrl-C): NDJSON, or the live table."""
    with contextlib.closing(polls):
        if render.wants_json(as_json):
            sink = ChannelsNdjson(snapshots=snapshots)
            for poll in polls:
                sink.update(poll)
            return
        first = next(polls, None)  # a refusal at the first poll is reported before any drawing
        if first is None:
            return
        with ChannelsLive(server, prefix=prefix, sort=sort, interval=interval) as live:
            live.update(first)
            for poll in polls:
                live.update(poll)


@contextlib.contextmanager
def open_members(as_json: bool, watch: MembersWatch) -> Iterator[MembersNdjson | MembersLive]:
    """NDJSON when asked or when stdout is not a terminal, else the live view."""
    if render.wants_json(as_json):
        sink = MembersNdjson(watch)
        if watch.mode == "rest":
            sink.status(
                f"polling {watch.channel} every {watch.interval:g}s over the HTTP API: no member "
                "joins, so the others do not see this; user_info is not available over REST"
            )
        yield sink
        return
    with MembersLive(watch) as live:
        yield live
