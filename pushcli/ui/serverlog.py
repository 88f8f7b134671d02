"""The debug console of ``pushcli serve`` as a log: one line per server record.

The server (pushcli/server/records.py) emits typed records through ``Server(on_record=...)``;
this module turns each into a readable text line (``HH:MM:SS.mmm  what  socket  channel  ...``,
coloured on a terminal) or an NDJSON object (``{"time": ISO 8601, "type": ..., fields...}``).
It reads records by their ``type`` and dataclass fields only (the UI does not import the
server), so it formats anything shaped like them. No rich here: a log line is plain ANSI.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar, Protocol, TextIO

from pushcli.errors import InputError
from pushcli.ui.liveview import iso_time
from pushcli.ui.render import use_color

FORMATS = ("text", "json")


class RecordLike(Protocol):
    """What a server record looks like to the UI: a dataclass with a type and a time."""

    __dataclass_fields__: ClassVar[dict[str, Any]]
    type: ClassVar[str]
    time: float


OnRecord = Callable[[Any], None]

_names: dict[type, tuple[str, ...]] = {}
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
#: C1 control characters survive json.dumps(ensure_ascii=False); a terminal may obey them
_C1 = re.compile("[\x7f-\x9f]")
#: what is not shown as itself in a text line: control characters (a client chooses event
#: names, user ids and close reasons; none of them may move the cursor or recolour a terminal)
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def _field_names(cls: type) -> tuple[str, ...]:
    names = _names.get(cls)
    if names is None:
        names = _names[cls] = tuple(f.name for f in dataclasses.fields(cls) if f.name != "time")
    return names


def record_object(rec: RecordLike) -> dict[str, Any]:
    """``{"time": "2024-05-01T12:00:00.123Z", "type": "subscribed", <its fields>}``."""
    obj: dict[str, Any] = {"time": iso_time(rec.time), "type": rec.type}
    for name in _field_names(type(rec)):
        obj[name] = getattr(rec, name)
    return obj


def json_line(rec: RecordLike) -> str:
    line = _encode(record_object(rec))
    if _C1.search(line):
        line = _C1.sub(lambda m: f"\\u{ord(m.group()):04x}", line)
    return line


# --------------------------------------------------------------------------- text


def clean(value: Any) -> str:
    """``value`` as text with control characters shown as escapes (``\\x1b``)."""
    text = value if isinstance(value, str) else str(value)
    if _CONTROL.search(text):
        text = _CONTROL.sub(lambda m: repr(m.group())[1:-1], text)
    return text


def clock(t: float) -> str:
    """``HH:MM:SS.mmm`` in local time."""
    return time.strftime("%H:%M:%S", time.localtime(t)) + f".{int(t % 1 * 1000):03d}"


#: type -> (label, ANSI colour, console style)
LABELS: dict[str, tuple[str, str, str]] = {
    "connection_opened": ("open", "32", "green"),
    "connection_closed": ("close", "33", "yellow"),
    "subscribed": ("subscribe", "36", "cyan"),
    "unsubscribed": ("unsubscribe", "2;36", "dim cyan"),
    "api_message": ("api", "1;35", "bold magenta"),
    "api_error": ("api-error", "31", "red"),
    "client_event": ("client", "34", "blue"),
    "error": ("error", "1;31", "bold red"),
    "webhook": ("webhook", "32", "green"),
    "signin": ("signin", "36", "cyan"),
    "terminate": ("terminate", "33", "yellow"),
    "log": ("log", "2", "dim"),
}
FAILED = ("31", "red")  # a webhook that got no 2xx


def _user(user_id: Any) -> str:
    return "" if user_id is None else f"user {clean(user_id)}"


def _join(*parts: str) -> str:
    return "  ".join(p for p in parts if p)


def _hook_events(events: list[dict[str, Any]], at_most: int = 5) -> str:
    shown = []
    for e in events[:at_most]:
        text = f"{e.get('name')} {e.get('channel')}"
        if e.get("user_id") is not None:
            text += f" ({e['user_id']})"
        elif e.get("event") is not None:
            text += f" ({e['event']})"
        shown.append(clean(text))
    more = f" … +{len(events) - at_most}" if len(events) > at_most else ""
    return ", ".join(shown) + more


def webhook_ok(obj: dict[str, Any]) -> bool:
    status = obj.get("status")
    return isinstance(status, int) and 200 <= status < 300


def parts(obj: dict[str, Any]) -> tuple[str, str, str, str]:
    """(label, socket, channel, details) of a record object, for a line or a table row."""
    kind = obj.get("type", "")
    label = LABELS.get(kind, (clean(kind), "", ""))[0]
    sid = clean(obj.get("socket_id") or "")
    channel = clean(obj.get("channel") or "")
    g = obj.get
    if kind == "connection_opened":
        ua = clean(g("user_agent") or "")
        details = _join(
            f"from {clean(g('remote'))}",
            f"app {clean(g('app_id'))}",
            f"origin {clean(g('origin'))}" if g("origin") else "",
            f"ua {ua[:200]}" if ua else "",
        )
    elif kind == "connection_closed":
        code = g("code")
        how = f"code {code}" if code is not None else "no close frame"
        reason = clean(g("reason") or "")
        chans = g("channels") or []
        details = _join(
            how + (f' "{reason}"' if reason else ""),
            f"by {g('by')}" if g("by") else "",
            f"left {len(chans)} channel{'s' if len(chans) != 1 else ''}" if chans else "",
            _user(g("user_id")),
        )
    elif kind in ("subscribed", "unsubscribed", "signin"):
        details = _user(g("user_id"))
    elif kind == "api_message":
        channel = clean(", ".join(g("channels") or []))
        excluded = g("excluded_socket_id")
        details = _join(
            clean(g("event")),
            f"{g('size')} B",
            f"via {g('endpoint')}",
            f"except {clean(excluded)}" if excluded else "",
        )
    elif kind == "client_event":
        details = _join(clean(g("event")), f"{g('size')} B", _user(g("user_id")))
    elif kind == "error":
        sid = sid or clean(g("remote") or "")
        what = f"{g('code')}" + (f" {clean(g('error_type'))}" if g("error_type") else "")
        details = _join(clean(g("event")), what, clean(g("message")))
    elif kind == "api_error":
        details = _join(
            f"{clean(g('method'))} {clean(g('path'))}", f"-> {g('status')}", clean(g("message"))
        )
    elif kind == "webhook":
        answer = f"-> {g('status')}" if g("status") is not None else f"-> {clean(g('error'))}"
        details = _join(
            answer,
            f"attempt {g('attempt')}" if g("attempt", 1) > 1 or g("retry") else "",
            "retrying" if g("retry") else ("" if webhook_ok(obj) else "giving up"),
            clean(g("url")),
            _hook_events(g("events") or []),
        )
    elif kind == "terminate":
        n = g("connections")
        details = _join(_user(g("user_id")), f"{n} connection{'s' if n != 1 else ''} closed")
    else:
        details = clean(g("message") or "")
    return label, sid, channel, details


def text_line(rec: RecordLike, *, color: bool = False) -> str:
    obj = record_object(rec)
    label, sid, channel, details = parts(obj)
    stamp = clock(rec.time)
    if color:
        code = LABELS.get(rec.type, ("", "", ""))[1]
        if rec.type == "webhook" and not webhook_ok(obj):
            code = FAILED[0]
        head = f"\x1b[2m{stamp}\x1b[0m \x1b[{code}m{label:<11}\x1b[0m"
    else:
        head = f"{stamp} {label:<11}"
    return _join(head, sid, channel, details)


# --------------------------------------------------------------------------- the log file


class LogWriter:
    """Writes each record as a line to ``out`` and flushes it (so ``tail -f`` sees it).

    A write that fails (the reader of ``--log -`` went away, the disk is full) stops the log
    with one line on stderr; the server goes on serving.
    """

    def __init__(self, out: TextIO, fmt: str = "text", *, color: bool = False) -> None:
        if fmt not in FORMATS:
            raise InputError(f"unknown log format {fmt!r} (use text or json)")
        self.out = out
        self.json = fmt == "json"
        self.color = color and not self.json
        self.stopped = False

    def __call__(self, rec: RecordLike) -> None:
        if self.stopped:
            return
        line = json_line(rec) if self.json else text_line(rec, color=self.color)
        try:
            self.out.write(line + "\n")
            self.out.flush()
        except (OSError, ValueError) as e:
            self.stopped = True
            if isinstance(e, BrokenPipeError):
                with contextlib.suppress(OSError, ValueError):  # no second error at exit
                    os.dup2(os.open(os.devnull, os.O_WRONLY), self.out.fileno())
            sys.stderr.write(f"pushcli: the serve log stopped: {e}\n")
            sys.stderr.flush()


@contextlib.contextmanager
def log_writer(target: str, fmt: str) -> Iterator[LogWriter]:
    """``-``: stdout (coloured text on a terminal); else append to the file ``target``."""
    if target == "-":
        out = sys.stdout
        tty = out.isatty()
        yield LogWriter(out, fmt, color=tty and use_color())
        return
    try:
        f = Path(target).expanduser().open("a", encoding="utf-8")
    except OSError as e:
        raise InputError(f"cannot write {target}: {e.strerror or e}") from None
    with f:
        yield LogWriter(f, fmt, color=False)
