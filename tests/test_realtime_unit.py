"""Unit tests for the live tail's pure parts: close-code policy, backoff, frame handling,
selection and counting, NDJSON shape, authorizers. No sockets here (see test_listen.py)."""

from __future__ import annotations

import asyncio
import base64
import json
import random
import re
import subprocess
import sys

import pytest

from pushcli.app import tail
from pushcli.app.tail import Row, Selector
from pushcli.client import authorize, realtime
from pushcli.client.profiles import Settings
from pushcli.client.realtime import (
    Event,
    Listener,
    MemberAdded,
    MemberRemoved,
    Problem,
    Status,
    Subscribed,
    backoff_delay,
    close_action,
)
from pushcli.errors import ConfigError, InputError, RejectedError
from pushcli.protocol import crypto
from pushcli.protocol.signing import hmac_hex
from pushcli.ui.liveview import iso_time, row_object

MASTER_B64 = "OHRXNUZRTG5pUTFzQlFGd3J3N3Q2VFZFc0paZDEweVk="


def local_settings(**kw) -> Settings:
    base = dict(
        app_id="1", key="app-key", secret="app-secret", host="127.0.0.1", port=6001, scheme="http"
    )
    base.update(kw)
    return Settings(**base)


# --- close codes -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "action"),
    [
        (None, "backoff"),  # abnormal closure, no close frame
        (1000, "backoff"),
        (1006, "backoff"),
        (1011, "backoff"),
        (4000, "tls"),
        (4001, "fatal"),  # unknown app
        (4003, "fatal"),  # app disabled
        (4004, "fatal"),  # over connection quota
        (4009, "fatal"),  # unauthorized
        (4099, "fatal"),
        (4100, "backoff"),  # over capacity
        (4199, "backoff"),
        (4200, "now"),  # generic reconnect
        (4201, "now"),  # pong not received
        (4202, "now"),  # closed for inactivity
        (4299, "now"),
        (4300, "fatal"),
        (4301, "fatal"),
    ],
)
def test_close_action(code, action):
    assert close_action(code) == action


def test_backoff_grows_with_jitter_and_is_capped():
    rng = random.Random(7)
    for attempt, ceiling in [(0, 1.0), (1, 2.0), (2, 4.0), (3, 8.0), (5, 30.0), (40, 30.0)]:
        for _ in range(50):
            d = backoff_delay(attempt, rng)
            assert ceiling / 2 <= d <= ceiling
    delays = {round(backoff_delay(3, rng), 6) for _ in range(20)}
    assert len(delays) > 1  # jitter


def test_ws_url_for_host_and_cluster():
    from pushcli import __version__

    s = local_settings()
    assert realtime.ws_url(s) == (
        f"ws://127.0.0.1:6001/app/app-key?protocol=7&client=pushcli&version={__version__}"
    )
    c = Settings(app_id="1", key="k", secret="s", cluster="eu", scheme="https")
    assert realtime.ws_url(c).startswith("wss://ws-eu.pusher.com/app/k?protocol=7&client=pushcli")


# --- frame handling (Listener._handle is pure apart from its own state) ----------------------


def frame(event, data=None, channel=None, **extra) -> str:
    out = {"event": event}
    if data is not None:
        out["data"] = data
    if channel is not None:
        out["channel"] = channel
    out.update(extra)
    return json.dumps(out)


def listener(channels=("c",), **kw) -> Listener:
    return Listener(local_settings(**kw), list(channels))


def test_connection_established_sets_socket_id_and_caps_activity_timeout():
    lst = listener()
    items = lst._handle(
        frame(
            "pusher:connection_established",
            json.dumps({"socket_id": "1.2", "activity_timeout": 500}),
        )
    )
    assert isinstance(items[0], Event) and items[0].system
    assert isinstance(items[1], Status) and items[1].state == "connected"
    assert items[1].socket_id == "1.2" == lst.socket_id
    assert lst._activity == 120
    lst._handle(
        frame(
            "pusher:connection_established",
            json.dumps({"socket_id": "1.3", "activity_timeout": 30}),
        )
    )
    assert lst._activity == 30


def test_user_event_keeps_wire_string_and_user_id():
    lst = listener()
    [item] = lst._handle(frame("client-x", {"a": 1}, "presence-r", user_id="u1"))
    assert isinstance(item, Event) and not item.system
    assert (item.channel, item.event, item.data, item.user_id) == (
        "presence-r",
        "client-x",
        '{"a":1}',
        "u1",
    )
    [item] = lst._handle(frame("ev", '{"b": 2}', "c"))
    assert item.data == '{"b": 2}' and item.user_id is None


def test_presence_members_join_and_leave():
    lst = listener(["presence-r"])
    presence = {"presence": {"ids": ["a", "b"], "hash": {"a": {"name": "A"}}, "count": 2}}
    items = lst._handle(
        frame("pusher_internal:subscription_succeeded", json.dumps(presence), "presence-r")
    )
    sub = items[-1]
    assert isinstance(sub, Subscribed) and sub.first
    assert sub.members == {"a": {"name": "A"}, "b": None}
    added = lst._handle(
        frame(
            "pusher_internal:member_added",
            json.dumps({"user_id": 7, "user_info": {"n": 1}}),
            "presence-r",
        )
    )[-1]
    assert isinstance(added, MemberAdded) and (added.user_id, added.user_info) == ("7", {"n": 1})
    removed = lst._handle(
        frame("pusher_internal:member_removed", json.dumps({"user_id": "7"}), "presence-r")
    )[-1]
    assert isinstance(removed, MemberRemoved) and removed.user_info == {"n": 1}
    assert lst.members["presence-r"] == {"a": {"name": "A"}, "b": None}
    again = lst._handle(
        frame("pusher_internal:subscription_succeeded", json.dumps(presence), "presence-r")
    )[-1]
    assert isinstance(again, Subscribed) and not again.first


def test_subscription_error_is_fatal_with_the_servers_message():
    lst = listener(["private-x"])
    data = {"type": "AuthError", "error": "The connection is unauthorized.", "status": 401}
    with pytest.raises(
        RejectedError,
        match=r"subscription to private-x refused: The connection is unauthorized\. \(status 401\)",
    ):
        lst._handle(frame("pusher:subscription_error", data, "private-x"))


def test_pusher_error_fatal_range_raises_other_codes_are_problems():
    lst = listener()
    with pytest.raises(RejectedError, match=r"App key nope does not exist\. \(4001\)"):
        lst._handle(
            frame("pusher:error", {"code": 4001, "message": "App key nope does not exist."})
        )
    items = lst._handle(
        frame("pusher:error", {"code": 4301, "message": "rate limited"}, "private-x")
    )
    assert (
        isinstance(items[-1], Problem)
        and items[-1].code == 4301
        and items[-1].channel == "private-x"
    )


def test_server_ping_schedules_a_pong_and_unreadable_frames_are_problems():
    lst = listener()
    lst._handle(frame("pusher:ping", {}))
    assert lst._pong_due
    [p] = lst._handle("not json")
    assert isinstance(p, Problem) and "unreadable" in p.message


def test_encrypted_events_are_decrypted_and_bad_payloads_become_error_items():
    channel = "private-encrypted-x"
    master = crypto.decode_master_key(MASTER_B64)
    lst = listener([channel])
    lst._decrypt[channel] = lambda wire: crypto.decrypt(channel, wire, master)
    wire = crypto.encrypt(channel, '{"secret": 1}', master)
    [ok] = lst._handle(frame("ev", wire, channel))
    assert ok.data == '{"secret": 1}' and ok.error is None
    other = crypto.encrypt(channel, "x", bytes(32))
    [bad] = lst._handle(frame("ev", other, channel))
    assert bad.error and "cannot decrypt" in bad.error
    [plain] = lst._handle(frame("ev", "not encrypted", channel))
    assert plain.error and "not an encrypted payload" in plain.error


# --- selection, counting, output shape -------------------------------------------------------


def row(event, kind="event", **kw) -> Row:
    return Row(1700000000.5, "c", event, kind, **kw)


@pytest.mark.parametrize(
    ("globs", "system", "until", "r", "shown", "counts"),
    [
        ([], False, None, row("ev"), True, True),
        ([], False, None, row("pusher:ping", "system"), False, False),
        ([], True, None, row("pusher:ping", "system"), True, False),
        ([], False, None, row("pusher:member_added", "member"), True, False),
        ([], False, None, row("pusher:subscription_succeeded", "presence"), True, False),
        (["order-*"], False, None, row("order-1"), True, True),
        (["order-*"], False, None, row("other"), False, False),
        (["order-*"], False, None, row("pusher:member_added", "member"), False, False),
        (["pusher:member_*"], False, None, row("pusher:member_added", "member"), True, True),
        (["pusher:*"], True, None, row("pusher:cache_miss", "system"), True, True),
        (["order-*"], False, "done", row("done"), True, False),
        ([], False, "pusher:cache_miss", row("pusher:cache_miss", "system"), True, False),
    ],
)
def test_selector(globs, system, until, r, shown, counts):
    s = Selector(globs, system, until)
    assert s.shown(r) is shown
    if shown:
        assert s.counts(r) is counts


def test_iso_time_is_utc_with_ms_and_z():
    assert iso_time(0.0) == "1970-01-01T00:00:00.000Z"
    assert iso_time(1700000000.123456) == "2023-11-14T22:13:20.123Z"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", iso_time(1e9 + 0.999))


def test_ndjson_objects():
    assert row_object(row("ev", data='{"a":1}', user_id="u")) == {
        "time": "2023-11-14T22:13:20.500Z",
        "channel": "c",
        "event": "ev",
        "data": {"a": 1},
        "user_id": "u",
    }
    assert row_object(row("ev", data="plain"))["data"] == "plain"
    assert "user_id" not in row_object(row("ev", data="1"))
    err = row_object(row("ev", data="x", error="cannot decrypt"))
    assert err["error"] == "cannot decrypt" and "data" not in err
    member = row_object(row("pusher:member_added", "member", user_id="u", user_info={"n": 1}))
    assert member == {
        "time": "2023-11-14T22:13:20.500Z",
        "channel": "c",
        "event": "pusher:member_added",
        "user_id": "u",
        "user_info": {"n": 1},
    }
    pres = row_object(row("pusher:subscription_succeeded", "presence", members={"a": None}))
    assert pres["members"] == {"a": None} and pres["count"] == 1


def test_rows_for_items():
    assert tail.rows_for(Status(1.0, "connected")) == []
    assert tail.rows_for(Subscribed(1.0, "c", None)) == []
    [r] = tail.rows_for(MemberRemoved(1.0, "presence-r", "u", {"n": 1}))
    assert (r.event, r.kind, r.user_id) == ("pusher:member_removed", "member", "u")


# --- authorizers ----------------------------------------------------------------------------


def test_parse_header():
    assert authorize.parse_header("Authorization: Bearer x:y") == ("Authorization", "Bearer x:y")
    for bad in ["nocolon", ": v", "Bad Name: v"]:
        with pytest.raises(InputError):
            authorize.parse_header(bad)


def test_build_checks_before_connecting():
    s = local_settings()
    assert (
        authorize.build(s, ["public"], endpoint=None, headers=[], user_id="u", user_info=None)
        is None
    )
    with pytest.raises(ConfigError, match="encryption master key"):
        authorize.build(
            s, ["private-encrypted-x"], endpoint=None, headers=[], user_id="u", user_info=None
        )
    with pytest.raises(ConfigError, match="app secret"):
        authorize.build(
            local_settings(secret=None),
            ["private-x"],
            endpoint=None,
            headers=[],
            user_id="u",
            user_info=None,
        )
    with pytest.raises(InputError, match="--user-info"):
        authorize.build(s, ["presence-x"], endpoint=None, headers=[], user_id="u", user_info="{bad")
    with pytest.raises(InputError, match="--auth-endpoint"):
        authorize.build(
            s, ["private-x"], endpoint=None, headers=["A: b"], user_id="u", user_info=None
        )
    ep = authorize.build(
        local_settings(secret=None),
        ["private-encrypted-x"],
        endpoint="http://127.0.0.1:1/auth",
        headers=["A: b"],
        user_id="u",
        user_info=None,
    )
    assert isinstance(ep, authorize.EndpointAuthorizer) and ep.headers == [("A", "b")]


def test_local_authorizer_answers_like_an_auth_endpoint():
    s = local_settings(encryption_master_key=MASTER_B64)
    a = authorize.LocalAuthorizer(s, user_id="u1", user_info='{"name":"A"}')
    private = asyncio.run(a.authorize("private-foobar", "1234.1234"))
    assert private == {"auth": "app-key:" + hmac_hex("app-secret", "1234.1234:private-foobar")}
    presence = asyncio.run(a.authorize("presence-r", "1.1"))
    assert json.loads(presence["channel_data"]) == {"user_id": "u1", "user_info": {"name": "A"}}
    enc = asyncio.run(a.authorize("private-encrypted-channel", "1.1"))
    assert enc["shared_secret"] == "VmIsNZtCSteh8kazd2toc+ofhohBtUouQRSDtRvuyVI="


def test_endpoint_decryptor_uses_the_shared_secret():
    channel = "private-encrypted-channel"
    master = crypto.decode_master_key(MASTER_B64)
    ep = authorize.EndpointAuthorizer("http://127.0.0.1:1/auth")
    decrypt = ep.decryptor(
        channel, {"auth": "x", "shared_secret": crypto.shared_secret_b64(channel, master)}
    )
    assert decrypt(crypto.encrypt(channel, "hello", master)) == "hello"
    with pytest.raises(crypto.DecryptError):
        decrypt(crypto.encrypt(channel, "hello", bytes(32)))
    with pytest.raises(RejectedError):
        ep.decryptor(channel, {"auth": "x", "shared_secret": base64.b64encode(b"short").decode()})


def test_endpoint_answer_checks():
    assert authorize._check_answer("private-x", '{"auth": "k:s"}', 200) == {"auth": "k:s"}
    with pytest.raises(RejectedError, match="without JSON"):
        authorize._check_answer("private-x", "<html>", 200)
    with pytest.raises(RejectedError, match="channel_data"):
        authorize._check_answer("presence-x", '{"auth": "k:s"}', 200)


def test_importing_the_cli_stays_light():
    code = (
        "import sys, pushcli.cli; "
        "bad = [m for m in ('httpx', 'websockets', 'nacl', 'rich.live', 'pushcli.client.realtime', "
        "'pushcli.ui.liveview') if m in sys.modules]; print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_live_view_renders_a_bounded_snapshot():
    import io

    from rich.console import Console

    from pushcli.ui.liveview import LiveSink

    sink = LiveSink("ws://127.0.0.1:6001", ["c", "presence-r"], max_rows=5)
    sink.observe(Status(1.0, "connected", socket_id="12.34"))
    sink.observe(Subscribed(1.0, "presence-r", {"ada": {"name": "Ada"}}))
    sink.observe(MemberAdded(1.0, "presence-r", "bob", None))
    for i in range(20):
        sink.row(Row(1700000000.0 + i, "c", f"ev-{i}", data=json.dumps({"i": i})))
    sink.row(Row(1700000030.0, "c", "bad", error="cannot decrypt"))
    assert len(sink._rows) == 5 and sink.events == 21
    out = io.StringIO()
    Console(file=out, width=120, height=40, color_system=None).print(sink._render())
    text = out.getvalue()
    assert "connected" in text and "12.34" in text and "events 21" in text
    assert "presence-r — 2 members: ada, bob" in text
    assert "ev-19" in text and "ev-15" not in text  # only the last 5 rows are kept
    assert "error: cannot decrypt" in text


@pytest.mark.parametrize(
    "data",
    ['{"a": [1, 2], "é": "x"}', "plain", '{"a":\n1}', " 42 ", '"str"', None, "{not json", "[1,"],
)
def test_ndjson_fast_line_means_what_the_generic_encoding_means(data) -> None:  # type: ignore[no-untyped-def]
    """Events whose data is one-line JSON are written with the text as received: same value."""
    import json

    from pushcli.app.tail import Row
    from pushcli.ui.liveview import _encode, ndjson_line, row_object

    for row in (
        Row(1.25, "c", "e", data=data),
        Row(1.25, "presence-c", "client-e", data=data, user_id='u"1'),
    ):
        line = ndjson_line(row)
        assert "\n" not in line
        fast, generic = json.loads(line), json.loads(_encode(row_object(row)))
        assert fast == generic and list(fast) == list(generic)
