"""``pushcli batch``: many requests in flight, each channel's events in order.

On a real link a request's round trip, not the CPU, sets the pace: batch speed is requests in
flight x 10 events / RTT. So ``send`` keeps ``concurrency`` requests in flight (default 32), one
sender thread and one connection each (:class:`~pushcli.client.stdhttp.StdlibTransport`), while
keeping the promise that each channel's events arrive in input order: a channel's next request
waits until its previous one is done (confirmed, or failed after its retries). Requests are
planned up front (:func:`plan`): a channel's events go in runs of 10, so a request usually
holds one channel and many channels are in flight at once; the short tails are packed
together. One busy channel therefore means one request at a time — ``--unordered`` lifts the
rule (requests of 10 in input order, any sender). A 429 or 503 pauses every sender
(:class:`~pushcli.client.rest.SharedBackoff`), not just the one that got it.

``--parallel P`` spreads the senders over P forked processes, channels split between them
(threads share one interpreter lock; on loopback the CPU is the limit). Without
``--concurrency`` each process has one request in flight, which is what ``--parallel`` always
meant. Processes report plain data (:class:`PartReport`); a stopping error (401/403/404,
unreachable after retries) stops the process it happened in, or the run without ``--parallel``.
"""

from __future__ import annotations

import heapq
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pushcli.app import publish
from pushcli.app.publish import BatchResult, Outcome, Problem
from pushcli.client.profiles import Settings
from pushcli.errors import ExitCode, InputError, PartialFailure, PushcliError
from pushcli.protocol import limits
from pushcli.protocol.events import Event, event_to_ndjson

#: requests in flight by default (one connection each)
DEFAULT_CONCURRENCY = 32
#: below this many events one process is faster than starting workers
PARALLEL_MIN_EVENTS = 200
SIZE = limits.MAX_EVENTS_PER_BATCH


@dataclass(frozen=True, slots=True)
class Options:
    """How to send: requests in flight (in all), processes, order, retries, timeout."""

    concurrency: int = DEFAULT_CONCURRENCY
    processes: int = 1
    ordered: bool = True
    retries: int = 3
    timeout: float = 10.0

    @classmethod
    def of(
        cls,
        *,
        concurrency: int | None = None,
        parallel: int | None = None,
        unordered: bool = False,
        retries: int = 3,
        timeout: float = 10.0,
    ) -> Options:
        """The command's options: ``--parallel P`` alone means P processes with one request in
        flight each (as it always did); ``--concurrency N`` is in flight in all, at least one
        per process."""
        processes = parallel or 1
        if concurrency is None:
            concurrency = processes if parallel is not None else DEFAULT_CONCURRENCY
        return cls(max(concurrency, processes), processes, not unordered, retries, timeout)


# --------------------------------------------------------------------------- the plan (pure)


def plan(events: list[Event], *, ordered: bool = True, senders: int = 1) -> list[list[int]]:
    """The requests to send, as positions in ``events``, in the order to start them.

    One sender, or unordered: requests of 10 in input order. Ordered with several senders:
    each channel's events in runs of 10 (in order), and the channels' last, shorter runs
    packed together (first fit, a run never split), so that as many channels as possible can
    be in flight at once while requests stay full. Sorted by their first event's position, so
    sending follows the input as far as the order rule allows.
    """
    n = len(events)
    if not ordered or senders <= 1:
        return [list(range(i, min(i + SIZE, n))) for i in range(0, n, SIZE)]
    by_channel: dict[str, list[int]] = {}
    for i, ev in enumerate(events):
        by_channel.setdefault(ev.channel, []).append(i)
    requests: list[list[int]] = []
    tails: list[list[int]] = []
    for positions in by_channel.values():
        full = len(positions) - len(positions) % SIZE
        requests.extend(positions[i : i + SIZE] for i in range(0, full, SIZE))
        if full < len(positions):
            tails.append(positions[full:])
    bins: list[list[int]] = []
    for tail in tails:  # channels in order of first appearance
        for b in bins:
            if len(b) + len(tail) <= SIZE:
                b.extend(tail)
                break
        else:
            bins.append(list(tail))
    requests.extend(bins)
    requests.sort(key=lambda r: r[0])
    return requests


class Schedule:
    """Which planned request may go next (pure; the caller holds a lock).

    Ordered: a request is ready when, for each of its channels, every earlier request of that
    channel is done. ``stop()`` hands out nothing more; what was never handed out is
    :meth:`undispatched`.
    """

    def __init__(self, events: list[Event], requests: list[list[int]], *, ordered: bool) -> None:
        self.requests = requests
        self.in_flight = 0
        self.stopped = False
        self._dispatched = [False] * len(requests)
        self._left = len(requests)
        self._channels: list[tuple[str, ...]] = []
        self._queues: dict[str, deque[int]] = {}
        self._blocked: list[int] = []
        if ordered:
            for r, positions in enumerate(requests):
                chans = tuple(dict.fromkeys(events[i].channel for i in positions))
                self._channels.append(chans)
                for ch in chans:
                    self._queues.setdefault(ch, deque()).append(r)
            self._blocked = [
                sum(1 for ch in chans if self._queues[ch][0] != r)
                for r, chans in enumerate(self._channels)
            ]
            self._ready = [r for r, b in enumerate(self._blocked) if b == 0]
        else:
            self._ready = list(range(len(requests)))
        heapq.heapify(self._ready)

    @property
    def exhausted(self) -> bool:
        """Nothing more will be handed out (all handed out, or stopped)."""
        return self.stopped or self._left == 0

    @property
    def finished(self) -> bool:
        return self.exhausted and self.in_flight == 0

    def take(self) -> int | None:
        """The next request to send, or None (none ready now, or :attr:`exhausted`)."""
        if self.stopped or not self._ready:
            return None
        r = heapq.heappop(self._ready)
        self._dispatched[r] = True
        self._left -= 1
        self.in_flight += 1
        return r

    def done(self, r: int) -> None:
        """Request ``r`` is over (whatever its outcome): its channels' next requests may go."""
        self.in_flight -= 1
        if not self._channels:
            return
        for ch in self._channels[r]:
            queue = self._queues[ch]
            queue.popleft()
            if queue:
                nxt = queue[0]
                self._blocked[nxt] -= 1
                if self._blocked[nxt] == 0:
                    heapq.heappush(self._ready, nxt)

    def stop(self) -> None:
        self.stopped = True

    def undispatched(self) -> list[int]:
        return [r for r, sent in enumerate(self._dispatched) if not sent]


# --------------------------------------------------------------------------- sending


def send(
    settings: Settings,
    events: list[Event],
    options: Options,
    *,
    progress: Callable[[int], None] | None = None,
) -> BatchResult:
    """Send every event as :class:`Options` says; the outcome as plain data, never raised
    (see :class:`~pushcli.app.publish.BatchResult`; :func:`outcome_error` for the exit)."""
    shares = _shares(events, options)
    if len(shares) > 1:
        return _send_processes(settings, shares, options, progress)
    from pushcli.client.rest import SharedBackoff

    return send_threads(
        settings,
        events,
        concurrency=options.concurrency,
        ordered=options.ordered,
        retries=options.retries,
        timeout=options.timeout,
        backoff=SharedBackoff(),
        progress=progress,
    )


def send_threads(
    settings: Settings,
    events: list[Event],
    *,
    concurrency: int,
    ordered: bool = True,
    retries: int = 3,
    timeout: float = 10.0,
    backoff: Any = None,
    progress: Callable[[int], None] | None = None,
    contain_errors: bool = False,
) -> BatchResult:
    """Up to ``concurrency`` requests in flight from this process, one thread and one
    connection each (one sender: in this thread, input order)."""
    from pushcli.client import stdhttp

    start = time.perf_counter()
    requests = plan(events, ordered=ordered, senders=concurrency)
    schedule = Schedule(events, requests, ordered=ordered)
    result = BatchResult(total=len(events))
    cond = threading.Condition()
    senders = max(1, min(concurrency, len(requests)))
    clients: list[Any] = []

    def run(client: Any, contain: bool, holding: list[int]) -> None:
        while True:
            with cond:
                while (r := schedule.take()) is None:
                    if schedule.exhausted:
                        return
                    cond.wait()
                holding[:] = [r]
            part = [events[i] for i in requests[r]]
            outcome = publish.send_chunk(client, part, contain_errors=contain)
            with cond:
                holding.clear()
                publish.record(result, part, outcome)
                schedule.done(r)
                if outcome.problem is not None and outcome.problem.stops:
                    schedule.stop()
                elif progress is not None:
                    progress(len(part))
                cond.notify_all()

    def worker(contain: bool) -> None:
        client = stdhttp.rest_client(settings, retries=retries, timeout=timeout, backoff=backoff)
        with cond:
            clients.append(client)
        holding: list[int] = []
        try:
            run(client, contain, holding)
        except BaseException as e:  # noqa: BLE001 - a sender that ends must not hang the rest
            problem = Problem(
                f"unexpected error: {e.__class__.__name__}: {e}", ExitCode.UNEXPECTED, stops=True
            )
            with cond:
                for r in holding:  # the request it was sending: not confirmed, maybe delivered
                    part = [events[i] for i in requests[r]]
                    publish.record(result, part, Outcome(problem, uncertain=True))
                    schedule.done(r)
                result.first_error = result.first_error or problem
                result.fatal = result.fatal or problem
                schedule.stop()
                cond.notify_all()
        finally:
            client.close()

    if senders == 1:
        client = stdhttp.rest_client(settings, retries=retries, timeout=timeout, backoff=backoff)
        clients.append(client)
        try:
            run(client, contain_errors, [])
        finally:
            client.close()
    else:
        threads = [
            threading.Thread(target=worker, args=(True,), name=f"pushcli-sender-{k}", daemon=True)
            for k in range(senders)
        ]
        for t in threads:
            t.start()
        try:
            for t in threads:
                while t.is_alive():
                    t.join(0.2)
        except BaseException:  # Ctrl-C: hand out nothing more; senders in I/O die with us
            with cond:
                schedule.stop()
                cond.notify_all()
            raise
    for r in schedule.undispatched():
        result.failed.extend(events[i] for i in requests[r])
    _input_order(result, events)
    result.requests = sum(c.requests_sent for c in clients)
    result.seconds = time.perf_counter() - start
    return result


def _shares(events: list[Event], options: Options) -> list[tuple[list[Event], int]]:
    """Each process's events and requests in flight (one process: all of them)."""
    import os

    processes = options.processes
    if len(events) < PARALLEL_MIN_EVENTS or not hasattr(os, "fork"):
        processes = 1  # starting workers costs more than it saves
    parts = [events]
    if processes > 1:
        parts = partition(events, processes) if options.ordered else _slices(events, processes)
    if len(parts) == 1:
        return [(events, options.concurrency)]
    share, extra = divmod(options.concurrency, len(parts))
    return [(part, max(1, share + (k < extra))) for k, part in enumerate(parts)]


def _input_order(result: BatchResult, events: list[Event]) -> None:
    """failed and unknown back in input order (for --failed-to), whatever finished first."""
    if len(result.failed) > 1 or len(result.unknown) > 1:
        position = {id(ev): i for i, ev in enumerate(events)}
        result.failed.sort(key=lambda ev: position[id(ev)])
        result.unknown.sort(key=lambda ev: position[id(ev)])


# --------------------------------------------------------------------------- processes


def partition(events: list[Event], workers: int) -> list[list[Event]]:
    """Split by channel, so every channel's events stay in file order within one worker.

    Channels go to the least-loaded worker, busiest channel first, so a few busy channels
    still spread evenly (a hash would put four channels on one worker as often as not).
    """
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


def _slices(events: list[Event], workers: int) -> list[list[Event]]:
    """Unordered: contiguous shares of whole requests."""
    requests = -(-len(events) // SIZE)
    per = -(-requests // max(1, workers)) * SIZE
    return [events[i : i + per] for i in range(0, len(events), per)]


_progress_counter: Any = None
_backoff_value: Any = None


def _worker_init(counter: Any, backoff_value: Any) -> None:
    global _progress_counter, _backoff_value
    _progress_counter, _backoff_value = counter, backoff_value


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
        errors=[f"{publish._span(part)}: {reason}"],
        fatal=problem,
        first_error=problem,
    )


def _worker_send(
    settings: Settings, events: list[Event], concurrency: int, options: Options
) -> PartReport:
    from pushcli.client.rest import SharedBackoff

    def bump(n: int) -> None:
        with _progress_counter.get_lock():
            _progress_counter.value += n

    result: BatchResult | None = None
    try:
        result = send_threads(
            settings,
            events,
            concurrency=concurrency,
            ordered=options.ordered,
            retries=options.retries,
            timeout=options.timeout,
            backoff=SharedBackoff(_backoff_value),
            progress=bump if _progress_counter is not None else None,
            contain_errors=True,
        )
    except Exception as e:  # noqa: BLE001 - reported as data, whatever it was
        result = lost_part(events, f"unexpected error: {e.__class__.__name__}: {e}")
    return PartReport.of(events, result)


def _send_processes(
    settings: Settings,
    shares: list[tuple[list[Event], int]],
    options: Options,
    progress: Callable[[int], None] | None,
) -> BatchResult:
    """One forked worker per share (its events, its requests in flight), sharing the progress
    counter and the backoff. A worker that dies anyway leaves its part failed and unknown."""
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait

    ctx = multiprocessing.get_context("fork")
    counter = ctx.Value("q", 0)
    backoff_value = ctx.Value("d", 0.0)
    start = time.perf_counter()
    merged = BatchResult(total=sum(len(p) for p, _ in shares))
    with ProcessPoolExecutor(
        len(shares), mp_context=ctx, initializer=_worker_init, initargs=(counter, backoff_value)
    ) as pool:
        pending: dict[Future[PartReport], list[Event]] = {
            pool.submit(_worker_send, settings, part, senders, options): part
            for part, senders in shares
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


# --------------------------------------------------------------------------- the command


def load(
    settings: Settings, text: str, *, replay: bool = False, speed: float | None = None
) -> tuple[list[Event], float]:
    """Parse and check a batch file (and ``--replay``'s times), encrypt, check credentials:
    ``(events, speed)``. Raises InputError / ConfigError before anything is sent."""
    from pushcli.app import replay as replaying
    from pushcli.protocol import events as parsing

    evs = parsing.parse_batch(text, max_data_bytes=settings.max_data_bytes)
    speed = replaying.prepare(evs, replay, speed)
    publish.encrypt_events(settings, evs)
    settings.require("app_id", "key", "secret", "location")
    return evs, speed


def check_options(*, replay: bool, concurrency: int | None, unordered: bool) -> None:
    """Options that contradict each other, before anything is read."""
    if replay and (concurrency is not None or unordered):
        raise InputError(
            "--replay sends in time order over one connection: "
            "--concurrency and --unordered do not apply"
        )


def describe(settings: Settings, events: list[Event], options: Options) -> list[str]:
    """--dry-run: every request as it would go out (method, signed URL, body), in the order
    each sender would start them."""
    from pushcli.client.rest import build_request, encode_body

    out = []
    for part, senders in _shares(events, options):
        for positions in plan(part, ordered=options.ordered, senders=senders):
            body = encode_body({"batch": [part[i].wire() for i in positions]})
            out.append(build_request(settings, "POST", "/batch_events", body=body).describe())
    return out


def write_failed(path: Path, failed: list[Event]) -> None:
    """--failed-to: the events that were not confirmed, as a batch file to send again."""
    with path.open("w", encoding="utf-8") as f:
        for ev in failed:
            f.write(event_to_ndjson(ev) + "\n")


def outcome_error(result: BatchResult, failed_to: Path | None) -> PushcliError | None:
    """The error the command ends with: None when every event was confirmed; the problem's own
    code (5 rejected, 6 unavailable) when none was; else a partial failure (7)."""
    if not result.failed:
        return None
    resume = (
        f"; resume with: pushcli batch {failed_to}"
        if failed_to
        else " (use --failed-to FILE to keep them)"
    )
    unknown = len(result.unknown)
    problem = result.fatal or result.first_error
    if result.sent == 0 and problem is not None:
        what = (
            f"nothing confirmed sent ({unknown} events got no answer and may have been delivered)"
            if unknown
            else "nothing sent"
        )
        return problem.error(f"{what}: {problem.message}{resume}")
    maybe = f", {unknown} of them with no answer (they may have been delivered)" if unknown else ""
    first = result.errors[0] if result.errors else ""
    return PartialFailure(
        f"{len(result.failed)} of {result.total} events failed{maybe}: {first}{resume}"
    )
