"""Events: parsing DATA arguments and batch files, validation, wire encoding (pure)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pushcli.errors import InputError
from pushcli.protocol import limits
from pushcli.protocol.channels import check_channel


@dataclass(slots=True)
class Event:
    """One event as it goes on the wire: ``data`` is already the wire string."""

    channel: str
    name: str
    data: str
    socket_id: str | None = None
    #: where it came from in the input, for messages (``line 3`` / ``event 2``)
    origin: str = ""
    #: the data before encryption, for encrypted channels (what --failed-to keeps)
    plain: str | None = None
    #: when it was recorded (unix seconds, from ``listen --record``), for ``batch --replay``
    time: float | None = None

    def wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {"channel": self.channel, "name": self.name, "data": self.data}
        if self.socket_id:
            out["socket_id"] = self.socket_id
        return out


@dataclass
class BatchParse:
    events: list[Event] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode


class JSONInputError(ValueError):
    """Text that parses as Python's JSON but is not JSON another party accepts."""

    def __init__(self, msg: str) -> None:
        super().__init__(msg)
        self.msg = msg


def _no_constant(name: str) -> Any:
    raise JSONInputError(f"{name} is not JSON; use null or a string")


def loads(text: str) -> Any:
    """``json.loads`` for what pushcli sends: ``NaN``/``Infinity`` refused (JSON has no such
    values and JavaScript's JSON.parse rejects them), nesting too deep for the parser refused.

    Raises ``ValueError`` (``json.JSONDecodeError`` or :class:`JSONInputError`), with ``msg``.
    """
    try:
        return json.loads(text, parse_constant=_no_constant)
    except RecursionError:
        raise JSONInputError("nested too deeply") from None


def wire_data(value: Any) -> str:
    """Objects are JSON-encoded once; strings go as they are."""
    if isinstance(value, str):
        return value
    try:
        return _encode(value)
    except RecursionError:
        raise InputError("data is nested too deeply") from None
    except ValueError as e:  # NaN or an infinite float (1e999 parses as one): not JSON
        raise InputError(f"data is not JSON: {e}") from None


def data_from_text(text: str, *, raw: bool = False) -> str:
    """Wire data for a DATA argument: JSON text as given (validated), or a plain string.

    Text that looks like JSON (starts with ``{``, ``[`` or ``"``) must parse unless ``raw``.
    """
    if raw:
        return text
    stripped = text.strip()
    if not stripped:
        return text
    try:
        loads(stripped)
    except ValueError as e:
        if stripped[0] not in '{["':
            return text
        if not isinstance(e, json.JSONDecodeError):  # NaN, too deep: the message says why
            raise InputError(f"DATA is not valid JSON ({e})") from None
        problem = f"DATA is not valid JSON ({e.msg}, column {e.colno})"
        hint = _quoting_hint(stripped)
        if hint is None:
            raise InputError(f"{problem}; use --raw to send it as it is") from None
        raise InputError(problem, hint=hint) from None
    return stripped


_SINGLE_QUOTED = re.compile(r"""[{\[,:]\s*'""")
_BARE_KEY = re.compile(r"[{,]\s*[A-Za-z_][\w-]*\s*:")


def _quoting_hint(text: str) -> str | None:
    """What went wrong with quotes, when it looks like a quoting mistake."""
    if _SINGLE_QUOTED.search(text):
        fixed = text.replace("'", '"')
        try:
            loads(fixed)
        except ValueError:
            fixed = '{"text": "hello"}'
        return f"JSON strings need double quotes, e.g. '{fixed}' (the outer single quotes are for the shell)"
    if '"' not in text and _BARE_KEY.search(text):
        return (
            "keys and strings need double quotes (typed, the shell removed them: put DATA in "
            """single quotes), e.g. '{"text": "hello"}'"""
        )
    return None


def split_channels(arg: str) -> list[str]:
    return [c.strip() for c in arg.split(",") if c.strip()]


#: bad events listed one a line in a batch error; the rest are counted
MAX_REPORTED = 20
#: a reported problem longer than this is cut (a 10 KB channel name stays out of the terminal)
MAX_PROBLEM_CHARS = 200


def _json_problem(e: ValueError) -> str:
    """``json.loads``'s complaint without its ``line 1 column 5 (char 4)`` tail."""
    return getattr(e, "msg", None) or str(e)


def parse_batch_text(text: str) -> tuple[list[Any], str]:
    """Parse a batch file: JSON array, ``{"batch": [...]}`` or NDJSON.

    Returns the raw items and the unit for messages (``event`` index or ``line`` number);
    NDJSON items are ``(line_number, value)`` pairs, and a line that is not JSON is
    ``(line_number, Unparsable(why))``, so it is reported with the other bad events.
    """
    stripped = text.strip()
    if not stripped:
        raise InputError("no events in input")
    first = next(line.strip() for line in text.splitlines() if line.strip())
    try:
        doc = loads(text)
    except ValueError as e:
        if _is_document(stripped, first):
            where = f"line {e.lineno}:{e.colno}: " if isinstance(e, json.JSONDecodeError) else ""
            raise InputError(f"{where}invalid JSON ({_json_problem(e)})") from None
    else:
        if isinstance(doc, list):
            return doc, "event"
        if isinstance(doc, dict) and isinstance(doc.get("batch"), list):
            return doc["batch"], "event"
        return [(1, doc)], "line"
    numbered = [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
    try:
        # Fast path: every line is JSON, so the lines joined are one JSON array.
        values = loads("[" + ",".join(line for _, line in numbered) + "]")
    except ValueError:
        pass
    else:
        if len(values) == len(numbered):
            return [(n, v) for (n, _), v in zip(numbered, values, strict=True)], "line"
    items: list[Any] = []
    for n, line in numbered:
        try:
            items.append((n, loads(line)))
        except json.JSONDecodeError as e:
            items.append((n, Unparsable(f"invalid JSON ({e.msg}, column {e.colno})")))
        except JSONInputError as e:
            items.append((n, Unparsable(f"invalid JSON ({e.msg})")))
    return items, "line"


def _is_document(stripped: str, first: str) -> bool:
    """One JSON document (an array, or ``{"batch": ...}`` over several lines), not NDJSON:
    after a syntax error in a document nothing else can be read."""
    if stripped.startswith("["):
        return True
    try:
        loads(first)
    except ValueError:
        return first == "{" or first.replace(" ", "").startswith('{"batch":')
    return False


@dataclass(frozen=True, slots=True)
class Unparsable:
    """An NDJSON line that is not JSON: why."""

    why: str


def batch_error(errors: list[str]) -> InputError:
    """Every bad event of a batch, one a line after a count (the first MAX_REPORTED)."""
    cut = [e if len(e) <= MAX_PROBLEM_CHARS else e[: MAX_PROBLEM_CHARS - 1] + "…" for e in errors]
    if len(cut) == 1:
        return InputError(f"1 invalid event: {cut[0]}")
    lines = [f"{len(cut)} invalid events (nothing sent):"]
    lines += [f"  {e}" for e in cut[:MAX_REPORTED]]
    if len(cut) > MAX_REPORTED:
        lines.append(f"  … and {len(cut) - MAX_REPORTED} more")
    return InputError("\n".join(lines))


def validate_items(items: Iterable[Any], unit: str, *, max_data_bytes: int) -> BatchParse:
    """Turn raw items into events, one per channel; collect every error."""
    result = BatchParse()
    for i, item in enumerate(items):
        if unit == "line":
            where, obj = item if isinstance(item, tuple) else (i + 1, item)
            origin = f"line {where}"
        else:
            obj = item
            origin = f"event {i}"
        if isinstance(obj, Unparsable):
            result.errors.append(f"{origin}: {obj.why}")
            continue
        try:
            result.events.extend(event_from_obj(obj, origin, max_data_bytes=max_data_bytes))
        except InputError as e:
            result.errors.append(f"{origin}: {e.message}")
    return result


_FIELDS = frozenset({"name", "event", "channel", "channels", "data", "socket_id", "time"})


def event_from_obj(obj: Any, origin: str, *, max_data_bytes: int) -> list[Event]:
    if not isinstance(obj, dict):
        raise InputError("not a JSON object")
    if not _FIELDS.issuperset(obj):
        unknown = sorted(set(obj) - _FIELDS)
        raise InputError(f"unknown field{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}")
    name = obj.get("name", obj.get("event"))
    if not isinstance(name, str):
        raise InputError('missing "name" (or "event")')
    limits.check_event_name(name)
    channels = obj.get("channels")
    if channels is not None:
        if not isinstance(channels, list) or not all(isinstance(c, str) for c in channels):
            raise InputError('"channels" must be a list of strings')
        limits.check_channels(channels, allow_server_to_user=True)
    else:
        channel = obj.get("channel")
        if not isinstance(channel, str):
            raise InputError('missing "channel" (or "channels")')
        check_channel(channel, allow_server_to_user=True)
        channels = (channel,)
    data = wire_data(obj["data"]) if "data" in obj else "{}"
    socket_id = obj.get("socket_id")
    if socket_id is not None:
        if not isinstance(socket_id, str):
            raise InputError('"socket_id" must be a string')
        limits.check_socket_id(socket_id)
    limits.check_data_size(data, max_data_bytes)
    at = obj.get("time")
    if at is not None and (isinstance(at, bool) or not isinstance(at, int | float)):
        raise InputError('"time" must be a number (unix seconds, as listen --record writes it)')
    return [Event(c, name, data, socket_id, origin, time=at) for c in channels]


def parse_batch(text: str, *, max_data_bytes: int) -> list[Event]:
    """Parse and validate a whole batch; raise InputError listing every bad event."""
    items, unit = parse_batch_text(text)
    result = validate_items(items, unit, max_data_bytes=max_data_bytes)
    if result.errors:
        raise batch_error(result.errors)
    if not result.events:
        raise InputError("no events in input")
    return result.events


def event_to_ndjson(event: Event) -> str:
    """The event as a batch-file line, with its unencrypted data (so it can be sent again)."""
    obj = event.wire()
    if event.plain is not None:
        obj["data"] = event.plain
    if event.time is not None:
        obj["time"] = event.time  # a replay's failures can be replayed again
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
