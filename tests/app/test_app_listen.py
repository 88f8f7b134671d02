"""app/listen.py against a real server: listen and client-event return what happened."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from servers import subscriber_thread

from pushcli.app import listen
from pushcli.client.profiles import Settings, resolve
from pushcli.errors import InputError


def settings_for(server) -> Settings:  # type: ignore[no-untyped-def]
    return resolve(flags={}, env=server.env(), config_file="/nonexistent/pushcli.toml", hint=False)


class Collect:
    """A sink that keeps what the tail reports."""

    def __init__(self) -> None:
        self.rows: list[Any] = []
        self.statuses: list[str] = []

    def row(self, row: Any) -> None:
        self.rows.append(row)

    def status(self, text: str, item: Any = None) -> None:
        self.statuses.append(text)

    def problem(self, text: str) -> None:
        self.statuses.append(text)

    def observe(self, item: Any) -> None:
        pass


def test_listen_with_demo_records_and_stops_at_count(pusher_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    sink = Collect()
    opened: list[tuple[str, list[str]]] = []

    @contextlib.contextmanager
    def open_sink(server: str, channels: list[str]) -> Iterator[Collect]:
        opened.append((server, channels))
        yield sink

    record = tmp_path / "rec.ndjson"
    result = listen.listen(
        settings_for(pusher_server),
        ["app-listen-demo"],
        open_sink=open_sink,
        count=1,
        timeout=10,
        demo=True,
        record=record,
    )
    assert isinstance(result, listen.ListenResult)
    assert result.channels == ["app-listen-demo"] and result.recorded == 1
    assert opened == [(f"ws://{pusher_server.host}:{pusher_server.port}", ["app-listen-demo"])]
    [row] = [r for r in sink.rows if r.kind == "event"]
    assert (row.channel, row.event) == ("app-listen-demo", "demo")
    [line] = record.read_text().splitlines()
    assert json.loads(line)["name"] == "demo"


def test_client_event_reaches_another_subscriber(pusher_server) -> None:  # type: ignore[no-untyped-def]
    channel = "private-app-client-event"
    with subscriber_thread(pusher_server.ws_url, [channel], pusher_server.auth_fn()) as sub:
        result = listen.client_event(
            settings_for(pusher_server),
            channel,
            "client-hello",
            '{"n": 1}',
            sink=Collect(),
            wait=0.2,
        )
        [got] = sub.wait_for(1)
    assert isinstance(result, listen.ClientEventResult)
    assert result.socket_id and (result.channel, result.event) == (channel, "client-hello")
    assert got["event"] == "client-hello" and got["data"] == {"n": 1}


def test_client_event_checks_names_before_reading_data_or_settings() -> None:
    def never() -> Any:
        raise AssertionError("read too early")

    with pytest.raises(InputError, match="public: client events need"):
        listen.client_event(never, "public-x", "client-a", never, sink=Collect())
    with pytest.raises(InputError, match="must start with client-"):
        listen.client_event(never, "private-x", "hello", never, sink=Collect())
