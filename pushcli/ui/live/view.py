"""The live view: a rich Live screen drawn from a :class:`~pushcli.ui.live.state.ViewState`.

Receiving only appends to the state under a lock (cheap); rich's refresh thread draws a frame
at a fixed rate from what it finds there, so a slow terminal never slows reception. Keys (when
stdin is a terminal) come from a thread of their own (keys.py) and change the state under the
same lock.

Screen, top to bottom: the connection (state, socket, server; "reconnecting in N s (attempt
k)" while it is down), subscriptions and counters, the last message, the members of presence
channels (marked when they are from before a disconnect), the table of rows or one row's whole
payload, the counts by event (and by channel), and the keys.
"""

from __future__ import annotations

import math
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from rich.cells import cell_len

from pushcli.app.tail import Row
from pushcli.ui.live import layout
from pushcli.ui.live.state import ViewState, label, pretty, summary

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions
    from rich.text import Text

    from pushcli.ui.live.keys import KeyReader

#: member lines shown at most (one per presence channel)
MAX_MEMBER_LINES = 3


def _clock(t: float, width: int) -> str:
    text = time.strftime("%H:%M:%S", time.localtime(t))
    return text if width < 12 else f"{text}.{int(t % 1 * 1000):03d}"


def _when(t: float) -> str:
    """Local date and time with milliseconds, as the table's time column (and its date)."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t)) + f".{int(t % 1 * 1000):03d}"


class LiveSink:
    """A rich Live view: header, members of presence channels, the latest events, keys."""

    def __init__(
        self,
        server: str,
        channels: list[str],
        *,
        max_rows: int = 200,
        fps: float = 8,
        keys: bool = True,
    ) -> None:
        self.server = server
        self.channels = list(channels)
        self.fps = fps
        self.view = ViewState(channels, max_rows)
        self._lock = threading.Lock()
        self._samples: deque[tuple[float, int]] = deque(maxlen=int(fps * 3) + 2)
        self._want_keys = keys
        self._keys: KeyReader | None = None
        self._live: Any = None

    # what the state holds, by its old names
    @property
    def _rows(self) -> deque[Row]:
        return self.view.rows

    @property
    def events(self) -> int:
        return self.view.events

    @property
    def state(self) -> str:
        return self.view.state

    # --- called from the receive loop: cheap, under the lock ---------------------------------

    def row(self, row: Row) -> None:
        with self._lock:
            self.view.add(row)

    def status(self, text: str, item: Any = None) -> None:
        from pushcli.protocol.client_session import Status

        with self._lock:
            # the header tells how (re)connecting goes: the message line keeps the rest
            retrying = isinstance(item, Status) and item.state in ("reconnecting", "connecting")
            self.view.message = "" if retrying else text
            if text == "closed":
                self.view.state = "closed"
                self.view.retry = None

    def problem(self, text: str) -> None:
        with self._lock:
            self.view.message = f"error: {text}"

    def observe(self, item: Any) -> None:
        with self._lock:
            self.view.observe(item)

    # --- keys (their own thread) -------------------------------------------------------------

    def press(self, key: str) -> None:
        page = max(1, (self._live.console.height if self._live is not None else 24) - 10)
        with self._lock:
            self.view.press(key, page)
            quit_ = self.view.quit
            self.view.quit = False
        if quit_:
            os.kill(os.getpid(), signal.SIGINT)  # as Ctrl-C: the listener closes cleanly
        elif self._live is not None:
            self._live.refresh()

    # --- rich's refresh thread ---------------------------------------------------------------

    def __enter__(self) -> LiveSink:
        from rich.live import Live

        from pushcli.ui.live.keys import KeyReader
        from pushcli.ui.render import console

        self._live = Live(
            console=console(),
            get_renderable=self._render,
            refresh_per_second=self.fps,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self._live.start()
        if self._want_keys:
            reader = KeyReader.for_stdin(self.press)
            if reader is not None and reader.start():
                self._keys = reader
        return self

    def __exit__(self, *exc: object) -> None:
        if self._keys is not None:
            self._keys.stop()
            self._keys = None
        if self._live is not None:
            self._live.stop()

    def _rate(self, events: int) -> float:
        now = time.monotonic()
        self._samples.append((now, events))
        t0, e0 = self._samples[0]
        return (events - e0) / (now - t0) if now - t0 > 0.2 else 0.0

    def _render(self) -> Any:
        return _Frame(self)


class _Frame:
    """One frame, laid out for the console's width and height when rich draws it."""

    def __init__(self, sink: LiveSink) -> None:
        self.sink = sink

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> Iterator[Text]:
        width = options.max_width
        height = options.height or console.height
        with self.sink._lock:
            lines = _draw(self.sink, width, height)
        yield from lines


def _draw(sink: LiveSink, width: int, height: int) -> list[Text]:
    """The frame's lines (called under the sink's lock)."""
    from rich.text import Text

    v = sink.view
    now = time.time()
    out: list[Text] = [_connection_line(sink, now, width)]
    subscribed = [c for c in sink.channels if c in v.subscribed]
    second = Text(f"events {v.events}  {sink._rate(v.events):.1f}/s   reconnects {v.reconnects}")
    if v.paused:
        new = v.events - v.events_at_pause
        second.append(f"   paused, {new} new", style="bold yellow")
    if v.filter:
        second.append(f"   filter: {v.filter}", style="bold cyan")
    second.append(f"   {len(subscribed)}/{len(sink.channels)} subscribed")
    if subscribed:
        second.append(": " + ", ".join(subscribed))
    out.append(_one_line(second, width))
    if v.message:
        out.append(_one_line(Text(v.message, style="dim"), width))
    for channel, who in list(v.members.items())[:MAX_MEMBER_LINES]:
        names = ", ".join(sorted(who)[:50]) + (" …" if len(who) > 50 else "")
        n = len(who)
        if v.stale(channel):
            text = Text(
                f"{channel} — {n} member{'s' if n != 1 else ''} before the disconnect "
                f"(not current): {names}",
                style="dim",
            )
        else:
            text = Text(f"{channel} — {n} member{'s' if n != 1 else ''}: {names}")
        out.append(_one_line(text, width))
    footer = _footer(sink, width)
    # the table's header and rows; one line is left free (a full screen would scroll)
    area = max(1, height - len(out) - len(footer) - 2)
    selected = v.selected()
    if v.expanded and selected is not None:
        body = _payload(v, selected, width, area + 1)
    else:
        body = _table(sink, width, area)
    out.extend(body)
    out.extend(Text() for _ in range(area + 1 - len(body)))  # the footer at the bottom
    out.extend(footer)
    return out


def _one_line(text: Text, width: int) -> Text:
    text.no_wrap = True
    text.overflow = "ellipsis"
    text.truncate(width, overflow="ellipsis")
    return text


def _connection_line(sink: LiveSink, now: float, width: int) -> Text:
    from rich.text import Text

    v = sink.view
    line = Text()
    retry = v.retry
    if v.state == "connected":
        line.append("● connected", style="bold green")
    elif retry is not None and v.state in ("reconnecting", "connecting"):
        attempt = ""
        if retry.attempt is not None:
            limit = "" if retry.retries is None else f" of {retry.retries}"
            attempt = f" (attempt {retry.attempt}{limit})"
        if v.state == "reconnecting" and retry.due is not None:
            seconds = max(0, math.ceil(retry.due - now))
            line.append(f"↻ reconnecting in {seconds} s{attempt}", style="bold yellow")
        else:
            line.append(f"↻ connecting{attempt} …", style="bold yellow")
        if retry.reason:
            line.append(f"  {retry.reason}", style="yellow")
    else:
        line.append(v.state, style="bold")
    if v.state == "connected":
        line.append(f"  socket {v.socket_id or '-'}")
    line.append("  " + sink.server, style="dim")
    return _one_line(line, width)


def _footer(sink: LiveSink, width: int) -> list[Text]:
    from rich.text import Text

    v = sink.view
    lines: list[Text] = []
    if v.by_event:
        text = Text("by event: ", style="dim")
        top = sorted(v.by_event.items(), key=lambda kv: (-kv[1], kv[0]))
        text.append(" · ".join(f"{name} {n}" for name, n in top[:20]))
        if len(sink.channels) > 1:
            text.append("   by channel: ", style="dim")
            text.append(" · ".join(f"{c} {v.by_channel.get(c, 0)}" for c in sink.channels))
        lines.append(_one_line(text, width))
    if sink._keys is not None:
        if v.typing is not None:
            hint = Text("filter (event or channel): ", style="bold cyan")
            hint.append(v.typing + "▏")
            hint.append("   enter apply · esc cancel", style="dim")
        elif v.expanded:
            hint = Text("↑↓ PgUp PgDn scroll · esc back", style="dim")
        elif v.paused:
            hint = Text(
                "↑↓ select · enter show whole payload · / filter · space resume · esc live",
                style="dim",
            )
        else:
            hint = Text(
                "space pause · ↑↓ select · enter show payload · / filter · q quit", style="dim"
            )
        lines.append(_one_line(hint, width))
    return lines


def _table(sink: LiveSink, width: int, area: int) -> list[Text]:
    from rich.text import Text

    v = sink.view
    rows = v.visible()
    if v.paused:  # the selected row in the middle, as far as the rows go
        cursor = min(v.cursor, max(0, len(rows) - 1))
        start = max(0, min(cursor - area // 2, len(rows) - area))
    else:
        cursor, start = -1, max(0, len(rows) - area)
    window = rows[start : start + area]
    several = len(sink.channels) > 1
    shown = [(r, label(r), summary(r)) for r in window]
    cells = cell_len
    users = [r.user_id for r in window if r.user_id and r.kind in ("event", "system")]
    events = [cells(lab) for r, lab, _ in shown if r.kind != "gap"]
    channel_w = max((cells(r.channel or "") for r in window), default=7) if several else None
    data_w = max((cells(s) for r, _, s in shown if r.kind != "gap"), default=4)
    user_w = max(cells(u) for u in users) if users else None
    w = layout.allocate(
        width, channel=channel_w, event=max(events, default=5), user=user_w, data=data_w
    )
    if users and w.data < data_w:
        # a user column would cut payloads (most rows have no user): the rows that have a
        # user id show it before their data instead
        w = layout.allocate(
            width, channel=channel_w, event=max(events, default=5), user=None, data=data_w
        )
        short = layout.FLOOR["user"] + 4
        shown = [
            (r, lab, f"{layout.middle(r.user_id, short)} · {text}")
            if r.user_id and r.kind in ("event", "system")
            else (r, lab, text)
            for r, lab, text in shown
        ]
    head = [layout.pad("time", w.time)]
    if w.channel:
        head.append(layout.pad(layout.clip("channel", w.channel), w.channel))
    head.append(layout.pad(layout.clip("event", w.event), w.event))
    if w.user:
        head.append(layout.pad(layout.clip("user", w.user), w.user))
    head.append("data")
    out = [_one_line(Text(" ".join(head), style="bold"), width)]
    for i, (row, lab, text) in enumerate(shown):
        style = "red" if row.error else ("dim" if row.kind == "system" else "")
        if row.kind == "gap":
            line = Text(layout.clip(text, width), style="bold yellow")
        else:
            parts = [_clock(row.time, w.time)]
            if w.channel:
                parts.append(layout.pad(layout.middle(row.channel or "", w.channel), w.channel))
            parts.append(layout.pad(layout.clip(lab, w.event), w.event))
            if w.user:
                user = row.user_id if row.kind in ("event", "system") else None
                parts.append(layout.pad(layout.middle(user or "", w.user), w.user))
            if row.kind == "member" and row.user_id and cells(row.user_id) > w.data // 2:
                # the id in the middle, so the user info still shows
                info = text[len(row.user_id) :]
                text = layout.middle(row.user_id, max(3, w.data // 2)) + info
            parts.append(layout.clip(text, w.data))
            line = Text(" ".join(parts), style=style)
        if start + i == cursor:
            line.stylize("reverse")
        out.append(_one_line(line, width))
    return out


def _payload(v: ViewState, row: Row, width: int, area: int) -> list[Text]:
    """One row whole: what it is, then its payload pretty-printed (scrolled to ``v.scroll``)."""
    from rich.highlighter import JSONHighlighter
    from rich.text import Text

    where = f" on {row.channel}" if row.channel else ""
    user = f" · user {row.user_id}" if row.user_id else ""
    title = Text(f"{label(row) or row.event}{where} · {_when(row.time)}{user}", style="bold")
    lines: list[str] = []
    for line in pretty(row):
        while cell_len(line) > width:  # fold, do not cut: the point is to see it all
            head = layout.head(line, width)
            lines.append(head)
            line = line[len(head) :]
        lines.append(line)
    body = max(1, area - 1)
    v.scroll = min(v.scroll, max(0, len(lines) - body))
    shown = lines[v.scroll : v.scroll + body]
    more = len(lines) - v.scroll - len(shown)
    if v.scroll or more:
        title.append(
            f"   lines {v.scroll + 1}-{v.scroll + len(shown)} of {len(lines)}", style="dim"
        )
    highlight = JSONHighlighter()
    out = [_one_line(title, width)]
    for line in shown:
        text = Text(line)
        highlight.highlight(text)
        out.append(text)
    return out
