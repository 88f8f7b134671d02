"""pushcli listen / client-event: the live tail over the WebSocket protocol, and client events."""

from pathlib import Path
from typing import Annotated

import typer

from pushcli.cli.options import read_data, state, stop_on_sigterm

WHAT = "What to listen to"
STOP = "When to stop"
AUTH = "Presence and auth"
OUTPUT = "Output"
CONNECTION = "Connection"
LOCAL = "Local server"

AuthEndpointOpt = Annotated[
    str | None,
    typer.Option(
        "--auth-endpoint",
        metavar="URL",
        help="Authorize channels with your app's auth endpoint (as pusher-js does), "
        "not the local secret.",
        rich_help_panel=AUTH,
    ),
]
AuthHeaderOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--auth-header",
        metavar='"NAME: VALUE"',
        help="Header for the auth endpoint (repeatable).",
        rich_help_panel=AUTH,
    ),
]
UserIdOpt = Annotated[
    str | None,
    typer.Option(
        "--user-id",
        metavar="ID",
        help="Presence and signin user id (default pushcli-<random>).",
        rich_help_panel=AUTH,
    ),
]
UserInfoOpt = Annotated[
    str | None,
    typer.Option(
        "--user-info",
        metavar="JSON",
        help='Presence user info as JSON (default {"id": ID, "name": "pushcli"}).',
        rich_help_panel=AUTH,
    ),
]
RetriesOpt = Annotated[
    int | None,
    typer.Option(
        "--retries",
        min=1,
        metavar="N",
        help="Connection attempts in a row before giving up (exit 6); a connection the server "
        "closes within 5 s counts as a failed attempt.",
        rich_help_panel=CONNECTION,
    ),
]
ListenRetriesOpt = Annotated[
    int | None,
    typer.Option(
        "--retries",
        min=1,
        metavar="N",
        help="Connection attempts in a row before giving up (exit 6); a connection the server "
        "closes within 5 s counts as a failed attempt. Default: 5, but on a terminal with no "
        "--count/--until/--timeout listen keeps reconnecting until Ctrl-C.",
        show_default=False,
        rich_help_panel=CONNECTION,
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
        rich_help_panel=CONNECTION,
    ),
]
SigninOpt = Annotated[
    bool | None,
    typer.Option(
        "--signin/--no-signin",
        help="Sign in as --user-id with the app secret (servers with user authentication close "
        "other connections) [default: on, off with --auth-endpoint].",
        show_default=False,
        rich_help_panel=AUTH,
    ),
]


def listen(
    ctx: typer.Context,
    channels: Annotated[
        list[str], typer.Argument(help="Channels to subscribe to.", metavar="CHANNEL...")
    ],
    event: Annotated[
        list[str] | None,
        typer.Option(
            "--event",
            "-e",
            metavar="GLOB",
            help="Only events matching this glob (repeatable).",
            rich_help_panel=WHAT,
        ),
    ] = None,
    system: Annotated[
        bool,
        typer.Option(
            "--system",
            help="Also show pusher:* and pusher_internal:* frames.",
            rich_help_panel=WHAT,
        ),
    ] = False,
    count: Annotated[
        int | None,
        typer.Option(
            "--count",
            "-n",
            min=1,
            metavar="N",
            help="Exit 0 after N matching events.",
            rich_help_panel=STOP,
        ),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(
            "--until",
            metavar="EVENT",
            help="Exit 0 when this event arrives (printed first).",
            rich_help_panel=STOP,
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
            rich_help_panel=STOP,
        ),
    ] = None,
    ready_file: Annotated[
        Path | None,
        typer.Option(
            "--ready-file",
            metavar="FILE",
            help="Create FILE once every channel is subscribed.",
            rich_help_panel=STOP,
        ),
    ] = None,
    auth_endpoint: AuthEndpointOpt = None,
    auth_header: AuthHeaderOpt = None,
    user_id: UserIdOpt = None,
    user_info: UserInfoOpt = None,
    retries: ListenRetriesOpt = None,
    connect_timeout: ConnectTimeoutOpt = 15.0,
    signin: SigninOpt = None,
    serve: Annotated[
        bool,
        typer.Option(
            "--serve",
            help="Also run the embedded server here (on the profile's loopback host/port).",
            rich_help_panel=LOCAL,
        ),
    ] = False,
    demo: Annotated[
        bool,
        typer.Option(
            "--demo",
            help="Trigger a demo event on the first channel every second.",
            rich_help_panel=LOCAL,
        ),
    ] = False,
    record: Annotated[
        Path | None,
        typer.Option(
            "--record",
            metavar="FILE",
            help="Also write each event as NDJSON that pushcli batch --replay re-sends.",
            rich_help_panel=OUTPUT,
        ),
    ] = None,
    json_out: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Print NDJSON (the default when stdout is not a terminal).",
            rich_help_panel=OUTPUT,
        ),
    ] = False,
) -> None:
    """Show events on channels as they arrive: a live view on a terminal, NDJSON otherwise.

    Examples:
      pushcli listen my-channel
      pushcli listen presence-room --user-id ada --user-info '{"name": "Ada"}'
      pushcli listen orders --until order-shipped --timeout 30 > events.ndjson
      pushcli listen demo --serve --demo
    """
    from functools import partial

    from pushcli.app import listen as app_listen
    from pushcli.ui import liveview, render

    stop_on_sigterm()
    app_listen.listen(
        state(ctx).settings(hint=not serve),
        channels,
        open_sink=partial(liveview.open_sink, json_out),
        events=event,
        system=system,
        count=count,
        until=until,
        timeout=timeout,
        ready_file=ready_file,
        auth_endpoint=auth_endpoint,
        auth_headers=auth_header,
        user_id=user_id,
        user_info=user_info,
        retries=retries,
        terminal=render.stdout_is_tty(),
        connect_timeout=connect_timeout,
        signin=signin,
        serve=serve,
        demo=demo,
        record=record,
    )


def client_event(
    ctx: typer.Context,
    channel: Annotated[
        str, typer.Argument(help="A private- or presence- channel.", metavar="CHANNEL")
    ],
    event: Annotated[
        str, typer.Argument(help="Event name, starting with client-.", metavar="EVENT")
    ],
    data: Annotated[
        str | None,
        typer.Argument(
            help="JSON (sent as a value) or a plain string; '-' stdin, '@file' a file. Default {}.",
            metavar="DATA",
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

    Examples:
      pushcli client-event private-chat client-typing '{"user": "ada"}'
      pushcli client-event presence-room client-wave --user-id ada --wait 2
    """
    from pushcli.app import listen as app_listen
    from pushcli.ui import liveview

    stop_on_sigterm()
    app_listen.client_event(
        state(ctx).settings,
        channel,
        event,
        lambda: read_data(data),
        sink=liveview.NdjsonSink(),
        wait=wait,
        timeout=timeout,
        auth_endpoint=auth_endpoint,
        auth_headers=auth_header,
        user_id=user_id,
        user_info=user_info,
        retries=retries,
        connect_timeout=connect_timeout,
        signin=signin,
    )
