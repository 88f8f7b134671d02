"""pushcli batch: send many events from a JSON array, {"batch": [...]} or NDJSON."""

from pathlib import Path
from typing import Annotated, Any

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
    parallel: Annotated[
        int,
        typer.Option(
            "--parallel",
            min=1,
            max=32,
            metavar="N",
            help="Connections to send over; channels are split between them and each keeps its order.",
        ),
    ] = 4,
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
    from pushcli.app import publish
    from pushcli.cli import replay as replay_cli
    from pushcli.errors import PartialFailure
    from pushcli.protocol import events
    from pushcli.ui import render

    settings = state(ctx).settings()
    evs = events.parse_batch(read_file(source), max_data_bytes=settings.max_data_bytes)
    speed = replay_cli.prepare(evs, replay, speed)
    publish.encrypt_events(settings, evs)
    settings.require("app_id", "key", "secret", "location")

    if dry_run:
        from pushcli.client.rest import build_request, encode_body

        for part in publish.chunks(evs):
            body = encode_body({"batch": [ev.wire() for ev in part]})
            print(build_request(settings, "POST", "/batch_events", body=body).describe())
        render.message(
            f"dry run: {render.plural(len(evs), 'event')} in "
            f"{render.plural(len(publish.chunks(evs)), 'request')}; nothing sent"
        )
        return

    show_progress = render.stdout_is_tty() and not json_out and len(evs) > 10
    if replay:
        progress = render.stdout_is_tty() and not json_out
        result = replay_cli.send(
            settings, evs, speed=speed, retries=retries, timeout=timeout, progress=progress
        )
    elif show_progress:
        result = _send_with_progress(settings, evs, parallel, retries, timeout)
    else:
        result = publish.send_parallel(
            settings, evs, workers=parallel, retries=retries, timeout=timeout
        )

    if result.failed and failed_to is not None:
        _write_failed(failed_to, result.failed)
    summary = result.summary()
    if failed_to is not None and result.failed:
        summary["failed_to"] = str(failed_to)
    if render.wants_json(json_out):
        render.print_json(summary)
        if result.maybe_duplicated:
            render.message(_duplicates_note(result.maybe_duplicated))
    else:
        render.message(_summary_line(result))
    if not result.failed:
        return
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
        # its own code: 5 rejected, 6 unavailable (also when no answer came)
        raise problem.error(f"{what}: {problem.message}{resume}")
    maybe = f", {unknown} of them with no answer (they may have been delivered)" if unknown else ""
    first = result.errors[0] if result.errors else ""
    raise PartialFailure(
        f"{len(result.failed)} of {result.total} events failed{maybe}: {first}{resume}"
    )


def _summary_line(result: Any) -> str:
    from pushcli.ui import render

    line = (
        f"sent {result.sent} of {render.plural(result.total, 'event')} in "
        f"{render.plural(result.requests, 'request')}, "
        f"{result.seconds:.2f} s ({result.rate:,.0f} events/s); {len(result.failed)} failed"
    )
    if result.unknown:
        line += f", {len(result.unknown)} of them unknown (may have been delivered)"
    if result.maybe_duplicated:
        line += f"; {_duplicates_note(result.maybe_duplicated)}"
    return line


def _duplicates_note(n: int) -> str:
    return (
        f"{n} events were sent again after a request with no answer: they may have been "
        "delivered twice"
    )


def _send_with_progress(
    settings: Any, evs: list[Any], parallel: int, retries: int, timeout: float
) -> Any:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from pushcli.app import publish
    from pushcli.ui import render

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=render.console(stderr=True),
        transient=True,
        auto_refresh=False,  # no refresh thread: send_parallel forks its workers
    ) as bar:
        task = bar.add_task("sending", total=len(evs))

        def advance(n: int) -> None:
            bar.advance(task, n)
            bar.refresh()

        return publish.send_parallel(
            settings, evs, workers=parallel, retries=retries, timeout=timeout, progress=advance
        )


def _write_failed(path: Path, failed: list) -> None:  # type: ignore[type-arg]
    from pushcli.protocol.events import event_to_ndjson

    with path.open("w", encoding="utf-8") as f:
        for ev in failed:
            f.write(event_to_ndjson(ev) + "\n")
