"""Parsing and validating DATA arguments and batch files (pure)."""

from __future__ import annotations

import json

import pytest

from pushcli.errors import InputError
from pushcli.protocol import channels, events, limits

MAX = limits.SELF_HOSTED_MAX_DATA_BYTES


@pytest.mark.parametrize(
    ("text", "raw", "wire"),
    [
        ('{"a": 1}', False, '{"a": 1}'),
        ("  [1,2] \n", False, "[1,2]"),
        ("hello world", False, "hello world"),
        ("42", False, "42"),
        ('{"a":', True, '{"a":'),
        ("", False, ""),
    ],
)
def test_data_from_text(text: str, raw: bool, wire: str) -> None:
    assert events.data_from_text(text, raw=raw) == wire


@pytest.mark.parametrize("text", ['{"a":', "[1,", '"unterminated'])
def test_data_that_looks_like_json_must_parse(text: str) -> None:
    with pytest.raises(InputError, match="--raw"):
        events.data_from_text(text)


def test_wire_data_encodes_objects_once_and_keeps_strings() -> None:
    assert events.wire_data({"a": [1, "é"]}) == '{"a":[1,"é"]}'
    assert events.wire_data('{"already":"json"}') == '{"already":"json"}'
    assert events.wire_data("plain") == "plain"


def _ev(**kw: object) -> dict:
    return {"channel": "c", "name": "e", "data": {"i": 1}, **kw}


def test_json_array_ndjson_and_batch_object_are_equivalent() -> None:
    items = [_ev(), _ev(channel="d", data="s")]
    as_array = events.parse_batch(json.dumps(items), max_data_bytes=MAX)
    as_object = events.parse_batch(json.dumps({"batch": items}), max_data_bytes=MAX)
    as_ndjson = events.parse_batch(
        "\n".join(json.dumps(i) for i in items) + "\n", max_data_bytes=MAX
    )
    for parsed in (as_object, as_ndjson):
        assert [(e.channel, e.name, e.data) for e in parsed] == [
            (e.channel, e.name, e.data) for e in as_array
        ]
    assert [(e.channel, e.data) for e in as_array] == [("c", '{"i":1}'), ("d", "s")]


def test_multi_channel_events_expand_and_event_alias() -> None:
    evs = events.parse_batch(
        json.dumps([{"channels": ["a", "b", "c"], "event": "x", "socket_id": "1.2"}]),
        max_data_bytes=MAX,
    )
    assert [(e.channel, e.name, e.data, e.socket_id) for e in evs] == [
        ("a", "x", "{}", "1.2"),
        ("b", "x", "{}", "1.2"),
        ("c", "x", "{}", "1.2"),
    ]


def test_every_invalid_event_is_reported_with_its_position() -> None:
    items = [
        _ev(),
        _ev(channel="bad channel"),
        {"channel": "c"},
        _ev(name="x" * 201),
        _ev(socket_id="nope"),
        _ev(data="x" * (MAX + 1)),
        _ev(extra=1),
        "not an object",
        _ev(channels=["private-encrypted-a", "b"]),
    ]
    with pytest.raises(InputError) as e:
        events.parse_batch(json.dumps(items), max_data_bytes=MAX)
    msg = e.value.message
    assert msg.startswith("8 invalid events")
    for i in range(1, 9):
        assert f"event {i}:" in msg
    assert "event 0:" not in msg


def test_ndjson_errors_name_line_numbers() -> None:
    text = json.dumps(_ev()) + "\n\n{broken\n" + json.dumps(_ev(channel="a b")) + "\n"
    with pytest.raises(InputError, match=r"line 3: invalid JSON"):
        events.parse_batch(text, max_data_bytes=MAX)
    text = json.dumps(_ev()) + "\n\n" + json.dumps(_ev(channel="a b")) + "\n"
    with pytest.raises(InputError, match=r"line 3: invalid channel name"):
        events.parse_batch(text, max_data_bytes=MAX)


@pytest.mark.parametrize("text", ["", "   \n", "[]", '{"batch": []}', "[1,"])
def test_empty_or_broken_input(text: str) -> None:
    with pytest.raises(InputError):
        events.parse_batch(text, max_data_bytes=MAX)


def test_data_size_counts_utf8_bytes() -> None:
    assert limits.check_data_size("é" * 5, 10) == 10
    with pytest.raises(InputError):
        limits.check_data_size("é" * 6, 10)


@pytest.mark.parametrize(
    "channels",
    [
        [],
        ["a"] * 2,
        [f"c{i}" for i in range(101)],
        ["a", "private-encrypted-b"],
        ["#server-to-user-1"],
    ],
)
def test_channel_list_limits(channels: list[str]) -> None:
    with pytest.raises(InputError):
        limits.check_channels(channels)


def test_channel_names() -> None:
    assert channels.check_channel("-a_b=c@d,e.f;g") == "-a_b=c@d,e.f;g"
    assert channels.check_channel("#server-to-user-42", allow_server_to_user=True)
    for bad in ["", "a b", "a#b", "x" * 201, "ü"]:
        with pytest.raises(InputError):
            channels.check_channel(bad)
    assert channels.kind_of("private-encrypted-cache-x") is channels.ChannelKind.ENCRYPTED
    assert channels.kind_of("presence-cache-x") is channels.ChannelKind.PRESENCE
    assert channels.is_cache("private-cache-x") and not channels.is_cache("private-x")


def test_failed_event_line_keeps_plain_data() -> None:
    ev = events.Event("private-encrypted-x", "e", '{"nonce":"n","ciphertext":"c"}', plain='{"a":1}')
    assert json.loads(events.event_to_ndjson(ev)) == {
        "channel": "private-encrypted-x",
        "name": "e",
        "data": '{"a":1}',
    }
