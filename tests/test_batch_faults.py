"""batch (and the REST retries under it) through a fault-injecting proxy, against soketi and
``pushcli serve``, with pusher-js (npm) as the independent subscriber that counts what arrived.

Every scenario sends 240 events (8 channels x 30, channel-grouped, so every request carries one
channel's events and a fault aimed at a channel hits the same events with --parallel 1 and 4)
through tests/faultproxy.py, also with --concurrency 16 (16 requests in flight from one process:
how much was sent before a stopping error then depends on timing, within bounds), then re-sends the --failed-to file straight to the server. What must
hold whatever the fault: every event is delivered or in the failed file; an event in the failed
file that arrived anyway was announced as unknown; an event that arrived twice was announced
(unknown, or sent again after a request with no answer); the exit code is the documented one
(0 all confirmed, 7 some, 6 none); the re-run completes the set.

``PUSHCLI_FAULT_TABLE=rows.jsonl pytest tests/test_batch_faults.py`` also writes one row per
case; ``python tests/test_batch_faults.py rows.jsonl`` prints them as a table.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from faultproxy import Fault, FaultProxy
from typer.testing import CliRunner

from pushcli.cli import app

ROOT = Path(__file__).resolve().parent.parent
EVENT_COUNTER = ROOT / "tests" / "js" / "event_counter.js"
CHANNELS = 8
PER_CHANNEL = 30
TOTAL = CHANNELS * PER_CHANNEL
RETRIES = 1
STALL_TIMEOUT = 1.0  # --timeout where the proxy stalls for 2 s


def channel(case: str, k: int) -> str:
    return f"fx-{case}-c{k}"


def on(case: str, k: int) -> bytes:
    """Matches the body of a request carrying channel k's events."""
    return f'"channel":"{channel(case, k)}"'.encode()


@dataclass(frozen=True)
class Scenario:
    name: str
    #: sets up the proxy's faults for this case (case = scenario-parallel, for channel names)
    setup: Callable[[FaultProxy, str], Any]
    #: exit code for --parallel 1 and --parallel 4
    exits: tuple[int, int]
    #: events in the failed file for --parallel 1 and 4 (the rest must be confirmed sent)
    failed: tuple[int, int]
    #: of those, with an unknown outcome (same for both)
    unknown: int = 0
    #: events delivered more than once in the end (after the re-run)
    duplicated: int = 0
    #: events announced "may have been delivered twice" by the first run
    maybe_duplicated: int = 0
    #: --timeout for the run (None: the default, 10 s)
    timeout: float | None = None
    #: events in the failed file with --concurrency 16, at least and at most
    failed_concurrent: tuple[int, int] = (0, 0)


# Channel k of worker w with --parallel 4: channels are dealt out c0..c3 to workers 0..3, then
# c4..c7 again, and each worker sends its part in file order: a fault that stops a worker at
# channel k (< 4) also leaves channel k + 4 unsent.
SCENARIOS = [
    Scenario(
        "503-once-and-429-once",  # retried (after Retry-After for the 429): delivered once
        lambda p, c: (
            p.rule(Fault.status(503), body_contains=on(c, 2), times=1),
            p.rule(Fault.too_many(0.5), body_contains=on(c, 1), times=1),
        ),
        (0, 0),
        (0, 0),
    ),
    Scenario(
        "503-always-on-c3",
        lambda p, c: p.rule(Fault.status(503), body_contains=on(c, 3)),
        (7, 7),
        (150, 60),  # the run stops at c3's first request (p4: c3's worker, c3 and c7)
        # c16: every channel's first request is in flight at once; the 7 others are confirmed
        failed_concurrent=(30, 170),
    ),
    Scenario(
        "503-everything",
        lambda p, c: p.rule(Fault.status(503), body_contains=f'"channel":"fx-{c}-'.encode()),
        (6, 6),
        (TOTAL, TOTAL),
        failed_concurrent=(TOTAL, TOTAL),
    ),
    Scenario(
        "reset-before-once",  # not forwarded, but the client cannot know: flagged, not doubled
        lambda p, c: p.rule(Fault.reset_before(), body_contains=on(c, 4), times=1),
        (0, 0),
        (0, 0),
        maybe_duplicated=10,
    ),
    Scenario(
        "reset-before-always-on-c5",
        lambda p, c: p.rule(Fault.reset_before(), body_contains=on(c, 5)),
        (7, 7),
        (90, 30),
        unknown=10,
        failed_concurrent=(30, 170),
    ),
    Scenario(
        "reset-after-once",  # delivered, answer lost, retried: delivered twice
        lambda p, c: p.rule(Fault.reset_after(), body_contains=on(c, 4), times=1),
        (0, 0),
        (0, 0),
        duplicated=10,
        maybe_duplicated=10,
    ),
    Scenario(
        "reset-after-always-on-c5",  # both attempts delivered, then the re-run: 3 times
        lambda p, c: p.rule(Fault.reset_after(), body_contains=on(c, 5)),
        (7, 7),
        (90, 30),
        unknown=10,
        duplicated=10,
        failed_concurrent=(30, 170),
    ),
    Scenario(
        "stall-2s-after-forwarding-once",  # --timeout 1: no answer, retried: delivered twice
        lambda p, c: p.rule(Fault.stall(2, forward=True), body_contains=on(c, 6), times=1),
        (0, 0),
        (0, 0),
        duplicated=10,
        maybe_duplicated=10,
        timeout=STALL_TIMEOUT,
    ),
    Scenario(
        "stall-2s-always-on-c6",  # never forwarded, times out twice
        lambda p, c: p.rule(Fault.stall(2), body_contains=on(c, 6)),
        (7, 7),
        (60, 30),  # p1: c6 and c7; p4: c6's worker has c2 first, then c6
        unknown=10,
        timeout=STALL_TIMEOUT,
        failed_concurrent=(30, 170),
    ),
]

#: how each scenario is sent: one connection in file order, 4 processes with one request in
#: flight each (against soketi only, to keep the suite quick), 16 requests in flight
MODES = {
    "p1": ("--parallel", "1"),
    "p4": ("--parallel", "4"),
    "c16": ("--concurrency", "16"),
}


# --------------------------------------------------------------------------- the subscriber


class PusherJs:
    """tests/js/event_counter.js (pusher-js from npm, signed in) subscribed to channels; it keeps
    every event it receives, duplicates included."""

    def __init__(self, server: Any, channels: list[str]) -> None:
        node = shutil.which("node")
        if node is None:
            pytest.skip("node not found")
        cfg = {
            "host": server.host,
            "port": server.port,
            "appId": server.app_id,
            "key": server.key,
            "secret": server.secret,
            "channels": channels,
        }
        self.events: list[tuple[str, int]] = []
        self.subscribed: set[str] = set()
        self.log: list[dict[str, Any]] = []  # everything but events: connections, errors
        self._cond = threading.Condition()
        self.proc = subprocess.Popen(
            [node, str(EVENT_COUNTER), json.dumps(cfg)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self._wait(lambda: len(self.subscribed) == len(channels), 20, "pusher-js subscriptions")

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            with self._cond:
                if msg.get("type") == "event":
                    self.events.append((msg["channel"], msg["data"]["i"]))
                elif msg.get("type") == "subscribed":
                    self.subscribed.add(msg["channel"])
                else:
                    self.log.append(msg)
                self._cond.notify_all()

    def _wait(self, ok: Callable[[], bool], timeout: float, what: str) -> None:
        with self._cond:
            if not self._cond.wait_for(ok, timeout):
                raise TimeoutError(f"{what}: not within {timeout}s; pusher-js: {self.log[-5:]}")

    def received(self, case: str) -> Counter[int]:
        """How often each event index of ``case`` arrived."""
        prefix = f"fx-{case}-"
        with self._cond:
            return Counter(i for ch, i in self.events if ch.startswith(prefix))

    def wait_for(self, case: str, want: set[int], timeout: float = 10.0) -> None:
        """Until every event of ``want`` arrived (at least once)."""
        self._wait(lambda: want <= set(self.received(case)), timeout, f"{case}: events")

    def settle(self, case: str, quiet: float = 0.2) -> None:
        """Until nothing more arrived for ``case`` for ``quiet`` seconds (duplicates in flight)."""
        last = sum(self.received(case).values())
        while True:
            time.sleep(quiet)
            now = sum(self.received(case).values())
            if now == last:
                return
            last = now

    def stop(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)


def cases() -> list[str]:
    return [f"{s.name}-{m}" for s in SCENARIOS for m in MODES] + REST_CASES + CONCURRENCY_CASES


#: the retry tests' channels (fx-<case>-c0), subscribed to by the same pusher-js client
REST_CASES = ["retry-after-429", "retry-after-503", "retry-after-odd", "unknown-trigger"]


@pytest.fixture(scope="module", params=["soketi", "embedded"])
def server(request: pytest.FixtureRequest) -> Any:
    return request.getfixturevalue(request.param)


@pytest.fixture(scope="module")
def counter(server: Any) -> Iterator[PusherJs]:
    """One pusher-js client per server, subscribed to every case's channels."""
    sub = PusherJs(server, [channel(c, k) for c in cases() for k in range(CHANNELS)])
    try:
        yield sub
    finally:
        sub.stop()


# --------------------------------------------------------------------------- running batch


def write_events(path: Path, case: str) -> None:
    lines = []
    for k in range(CHANNELS):
        for j in range(PER_CHANNEL):
            ev = {"channel": channel(case, k), "name": "e", "data": {"i": k * PER_CHANNEL + j}}
            lines.append(json.dumps(ev) + "\n")
    path.write_text("".join(lines))


def batch(env: dict[str, str], *args: str) -> tuple[int, dict[str, Any], str]:
    """``pushcli batch ARGS --json``: exit code, summary, stderr. In this process (quicker)
    unless --parallel forks workers: then in a subprocess, so they are forked from a process
    with no test threads in it."""
    argv = ["batch", *args, "--json"]
    if "--parallel" not in args or args[args.index("--parallel") + 1] == "1":
        r = CliRunner().invoke(app, argv, env=env)
        code, out, err = r.exit_code, r.stdout, r.stderr
    else:
        p = subprocess.run(
            [sys.executable, "-m", "pushcli", *argv],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=60,
        )
        code, out, err = p.returncode, p.stdout, p.stderr
    return code, json.loads(out) if out.strip() else {}, err


def record(row: dict[str, Any]) -> None:
    path = os.environ.get("PUSHCLI_FAULT_TABLE")
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps(row) + "\n")


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_every_event_is_delivered_or_kept(
    server: Any, counter: PusherJs, scenario: Scenario, mode: str, tmp_path: Path
) -> None:
    if mode == "p4" and server.label != "soketi":
        pytest.skip("--parallel 4 runs against soketi only (the processes are the client's)")
    case = f"{scenario.name}-{mode}"
    src, failed = tmp_path / "events.ndjson", tmp_path / "failed.ndjson"
    write_events(src, case)
    everything = set(range(TOTAL))
    column = 1 if mode == "p4" else 0
    with FaultProxy(server.port) as proxy:
        scenario.setup(proxy, case)
        started = time.monotonic()
        timeout = ["--timeout", str(scenario.timeout)] if scenario.timeout else []
        code, summary, err = batch(
            proxy.env(server),
            str(src),
            *MODES[mode],
            "--retries",
            str(RETRIES),
            *timeout,
            "--failed-to",
            str(failed),
        )
        seconds = time.monotonic() - started
        requests = proxy.count()
    assert err.count("\n") <= 2, err  # a line or two, never a traceback
    assert code == scenario.exits[column], err
    kept = (
        [json.loads(json.loads(line)["data"])["i"] for line in failed.read_text().splitlines()]
        if failed.exists()
        else []
    )
    if mode == "c16":
        low, high = scenario.failed_concurrent
        assert summary["failed"] == len(kept), (summary, err)
        assert low <= len(kept) <= high, (summary, err)
    else:
        assert summary["failed"] == len(kept) == scenario.failed[column], (summary, err)
    assert summary["sent"] + summary["failed"] == TOTAL
    assert summary["unknown"] == scenario.unknown
    assert summary["maybe_duplicated"] == scenario.maybe_duplicated
    assert len(set(kept)) == len(kept)
    assert kept == sorted(kept)  # input order

    confirmed = everything - set(kept)
    counter.wait_for(case, confirmed)
    first = counter.received(case)
    # every event is delivered or in the failed file
    assert set(first) | set(kept) == everything
    # one in the failed file that arrived anyway was announced as unknown
    assert len(set(first) & set(kept)) <= summary["unknown"]
    # one that arrived twice was announced (unknown, or sent again after no answer)
    twice = {i for i, n in first.items() if n > 1}
    assert len(twice) <= summary["unknown"] + summary["maybe_duplicated"]

    if kept:  # the re-run, straight to the server, completes the set
        assert "resume with: pushcli batch" in err
        code2, summary2, err2 = batch(server.env(), str(failed), "--parallel", "1")
        assert code2 == 0, err2
        assert summary2["sent"] == len(kept)
        counter.wait_for(case, everything)
    counter.settle(case)
    final = counter.received(case)
    assert set(final) == everything
    duplicated = sum(1 for n in final.values() if n > 1)
    assert duplicated == scenario.duplicated, sorted(i for i, n in final.items() if n > 1)
    record(
        {
            "scenario": scenario.name,
            "mode": mode,
            "server": server.label,
            "exit": code,
            "delivered_first_run": len(first),
            "failed_file": len(kept),
            "unknown": summary["unknown"],
            "maybe_duplicated": summary["maybe_duplicated"],
            "duplicated_events": duplicated,
            "extra_deliveries": sum(final.values()) - TOTAL,
            "requests": requests,
            "seconds": round(seconds, 2),
        }
    )


# --------------------------------------------------------------------------- concurrency

#: the concurrency tests' channels (fx-<case>-c0..c7), subscribed to by the same pusher-js client
CONCURRENCY_CASES = ["order-c16", "order-unordered", "shared-429", "shared-429-p2", "in-flight"]


def out_of_order(counter: PusherJs, case: str) -> list[str]:
    """The channels whose events pusher-js received out of file order."""
    prefix = f"fx-{case}-"
    with counter._cond:
        seen = [(ch, i) for ch, i in counter.events if ch.startswith(prefix)]
    by_channel: dict[str, list[int]] = {}
    for ch, i in seen:
        by_channel.setdefault(ch, []).append(i)
    return sorted(ch for ch, got in by_channel.items() if got != sorted(got))


@pytest.mark.parametrize("unordered", [False, True], ids=["ordered", "unordered"])
def test_each_channel_keeps_its_order_with_16_in_flight(
    server: Any, counter: PusherJs, unordered: bool, tmp_path: Path
) -> None:
    """--concurrency 16: the first request of four channels gets a 503 and is retried; the
    channel's next requests wait for it, so pusher-js sees every channel in file order. With
    --unordered they do not wait (the same faults put channels out of order: the check can
    fail), and every event still arrives once."""
    case = "order-unordered" if unordered else "order-c16"
    src = tmp_path / "events.ndjson"
    write_events(src, case)
    with FaultProxy(server.port) as proxy:
        for k in range(4):
            first = b'{\\"i\\":%d}"' % (k * PER_CHANNEL)  # the channel's first event
            proxy.rule(Fault.status(503), body_contains=first, times=1)
        extra = ["--unordered"] if unordered else []
        code, summary, err = batch(proxy.env(server), str(src), "--concurrency", "16", *extra)
        assert proxy.count("respond") == 4  # the faults did hit
    assert code == 0, err
    assert summary["sent"] == TOTAL and summary["requests"] == TOTAL // 10 + 4
    counter.wait_for(case, set(range(TOTAL)))
    counter.settle(case)
    assert counter.received(case) == Counter(range(TOTAL))  # each exactly once
    disordered = out_of_order(counter, case)
    if unordered:
        assert disordered, "the 503s should have let later requests overtake"
    else:
        assert disordered == []


def test_requests_are_in_flight_at_once_but_not_a_channels(
    server: Any, counter: PusherJs, tmp_path: Path
) -> None:
    """Every answer held 0.5 s: 16 requests (8 channels x 2) take about 1 s, not 8 s, and not
    less than 1 s either, since each channel's second request waits for its first."""
    case = "in-flight"
    src = tmp_path / "events.ndjson"
    src.write_text(
        "".join(
            json.dumps({"channel": channel(case, k), "name": "e", "data": {"i": k * 20 + j}}) + "\n"
            for k in range(CHANNELS)
            for j in range(20)
        )
    )
    with FaultProxy(server.port) as proxy:
        proxy.default = Fault.stall(0.5, forward=True)
        started = time.monotonic()
        code, summary, err = batch(proxy.env(server), str(src))  # the default: 32 in flight
        elapsed = time.monotonic() - started
    assert code == 0, err
    assert summary["sent"] == 160 and summary["requests"] == 16
    assert 1.0 <= elapsed < 3.5, elapsed
    counter.wait_for(case, set(range(160)))
    assert out_of_order(counter, case) == []


@pytest.mark.parametrize("mode", ["threads", "processes"])
def test_a_429_pauses_every_sender(
    server: Any, counter: PusherJs, mode: str, tmp_path: Path
) -> None:
    """Each answer held 0.2 s; channel 0's first request gets 429 with Retry-After: 1. No
    sender, in this process or another, sends a request in that second: the requests arriving
    then would be the other channels' next ones."""
    if mode == "processes" and server.label == "soketi":
        pytest.skip("processes against pushcli serve only (the backoff is the client's)")
    case = "shared-429" if mode == "threads" else "shared-429-p2"
    src = tmp_path / "events.ndjson"
    write_events(src, case)
    args = ["--concurrency", "16"] + (["--parallel", "2"] if mode == "processes" else [])
    with FaultProxy(server.port) as proxy:
        proxy.default = Fault.stall(0.2, forward=True)
        proxy.rule(Fault.too_many(1), body_contains=on(case, 0), times=1)
        code, summary, err = batch(proxy.env(server), str(src), *args)
        log = list(proxy.log)
    assert code == 0, err
    assert summary["sent"] == TOTAL
    [limited] = [s.at for s in log if s.answered == 429]
    during = [round(s.at - limited, 3) for s in log if limited + 0.1 < s.at < limited + 0.95]
    assert during == []
    before = [s for s in log if s.at <= limited + 0.1]
    assert len(before) <= CHANNELS  # at most the first wave (a worker forked late waits too)
    counter.wait_for(case, set(range(TOTAL)))
    assert out_of_order(counter, case) == []


# --------------------------------------------------------------------------- REST retries


def trigger(env: dict[str, str], case: str, i: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pushcli", "trigger", channel(case, 0), "e", json.dumps({"i": i})],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def gaps(proxy: FaultProxy) -> list[float]:
    """Seconds between consecutive requests the proxy saw."""
    times = [s.at for s in proxy.log]
    return [b - a for a, b in zip(times, times[1:], strict=False)]


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_is_honoured(server: Any, counter: PusherJs, status: int) -> None:
    """The server's Retry-After (429, and 503 as RFC 9110 allows) is waited, not the backoff."""
    case = f"retry-after-{status}"
    fault = (
        Fault.too_many(1)
        if status == 429
        else Fault.respond(503, '{"error":"busy","code":503}', {"Retry-After": "1"})
    )
    with FaultProxy(server.port) as proxy:
        proxy.rule(fault, path_contains="/events", times=1)
        p = trigger(proxy.env(server), case, 1)
        assert p.returncode == 0, p.stderr
        assert [s.answered for s in proxy.log] == [status, 200]
        [wait] = gaps(proxy)
    assert 1.0 <= wait < 2.0  # the header's value, not much more
    counter.wait_for(case, {1})
    counter.settle(case)
    assert counter.received(case) == Counter({1: 1})


@pytest.mark.parametrize("value", ["-1", "nan"])
def test_odd_retry_after_falls_back_to_backoff(server: Any, counter: PusherJs, value: str) -> None:
    """A Retry-After that is not a usable number of seconds is ignored (backoff instead)."""
    case = "retry-after-odd"
    i = 1 if value == "-1" else 2
    with FaultProxy(server.port) as proxy:
        proxy.rule(Fault.too_many(value), path_contains="/events", times=1)
        p = trigger(proxy.env(server), case, i)
        assert p.returncode == 0, p.stderr
        assert [s.answered for s in proxy.log] == [429, 200]
        assert gaps(proxy)[0] < 1.0
    counter.wait_for(case, {i})


@pytest.mark.parametrize("retries", [0, 2])
def test_retries_are_bounded(server: Any, tmp_path: Path, retries: int) -> None:
    """An answer that stays 503: exactly 1 + --retries requests, short backoff, then exit 6."""
    src = tmp_path / "five.json"
    src.write_text(
        json.dumps([{"channel": "fx-bounded", "name": "e", "data": i} for i in range(5)])
    )
    with FaultProxy(server.port) as proxy:
        proxy.default = Fault.status(503)
        started = time.monotonic()
        code, summary, err = batch(proxy.env(server), str(src), "--retries", str(retries))
        elapsed = time.monotonic() - started
        assert proxy.count() == 1 + retries
        backoff = gaps(proxy)
    assert code == 6, err
    assert summary["sent"] == 0 and summary["failed"] == 5 and summary["unknown"] == 0
    assert "nothing sent" in err and "503" in err
    # full jitter: attempt k waits at most 0.2 * 2**k seconds (plus a process's slack)
    assert all(g < 0.2 * 2**k + 0.5 for k, g in enumerate(backoff)), backoff
    assert elapsed < 10


@pytest.mark.parametrize("then", ["no-answer-again", "503"])
def test_trigger_with_no_answer_says_it_may_have_been_delivered(
    server: Any, counter: PusherJs, then: str
) -> None:
    """The first attempt reaches the server but its answer is lost; the retries get no answer
    either (each delivers again: at-least-once), or a 503. Exit 6, and the one error line says
    the event may have been delivered."""
    case = "unknown-trigger"
    i = 7 if then == "503" else 8
    with FaultProxy(server.port) as proxy:
        proxy.next(Fault.reset_after())
        proxy.default = Fault.reset_after() if then != "503" else Fault.status(503)
        p = trigger(proxy.env(server), case, i)
        attempts = proxy.count()
    assert p.returncode == 6
    assert "may have accepted" in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1
    assert attempts == 4  # trigger retries 3 times
    counter.wait_for(case, {i})
    counter.settle(case)
    assert counter.received(case)[i] == (1 if then == "503" else attempts)


def test_faultproxy_tunnels_websocket_upgrades(embedded: Any) -> None:
    """The proxy itself, for WebSocket tests to come: an upgrade is tunnelled both ways with
    forward(); silent_upgrade() completes the handshake and then drops what the server sends."""
    import asyncio

    from servers import WsSubscriber

    with FaultProxy(embedded.port) as proxy:
        url = embedded.ws_url.replace(f":{embedded.port}/", f":{proxy.port}/")

        async def main() -> None:
            sub = await WsSubscriber.connect(url)  # pusher:connection_established came through
            await sub.subscribe("fx-tunnel")
            await sub.close()
            proxy.next(Fault.silent_upgrade())
            with pytest.raises(TimeoutError):
                await WsSubscriber.connect(url, timeout=0.5)

        asyncio.run(main())
        assert [(s.fault, s.path) for s in proxy.log] == [
            ("forward", "/app/app-key"),
            ("silent_upgrade", "/app/app-key"),
        ]
        assert proxy.stats.errors == []


# --------------------------------------------------------------------------- pure


@pytest.mark.parametrize(
    ("header", "seconds"),
    [("1", 1.0), ("0.5", 0.5), ("3600", 30.0), (None, None), ("", None), ("soon", None)]
    + [("-1", None), ("nan", None), ("Wed, 21 Oct 2015 07:28:00 GMT", None)],
)
def test_parse_retry_after(header: str | None, seconds: float | None) -> None:
    from pushcli.client.rest import parse_retry_after

    assert parse_retry_after(header) == seconds


def test_what_a_worker_reports_survives_the_trip_between_processes() -> None:
    """Errors cross the process boundary as plain data (a 5xx used to break the pool)."""
    import pickle

    from pushcli.app.batch import PartReport
    from pushcli.app.publish import BatchResult, Problem
    from pushcli.client.rest import ServerError
    from pushcli.protocol.events import Event

    assert pickle.loads(pickle.dumps(ServerError("down", 503))).status == 503
    part = [Event("c", "e", str(i), origin=f"line {i + 1}") for i in range(25)]
    problem = Problem.of(ServerError("x answered 503: busy", 503))
    assert problem == Problem("x answered 503: busy", 6, 503, stops=True)
    result = BatchResult(
        total=25,
        sent=10,
        failed=part[10:],
        unknown=part[10:20],
        maybe_duplicated=10,
        errors=["line 11…line 20: x answered 503: busy"],
        requests=4,
        fatal=problem,
        first_error=problem,
    )
    report = pickle.loads(pickle.dumps(PartReport.of(part, result)))
    assert report.failed == list(range(10, 25)) and report.unknown == list(range(10, 20))
    back = report.result(part)
    assert back.failed == part[10:] and back.unknown == part[10:20]
    assert (back.sent, back.maybe_duplicated, back.fatal) == (10, 10, problem)
    assert problem.error().exit_code == 6


def print_table(path: str) -> None:
    rows = [json.loads(line) for line in Path(path).read_text().splitlines()]
    cols = [
        "scenario",
        "mode",
        "server",
        "exit",
        "delivered_first_run",
        "failed_file",
        "unknown",
        "maybe_duplicated",
        "duplicated_events",
        "extra_deliveries",
        "requests",
        "seconds",
    ]
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    order = {s.name: i for i, s in enumerate(SCENARIOS)}
    for r in sorted(rows, key=lambda r: (order[r["scenario"]], r["mode"], r["server"])):
        print("| " + " | ".join(str(r[c]) for c in cols) + " |")


if __name__ == "__main__":
    print_table(sys.argv[1])
