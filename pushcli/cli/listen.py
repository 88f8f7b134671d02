"""pushcli listen / client-event: the live tail over the WebSocket protocol, and client events."""

from pathlib import Path
from typing import Annotated

import typer

from pushcli.cli.options import JsonOpt, read_data, state, stop_on_sigterm
from pushcli.errors import InputError
from pushcli.protocol.channels import check_channel, client_event_refusal, kind_of

AuthEndpointOpt = Annotated[
    str | None,
    typer.Option(
        "--auth-endpoint",
        metavar="URL",
        help="Authorize channels with your app's auth endpoint (as pusher-js does), "
        "not the local secret.",
    ),
]
AuthHeaderOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--auth-header", metavar='"NAME: VALUE"', help="Header for the auth endpoint (repeatable)."
    ),
]
UserIdOpt = Annotated[
    str | None,
    typer.Option(
        "--user-id", metavar="ID", help="Presence and signin user id (default pushcli-<random>)."
    ),
]
UserInfoOpt = Annotated[
    str | None,
    typer.Option(
        "--user-info",
        metavar="JSON",
        help='Presence user info as JSON (default {"id": ID, "name": "pushcli"}).',
    ),
]
RetriesOpt = Annotated[
    int,
    typer.Option(
        "--retries",
        min=1,
        help="Connection attempts in a row before giving up (exit 6); a connection the server "
        "closes within 5 s counts as a failed attempt.",
    ),
]
ConnectTimeoutOpt = Annotated[
    float,
    typer.Option(
        "--connect-timeout",
        min=0.001,
        metavar="SECONDS",
        help="Seconds each connection attempt may take until the server's "
        "pusher:connection_established (as pusher-js).",
    ),
]
SigninOpt = Annotated[
    bool | None,
    typer.Option(
        "--signin/--no-signin",
        help="Sign in as --user-id with the app secret (servers with user authentication close "
        "other connections) [default: on, off with --auth-endpoint].",
        show_default=False,
    ),
]


def _signs_in(signin: bool | None, auth_endpoint: str | None) -> bool:
    """Sign in by default, but not as a made-up user when the app's own endpoint authorizes."""
    return (auth_endpoint is None) if signin is None else signin


def _check_channels(channels: list[str]) -> list[str]:

    if not channels:
        raise InputError("no channel given")
    for c in channels:
        if not kind_of(c).subscribable:
            raise InputError(f"{c}: server-to-user channels cannot be subscribed to")
        check_channel(c)
    if len(set(channels)) != len(channels):
        raise InputError("a channel is listed twice")
    return channels


def listen(
    ctx: typer.Context,
    channels: Annotated[
        list[str], typer.Argument(help="Channels to subscribe to.", metavar="CHANNEL")
    ],
    event: Annotated[
        list[str] | None,
        typer.Option(
            "--event", "-e", metavar="GLOB", help="Only events matching this glob (repeatable)."
        ),
    ] = None,
    system: Annotated[
        bool, typer.Option("--system", help="Also show pusher:* and pusher_internal:* frames.")
    ] = False,
    count: Annotated[
        int | None,
        typer.Option("--count", "-n", min=1, metavar="N", help="Exit 0 after N matching events."),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(
            "--until", metavar="EVENT", help="Exit 0 when this event arrives (printed first)."
        ),
    ] = None,
    timeout: Annotated[
        float | None,
        typer.Option(
            "--timeout",
            min=0.001,
            metavar="SECONDS",
            help="Give up after this long: exit 8 when --count/--until were not met, 6 (or 5 "
            "when refused) when not every channel was subscribed by then.",
        ),
    ] = None,
    ready_file: Annotated[
        Path | None,
        typer.Option(
            "--ready-file", metavar="PATH", help="Create PATH once every channel is subscribed."
        ),
    ] = None,
    auth_endpoint: AuthEndpointOpt = None,
    auth_header: AuthHeaderOpt = None,
    user_id: UserIdOpt = None,
    user_info: UserInfoOpt = None,
    retries: RetriesOpt = 5,
    connect_timeout: ConnectTimeoutOpt = 15.0,
    signin: SigninOpt = None,
    serve: Annotated[
        bool,
        typer.Option(
            "--serve",
            help="Also run the embedded server here (on the profile's loopback host/port).",
        ),
    ] = False,
    demo: Annotated[
        bool, typer.Option("--demo", help="Trigger a demo event on the first channel every second.")
    ] = False,
    record: Annotated[
        Path | None,
        typer.Option(
            "--record",
            metavar="FILE",
            help="Also write each event as NDJSON that pushcli batch --replay re-sends.",
        ),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Show events on channels as they arrive: a live view on a terminal, NDJSON otherwise.

    Example: pushcli listen my-channel presence-room --until order-shipped --timeout 30
    """
    import asyncio

    from pushcli.app import tail
    from pushcli.client import authorize
    from pushcli.client.realtime import Listener
    from pushcli.ui import liveview, render

    stop_on_sigterm()
    from pushcli.app.record import recording

    settings = state(ctx).settings(hint=not serve).require("key", "location")
    channels = _check_channels(channels)
    uid = user_id or authorize.default_user_id()
    authorizer = authorize.build(
        settings,
        channels,
        endpoint=auth_endpoint,
        headers=auth_header or [],
        user_id=uid,
        user_info=user_info,
    )
    listener = Listener(
        settings,
        channels,
        authorizer,
        retries=retries,
        connect_timeout=connect_timeout,
        signin=authorize.signer(settings, uid) if _signs_in(signin, auth_endpoint) else None,
    )
    opts = tail.Options(
        events=event or [],
        system=system,
        count=count,
        until=until,
        timeout=timeout,
        ready_file=ready_file,
    )
    from pushcli.app.demo import run_with

    demo_channel = channels[0] if demo else None
    if demo:
        settings.require("app_id", "secret")
    if render.wants_json(json_out):
        with recording(liveview.NdjsonSink(), record) as sink:
            main = tail.listen_for(listener, sink, opts)
            asyncio.run(run_with(settings, serve, demo_channel, main))
        return
    with liveview.LiveSink(settings.ws_base, channels) as live, recording(live, record) as sink:
        asyncio.run(run_with(settings, serve, demo_channel, tail.listen_for(listener, sink, opts)))


def client_event(
    ctx: typer.Context,
    channel: Annotated[str, typer.Argument(help="A private- or presence- channel.")],
    event: Annotated[str, typer.Argument(help="Event name, starting with client-.")],
    data: Annotated[
        str | None,
        typer.Argument(
            help="JSON (sent as a value) or a plain string; '-' stdin, '@file' a file. Default {}."
        ),
    ] = None,
    wait: Annotated[
        float,
        typer.Option(
            "--wait", min=0, metavar="SECONDS", help="How long to watch for a pusher:error."
        ),
    ] = 1.0,
    timeout: Annotated[
        float,
        typer.Option(
            "--timeout", min=0.001, metavar="SECONDS", help="Give up subscribing after this long."
        ),
    ] = 10.0,
    auth_endpoint: AuthEndpointOpt = None,
    auth_header: AuthHeaderOpt = None,
    user_id: UserIdOpt = None,
    user_info: UserInfoOpt = None,
    retries: RetriesOpt = 3,
    connect_timeout: ConnectTimeoutOpt = 15.0,
    signin: SigninOpt = None,
) -> None:
    """Send a client event from a connection of pushcli's own (like a browser would).

    Example: pushcli client-event private-chat client-typing '{"user": "ada"}'
    """
    import asyncio

    from pushcli.app import tail
    from pushcli.client import authorize
    from pushcli.client.realtime import Listener
    from pushcli.protocol import events, limits
    from pushcli.ui import liveview

    stop_on_sigterm()

    refusal = client_event_refusal(check_channel(channel))
    if refusal is not None:
        raise InputError(refusal)
    limits.check_event_name(event)
    if not event.startswith("client-"):
        raise InputError(f"client event names must start with client- (got {event!r})")
    text = read_data(data)
    try:
        value = events.loads(text)
    except events.JSONInputError as e:  # NaN or too deep: looks like JSON, is not
        raise InputError(f"DATA is not valid JSON ({e})") from None
    except ValueError:
        value = text
    settings = state(ctx).settings().require("key", "location")
    uid = user_id or authorize.default_user_id()
    authorizer = authorize.build(
        settings,
        [channel],
        endpoint=auth_endpoint,
        headers=auth_header or [],
        user_id=uid,
        user_info=user_info,
    )
    listener = Listener(
        settings,
        [channel],
        authorizer,
        retries=retries,
        connect_timeout=connect_timeout,
        signin=authorize.signer(settings, uid) if _signs_in(signin, auth_endpoint) else None,
    )
    sink = liveview.NdjsonSink()
    asyncio.run(
        tail.send_client_event(listener, sink, channel, event, value, wait=wait, timeout=timeout)
    )
