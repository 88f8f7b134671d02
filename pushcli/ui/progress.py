"""Progress of a batch on stderr, and its summary.

The application layer reports progress through a callback (events done); this module draws it.
The bar has no refresh thread (``batch --parallel`` forks its workers while it is shown) and
redraws at most ten times a second, whichever thread calls it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from pushcli.app.publish import BatchResult
from pushcli.ui import render

REDRAW_SECONDS = 0.1


@contextmanager
def bar(total: int, description: str, *, eta: bool = True) -> Iterator[Callable[[int], None]]:
    """A transient progress bar; yields ``advance(n)``."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    lock = threading.Lock()
    last = [0.0]
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn() if eta else TimeElapsedColumn(),
        console=render.console(stderr=True),
        transient=True,
        auto_refresh=False,
    ) as progress:
        task = progress.add_task(description, total=total)

        def advance(n: int) -> None:
            with lock:
                progress.advance(task, n)
                now = time.monotonic()
                if now - last[0] >= REDRAW_SECONDS:
                    last[0] = now
                    progress.refresh()

        yield advance


@contextmanager
def maybe_bar(
    shown: bool, total: int, description: str = "sending", *, eta: bool = True
) -> Iterator[Callable[[int], None] | None]:
    """:func:`bar` when ``shown``, else no callback at all."""
    if not shown:
        yield None
        return
    with bar(total, description, eta=eta) as advance:
        yield advance


def replay_notice(events: int, seconds: float, speed: float) -> None:
    render.message(f"replaying {events} events over {seconds:.1f} s (speed {speed:g})")


def dry_run(requests: list[str], events: int) -> None:
    for text in requests:
        print(text)
    render.message(f"dry run: {events} events in {len(requests)} requests; nothing sent")


def summary(result: BatchResult, *, json_out: bool, failed_to: Any = None) -> None:
    """The JSON summary on stdout, or one line on stderr."""
    data = result.summary()
    if failed_to is not None and result.failed:
        data["failed_to"] = str(failed_to)
    if render.wants_json(json_out):
        render.print_json(data)
        if result.maybe_duplicated:
            render.message(duplicates_note(result.maybe_duplicated))
    else:
        render.message(summary_line(result))


def summary_line(result: BatchResult) -> str:
    line = (
        f"sent {result.sent} of {result.total} events in {result.requests} requests, "
        f"{result.seconds:.2f} s ({result.rate:,.0f} events/s); {len(result.failed)} failed"
    )
    if result.unknown:
        line += f", {len(result.unknown)} of them unknown (may have been delivered)"
    if result.maybe_duplicated:
        line += f"; {duplicates_note(result.maybe_duplicated)}"
    return line


def duplicates_note(n: int) -> str:
    return (
        f"{n} events were sent again after a request with no answer: they may have been "
        "delivered twice"
    )
