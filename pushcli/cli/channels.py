"""pushcli channels / channel / members: query the HTTP API."""

from typing import Annotated

import typer

from pushcli.cli.options import JsonOpt, state, stop_on_sigterm
from pushcli.errors import InputError

InfoOpt = Annotated[
    str | None,
    typer.Option("--info", metavar="ATTRS", help="Attributes to ask for, comma-separated."),
]
WatchOpt = Annotated[bool, typer.Option("--watch", help="Keep watching: a live view (or NDJSON).")]
IntervalOpt = Annotated[
    float | None,
    typer.Option(
        "--interval",
        min=0,
        metavar="SECONDS",
        help="With --watch: seconds between polls, start to start [default: 1].",
        show_default=False,
    ),
]
PollsOpt = Annotated[
    int | None,
    typer.Option("--polls", min=1, metavar="N", help="With --watch: stop after N polls (exit 0)."),
]
SORTS = ("name", "count", "age")


def _watch_only(watch: bool, **given: object) -> None:
    """--interval and the like mean nothing without --watch: say so rather than ignore them."""
    if watch:
        return
    for name, value in given.items():
        if value not in (None, False):
            raise InputError(f"--{name} only applies with --watch")


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
    watch: WatchOpt = False,
    interval: IntervalOpt = None,
    sort: Annotated[
        str | None,
        typer.Option(
            "--sort",
            metavar="name|count|age",
            help="With --watch: order by name, by subscription count (largest first) or by "
            "age (newest first) [default: name].",
            show_default=False,
        ),
    ] = None,
    snapshots: Annotated[
        bool,
        typer.Option(
            "--snapshots", help="With --watch --json: a snapshot line after every poll, not once."
        ),
    ] = False,
    polls: PollsOpt = None,
) -> None:
    """List occupied channels; --watch keeps polling and shows counts and changes live.

    Examples:
      pushcli channels
      pushcli channels --prefix presence- --info user_count
      pushcli channels --watch --sort count
    """
    _watch_only(watch, interval=interval, sort=sort, snapshots=snapshots, polls=polls)
    if watch:
        from pushcli.app import watch as app_watch
        from pushcli.ui import watchview

        if info:
            raise InputError("--info does not apply with --watch (it asks for the counts itself)")
        if sort is not None and sort not in SORTS:
            raise InputError(f"--sort must be one of {', '.join(SORTS)}, not {sort!r}")
        stop_on_sigterm()
        settings = state(ctx).settings()
        every = 1.0 if interval is None else interval
        watchview.show_channels(
            app_watch.watch_channels(
                settings, prefix, interval=every, show_all=show_all, polls=polls
            ),
            as_json=json_out,
            server=settings.rest_base,
            prefix=prefix,
            sort=sort or "name",
            interval=every,
            snapshots=snapshots,
        )
        return
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
    watch: Annotated[
        bool,
        typer.Option(
            "--watch",
            help="Keep watching: members with user_info, joins and leaves as they happen, as a "
            "presence member of pushcli's own (the others see it join).",
        ),
    ] = False,
    poll: Annotated[
        bool,
        typer.Option(
            "--poll",
            help="With --watch: poll the HTTP API instead of joining (nobody sees the watcher; "
            "no user_info, joins and leaves up to --interval late).",
        ),
    ] = False,
    interval: IntervalOpt = None,
    polls: PollsOpt = None,
    user_id: Annotated[
        str | None,
        typer.Option(
            "--user-id",
            metavar="ID",
            help="With --watch: the watcher's user id (default pushcli-<random>).",
        ),
    ] = None,
    user_info: Annotated[
        str | None,
        typer.Option(
            "--user-info",
            metavar="JSON",
            help='With --watch: the watcher\'s user info (default {"id": ID, "name": "pushcli"}).',
        ),
    ] = None,
) -> None:
    """List the members of a presence channel; --watch shows joins and leaves live.

    Examples:
      pushcli members presence-room
      pushcli members presence-room --json | jq -r '.users[].id'
      pushcli members presence-room --watch
    """
    _watch_only(
        watch, poll=poll, interval=interval, polls=polls, user_id=user_id, user_info=user_info
    )
    if watch:
        from functools import partial

        from pushcli.app import presence
        from pushcli.ui import watchview

        if polls is not None and not poll:
            raise InputError("--polls only applies with --poll")
        if interval is not None and not poll:
            raise InputError("--interval only applies with --poll (the WebSocket is not polled)")
        stop_on_sigterm()
        presence.watch_members(
            state(ctx).settings,
            channel,
            open_sink=partial(watchview.open_members, json_out),
            poll=poll,
            interval=1.0 if interval is None else interval,
            polls=polls,
            user_id=user_id,
            user_info=user_info,
        )
        return
    from pushcli.app import channels as app_channels
    from pushcli.ui import show

    show.members(app_channels.members(state(ctx).settings, channel), as_json=json_out)
