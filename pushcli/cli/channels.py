"""pushcli channels / channel / members: query the HTTP API."""

from typing import Annotated

import typer

from pushcli.cli.options import JsonOpt, state
from pushcli.protocol.channels import PRESENCE_PREFIX, check_channel, kind_of

InfoOpt = Annotated[
    str | None,
    typer.Option("--info", help="Attributes to ask for, comma-separated."),
]


def channels(
    ctx: typer.Context,
    prefix: Annotated[
        str | None, typer.Option("--prefix", help="Only channels starting with this.")
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

    Example: pushcli channels --prefix presence- --info user_count
    """
    from pushcli.app.publish import check_info
    from pushcli.client.rest import RestClient
    from pushcli.protocol.channels import SERVER_TO_USER_PREFIX, is_internal
    from pushcli.ui import render

    info = check_info(info)
    if info and "user_count" in info and not (prefix or "").startswith(PRESENCE_PREFIX):
        from pushcli.errors import InputError

        raise InputError("--info user_count needs --prefix presence-")
    with RestClient(state(ctx).settings()) as client:
        answer = client.channels(prefix, info)
    found = answer.get("channels") if isinstance(answer, dict) else None
    found = found if isinstance(found, dict) else {}
    hidden = 0
    if not show_all and not is_internal(prefix or ""):
        # soketi lists the channel pusher-js subscribes to after signin; it is no app channel.
        kept = {n: a for n, a in found.items() if not is_internal(n)}
        hidden = len(found) - len(kept)
        if hidden:
            found = kept
            answer = {**answer, "channels": kept}
    if hidden:
        render.message(
            f"pushcli: {hidden} internal {SERVER_TO_USER_PREFIX}* channel"
            f"{'s' if hidden != 1 else ''} not shown (--all shows them)"
        )
    if render.wants_json(json_out):
        render.print_json(answer)
        return
    fields = info.split(",") if info else []
    render.table(
        ["channel", *fields],
        [(name, *(attrs.get(f) for f in fields)) for name, attrs in sorted(found.items())],
        title=f"{len(found)} occupied channel{'s' if len(found) != 1 else ''}",
    )


def channel(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Channel name.")],
    info: InfoOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Show one channel: occupied, and with --info user_count, subscription_count, cache.

    Example: pushcli channel presence-room --info user_count
    """
    from pushcli.app.publish import check_info
    from pushcli.client.rest import RestClient
    from pushcli.ui import render

    check_channel(name)
    info = check_info(info, ("user_count", "subscription_count", "cache"))
    if info and "user_count" in info and not kind_of(name).has_members:
        from pushcli.errors import InputError

        raise InputError("--info user_count is only for presence- channels")
    with RestClient(state(ctx).settings()) as client:
        answer = client.channel(name, info)
    if info and "cache" in info.split(",") and isinstance(answer, dict) and "cache" not in answer:
        render.message(
            f"pushcli: the server answered without cache: nothing is cached on {name}, "
            "or the server ignores info=cache (soketi does)"
        )
    if render.wants_json(json_out):
        render.print_json(answer)
        return
    rows = [("channel", name)]
    if isinstance(answer, dict):
        for k, v in answer.items():
            rows.append((k, render.dumps(v) if isinstance(v, dict | list) else v))
    render.key_values(rows)


def members(
    ctx: typer.Context,
    channel: Annotated[str, typer.Argument(help="A presence- channel.")],
    json_out: JsonOpt = False,
) -> None:
    """List the members of a presence channel.

    Example: pushcli members presence-room
    """
    from pushcli.client.rest import RestClient
    from pushcli.errors import InputError
    from pushcli.ui import render

    check_channel(channel)
    if not kind_of(channel).has_members:
        raise InputError(
            f"{channel} is not a presence channel: members exist only on presence- channels"
        )
    with RestClient(state(ctx).settings()) as client:
        answer = client.users(channel)
    if render.wants_json(json_out):
        render.print_json(answer)
        return
    users = answer.get("users", []) if isinstance(answer, dict) else []
    render.table(
        ["user_id"],
        [(u.get("id"),) for u in users],
        title=f"{len(users)} member{'s' if len(users) != 1 else ''} of {channel}",
    )
