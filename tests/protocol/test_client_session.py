"""The sans-I/O client session (pushcli.protocol.client_session), driven with frames and a fake
clock only, in the manner of websockets' tests/test_protocol.py: no sockets, no event loop.

The same behaviour against real servers (soketi, ``pushcli serve``, scripted stand-ins) is in
tests/test_listen.py and tests/test_listen_faults.py.
"""

from __future__ import annotations

import json
import random

import pytest

from pushcli.errors import RejectedError, UnavailableError
from pushcli.protocol import crypto, frames
from pushcli.protocol.backoff import RECONNECT, REST_RETRY
from pushcli.protocol.client_session import (
    CONNECT_TIMEOUT,
    PING_FRAME,
    PONG_FRAME,
    STABLE_AFTER,
    AuthRequest,
    ClientSession,
    Event,
    Lost,
    MemberAdded,
    MemberRemoved,
    Problem,
    Reconnect,
    SigninRequest,
    Status,
    Subscribed,
    close_action,
)

MASTER_B64 = "OHRXNUZRTG5pUTFzQlFGd3J3N3Q2VFZFc0paZDEweVk="
T0 = 1_700_000_000.0


def frame(event, data=None, channel=None, **extra) -> str:
    out = {"event": event}
    if data is not None:
        out["data"] = data
    if channel is not None:
        out["channel"] = channel
    out.update(extra)
    return json.dumps(out)


def established(socket_id="1.2", activity=120) -> str:
    data = json.dumps({"socket_id": socket_id, "activity_timeout": activity})
    return frame("pusher:connection_established", data)


def sent(session: ClientSession) -> list[dict]:
    return [json.loads(f) for f in session.data_to_send()]


def session(channels=("c",), **kw) -> ClientSession:
    s = ClientSession(list(channels), server="ws://127.0.0.1:6001", **kw)
    s.begin(T0)
    return s


def connected(channels=("c",), now=T0, **kw) -> ClientSession:
    s = session(channels, **kw)
    s.receive(established(), now)
    s.data_to_send()
    return s


# --- connecting and subscribing --------------------------------------------------------------


def test_connection_established_subscribes_public_channels_in_order():
    s = session(["a", "b"])
    assert sent(s) == [] and s.request is None
    items = s.receive(established(), T0 + 0.1)
    assert isinstance(items[0], Event) and items[0].system
    assert items[0].event == "pusher:connection_established"
    status = items[1]
    assert isinstance(status, Status) and status.state == "connected"
    assert status.socket_id == "1.2" == s.socket_id and status.time == T0 + 0.1
    assert sent(s) == [
        {"event": "pusher:subscribe", "data": {"channel": "a"}},
        {"event": "pusher:subscribe", "data": {"channel": "b"}},
    ]
    assert s.request is None and s.established_at == T0 + 0.1


def test_signin_first_then_authorized_channels_in_order():
    s = session(["public", "private-x", "presence-r", "after"], signin=True)
    s.receive(established("9.9"), T0)
    assert sent(s) == [] and s.request == SigninRequest("9.9")
    s.signed_in({"auth": "k:sig", "user_data": '{"id":"u"}'})
    assert sent(s) == [
        {"event": "pusher:signin", "data": {"auth": "k:sig", "user_data": '{"id":"u"}'}},
        {"event": "pusher:subscribe", "data": {"channel": "public"}},
    ]
    assert s.request == AuthRequest("private-x", "9.9", encrypted=False)
    s.authorized({"auth": "k:a1"})
    assert sent(s) == [
        {"event": "pusher:subscribe", "data": {"channel": "private-x", "auth": "k:a1"}}
    ]
    assert s.request == AuthRequest("presence-r", "9.9")
    s.authorized({"auth": "k:a2", "channel_data": '{"user_id":"u"}'})
    assert sent(s) == [
        {
            "event": "pusher:subscribe",
            "data": {"channel": "presence-r", "auth": "k:a2", "channel_data": '{"user_id":"u"}'},
        },
        {"event": "pusher:subscribe", "data": {"channel": "after"}},
    ]
    assert s.request is None


def test_encrypted_channels_ask_for_a_decryptor():
    s = session(["private-encrypted-x"])
    s.receive(established(), T0)
    assert s.request == AuthRequest("private-encrypted-x", "1.2", encrypted=True)


def test_connection_established_caps_the_activity_timeout():
    s = session()
    s.receive(established(activity=500), T0)
    assert s.activity_timeout == 120
    s.begin(T0)
    s.receive(established(activity=30), T0)
    assert s.activity_timeout == 30


def test_subscription_succeeded_and_resubscribing():
    s = connected(["c"])
    [event, sub] = s.receive(frame("pusher_internal:subscription_succeeded", "{}", "c"), T0)
    assert event.system and isinstance(sub, Subscribed) and sub.first and sub.members is None
    assert s.subscribed == {"c"}
    assert s.closed(4200).action == "now"
    assert s.subscribed == set()
    s.begin(T0 + 1)
    s.receive(established("1.3"), T0 + 1)
    assert sent(s) == [{"event": "pusher:subscribe", "data": {"channel": "c"}}]
    [_, again] = s.receive(frame("pusher_internal:subscription_succeeded", "{}", "c"), T0 + 1)
    assert isinstance(again, Subscribed) and not again.first
    assert s.unsubscribe_all() == [frames.encode("pusher:unsubscribe", {"channel": "c"})]
    assert s.subscribed == set()


# --- events ----------------------------------------------------------------------------------


def test_user_event_keeps_wire_string_and_user_id():
    s = connected()
    [item] = s.receive(frame("client-x", {"a": 1}, "presence-r", user_id="u1"), T0 + 2)
    assert isinstance(item, Event) and not item.system and item.time == T0 + 2
    assert (item.channel, item.event, item.data, item.user_id) == (
        "presence-r",
        "client-x",
        '{"a":1}',
        "u1",
    )
    [item] = s.receive(frame("ev", '{"b": 2}', "c"), T0)
    assert item.data == '{"b": 2}' and item.user_id is None


def test_unreadable_frames_are_problems():
    s = connected()
    [p] = s.receive("not json", T0)
    assert isinstance(p, Problem) and p.message == "unreadable frame: not json"
    [p] = s.receive(b'["a list"]', T0)
    assert isinstance(p, Problem) and "unreadable" in p.message


def test_presence_members_join_and_leave():
    s = connected(["presence-r"])
    presence = {"presence": {"ids": ["a", "b"], "hash": {"a": {"name": "A"}}, "count": 2}}
    items = s.receive(
        frame("pusher_internal:subscription_succeeded", json.dumps(presence), "presence-r"), T0
    )
    sub = items[-1]
    assert isinstance(sub, Subscribed) and sub.first
    assert sub.members == {"a": {"name": "A"}, "b": None}
    added = s.receive(
        frame(
            "pusher_internal:member_added",
            json.dumps({"user_id": 7, "user_info": {"n": 1}}),
            "presence-r",
        ),
        T0,
    )[-1]
    assert isinstance(added, MemberAdded) and (added.user_id, added.user_info) == ("7", {"n": 1})
    removed = s.receive(
        frame("pusher_internal:member_removed", json.dumps({"user_id": "7"}), "presence-r"), T0
    )[-1]
    assert isinstance(removed, MemberRemoved) and removed.user_info == {"n": 1}
    assert s.members["presence-r"] == {"a": {"name": "A"}, "b": None}
    again = s.receive(
        frame("pusher_internal:subscription_succeeded", json.dumps(presence), "presence-r"), T0
    )[-1]
    assert isinstance(again, Subscribed) and not again.first


def test_signin_success_names_the_user():
    s = connected(signin=True)
    data = json.dumps({"user_data": json.dumps({"id": "ada"})})
    [_, status] = s.receive(frame("pusher:signin_success", data), T0)
    assert isinstance(status, Status) and (status.state, status.detail) == ("signed_in", "ada")


def test_encrypted_events_are_decrypted_and_bad_payloads_become_error_items():
    channel = "private-encrypted-x"
    master = crypto.decode_master_key(MASTER_B64)
    s = session([channel])
    s.receive(established(), T0)
    s.authorized({"auth": "k:s"}, lambda wire: crypto.decrypt(channel, wire, master))
    wire = crypto.encrypt(channel, '{"secret": 1}', master)
    [ok] = s.receive(frame("ev", wire, channel), T0)
    assert ok.data == '{"secret": 1}' and ok.error is None
    other = crypto.encrypt(channel, "x", bytes(32))
    [bad] = s.receive(frame("ev", other, channel), T0)
    assert bad.error and "cannot decrypt" in bad.error
    [plain] = s.receive(frame("ev", "not encrypted", channel), T0)
    assert plain.error and "not an encrypted payload" in plain.error
    [elsewhere] = s.receive(frame("ev", "clear", "c"), T0)
    assert elsewhere.data == "clear" and elsewhere.error is None


# --- refusals --------------------------------------------------------------------------------


def test_subscription_error_is_fatal_with_the_servers_message():
    s = connected(["private-x"])
    data = {"type": "AuthError", "error": "The connection is unauthorized.", "status": 401}
    with pytest.raises(
        RejectedError,
        match=r"subscription to private-x refused: The connection is unauthorized\. \(status 401\)",
    ) as e:
        s.receive(frame("pusher:subscription_error", data, "private-x"), T0)
    assert e.value.status == 401


def test_pusher_error_fatal_range_raises_other_codes_are_problems():
    s = connected()
    with pytest.raises(RejectedError, match=r"App key nope does not exist\. \(4001\)"):
        s.receive(
            frame("pusher:error", {"code": 4001, "message": "App key nope does not exist."}), T0
        )
    items = s.receive(
        frame("pusher:error", {"code": 4301, "message": "rate limited"}, "private-x"), T0
    )
    assert isinstance(items[-1], Problem)
    assert (items[-1].code, items[-1].channel, items[-1].message) == (
        4301,
        "private-x",
        "rate limited",
    )


def test_4009_hints_at_the_secret_when_signing_in():
    s = connected(signin=True)
    with pytest.raises(RejectedError) as e:
        s.receive(frame("pusher:error", {"code": 4009, "message": "Unauthorized"}), T0)
    assert e.value.hint and "--no-signin" in e.value.hint
    with pytest.raises(RejectedError) as e:
        connected().receive(frame("pusher:error", {"code": 4009, "message": "Unauthorized"}), T0)
    assert e.value.hint is None


# --- keep-alive and timers (a fake clock) ----------------------------------------------------


def test_server_ping_is_answered_with_a_pong():
    s = connected()
    [event] = s.receive(frame("pusher:ping", {}), T0)
    assert event.system and event.event == "pusher:ping"
    assert s.data_to_send() == [PONG_FRAME]


def test_silence_pings_at_the_activity_timeout_then_is_lost_without_a_pong():
    s = session(pong_timeout=30)
    s.receive(established(activity=10), T0)
    s.data_to_send()
    assert s.deadline() == T0 + 10
    s.timer(T0 + 9.9)  # too early: nothing
    assert s.data_to_send() == [] and s.lost is None
    s.timer(T0 + 10)
    assert s.data_to_send() == [PING_FRAME]
    assert s.deadline() == T0 + 40 and s.lost is None
    s.timer(T0 + 39)
    assert s.data_to_send() == [] and s.lost is None
    s.timer(T0 + 40)
    assert s.lost == Lost("no pong within 30s", "now")
    assert s.data_to_send() == []
    # whatever the socket's close says, the session says why it gave up
    assert s.closed(1000, "") == Lost("no pong within 30s", "now")


def test_any_frame_answers_the_ping_and_restarts_the_activity_timer():
    s = session(pong_timeout=30)
    s.receive(established(activity=10), T0)
    s.data_to_send()
    s.timer(T0 + 10)
    assert s.data_to_send() == [PING_FRAME]
    s.receive(frame("pusher:pong", {}), T0 + 11)
    assert s.deadline() == T0 + 21
    s.timer(T0 + 40)  # the old pong deadline: not lost, but silent for 29 s: ping again
    assert s.lost is None and s.data_to_send() == [PING_FRAME]
    for t in (45, 50, 55):  # events every 5 s: never a ping
        s.receive(frame("ev", "x", "c"), T0 + t)
        s.timer(T0 + t + 4.9)
        assert s.data_to_send() == [] and s.lost is None
    assert s.deadline() == T0 + 65


def test_connection_established_is_due_within_the_connect_timeout():
    s = session()
    assert s.deadline() == T0 + CONNECT_TIMEOUT
    s.timer(T0 + CONNECT_TIMEOUT - 0.1)
    assert s.lost is None
    s.timer(T0 + CONNECT_TIMEOUT)
    assert s.lost == Lost(
        f"no pusher:connection_established within {CONNECT_TIMEOUT:g}s", "backoff"
    )
    assert s.data_to_send() == []  # no ping before the connection is established
    s2 = session(connect_timeout=0.5)
    s2.receive(established(activity=10), T0 + 0.4)
    s2.timer(T0 + 0.5)
    assert s2.lost is None and s2.deadline() == T0 + 10.4


# --- close codes and what follows -----------------------------------------------------------


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


def test_closed_says_why_with_the_servers_last_error():
    s = connected()
    assert s.closed(None) == Lost("connection lost (no close frame)", "backoff")
    assert s.closed(4200, "go away") == Lost("connection closed (4200: go away)", "now", 4200)
    s.receive(frame("pusher:error", {"code": 4100, "message": "Over capacity"}), T0)
    assert s.closed(4100, "") == Lost("connection closed (4100: Over capacity)", "backoff", 4100)
    assert s.closed(4201, "") == Lost("connection closed (4201: Over capacity)", "now", 4201)
    assert s.closed(4201, "pong") == Lost("connection closed (4201: pong)", "now", 4201)


def test_backoff_grows_with_jitter_and_is_capped():
    rng = random.Random(7)
    for attempt, ceiling in [(0, 1.0), (1, 2.0), (2, 4.0), (3, 8.0), (5, 30.0), (40, 30.0)]:
        for _ in range(50):
            d = RECONNECT.delay(attempt, rng)
            assert ceiling / 2 <= d <= ceiling
    delays = {round(RECONNECT.delay(3, rng), 6) for _ in range(20)}
    assert len(delays) > 1  # jitter


def test_rest_retry_backoff_is_full_jitter():
    rng = random.Random(3)
    for attempt, ceiling in [(0, 0.2), (1, 0.4), (2, 0.8), (4, 3.2), (5, 5.0), (30, 5.0)]:
        delays = [REST_RETRY.delay(attempt, rng) for _ in range(200)]
        assert all(0 <= d <= ceiling for d in delays)
        assert min(delays) < ceiling / 4  # full jitter: down to (nearly) nothing


class Fixed:
    def random(self) -> float:
        return 1.0  # the ceiling, so delays are exact


def policy(retries=5) -> Reconnect:
    return Reconnect("ws://h", retries=retries, stable_after=STABLE_AFTER, rng=Fixed())


def test_failed_connects_back_off_and_give_up_after_retries():
    p = policy(retries=3)
    assert p.connect_failed("connection refused") == 1.0
    assert p.connect_failed("connection refused") == 2.0
    with pytest.raises(
        UnavailableError, match=r"cannot connect to ws://h: connection refused \(3 attempts\)"
    ):
        p.connect_failed("connection refused")
    assert p.last_failure == "connection refused"


def test_an_immediate_close_is_honoured_once_then_backed_off():
    p = policy(retries=4)
    now = Lost("connection closed (4200)", "now", 4200)
    assert p.ended(now, lasted=0.1) == 0.0  # the first: at once, as asked
    assert p.ended(now, lasted=0.1) == 2.0  # then like failures
    assert p.ended(now, lasted=0.1) == 4.0
    with pytest.raises(
        UnavailableError,
        match=r"keeps closing the connection: .*\(4 attempts in a row ended within 5s\)",
    ):
        p.ended(now, lasted=0.1)


def test_a_connection_that_lasted_starts_over():
    p = policy(retries=2)
    p.connect_failed("timed out")
    assert p.ended(Lost("connection closed (4200)", "now", 4200), lasted=STABLE_AFTER) == 0.0
    assert p.failures == 0
    assert p.ended(Lost("connection lost", "backoff"), lasted=60) == 1.0
    # never established (connect timeout): a failure, backed off
    assert p.ended(Lost("no pusher:connection_established within 15s", "backoff"), None) == 1.0
    with pytest.raises(
        UnavailableError, match="cannot connect to ws://h: no pusher:connection_established"
    ):
        p.ended(Lost("no pusher:connection_established within 15s", "backoff"), None)


def test_fatal_and_tls_closes_end_at_once():
    with pytest.raises(
        RejectedError, match=r"server refused the connection: connection closed \(4001\)"
    ):
        policy().ended(Lost("connection closed (4001)", "fatal", 4001), lasted=100)
    with pytest.raises(RejectedError) as e:
        policy().ended(Lost("connection closed (4000)", "tls", 4000), lasted=None)
    assert e.value.hint == "the server only accepts TLS: use --scheme https"
