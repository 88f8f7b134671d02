"""End-to-end encrypted channels: authorized like private ones, payloads passed through intact.

Encryption is end to end: the server never has the master key, so the run uses the profile's
key, or a random one when there is none.
"""

from __future__ import annotations

import json

from pushcli.app.conform.checks.base import PROTOCOL, check, need
from pushcli.app.conform.context import Context
from pushcli.app.conform.model import Failed
from pushcli.app.conform.wsclient import short

RULE = f"{PROTOCOL}: end-to-end encrypted channels"


@check(
    "encrypted",
    "encrypted_needs_auth",
    expected="subscribing to a private-encrypted- channel without auth is refused",
    rule=f"{RULE} (authorized like private channels)",
)
async def encrypted_needs_auth(ctx: Context) -> str:
    channel = ctx.name("private-encrypted-", "noauth")
    conn = await ctx.connect()
    await conn.subscribe_frame(channel)
    frame = await ctx.subscription_answer(conn, channel)
    need(
        frame.get("event") != "pusher_internal:subscription_succeeded", f"accepted: {short(frame)}"
    )
    return short(frame)


@check(
    "encrypted",
    "encrypted_end_to_end",
    expected="an event encrypted with the channel's shared secret (NaCl secretbox) arrives as "
    "{nonce, ciphertext} and decrypts to what was sent",
    rule=RULE,
    messages=2,
)
async def encrypted_end_to_end(ctx: Context) -> str:
    from pushcli.protocol.crypto import DecryptError, decrypt, encrypt

    channel = ctx.name("private-encrypted-", "e2e")
    conn = await ctx.connect()
    await ctx.subscribe(conn, channel)
    plain = json.dumps({"secret": ctx.run_id})
    await ctx.trigger([channel], "conform-sealed", encrypt(channel, plain, ctx.master_key))
    frame = await ctx.expect_event(conn, channel, "conform-sealed")
    data = frame.get("data")
    need(isinstance(data, str), f"data is not a string: {short(frame)}")
    assert isinstance(data, str)
    need(ctx.run_id not in data, "the plain text is on the wire")
    try:
        got = decrypt(channel, data, ctx.master_key)
    except DecryptError as e:
        raise Failed(f"cannot decrypt what arrived: {e}") from None
    need(got == plain, f"decrypted to {short(got)}, sent {short(plain)}")
    return "decrypted to what was sent"
