"""pushcli batch: send many events from a JSON array, {"batch": [...]} or NDJSON."""

from pathlib import Path
from typing import Annotated

import typer

from pushcli.cli.options import DryRunOpt, JsonOpt, read_file, state


def batch(
    ctx: typer.Context,
    source: Annotated[
        str, typer.Argument(help="File with events, or '-' for stdin.", metavar="FILE|-")
    ],
    failed_to: Annotated[
        Path | None,
        typer.Option(
            "--failed-to",
            metavar="FILE",
            help="Write events that still failed as NDJSON here (resumable).",
        ),
    ] = None,
    retries: Annotated[
        int,
        typer.Option(
            "--retries",
            min=0,
            max=10,
            metavar="N",
            help="Retries per request on 429/5xx/network errors.",
        ),
    ] = 3,
    concurrency: Annotated[
        int | None,
        typer.Option(
            "--concurrency",
            min=1,
            max=256,
            metavar="N",
            help="Requests in flight, one connection each (default 32; with --parallel, one "
            "per process). A channel's next request waits for its previous one.",
            show_default=False,
        ),
    ] = None,
    unordered: Annotated[
        bool,
        typer.Option(
            "--unordered",
            help="Do not keep each channel's events in order: requests of 10 in file order, "
            "any connection (fast with few busy channels).",
        ),
    ] = False,
    parallel: Annotated[
        int | None,
        typer.Option(
            "--parallel",
            min=1,
            max=32,
            metavar="P",
            help="Processes to send from (for CPU-bound links such as loopback); channels "
            "are split between them. Alone: one request in flight per process.",
            show_default=False,
        ),
    ] = None,
    timeout: Annotated[
        float,
        typer.Option(
            "--timeout",
            min=0.1,
            max=300,
            metavar="SECONDS",
            help="Seconds to wait for each request's answer; a request with no answer may still "
            "have been delivered.",
        ),
    ] = 10.0,
    replay: Annotated[
        bool,
        typer.Option(
            "--replay",
            help='Keep the spacing of the events\' "time" (a listen --record file), in order '
            "over one connection.",
        ),
    ] = False,
    speed: Annotated[
        float | None,
        typer.Option(
            "--speed", min=0, metavar="X", help="With --replay: X times faster; 0 = no waiting."
        ),
    ] = None,
    json_out: JsonOpt = False,
    dry_run: DryRunOpt = False,
) -> None:
    """Send many events: everything is validated first, then sent 10 per request.

    FILE is a JSON array, {"batch": [...]} or NDJSON (one event a line); each event is
    {"channel" or "channels", "name", "data"?, "socket_id"?}.

    Examples:
      pushcli batch events.ndjson --failed-to failed.ndjson
      pushcli batch failed.ndjson
      pushcli batch recorded.ndjson --replay --speed 2
    """
    from pushcli.app import batch as app
    from pushcli.app import replay as replaying
    from pushcli.ui import progress, render

    app.check_options(replay=replay, concurrency=concurrency, unordered=unordered)
    settings = state(ctx).settings()
    evs, speed = app.load(settings, read_file(source), replay=replay, speed=speed)
    options = app.Options.of(
        concurrency=concurrency,
        parallel=parallel,
        unordered=unordered,
        retries=retries,
        timeout=timeout,
    )
    if dry_run:
        progress.dry_run(app.describe(settings, evs, options), len(evs))
        return

    on_tty = render.stdout_is_tty() and not json_out
    if replay:
        if speed:
            progress.replay_notice(len(evs), replaying.duration(evs, speed), speed)
        with progress.maybe_bar(on_tty, len(evs), "replaying", eta=False) as advance:
            result = replaying.run(
                settings, evs, speed=speed, retries=retries, timeout=timeout, progress=advance
            )
    else:
        with progress.maybe_bar(on_tty and len(evs) > 10, len(evs)) as advance:
            result = app.send(settings, evs, options, progress=advance)

    if result.failed and failed_to is not None:
        app.write_failed(failed_to, result.failed)
    progress.summary(result, json_out=json_out, failed_to=failed_to)
    error = app.outcome_error(result, failed_to)
    if error is not None:
        raise error
