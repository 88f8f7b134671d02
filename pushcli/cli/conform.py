"""pushcli conform: check that the configured server behaves like Pusher Channels."""

from typing import Annotated

import typer

from pushcli.app.conform.model import GROUPS
from pushcli.cli.options import JsonOpt, state


def _groups(values: list[str] | None) -> list[str] | None:
    for value in values or []:
        if value not in GROUPS:
            raise typer.BadParameter(f"{value!r} is not one of {', '.join(GROUPS)}")
    return values


def conform(
    ctx: typer.Context,
    only: Annotated[
        list[str] | None,
        typer.Option(
            "--only",
            metavar="GROUP",
            callback=_groups,
            help=f"Run only this group (repeatable): {', '.join(GROUPS)}.",
        ),
    ] = None,
    json_out: JsonOpt = False,
    destructive: Annotated[
        bool,
        typer.Option(
            "--destructive",
            help="Also run checks with side effects: terminate connections, load, input "
            "that can crash a non-conforming server.",
        ),
    ] = False,
    webhook_port: Annotated[
        int | None,
        typer.Option(
            "--webhook-port",
            metavar="PORT",
            min=1,
            max=65535,
            help="Receive webhooks on 127.0.0.1:PORT (point the app's webhook URL there).",
        ),
    ] = None,
    timeout: Annotated[
        float,
        typer.Option(
            "--timeout",
            min=0.1,
            metavar="SECONDS",
            help="Seconds to wait for each expected answer.",
        ),
    ] = 2.0,
) -> None:
    """Check that a server behaves like Pusher.

    WebSocket, presence, client events, cache and encrypted channels, the HTTP API and webhooks: each check passes, fails (with what was expected, what happened and the Pusher rule) or is skipped. Exit 0 when nothing failed, 9 when something did.

    Examples:
      pushcli conform
      pushcli --profile staging conform --only presence --only http-api
      pushcli conform --destructive --webhook-port 9100 --json > report.json
    """
    from pushcli.app.conform import runner
    from pushcli.errors import ExitCode
    from pushcli.ui import render
    from pushcli.ui.conform import show

    settings = state(ctx).settings()
    settings.require("app_id", "key", "secret", "location")
    master = None
    if settings.encryption_master_key:
        from pushcli.protocol.crypto import decode_master_key

        master = decode_master_key(settings.encryption_master_key)
    checks = runner.select(only)
    if runner.is_pusher_com(settings):
        n = runner.message_estimate(checks, destructive=destructive)
        render.message(
            f"conform: {len(checks)} checks against {settings.server_label} will send about "
            f"{n} messages (they count towards the app's message quota)"
        )
    report = runner.run(
        settings,
        groups=only,
        destructive=destructive,
        webhook_port=webhook_port,
        timeout=timeout,
        master_key=master,
    )
    if render.wants_json(json_out):
        render.print_json(report.as_dict())
    else:
        show(report)
    if not report.ok:
        raise typer.Exit(int(ExitCode.NONCONFORMING))
