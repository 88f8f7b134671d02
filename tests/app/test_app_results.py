"""app/ functions return typed results, against a real server (soketi and ``pushcli serve``)."""

from __future__ import annotations

import pytest
from servers import subscriber_thread

from pushcli.app import channels, trigger, users
from pushcli.client.profiles import Settings, resolve
from pushcli.errors import InputError


def settings_for(server) -> Settings:  # type: ignore[no-untyped-def]
    return resolve(flags={}, env=server.env(), config_file="/nonexistent/pushcli.toml", hint=False)


def embedded(server) -> bool:  # type: ignore[no-untyped-def]
    return type(server).__name__ == "EmbeddedServer"


def test_trigger_returns_the_answer_and_the_counts(pusher_server) -> None:  # type: ignore[no-untyped-def]
    settings = settings_for(pusher_server)
    with subscriber_thread(pusher_server.ws_url, ["app-res-a"], pusher_server.auth_fn()) as sub:
        result = trigger.trigger(
            settings, ["app-res-a"], "hello", '{"n":1}', info="subscription_count"
        )
        [got] = sub.wait_for(1)
    assert isinstance(result, trigger.TriggerResult)
    assert not result.dry_run and result.request is None
    assert result.channels == ["app-res-a"] and result.event == "hello"
    if embedded(pusher_server):  # soketi answers a trigger's info with {}
        assert result.counts == {"app-res-a": {"subscription_count": 1}}
    else:
        assert result.counts == {}
    assert got["data"] == '{"n":1}'


def test_trigger_dry_run_describes_and_sends_nothing(pusher_server) -> None:  # type: ignore[no-untyped-def]
    settings = settings_for(pusher_server)
    with subscriber_thread(pusher_server.ws_url, ["app-res-dry"], pusher_server.auth_fn()) as sub:
        result = trigger.trigger(settings, ["app-res-dry"], "nope", "{}", dry_run=True)
        trigger.trigger(settings, ["app-res-dry"], "yes", "{}")
        got = sub.wait_for(1)
    assert result.dry_run and result.answer is None
    assert result.request is not None
    assert result.request.startswith(f"POST {pusher_server.http_base}/apps/")
    assert '"name":"nope"' in result.request and settings.secret not in result.request
    assert [e["event"] for e in got] == ["yes"]  # the dry run's event never arrived


def test_channels_hides_internal_channels_and_says_how_many(pusher_server) -> None:  # type: ignore[no-untyped-def]
    settings = settings_for(pusher_server)
    auth = pusher_server.auth_fn(user_id="u-app")
    with subscriber_thread(pusher_server.ws_url, ["app-res-b", "presence-app-res"], auth):
        listed = channels.channels(settings, info=None)
        presence = channels.channels(settings, "presence-app-res", "user_count")
        one = channels.channel(settings, "presence-app-res", "user_count,subscription_count")
        members = channels.members(settings, "presence-app-res")
    assert isinstance(listed, channels.ChannelsResult)
    assert "app-res-b" in listed.channels and listed.fields == []
    assert not any(n.startswith("#") for n in listed.channels)
    assert presence.fields == ["user_count"]
    assert list(presence.channels) == ["presence-app-res"]
    if embedded(pusher_server):  # soketi lists presence channels without user_count
        assert presence.channels["presence-app-res"] == {"user_count": 1}
    assert one.answer["user_count"] == 1 and not one.cache_missing
    assert members.user_ids == ["u-app"]


def test_channel_says_when_cache_was_asked_for_and_not_answered(pusher_server) -> None:  # type: ignore[no-untyped-def]
    result = channels.channel(settings_for(pusher_server), "cache-app-res-empty", "cache")
    assert result.cache_missing  # nothing cached there (and soketi ignores info=cache)


def test_users_terminate_names_the_user(pusher_server) -> None:  # type: ignore[no-untyped-def]
    result = users.terminate(settings_for(pusher_server), "u-nobody")
    assert isinstance(result, users.TerminateResult) and result.user_id == "u-nobody"


def test_arguments_are_checked_before_settings_are_resolved() -> None:
    def unresolvable() -> Settings:
        raise AssertionError("settings resolved before the arguments were checked")

    with pytest.raises(InputError, match="needs --prefix presence-"):
        channels.channels(unresolvable, info="user_count")
    with pytest.raises(InputError, match="only for presence- channels"):
        channels.channel(unresolvable, "public-x", "user_count")
    with pytest.raises(InputError, match="not a presence channel"):
        channels.members(unresolvable, "public-x")
    with pytest.raises(InputError, match="invalid user id"):
        users.terminate(unresolvable, "bad id")


def test_doctor_passes_against_the_server_and_reports_bad_settings_as_a_check(
    pusher_server,
) -> None:  # type: ignore[no-untyped-def]
    from pushcli.app import doctor
    from pushcli.errors import ConfigError

    result = doctor.doctor(settings_for(pusher_server), timeout=5)
    assert isinstance(result, doctor.DoctorResult)
    assert result.ok and result.exit_code == 0, [c for c in result.checks if c.status == "fail"]
    assert {"REST signature", "websocket"} <= {c.name for c in result.checks if c.status == "pass"}

    def broken() -> Settings:
        raise ConfigError("unknown profile 'nope'")

    bad = doctor.doctor(broken)
    assert not bad.ok and bad.exit_code == 3
    assert [(c.name, c.status, c.detail) for c in bad.checks] == [
        ("settings", "fail", "unknown profile 'nope'")
    ]
