"""pushcli bench: end-to-end latency, throughput and loss of a Pusher deployment."""

from pathlib import Path
from typing import Annotated

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
    from pushcli.app import bench as core
    from pushcli.ui import benchview

    result = core.bench(
        state(ctx).settings(),
        channels=channels,
        subscribers=subscribers,
        rate=rate,
        max_rate=max_rate,
        messages=messages,
        duration=duration,
        size=size,
        batch=batch,
        yes=yes,
        csv_file=csv_file,
        run_id=run_id,
        drain=drain,
        retries=retries,
        view=benchview.BenchView(),
    )
    benchview.show(result, as_json=json_out)
    if result.error is not None:
        raise result.error
