"""Cache channels: a new subscriber gets the last event first, or pusher:cache_miss."""

from __future__ import annotations

from pushcli.app.conform.checks.base import PROTOCOL, check, need
from pushcli.app.conform.context import Context
from pushcli.app.conform.wsclient import Frame, decode, short

RULE = f"{PROTOCOL}: cache channels"


@check(
    "cache",
    "cache_miss",
    expected="subscribing to a cache channel with nothing cached gets pusher:cache_miss",
    rule=RULE,
)
async def cache_miss(ctx: Context) -> str:
    channel = ctx.name("cache-", "miss")
    conn = await ctx.connect()
    await ctx.subscribe(conn, channel)
    frame = await ctx.expect_event(conn, channel, "pusher:cache_miss")
    return short(frame)


def _user_event(frame: Frame) -> bool:
    event = frame.get("event")
    return isinstance(event, str) and not event.startswith(("pusher:", "pusher_internal:"))


async def _last_event(ctx: Context, prefix: str) -> str:
    channel = ctx.name(prefix, "last")
    await ctx.trigger([channel], "conform-first", '{"n":1}')
    await ctx.trigger([channel], "conform-last", '{"n":2}')
    conn = await ctx.connect()
    await ctx.subscribe(conn, channel)
    frame = await conn.expect(
        lambda f: _user_event(f) or f.get("event") == "pusher:cache_miss",
        ctx.timeout,
        "the cached event",
    )
    need(
        frame.get("event") == "conform-last" and decode(frame.get("data")) == {"n": 2},
        f"the first frame after subscribing: {short(frame)}",
    )
    return short(frame)


@check(
    "cache",
    "cache_last_event",
    expected="a new subscriber of a cache- channel first gets the last event triggered on it "
    "(the last, not an earlier one), even when it was triggered with no subscriber",
    rule=RULE,
    messages=3,
)
async def cache_last_event(ctx: Context) -> str:
    return await _last_event(ctx, "cache-")


@check(
    "cache",
    "private_cache_last_event",
    expected="the same on a private-cache- channel",
    rule=RULE,
    messages=3,
)
async def private_cache_last_event(ctx: Context) -> str:
    return await _last_event(ctx, "private-cache-")
