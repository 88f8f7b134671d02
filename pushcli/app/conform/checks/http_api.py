"""The HTTP API: request authentication, limits, answers with real statuses, `info`, queries,
users (send to user, terminate connections)."""

from __future__ import annotations

import json
import time
from typing import Any

from pushcli.app.conform.checks.base import HTTP_API, check, http_error, need
from pushcli.app.conform.context import Answer, Context
from pushcli.app.conform.model import Failed
from pushcli.app.conform.wsclient import Closed, is_event, short
from pushcli.protocol import signing

AUTH_RULE = f"{HTTP_API}: authentication"
#: Pusher refuses timestamps more than 600 s away from its clock
OLD_TIMESTAMP_SECONDS = 700
BAD_SIGNATURE = "0" * 64


def _event(ctx: Context) -> dict[str, Any]:
    return {"name": "conform-refused", "channels": [ctx.name("", "refused")], "data": "{}"}


def _json(answer: Answer, what: str) -> Any:
    body = answer.json
    need(
        200 <= answer.status < 300 and isinstance(body, dict) and answer.body_error is None,
        f"{what}: {answer.describe()}",
    )
    return body


@check(
    "http-api",
    "http_bad_signature",
    expected="a request with a wrong auth_signature is answered 401",
    rule=AUTH_RULE,
)
async def http_bad_signature(ctx: Context) -> str:
    answer = await ctx.rest("POST", "/events", _event(ctx), signature=BAD_SIGNATURE)
    return http_error(answer, {401})


@check(
    "http-api",
    "http_error_status",
    expected="errors are answered with an HTTP error status (4xx), not 200 with the error "
    "in the body",
    rule=f"{HTTP_API}: HTTP status codes",
)
async def http_error_status(ctx: Context) -> str:
    answer = await ctx.rest("POST", "/events", _event(ctx), signature=BAD_SIGNATURE)
    return http_error(answer, set(range(400, 500)), "4xx")


@check(
    "http-api",
    "http_old_timestamp",
    expected=f"a correctly signed request with an auth_timestamp {OLD_TIMESTAMP_SECONDS} s "
    "old is answered 401",
    rule=f"{AUTH_RULE} (auth_timestamp within 600 s of the server's clock)",
)
async def http_old_timestamp(ctx: Context) -> str:
    stamp = int(time.time()) - OLD_TIMESTAMP_SECONDS
    answer = await ctx.rest("POST", "/events", _event(ctx), timestamp=stamp)
    return http_error(answer, {401})


@check(
    "http-api",
    "http_bad_body_md5",
    expected="a signed request whose body_md5 is not the body's MD5 is refused (400/401)",
    rule=f"{AUTH_RULE} (body_md5)",
)
async def http_bad_body_md5(ctx: Context) -> str:
    answer = await ctx.rest(
        "POST", "/events", _event(ctx), body_md5=signing.body_md5(b"another body")
    )
    return http_error(answer, {400, 401})


@check(
    "http-api",
    "http_wrong_auth_key",
    expected="a request signed with the app's secret but another auth_key is answered 401",
    rule=f"{AUTH_RULE} (auth_key)",
)
async def http_wrong_auth_key(ctx: Context) -> str:
    answer = await ctx.rest("POST", "/events", _event(ctx), key=f"conform-not-{ctx.key}")
    return http_error(answer, {401})


@check(
    "http-api",
    "http_unknown_app",
    expected="a request for an app id that does not exist is refused (400/401/403/404)",
    rule=f"{HTTP_API}: HTTP status codes",
)
async def http_unknown_app(ctx: Context) -> str:
    answer = await ctx.rest("POST", "/events", _event(ctx), app_id=f"{ctx.app_id}0")
    return http_error(answer, {400, 401, 403, 404})


@check(
    "http-api",
    "http_data_too_large",
    expected="an event whose data is over the size limit (10 KB on pusher.com, 100 KB "
    "self-hosted) is answered 413",
    rule=f"{HTTP_API}: POST /events (data size limit)",
)
async def http_data_too_large(ctx: Context) -> str:
    body = _event(ctx)
    body["data"] = "x" * (ctx.settings.max_data_bytes + 1)
    answer = await ctx.rest("POST", "/events", body)
    return http_error(answer, {413})


@check(
    "http-api",
    "http_batch_over_10",
    expected="a batch of 11 events is refused (400/413)",
    rule=f"{HTTP_API}: POST /batch_events (at most 10 events)",
)
async def http_batch_over_10(ctx: Context) -> str:
    channel = ctx.name("", "batch11")
    batch = [{"channel": channel, "name": "conform-refused", "data": "{}"} for _ in range(11)]
    answer = await ctx.rest("POST", "/batch_events", {"batch": batch})
    return http_error(answer, {400, 413})


@check(
    "http-api",
    "http_channels_over_100",
    expected="an event for 101 channels is refused (400/413)",
    rule=f"{HTTP_API}: POST /events (at most 100 channels)",
)
async def http_channels_over_100(ctx: Context) -> str:
    base = ctx.name("", "many")
    body = {
        "name": "conform-refused",
        "channels": [f"{base}-{i}" for i in range(101)],
        "data": "{}",
    }
    answer = await ctx.rest("POST", "/events", body)
    return http_error(answer, {400, 413})


@check(
    "http-api",
    "trigger_answer",
    expected="a valid trigger is answered 200 with a JSON object",
    rule=f"{HTTP_API}: POST /events",
    messages=1,
)
async def trigger_answer(ctx: Context) -> str:
    answer = await ctx.trigger([ctx.name("", "ok")], "conform-ok", "{}")
    _json(answer, "trigger")
    return answer.describe()


async def _occupied(ctx: Context, tag: str) -> tuple[str, str]:
    """A public and a presence channel with one subscriber each."""
    public, presence = ctx.name("", tag), ctx.name("presence-", tag)
    await ctx.subscribe(await ctx.connect(), public)
    await ctx.subscribe(await ctx.connect(), presence, user_id=ctx.user("u"))
    return public, presence


@check(
    "http-api",
    "trigger_info",
    expected='a trigger with info "subscription_count,user_count" answers {"channels": '
    "{name: {subscription_count, user_count (presence)}}}",
    rule=f"{HTTP_API}: POST /events (info)",
    messages=4,
)
async def trigger_info(ctx: Context) -> str:
    public, presence = await _occupied(ctx, "tinfo")
    answer = await ctx.trigger(
        [public, presence], "conform-info", "{}", info="subscription_count,user_count"
    )
    body = _json(answer, "trigger")
    channels = body.get("channels")
    want = {
        public: {"subscription_count": 1},
        presence: {"subscription_count": 1, "user_count": 1},
    }
    need(channels == want, f"answered {short(body)}, expected {short({'channels': want})}")
    return short(body)


@check(
    "http-api",
    "batch_info",
    expected='a batch whose events ask for info answers {"batch": [attributes per event]}',
    rule=f"{HTTP_API}: POST /batch_events (info)",
    messages=4,
)
async def batch_info(ctx: Context) -> str:
    public, presence = await _occupied(ctx, "binfo")
    batch = [
        {"channel": public, "name": "conform-info", "data": "{}", "info": "subscription_count"},
        {"channel": presence, "name": "conform-info", "data": "{}", "info": "user_count"},
    ]
    answer = ctx.accepted(await ctx.rest("POST", "/batch_events", {"batch": batch}), "batch")
    body = _json(answer, "batch")
    want = {"batch": [{"subscription_count": 1}, {"user_count": 1}]}
    need(body == want, f"answered {short(body)}, expected {short(want)}")
    return short(body)


async def _prefixed(ctx: Context, tag: str) -> tuple[str, str, str]:
    """(prefix, the presence channel under it with 2 users, a private channel outside it)."""
    prefix = f"presence-conform-{ctx.run_id}-{tag}"
    inside, outside = f"{prefix}-in", f"private-conform-{ctx.run_id}-{tag}-out"
    await ctx.subscribe(await ctx.connect(), inside, user_id=ctx.user("a"))
    await ctx.subscribe(await ctx.connect(), inside, user_id=ctx.user("b"))
    await ctx.subscribe(await ctx.connect(), outside)
    return prefix, inside, outside


@check(
    "http-api",
    "channels_filter_by_prefix",
    expected="GET /channels?filter_by_prefix=P lists the occupied channels starting with P only",
    rule=f"{HTTP_API}: GET /channels",
    messages=1,
)
async def channels_filter_by_prefix(ctx: Context) -> str:
    prefix, inside, _ = await _prefixed(ctx, "pfx")
    answer = await ctx.rest("GET", "/channels", params={"filter_by_prefix": prefix})
    body = _json(answer, "GET /channels")
    channels = body.get("channels")
    need(
        isinstance(channels, dict) and sorted(channels) == [inside],
        f"answered {short(body)}, expected only {inside}",
    )
    return short(body)


@check(
    "http-api",
    "channels_info_user_count",
    expected="GET /channels?filter_by_prefix=presence-…&info=user_count gives each channel's "
    "user_count",
    rule=f"{HTTP_API}: GET /channels (info=user_count)",
    messages=1,
)
async def channels_info_user_count(ctx: Context) -> str:
    prefix, inside, _ = await _prefixed(ctx, "uc")
    params = {"filter_by_prefix": prefix, "info": "user_count"}
    body = _json(await ctx.rest("GET", "/channels", params=params), "GET /channels")
    got = (body.get("channels") or {}).get(inside)
    need(
        isinstance(got, dict) and got.get("user_count") == 2,
        f"answered {short(body)}, expected user_count 2 for {inside}",
    )
    return short(body)


@check(
    "http-api",
    "channel_info",
    expected="GET /channels/NAME answers occupied, subscription_count (2 connections) and, "
    "for presence, user_count (1 user on 2 connections)",
    rule=f"{HTTP_API}: GET /channels/NAME",
    messages=2,
)
async def channel_info(ctx: Context) -> str:
    public, presence = ctx.name("", "cinfo"), ctx.name("presence-", "cinfo")
    user = ctx.user("u")
    for _ in range(2):
        await ctx.subscribe(await ctx.connect(), public)
        await ctx.subscribe(await ctx.connect(), presence, user_id=user)
    pub = await ctx.rest("GET", f"/channels/{public}", params={"info": "subscription_count"})
    pub_body = _json(pub, f"GET /channels/{public}")
    need(
        pub_body.get("occupied") is True and pub_body.get("subscription_count") == 2,
        f"{public}: {short(pub_body)}, expected occupied and subscription_count 2",
    )
    pre = await ctx.rest("GET", f"/channels/{presence}", params={"info": "user_count"})
    pre_body = _json(pre, f"GET /channels/{presence}")
    need(
        pre_body.get("occupied") is True and pre_body.get("user_count") == 1,
        f"{presence}: {short(pre_body)}, expected occupied and user_count 1",
    )
    return f"{short(pub_body)}; {short(pre_body)}"


@check(
    "http-api",
    "channel_unoccupied",
    expected='GET /channels/NAME of a channel nobody is subscribed to answers {"occupied": false}',
    rule=f"{HTTP_API}: GET /channels/NAME",
)
async def channel_unoccupied(ctx: Context) -> str:
    name = ctx.name("", "nobody")
    body = _json(await ctx.rest("GET", f"/channels/{name}"), f"GET /channels/{name}")
    need(body.get("occupied") is False, f"answered {short(body)}")
    return short(body)


@check(
    "http-api",
    "presence_users",
    expected="GET /channels/NAME/users lists each user once, however many connections",
    rule=f"{HTTP_API}: GET /channels/NAME/users",
    messages=2,
)
async def presence_users(ctx: Context) -> str:
    channel = ctx.name("presence-", "users")
    a, b = ctx.user("a"), ctx.user("b")
    for user in (a, a, b):
        await ctx.subscribe(await ctx.connect(), channel, user_id=user)
    body = _json(await ctx.rest("GET", f"/channels/{channel}/users"), "GET users")
    users = body.get("users")
    ids = [u.get("id") for u in users if isinstance(u, dict)] if isinstance(users, list) else []
    need(sorted(map(str, ids)) == sorted([a, b]), f"answered {short(body)}, expected {a} and {b}")
    return short(body)


async def _signed_in(ctx: Context, user: str) -> Any:
    conn = await ctx.connect()
    user_data = json.dumps({"id": user}, separators=(",", ":"))
    auth = signing.user_auth(ctx.key, ctx.secret, conn.socket_id, user_data)
    await conn.send({"event": "pusher:signin", "data": {"auth": auth, "user_data": user_data}})
    frame = await conn.expect(
        lambda f: f.get("event") in ("pusher:signin_success", "pusher:error"),
        ctx.timeout,
        "pusher:signin_success",
    )
    if frame.get("event") != "pusher:signin_success":
        raise Failed(f"pusher:signin refused: {short(frame)}")
    return conn


@check(
    "http-api",
    "send_to_user",
    expected="an event triggered on #server-to-user-ID reaches the connection signed in as ID",
    rule=f"{HTTP_API}: sending events to authenticated users",
    messages=2,
)
async def send_to_user(ctx: Context) -> str:
    user = ctx.user("to")
    conn = await _signed_in(ctx, user)
    await ctx.trigger([f"#server-to-user-{user}"], "conform-to-user", '{"n":1}')
    frame = await conn.expect(is_event("conform-to-user"), ctx.timeout, "the event for the user")
    return short(frame)


@check(
    "http-api",
    "terminate_connections",
    expected="POST /users/ID/terminate_connections closes every connection of that user, and "
    "only theirs",
    rule=f"{HTTP_API}: terminating user connections",
    destructive=True,
)
async def terminate_connections(ctx: Context) -> str:
    user, other = ctx.user("term"), ctx.user("keep")
    mine = [await _signed_in(ctx, user), await _signed_in(ctx, user)]
    theirs = await _signed_in(ctx, other)
    answer = await ctx.rest("POST", f"/users/{user}/terminate_connections", {})
    _json(answer, "terminate_connections")
    codes = []
    for conn in mine:
        closed = await conn.wait_closed(ctx.timeout)
        need(closed is not None, f"a connection of {user} is still open after {ctx.timeout:g}s")
        assert closed is not None
        codes.append(closed.code)
    try:
        await ctx.sync(theirs)
    except (Closed, TimeoutError):
        raise Failed(f"the connection of another user ({other}) was closed too") from None
    return f"both connections closed ({', '.join(map(str, codes))}); another user's stayed open"


@check(
    "http-api",
    "http_malformed_batch",
    expected='{"batch": 5} is answered 400 and the server keeps answering',
    rule=f"{HTTP_API}: POST /batch_events",
    destructive=True,
    last=True,
)
async def http_malformed_batch(ctx: Context) -> str:
    answer: Answer | None = None
    try:
        answer = await ctx.rest("POST", "/batch_events", {"batch": 5})
        observed = answer.describe()
    except Exception as e:  # noqa: BLE001 - the server dropping the request is the finding
        observed = f"no answer ({e.__class__.__name__})"
    try:
        after = await ctx.rest("GET", "/channels")
    except Exception as e:  # noqa: BLE001
        raise Failed(
            f"{observed}; then the server stopped answering ({e.__class__.__name__})"
        ) from None
    need(after.status == 200, f"{observed}; then GET /channels: {after.describe()}")
    if answer is None:
        raise Failed(observed)
    return f"{http_error(answer, {400})}; the server still answers"
