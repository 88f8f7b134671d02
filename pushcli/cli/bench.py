"""pushcli bench: end-to-end latency, throughput and loss of a Pusher deployment."""

from pathlib import Path
from typing import Annotated

import typer

from pushcli.cli.options import state

SUBSCRIBERS = "Subscribers"
PUBLISHING = "Publishing"
OUTPUT = "Output"


def bench(
    ctx: typer.Context,
    channels: Annotated[
        int,
        typer.Option(
            "--channels",
            min=1,
            max=1000,
            metavar="N",
            help="Public channels bench-<run id>-<i>.",
            rich_help_panel=SUBSCRIBERS,
        ),
    ] = 1,
    subscribers: Annotated[
        int | None,
        typer.Option(
            "--subscribers",
            min=1,
            max=10000,
            metavar="N",
            rich_help_panel=SUBSCRIBERS,
            show_default=False,
            help="WebSocket subscribers, spread over the channels (default 10; 5 on pusher.com).",
        ),
    ] = None,
    rate: Annotated[
        float | None,
        typer.Option(
            "--rate",
            min=0.001,
            metavar="PER_SECOND",
            rich_help_panel=PUBLISHING,
            show_default=False,
            help="Messages per second (default 100; 10 on pusher.com).",
        ),
    ] = None,
    max_rate: Annotated[
        bool,
        typer.Option(
            "--max",
            help="Publish as fast as the server answers (1 request in flight).",
            rich_help_panel=PUBLISHING,
        ),
    ] = False,
    messages: Annotated[
        int | None,
        typer.Option(
            "--messages",
            "-n",
            min=1,
            metavar="N",
            rich_help_panel=PUBLISHING,
            show_default=False,
            help="Messages to publish (default 1000; 100 on pusher.com).",
        ),
    ] = None,
    duration: Annotated[
        float | None,
        typer.Option(
            "--duration",
            min=0.001,
            metavar="SECONDS",
            help="Publish for SECONDS instead.",
            rich_help_panel=PUBLISHING,
        ),
    ] = None,
    size: Annotated[
        int,
        typer.Option(
            "--size", metavar="BYTES", help="Bytes of data per message.", rich_help_panel=PUBLISHING
        ),
    ] = 100,
    batch: Annotated[
        bool,
        typer.Option(
            "--batch",
            help="Publish 10 messages per request (batch_events).",
            rich_help_panel=PUBLISHING,
        ),
    ] = False,
    yes: Annotated[
        bool,
        typer.Option(
            "--yes",
            "-y",
            help="Allow a load that costs messages on pusher.com.",
            rich_help_panel=PUBLISHING,
        ),
    ] = False,
    csv_file: Annotated[
        Path | None,
        typer.Option(
            "--csv",
            metavar="FILE",
            help="Write one row per message received.",
            rich_help_panel=OUTPUT,
        ),
    ] = None,
    run_id: Annotated[
        str | None,
        typer.Option(
            "--run-id",
            metavar="ID",
            help="Name the channels bench-ID-<i> (default random).",
            rich_help_panel=SUBSCRIBERS,
        ),
    ] = None,
    drain: Annotated[
        float,
        typer.Option(
            "--drain",
            min=0,
            metavar="SECONDS",
            help="Wait up to SECONDS for late deliveries.",
            rich_help_panel=SUBSCRIBERS,
        ),
    ] = 5.0,
    retries: Annotated[
        int,
        typer.Option(
            "--retries",
            min=0,
            max=10,
            metavar="N",
            help="Retries per request on 429/5xx/network errors.",
            rich_help_panel=PUBLISHING,
        ),
    ] = 3,
    json_out: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Print JSON (the default when stdout is not a terminal).",
            rich_help_panel=OUTPUT,
        ),
    ] = False,
) -> None:
    """Measure a deployment: subscribers, REST publishing, end-to-end latency with one clock.

    Reports p50/p90/p99/p99.9/max latency, publish request latency, delivered/s, loss and
    duplicates; exit 7 when messages were lost. On a pusher.com cluster, loads above 1,000
    deliveries or 10 messages/s need --yes (every message counts against your quota).

    Examples:
      pushcli bench
      pushcli bench --subscribers 50 --messages 2000 --max --batch --csv run.csv
      pushcli bench --rate 20 --duration 60 --json > run.json
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
