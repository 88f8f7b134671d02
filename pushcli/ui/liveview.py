"""Output for the live tail: NDJSON (fast, no rich) or a rich Live view on a terminal.

Import this module only inside the listen command body. rich is imported only by the live
view (:mod:`pushcli.ui.live`, ``LiveSink`` here too), which is drawn by rich's own refresh
thread at a fixed rate from a snapshot taken under a lock; receiving only appends to a
bounded deque and bumps counters, so a slow terminal never slows reception.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import time
from collections.abc import Iterator
from typing import Any, TextIO

from pushcli.app.tail import Row, Sink
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


def __getattr__(name: str) -> Any:
    # the live view (and rich) only when asked for: the NDJSON path never imports them
    if name == "LiveSink":
        from pushcli.ui.live.view import LiveSink

        return LiveSink
    raise AttributeError(name)


@contextlib.contextmanager
def open_sink(as_json: bool, server: str, channels: list[str]) -> Iterator[Sink]:
    """NDJSON when asked or when stdout is not a terminal, else the live view (for listen)."""
    from pushcli.ui import render

    if render.wants_json(as_json):
        yield NdjsonSink()
        return
    from pushcli.ui.live.view import LiveSink

    with LiveSink(server, channels) as live:
        yield live
