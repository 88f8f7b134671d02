"""What the live view knows and what its keys do: pure, no terminal, no threads.

:class:`ViewState` takes the rows and items of the tail (``add``, ``observe``) and the keys
(``press``); the sink (view.py) calls it under its lock and draws :meth:`ViewState.visible`.
Everything it keeps is bounded: the last ``max_rows`` rows, the counts of at most
:data:`MAX_NAMES` event names (the rest count as "other").
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import dataclass
from typing import Any

from pushcli.app.tail import Row
from pushcli.protocol import frames

#: distinct event names counted one by one; further names are counted together as "other"
MAX_NAMES = 500
OTHER = "other"
#: keys that close the payload view
CLOSE = ("escape", "enter", "q", "left")


def label(row: Row) -> str:
    """What the event column shows: the event name, or what a member line means."""
    if row.kind == "member":
        return "joined" if row.event.endswith("added") else "left"
    if row.kind == "presence":
        return "subscribed"
    if row.kind == "gap":
        return ""
    return row.event


def summary(row: Row) -> str:
    """The data column: the payload on one line (compact JSON), or what a line means."""
    if row.error is not None:
        return f"error: {row.error}"
    if row.kind == "member":
        info = "" if row.user_info is None else " " + _compact(row.user_info)
        return f"{row.user_id}{info}"
    if row.kind == "presence":
        n = len(row.members or {})
        return f"{n} member{'s' if n != 1 else ''}: " + ", ".join(sorted(row.members or {}))
    if row.kind == "gap":
        return row.data or ""
    value = frames.decode_json(row.data)
    if isinstance(value, str):
        return value.replace("\n", "⏎")
    return _compact(value)


def _compact(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def pretty(row: Row) -> list[str]:
    """The whole payload, pretty-printed, as lines (for the expanded view)."""
    if row.kind == "member":
        value: Any = {"user_id": row.user_id, "user_info": row.user_info}
    elif row.kind == "presence":
        value = row.members or {}
    else:
        value = frames.decode_json(row.data)
    if row.error is not None:
        return [f"error: {row.error}", "", *(row.data or "").splitlines()]
    if isinstance(value, str):
        return value.splitlines() or [""]
    return json.dumps(value, ensure_ascii=False, indent=2).splitlines()


def gap_row(t: float, seconds: float) -> Row:
    text = f"— reconnected after {seconds:.1f} s; events sent meanwhile were not received —"
    return Row(t, None, "", "gap", text)


@dataclass
class Retry:
    """The connection is down: the next attempt, when it is due, why the last one ended."""

    attempt: int | None
    retries: int | None
    due: float | None
    reason: str


class ViewState:
    """Rows, counts, connection state, and what the person looking at it asked for."""

    def __init__(self, channels: list[str], max_rows: int = 200) -> None:
        self.channels = list(channels)
        self.rows: deque[Row] = deque(maxlen=max_rows)
        #: rows matching ``filter`` (kept as they arrive, so a rare event is not pushed out of
        #: the last ``max_rows`` rows by a busy one)
        self.matching: deque[Row] = deque(maxlen=max_rows)
        self.events = 0
        self.by_channel: dict[str, int] = {}
        self.by_event: dict[str, int] = {}
        # connection
        self.state = "starting"
        self.socket_id: str | None = None
        self.subscribed: set[str] = set()
        self.members: dict[str, dict[str, Any]] = {}
        self.reconnects = 0
        self.retry: Retry | None = None
        self.message = ""
        self._connected_before = False
        self._lost_at: float | None = None
        # what the person asked for
        self.filter = ""
        #: the filter being typed after "/", or None
        self.typing: str | None = None
        #: paused: the rows as they were when paused (new ones still arrive and count)
        self.frozen: list[Row] | None = None
        self.events_at_pause = 0
        #: the selected row (an index into :meth:`visible`), when paused
        self.cursor = 0
        #: the selected row's payload is shown whole; ``scroll``: its first line shown
        self.expanded = False
        self.scroll = 0
        self.quit = False

    # --- what arrives ----------------------------------------------------------------------

    def add(self, row: Row) -> None:
        self.rows.append(row)
        if row.kind == "event":
            self.events += 1
            if row.channel is not None:
                self.by_channel[row.channel] = self.by_channel.get(row.channel, 0) + 1
            name = row.event
            if name in self.by_event:
                self.by_event[name] += 1
            elif len(self.by_event) < MAX_NAMES:
                self.by_event[name] = 1
            else:
                self.by_event[OTHER] = self.by_event.get(OTHER, 0) + 1
        if self.filter and self._matches(row):
            self.matching.append(row)

    def observe(self, item: Any) -> None:
        from pushcli.protocol.client_session import MemberAdded, MemberRemoved, Status, Subscribed

        if isinstance(item, Status):
            self._status(item)
        elif isinstance(item, Subscribed):
            self.subscribed.add(item.channel)
            if item.members is not None:
                self.members[item.channel] = dict(item.members)
        elif isinstance(item, MemberAdded):
            self.members.setdefault(item.channel, {})[item.user_id] = item.user_info
        elif isinstance(item, MemberRemoved):
            self.members.get(item.channel, {}).pop(item.user_id, None)

    def _status(self, item: Any) -> None:
        if item.state == "signed_in":
            return
        self.state = item.state
        if item.state == "connected":
            self.socket_id = item.socket_id
            self.retry = None
            if self._connected_before:
                self.reconnects += 1
                if self._lost_at is not None:
                    self.add(gap_row(item.time, item.time - self._lost_at))
            self._connected_before = True
            self._lost_at = None
        elif item.state == "reconnecting":
            self.subscribed.clear()
            if self._connected_before and self._lost_at is None:
                self._lost_at = item.time
            due = item.time + (item.delay or 0.0)
            self.retry = Retry(item.attempt, item.retries, due, item.detail)
        elif item.state == "connecting":
            self.subscribed.clear()
            if self.retry is not None:
                self.retry.due = None
                self.retry.attempt = item.attempt

    def stale(self, channel: str) -> bool:
        """The members shown for ``channel`` are from before the connection was lost."""
        return channel not in self.subscribed

    # --- what is shown ---------------------------------------------------------------------

    def _matches(self, row: Row) -> bool:
        if row.kind == "gap":
            return True  # a gap is news whatever is filtered
        needle = self.filter.casefold()
        return (
            needle in row.event.casefold()
            or needle in label(row).casefold()
            or (row.channel is not None and needle in row.channel.casefold())
        )

    def visible(self) -> list[Row]:
        """The rows the table shows: frozen when paused, those matching the filter."""
        if self.frozen is not None:
            if not self.filter:
                return self.frozen
            return [r for r in self.frozen if self._matches(r)]
        return list(self.matching if self.filter else self.rows)

    def selected(self) -> Row | None:
        if self.frozen is None:
            return None
        rows = self.visible()
        if not rows:
            return None
        return rows[min(self.cursor, len(rows) - 1)]

    @property
    def paused(self) -> bool:
        return self.frozen is not None

    # --- keys ------------------------------------------------------------------------------

    def press(self, key: str, page: int = 10) -> None:
        """One key (a character, or ``up``, ``down``, ``pageup``, ``pagedown``, ``home``,
        ``end``, ``enter``, ``escape``, ``backspace``, ``left``, ``right``)."""
        if self.typing is not None:
            self._type(key)
        elif self.expanded:
            self._scroll(key, page)
        else:
            self._table(key, page)

    def _type(self, key: str) -> None:
        assert self.typing is not None
        if key == "enter":
            self.set_filter(self.typing.strip())
            self.typing = None
        elif key == "escape":
            self.typing = None
        elif key == "backspace":
            self.typing = self.typing[:-1]
        elif len(key) == 1 and key.isprintable():
            self.typing += key

    def _scroll(self, key: str, page: int) -> None:
        if key in CLOSE:
            self.expanded = False
        elif key in ("up", "k"):
            self.scroll = max(0, self.scroll - 1)
        elif key in ("down", "j"):
            self.scroll += 1  # the view stops it at the last page
        elif key == "pageup":
            self.scroll = max(0, self.scroll - page)
        elif key in ("pagedown", " "):
            self.scroll += page
        elif key in ("home", "g"):
            self.scroll = 0

    def _table(self, key: str, page: int) -> None:
        if key in (" ", "p"):
            if self.paused:
                self.resume()
            else:
                self.pause()
        elif key in ("up", "k", "down", "j", "pageup", "pagedown", "home", "g", "end", "G"):
            if not self.paused:
                self.pause()  # the first key selects the newest row
                return
            last = max(0, len(self.visible()) - 1)
            step = {"up": -1, "k": -1, "down": 1, "j": 1, "pageup": -page, "pagedown": page}
            if key in step:
                self.cursor = min(last, max(0, self.cursor + step[key]))
            elif key in ("home", "g"):
                self.cursor = 0
            else:
                self.cursor = last
        elif key in ("enter", "right"):
            if not self.paused:
                self.pause()
            if self.selected() is not None:
                self.expanded, self.scroll = True, 0
        elif key == "/":
            self.typing = self.filter
        elif key == "escape":
            if self.filter:
                self.set_filter("")
            elif self.paused:
                self.resume()
        elif key == "q":
            self.quit = True

    def pause(self) -> None:
        self.frozen = list(self.rows)
        self.events_at_pause = self.events
        self.cursor = max(0, len(self.visible()) - 1)

    def resume(self) -> None:
        self.frozen = None
        self.expanded = False

    def set_filter(self, text: str) -> None:
        selected = self.selected()
        self.filter = text
        self.matching.clear()
        if text:
            self.matching.extend(r for r in self.rows if self._matches(r))
        if self.frozen is not None:
            rows = self.visible()
            at = next((i for i, r in enumerate(rows) if r is selected), None)
            self.cursor = at if at is not None else max(0, len(rows) - 1)
