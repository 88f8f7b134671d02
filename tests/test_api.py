"""The library API against a real server: the same behaviour as the commands, no process."""

from __future__ import annotations

import json

import pytest
from servers import subscriber_thread

from pushcli.api import Client
from pushcli.errors import ConfigError, InputError, RejectedError


@pytest.fixture
def client(soketi):  # type: ignore[no-untyped-def]
    with Client.from_values(
        app_id=soketi.app_id,
        key=soketi.key,
        secret=soketi.secret,
        host=soketi.host,
        port=soketi.port,
    ) as c:
        yield c


def test_trigger_batch_and_queries(client: Client, soketi) -> None:  # type: ignore[no-untyped-def]
    auth = soketi.auth_fn(user_id="api-user")
    with subscriber_thread(soketi.ws_url, ["api-a", "presence-api"], auth) as sub:
        client.trigger("api-a", "one", {"n": 1})
        client.trigger(["api-a"], "two", "text")
        result = client.batch(
            [{"channel": "api-a", "name": "b", "data": {"i": i}} for i in range(12)]
        )
        got = sub.wait_for(14)
        assert result.sent == 12 and result.requests == 2
        assert client.members("presence-api") == ["api-user"]
        assert "api-a" in client.channels()["channels"]
        assert client.channel("api-a", info="subscription_count")["subscription_count"] == 1
    assert [e["data"] for e in got[:2]] == ['{"n":1}', "text"]
    assert [json.loads(e["data"])["i"] for e in got[2:]] == list(range(12))


def test_errors_are_the_cli_errors(client: Client, soketi) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InputError):
        client.batch([{"channel": "ok", "name": "e"}, {"channel": "bad name", "name": "e"}])
    with pytest.raises(InputError):
        client.members("not-presence")
    bad = Client.from_values(
        app_id=soketi.app_id, key=soketi.key, secret="wrong", host=soketi.host, port=soketi.port
    )
    with pytest.raises(RejectedError):
        bad.trigger("c", "e")
    with pytest.raises(ConfigError):
        client.sign_channel("private-encrypted-x", "1.2")


def test_signing_matches_the_official_library(client: Client) -> None:
    import pusher

    official = pusher.Pusher(
        app_id=client.settings.app_id, key=client.settings.key, secret=client.settings.secret
    )
    assert client.sign_channel("private-x", "1.2") == official.authenticate("private-x", "1.2")
    ours = client.sign_user("1.2", {"id": "u1"})
    assert ours["user_data"] == '{"id":"u1"}'
    # The official library serialises with spaces; signing its string our way gives its auth.
    theirs = official.authenticate_user("1.2", {"id": "u1"})
    from pushcli.protocol import signing

    assert (
        signing.user_auth(client.settings.key, client.settings.secret, "1.2", theirs["user_data"])
        == theirs["auth"]
    )


def test_listen_is_an_async_iterator(client: Client, pusher_server) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    listening = Client.from_values(
        app_id=pusher_server.app_id,
        key=pusher_server.key,
        secret=pusher_server.secret,
        host=pusher_server.host,
        port=pusher_server.port,
    )

    async def main() -> list[tuple[str, str, str]]:
        from pushcli.client.realtime import Subscribed

        got = []
        async for item in listening.listen(
            ["api-live", "presence-api-live"], user_id="me", system=True
        ):
            if isinstance(item, Subscribed) and item.channel == "presence-api-live":
                # both subscribed (presence is second): trigger from the official library
                official = pusher_server.pusher_client()
                await asyncio.to_thread(official.trigger, "api-live", "hello", {"n": 1})
            if getattr(item, "event", "").startswith("pusher"):
                continue
            if hasattr(item, "event"):
                got.append((item.channel, item.event, item.data))
                break
        return got

    got = asyncio.run(asyncio.wait_for(main(), 15))
    assert got == [("api-live", "hello", '{"n": 1}')]
