"""The protocol-7 codec (pushcli.protocol.frames): pure, no sockets."""

from __future__ import annotations

import json

import pytest

from pushcli import __version__
from pushcli.protocol import frames
from pushcli.protocol.frames import Frame, FrameError


def test_encode_is_compact_with_channel_and_data_only_when_given():
    assert frames.encode("pusher:ping", {}) == '{"event":"pusher:ping","data":{}}'
    assert frames.encode("e", "x", "c") == '{"event":"e","channel":"c","data":"x"}'
    assert frames.encode("pusher:cache_miss", channel="c") == (
        '{"event":"pusher:cache_miss","channel":"c"}'
    )
    # None is a value (a client event's data may be JSON null); NO_DATA leaves data out
    assert frames.encode("client-x", None, "c") == '{"event":"client-x","channel":"c","data":null}'
    assert frames.encode("client-x", {"é": 1}, "c", user_id="u") == (
        '{"event":"client-x","channel":"c","data":{"é":1},"user_id":"u"}'
    )


@pytest.mark.parametrize(
    ("data", "wire"),
    [(None, None), ("as is", "as is"), ('{"a": 1}', '{"a": 1}'), ({"a": [1, 2]}, '{"a":[1,2]}')],
)
def test_wire_string_keeps_strings_and_encodes_the_rest(data, wire):
    assert frames.wire_string(data) == wire


@pytest.mark.parametrize(
    ("data", "value"),
    [
        ('{"a": 1}', {"a": 1}),
        ("42", 42),
        ('"s"', "s"),
        ("plain", "plain"),
        ("{not json", "{not json"),
        ({"already": "decoded"}, {"already": "decoded"}),
        (None, None),
        ("[" * 100_000, "[" * 100_000),  # too deep for the parser: not JSON, kept as it is
    ],
)
def test_decode_json_decodes_json_inside_a_string(data, value):
    assert frames.decode_json(data) == value


@pytest.mark.parametrize(
    "text",
    [
        '{"a":1}',
        ' {"a": 1} ',
        '{"a":1}\n',
        "\ufeff{}",
        "",
        "   ",
        "[1, 2] x",
        '{"a": NaN}',
        "1e999",
        '"\\ud800"',
        "{'a': 1}",
        b'{"b": 2}',
    ],
)
def test_loads_means_what_json_loads_means(text):
    try:
        expected = json.loads(text)
    except ValueError as e:
        with pytest.raises(ValueError) as got:
            frames.loads(text)
        assert type(got.value) is type(e)
    else:
        value = frames.loads(text)
        assert value == expected or (value != value and expected != expected)  # NaN


def test_decode_a_server_frame():
    text = json.dumps(
        {"event": "ev", "channel": "presence-r", "data": '{"x":1}', "user_id": 7}, indent=1
    )
    f = frames.decode(text)
    assert f == Frame("ev", "presence-r", '{"x":1}', "7")
    assert frames.decode('{"event":"pusher:ping"}') == Frame("pusher:ping", None, None, None)
    assert frames.decode(b'{"event":"e","data":{"a":1}}').data == {"a": 1}
    # a channel that is not a string is no channel
    assert frames.decode('{"event":"e","channel":5}').channel is None


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("not json", "not JSON"),
        ("[" * 100_000, "JSON nested too deeply"),
        ("[1]", frames.NOT_A_MESSAGE),
        ('{"data": {}}', frames.NOT_A_MESSAGE),
        ('{"event": 5}', frames.NOT_A_MESSAGE),
    ],
)
def test_decode_refuses_what_is_not_a_message(text, why):
    with pytest.raises(FrameError) as e:
        frames.decode(text)
    assert str(e.value) == why


def test_round_trip():
    text = frames.encode("client-typing", {"user": "ada"}, "private-chat")
    assert frames.decode(text) == Frame("client-typing", "private-chat", {"user": "ada"}, None)


def test_system_events_and_url():
    assert frames.is_system(frames.SUBSCRIPTION_SUCCEEDED) and frames.is_system(frames.PING)
    assert not frames.is_system("client-x") and not frames.is_system("pusher-ish")
    assert frames.ws_url("wss://ws-eu.pusher.com", "k", version=__version__) == (
        f"wss://ws-eu.pusher.com/app/k?protocol=7&client=pushcli&version={__version__}"
    )
    assert frames.ws_url("ws://127.0.0.1:6001", "k", version="1", client="pushcli-doctor") == (
        "ws://127.0.0.1:6001/app/k?protocol=7&client=pushcli-doctor&version=1"
    )
