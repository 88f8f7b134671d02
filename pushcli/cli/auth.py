"""pushcli auth sign / user: print exactly what an auth endpoint returns."""


from typing import Annotated

import typer

from pushcli.cli.options import state

app = typer.Typer(help="Generate channel and user authentication signatures.", no_args_is_help=True, add_completion=False)

SocketId = Annotated[str, typer.Option("--socket-id", help="The connection's socket id, e.g. 1234.5678.")]


@app.command("sign")
def sign(
    ctx: typer.Context,
    channel: Annotated[str, typer.Argument(help="private-, presence- or private-encrypted- channel.")],
    socket_id: SocketId,
    user_id: Annotated[str | None, typer.Option("--user-id", help="Presence: the user's id.")] = None,
    user_info: Annotated[
        str | None, typer.Option("--user-info", help="Presence: user info as JSON.")
    ] = None,
) -> None:
    """Print the JSON an auth endpoint returns for a subscription.

    Example: pushcli auth sign presence-room --socket-id 1234.5678 --user-id u1 --user-info '{"name":"Ada"}'
    """
    from pushcli import auth, render

    settings = state(ctx).settings()
    answer = auth.channel_auth_response(
        settings, channel, socket_id, user_id=user_id, user_info=user_info
    )
    render.print_json(answer, pretty=False)


@app.command("user")
def user(
    ctx: typer.Context,
    socket_id: SocketId,
    user_data: Annotated[
        str, typer.Option("--user-data", help='User data JSON with a string "id", e.g. {"id":"u1"}.')
    ],
) -> None:
    """Print the JSON a user-authentication (signin) endpoint returns.

    Example: pushcli auth user --socket-id 1234.5678 --user-data '{"id":"u1"}'
    """
    from pushcli import auth, render

    settings = state(ctx).settings()
    render.print_json(auth.user_auth_response(settings, socket_id, user_data), pretty=False)
