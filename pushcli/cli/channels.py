"""pushcli channels / channel / members: query the HTTP API."""

from typing import Annotated

import typer

from pushcli.cli.options import JsonOpt, state

InfoOpt = Annotated[
    str | None,
    typer.Option("--info", metavar="ATTRS", help="Attributes to ask for, comma-separated."),
]


def channels(
    ctx: typer.Context,
    prefix: Annotated[
        str | None,
        typer.Option("--prefix", metavar="PREFIX", help="Only channels starting with PREFIX."),
    ] = None,
    info: InfoOpt = None,
    show_all: Annotated[
        bool,
        typer.Option(
            "--all",
            help="Also list servers' internal #server-to-user- channels (soketi lists them).",
        ),
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """List occupied channels.

    Examples:
      pushcli channels
      pushcli channels --prefix presence- --info user_count
    """
    from pushcli.app import channels as app_channels
    from pushcli.ui import show

    result = app_channels.channels(state(ctx).settings, prefix, info, show_all=show_all)
    show.channels(result, as_json=json_out)


def channel(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Channel name.", metavar="CHANNEL")],
    info: InfoOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Show one channel: occupied, and with --info user_count, subscription_count, cache.

    Examples:
      pushcli channel my-channel
      pushcli channel presence-room --info user_count,subscription_count
    """
    from pushcli.app import channels as app_channels
    from pushcli.ui import show

    show.channel(app_channels.channel(state(ctx).settings, name, info), as_json=json_out)


def members(
    ctx: typer.Context,
    channel: Annotated[str, typer.Argument(help="A presence- channel.", metavar="CHANNEL")],
    json_out: JsonOpt = False,
) -> None:
    """List the members of a presence channel.

    Examples:
      pushcli members presence-room
      pushcli members presence-room --json | jq -r '.users[].id'
    """
    from pushcli.app import channels as app_channels
    from pushcli.ui import show

    show.members(app_channels.members(state(ctx).settings, channel), as_json=json_out)
