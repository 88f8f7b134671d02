"""Triggering and batch sending: validation, encryption, chunking, retries, failures."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pushcli.client.profiles import Settings
from pushcli.errors import ExitCode, PushcliError, RejectedError, UnavailableError
from pushcli.protocol import crypto, limits
from pushcli.protocol.channels import kind_of
from pushcli.protocol.events import Event

INFO_VALUES = ("user_count", "subscription_count")


def check_info(info: str | None, allowed: Sequence[str] = INFO_VALUES) -> str | None:
    from pushcli.errors import InputError

    if not info:
        return None
    parts = [p.strip() for p in info.split(",") if p.strip()]
    bad = [p for p in parts if p not in allowed]
    if bad:
        raise InputError(
            f"unknown --info attribute {', '.join(bad)} (allowed: {', '.join(allowed)})"
        )
    return ",".join(parts)


def trigger_body(
    settings: Settings,
    channels: list[str],
    name: str,
    data: str,
    *,
    socket_id: str | None = None,
    info: str | None = None,
) -> dict[str, Any]:
    """Validate and build the body of POST /events (encrypting when the channel asks)."""
    limits.check_channels(channels, allow_server_to_user=True)
    limits.check_event_name(name)
    if socket_id is not None:
        limits.check_socket_id(socket_id)
    if kind_of(channels[0]).encrypted:
        key = crypto.require_master_key(settings.encryption_master_key, channels[0])
        data = crypto.encrypt(channels[0], data, key)
    limits.check_data_size(data, settings.max_data_bytes)
    body: dict[str, Any] = {"name": name, "data": data}
    if len(channels) == 1:
        body["channel"] = channels[0]
    else:
        body["channels"] = channels
    if socket_id:
        body["socket_id"] = socket_id
    if info:
        body["info"] = check_info(info)
    return body


def encrypt_events(settings: Settings, events: list[Event]) -> None:
    """Encrypt, in place, every event for a private-encrypted- channel; check final sizes."""
    key: bytes | None = None
    for ev in events:
        if kind_of(ev.channel).encrypted:
            if key is None:
                key = crypto.require_master_key(settings.encryption_master_key, ev.channel)
            ev.plain = ev.data
            ev.data = crypto.encrypt(ev.channel, ev.data, key)
            limits.check_data_size(ev.data, settings.max_data_bytes)


@dataclass(frozen=True, slots=True)
class Problem:
    """Why a request failed, as plain data (it crosses process boundaries; exceptions may not)."""

    message: str
    exit_code: int
    #: the HTTP status, when the server answered
    status: int | None = None
    #: it would fail every later request too (401/403/404, unreachable): the run stops
    stops: bool = False

    @classmethod
    def of(cls, e: PushcliError) -> Problem:
        status = getattr(e, "status", None)
        return cls(
            e.message,
            int(e.exit_code),
            status if isinstance(status, int) else None,
            _stops_everything(e),
        )

    def error(self, message: str | None = None) -> PushcliError:
        """An exception carrying this problem's exit code (and status), to raise."""
        text = self.message if message is None else message
        if self.exit_code == ExitCode.REJECTED:
            return RejectedError(text, status=self.status)
        if self.exit_code == ExitCode.UNAVAILABLE:
            return UnavailableError(text)
        err = PushcliError(text)
        err.exit_code = ExitCode(self.exit_code)
        return err


@dataclass
class BatchResult:
    """What a batch run did. Plain data throughout: workers send theirs back to the parent.

    Delivery is at-least-once: ``failed`` holds every event the server did not confirm (what
    ``--failed-to`` keeps); ``unknown`` the ones among them whose request got no answer (timeout,
    connection lost after sending), which the server may have delivered anyway. ``maybe_duplicated``
    counts confirmed events whose request was sent again after such an attempt: they may have
    arrived twice.
    """

    total: int = 0
    sent: int = 0
    failed: list[Event] = field(default_factory=list)
    unknown: list[Event] = field(default_factory=list)
    maybe_duplicated: int = 0
    errors: list[str] = field(default_factory=list)
    requests: int = 0
    seconds: float = 0.0
    #: the error that stopped the run (401/403/404, unreachable), if one did
    fatal: Problem | None = None
    #: the first error of any kind, for the exit code when nothing at all was sent
    first_error: Problem | None = None

    @property
    def rate(self) -> float:
        return self.sent / self.seconds if self.seconds > 0 else 0.0

    def merge(self, other: BatchResult) -> None:
        """Add another run's counts, failures and errors (seconds and total are the caller's)."""
        self.sent += other.sent
        self.failed.extend(other.failed)
        self.unknown.extend(other.unknown)
        self.maybe_duplicated += other.maybe_duplicated
        self.errors.extend(other.errors)
        self.requests += other.requests
        self.fatal = self.fatal or other.fatal
        self.first_error = self.first_error or other.first_error

    def summary(self) -> dict[str, Any]:
        return {
            "sent": self.sent,
            "failed": len(self.failed),
            "unknown": len(self.unknown),
            "maybe_duplicated": self.maybe_duplicated,
            "requests": self.requests,
            "seconds": round(self.seconds, 3),
            "events_per_second": round(self.rate, 1),
            "errors": self.errors[:20],
        }


def chunks(events: list[Event], size: int = limits.MAX_EVENTS_PER_BATCH) -> list[list[Event]]:
    return [events[i : i + size] for i in range(0, len(events), size)]


def _stops_everything(e: PushcliError) -> bool:
    """Errors that would fail every later request too: bad credentials, app gone, unreachable."""
    if isinstance(e, RejectedError):
        return e.status in (401, 403, 404)
    return isinstance(e, UnavailableError)


def _span(part: list[Event]) -> str:
    first, last = part[0].origin, part[-1].origin
    return first if first == last else f"{first}…{last}"


def _uncertain(client: Any) -> bool:
    """Whether the client's last call had an attempt with no answer (RestClient says so)."""
    return bool(getattr(client, "last_call_uncertain", False))


def send_batch(
    client: Any,
    events: list[Event],
    *,
    progress: Callable[[int], None] | None = None,
    contain_errors: bool = False,
) -> BatchResult:
    """Send ``events`` in requests of 10 over the client's connection.

    A chunk the server rejects (400, 413, …) is recorded as failed and sending goes on; an error
    that would fail every later chunk (401/403/404, unreachable after retries) stops the run and
    marks everything not sent as failed. A chunk whose request got no answer is failed *and*
    unknown (see :class:`BatchResult`). With ``contain_errors`` (workers) an unexpected exception
    becomes a problem too: the chunk in flight is unknown, the rest failed, nothing is lost.
    """
    from pushcli.client.rest import encode_body

    result = BatchResult(total=len(events))
    start = time.perf_counter()
    parts = chunks(events)
    before = client.requests_sent
    for i, part in enumerate(parts):
        body = encode_body({"batch": [ev.wire() for ev in part]})
        try:
            client.call("POST", "/batch_events", body=body)
        except PushcliError as e:
            problem, uncertain = Problem.of(e), _uncertain(client)
        except Exception as e:
            if not contain_errors:
                raise
            problem = Problem(
                f"unexpected error: {e.__class__.__name__}: {e}", ExitCode.UNEXPECTED, stops=True
            )
            uncertain = True
        else:
            result.sent += len(part)
            if _uncertain(client):
                result.maybe_duplicated += len(part)
            if progress is not None:
                progress(len(part))
            continue
        result.errors.append(f"{_span(part)}: {problem.message}")
        result.first_error = result.first_error or problem
        result.failed.extend(part)
        if uncertain:
            result.unknown.extend(part)
        if problem.stops:
            result.fatal = problem
            for rest in parts[i + 1 :]:
                result.failed.extend(rest)
            break
        if progress is not None:
            progress(len(part))
    result.requests = client.requests_sent - before
    result.seconds = time.perf_counter() - start
    return result


# --- parallel sending -----------------------------------------------------------------------


def partition(events: list[Event], workers: int) -> list[list[Event]]:
    """Split by channel, so every channel's events stay in file order within one worker.

    Channels go to the least-loaded worker, busiest channel first, so a few busy channels
    still spread evenly (a hash would put four channels on one worker as often as not).
    """
    from collections import Counter

    n = max(1, workers)
    counts = Counter(ev.channel for ev in events)
    load = [0] * n
    owner: dict[str, int] = {}
    for channel, count in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        i = load.index(min(load))
        owner[channel] = i
        load[i] += count
    parts: list[list[Event]] = [[] for _ in range(n)]
    for ev in events:
        parts[owner[ev.channel]].append(ev)
    return [p for p in parts if p]


#: below this many events one connection is faster than starting workers
PARALLEL_MIN_EVENTS = 200
_progress_counter: Any = None


def _worker_init(counter: Any) -> None:
    global _progress_counter
    _progress_counter = counter


@dataclass(slots=True)
class PartReport:
    """A worker's result, as plain data: positions in its part, counts, strings and
    :class:`Problem` s; never an exception, so it always survives the trip back (pickling)."""

    sent: int = 0
    failed: list[int] = field(default_factory=list)
    unknown: list[int] = field(default_factory=list)
    maybe_duplicated: int = 0
    errors: list[str] = field(default_factory=list)
    requests: int = 0
    fatal: Problem | None = None
    first_error: Problem | None = None

    @classmethod
    def of(cls, part: list[Event], result: BatchResult) -> PartReport:
        position = {id(ev): i for i, ev in enumerate(part)}
        return cls(
            result.sent,
            [position[id(ev)] for ev in result.failed],
            [position[id(ev)] for ev in result.unknown],
            result.maybe_duplicated,
            result.errors,
            result.requests,
            result.fatal,
            result.first_error,
        )

    def result(self, part: list[Event]) -> BatchResult:
        """The :class:`BatchResult` this report stands for, with ``part``'s events."""
        return BatchResult(
            total=len(part),
            sent=self.sent,
            failed=[part[i] for i in self.failed],
            unknown=[part[i] for i in self.unknown],
            maybe_duplicated=self.maybe_duplicated,
            errors=self.errors,
            requests=self.requests,
            fatal=self.fatal,
            first_error=self.first_error,
        )


def lost_part(part: list[Event], reason: str) -> BatchResult:
    """A part whose worker ended without a report: none of its events is confirmed, and any of
    them may have been sent."""
    problem = Problem(reason, ExitCode.UNEXPECTED, stops=True)
    return BatchResult(
        total=len(part),
        failed=list(part),
        unknown=list(part),
        errors=[f"{_span(part)}: {reason}"],
        fatal=problem,
        first_error=problem,
    )


def _worker_send(
    settings: Settings, events: list[Event], retries: int, timeout: float
) -> PartReport:
    from pushcli.client.rest import RestClient

    def bump(n: int) -> None:
        with _progress_counter.get_lock():
            _progress_counter.value += n

    result: BatchResult | None = None
    try:
        with RestClient(settings, retries=retries, timeout=timeout) as client:
            result = send_batch(
                client,
                events,
                progress=bump if _progress_counter is not None else None,
                contain_errors=True,
            )
    except Exception as e:  # noqa: BLE001 - reported as data, whatever it was
        if result is None:
            result = lost_part(events, f"unexpected error: {e.__class__.__name__}: {e}")
    return PartReport.of(events, result)


def send_parallel(
    settings: Settings,
    events: list[Event],
    *,
    workers: int,
    retries: int = 3,
    timeout: float = 10.0,
    progress: Callable[[int], None] | None = None,
) -> BatchResult:
    """Send with up to ``workers`` processes, one connection each, channels split between them.

    Each channel's events keep their order (a channel belongs to one worker); events of
    different channels may interleave, as they may with any concurrent publishers. Python
    threads would share one interpreter lock, and signing plus HTTP framing is CPU work, so
    the workers are forked processes; where fork is unavailable, or with one worker or one
    channel, everything goes over one connection in file order. Workers report plain data
    (:class:`PartReport`); a worker that dies anyway leaves its part failed and unknown.
    """
    import multiprocessing
    import os
    from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait

    from pushcli.client.rest import RestClient

    if len(events) < PARALLEL_MIN_EVENTS:
        workers = 1  # starting workers costs more than it saves
    parts = partition(events, workers) if workers > 1 and hasattr(os, "fork") else [events]
    if len(parts) <= 1:
        with RestClient(settings, retries=retries, timeout=timeout) as client:
            return send_batch(client, events, progress=progress)

    ctx = multiprocessing.get_context("fork")
    counter = ctx.Value("q", 0)
    start = time.perf_counter()
    merged = BatchResult(total=len(events))
    with ProcessPoolExecutor(
        len(parts), mp_context=ctx, initializer=_worker_init, initargs=(counter,)
    ) as pool:
        pending: dict[Future[PartReport], list[Event]] = {
            pool.submit(_worker_send, settings, part, retries, timeout): part for part in parts
        }
        shown = 0
        while pending:
            done, _ = wait(pending, timeout=0.1, return_when=FIRST_COMPLETED)
            if progress is not None:
                now = counter.value
                if now > shown:
                    progress(now - shown)
                    shown = now
            for fut in done:
                part = pending.pop(fut)
                try:
                    merged.merge(fut.result().result(part))
                except Exception as e:  # noqa: BLE001 - a dead worker: its events are unaccounted
                    merged.merge(lost_part(part, f"worker failed: {e.__class__.__name__}: {e}"))
    merged.failed.sort(key=_origin_position)  # back in input order, for --failed-to
    merged.unknown.sort(key=_origin_position)
    merged.seconds = time.perf_counter() - start
    return merged


def _origin_position(ev: Event) -> int:
    tail = ev.origin.rsplit(" ", 1)[-1]
    return int(tail) if tail.isdigit() else 0
