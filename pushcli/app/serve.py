"""``pushcli serve``: which apps, where, with which limits; then the embedded server runs.

The server itself is pushcli.server (it logs its own lines to stderr while it runs).
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

from pushcli.client.profiles import Settings
from pushcli.errors import ConfigError
from pushcli.server import apps as server_apps
from pushcli.server.localhttp import is_loopback
from pushcli.server.records import OnRecord

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 6001


def address(settings: Settings, host: str | None, port: int | None) -> tuple[str, int]:
    """Flags, else the settings' host and port when they are on loopback, else 127.0.0.1:6001."""
    if settings.host and is_loopback(settings.host):
        host = host or settings.host
        port = settings.effective_port if port is None else port
    return host or DEFAULT_HOST, DEFAULT_PORT if port is None else port


def app_list(
    settings: Settings,
    *,
    specs: list[str] | None = None,
    apps_file: Path | None = None,
    given_app: bool = False,
    client_events: bool = True,
) -> list[server_apps.App]:
    """The settings' app, or the ``--app ID:KEY`` specs and the apps file (not both)."""
    if apps_file is None and not specs:
        found = [server_apps.from_settings(settings)]
    else:
        if given_app:
            raise ConfigError("give either --app-id/--key or --app/--apps-file, not both")
        found = [server_apps.parse_app_spec(s) for s in specs or []]
        if apps_file is not None:
            from pushcli.app import logs

            with logs.to_stderr("pushcli.server"):  # its warning, as one plain line
                found += server_apps.load_apps_file(apps_file.expanduser())
    if not client_events:
        found = [dataclasses.replace(a, client_events=False) for a in found]
    return found


def serve(
    settings: Settings,
    *,
    host: str | None = None,
    port: int | None = None,
    ready_file: Path | None = None,
    given_app: bool = False,
    specs: list[str] | None = None,
    apps_file: Path | None = None,
    webhook_urls: list[str] | None = None,
    activity_timeout: int = 120,
    pong_timeout: float = 30.0,
    cache_ttl: float = 1800.0,
    cache_max_channels: int = 10_000,
    cache_max_mb: int = 64,
    request_timeout: float = 10.0,
    max_data_kb: int = 100,
    client_events: bool = True,
    verbose: bool = False,
    records: Callable[[str], AbstractContextManager[OnRecord | None]] | None = None,
) -> None:
    """Serve until Ctrl-C or SIGTERM (exit 6 when the port cannot be had).

    ``records``, given the address, opens where the server's records go (``--log``,
    ``--console``): a context giving the ``on_record`` hook, or None.
    """
    from pushcli.server import cli_run

    where_host, where_port = address(settings, host, port)
    served = app_list(
        settings,
        specs=specs,
        apps_file=apps_file,
        given_app=given_app,
        client_events=client_events,
    )
    hooks = [server_apps.check_webhook_url(u) for u in webhook_urls or []]
    from pushcli.app import logs

    sink = records(f"{where_host}:{where_port}") if records else contextlib.nullcontext(None)
    with logs.to_stderr("pushcli.server", fmt=logs.SERVE_FORMAT), sink as on_record:
        cli_run(
            served,
            host=where_host,
            port=where_port,
            limits=dataclasses.replace(
                server_apps.Limits.with_data_limit(max_data_kb),
                request_timeout_seconds=request_timeout,
                max_cache_channels=cache_max_channels,
                max_cache_bytes=cache_max_mb * 1024 * 1024,
            ),
            activity_timeout=activity_timeout,
            pong_timeout=pong_timeout,
            cache_ttl=cache_ttl,
            webhook_urls=hooks,
            verbose=verbose,
            ready_file=ready_file,
            on_record=on_record,
        )
