"""pushcli auth sign / user: print exactly what an auth endpoint returns."""

from typing import Annotated, Any

import typer

from pushcli.cli.options import JsonOpt, state

app = typer.Typer(
    help="Generate channel and user authentication signatures.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)

SocketId = Annotated[
    str, typer.Option("--socket-id", help="The connection's socket id, e.g. 1234.5678.")
]


@app.command("sign")
def sign(
    ctx: typer.Context,
    channel: Annotated[
        str, typer.Argument(help="private-, presence- or private-encrypted- channel.")
    ],
    socket_id: SocketId,
    user_id: Annotated[
        str | None, typer.Option("--user-id", help="Presence: the user's id.")
    ] = None,
    user_info: Annotated[
        str | None,
        typer.Option(
            "--user-info",
            help='Presence: user info as JSON (default {"id": USER_ID, "name": "pushcli"}).',
        ),
    ] = None,
) -> None:
    """Print the JSON an auth endpoint returns for a subscription.

    Example: pushcli auth sign presence-room --socket-id 1234.5678 --user-id u1 --user-info '{"name":"Ada"}'
    """
    from pushcli.protocol import auth
    from pushcli.ui import render

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
        str,
        typer.Option("--user-data", help='User data JSON with a string "id", e.g. {"id":"u1"}.'),
    ],
) -> None:
    """Print the JSON a user-authentication (signin) endpoint returns.

    Example: pushcli auth user --socket-id 1234.5678 --user-data '{"id":"u1"}'
    """
    from pushcli.protocol import auth
    from pushcli.ui import render

    settings = state(ctx).settings()
    render.print_json(auth.user_auth_response(settings, socket_id, user_data), pretty=False)


@app.command("verify")
def verify(
    ctx: typer.Context,
    channel: Annotated[
        str | None,
        typer.Argument(help="The channel (omit with --user-data for user authentication)."),
    ] = None,
    socket_id: SocketId = ...,  # type: ignore[assignment]
    auth_value: Annotated[
        str, typer.Option("--auth", help="The auth value to check, KEY:SIGNATURE.")
    ] = ...,  # type: ignore[assignment]
    channel_data: Annotated[
        str | None, typer.Option("--channel-data", help="Presence: the exact channel_data string.")
    ] = None,
    user_data: Annotated[
        str | None,
        typer.Option("--user-data", help="User authentication: the exact user_data string."),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Check an auth signature; when it is wrong, say what should have been signed and why.

    Example: pushcli auth verify private-orders --socket-id 1234.5678 --auth app-key:6f2c…
    """
    from pushcli.errors import InputError, RejectedError
    from pushcli.protocol import diagnose
    from pushcli.ui import render

    settings = state(ctx).settings().require("key", "secret")
    if user_data is not None:
        if channel_data is not None:
            raise InputError("give --channel-data or --user-data, not both")
        verdict = diagnose.verify_user_auth(
            settings.key, settings.secret, socket_id, auth_value, user_data
        )
    else:
        if channel is None:
            raise InputError("give a CHANNEL (or --user-data to check user authentication)")
        verdict = diagnose.verify_channel_auth(
            settings.key, settings.secret, channel, socket_id, auth_value, channel_data=channel_data
        )
    if render.wants_json(json_out):
        render.print_json(verdict.as_dict())
    else:
        render.key_values(
            [
                ("verdict", "valid" if verdict.valid else "INVALID"),
                ("string to sign", verdict.string_to_sign),
                ("expected auth", verdict.expected),
                ("given auth", verdict.given),
                *(("likely cause", c) for c in verdict.causes),
            ]
        )
    if not verdict.valid:
        raise RejectedError("the signature does not verify (expected and likely cause above)")


@app.command("serve")
def serve(
    ctx: typer.Context,
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8080,
    host: Annotated[str, typer.Option("--host", help="Address to bind.")] = "127.0.0.1",
    user_id: Annotated[
        str | None,
        typer.Option(
            "--user-id",
            help="Presence/signin user id (default: per request X-User-Id, else user-SOCKET_ID).",
        ),
    ] = None,
    user_info: Annotated[
        str | None,
        typer.Option(
            "--user-info",
            help='Presence/signin user info JSON (presence default {"id": ID, "name": "pushcli"}).',
        ),
    ] = None,
    cors_origin: Annotated[
        list[str] | None,
        typer.Option("--cors-origin", help="Allow this browser origin (repeatable; * for any)."),
    ] = None,
    deny: Annotated[
        list[str] | None,
        typer.Option("--deny", help="Refuse channels matching this glob with 403 (repeatable)."),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Run a local auth endpoint for front-end development: POST /pusher/auth and /pusher/user-auth.

    Example: pushcli auth serve --port 8080 --cors-origin http://localhost:5173 --deny 'private-admin-*'
    """
    from pushcli.app import logs
    from pushcli.app.authserver import AuthEndpoint
    from pushcli.server.localhttp import is_loopback, make_server, run_until_stopped
    from pushcli.ui import render

    settings = state(ctx).settings().require("key", "secret")
    if user_info is not None:
        from pushcli.protocol.auth import parse_json_arg

        parse_json_arg(user_info, "--user-info")
    as_json = render.wants_json(json_out)

    def log(record: dict[str, Any]) -> None:
        if as_json:
            render.print_ndjson([record])
            return
        who = f" user {record['user_id']}" if record.get("user_id") else ""
        what = record.get("channel") or "signin"
        print(
            f"{record['time'][11:19]}  {record['status']}  {what}  socket {record['socket_id']}{who}  {record['decision']}",
            flush=True,
        )

    endpoint = AuthEndpoint(
        settings,
        user_id=user_id,
        user_info=user_info,
        deny=list(deny or []),
        cors_origins=list(cors_origin or []),
        log=log,
    )
    server = _bind(make_server, host, port, endpoint)
    if not is_loopback(host):
        render.message(
            f"pushcli: warning: {host} is reachable from other machines; the endpoint signs for anyone"
        )
    bound = server.server_address[1]
    render.message(
        f"pushcli: auth endpoint on http://{host}:{bound}/pusher/auth and /pusher/user-auth "
        f"(app key {settings.key}); Ctrl-C stops"
    )
    with logs.to_stderr("pushcli.server.localhttp"):  # a request that failed: one line
        run_until_stopped(server)


def _bind(make_server, host: str, port: int, handler):  # type: ignore[no-untyped-def]
    from pushcli.errors import InputError

    try:
        return make_server(host, port, handler)
    except OSError as e:
        raise InputError(f"cannot listen on {host}:{port}: {e.strerror}") from None
