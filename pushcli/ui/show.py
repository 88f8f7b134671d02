"""One renderer per result type of pushcli.app: what a command prints once it has run.

``show.X(result, as_json=...)`` draws the result of ``app.X``: JSON when asked or when stdout is
not a terminal, else a table or a message (see :mod:`pushcli.ui.render`). Data goes to stdout,
messages to stderr. The result types are imported only for type checking, so importing this
module imports no command's dependencies.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pushcli.protocol.channels import SERVER_TO_USER_PREFIX
from pushcli.ui import render

if TYPE_CHECKING:
    from pathlib import Path

    from pushcli.app.auth import AuthAnswer, Serving, VerifyResult
    from pushcli.app.channels import ChannelResult, ChannelsResult, MembersResult
    from pushcli.app.config import Added, Changed, Profiles, Shown
    from pushcli.app.doctor import DoctorResult
    from pushcli.app.trigger import TriggerResult
    from pushcli.app.users import TerminateResult, UserSendResult
    from pushcli.app.webhook import Received, Receiving
    from pushcli.app.webhook import SendResult as WebhookSendResult
    from pushcli.app.webhook import VerifyResult as WebhookVerifyResult


def dry_run(request: str) -> None:
    """A signed request that was not sent (``--dry-run``), on stdout."""
    print(request)


def trigger(r: TriggerResult, *, as_json: bool) -> None:
    if r.request is not None:
        dry_run(r.request)
        return
    if render.wants_json(as_json):
        render.print_json(r.answer)
        return
    where = r.channels[0] if len(r.channels) == 1 else f"{len(r.channels)} channels"
    render.message(f"sent {r.event} to {where}")
    if r.counts:
        render.table(
            ["channel", "user_count", "subscription_count"],
            [(c, v.get("user_count"), v.get("subscription_count")) for c, v in r.counts.items()],
        )


def user_send(r: UserSendResult, *, as_json: bool) -> None:
    if r.request is not None:
        dry_run(r.request)
        return
    if render.wants_json(as_json):
        render.print_json(r.answer)
    else:
        render.message(f"sent {r.event} to user {r.user_id}")


def terminate(r: TerminateResult, *, as_json: bool) -> None:
    if render.wants_json(as_json):
        render.print_json(r.answer)
    else:
        render.message(f"terminated the connections of user {r.user_id}")


def channels(r: ChannelsResult, *, as_json: bool) -> None:
    if r.hidden:
        render.message(
            f"pushcli: {render.plural(r.hidden, f'internal {SERVER_TO_USER_PREFIX}* channel')} "
            "not shown (--all shows them)"
        )
    if render.wants_json(as_json):
        render.print_json(r.answer)
        return
    render.table(
        ["channel", *r.fields],
        [(name, *(attrs.get(f) for f in r.fields)) for name, attrs in sorted(r.channels.items())],
        title=render.plural(len(r.channels), "occupied channel"),
    )


def channel(r: ChannelResult, *, as_json: bool) -> None:
    if r.cache_missing:
        render.message(
            f"pushcli: the server answered without cache: nothing is cached on {r.name}, "
            "or the server ignores info=cache (soketi does)"
        )
    if render.wants_json(as_json):
        render.print_json(r.answer)
        return
    rows: list[tuple[str, Any]] = [("channel", r.name)]
    if isinstance(r.answer, dict):
        for k, v in r.answer.items():
            rows.append((k, render.dumps(v) if isinstance(v, dict | list) else v))
    render.key_values(rows)


def members(r: MembersResult, *, as_json: bool) -> None:
    if render.wants_json(as_json):
        render.print_json(r.answer)
        return
    render.table(
        ["user_id"],
        [(u.get("id"),) for u in r.users],
        title=f"{render.plural(len(r.users), 'member')} of {r.channel}",
    )


def auth_answer(r: AuthAnswer) -> None:
    """Exactly what the endpoint would return: compact JSON, always."""
    render.print_json(r.answer, pretty=False)


def auth_verdict(r: VerifyResult, *, as_json: bool) -> None:
    v = r.verdict
    if render.wants_json(as_json):
        render.print_json(v.as_dict())
        return
    render.key_values(
        [
            ("verdict", "valid" if v.valid else "INVALID"),
            ("string to sign", v.string_to_sign),
            ("expected auth", v.expected),
            ("given auth", v.given),
            *(("likely cause", c) for c in v.causes),
        ]
    )


class AuthServeView:
    """``auth serve``: where it listens (stderr), then one line (or NDJSON) per request."""

    def __init__(self, *, as_json: bool) -> None:
        self.as_json = render.wants_json(as_json)

    def started(self, serving: Serving) -> None:
        host, port = serving.where.host, serving.where.port
        if not serving.where.loopback:
            render.message(
                f"pushcli: warning: {host} is reachable from other machines; "
                "the endpoint signs for anyone"
            )
        render.message(
            f"pushcli: auth endpoint on http://{host}:{port}/pusher/auth and /pusher/user-auth "
            f"(app key {serving.key}); Ctrl-C stops"
        )

    def request(self, record: dict[str, Any]) -> None:
        if self.as_json:
            render.print_ndjson([record])
            return
        who = f" user {record['user_id']}" if record.get("user_id") else ""
        what = record.get("channel") or "signin"
        print(
            f"{record['time'][11:19]}  {record['status']}  {what}  "
            f"socket {record['socket_id']}{who}  {record['decision']}",
            flush=True,
        )


def webhook_verdict(r: WebhookVerifyResult, *, as_json: bool) -> None:
    v = r.verdict
    if render.wants_json(as_json):
        out = v.as_dict()
        out.pop("string_to_sign")
        out["body_bytes"] = r.body_bytes
        render.print_json(out)
        return
    render.key_values(
        [
            ("verdict", "valid" if v.valid else "INVALID"),
            ("body", f"{r.body_bytes} bytes"),
            ("expected signature", v.expected),
            ("given signature", v.given),
            *(("likely cause", c) for c in v.causes),
        ]
    )


class WebhookListenView:
    """``webhook listen``: where it listens (stderr), one line (or NDJSON) per event, counts."""

    def __init__(self, *, as_json: bool) -> None:
        self.as_json = render.wants_json(as_json)

    def started(self, receiving: Receiving) -> None:
        host, port = receiving.where.host, receiving.where.port
        if not receiving.where.loopback:
            render.message(f"pushcli: warning: listening on {host}, reachable from other machines")
        where = f"; forwarding to {receiving.forward_to}" if receiving.forward_to else ""
        render.message(
            f"pushcli: receiving webhooks on http://{host}:{port}/ "
            f"(app key {receiving.key}){where}; Ctrl-C stops"
        )

    def webhook(self, record: dict[str, Any]) -> None:
        if self.as_json:
            render.print_ndjson([record])
            return
        mark = "ok " if record["valid"] else "BAD"
        extra = record.get("user_id") or record.get("event") or ""
        fwd = record.get("forward")
        fwd_text = f"  → {fwd.get('status', fwd.get('error'))}" if fwd else ""
        problem = f"  ({record['problem']})" if record.get("problem") else ""
        print(
            f"{record['time'][11:19]}  {mark}  {record.get('name', '?'):18} "
            f"{record.get('channel', '')}  {extra}{fwd_text}{problem}",
            flush=True,
        )

    def stopped(self, received: Received) -> None:
        render.message(
            f"pushcli: {render.plural(received.received, 'webhook')}, {received.invalid} invalid"
        )


def webhook_sent(r: WebhookSendResult, *, as_json: bool) -> None:
    if render.wants_json(as_json):
        render.print_json(
            {"status": r.status, "ms": round(r.ms, 1), "body": r.body, "sent": r.sent_json}
        )
    else:
        render.message(f"{r.url} answered {r.status} in {r.ms:.0f} ms")


def doctor(r: DoctorResult, *, as_json: bool) -> None:
    if render.wants_json(as_json):
        render.print_json({"ok": r.ok, "checks": [c.as_dict() for c in r.checks]})
        return
    marks = {"pass": "✓", "warn": "!", "fail": "✗", "skip": "-"}
    rows = []
    for c in r.checks:
        detail = c.detail + (f" ({c.ms:.0f} ms)" if c.ms is not None else "")
        rows.append((marks[c.status], c.name, detail, c.fix))
    render.table(["", "check", "result", "fix"], rows)


def config_added(r: Added) -> None:
    render.message(f"saved profile {r.name} to {r.path}" + (" (default)" if r.default else ""))


def profiles(r: Profiles, *, as_json: bool) -> None:
    if render.wants_json(as_json):
        render.print_json(r.rows)
        return
    if not r.rows:
        render.message("no profiles yet: add one with 'pushcli config add NAME ...'")
        return
    render.table(
        ["", "name", "app_id", "key", "server"],
        [
            ("*" if p["default"] else "", p["name"], p["app_id"], p["key"], p["server"])
            for p in r.rows
        ],
    )


def config_shown(r: Shown, *, as_json: bool) -> None:
    s = r.settings
    if render.wants_json(as_json):
        render.print_json(
            {
                "profile": s.profile,
                "config_file": str(s.config_file),
                "rest": s.rest_base if r.located else None,
                "websocket": s.ws_base if r.located else None,
                "settings": {f: {"value": v, "source": src} for f, v, src in r.rows},
            }
        )
        return
    title = f"profile {s.profile}" if s.profile else "no profile"
    render.table(["setting", "value", "from"], r.rows, title=title)
    if r.located:
        render.message(f"REST {s.rest_base}  WebSocket {s.ws_base}")


def config_used(r: Changed) -> None:
    render.message(f"default profile: {r.name}")


def config_removed(r: Changed) -> None:
    render.message(f"removed profile {r.name}")


def config_path(path: Path) -> None:
    print(path)
