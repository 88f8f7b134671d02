"""What a subscriber sees, against soketi and ``pushcli serve`` alike (``pusher_server``).

Every channel kind, client events, presence members, cache channels, refusals and the
server-to-user path, with the official python library triggering. A test here passes on both
servers or the embedded server is wrong (where they differ on purpose it is said).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import uuid
from typing import Any

import nacl.secret
import pytest
from servers import SubscriptionError, WsSubscriber, presence_auth, private_auth

MASTER = base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()


def _name(prefix: str) -> str:
    return f"{prefix}c-{uuid.uuid4().hex[:8]}"


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 30))


def auth_for(server: Any, sub: WsSubscriber, channel: str, user: str = "u1") -> dict[str, str]:
    if channel.startswith("presence-"):
        return presence_auth(server.key, server.secret, sub.socket_id, channel, user, {"u": user})
    if channel.startswith("private-"):
        return private_auth(server.key, server.secret, sub.socket_id, channel)
    return {}


@pytest.mark.parametrize(
    "prefix",
    [
        "",
        "private-",
        "presence-",
        "private-encrypted-",
        "cache-",
        "private-cache-",
        "presence-cache-",
    ],
)
def test_every_channel_kind_delivers(pusher_server, prefix: str) -> None:  # type: ignore[no-untyped-def]
    channel = _name(prefix)
    client = pusher_server.pusher_client(encryption_master_key_base64=MASTER)

    async def main() -> None:
        sub = await WsSubscriber.connect(pusher_server.ws_url)
        await sub.subscribe(channel, **auth_for(pusher_server, sub, channel))
        if prefix.endswith("cache-"):
            await sub.send({"event": "pusher:ping", "data": {}})
            await asyncio.sleep(0.2)
        await asyncio.to_thread(client.trigger, channel, "ev", {"kind": prefix or "public"})
        got = await sub.next_event()
        assert (got["event"], got["channel"]) == ("ev", channel)
        data = got["data"]
        if prefix == "private-encrypted-":
            wire = json.loads(data)
            key = hashlib.sha256(channel.encode() + base64.b64decode(MASTER)).digest()
            data = (
                nacl.secret.SecretBox(key)
                .decrypt(base64.b64decode(wire["ciphertext"]), base64.b64decode(wire["nonce"]))
                .decode()
            )
        assert json.loads(data) == {"kind": prefix or "public"}
        if prefix.endswith("cache-"):
            assert any(f["event"] == "pusher:cache_miss" for f in sub.internal)
            late = await WsSubscriber.connect(pusher_server.ws_url)
            await late.subscribe(channel, **auth_for(pusher_server, late, channel, "u2"))
            replay = await late.next_event()
            assert (replay["event"], replay["data"]) == ("ev", got["data"])
            await late.close()
        await sub.close()

    run(main())


def test_presence_members_and_client_events(pusher_server) -> None:  # type: ignore[no-untyped-def]
    channel = _name("presence-")

    async def main() -> None:
        a = await WsSubscriber.connect(pusher_server.ws_url)
        joined = await a.subscribe(channel, **auth_for(pusher_server, a, channel, "alice"))
        assert joined["presence"] == {
            "ids": ["alice"],
            "hash": {"alice": {"u": "alice"}},
            "count": 1,
        }
        b = await WsSubscriber.connect(pusher_server.ws_url)
        joined = await b.subscribe(channel, **auth_for(pusher_server, b, channel, "bob"))
        assert sorted(joined["presence"]["ids"]) == ["alice", "bob"]
        await b.trigger_client_event(channel, "client-wave", {"hi": 1})
        got = await a.next_event()
        assert got == {
            "event": "client-wave",
            "channel": channel,
            "data": {"hi": 1},
            "user_id": "bob",
        }
        await b.close()
        for _ in range(20):
            if any(f["event"] == "pusher_internal:member_removed" for f in a.internal):
                break
            await a.send({"event": "pusher:ping", "data": {}})
            try:
                await a.next_event(timeout=0.1)
            except TimeoutError:
                pass
        members = [
            (f["event"], json.loads(f["data"])) for f in a.internal if "member_" in f["event"]
        ]
        assert members == [
            ("pusher_internal:member_added", {"user_id": "bob", "user_info": {"u": "bob"}}),
            ("pusher_internal:member_removed", {"user_id": "bob"}),
        ]
        await a.close()

    run(main())


def test_private_client_event_reaches_others_not_the_sender(pusher_server) -> None:  # type: ignore[no-untyped-def]
    channel = _name("private-")

    async def main() -> None:
        a = await WsSubscriber.connect(pusher_server.ws_url)
        b = await WsSubscriber.connect(pusher_server.ws_url)
        for sub in (a, b):
            await sub.subscribe(channel, **auth_for(pusher_server, sub, channel))
        await a.trigger_client_event(channel, "client-msg", {"n": 1})
        assert await b.next_event() == {"event": "client-msg", "channel": channel, "data": {"n": 1}}
        with pytest.raises(TimeoutError):
            await a.next_event(timeout=0.3)
        await a.close()
        await b.close()

    run(main())


def test_bad_signatures_are_refused_and_the_connection_stays(pusher_server) -> None:  # type: ignore[no-untyped-def]
    channel = _name("private-")

    async def main() -> None:
        sub = await WsSubscriber.connect(pusher_server.ws_url)
        with pytest.raises(SubscriptionError) as refused:
            await sub.subscribe(channel, auth=f"{pusher_server.key}:{'0' * 64}")
        assert refused.value.frame["data"]["type"] == "AuthError"
        assert refused.value.frame["data"]["status"] == 401
        presence = _name("presence-")
        good = auth_for(pusher_server, sub, presence)
        with pytest.raises(SubscriptionError):
            await sub.subscribe(presence, auth=good["auth"], channel_data='{"user_id":"other"}')
        await sub.subscribe(channel, **auth_for(pusher_server, sub, channel))  # still usable
        await sub.close()

    run(main())


def test_unknown_app_key_closes_4001(pusher_server) -> None:  # type: ignore[no-untyped-def]
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed

    async def main() -> None:
        url = pusher_server.ws_url.replace("/app/app-key", "/app/not-a-key")
        async with connect(url, proxy=None) as ws:
            frames = []
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    frames.append(json.loads(await ws.recv()))
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4001
            assert frames[-1]["event"] == "pusher:error" and frames[-1]["data"]["code"] == 4001

    run(main())


def test_socket_id_exclusion_and_channel_counts(pusher_server) -> None:  # type: ignore[no-untyped-def]
    channel = _name("")
    client = pusher_server.pusher_client()

    async def main() -> None:
        a = await WsSubscriber.connect(pusher_server.ws_url)
        b = await WsSubscriber.connect(pusher_server.ws_url)
        await a.subscribe(channel)
        await b.subscribe(channel)
        info = await asyncio.to_thread(client.channel_info, channel, ["subscription_count"])
        assert info == {"occupied": True, "subscription_count": 2}
        await asyncio.to_thread(client.trigger, channel, "ev", "x", a.socket_id)
        assert (await b.next_event())["event"] == "ev"
        with pytest.raises(TimeoutError):
            await a.next_event(timeout=0.3)
        await a.close()
        await b.close()

    run(main())
