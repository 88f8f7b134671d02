"""pushcli bench: measure a Pusher deployment end to end, with one clock.

N lightweight protocol-7 subscribers (raw ``websockets``, no Listener: see
:mod:`pushcli.client.benchwire`) listen on public channels
``bench-<run id>-<i>``; a publisher thread triggers through the REST API (:class:`RestClient`,
one message or a batch of 10 per request). Every message's data is ``{"seq", "t", "pad"}`` where
``t`` is ``time.perf_counter_ns()`` taken by this process just before the request, so the
receive time (same process, same clock) minus ``t`` is the end-to-end latency: no clock skew.

Subscriber ``i`` listens on channel ``i % channels``; message ``seq`` goes to channel
``seq % channels``. Expected deliveries = Σ messages accepted on a channel × its subscribers.
Percentiles are exact (nearest rank on the sorted samples).

Imports ``websockets`` and httpx (through rest): import this module only inside the command.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import math
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from pushcli.client.benchwire import (
    EVENT,
    Deliveries,
    Publisher,
    keepalive,
    open_subscriber,
    receive,
)
from pushcli.client.profiles import Settings
from pushcli.client.realtime import ws_url
from pushcli.errors import InputError, PushcliError
from pushcli.protocol.channels import check_channel

if TYPE_CHECKING:
    from websockets.asyncio.client import ClientConnection

MIN_SIZE = 64
#: on a pusher.com cluster, what runs without --yes (each publish and delivery is billed)
FREE_DELIVERIES = 1000
FREE_RATE = 10.0
SELF_HOSTED_DEFAULTS = {"subscribers": 10, "messages": 1000, "rate": 100.0}
CLUSTER_DEFAULTS = {"subscribers": 5, "messages": 100, "rate": 10.0}
#: (name, per mille): integers, so nearest ranks are exact (99.9 / 100 * 1000 > 999 in floats)
PERCENTILES = (("p50", 500), ("p90", 900), ("p99", 990), ("p99.9", 999))


@dataclass
class Plan:
    run_id: str
    channels: int
    subscribers: int
    rate: float | None  # messages per second; None: as fast as possible (--max)
    messages: int | None  # None: until ``duration``
    duration: float | None
    size: int
    batch: bool
    drain: float = 5.0

    @property
    def channel_names(self) -> list[str]:
        return [f"bench-{self.run_id}-{i}" for i in range(self.channels)]

    def subscribers_on(self, channel: int) -> int:
        return len(range(channel, self.subscribers, self.channels))

    @property
    def planned_messages(self) -> int | None:
        if self.messages is not None:
            return self.messages
        if self.rate is not None and self.duration is not None:
            return math.ceil(self.rate * self.duration)
        return None

    def deliveries_for(self, messages: int) -> int:
        return sum(
            len(range(c, messages, self.channels)) * self.subscribers_on(c)
            for c in range(self.channels)
        )


def make_plan(
    settings: Settings,
    *,
    channels: int = 1,
    subscribers: int | None = None,
    rate: float | None = None,
    max_rate: bool = False,
    messages: int | None = None,
    duration: float | None = None,
    size: int = 100,
    batch: bool = False,
    run_id: str | None = None,
    drain: float = 5.0,
) -> Plan:
    """Validate the options; defaults are smaller against a pusher.com cluster."""
    defaults = SELF_HOSTED_DEFAULTS if settings.host else CLUSTER_DEFAULTS
    if rate is not None and max_rate:
        raise InputError("give either --rate or --max, not both")
    if messages is not None and duration is not None:
        raise InputError("give either --messages or --duration, not both")
    subs = subscribers if subscribers is not None else max(int(defaults["subscribers"]), channels)
    if subs < channels:
        raise InputError(f"{channels} channels need at least as many subscribers (got {subs})")
    if size < MIN_SIZE or size > settings.max_data_bytes:
        raise InputError(f"--size must be between {MIN_SIZE} and {settings.max_data_bytes} bytes")
    run_id = run_id or secrets.token_hex(4)
    plan = Plan(
        run_id=run_id,
        channels=channels,
        subscribers=subs,
        rate=None if max_rate else (rate if rate is not None else float(defaults["rate"])),
        messages=None if duration is not None else (messages or int(defaults["messages"])),
        duration=duration,
        size=size,
        batch=batch,
        drain=drain,
    )
    for name in plan.channel_names:
        check_channel(name)
    return plan


def check_cost(plan: Plan, settings: Settings, *, yes: bool) -> None:
    """Refuse, without --yes, more than a small load on pusher.com (it bills every message)."""
    if settings.host or yes:
        return
    messages = plan.planned_messages
    where = f"pusher.com cluster {settings.cluster}"
    hint = "pass --yes to run it anyway, or lower --subscribers, --messages and --rate"
    if messages is None:
        raise InputError(f"--max with --duration has no bound: refused on {where}", hint=hint)
    deliveries = plan.deliveries_for(messages)
    if deliveries > FREE_DELIVERIES or plan.rate is None or plan.rate > FREE_RATE:
        speed = "as fast as possible" if plan.rate is None else f"at {plan.rate:g}/s"
        raise InputError(
            f"this run costs about {messages + deliveries:,} messages of your Pusher quota on "
            f"{where} ({messages:,} published {speed}, {deliveries:,} delivered); without --yes "
            f"bench sends at most {FREE_DELIVERIES:,} deliveries at {FREE_RATE:g}/s there",
            hint=hint,
        )


def percentiles(samples_ns: Sequence[int]) -> dict[str, float | None]:
    """Exact nearest-rank percentiles, min, mean and max, in milliseconds."""
    keys = ["min", *(k for k, _ in PERCENTILES), "max", "mean"]
    if not samples_ns:
        return dict.fromkeys(keys)
    s = sorted(samples_ns)
    n = len(s)
    out: dict[str, float | None] = {"min": s[0] / 1e6}
    for key, per_mille in PERCENTILES:
        rank = -(-per_mille * n // 1000)  # ceil(per_mille * n / 1000), in integers
        out[key] = s[max(0, rank - 1)] / 1e6
    out["max"] = s[-1] / 1e6
    out["mean"] = sum(s) / n / 1e6
    return {k: round(v, 3) if v is not None else None for k, v in out.items()}


# --- the run -------------------------------------------------------------------------------------


@dataclass
class Snapshot:
    phase: str
    ready: int
    sent: int
    planned: int | None
    delivered: int
    expected: int
    duplicates: int
    recent_p50_ms: float | None


async def run(
    plan: Plan,
    settings: Settings,
    *,
    retries: int = 3,
    connect_timeout: float = 10.0,
    progress: Callable[[Snapshot], None] | None = None,
) -> dict[str, Any]:
    """Open the subscribers, publish, drain, and return the report (see :func:`report`)."""
    settings.require("app_id", "key", "secret", "location")
    url, names = ws_url(settings), plan.channel_names
    d = Deliveries(plan.subscribers)
    pub = Publisher(plan, settings, retries)
    conns: list[ClientConnection] = []
    closing = asyncio.Event()
    tasks: list[asyncio.Task[None]] = []
    phase = "connecting"
    mark = 0

    def expected() -> int:
        return sum(n * plan.subscribers_on(c) for c, n in enumerate(pub.per_channel))

    def tick() -> None:
        nonlocal mark
        if progress is None:
            return
        recent = d.latency_ns[mark:]
        mark = len(d.latency_ns)
        p50 = sorted(recent)[len(recent) // 2] / 1e6 if recent else None
        progress(
            Snapshot(
                phase,
                len(conns),
                pub.sent,
                plan.planned_messages,
                d.delivered,
                plan.deliveries_for(pub.issued),
                d.duplicates,
                p50,
            )
        )

    async def ticker() -> None:
        while True:
            tick()
            await asyncio.sleep(0.25)

    gate = asyncio.Semaphore(64)

    async def open_one(i: int) -> None:
        async with gate:
            ws = await open_subscriber(
                url, names[i % plan.channels], connect_timeout, settings, f"bench-{plan.run_id}-{i}"
            )
        conns.append(ws)
        order.append(i)

    order: list[int] = []
    cpu_samples: list[tuple[int, float]] = []
    ticking = asyncio.create_task(ticker())
    connect_start = time.perf_counter()
    try:
        try:
            async with asyncio.TaskGroup() as tg:
                for i in range(plan.subscribers):
                    tg.create_task(open_one(i))
        except ExceptionGroup as group:
            first = group.exceptions[0]
            if isinstance(first, PushcliError):
                raise first from None
            raise
        connect_seconds = time.perf_counter() - connect_start
        conns[:] = [ws for _, ws in sorted(zip(order, conns, strict=True), key=lambda p: p[0])]
        tasks = [asyncio.create_task(receive(i, ws, d, closing)) for i, ws in enumerate(conns)]
        tasks.append(asyncio.create_task(keepalive(conns, d)))
        phase = "sending"
        tasks.append(asyncio.create_task(_sample_cpu(cpu_samples)))
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(None, pub.run)
        finally:
            pub.stop.set()
        phase = "draining"
        deadline = time.monotonic() + plan.drain
        while (
            d.delivered < expected()
            and time.monotonic() < deadline
            and not (d.disconnects and len(d.disconnects) == len(conns))
        ):
            await asyncio.sleep(0.01)
        cpu_samples.append((time.perf_counter_ns(), time.process_time()))
        cpu = cpu_use(cpu_samples, max(pub.finished_ns, d.last_ns))
        phase = "done"
        tick()
    finally:
        pub.stop.set()
        closing.set()
        ticking.cancel()
        for t in tasks:
            t.cancel()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(3):
                await asyncio.gather(*(ws.close() for ws in conns), return_exceptions=True)
    if pub.error is not None and pub.sent == 0:
        raise pub.error
    return report(plan, settings, pub, d, connect_seconds=connect_seconds, cpu=cpu)


async def _sample_cpu(samples: list[tuple[int, float]], every: float = 0.25) -> None:
    while True:
        samples.append((time.perf_counter_ns(), time.process_time()))
        await asyncio.sleep(every)


def cpu_use(samples: list[tuple[int, float]], busy_until_ns: int) -> tuple[float, float]:
    """(mean, peak) share of one CPU this process used while busy (sending and receiving).

    The mean runs from the first send to the last delivery (idle draining is not counted);
    the peak is the highest over the sampling intervals.
    """
    busy = [s for s in samples if s[0] <= busy_until_ns] or samples[:1]
    if len(samples) > len(busy):
        busy.append(samples[len(busy)])  # the interval that contains the end of the work
    if len(busy) < 2:
        return 0.0, 0.0
    pairs = zip(busy, busy[1:], strict=False)
    rates = [(c1 - c0) / max((t1 - t0) / 1e9, 1e-9) for (t0, c0), (t1, c1) in pairs]
    (t0, c0), (t1, c1) = busy[0], busy[-1]
    return (c1 - c0) / max((t1 - t0) / 1e9, 1e-9), max(rates)


def report(
    plan: Plan,
    settings: Settings,
    pub: Publisher,
    d: Deliveries,
    *,
    connect_seconds: float,
    cpu: tuple[float, float],
) -> dict[str, Any]:
    subs_channel = [i % plan.channels for i in range(plan.subscribers)]
    per_channel: list[dict[str, Any]] = []
    lost = expected = 0
    for c, name in enumerate(plan.channel_names):
        failed_here = {s for s in pub.failed if s % plan.channels == c}
        delivered = 0
        for i in range(plan.subscribers):
            if subs_channel[i] != c:
                continue
            got = d.count[i] - len(d.seen[i] & failed_here)
            lost += pub.per_channel[c] - got
            delivered += d.count[i]
        per_channel.append(
            {
                "name": name,
                "subscribers": plan.subscribers_on(c),
                "sent": pub.per_channel[c],
                "delivered": delivered,
            }
        )
        expected += pub.per_channel[c] * plan.subscribers_on(c)
    pub_seconds = max(pub.finished_ns - pub.started_ns, 1) / 1e9
    span = max(d.last_ns - pub.started_ns, 1) / 1e9 if d.delivered else 0.0
    notes = [*d.disconnects[:10]]
    if pub.error is not None:
        notes.append(f"publishing stopped after {pub.attempted} messages: {pub.error.message}")
    if cpu[1] > 0.9:
        notes.append(
            f"the client used up to {cpu[1]:.0%} of a CPU: latencies include its own "
            "queueing (lower the load, or run bench where it does not share a CPU "
            "with the server)"
        )
    return {
        "run_id": plan.run_id,
        "server": settings.server_label,
        "event": EVENT,
        "config": {
            "channels": plan.channels,
            "subscribers": plan.subscribers,
            "messages": plan.messages,
            "duration": plan.duration,
            "rate": plan.rate if plan.rate is not None else "max",
            "size": plan.size,
            "batch": plan.batch,
        },
        "connect_seconds": round(connect_seconds, 3),
        "publish": {
            "messages": pub.sent,
            "failed": len(pub.failed),
            "requests": pub.requests,
            "seconds": round(pub_seconds, 3),
            "per_second": round(pub.sent / pub_seconds, 1),
            "latency_ms": percentiles(pub.request_ns),
        },
        "delivery": {
            "expected": expected,
            "delivered": d.delivered,
            "lost": max(0, lost),
            "loss_percent": round(100 * max(0, lost) / expected, 3) if expected else 0.0,
            "duplicates": d.duplicates,
            "unreadable": d.unreadable,
            "disconnects": len(d.disconnects),
            "per_second": round(d.delivered / span, 1) if span else 0.0,
            "latency_ms": percentiles(d.latency_ns),
        },
        "channels": per_channel,
        "client_cpu_percent": round(cpu[0] * 100, 1),
        "client_cpu_peak_percent": round(cpu[1] * 100, 1),
        "notes": notes,
        "_deliveries": d,
        "_start_ns": pub.started_ns,
    }


CSV_COLUMNS = ("seq", "channel", "subscriber", "sent_ms", "received_ms", "latency_ms", "duplicate")


def write_csv(path: Path, result: dict[str, Any], plan: Plan) -> int:
    """One row per message received, in arrival order; times in ms from the first publish."""
    d: Deliveries = result["_deliveries"]
    start = result["_start_ns"]
    names = plan.channel_names
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(CSV_COLUMNS)
        for seq, sub, sent, recv, dup in zip(
            d.seq, d.sub, d.sent_ns, d.recv_ns, d.duplicate, strict=True
        ):
            w.writerow(
                (
                    seq,
                    names[sub % plan.channels],
                    sub,
                    f"{(sent - start) / 1e6:.3f}",
                    f"{(recv - start) / 1e6:.3f}",
                    f"{(recv - sent) / 1e6:.3f}",
                    dup,
                )
            )
    return len(d.seq)


def public(result: dict[str, Any]) -> dict[str, Any]:
    """The report without its raw samples (what --json prints)."""
    return {k: v for k, v in result.items() if not k.startswith("_")}


# --- the command ---------------------------------------------------------------------------------


@dataclass
class BenchResult:
    plan: Plan
    #: the report without its raw samples (what ``--json`` prints; see :func:`report`)
    report: dict[str, Any]
    #: ``--csv`` as given, and the rows written to it
    csv_file: Path | None = None
    csv_rows: int | None = None

    @property
    def error(self) -> PushcliError | None:
        """Exit 7 when deliveries were lost or messages not published (after the report)."""
        from pushcli.errors import PartialFailure

        d, failed = self.report["delivery"], self.report["publish"]["failed"]
        if not d["lost"] and not failed:
            return None
        return PartialFailure(
            f"{d['lost']} of {d['expected']} deliveries lost, {failed} messages not published"
        )


class BenchView(Protocol):
    """What bench shows while it runs (pushcli.ui.show.BenchView)."""

    def planned(self, plan: Plan, server: str) -> None: ...

    def running(
        self, plan: Plan
    ) -> contextlib.AbstractContextManager[Callable[[Snapshot], None] | None]: ...


def bench(
    settings: Settings,
    *,
    channels: int = 1,
    subscribers: int | None = None,
    rate: float | None = None,
    max_rate: bool = False,
    messages: int | None = None,
    duration: float | None = None,
    size: int = 100,
    batch: bool = False,
    yes: bool = False,
    csv_file: Path | None = None,
    run_id: str | None = None,
    drain: float = 5.0,
    retries: int = 3,
    view: BenchView | None = None,
) -> BenchResult:
    """Plan (refusing costly loads on pusher.com without ``yes``), run, and write ``csv_file``."""
    settings.require("app_id", "key", "secret", "location")
    if csv_file is not None and not csv_file.expanduser().parent.is_dir():
        raise InputError(f"--csv {csv_file}: the directory does not exist")
    plan = make_plan(
        settings,
        channels=channels,
        subscribers=subscribers,
        rate=rate,
        max_rate=max_rate,
        messages=messages,
        duration=duration,
        size=size,
        batch=batch,
        run_id=run_id,
        drain=drain,
    )
    check_cost(plan, settings, yes=yes)
    if view is None:
        result = asyncio.run(run(plan, settings, retries=retries))
    else:
        view.planned(plan, settings.server_label)
        with view.running(plan) as progress:
            result = asyncio.run(run(plan, settings, retries=retries, progress=progress))
    rows = None if csv_file is None else write_csv(csv_file.expanduser(), result, plan)
    return BenchResult(plan, public(result), csv_file, rows)
