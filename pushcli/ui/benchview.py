"""``pushcli bench`` on screen: the plan line, a progress bar on a terminal, the report.

rich.progress is imported only when a bar is drawn (stderr is a terminal).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from pushcli.ui import render

if TYPE_CHECKING:
    from pushcli.app.bench import BenchResult, Plan, Snapshot


class BenchView:
    """What bench shows while it runs: the plan (stderr), then a progress bar on a terminal."""

    def planned(self, plan: Plan, server: str) -> None:
        target = (
            render.plural(plan.planned_messages, "message")
            if plan.planned_messages
            else f"{plan.duration:g} s"
        )
        speed = "as fast as possible" if plan.rate is None else f"at {plan.rate:g}/s"
        render.message(
            f"bench {plan.run_id}: {render.plural(plan.subscribers, 'subscriber')} on "
            f"{render.plural(plan.channels, 'channel')}, {target} {speed}"
            f"{' in batches of 10' if plan.batch else ''} to {server}"
        )

    @contextlib.contextmanager
    def running(self, plan: Plan) -> Iterator[Callable[[Snapshot], None] | None]:
        if not sys.stderr.isatty():
            yield None
            return
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        with Progress(
            TextColumn("{task.description:<10}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[info]}"),
            console=render.console(stderr=True),
            transient=True,
        ) as bar:
            task = bar.add_task("connecting", total=plan.planned_messages, info="")

            def update(s: Snapshot) -> None:
                if s.phase == "connecting":
                    bar.update(task, info=f"{s.ready}/{plan.subscribers} subscribed")
                    return
                p50 = "" if s.recent_p50_ms is None else f" p50 {s.recent_p50_ms:.1f}ms"
                dups = f" dups {s.duplicates}" if s.duplicates else ""
                bar.update(
                    task,
                    description=s.phase,
                    completed=s.sent,
                    info=f"recv {s.delivered:,}/{s.expected:,}{dups}{p50}",
                )

            yield update


def show(r: BenchResult, *, as_json: bool) -> None:
    """``wrote N rows`` (with --csv), the report (JSON or tables), then its notes."""
    if r.csv_rows is not None:
        render.message(f"wrote {render.plural(r.csv_rows, 'row')} to {r.csv_file}")
    if render.wants_json(as_json):
        render.print_json(r.report)
    else:
        _table(r.report)
    for note in r.report["notes"]:
        render.message(f"note: {note}")


def _table(r: dict[str, Any]) -> None:
    p, d, c = r["publish"], r["delivery"], r["config"]
    rate = "max" if c["rate"] == "max" else f"{c['rate']:g}/s"
    render.key_values(
        [
            ("server", r["server"]),
            (
                "run",
                f"{r['run_id']}: {render.plural(c['subscribers'], 'subscriber')}, "
                f"{render.plural(c['channels'], 'channel')}, {c['size']} B, "
                f"{'batch' if c['batch'] else 'single'}, rate {rate}",
            ),
            ("connect", f"{r['connect_seconds']:.2f} s"),
            (
                "published",
                f"{p['messages']:,} in {render.plural(p['requests'], 'request')}, {p['seconds']:.2f} s "
                f"({p['per_second']:,.0f} msg/s); {p['failed']} failed",
            ),
            (
                "delivered",
                f"{d['delivered']:,} of {d['expected']:,} ({d['per_second']:,.0f}/s); "
                f"lost {d['lost']} ({d['loss_percent']}%), duplicates {d['duplicates']}",
            ),
            (
                "client cpu",
                f"{r['client_cpu_percent']}% of a core (peak {r['client_cpu_peak_percent']}%)",
            ),
        ],
        title="pushcli bench",
    )
    keys = ("min", "p50", "p90", "p99", "p99.9", "max", "mean")
    render.table(
        ["latency (ms)", *keys],
        [
            ["end to end", *(_ms(d["latency_ms"][k]) for k in keys)],
            ["publish request", *(_ms(p["latency_ms"][k]) for k in keys)],
        ],
    )


def _ms(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}"
