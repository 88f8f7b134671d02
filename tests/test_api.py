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


def test_info_rules_are_the_clis(pusher_server) -> None:  # type: ignore[no-untyped-def]
    """user_count misuse is refused here (exit 4), as the CLI does, not by the server (exit 5)."""
    from typer.testing import CliRunner

    from pushcli.cli import app

    client = Client.from_values(
        app_id=pusher_server.app_id,
        key=pusher_server.key,
        secret=pusher_server.secret,
        host=pusher_server.host,
        port=pusher_server.port,
    )
    with client:
        with pytest.raises(InputError, match="--info user_count needs --prefix presence-") as e:
            client.channels(info="user_count")
        assert e.value.exit_code == 4
        with pytest.raises(InputError, match="only for presence- channels"):
            client.channel("api-public", info="user_count")
        with pytest.raises(InputError, match="invalid user id"):
            client.send_to_user("bad id", "e")
        assert client._rest is None  # nothing was sent: not even a connection was made
        assert client.channels("presence-", "user_count") == {"channels": {}}
    r = CliRunner().invoke(app, ["channels", "--info", "user_count"], env=pusher_server.env())
    assert r.exit_code == 4
    assert r.stderr.strip().endswith("--info user_count needs --prefix presence-")


def test_listen_checks_channels_as_the_cli(pusher_server) -> None:  # type: ignore[no-untyped-def]
    """A channel listed twice is refused before connecting, as `pushcli listen` refuses it."""
    import asyncio

    client = Client.from_values(
        app_id=pusher_server.app_id,
        key=pusher_server.key,
        secret=pusher_server.secret,
        host=pusher_server.host,
        port=pusher_server.port,
    )

    async def first() -> object:
        async for item in client.listen(["api-twice", "api-twice"], system=True):
            return item
        return None

    with pytest.raises(InputError, match="a channel is listed twice"):
        asyncio.run(asyncio.wait_for(first(), 5))
