"""pushcli trigger: send one event to one or more channels."""

from typing import Annotated, Any

import typer

from pushcli.cli.options import DryRunOpt, JsonOpt, RawOpt, SocketIdOpt, read_data, state


def trigger(
    ctx: typer.Context,
    channel: Annotated[
        str,
        typer.Argument(
            help="Channel, or a comma-separated list (up to 100).", metavar="CHANNEL[,CHANNEL...]"
        ),
    ],
    event: Annotated[str, typer.Argument(help="Event name.", metavar="EVENT")],
    data: Annotated[
        str | None,
        typer.Argument(
            help="JSON or a plain string; '-' reads stdin, '@file' a file. Default {}.",
            metavar="DATA",
        ),
    ] = None,
    socket_id: SocketIdOpt = None,
    info: Annotated[
        str | None, typer.Option("--info", help="Ask for user_count,subscription_count.")
    ] = None,
    raw: RawOpt = False,
    json_out: JsonOpt = False,
    dry_run: DryRunOpt = False,
) -> None:
    """Send an event to one or more channels.

    Example: pushcli trigger my-channel my-event '{"message": "hello"}'
    """
    from pushcli.app import publish
    from pushcli.protocol import events
    from pushcli.ui import render

    settings = state(ctx).settings()
    wire = events.data_from_text(read_data(data), raw=raw)
    channels = events.split_channels(channel)
    body = publish.trigger_body(settings, channels, event, wire, socket_id=socket_id, info=info)
    answer = send_event(settings, body, dry_run=dry_run)
    if dry_run:
        return
    if render.wants_json(json_out):
        render.print_json(answer)
        return
    where = channels[0] if len(channels) == 1 else f"{len(channels)} channels"
    render.message(f"sent {event} to {where}")
    counts = answer.get("channels") if isinstance(answer, dict) else None
    if counts:
        render.table(
            ["channel", "user_count", "subscription_count"],
            [(c, v.get("user_count"), v.get("subscription_count")) for c, v in counts.items()],
        )


def send_event(settings: Any, body: dict[str, Any], *, dry_run: bool) -> Any:
    """POST /events, or with ``dry_run`` print the signed request instead (and return None)."""
    from pushcli.client.rest import RestClient, build_request, encode_body

    if dry_run:
        settings.require("app_id", "key", "secret", "location")
        print(build_request(settings, "POST", "/events", body=encode_body(body)).describe())
        return None
    with RestClient(settings) as client:
        return client.trigger(body)
