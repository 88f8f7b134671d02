"""Webhooks, received on --webhook-port: channel existence, presence, client events, signature,
retries."""

from __future__ import annotations

from typing import Any

from pushcli.app.conform.checks.base import check, need
from pushcli.app.conform.context import Context
from pushcli.app.conform.model import Failed, Skipped
from pushcli.app.conform.receiver import Receiver
from pushcli.app.conform.wsclient import decode, short

RULE = "Pusher Channels webhooks"
#: added to --timeout: servers batch webhooks (the embedded server for 0.5 s)
GRACE = 1.5


def _receiver(ctx: Context) -> Receiver:
    if ctx.webhooks is None:
        raise Skipped("needs --webhook-port PORT, and the app's webhook URL pointed there")
    assert isinstance(ctx.webhooks, Receiver)
    return ctx.webhooks


async def _expect(ctx: Context, name: str, channel: str) -> dict[str, Any]:
    found = await _receiver(ctx).wait_for(name, channel, ctx.timeout + GRACE)
    if not found:
        raise Failed(f"no {name} webhook for {channel} within {ctx.timeout + GRACE:g}s")
    return found[0][1]


@check(
    "webhooks",
    "webhook_channel_occupied",
    expected="channel_occupied when the first connection subscribes",
    rule=f"{RULE}: channel existence events",
    webhooks=True,
)
async def webhook_channel_occupied(ctx: Context) -> str:
    _receiver(ctx)
    channel = ctx.name("", "hook-occ")
    await ctx.subscribe(await ctx.connect(), channel)
    return short(await _expect(ctx, "channel_occupied", channel))


@check(
    "webhooks",
    "webhook_channel_vacated",
    expected="channel_vacated when the last connection unsubscribes",
    rule=f"{RULE}: channel existence events",
    webhooks=True,
)
async def webhook_channel_vacated(ctx: Context) -> str:
    _receiver(ctx)
    channel = ctx.name("", "hook-vac")
    conn = await ctx.connect()
    await ctx.subscribe(conn, channel)
    await conn.unsubscribe(channel)
    return short(await _expect(ctx, "channel_vacated", channel))


@check(
    "webhooks",
    "webhook_member_added",
    expected="member_added {channel, user_id} when a user joins a presence channel",
    rule=f"{RULE}: presence events",
    webhooks=True,
    messages=1,
)
async def webhook_member_added(ctx: Context) -> str:
    _receiver(ctx)
    channel, user = ctx.name("presence-", "hook-add"), ctx.user("hook")
    await ctx.subscribe(await ctx.connect(), channel, user_id=user)
    event = await _expect(ctx, "member_added", channel)
    need(str(event.get("user_id")) == user, f"user_id {event.get('user_id')!r}: {short(event)}")
    return short(event)


@check(
    "webhooks",
    "webhook_member_removed",
    expected="member_removed {channel, user_id} when the user leaves",
    rule=f"{RULE}: presence events",
    webhooks=True,
    messages=2,
)
async def webhook_member_removed(ctx: Context) -> str:
    _receiver(ctx)
    channel, user = ctx.name("presence-", "hook-rm"), ctx.user("hook")
    conn = await ctx.connect()
    await ctx.subscribe(conn, channel, user_id=user)
    await conn.unsubscribe(channel)
    event = await _expect(ctx, "member_removed", channel)
    need(str(event.get("user_id")) == user, f"user_id {event.get('user_id')!r}: {short(event)}")
    return short(event)


@check(
    "webhooks",
    "webhook_client_event",
    expected="client_event {channel, event, data, socket_id} for a client event",
    rule=f"{RULE}: client events",
    webhooks=True,
    messages=2,
)
async def webhook_client_event(ctx: Context) -> str:
    _receiver(ctx)
    channel = ctx.name("private-", "hook-cev")
    sender, receiver = await ctx.connect(), await ctx.connect()
    await ctx.subscribe(sender, channel)
    await ctx.subscribe(receiver, channel)
    await sender.client_event(channel, "client-hook", {"n": 1})
    event = await _expect(ctx, "client_event", channel)
    need(
        event.get("event") == "client-hook" and event.get("socket_id") == sender.socket_id,
        f"event/socket_id do not match: {short(event)}",
    )
    need(decode(event.get("data")) == {"n": 1}, f"data {event.get('data')!r}")
    return short(event)


@check(
    "webhooks",
    "webhook_signature",
    expected="every webhook carries X-Pusher-Key (the app key) and X-Pusher-Signature, the "
    "HMAC-SHA256 of the raw body with the app secret",
    rule=f"{RULE}: authentication (X-Pusher-Signature)",
    webhooks=True,
)
async def webhook_signature(ctx: Context) -> str:
    receiver = _receiver(ctx)
    if not receiver.deliveries:
        channel = ctx.name("", "hook-sig")
        await ctx.subscribe(await ctx.connect(), channel)
        await _expect(ctx, "channel_occupied", channel)
    bad = [d for d in receiver.deliveries if not d.valid]
    need(
        not bad,
        f"{len(bad)} of {len(receiver.deliveries)} webhooks not signed right, e.g. key "
        f"{bad[0].key!r} signature {bad[0].signature!r}"
        if bad
        else "",
    )
    return f"all {len(receiver.deliveries)} webhooks signed right"


@check(
    "webhooks",
    "webhook_retry",
    expected="a webhook answered 503 is delivered again",
    rule=f"{RULE}: retries of failed deliveries",
    webhooks=True,
)
async def webhook_retry(ctx: Context) -> str:
    receiver = _receiver(ctx)
    channel = ctx.name("", "hook-retry")
    receiver.refuse_once.add(channel)
    await ctx.subscribe(await ctx.connect(), channel)
    wait = ctx.timeout + GRACE * 2
    found = await receiver.wait_for("channel_occupied", channel, wait, count=2)
    need(bool(found), f"no channel_occupied webhook for {channel} within {wait:g}s")
    need(len(found) >= 2, f"answered 503 once, not delivered again within {wait:g}s")
    return f"delivered again after a 503 ({len(found)} deliveries)"
