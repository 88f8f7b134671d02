"""Client events: relayed only on private and presence channels, never echoed, rate limited."""

from __future__ import annotations

import asyncio
from typing import Any

from pushcli.app.conform.checks.base import PROTOCOL, check, need
from pushcli.app.conform.context import Context
from pushcli.app.conform.wsclient import Conn, decode, is_event, short

RULE = f"{PROTOCOL}: client events"
BURST = 20
PER_SECOND = 10


async def _pair(ctx: Context, prefix: str, tag: str) -> tuple[str, Conn, Conn, str, str]:
    """A channel with a sender and a receiver subscribed: (channel, sender, receiver, ids)."""
    channel = ctx.name(prefix, tag)
    sender, receiver = await ctx.connect(), await ctx.connect()
    sender_id, receiver_id = ctx.user("sender"), ctx.user("receiver")
    await ctx.subscribe(sender, channel, user_id=sender_id)
    await ctx.subscribe(receiver, channel, user_id=receiver_id)
    return channel, sender, receiver, sender_id, receiver_id


def _client(event: str, channel: str) -> Any:
    return is_event(event, channel)


@check(
    "client-events",
    "client_event_private",
    expected="a client- event on a private channel reaches the other subscriber with its data",
    rule=RULE,
    messages=2,
)
async def client_event_private(ctx: Context) -> str:
    channel, sender, receiver, _, _ = await _pair(ctx, "private-", "cev")
    await sender.client_event(channel, "client-conform", {"n": 1})
    frame = await receiver.expect(
        _client("client-conform", channel), ctx.timeout, "the client event"
    )
    need(decode(frame.get("data")) == {"n": 1}, f"the data changed: {short(frame)}")
    return short(frame)


@check(
    "client-events",
    "client_event_not_echoed",
    expected="the sender of a client event does not receive it back",
    rule=RULE,
    messages=5,
)
async def client_event_not_echoed(ctx: Context) -> str:
    channel, sender, receiver, _, _ = await _pair(ctx, "private-", "echo")
    await sender.client_event(channel, "client-conform", {"n": 1})
    await receiver.expect(_client("client-conform", channel), ctx.timeout, "the client event")
    await ctx.marker(sender, channel)
    echoed = sender.seen(_client("client-conform", channel))
    need(not echoed, f"echoed to the sender: {short(echoed[0]) if echoed else ''}")
    return "the receiver got it; the sender did not"


@check(
    "client-events",
    "client_event_presence_user_id",
    expected="on a presence channel the relayed client event carries the sender's user_id",
    rule=f"{RULE} (presence: user_id)",
    messages=3,
)
async def client_event_presence_user_id(ctx: Context) -> str:
    channel, sender, receiver, sender_id, _ = await _pair(ctx, "presence-", "cevp")
    await sender.client_event(channel, "client-conform", {"n": 1})
    frame = await receiver.expect(
        _client("client-conform", channel), ctx.timeout, "the client event"
    )
    need(
        str(frame.get("user_id")) == sender_id,
        f"user_id {frame.get('user_id')!r}, expected {sender_id!r}: {short(frame)}",
    )
    return short(frame)


async def _not_relayed(ctx: Context, channel: str, sender: Conn, receiver: Conn) -> str:
    await sender.client_event(channel, "client-conform", {"n": 1})
    await ctx.sync(sender)
    await ctx.marker(receiver, channel)
    relayed = receiver.seen(_client("client-conform", channel))
    need(not relayed, f"relayed: {short(relayed[0]) if relayed else ''}")
    errors = sender.errors()
    return "not relayed" + (f"; the sender got {short(errors[0])}" if errors else "")


@check(
    "client-events",
    "client_event_public_refused",
    expected="a client event on a public channel is not relayed",
    rule=f"{RULE} (only private- and presence- channels)",
    messages=4,
)
async def client_event_public_refused(ctx: Context) -> str:
    channel, sender, receiver, _, _ = await _pair(ctx, "", "cevpub")
    return await _not_relayed(ctx, channel, sender, receiver)


@check(
    "client-events",
    "client_event_encrypted_refused",
    expected="a client event on a private-encrypted- channel is not relayed",
    rule=f"{RULE} (not on encrypted channels)",
    messages=4,
)
async def client_event_encrypted_refused(ctx: Context) -> str:
    channel, sender, receiver, _, _ = await _pair(ctx, "private-encrypted-", "cevenc")
    return await _not_relayed(ctx, channel, sender, receiver)


@check(
    "client-events",
    "client_event_unsubscribed_refused",
    expected="a client event from a connection not subscribed to the channel (never, or no "
    "longer) is not relayed",
    rule=f"{RULE} (only by subscribers)",
    messages=6,
)
async def client_event_unsubscribed_refused(ctx: Context) -> str:
    channel = ctx.name("private-", "cevout")
    outsider, former, receiver = await ctx.connect(), await ctx.connect(), await ctx.connect()
    await ctx.subscribe(receiver, channel)
    await ctx.subscribe(former, channel)
    await former.unsubscribe(channel)
    never = await _not_relayed(ctx, channel, outsider, receiver)
    left = await _not_relayed(ctx, channel, former, receiver)
    return f"never subscribed: {never}; unsubscribed: {left}"


@check(
    "client-events",
    "client_event_rate_limit",
    expected=f"of {BURST} client events sent at once, at most {PER_SECOND + 1} are relayed "
    "(plus what the time the burst took allows)",
    rule=f"{RULE} (at most {PER_SECOND} per second per connection)",
    destructive=True,
    messages=33,
)
async def client_event_rate_limit(ctx: Context) -> str:
    channel, sender, receiver, _, _ = await _pair(ctx, "private-", "cevrate")
    loop = asyncio.get_running_loop()
    start = loop.time()
    for i in range(BURST):
        await sender.client_event(channel, "client-conform", {"i": i})
    await ctx.sync(sender)
    # the server may have refilled its allowance while the burst was on its way
    allowed = PER_SECOND + 1 + int(PER_SECOND * (loop.time() - start))
    await ctx.marker(receiver, channel)
    relayed = len(receiver.seen(_client("client-conform", channel)))
    errors = sender.errors()
    observed = f"{relayed} of {BURST} relayed" + (
        f"; the sender got {len(errors)} pusher:error, e.g. {short(errors[0], 160)}"
        if errors
        else ""
    )
    need(relayed <= allowed, observed)
    return observed
