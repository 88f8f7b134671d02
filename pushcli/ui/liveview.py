"""Output for the live tail: NDJSON (fast, no rich) or a rich Live view on a terminal.

Import this module only inside the listen command body. rich is imported only by
:class:`LiveSink`. The Live view is drawn by rich's own refresh thread at a fixed rate from a
snapshot taken under a lock; receiving only appends to a bounded deque and bumps counters, so
a slow terminal never slows reception.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator
from typing import Any, TextIO

from pushcli.app.tail import Row
from pushcli.protocol import frames

PREFIX = "pushcli: "
#: one encoder for every NDJSON line: json.dumps(obj, **options) builds a new one per call
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


_decode = frames.decode_json  # data that may be JSON inside a string


_second_cache: dict[int, str] = {}


def iso_time(t: float) -> str:
    """ISO-8601 UTC with milliseconds and ``Z``: ``2024-05-01T12:00:00.123Z``."""
    s = int(t)
    prefix = _second_cache.get(s)
    if prefix is None:
        prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(s))
        _second_cache.clear()
        _second_cache[s] = prefix
    return f"{prefix}.{int((t - s) * 1000):03d}Z"


_encode_str = json.JSONEncoder(ensure_ascii=False).encode


def ndjson_line(row: Row) -> str:
    """The NDJSON line for a row (what :func:`row_object` encodes, faster for events).

    An event whose data is JSON on one line is written with that text as it came, so the
    value is not decoded and encoded again (it is still parsed once, to know it is JSON).
    """
    raw = row.data
    if row.kind != "event" or row.error is not None or raw is None or "\n" in raw or "\r" in raw:
        return _encode(row_object(row))
    try:
        frames.loads(raw)
    except (ValueError, RecursionError):  # as frames.decode_json: too deep is not JSON
        return _encode(row_object(row))
    user = "" if row.user_id is None else f',"user_id":{_encode_str(row.user_id)}'
    return (
        f'{{"time":"{iso_time(row.time)}","channel":{_encode_str(row.channel)},'
        f'"event":{_encode_str(row.event)},"data":{raw.strip()}{user}}}'
    )


def row_object(row: Row) -> dict[str, Any]:
    obj: dict[str, Any] = {"time": iso_time(row.time), "channel": row.channel, "event": row.event}
    if row.kind == "member":
        obj["user_id"] = row.user_id
        obj["user_info"] = row.user_info
    elif row.kind == "presence":
        obj["members"] = row.members
        obj["count"] = len(row.members or {})
    elif row.error is not None:
        obj["error"] = row.error
    else:
        obj["data"] = _decode(row.data)
    if row.kind in ("event", "system") and row.user_id is not None:
        obj["user_id"] = row.user_id
    return obj


class NdjsonSink:
    """One JSON object per line on stdout; status lines on stderr.

    Lines are flushed before pushcli waits for the network again (a callback scheduled on the
    event loop), not after every line: a burst of frames read together is written with one
    system call, and a reader still sees every line as soon as its frame was handled.
    """

    def __init__(self, out: TextIO | None = None, err: TextIO | None = None) -> None:
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self._pending = False
        self._broken: BrokenPipeError | None = None

    def row(self, row: Row) -> None:
        if self._broken is not None:
            raise self._broken
        line = ndjson_line(row)
        try:
            self.out.write(line + "\n")
        except BrokenPipeError:
            self._silence()
            raise
        if not self._pending:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                self.flush()
                return
            self._pending = True
            loop.call_soon(self.flush)

    def flush(self) -> None:
        self._pending = False
        try:
            self.out.flush()
        except BrokenPipeError as e:
            self._silence()
            self._broken = e  # raised by the next row(), where the listener can stop

    def _silence(self) -> None:
        # the reader went away (| head): stop quietly, without a second error at exit
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, self.out.fileno())

    def status(self, text: str, item: Any = None) -> None:
        if self._pending:
            self.flush()  # data first, so stdout and stderr stay in order
        self.err.write(PREFIX + text + "\n")
        self.err.flush()

    def problem(self, text: str) -> None:
        self.status(text)

    def observe(self, item: Any) -> None:
        return None


def _summary(row: Row) -> str:
    if row.error is not None:
        return f"error: {row.error}"
    if row.kind == "member":
        verb = "joined" if row.event.endswith("added") else "left"
        info = "" if row.user_info is None else " " + json.dumps(row.user_info, ensure_ascii=False)
        return f"{verb}{info}"
    if row.kind == "presence":
        return f"{len(row.members or {})} members: " + ", ".join(sorted(row.members or {}))
    value = _decode(row.data)
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class LiveSink:
    """A rich Live view: header, members of presence channels, the latest events."""

    def __init__(
        self, server: str, channels: list[str], *, max_rows: int = 200, fps: float = 8
    ) -> None:
        self.server = server
        self.channels = list(channels)
        self.fps = fps
        self._lock = threading.Lock()
        self._rows: deque[Row] = deque(maxlen=max_rows)
        self._samples: deque[tuple[float, int]] = deque(maxlen=int(fps * 3) + 2)
        self.state = "starting"
        self.socket_id: str | None = None
        self.subscribed: set[str] = set()
        self.members: dict[str, dict[str, Any]] = {}
        self.events = 0
        self.reconnects = 0
        self.message = ""
        self._connected_before = False
        self._live: Any = None

    # --- called from the receive loop: cheap, under the lock ---------------------------------

    def row(self, row: Row) -> None:
        with self._lock:
            self._rows.append(row)
            if row.kind == "event":
                self.events += 1

    def status(self, text: str, item: Any = None) -> None:
        with self._lock:
            self.message = text
            if text == "closed":
                self.state = "closed"

    def problem(self, text: str) -> None:
        with self._lock:
            self.message = f"error: {text}"

    def observe(self, item: Any) -> None:
        from pushcli.protocol.client_session import MemberAdded, MemberRemoved, Status, Subscribed

        with self._lock:
            if isinstance(item, Status):
                if item.state != "signed_in":
                    self.state = item.state
                if item.state == "connected":
                    self.socket_id = item.socket_id
                    if self._connected_before:
                        self.reconnects += 1
                    self._connected_before = True
                elif item.state in ("reconnecting", "connecting"):
                    self.subscribed.clear()
            elif isinstance(item, Subscribed):
                self.subscribed.add(item.channel)
                if item.members is not None:
                    self.members[item.channel] = dict(item.members)
            elif isinstance(item, MemberAdded):
                self.members.setdefault(item.channel, {})[item.user_id] = item.user_info
            elif isinstance(item, MemberRemoved):
                self.members.get(item.channel, {}).pop(item.user_id, None)

    # --- rich's refresh thread ---------------------------------------------------------------

    def __enter__(self) -> LiveSink:
        from rich.live import Live

        from pushcli.ui.render import console

        self._live = Live(
            console=console(),
            get_renderable=self._render,
            refresh_per_second=self.fps,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self._live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.stop()

    def _rate(self, events: int) -> float:
        now = time.monotonic()
        self._samples.append((now, events))
        t0, e0 = self._samples[0]
        return (events - e0) / (now - t0) if now - t0 > 0.2 else 0.0

    def _render(self) -> Any:
        from rich.console import Group
        from rich.table import Table
        from rich.text import Text

        with self._lock:
            rows = list(self._rows)
            members = {c: dict(m) for c, m in self.members.items()}
            state, socket_id, message = self.state, self.socket_id, self.message
            subscribed = [c for c in self.channels if c in self.subscribed]
            events, reconnects = self.events, self.reconnects
        rate = self._rate(events)
        colour = {"connected": "green", "reconnecting": "yellow"}.get(state, "")
        head = Table.grid(padding=(0, 2))
        head.add_row(
            Text(state, style=f"bold {colour}".strip()),
            Text(f"socket {socket_id or '-'}"),
            Text(self.server, style="dim"),
        )
        head.add_row(
            Text(f"{len(subscribed)}/{len(self.channels)} subscribed: " + ", ".join(subscribed)),
            Text(f"events {events}  {rate:.1f}/s"),
            Text(f"reconnects {reconnects}"),
        )
        parts: list[Any] = [head]
        if message:
            parts.append(Text(message, style="dim", overflow="ellipsis", no_wrap=True))
        used = 3 + len(parts)
        for channel, who in members.items():
            names = ", ".join(sorted(who)[:50]) + (" …" if len(who) > 50 else "")
            parts.append(
                Text(f"{channel} — {len(who)} members: {names}", overflow="ellipsis", no_wrap=True)
            )
            used += 1
        height = self._live.console.height if self._live is not None else 24
        visible = max(1, height - used - 4)
        table = Table(expand=True, header_style="bold", pad_edge=False)
        table.add_column("time", no_wrap=True)
        table.add_column("channel", no_wrap=True, overflow="ellipsis", max_width=30)
        table.add_column("event", no_wrap=True, overflow="ellipsis", max_width=32)
        table.add_column("user", no_wrap=True, overflow="ellipsis", max_width=20)
        table.add_column("data", no_wrap=True, overflow="ellipsis", ratio=1)
        for row in rows[-visible:]:
            style = "red" if row.error else ("dim" if row.kind == "system" else "")
            table.add_row(
                time.strftime("%H:%M:%S", time.localtime(row.time))
                + f".{int(row.time % 1 * 1000):03d}",
                row.channel or "",
                row.event,
                row.user_id or "",
                _summary(row),
                style=style,
            )
        parts.append(table)
        return Group(*parts)


@contextlib.contextmanager
def open_sink(as_json: bool, server: str, channels: list[str]) -> Iterator[NdjsonSink | LiveSink]:
    """NDJSON when asked or when stdout is not a terminal, else the live view (for listen)."""
    from pushcli.ui import render

    if render.wants_json(as_json):
        yield NdjsonSink()
        return
    with LiveSink(server, channels) as live:
        yield live
