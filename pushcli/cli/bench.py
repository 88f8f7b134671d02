"""pushcli bench: end-to-end latency, throughput and loss of a Pusher deployment."""

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from pushcli.cli.options import JsonOpt, state


def bench(
    ctx: typer.Context,
    channels: Annotated[
        int, typer.Option("--channels", min=1, max=1000, help="Public channels bench-<run id>-<i>.")
    ] = 1,
    subscribers: Annotated[
        int | None,
        typer.Option(
            "--subscribers",
            min=1,
            max=10000,
            show_default=False,
            help="WebSocket subscribers, spread over the channels (default 10; 5 on pusher.com).",
        ),
    ] = None,
    rate: Annotated[
        float | None,
        typer.Option(
            "--rate",
            min=0.001,
            metavar="R",
            show_default=False,
            help="Messages per second (default 100; 10 on pusher.com).",
        ),
    ] = None,
    max_rate: Annotated[
        bool,
        typer.Option("--max", help="Publish as fast as the server answers (1 request in flight)."),
    ] = False,
    messages: Annotated[
        int | None,
        typer.Option(
            "--messages",
            "-n",
            min=1,
            metavar="M",
            show_default=False,
            help="Messages to publish (default 1000; 100 on pusher.com).",
        ),
    ] = None,
    duration: Annotated[
        float | None,
        typer.Option("--duration", min=0.001, metavar="S", help="Publish for S seconds instead."),
    ] = None,
    size: Annotated[
        int, typer.Option("--size", metavar="BYTES", help="Bytes of data per message.")
    ] = 100,
    batch: Annotated[
        bool, typer.Option("--batch", help="Publish 10 messages per request (batch_events).")
    ] = False,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Allow a load that costs messages on pusher.com.")
    ] = False,
    csv_file: Annotated[
        Path | None,
        typer.Option("--csv", metavar="FILE", help="Write one row per message received."),
    ] = None,
    run_id: Annotated[
        str | None,
        typer.Option(
            "--run-id", metavar="ID", help="Name the channels bench-ID-<i> (default random)."
        ),
    ] = None,
    drain: Annotated[
        float,
        typer.Option("--drain", min=0, metavar="S", help="Wait up to S s for late deliveries."),
    ] = 5.0,
    retries: Annotated[
        int,
        typer.Option(
            "--retries", min=0, max=10, help="Retries per request on 429/5xx/network errors."
        ),
    ] = 3,
    json_out: JsonOpt = False,
) -> None:
    """Measure a deployment: subscribers, REST publishing, end-to-end latency with one clock.

    Reports p50/p90/p99/p99.9/max latency, publish request latency, delivered/s, loss and
    duplicates; exit 7 when messages were lost. On a pusher.com cluster, loads above 1,000
    deliveries or 10 messages/s need --yes (every message counts against your quota).

    Example: pushcli bench --subscribers 50 --messages 2000 --max --batch --csv run.csv
    """
    import asyncio

    from pushcli.app import bench as core
    from pushcli.errors import InputError, PartialFailure
    from pushcli.ui import render

    settings = state(ctx).settings().require("app_id", "key", "secret", "location")
    if csv_file is not None and not csv_file.expanduser().parent.is_dir():
        raise InputError(f"--csv {csv_file}: the directory does not exist")
    plan = core.make_plan(
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
    core.check_cost(plan, settings, yes=yes)
    target = f"{plan.planned_messages:,} messages" if plan.planned_messages else f"{duration:g} s"
    speed = "as fast as possible" if plan.rate is None else f"at {plan.rate:g}/s"
    render.message(
        f"bench {plan.run_id}: {plan.subscribers} subscribers on {plan.channels} channel"
        f"{'s' if plan.channels != 1 else ''}, {target} {speed}"
        f"{' in batches of 10' if plan.batch else ''} to {settings.server_label}"
    )
    if sys.stderr.isatty():
        result = _run_with_progress(plan, settings, retries)
    else:
        result = asyncio.run(core.run(plan, settings, retries=retries))
    if csv_file is not None:
        rows = core.write_csv(csv_file.expanduser(), result, plan)
        render.message(f"wrote {rows} rows to {csv_file}")
    out = core.public(result)
    if render.wants_json(json_out):
        render.print_json(out)
    else:
        _table(out)
    for note in out["notes"]:
        render.message(f"note: {note}")
    d = out["delivery"]
    if d["lost"] or out["publish"]["failed"]:
        raise PartialFailure(
            f"{d['lost']} of {d['expected']} deliveries lost, "
            f"{out['publish']['failed']} messages not published"
        )


def _run_with_progress(plan: Any, settings: Any, retries: int) -> dict[str, Any]:
    import asyncio

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from pushcli.app import bench as core
    from pushcli.ui import render

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

        def update(s: core.Snapshot) -> None:
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

        return asyncio.run(core.run(plan, settings, retries=retries, progress=update))


def _table(r: dict[str, Any]) -> None:
    from pushcli.ui import render

    p, d, c = r["publish"], r["delivery"], r["config"]
    rate = "max" if c["rate"] == "max" else f"{c['rate']:g}/s"
    plural = "s" if c["channels"] != 1 else ""
    render.key_values(
        [
            ("server", r["server"]),
            (
                "run",
                f"{r['run_id']}: {c['subscribers']} subscribers, {c['channels']} channel"
                f"{plural}, {c['size']} B, {'batch' if c['batch'] else 'single'}, rate {rate}",
            ),
            ("connect", f"{r['connect_seconds']:.2f} s"),
            (
                "published",
                f"{p['messages']:,} in {p['requests']:,} requests, {p['seconds']:.2f} s "
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
