"""Presence channels: the member hash, joins and leaves, one user on several connections, limits."""

from __future__ import annotations

import asyncio
from typing import Any

from pushcli.app.conform.checks.base import PROTOCOL, check, need
from pushcli.app.conform.context import Context
from pushcli.app.conform.wsclient import Conn, Frame, decode, short

RULE = f"{PROTOCOL}: presence channels"
#: Pusher allows 100 members per presence channel
MAX_MEMBERS = 100
#: over Pusher's 1 KB and soketi's 2 KB user_info limits
LARGE_USER_INFO_BYTES = 3 * 1024


def _presence(data: Any) -> tuple[list[Any], dict[str, Any], Any]:
    presence = data.get("presence") if isinstance(data, dict) else None
    if not isinstance(presence, dict):
        return [], {}, None
    ids, hash_ = presence.get("ids"), presence.get("hash")
    return (
        ids if isinstance(ids, list) else [],
        hash_ if isinstance(hash_, dict) else {},
        presence.get("count"),
    )


def _member_event(event: str, channel: str, user_id: str) -> Any:
    def pred(frame: Frame) -> bool:
        data = decode(frame.get("data"))
        return (
            frame.get("event") == event
            and frame.get("channel") == channel
            and isinstance(data, dict)
            and str(data.get("user_id")) == user_id
        )

    return pred


@check(
    "presence",
    "presence_hash_with_user_info",
    expected="subscription_succeeded lists every member: presence.ids, presence.hash "
    "{user_id: user_info} and presence.count",
    rule=RULE,
    messages=1,
)
async def presence_hash_with_user_info(ctx: Context) -> str:
    channel = ctx.name("presence-", "hash")
    a, b = ctx.user("a"), ctx.user("b")
    await ctx.subscribe(await ctx.connect(), channel, user_id=a, user_info={"name": "A"})
    data = await ctx.subscribe(await ctx.connect(), channel, user_id=b, user_info={"name": "B"})
    ids, hash_, count = _presence(data)
    want = {a: {"name": "A"}, b: {"name": "B"}}
    need(hash_ == want, f"presence.hash {short(hash_)}, expected {short(want)}")
    need(sorted(map(str, ids)) == sorted(want), f"presence.ids {short(ids)}")
    need(count == 2, f"presence.count {count!r}, expected 2")
    return f"hash, ids and count list both members: {short(data.get('presence'))}"


@check(
    "presence",
    "presence_hash_without_user_info",
    expected="a member whose channel_data has no user_info is still in presence.hash "
    "(and ids, count) of the next subscriber",
    rule=f"{RULE} (user_info is optional; pusher-js lists members from presence.hash)",
    messages=1,
)
async def presence_hash_without_user_info(ctx: Context) -> str:
    channel = ctx.name("presence-", "noinfo")
    bare, other = ctx.user("bare"), ctx.user("other")
    await ctx.subscribe(await ctx.connect(), channel, user_id=bare, user_info=None)
    # user_info=None sends channel_data {"user_id": ...} without user_info at all
    data = await ctx.subscribe(await ctx.connect(), channel, user_id=other, user_info={"n": 1})
    ids, hash_, count = _presence(data)
    need(
        bare in hash_,
        f"member {bare} (no user_info) missing from presence.hash {short(hash_)} "
        f"(ids {short(ids)}, count {count!r})",
    )
    need(count == 2 and bare in map(str, ids), f"ids {short(ids)}, count {count!r}")
    return f"presence.hash {short(hash_)}"


@check(
    "presence",
    "presence_member_added",
    expected="subscribers get pusher_internal:member_added {user_id, user_info} when a user joins",
    rule=RULE,
    messages=1,
)
async def presence_member_added(ctx: Context) -> str:
    channel = ctx.name("presence-", "added")
    watcher, joiner = await ctx.connect(), await ctx.connect()
    await ctx.subscribe(watcher, channel, user_id=ctx.user("w"))
    user = ctx.user("j")
    await ctx.subscribe(joiner, channel, user_id=user, user_info={"name": "J"})
    frame = await watcher.expect(
        _member_event("pusher_internal:member_added", channel, user),
        ctx.timeout,
        f"member_added for {user}",
    )
    data = decode(frame.get("data"))
    need(
        data.get("user_info") == {"name": "J"},
        f"member_added without the user_info: {short(frame)}",
    )
    return short(frame)


@check(
    "presence",
    "presence_member_removed",
    expected="subscribers get pusher_internal:member_removed {user_id} when a user leaves",
    rule=RULE,
    messages=2,
)
async def presence_member_removed(ctx: Context) -> str:
    channel = ctx.name("presence-", "removed")
    watcher, leaver = await ctx.connect(), await ctx.connect()
    await ctx.subscribe(watcher, channel, user_id=ctx.user("w"))
    user = ctx.user("l")
    await ctx.subscribe(leaver, channel, user_id=user)
    await leaver.unsubscribe(channel)
    frame = await watcher.expect(
        _member_event("pusher_internal:member_removed", channel, user),
        ctx.timeout,
        f"member_removed for {user}",
    )
    return short(frame)


async def _two_connections_of_one_user(ctx: Context) -> tuple[str, str, Conn, Conn, Conn]:
    channel = ctx.name("presence-", "twice")
    user = ctx.user("twice")
    watcher, first, second = await ctx.connect(), await ctx.connect(), await ctx.connect()
    await ctx.subscribe(watcher, channel, user_id=ctx.user("w"))
    await ctx.subscribe(first, channel, user_id=user)
    data = await ctx.subscribe(second, channel, user_id=user)
    ids, hash_, count = _presence(data)
    need(
        count == 2 and len(ids) == 2 and user in hash_,
        f"the second connection of {user} sees ids {short(ids)}, count {count!r}: "
        "a user is one member however many connections it has",
    )
    return channel, user, watcher, first, second


@check(
    "presence",
    "presence_same_user_counted_once",
    expected="one user subscribed from two connections is one member: member_added once, "
    "presence.count 2 (not 3) for the watcher and the user",
    rule=f"{RULE} (members are users, not connections)",
    messages=6,
)
async def presence_same_user_counted_once(ctx: Context) -> str:
    channel, user, watcher, _, _ = await _two_connections_of_one_user(ctx)
    await ctx.marker(watcher, channel)
    added = watcher.seen(_member_event("pusher_internal:member_added", channel, user))
    need(len(added) == 1, f"member_added for {user} {len(added)} times")
    return "member_added once; presence.count 2"


@check(
    "presence",
    "presence_removed_when_last_leaves",
    expected="member_removed only when the user's last connection leaves, not the first",
    rule=f"{RULE} (members are users, not connections)",
    messages=7,
)
async def presence_removed_when_last_leaves(ctx: Context) -> str:
    channel, user, watcher, first, second = await _two_connections_of_one_user(ctx)
    removed = _member_event("pusher_internal:member_removed", channel, user)
    await first.unsubscribe(channel)
    await ctx.sync(first)
    await ctx.marker(watcher, channel)
    need(
        not watcher.seen(removed),
        f"member_removed for {user} while its other connection is still subscribed",
    )
    await second.close()
    await watcher.expect(removed, ctx.timeout, f"member_removed for {user} after its last left")
    return "member_removed once, when the last connection left"


@check(
    "presence",
    "presence_member_limit",
    expected=f"{MAX_MEMBERS} members subscribe; member {MAX_MEMBERS + 1} is refused",
    rule=f"{RULE} (at most {MAX_MEMBERS} members)",
    destructive=True,
    messages=MAX_MEMBERS * (MAX_MEMBERS + 1) // 2,
)
async def presence_member_limit(ctx: Context) -> str:
    channel = ctx.name("presence-", "limit")

    async def join(i: int) -> Frame:
        conn = await ctx.connect()
        auth, channel_data = ctx.auth_for(conn, channel, user_id=f"m{i}", user_info={})
        await conn.subscribe_frame(channel, auth, channel_data)
        return await ctx.subscription_answer(conn, channel)

    answers: list[Frame] = []
    for start in range(0, MAX_MEMBERS, 20):
        batch = range(start, min(start + 20, MAX_MEMBERS))
        answers += await asyncio.gather(*(join(i) for i in batch))
    refused = [f for f in answers if f.get("event") != "pusher_internal:subscription_succeeded"]
    need(not refused, f"{len(refused)} of the first {MAX_MEMBERS} refused: {short(refused[:1])}")
    extra = await join(MAX_MEMBERS)
    need(
        extra.get("event") != "pusher_internal:subscription_succeeded",
        f"member {MAX_MEMBERS + 1} accepted",
    )
    return f"member {MAX_MEMBERS + 1}: {short(extra)}"


@check(
    "presence",
    "presence_user_info_limit",
    expected=f"a member with a {LARGE_USER_INFO_BYTES // 1024} KB user_info is refused "
    "(Pusher allows 1 KB, soketi 2 KB)",
    rule=f"{RULE} (user_info size limit)",
)
async def presence_user_info_limit(ctx: Context) -> str:
    channel = ctx.name("presence-", "biginfo")
    conn = await ctx.connect()
    info = {"blob": "x" * LARGE_USER_INFO_BYTES}
    auth, channel_data = ctx.auth_for(conn, channel, user_id=ctx.user("big"), user_info=info)
    await conn.subscribe_frame(channel, auth, channel_data)
    frame = await ctx.subscription_answer(conn, channel)
    need(frame.get("event") != "pusher_internal:subscription_succeeded", "accepted")
    return short(frame)
