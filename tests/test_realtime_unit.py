"""Unit tests for the live tail's pure parts: selection and counting, NDJSON shape, authorizers.
No sockets here (see test_listen.py). The protocol itself (frames, close codes, backoff, the
client session) is tested in tests/protocol/."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import subprocess
import sys

import pytest

from pushcli.app import tail
from pushcli.app.tail import Row, Selector
from pushcli.client import authorize, realtime
from pushcli.client.profiles import Settings
from pushcli.errors import ConfigError, InputError, RejectedError
from pushcli.protocol import crypto
from pushcli.protocol.client_session import MemberAdded, MemberRemoved, Status, Subscribed
from pushcli.protocol.signing import hmac_hex
from pushcli.ui.liveview import iso_time, row_object

MASTER_B64 = "OHRXNUZRTG5pUTFzQlFGd3J3N3Q2VFZFc0paZDEweVk="


def local_settings(**kw) -> Settings:
    base = dict(
        app_id="1", key="app-key", secret="app-secret", host="127.0.0.1", port=6001, scheme="http"
    )
    base.update(kw)
    return Settings(**base)


# --- the listener shell (its protocol is tested in tests/protocol/) ----------------------


def test_ws_url_for_host_and_cluster():
    from pushcli import __version__

    s = local_settings()
    assert realtime.ws_url(s) == (
        f"ws://127.0.0.1:6001/app/app-key?protocol=7&client=pushcli&version={__version__}"
    )
    c = Settings(app_id="1", key="k", secret="s", cluster="eu", scheme="https")
    assert realtime.ws_url(c).startswith("wss://ws-eu.pusher.com/app/k?protocol=7&client=pushcli")


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
    rows = text.split("by event:")[0]  # the footer counts every event name
    assert "ev-19" in rows and "ev-15" not in rows  # only the last 5 rows are kept
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


def test_item_types_are_the_protocol_layers_everywhere():
    import pushcli.api
    from pushcli.protocol import client_session

    for name in ("Event", "MemberAdded", "MemberRemoved", "Status", "Subscribed"):
        assert getattr(realtime, name) is getattr(client_session, name)
        assert getattr(pushcli.api, name) is getattr(client_session, name)
    assert realtime.close_action is client_session.close_action
