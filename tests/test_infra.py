"""The test infrastructure itself, against a real soketi (no pushcli involved)."""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import uuid

import pytest
from servers import (
    Soketi,
    SubscriptionError,
    WsSubscriber,
    make_auth_fn,
    private_auth,
    subscriber_thread,
)


def _channel(prefix: str = "") -> str:
    return f"{prefix}infra-{uuid.uuid4().hex[:10]}"


def _get(port: int, path: str) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read().decode()
    finally:
        conn.close()


def test_config_is_isolated(tmp_path):
    assert os.environ["PUSHCLI_CONFIG"] == str(tmp_path / "config.toml")
    assert "PUSHCLI_PROFILE" not in os.environ
    assert not [name for name in os.environ if name.startswith("PUSHER_")]


def test_soketi_fixture_answers(soketi):
    assert soketi.host == "127.0.0.1"
    assert soketi.app_id == "123456"
    assert (soketi.key, soketi.secret) == ("app-key", "app-secret")
    assert soketi.url == f"http://app-key:app-secret@127.0.0.1:{soketi.port}/apps/123456"
    assert soketi.ws_url.startswith(f"ws://127.0.0.1:{soketi.port}/app/app-key?protocol=7")
    assert soketi.is_running() and soketi.pid
    assert _get(soketi.port, "/") == (200, "OK")
    assert soketi.env() == {
        "PUSHER_APP_ID": "123456",
        "PUSHER_APP_KEY": "app-key",
        "PUSHER_APP_SECRET": "app-secret",
        "PUSHER_HOST": "127.0.0.1",
        "PUSHER_PORT": str(soketi.port),
        "PUSHER_SCHEME": "http",
    }


def test_soketi_env_fixture(soketi_env):
    assert os.environ["PUSHER_PORT"] == str(soketi_env.port)
    assert os.environ["PUSHER_SCHEME"] == "http"


def test_public_channel_receives_event_from_official_library(soketi):
    channel = _channel()

    async def scenario():
        async with await WsSubscriber.connect(soketi.ws_url) as sub:
            assert sub.socket_id
            await sub.subscribe(channel)
            client = soketi.pusher_client()
            await asyncio.to_thread(client.trigger, channel, "greet", {"hello": "world"})
            await asyncio.to_thread(client.trigger, channel, "greet", "plain text")
            return await sub.collect(2, timeout=5)

    first, second = asyncio.run(scenario())
    assert (first["event"], first["channel"]) == ("greet", channel)
    assert json.loads(first["data"]) == {"hello": "world"}
    assert second["data"] == "plain text"


def test_private_channel_auth_accepted_and_wrong_signature_refused(soketi):
    channel = _channel("private-")

    async def scenario():
        async with await WsSubscriber.connect(soketi.ws_url) as sub:
            bad = private_auth("app-key", "not-the-secret", sub.socket_id, channel)
            with pytest.raises(SubscriptionError) as refused:
                await sub.subscribe(channel, **bad)
            assert refused.value.frame["data"]["status"] == 401
            # The connection survives a refused subscription.
            await sub.subscribe(channel, **soketi.private_auth(sub.socket_id, channel))
            await asyncio.to_thread(soketi.pusher_client().trigger, channel, "secret", {"n": 1})
            return await sub.next_event(timeout=5)

    event = asyncio.run(scenario())
    assert (event["event"], event["channel"]) == ("secret", channel)


def test_subscriber_thread_with_presence_and_private(soketi):
    presence, private = _channel("presence-"), _channel("private-")
    auth_fn = make_auth_fn(user_id="alice", user_info={"name": "Alice"})
    with subscriber_thread(soketi.ws_url, [presence, private], auth_fn) as sub:
        assert sub.ready.is_set() and sub.socket_id
        assert sub.subscriptions[presence]["presence"]["ids"] == ["alice"]
        client = soketi.pusher_client()
        client.trigger(private, "one", {"i": 1})
        client.trigger(presence, "two", {"i": 2})
        events = sub.wait_for(2, timeout=5)
    assert sorted((e["channel"], e["event"]) for e in events) == sorted(
        [(private, "one"), (presence, "two")]
    )


@pytest.mark.slow
def test_restartable_soketi_keeps_its_port(soketi_restartable: Soketi):
    server = soketi_restartable
    port, first_pid = server.port, server.pid
    channel = _channel()

    async def goodbye_on_stop():
        async with await WsSubscriber.connect(server.ws_url) as sub:
            await sub.subscribe(channel)
            await asyncio.to_thread(server.stop)
            # soketi says goodbye with pusher:error 4200 and closes with code 4200.
            with pytest.raises(Exception) as closed:  # noqa: B017 - ConnectionClosed*
                await sub.next_event(timeout=5)
            assert any(f["data"]["code"] == 4200 for f in sub.errors)
            return closed.value

    exc = asyncio.run(goodbye_on_stop())
    assert getattr(getattr(exc, "rcvd", None), "code", None) == 4200
    assert not server.is_running()
    with pytest.raises(OSError):
        _get(port, "/")

    server.start()
    assert server.port == port and server.pid != first_pid
    assert _get(port, "/") == (200, "OK")

    with subscriber_thread(server.ws_url, [channel]) as sub:
        server.pusher_client().trigger(channel, "back", {})
        assert sub.wait_for(1, timeout=5)[0]["event"] == "back"
