"""pushcli webhook verify / listen / send."""

from pathlib import Path
from typing import Annotated

import typer

from pushcli.cli.options import JsonOpt, read_stdin_bytes, state

app = typer.Typer(
    help="""Verify, receive and send Pusher webhooks.

    Examples:
      pushcli webhook listen --port 9000 --forward-to http://localhost:3000/pusher/webhook
      pushcli webhook send http://localhost:3000/pusher/webhook channel_occupied --channel orders
      pushcli webhook verify --body body.json --signature 4f2a… --key app-key
    """,
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)


@app.command("verify")
def verify(
    ctx: typer.Context,
    signature: Annotated[
        str, typer.Option("--signature", metavar="HEX", help="The X-Pusher-Signature header.")
    ],
    body: Annotated[
        str,
        typer.Option("--body", help="File with the raw body, or - for stdin.", metavar="FILE|-"),
    ] = "-",
    key: Annotated[
        str | None, typer.Option("--key", metavar="KEY", help="The X-Pusher-Key header.")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Check a webhook's signature over its raw body; explain a mismatch.

    Examples:
      pushcli webhook verify --body body.json --signature 4f2a… --key app-key
      pushcli webhook verify --signature 4f2a… < body.json
    """
    from pushcli.app import webhook
    from pushcli.ui import show

    def read_body() -> bytes:
        return read_stdin_bytes() if body == "-" else _read_bytes(body)

    result = webhook.verify(state(ctx).settings(), read_body, signature, key=key)
    show.webhook_verdict(result, as_json=json_out)
    if result.error is not None:
        raise result.error


def _read_bytes(path: str) -> bytes:
    from pushcli.errors import InputError

    try:
        return Path(path).expanduser().read_bytes()
    except OSError as e:
        raise InputError(f"cannot read {path}: {e.strerror}") from None


@app.command("listen")
def listen(
    ctx: typer.Context,
    port: Annotated[
        int, typer.Option("--port", metavar="PORT", help="Port to receive webhooks on.")
    ] = 9000,
    host: Annotated[
        str, typer.Option("--host", metavar="ADDRESS", help="Address to bind.")
    ] = "127.0.0.1",
    forward_to: Annotated[
        str | None,
        typer.Option(
            "--forward-to", metavar="URL", help="Forward each webhook, unchanged, to this URL."
        ),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Receive webhooks, verify each, show them live, and forward them to your app.

    Examples:
      pushcli webhook listen
      pushcli webhook listen --port 9000 --forward-to http://localhost:3000/pusher/webhook
    """
    from pushcli.app import webhook
    from pushcli.ui import show

    webhook.listen(
        state(ctx).settings(),
        host=host,
        port=port,
        forward_to=forward_to,
        view=show.WebhookListenView(as_json=json_out),
    )


@app.command("send")
def send(
    ctx: typer.Context,
    url: Annotated[str, typer.Argument(help="Your webhook endpoint.", metavar="URL")],
    event_name: Annotated[
        str,
        typer.Argument(
            help="channel_occupied, channel_vacated, member_added, member_removed, client_event, cache_miss, subscription_count.",
            metavar="WEBHOOK",
        ),
    ],
    channel: Annotated[
        str | None, typer.Option("--channel", metavar="CHANNEL", help="Channel of the event.")
    ] = None,
    user_id: Annotated[
        str | None,
        typer.Option("--user-id", metavar="ID", help="member_* / client_event user id."),
    ] = None,
    data: Annotated[
        str | None, typer.Option("--data", metavar="JSON", help="client_event data (JSON).")
    ] = None,
    event: Annotated[
        str | None, typer.Option("--event", metavar="EVENT", help="client_event event name.")
    ] = None,
    bad_signature: Annotated[
        bool,
        typer.Option(
            "--bad-signature",
            help="Sign with a wrong secret: succeeds only if the endpoint refuses it.",
        ),
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Send a correctly signed sample webhook to your endpoint.

    Examples:
      pushcli webhook send http://localhost:3000/pusher/webhook member_added --channel presence-room --user-id u1
      pushcli webhook send http://localhost:3000/pusher/webhook channel_occupied --channel orders --bad-signature
    """
    from pushcli.app import webhook
    from pushcli.ui import show

    result = webhook.send(
        state(ctx).settings(),
        url,
        event_name,
        channel=channel,
        user_id=user_id,
        data=data,
        event=event,
        bad_signature=bad_signature,
    )
    show.webhook_sent(result, as_json=json_out)
    if result.error is not None:
        raise result.error
