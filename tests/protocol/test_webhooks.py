"""pushcli.protocol.webhooks: the body and signature Pusher's receivers check, pure.

The other party is the official ``pusher`` Python library: its ``validate_webhook`` accepts what
we build, and the signatures below are what its signing gives for these exact bytes.
"""

from __future__ import annotations

import json
import time

import pusher
import pusher.signature
import pytest

from pushcli.errors import InputError
from pushcli.protocol import webhooks

KEY, SECRET = "278d425bdf160c739803", "7ad3773142a6692b25b8"  # the published test vectors' app
TIME_MS = 1327078148132

OCCUPIED = [{"name": "channel_occupied", "channel": "test_channel"}]
CLIENT_EVENT = [
    {
        "name": "client_event",
        "channel": "private-room",
        "event": "client-typing",
        "data": '{"text":"é ✓"}',
        "socket_id": "123.456",
    }
]
#: (events, the exact body, its X-Pusher-Signature as the official library computes it)
VECTORS = [
    (
        OCCUPIED,
        b'{"time_ms":1327078148132,"events":[{"name":"channel_occupied","channel":"test_channel"}]}',
        "709fdb84c03664445f7698120b0edf0acc1ab1c8c6e93a0368c61841d6b998aa",
    ),
    (
        CLIENT_EVENT,
        (
            '{"time_ms":1327078148132,"events":[{"name":"client_event","channel":"private-room",'
            '"event":"client-typing","data":"{\\"text\\":\\"é ✓\\"}","socket_id":"123.456"}]}'
        ).encode(),
        "43d736caf8964406a76c728643439c08234063986cfb9f1a754553271b903cf5",
    ),
]


@pytest.mark.parametrize(("events", "body", "signature"), VECTORS)
def test_body_and_signature_vectors(events: list[dict], body: bytes, signature: str) -> None:
    assert webhooks.body(events, TIME_MS) == body  # compact, UTF-8 as is (no \\u escapes)
    assert pusher.signature.sign(SECRET, body.decode()) == signature
    assert webhooks.signature(SECRET, body) == signature
    assert webhooks.headers(KEY, SECRET, body, user_agent="t") == {
        "Content-Type": "application/json",
        "X-Pusher-Key": KEY,
        "X-Pusher-Signature": signature,
        "User-Agent": "t",
    }


@pytest.mark.parametrize("events", [OCCUPIED, CLIENT_EVENT])
def test_the_official_library_validates_what_is_built(events: list[dict]) -> None:
    body = webhooks.body(events, int(time.time() * 1000))  # it refuses a body 5 minutes old
    headers = webhooks.headers(KEY, SECRET, body, user_agent="pushcli-test")
    client = pusher.Pusher(app_id="3", key=KEY, secret=SECRET)
    got = client.validate_webhook(
        headers["X-Pusher-Key"], headers["X-Pusher-Signature"], body.decode()
    )
    assert got == json.loads(body)
    forged = webhooks.headers(KEY, SECRET + "-forged", body, user_agent="pushcli-test")
    assert client.validate_webhook(KEY, forged["X-Pusher-Signature"], body.decode()) is None


def test_verify_checks_the_raw_bytes() -> None:
    _, body, _ = VECTORS[1]
    theirs = pusher.signature.sign(SECRET, body.decode())
    assert webhooks.verify(SECRET, body, theirs)
    assert webhooks.verify(SECRET, body, f" {theirs.upper()}\n")  # as a header may carry it
    reserialised = json.dumps(json.loads(body)).encode()  # spaces and \\u escapes
    assert not webhooks.verify(SECRET, reserialised, theirs)
    assert not webhooks.verify(SECRET, body + b"\n", theirs)
    assert not webhooks.verify(SECRET, body.replace(b"typing", b"typinG"), theirs)
    assert not webhooks.verify(SECRET + "x", body, theirs)
    assert not webhooks.verify(SECRET, body, "")
    assert not webhooks.verify(SECRET, body, "not hex ✗")


@pytest.mark.parametrize(
    ("name", "kwargs", "expected"),
    [
        ("channel_occupied", {}, {"name": "channel_occupied", "channel": "demo"}),
        (
            "member_added",
            {},
            {"name": "member_added", "channel": "presence-demo", "user_id": "user-1"},
        ),
        (
            "subscription_count",
            {"channel": "c"},
            {"name": "subscription_count", "channel": "c", "subscription_count": 1},
        ),
    ],
)
def test_sample_events(name: str, kwargs: dict, expected: dict) -> None:
    assert webhooks.sample_event(name, **kwargs) == expected


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("no_such_event", {}),
        ("member_added", {"channel": "public"}),
        ("client_event", {"channel": "public"}),
        ("channel_vacated", {"user_id": "u"}),
        ("channel_vacated", {"data": "{}"}),
    ],
)
def test_sample_events_refused(name: str, kwargs: dict) -> None:
    with pytest.raises(InputError):
        webhooks.sample_event(name, **kwargs)
