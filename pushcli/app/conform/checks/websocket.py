"""The WebSocket connection: handshake, keep-alive, refusals, every channel kind, auth, signin."""

from __future__ import annotations

import asyncio
import json
import re

from pushcli import __version__
from pushcli.app.conform.checks.base import PROTOCOL, check, need
from pushcli.app.conform.context import Context
from pushcli.app.conform.model import Failed, Skipped
from pushcli.app.conform.wsclient import Closed, Conn, Frame, decode, is_event, short
from pushcli.protocol import signing

SOCKET_ID_RE = re.compile(r"^\d+\.\d+$")
#: the longest activity_timeout this run waits out for a server ping
MAX_ACTIVITY_WAIT = 10


def _closed_with(closed: Closed | None) -> str:
    if closed is None:
        return "the connection stayed open"
    return f"closed with {closed.code}" + (f" ({closed.reason})" if closed.reason else "")


async def _refusal(conn: Conn, timeout: float) -> tuple[list[Frame], Closed | None]:
    """Read until the server closes the connection, sends connection_established, or
    ``timeout`` passes: (pusher:error frames, how it closed)."""

    def stop(frame: Frame) -> bool:
        return frame.get("event") == "pusher:connection_established"

    try:
        frame = await conn.expect(stop, timeout, "close")
    except Closed as c:
        return conn.errors(), c
    except TimeoutError:
        return conn.errors(), None
    raise Failed(f"accepted: {short(frame)}")


def _error_codes(errors: list[Frame]) -> list[object]:
    codes = []
    for frame in errors:
        data = decode(frame.get("data"))
        codes.append(data.get("code") if isinstance(data, dict) else None)
    return codes


def _describe_refusal(errors: list[Frame], closed: Closed | None) -> str:
    parts = [f"pusher:error {short(decode(e.get('data')), 120)}" for e in errors]
    if closed is not None and errors:
        parts.append(f"closed with {closed.code}")
    else:
        parts.append(_closed_with(closed))
    return ", ".join(parts)


async def _still_serving(ctx: Context, conn: Conn) -> str:
    """The connection answers a ping, or else the server accepts a new connection."""
    if conn.closed is None:
        try:
            await conn.send({"event": "pusher:ping", "data": {}})
            await conn.expect(is_event("pusher:pong"), ctx.timeout, "pusher:pong")
            return "the connection still answers pings"
        except (Closed, TimeoutError):
            pass
    try:
        await ctx.connect()
    except Exception as e:  # noqa: BLE001 - any failure to connect means the server is down
        raise Failed(f"the server stopped accepting connections afterwards ({e})") from None
    return "the server still accepts connections"


@check(
    "websocket",
    "connection_established",
    expected="pusher:connection_established whose data is a JSON string with socket_id "
    "(digits.digits) and activity_timeout (a positive integer of seconds)",
    rule=f"{PROTOCOL}: connection, pusher:connection_established",
)
async def connection_established(ctx: Context) -> str:
    conn = await ctx.connect(established=False)
    frame = await conn.expect(
        is_event("pusher:connection_established"), ctx.timeout, "pusher:connection_established"
    )
    raw = frame.get("data")
    need(isinstance(raw, str), f"data is not a JSON-encoded string: {short(frame)}")
    data = decode(raw)
    need(isinstance(data, dict), f"data is not a JSON object: {short(frame)}")
    socket_id, activity = data.get("socket_id"), data.get("activity_timeout")
    need(
        isinstance(socket_id, str) and SOCKET_ID_RE.match(socket_id) is not None,
        f"socket_id {socket_id!r} is not digits.digits",
    )
    need(
        isinstance(activity, int) and not isinstance(activity, bool) and activity > 0,
        f"activity_timeout {activity!r} is not a positive integer",
    )
    return f"socket_id {socket_id}, activity_timeout {activity}"


@check(
    "websocket",
    "unsupported_protocol",
    expected="?protocol=99 is refused with code 4007 (pusher:error and/or close code)",
    rule=f"{PROTOCOL}: error codes 4000-4099 (4007 unsupported protocol version)",
)
async def unsupported_protocol(ctx: Context) -> str:
    conn = await ctx.connect(
        query=f"protocol=99&client=pushcli-conform&version={__version__}", established=False
    )
    errors, closed = await _refusal(conn, ctx.timeout)
    observed = _describe_refusal(errors, closed)
    need(4007 in _error_codes(errors) or (closed is not None and closed.code == 4007), observed)
    return observed


@check(
    "websocket",
    "unknown_app_key",
    expected="a connection with an unknown app key gets code 4001 and is closed",
    rule=f"{PROTOCOL}: error codes 4000-4099 (4001 application does not exist)",
)
async def unknown_app_key(ctx: Context) -> str:
    conn = await ctx.connect(key=f"conform-no-such-key-{ctx.run_id}", established=False)
    errors, closed = await _refusal(conn, ctx.timeout)
    observed = _describe_refusal(errors, closed)
    coded = 4001 in _error_codes(errors) or (closed is not None and closed.code == 4001)
    need(coded and closed is not None, observed)
    return observed


@check(
    "websocket",
    "ping_pong",
    expected="pusher:ping from the client is answered with pusher:pong",
    rule=f"{PROTOCOL}: ping and pong messages",
)
async def ping_pong(ctx: Context) -> str:
    conn = await ctx.connect()
    loop = asyncio.get_running_loop()
    start = loop.time()
    await conn.send({"event": "pusher:ping", "data": {}})
    await conn.expect(is_event("pusher:pong"), ctx.timeout, "pusher:pong")
    return f"pusher:pong after {(loop.time() - start) * 1000:.0f} ms"


@check(
    "websocket",
    "activity_timeout",
    expected="after activity_timeout seconds of client silence the server sends pusher:ping",
    rule=f"{PROTOCOL}: ping and pong messages (activity_timeout)",
)
async def activity_timeout(ctx: Context) -> str:
    conn = await ctx.connect()
    activity = conn.established.get("activity_timeout") if conn.established else None
    if not isinstance(activity, int) or activity > MAX_ACTIVITY_WAIT:
        raise Skipped(
            f"activity_timeout is {activity} s; this run waits out at most "
            f"{MAX_ACTIVITY_WAIT} s (start the server with a shorter one to check it)"
        )
    loop = asyncio.get_running_loop()
    start = loop.time()
    wait = activity + ctx.timeout + 1
    await conn.expect(is_event("pusher:ping"), wait, f"pusher:ping after {activity} s of silence")
    return f"pusher:ping after {loop.time() - start:.1f} s of silence (activity_timeout {activity})"


@check(
    "websocket",
    "invalid_json",
    expected="a message that is not JSON gets pusher:error (or a close with a 4000-4999 "
    "code) and the server keeps serving",
    rule=f"{PROTOCOL}: pusher:error",
)
async def invalid_json(ctx: Context) -> str:
    conn = await ctx.connect()
    await conn.send("this is not JSON {")
    errors, closed = await _wait_error(conn, ctx.timeout)
    alive = await _still_serving(ctx, conn)
    coded = closed is not None and closed.code is not None and 4000 <= closed.code < 5000
    need(
        bool(errors) or coded,
        f"ignored silently: no pusher:error and no close within {ctx.timeout:g}s ({alive})",
    )
    return f"{_describe_refusal(errors, closed)}; {alive}"


async def _wait_error(conn: Conn, timeout: float) -> tuple[list[Frame], Closed | None]:
    try:
        await conn.expect(is_event("pusher:error"), timeout, "pusher:error")
    except Closed as c:
        return conn.errors(), c
    except TimeoutError:
        return [], None
    return conn.errors(), None


@check(
    "websocket",
    "malformed_subscribe",
    expected='{"event":"pusher:subscribe"} without data gets pusher:error (or a close with a '
    "4000-4999 code) and the server keeps serving",
    rule=f"{PROTOCOL}: pusher:subscribe, pusher:error",
    destructive=True,
    last=True,
)
async def malformed_subscribe(ctx: Context) -> str:
    conn = await ctx.connect()
    await conn.send({"event": "pusher:subscribe"})

    def answer(frame: Frame) -> bool:
        return frame.get("event") in ("pusher:error", "pusher:subscription_error")

    try:
        frame: Frame | None = await conn.expect(answer, ctx.timeout, "an error")
    except (Closed, TimeoutError):
        frame = None
    alive = await _still_serving(ctx, conn)
    closed = conn.closed
    coded = closed is not None and closed.code is not None and 4000 <= closed.code < 5000
    need(frame is not None or coded, f"no error and {_closed_with(closed)}; {alive}")
    return f"{short(frame) if frame else _closed_with(closed)}; {alive}"


def _subscribe_check(prefix: str, label: str, rule: str) -> None:
    @check(
        "websocket",
        f"subscribe_{label}",
        expected=f"pusher_internal:subscription_succeeded on a {prefix or 'public '}channel, "
        "then an event triggered through the HTTP API arrives on it",
        rule=f"{PROTOCOL}: {rule}",
        messages=2,
    )
    async def subscribe(ctx: Context) -> str:
        channel = ctx.name(prefix, label)
        conn = await ctx.connect()
        user = ctx.user("me")
        data = await ctx.subscribe(conn, channel, user_id=user)
        if prefix.startswith("presence-"):
            presence = data.get("presence") if isinstance(data, dict) else None
            hash_ = presence.get("hash") if isinstance(presence, dict) else None
            need(
                isinstance(hash_, dict) and user in hash_,
                f"subscription_succeeded data lacks this member in presence.hash: {short(data)}",
            )
        payload = json.dumps({"kind": label})
        wire = payload
        if label == "encrypted":
            from pushcli.protocol.crypto import encrypt

            wire = encrypt(channel, payload, ctx.master_key)
        await ctx.trigger([channel], "conform-event", wire)
        frame = await ctx.expect_event(conn, channel, "conform-event")
        need(frame.get("data") == wire, f"the event's data changed: {short(frame)}")
        return f"subscribed to {channel}; the event arrived unchanged"


_subscribe_check("", "public", "public channels")
_subscribe_check("private-", "private", "private channels (auth HMAC of socket_id:channel)")
_subscribe_check("presence-", "presence", "presence channels (auth covers channel_data)")
_subscribe_check("private-encrypted-", "encrypted", "end-to-end encrypted channels")
_subscribe_check("cache-", "cache", "cache channels")


@check(
    "websocket",
    "private_bad_signature",
    expected="a private subscription with a wrong signature is refused "
    "(pusher:subscription_error or pusher:error), never subscription_succeeded",
    rule=f"{PROTOCOL}: private channels, channel authorization",
)
async def private_bad_signature(ctx: Context) -> str:
    channel = ctx.name("private-", "badsig")
    conn = await ctx.connect()
    await conn.subscribe_frame(channel, f"{ctx.key}:{'0' * 64}")
    frame = await ctx.subscription_answer(conn, channel)
    need(
        frame.get("event") != "pusher_internal:subscription_succeeded", f"accepted: {short(frame)}"
    )
    return short(frame)


@check(
    "websocket",
    "presence_tampered_channel_data",
    expected="a presence subscription whose channel_data differs from the signed one is refused",
    rule=f"{PROTOCOL}: presence channels (the signature covers channel_data)",
)
async def presence_tampered_channel_data(ctx: Context) -> str:
    channel = ctx.name("presence-", "tamper")
    conn = await ctx.connect()
    auth, _ = ctx.auth_for(conn, channel, user_id="signed-user", user_info={})
    forged = json.dumps({"user_id": "other-user", "user_info": {}}, separators=(",", ":"))
    await conn.subscribe_frame(channel, auth, forged)
    frame = await ctx.subscription_answer(conn, channel)
    need(
        frame.get("event") != "pusher_internal:subscription_succeeded", f"accepted: {short(frame)}"
    )
    return short(frame)


@check(
    "websocket",
    "unsubscribe",
    expected="after pusher:unsubscribe no more events of that channel arrive",
    rule=f"{PROTOCOL}: pusher:unsubscribe",
    messages=3,
)
async def unsubscribe(ctx: Context) -> str:
    channel, other = ctx.name("", "unsub"), ctx.name("", "unsub-marker")
    conn = await ctx.connect()
    await ctx.subscribe(conn, channel)
    await ctx.subscribe(conn, other)
    await conn.unsubscribe(channel)
    await ctx.sync(conn)
    await ctx.trigger([channel], "conform-after-unsubscribe", "{}")
    await ctx.marker(conn, other)
    late = conn.seen(is_event("conform-after-unsubscribe"))
    need(not late, f"still delivered after unsubscribing: {short(late[0]) if late else ''}")
    return "no event after unsubscribing"


@check(
    "websocket",
    "subscription_count",
    expected="subscribers of a channel get pusher_internal:subscription_count "
    '{"subscription_count": 2} when a second connection subscribes',
    rule=f"{PROTOCOL}: pusher_internal:subscription_count (subscription counting)",
    messages=3,
)
async def subscription_count(ctx: Context) -> str:
    channel = ctx.name("", "count")
    first, second = await ctx.connect(), await ctx.connect()
    await ctx.subscribe(first, channel)
    await ctx.subscribe(second, channel)

    def two(frame: Frame) -> bool:
        data = decode(frame.get("data"))
        return (
            frame.get("event") == "pusher_internal:subscription_count"
            and frame.get("channel") == channel
            and isinstance(data, dict)
            and data.get("subscription_count") == 2
        )

    try:
        await first.expect(two, ctx.timeout, "subscription_count 2")
    except TimeoutError:
        seen = first.seen(is_event("pusher_internal:subscription_count"))
        raise Failed(
            f"no subscription_count of 2 within {ctx.timeout:g}s"
            + (f" (got {short(seen[-1])})" if seen else " (none at all)")
            + "; on pusher.com, enable subscription counting in the app settings"
        ) from None
    return f"pusher_internal:subscription_count 2 on {channel}"


def _user_data(user_id: str) -> str:
    return json.dumps({"id": user_id, "user_info": {}}, separators=(",", ":"))


@check(
    "websocket",
    "signin",
    expected="pusher:signin with a valid signature gets pusher:signin_success",
    rule=f"{PROTOCOL}: pusher:signin (user authentication)",
)
async def signin(ctx: Context) -> str:
    conn = await ctx.connect()
    user_data = _user_data(ctx.user("signin"))
    auth = signing.user_auth(ctx.key, ctx.secret, conn.socket_id, user_data)
    await conn.send({"event": "pusher:signin", "data": {"auth": auth, "user_data": user_data}})
    frame = await conn.expect(
        lambda f: f.get("event") in ("pusher:signin_success", "pusher:error"),
        ctx.timeout,
        "pusher:signin_success",
    )
    need(frame.get("event") == "pusher:signin_success", f"refused: {short(frame)}")
    return short(frame)


@check(
    "websocket",
    "signin_bad_signature",
    expected="pusher:signin with a wrong signature gets code 4009 (pusher:error and/or close)",
    rule=f"{PROTOCOL}: pusher:signin, error code 4009 (connection unauthorized)",
)
async def signin_bad_signature(ctx: Context) -> str:
    conn = await ctx.connect()
    user_data = _user_data(ctx.user("badsignin"))
    auth = f"{ctx.key}:{'0' * 64}"
    await conn.send({"event": "pusher:signin", "data": {"auth": auth, "user_data": user_data}})

    def answer(frame: Frame) -> bool:
        return frame.get("event") in ("pusher:signin_success", "pusher:error")

    try:
        frame: Frame | None = await conn.expect(answer, ctx.timeout, "an answer to pusher:signin")
    except Closed:
        frame = None
    need(
        frame is None or frame.get("event") != "pusher:signin_success", f"accepted: {short(frame)}"
    )
    closed = conn.closed or await conn.wait_closed(ctx.timeout)
    observed = _describe_refusal(conn.errors(), closed)
    need(
        4009 in _error_codes(conn.errors()) or (closed is not None and closed.code == 4009),
        observed,
    )
    return observed
