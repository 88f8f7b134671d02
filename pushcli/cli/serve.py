"""pushcli serve: run a Pusher-compatible server (WebSocket + HTTP API) on this machine."""

from pathlib import Path
from typing import Annotated, Any

import typer

from pushcli.cli.options import state

WHERE = "Where"
APPS = "Apps"
LIMITS = "Timeouts and limits"


def serve(
    ctx: typer.Context,
    host: Annotated[
        str | None,
        typer.Option(
            "--host",
            metavar="ADDRESS",
            help="Address to listen on [default: the settings' loopback host, else 127.0.0.1].",
            rich_help_panel=WHERE,
        ),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(
            "--port",
            metavar="PORT",
            help="Port for WebSocket and the HTTP API [default: the settings' port, else 6001].",
            min=0,
            max=65535,
            rich_help_panel=WHERE,
        ),
    ] = None,
    ready_file: Annotated[
        Path | None,
        typer.Option(
            "--ready-file",
            metavar="FILE",
            help="Create FILE once the server accepts connections.",
            rich_help_panel=WHERE,
        ),
    ] = None,
    app_id: Annotated[
        str | None,
        typer.Option(
            "--app-id",
            metavar="ID",
            help="Serve this app id (secret from env or profile).",
            rich_help_panel=APPS,
        ),
    ] = None,
    key: Annotated[
        str | None,
        typer.Option("--key", metavar="KEY", help="Its key.", rich_help_panel=APPS),
    ] = None,
    apps: Annotated[
        list[str] | None,
        typer.Option(
            "--app",
            metavar="ID:KEY",
            help="An app to serve (repeatable); secret from env PUSHCLI_SERVE_SECRET_<ID>.",
            rich_help_panel=APPS,
        ),
    ] = None,
    apps_file: Annotated[
        Path | None,
        typer.Option(
            "--apps-file",
            metavar="FILE",
            help="TOML file with an apps list (id, key, secret or secret_env per app).",
            rich_help_panel=APPS,
        ),
    ] = None,
    webhook_urls: Annotated[
        list[str] | None,
        typer.Option(
            "--webhook-url",
            metavar="URL",
            help="Send signed webhooks here (repeatable).",
            rich_help_panel=APPS,
        ),
    ] = None,
    activity_timeout: Annotated[
        int,
        typer.Option(
            "--activity-timeout",
            min=1,
            metavar="SECONDS",
            help="Seconds of client silence before a ping.",
            rich_help_panel=LIMITS,
        ),
    ] = 120,
    pong_timeout: Annotated[
        float,
        typer.Option(
            "--pong-timeout",
            min=0.1,
            metavar="SECONDS",
            help="Seconds to answer a ping before close 4201.",
            rich_help_panel=LIMITS,
        ),
    ] = 30.0,
    cache_ttl: Annotated[
        float,
        typer.Option(
            "--cache-ttl",
            min=1,
            metavar="SECONDS",
            help="Seconds a cache channel keeps its last event.",
            rich_help_panel=LIMITS,
        ),
    ] = 1800.0,
    cache_max_channels: Annotated[
        int,
        typer.Option(
            "--cache-max-channels",
            min=1,
            metavar="N",
            help="Cache channels that keep an event (oldest go).",
            rich_help_panel=LIMITS,
        ),
    ] = 10_000,
    cache_max_mb: Annotated[
        int,
        typer.Option(
            "--cache-max-mb",
            min=1,
            metavar="MIB",
            help="Total size of the cached events in MiB.",
            rich_help_panel=LIMITS,
        ),
    ] = 64,
    request_timeout: Annotated[
        float,
        typer.Option(
            "--request-timeout",
            min=0.1,
            metavar="SECONDS",
            help="Seconds a client has to send a whole HTTP request (or handshake); then 408.",
            rich_help_panel=LIMITS,
        ),
    ] = 10.0,
    max_data_kb: Annotated[
        int,
        typer.Option(
            "--max-data-kb",
            min=1,
            metavar="KB",
            help="Largest event data in KB.",
            rich_help_panel=LIMITS,
        ),
    ] = 100,
    no_client_events: Annotated[
        bool,
        typer.Option("--no-client-events", help="Refuse client- events.", rich_help_panel=APPS),
    ] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Log every frame and request.")
    ] = False,
    log: Annotated[
        str | None,
        typer.Option(
            "--log",
            metavar="FILE|-",
            help="Debug console: a record per connection, subscription, message, webhook and "
            "error, appended to FILE (- for stdout).",
        ),
    ] = None,
    log_format: Annotated[
        str | None,
        typer.Option("--log-format", metavar="text|json", help="--log as text lines or NDJSON."),
    ] = None,
    console: Annotated[
        bool,
        typer.Option("--console", help="Show those records as a live view on this terminal."),
    ] = False,
) -> None:
    """Run a Pusher-compatible server here: WebSocket and HTTP API on one port.

    With nothing configured it serves the default local app (app-id / app-key / app-secret) on 127.0.0.1:6001, where every other pushcli command looks when no profile is set; PUSHER_HOST/PUSHER_PORT (or a profile) on loopback move it.

    Examples:
      pushcli serve
      pushcli serve --port 6002 --webhook-url http://localhost:3000/pusher/webhook
      PUSHCLI_SERVE_SECRET_42=s3cret pushcli serve --app 42:my-key
    """
    from pushcli.app.serve import serve as run

    _check_log_options(log, log_format, console)

    st = state(ctx)
    st.flags.update({k: v for k, v in {"app_id": app_id, "key": key}.items() if v})
    run(
        st.settings(hint=False),
        host=host,
        port=port,
        ready_file=ready_file,
        given_app=bool(app_id or key),
        specs=list(apps or []),
        apps_file=apps_file,
        webhook_urls=list(webhook_urls or []),
        activity_timeout=activity_timeout,
        pong_timeout=pong_timeout,
        cache_ttl=cache_ttl,
        cache_max_channels=cache_max_channels,
        cache_max_mb=cache_max_mb,
        request_timeout=request_timeout,
        max_data_kb=max_data_kb,
        client_events=not no_client_events,
        verbose=verbose,
        records=lambda address: _records(log, log_format, console, address),
    )


def _records(log: str | None, log_format: str | None, console: bool, address: str) -> Any:
    from pushcli.ui.serverconsole import server_records

    return server_records(log, log_format or "text", console=console, address=address)


def _check_log_options(log: str | None, log_format: str | None, console: bool) -> None:
    import sys

    if log_format is not None:
        if log_format not in ("text", "json"):
            raise typer.BadParameter("use text or json", param_hint="--log-format")
        if log is None:
            raise typer.BadParameter(
                "it formats --log FILE|-: give --log too", param_hint="--log-format"
            )
    if console:
        if log == "-":
            raise typer.BadParameter(
                "--console draws on stdout: give --log a FILE", param_hint="--log"
            )
        if not sys.stdout.isatty():
            raise typer.BadParameter(
                "it needs a terminal on stdout (for a log: --log -)", param_hint="--console"
            )
