"""pushcli auth sign / user: print exactly what an auth endpoint returns."""

from typing import Annotated

import typer

from pushcli.cli.options import JsonOpt, state

app = typer.Typer(
    help="""Generate channel and user authentication signatures.

    Examples:
      pushcli auth sign private-orders --socket-id 1234.5678
      pushcli auth verify private-orders --socket-id 1234.5678 --auth app-key:6f2c…
      pushcli auth serve --port 8080
    """,
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)

SocketId = Annotated[
    str,
    typer.Option(
        "--socket-id", metavar="SOCKET_ID", help="The connection's socket id, e.g. 1234.5678."
    ),
]


@app.command("sign")
def sign(
    ctx: typer.Context,
    channel: Annotated[
        str,
        typer.Argument(
            help="private-, presence- or private-encrypted- channel.", metavar="CHANNEL"
        ),
    ],
    socket_id: SocketId,
    user_id: Annotated[
        str | None, typer.Option("--user-id", metavar="ID", help="Presence: the user's id.")
    ] = None,
    user_info: Annotated[
        str | None,
        typer.Option(
            "--user-info",
            metavar="JSON",
            help='Presence: user info as JSON (default {"id": USER_ID, "name": "pushcli"}).',
        ),
    ] = None,
) -> None:
    """Print the JSON an auth endpoint returns for a subscription.

    Examples:
      pushcli auth sign private-orders --socket-id 1234.5678
      pushcli auth sign presence-room --socket-id 1234.5678 --user-id u1 --user-info '{"name": "Ada"}'
    """
    from pushcli.app import auth
    from pushcli.ui import show

    settings = state(ctx).settings()
    show.auth_answer(auth.sign(settings, channel, socket_id, user_id=user_id, user_info=user_info))


@app.command("user")
def user(
    ctx: typer.Context,
    socket_id: SocketId,
    user_data: Annotated[
        str,
        typer.Option(
            "--user-data",
            metavar="JSON",
            help='User data JSON with a string "id", e.g. {"id":"u1"}.',
        ),
    ],
) -> None:
    """Print the JSON a user-authentication (signin) endpoint returns.

    Examples:
      pushcli auth user --socket-id 1234.5678 --user-data '{"id": "u1"}'
    """
    from pushcli.app import auth
    from pushcli.ui import show

    show.auth_answer(auth.user(state(ctx).settings(), socket_id, user_data))


@app.command("verify")
def verify(
    ctx: typer.Context,
    channel: Annotated[
        str | None,
        typer.Argument(
            help="The channel (omit with --user-data for user authentication).", metavar="CHANNEL"
        ),
    ] = None,
    socket_id: SocketId = ...,  # type: ignore[assignment]
    auth_value: Annotated[
        str,
        typer.Option(
            "--auth", metavar="KEY:SIGNATURE", help="The auth value to check, KEY:SIGNATURE."
        ),
    ] = ...,  # type: ignore[assignment]
    channel_data: Annotated[
        str | None,
        typer.Option(
            "--channel-data", metavar="JSON", help="Presence: the exact channel_data string."
        ),
    ] = None,
    user_data: Annotated[
        str | None,
        typer.Option(
            "--user-data", metavar="JSON", help="User authentication: the exact user_data string."
        ),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Check an auth signature; when it is wrong, say what should have been signed and why.

    Examples:
      pushcli auth verify private-orders --socket-id 1234.5678 --auth app-key:6f2c…
      pushcli auth verify --socket-id 1234.5678 --user-data '{"id":"u1"}' --auth app-key:9a0b…
    """
    from pushcli.app import auth
    from pushcli.ui import show

    result = auth.verify(
        state(ctx).settings(),
        channel,
        socket_id,
        auth_value,
        channel_data=channel_data,
        user_data=user_data,
    )
    show.auth_verdict(result, as_json=json_out)
    if result.error is not None:
        raise result.error


@app.command("serve")
def serve(
    ctx: typer.Context,
    port: Annotated[int, typer.Option("--port", metavar="PORT", help="Port to listen on.")] = 8080,
    host: Annotated[
        str, typer.Option("--host", metavar="ADDRESS", help="Address to bind.")
    ] = "127.0.0.1",
    user_id: Annotated[
        str | None,
        typer.Option(
            "--user-id",
            metavar="ID",
            help="Presence/signin user id (default: per request X-User-Id, else user-SOCKET_ID).",
        ),
    ] = None,
    user_info: Annotated[
        str | None,
        typer.Option(
            "--user-info",
            metavar="JSON",
            help='Presence/signin user info JSON (presence default {"id": ID, "name": "pushcli"}).',
        ),
    ] = None,
    cors_origin: Annotated[
        list[str] | None,
        typer.Option(
            "--cors-origin",
            metavar="ORIGIN",
            help="Allow this browser origin (repeatable; * for any).",
        ),
    ] = None,
    deny: Annotated[
        list[str] | None,
        typer.Option(
            "--deny",
            metavar="GLOB",
            help="Refuse channels matching this glob with 403 (repeatable).",
        ),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Run a local auth endpoint for front-end development: POST /pusher/auth and /pusher/user-auth.

    Examples:
      pushcli auth serve
      pushcli auth serve --port 8080 --cors-origin http://localhost:5173 --deny 'private-admin-*'
    """
    from pushcli.app import auth
    from pushcli.ui import show

    auth.serve(
        state(ctx).settings(),
        host=host,
        port=port,
        user_id=user_id,
        user_info=user_info,
        cors_origins=list(cors_origin or []),
        deny=list(deny or []),
        view=show.AuthServeView(as_json=json_out),
    )
