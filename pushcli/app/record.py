"""``listen --record FILE``: every event listen shows, as one NDJSON line ``pushcli batch`` reads.

A line is ``{"time": <unix seconds, float>, "channel", "name", "data"}``; ``data`` is the wire
string exactly as received (decrypted plain text on encrypted channels: batch encrypts again
when it sends), so ``pushcli batch FILE --replay`` re-sends identical events with their spacing.
System frames, member lines and events whose data could not be decrypted are not recorded.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from pushcli.app.tail import Row, Sink
from pushcli.errors import InputError

_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def record_line(row: Row) -> str:
    obj: dict[str, Any] = {"time": round(row.time, 6), "channel": row.channel, "name": row.event}
    if row.data is not None:
        obj["data"] = row.data
    return _encode(obj)


def recordable(row: Row) -> bool:
    return row.kind == "event" and row.error is None and row.channel is not None


class RecordingSink:
    """Passes everything to ``inner``; writes each recordable event row to ``out`` (flushed)."""

    def __init__(self, inner: Sink, out: TextIO) -> None:
        self.inner = inner
        self.out = out
        self.recorded = 0

    def row(self, row: Row) -> None:
        if recordable(row):
            self.out.write(record_line(row) + "\n")
            self.out.flush()
            self.recorded += 1
        self.inner.row(row)

    def status(self, text: str, item: Any = None) -> None:
        self.inner.status(text, item)

    def problem(self, text: str) -> None:
        self.inner.problem(text)

    def observe(self, item: Any) -> None:
        self.inner.observe(item)


@contextlib.contextmanager
def recording(sink: Sink, path: Path | None) -> Iterator[Sink]:
    """``sink`` itself without a path; else a :class:`RecordingSink` writing to ``path``."""
    if path is None:
        yield sink
        return
    try:
        out = path.expanduser().open("w", encoding="utf-8")
    except OSError as e:
        raise InputError(f"cannot write {path}: {e.strerror}") from None
    with out:
        yield RecordingSink(sink, out)
