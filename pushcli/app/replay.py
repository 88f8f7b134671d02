"""``batch FILE --replay [--speed X]``: re-send a recording with its original spacing.

Every event needs a ``time`` (unix seconds, as ``listen --record`` writes). Event ``i`` goes out
at ``(time_i - time_0) / speed`` after the start; the events due at the same moment (or already
overdue because the server is slower than the recording) go together in batch requests of at
most 10 (events due within 2 ms count as the same moment), through
:func:`pushcli.app.publish.send_batch`. ``speed`` 0 sends as fast as possible.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from pushcli.app import publish
from pushcli.app.publish import BatchResult
from pushcli.client.profiles import Settings
from pushcli.errors import InputError
from pushcli.protocol.events import Event

#: events due within this long of each other go in the same request (sent up to this early)
GROUP_WINDOW = 0.002


def check_times(events: list[Event]) -> None:
    """Every event must carry a numeric ``time``; report every one that does not."""
    bad = [
        ev.origin or f"event {i}"
        for i, ev in enumerate(events)
        if isinstance(ev.time, bool) or not isinstance(ev.time, int | float)
    ]
    if bad:
        shown = ", ".join(dict.fromkeys(bad[:20])) + (", …" if len(bad) > 20 else "")
        raise InputError(
            f'--replay needs a numeric "time" (unix seconds) on every event; missing or not a '
            f"number: {shown}",
            hint="record with pushcli listen --record, or send without --replay",
        )


def prepare(events: list[Event], replay: bool, speed: float | None) -> float:
    """Check the options and every event's ``time`` before anything is sent; the speed to use."""
    if not replay:
        if speed is not None:
            raise InputError("--speed needs --replay")
        return 0.0
    check_times(events)
    speed = 1.0 if speed is None else speed
    if speed < 0:
        raise InputError("--speed must be 0 (as fast as possible) or more")
    return speed


def schedule(events: list[Event], speed: float) -> list[tuple[float, Event]]:
    """(seconds after the start, event), in time order (stable for equal times)."""
    if speed < 0:
        raise InputError("--speed must be 0 (as fast as possible) or more")
    ordered = sorted(events, key=lambda ev: float(ev.time or 0.0))
    if not ordered:
        return []
    t0 = float(ordered[0].time or 0.0)
    if speed == 0:
        return [(0.0, ev) for ev in ordered]
    return [((float(ev.time or 0.0) - t0) / speed, ev) for ev in ordered]


def duration(events: list[Event], speed: float) -> float:
    timeline = schedule(events, speed)
    return timeline[-1][0] if timeline else 0.0


def send(
    client: Any,
    events: list[Event],
    *,
    speed: float = 1.0,
    progress: Callable[[int], None] | None = None,
    clock: Callable[[], float] = time.perf_counter,
    sleep: Callable[[float], None] = time.sleep,
) -> BatchResult:
    """Send ``events`` on their schedule; failures are collected as :func:`send_batch` does."""
    check_times(events)
    timeline = schedule(events, speed)
    result = BatchResult(total=len(events))
    start = clock()
    i = 0
    while i < len(timeline):
        wait = start + timeline[i][0] - clock()
        if wait > 0:
            sleep(wait)
        now = clock() - start
        j = i + 1
        while j < len(timeline) and timeline[j][0] <= now + GROUP_WINDOW:
            j += 1
        part = publish.send_batch(client, [ev for _, ev in timeline[i:j]], progress=progress)
        result.merge(part)
        i = j
        if part.fatal is not None:
            result.failed.extend(ev for _, ev in timeline[i:])
            break
    result.seconds = clock() - start
    return result


def run(
    settings: Settings,
    events: list[Event],
    *,
    speed: float,
    retries: int = 3,
    timeout: float = 10.0,
    progress: Callable[[int], None] | None = None,
) -> BatchResult:
    """``batch --replay``: :func:`send` over one connection of its own."""
    from pushcli.client import stdhttp

    with stdhttp.rest_client(settings, retries=retries, timeout=timeout) as client:
        return send(client, events, speed=speed, progress=progress)
