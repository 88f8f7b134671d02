"""pushcli trigger: send one event to one or more channels."""

from typing import Annotated

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
        str | None,
        typer.Option(
            "--info",
            metavar="ATTRS",
            help="Ask for user_count,subscription_count (comma-separated).",
        ),
    ] = None,
    raw: RawOpt = False,
    json_out: JsonOpt = False,
    dry_run: DryRunOpt = False,
) -> None:
    """Send an event to one or more channels.

    Examples:
      pushcli trigger my-channel my-event '{"message": "hello"}'
      pushcli trigger orders,audit order-created @order.json
      echo '{"n": 1}' | pushcli trigger my-channel counter -
      pushcli trigger presence-room notice --info user_count,subscription_count
    """
    from pushcli.app.trigger import trigger as run
    from pushcli.protocol import events
    from pushcli.ui import show

    settings = state(ctx).settings()
    wire = events.data_from_text(read_data(data), raw=raw)
    channels = events.split_channels(channel)
    result = run(settings, channels, event, wire, socket_id=socket_id, info=info, dry_run=dry_run)
    show.trigger(result, as_json=json_out)
