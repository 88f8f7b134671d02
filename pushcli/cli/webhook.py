"""pushcli webhook verify / listen / send."""

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from pushcli.cli.options import JsonOpt, read_stdin_bytes, state

app = typer.Typer(
    help="Verify, receive and send Pusher webhooks.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)


@app.command("verify")
def verify(
    ctx: typer.Context,
    signature: Annotated[str, typer.Option("--signature", help="The X-Pusher-Signature header.")],
    body: Annotated[
        str,
        typer.Option("--body", help="File with the raw body, or - for stdin.", metavar="FILE|-"),
    ] = "-",
    key: Annotated[str | None, typer.Option("--key", help="The X-Pusher-Key header.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Check a webhook's signature over its raw body; explain a mismatch.

    Example: pushcli webhook verify --body body.json --signature 4f2a… --key app-key
    """
    from pushcli.errors import RejectedError
    from pushcli.protocol import diagnose
    from pushcli.ui import render

    settings = state(ctx).settings().require("key", "secret")
    raw = read_stdin_bytes() if body == "-" else _read_bytes(body)
    verdict = diagnose.verify_webhook(settings.secret, settings.key, raw, signature, key)
    if render.wants_json(json_out):
        out = verdict.as_dict()
        out.pop("string_to_sign")
        out["body_bytes"] = len(raw)
        render.print_json(out)
    else:
        render.key_values(
            [
                ("verdict", "valid" if verdict.valid else "INVALID"),
                ("body", f"{len(raw)} bytes"),
                ("expected signature", verdict.expected),
                ("given signature", verdict.given),
                *(("likely cause", c) for c in verdict.causes),
            ]
        )
    if not verdict.valid:
        raise RejectedError(
            "the webhook signature does not verify (expected and likely cause above)"
        )


def _read_bytes(path: str) -> bytes:
    from pushcli.errors import InputError

    try:
        return Path(path).expanduser().read_bytes()
    except OSError as e:
        raise InputError(f"cannot read {path}: {e.strerror}") from None


@app.command("listen")
def listen(
    ctx: typer.Context,
    port: Annotated[int, typer.Option("--port", help="Port to receive webhooks on.")] = 9000,
    host: Annotated[str, typer.Option("--host", help="Address to bind.")] = "127.0.0.1",
    forward_to: Annotated[
        str | None,
        typer.Option("--forward-to", help="Forward each webhook, unchanged, to this URL."),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Receive webhooks, verify each, show them live, and forward them to your app.

    Example: pushcli webhook listen --port 9000 --forward-to http://localhost:3000/pusher/webhook
    """
    from pushcli.app import endpoint
    from pushcli.app.webhooks import WebhookReceiver
    from pushcli.server.localhttp import is_loopback, run_until_stopped
    from pushcli.ui import render

    settings = state(ctx).settings().require("key", "secret")
    as_json = render.wants_json(json_out)

    def report(record: dict[str, Any]) -> None:
        if as_json:
            render.print_ndjson([record])
            return
        mark = "ok " if record["valid"] else "BAD"
        extra = record.get("user_id") or record.get("event") or ""
        fwd = record.get("forward")
        fwd_text = f"  → {fwd.get('status', fwd.get('error'))}" if fwd else ""
        problem = f"  ({record['problem']})" if record.get("problem") else ""
        print(
            f"{record['time'][11:19]}  {mark}  {record.get('name', '?'):18} {record.get('channel', '')}  {extra}{fwd_text}{problem}",
            flush=True,
        )

    receiver = WebhookReceiver(settings, forward_to=forward_to, report=report)
    server, _ = endpoint.bind(host, port, receiver)
    if not is_loopback(host):
        render.message(f"pushcli: warning: listening on {host}, reachable from other machines")
    where = f"; forwarding to {forward_to}" if forward_to else ""
    render.message(
        f"pushcli: receiving webhooks on http://{host}:{server.server_address[1]}/ (app key {settings.key}){where}; Ctrl-C stops"
    )
    try:
        run_until_stopped(server)
    finally:
        render.message(f"pushcli: {receiver.received} webhooks, {receiver.invalid} invalid")


@app.command("send")
def send(
    ctx: typer.Context,
    url: Annotated[str, typer.Argument(help="Your webhook endpoint.")],
    event_name: Annotated[
        str,
        typer.Argument(
            help="channel_occupied, channel_vacated, member_added, member_removed, client_event, cache_miss, subscription_count."
        ),
    ],
    channel: Annotated[str | None, typer.Option("--channel", help="Channel of the event.")] = None,
    user_id: Annotated[
        str | None, typer.Option("--user-id", help="member_* / client_event user id.")
    ] = None,
    data: Annotated[str | None, typer.Option("--data", help="client_event data (JSON).")] = None,
    event: Annotated[str | None, typer.Option("--event", help="client_event event name.")] = None,
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

    Example: pushcli webhook send http://localhost:3000/pusher/webhook member_added --channel presence-room --user-id u1
    """
    from pushcli.app import webhooks
    from pushcli.ui import render

    settings = state(ctx).settings().require("key", "secret")
    ev = webhooks.sample_event(event_name, channel=channel, user_id=user_id, data=data, event=event)
    body = webhooks.body_for([ev])
    result = webhooks.send(
        url, body, webhooks.headers_for(settings, body, bad_signature=bad_signature)
    )
    if render.wants_json(json_out):
        render.print_json(
            {
                "status": result.status,
                "ms": round(result.ms, 1),
                "body": result.body,
                "sent": json.loads(body),
            }
        )
    else:
        render.message(f"{url} answered {result.status} in {result.ms:.0f} ms")
    webhooks.check_answer(url, result, bad_signature=bad_signature)
