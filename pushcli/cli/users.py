"""pushcli users send / terminate: server-to-user events and disconnecting a user."""

from typing import Annotated

import typer

from pushcli.cli.options import DryRunOpt, JsonOpt, RawOpt, read_data, state
from pushcli.protocol.channels import CHANNEL_NAME_RE, server_to_user_channel

app = typer.Typer(
    help="Send events to a signed-in user, or terminate their connections.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)

UserIdArg = Annotated[str, typer.Argument(help="The user's id (as given at signin).")]


@app.command("send")
def send(
    ctx: typer.Context,
    user_id: UserIdArg,
    event: Annotated[str, typer.Argument(help="Event name.")],
    data: Annotated[
        str | None, typer.Argument(help="JSON or a string; '-' stdin, '@file'.")
    ] = None,
    raw: RawOpt = False,
    json_out: JsonOpt = False,
    dry_run: DryRunOpt = False,
) -> None:
    """Send an event to every connection of a signed-in user.

    Example: pushcli users send user-42 notice '{"text": "hi"}'
    """
    from pushcli.app import publish
    from pushcli.cli.trigger import send_event
    from pushcli.protocol import events
    from pushcli.ui import render

    settings = state(ctx).settings()
    _check_user_id(user_id)
    wire = events.data_from_text(read_data(data), raw=raw)
    channel = server_to_user_channel(user_id)
    body = publish.trigger_body(settings, [channel], event, wire)
    answer = send_event(settings, body, dry_run=dry_run)
    if dry_run:
        return
    if render.wants_json(json_out):
        render.print_json(answer)
    else:
        render.message(f"sent {event} to user {user_id}")


@app.command("terminate")
def terminate(ctx: typer.Context, user_id: UserIdArg, json_out: JsonOpt = False) -> None:
    """Close every connection of a signed-in user.

    Example: pushcli users terminate user-42
    """
    from pushcli.client.rest import RestClient
    from pushcli.ui import render

    _check_user_id(user_id)
    with RestClient(state(ctx).settings()) as client:
        answer = client.terminate(user_id)
    if render.wants_json(json_out):
        render.print_json(answer)
    else:
        render.message(f"terminated the connections of user {user_id}")


def _check_user_id(user_id: str) -> None:
    from pushcli.errors import InputError

    if not user_id or not CHANNEL_NAME_RE.fullmatch(user_id):
        raise InputError(
            f"invalid user id {user_id!r}: only letters, digits and -_=@,.; are allowed"
        )
