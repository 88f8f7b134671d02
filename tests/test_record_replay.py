"""listen --record and batch --replay: record from soketi, replay to ``pushcli serve``, compare.

pushcli runs as subprocesses; events are triggered with the official python ``pusher``
library. The replayed events are recorded a second time by another ``listen --record``.
"""

from __future__ import annotations

import base64
import json
import os
import pty
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pushcli.app import replay
from pushcli.cli import app
from pushcli.errors import ExitCode, RejectedError
from pushcli.protocol.events import Event, parse_batch

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()


def chan(prefix: str = "") -> str:
    return f"{prefix}rec-{uuid.uuid4().hex[:10]}"


def env_for(server, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(server.env())
    env.update(extra)
    return env


def start_listen(tmp_path: Path, server, *args: str, stdout=subprocess.PIPE, **env_extra: str):
    """``pushcli listen ... --ready-file``, returned once every channel is subscribed."""
    ready = tmp_path / f"ready-{uuid.uuid4().hex[:6]}"
    proc = subprocess.Popen(  # noqa: S603 - fixed argv
        [sys.executable, "-m", "pushcli", "listen", *args, "--ready-file", str(ready)],
        stdout=stdout,
        stderr=subprocess.PIPE,
        env=env_for(server, **env_extra),
        cwd=ROOT,
        text=True,
    )
    deadline = time.monotonic() + 10
    while not ready.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"listen not ready (rc {proc.poll()}): {proc.communicate()[1]}")
        time.sleep(0.02)
    return proc


def finish(proc, timeout: float = 10) -> tuple[int, str, str]:
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"listen did not finish: {err}") from None
    return proc.returncode, out, err


def read_ndjson(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def triples(rows: list[dict]) -> list[tuple[str, str, str]]:
    return [(r["channel"], r["name"], r["data"]) for r in rows]


def test_round_trip_soketi_to_embedded(soketi, embedded, tmp_path):
    c1, c2 = chan(), chan()
    rec1, rec2 = tmp_path / "soketi.ndjson", tmp_path / "replayed.ndjson"

    # 1. record 6 events from soketi, triggered by the official library
    first = start_listen(tmp_path, soketi, c1, c2, "--record", str(rec1), "--count", "6", "--json")
    client = soketi.pusher_client()
    client.trigger(c1, "order", {"id": 7, "items": ["a", "b"], "note": "crème brûlée"})
    time.sleep(0.2)
    client.trigger(c2, "plain", "just a string")
    time.sleep(0.2)
    client.trigger(c1, "unicode", '日本語 ✓ 😀 "quoted"')
    time.sleep(0.2)
    client.trigger([c1, c2], "both", {"to": "two channels"})  # one trigger, two events
    client.trigger(c2, "json-text", '{"already": "encoded",  "spaces": true}')
    rc, out, err = finish(first)
    assert rc == 0, err
    recorded = read_ndjson(rec1)
    assert len(recorded) == 6
    assert [r["name"] for r in recorded][:3] == ["order", "plain", "unicode"]
    assert all(set(r) == {"time", "channel", "name", "data"} for r in recorded)
    assert all(isinstance(r["time"], float) for r in recorded)
    # data is the wire string as received: objects as the library encoded them, strings as sent
    assert json.loads(recorded[0]["data"]) == {"id": 7, "items": ["a", "b"], "note": "crème brûlée"}
    assert recorded[1]["data"] == "just a string"
    assert recorded[2]["data"] == '日本語 ✓ 😀 "quoted"'
    assert recorded[5]["data"] == '{"already": "encoded",  "spaces": true}'
    assert len(out.splitlines()) == 6  # the NDJSON output is still there

    # 2. replay to the embedded server at speed 2 while a second listen records
    second = start_listen(
        tmp_path, embedded, c1, c2, "--record", str(rec2), "--count", "6", "--json"
    )
    r = subprocess.run(  # noqa: S603 - fixed argv
        [sys.executable, "-m", "pushcli", "batch", str(rec1), "--replay", "--speed", "2"],
        capture_output=True,
        text=True,
        env=env_for(embedded),
        cwd=ROOT,
        timeout=20,
    )
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    assert summary["sent"] == 6 and summary["failed"] == 0
    assert summary["requests"] <= 5  # the two "both" events are due together: one request
    rc, _, err = finish(second)
    assert rc == 0, err
    replayed = read_ndjson(rec2)

    # 3. the same events, in the same order, with identical data strings
    assert triples(replayed) == triples(recorded)
    # spacing kept, scaled by 1/2: events 0.2 s apart arrive >= 0.08 s apart
    for i in (0, 1):
        original = recorded[i + 1]["time"] - recorded[i]["time"]
        assert original >= 0.19
        assert replayed[i + 1]["time"] - replayed[i]["time"] >= 0.08
    span = recorded[-1]["time"] - recorded[0]["time"]
    assert replayed[-1]["time"] - replayed[0]["time"] < 0.9 * span  # faster than speed 1


def test_record_in_live_view_and_encrypted_plain_text(embedded, soketi, tmp_path):
    """On a terminal (live view) too; encrypted events are recorded decrypted and batch
    encrypts them again when replaying."""
    c = chan("private-encrypted-")
    key = base64.b64encode(os.urandom(32)).decode()
    rec1, rec2 = tmp_path / "live.ndjson", tmp_path / "again.ndjson"
    master, slave = pty.openpty()
    live = start_listen(
        tmp_path,
        embedded,
        c,
        "--record",
        str(rec1),
        "--count",
        "2",
        stdout=slave,
        PUSHER_ENCRYPTION_MASTER_KEY_BASE64=key,
    )
    os.close(slave)
    screen: list[bytes] = []

    def drain() -> None:
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                return
            if not chunk:
                return
            screen.append(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    client = embedded.pusher_client(encryption_master_key_base64=key)
    client.trigger(c, "secret", {"card": "4242"})
    client.trigger(c, "note", "plain ✓")
    rc, _, err = finish(live)
    reader.join(5)
    os.close(master)
    assert rc == 0, err
    assert b"secret" in b"".join(screen)  # the live view was drawn
    recorded = read_ndjson(rec1)
    assert [(r["name"], r["data"]) for r in recorded] == [
        ("secret", '{"card": "4242"}'),  # as the library encoded it before encrypting
        ("note", "plain ✓"),
    ]

    again = start_listen(
        tmp_path,
        soketi,
        c,
        "--record",
        str(rec2),
        "--count",
        "2",
        "--json",
        PUSHER_ENCRYPTION_MASTER_KEY_BASE64=key,
    )
    r = subprocess.run(  # noqa: S603 - fixed argv
        [sys.executable, "-m", "pushcli", "batch", str(rec1), "--replay", "--speed", "0"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=20,
        env=env_for(soketi, PUSHER_ENCRYPTION_MASTER_KEY_BASE64=key),
    )
    assert r.returncode == 0, r.stderr
    rc, out, err = finish(again)
    assert rc == 0, err
    assert triples(read_ndjson(rec2)) == triples(recorded)


# --- batch options (no server) --------------------------------------------------------------

LOCAL = {
    "PUSHER_APP_ID": "123456",
    "PUSHER_APP_KEY": "k",
    "PUSHER_APP_SECRET": "s",
    "PUSHER_HOST": "127.0.0.1",
    "PUSHER_PORT": "9",
    "PUSHER_SCHEME": "http",
}


def test_batch_reads_a_recording_and_checks_replay_options(tmp_path):
    rec = tmp_path / "rec.ndjson"
    rec.write_text(
        '{"time":1700000000.5,"channel":"a","name":"x","data":"{\\"n\\":1}"}\n'
        '{"time":1700000001.0,"channel":"b","name":"y","data":"text"}\n',
        encoding="utf-8",
    )
    r = runner.invoke(app, ["batch", str(rec), "--dry-run"], env=LOCAL)  # time is accepted
    assert r.exit_code == 0, r.stderr
    assert '"data":"{\\"n\\":1}"' in r.stdout and "time" not in r.stdout.split("?")[0]
    r = runner.invoke(app, ["batch", str(rec), "--replay", "--dry-run"], env=LOCAL)
    assert r.exit_code == 0, r.stderr
    r = runner.invoke(app, ["batch", str(rec), "--speed", "2"], env=LOCAL)
    assert r.exit_code == ExitCode.INPUT and "--speed needs --replay" in r.stderr
    rec.write_text('{"channel":"a","name":"x"}\n{"time":"noon","channel":"a","name":"x"}\n')
    r = runner.invoke(app, ["batch", str(rec), "--dry-run"], env=LOCAL)
    assert r.exit_code == ExitCode.INPUT  # a time that is not a number is invalid input anywhere
    assert 'line 2: "time" must be a number' in r.stderr
    rec.write_text('{"channel":"a","name":"x"}\n{"time":1.5,"channel":"a","name":"x"}\n')
    r = runner.invoke(app, ["batch", str(rec), "--replay", "--dry-run"], env=LOCAL)
    assert r.exit_code == ExitCode.INPUT  # --replay needs a time on every event
    assert "line 1" in r.stderr and "line 2" not in r.stderr and '"time"' in r.stderr


class FakeClient:
    """Records each request body with the fake clock's time; fails as told."""

    def __init__(self, clock, fail_at: int | None = None) -> None:
        self.clock = clock
        self.requests_sent = 0
        self.sent: list[tuple[float, list[str]]] = []
        self.fail_at = fail_at

    def call(self, method, path, *, body=None):
        self.requests_sent += 1
        if self.fail_at is not None and self.requests_sent >= self.fail_at:
            raise RejectedError("nope", status=401)
        names = [e["name"] for e in json.loads(body)["batch"]]
        self.sent.append((round(self.clock.now, 6), names))
        return {}


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def events_at(*times: float) -> list[Event]:
    return [Event("c", f"e{i}", "{}", origin=f"line {i + 1}", time=t) for i, t in enumerate(times)]


def test_replay_schedule_groups_and_speed():
    clock = FakeClock()
    client = FakeClient(clock)
    evs = events_at(10.0, 10.0, 10.001, 11.0, *([14.0] * 12))
    result = replay.send(client, evs, speed=2, clock=clock, sleep=clock.sleep)
    assert result.sent == 16 and not result.failed
    assert client.sent == [
        (100.0, ["e0", "e1", "e2"]),  # due at the same moment (within 2 ms)
        (100.5, ["e3"]),  # 1 s later in the recording, at speed 2
        (102.0, [f"e{i}" for i in range(4, 14)]),  # 12 due together: 10 + 2
        (102.0, ["e14", "e15"]),
    ]
    assert result.requests == 4 and result.seconds == 2.0


def test_replay_orders_by_time_and_stops_on_fatal_errors():
    clock = FakeClock()
    client = FakeClient(clock, fail_at=2)
    evs = events_at(5.0, 1.0, 3.0)
    result = replay.send(client, evs, speed=1, clock=clock, sleep=clock.sleep)
    assert client.sent == [(100.0, ["e1"])]
    assert result.sent == 1 and [e.name for e in result.failed] == ["e2", "e0"]
    assert result.fatal is not None and result.fatal.status == 401


def test_recording_lines_parse_as_a_batch():
    from pushcli.app.record import record_line
    from pushcli.app.tail import Row

    row = Row(1700000000.123456, "ch", "ev", data='{"a": 1}')
    line = record_line(row)
    assert json.loads(line) == {
        "time": 1700000000.123456,
        "channel": "ch",
        "name": "ev",
        "data": '{"a": 1}',
    }
    [ev] = parse_batch(line, max_data_bytes=10_000)
    assert (ev.channel, ev.name, ev.data, ev.time) == ("ch", "ev", '{"a": 1}', 1700000000.123456)


@pytest.mark.parametrize("speed", [-1.0])
def test_negative_speed_is_refused(speed):
    with pytest.raises(Exception, match="--speed"):
        replay.schedule(events_at(1.0), speed)
