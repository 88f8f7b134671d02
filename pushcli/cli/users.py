"""pushcli users send / terminate: server-to-user events and disconnecting a user."""

from typing import Annotated

import typer

from pushcli.cli.options import DryRunOpt, JsonOpt, RawOpt, read_data, state

app = typer.Typer(
    help="""Send events to a signed-in user, or terminate their connections.

    Examples:
      pushcli users send user-42 notice '{"text": "hi"}'
      pushcli users terminate user-42
    """,
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)

UserIdArg = Annotated[
    str, typer.Argument(help="The user's id (as given at signin).", metavar="USER_ID")
]


@app.command("send")
def send(
    ctx: typer.Context,
    user_id: UserIdArg,
    event: Annotated[str, typer.Argument(help="Event name.", metavar="EVENT")],
    data: Annotated[
        str | None,
        typer.Argument(
            help="JSON or a plain string; '-' reads stdin, '@file' a file. Default {}.",
            metavar="DATA",
        ),
    ] = None,
    raw: RawOpt = False,
    json_out: JsonOpt = False,
    dry_run: DryRunOpt = False,
) -> None:
    """Send an event to every connection of a signed-in user.

    Examples:
      pushcli users send user-42 notice '{"text": "hi"}'
      pushcli users send user-42 notice @notice.json --dry-run
    """
    from pushcli.app import users
    from pushcli.protocol import events
    from pushcli.ui import show

    settings = state(ctx).settings()
    users.check_user_id(user_id)  # before DATA is read
    wire = events.data_from_text(read_data(data), raw=raw)
    show.user_send(users.send(settings, user_id, event, wire, dry_run=dry_run), as_json=json_out)


@app.command("terminate")
def terminate(ctx: typer.Context, user_id: UserIdArg, json_out: JsonOpt = False) -> None:
    """Close every connection of a signed-in user.

    Examples:
      pushcli users terminate user-42
    """
    from pushcli.app import users
    from pushcli.ui import show

    show.terminate(users.terminate(state(ctx).settings, user_id), as_json=json_out)
