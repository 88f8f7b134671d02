"""The batch plan and schedule (pure): which requests go, in which order, and which may be in
flight together; the options' meaning; the shared backoff with a fake clock."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from pushcli.app.batch import DEFAULT_CONCURRENCY, Options, Schedule, plan
from pushcli.client.rest import RejectedError, ServerError, SharedBackoff, slows_everyone
from pushcli.protocol.events import Event


def events(channels: int, per_channel: int, *, interleaved: bool = True) -> list[Event]:
    pairs = (
        [(i % channels, i) for i in range(channels * per_channel)]
        if interleaved
        else [(c, c * per_channel + j) for c in range(channels) for j in range(per_channel)]
    )
    return [Event(f"c{c}", "e", str(i), origin=f"line {i + 1}") for c, i in pairs]


def channels_of(evs: list[Event], request: list[int]) -> set[str]:
    return {evs[i].channel for i in request}


def test_one_sender_or_unordered_sends_the_file_in_order() -> None:
    evs = events(50, 3)
    for kwargs in ({"senders": 1}, {"ordered": False, "senders": 32}):
        requests = plan(evs, **kwargs)  # type: ignore[arg-type]
        assert [i for r in requests for i in r] == list(range(150))
        assert [len(r) for r in requests] == [10] * 15


def test_ordered_requests_are_channel_runs_with_the_tails_packed() -> None:
    evs = events(50, 63)  # 6 full runs per channel and a tail of 3
    requests = plan(evs, senders=32)
    assert sorted(i for r in requests for i in r) == list(range(len(evs)))  # each event once
    assert all(len(r) <= 10 for r in requests)
    single = [r for r in requests if len(channels_of(evs, r)) == 1]
    assert len(single) == 300 and all(len(r) == 10 for r in single)
    assert len(requests) == 300 + 17  # 50 tails of 3, three to a request
    for r in requests:  # within a request, each channel's events in file order
        for c in channels_of(evs, r):
            mine = [i for i in r if evs[i].channel == c]
            assert mine == sorted(mine)
    # each channel's requests, in the order they are started, carry its events in file order
    for c in range(50):
        mine = [i for r in requests for i in r if evs[i].channel == f"c{c}"]
        assert mine == sorted(mine)
    assert [r[0] for r in requests] == sorted(r[0] for r in requests)


def test_many_small_channels_share_requests() -> None:
    evs = events(1000, 1)
    requests = plan(evs, senders=32)
    assert len(requests) == 100 and all(len(channels_of(evs, r)) == 10 for r in requests)


def test_a_channel_has_one_request_in_flight() -> None:
    evs = events(3, 30, interleaved=False)
    requests = plan(evs, senders=16)
    s = Schedule(evs, requests, ordered=True)
    first = [s.take(), s.take(), s.take()]
    assert s.take() is None and not s.exhausted  # each channel's next waits
    assert sorted(channels_of(evs, requests[r]).pop() for r in first if r is not None) == [
        "c0",
        "c1",
        "c2",
    ]
    assert first[1] is not None
    s.done(first[1])  # c1's first is over (confirmed or failed): its second may go
    nxt = s.take()
    assert nxt is not None and channels_of(evs, requests[nxt]) == {"c1"}
    assert s.take() is None
    s.stop()
    assert s.exhausted and not s.finished and s.in_flight == 3
    assert len(s.undispatched()) == 9 - 4


def test_unordered_hands_out_everything() -> None:
    evs = events(1, 50)
    requests = plan(evs, ordered=False, senders=16)
    s = Schedule(evs, requests, ordered=False)
    taken = [s.take() for _ in range(5)]
    assert taken == [0, 1, 2, 3, 4] and s.take() is None and s.exhausted
    for r in taken:
        assert r is not None
        s.done(r)
    assert s.finished


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ({}, (DEFAULT_CONCURRENCY, 1, True)),
        ({"parallel": 4}, (4, 4, True)),  # what --parallel always meant: one in flight each
        ({"parallel": 1}, (1, 1, True)),
        ({"parallel": 2, "concurrency": 16}, (16, 2, True)),
        ({"parallel": 4, "concurrency": 2}, (4, 4, True)),  # at least one per process
        ({"concurrency": 8, "unordered": True}, (8, 1, False)),
    ],
)
def test_options(flags: dict[str, int], expected: tuple[int, int, bool]) -> None:
    o = Options.of(**flags)  # type: ignore[arg-type]
    assert (o.concurrency, o.processes, o.ordered) == expected


def test_shared_backoff_holds_every_sender() -> None:
    now = [100.0]
    slept: list[float] = []

    def sleep(s: float) -> None:
        slept.append(round(s, 3))
        now[0] += s

    gate = SharedBackoff(clock=lambda: now[0], sleep=sleep)
    gate.wait()
    assert slept == []
    gate.hold(1.0)
    gate.hold(0.2)  # a shorter hold does not shorten it
    gate.wait()
    assert slept == [1.0]
    gate.wait()
    assert slept == [1.0]
    assert slows_everyone(RejectedError("x", status=429))
    assert slows_everyone(ServerError("x", 503))
    assert not slows_everyone(ServerError("x", 500))
    assert not slows_everyone(RejectedError("x", status=400))


def test_plan_keeps_every_event_whatever_the_mix() -> None:
    evs = [Event(f"c{(i * 7) % 13 if i % 5 else 0}", "e", str(i)) for i in range(777)]
    for senders in (1, 2, 32):
        requests = plan(evs, senders=senders)
        assert Counter(i for r in requests for i in r) == Counter(range(777))


# --------------------------------------------------------------------------- the command


@pytest.fixture
def creds(monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in {
        "PUSHER_APP_ID": "123",
        "PUSHER_APP_KEY": "key",
        "PUSHER_APP_SECRET": "secret-for-dry-runs",
        "PUSHER_HOST": "127.0.0.1",
        "PUSHER_PORT": "9",
    }.items():
        monkeypatch.setenv(k, v)


def dry_run(path: Path, *args: str) -> list[list[str]]:
    from typer.testing import CliRunner

    from pushcli.cli import app

    r = CliRunner().invoke(app, ["batch", str(path), "--dry-run", *args])
    assert r.exit_code == 0, r.stderr
    bodies = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
    return [[e["channel"] for e in b["batch"]] for b in bodies]


def test_dry_run_shows_the_requests_as_planned(creds: None, tmp_path: Path) -> None:
    src = tmp_path / "e.ndjson"
    src.write_text(
        "".join(
            json.dumps({"channel": "abc"[i % 3], "name": "e", "data": i}) + "\n" for i in range(36)
        )
    )
    assert dry_run(src) == [["a"] * 10, ["b"] * 10, ["c"] * 10, ["a", "a", "b", "b", "c", "c"]]
    file_order = [list("abc" * 4)[:10], list("bca" * 4)[:10], list("cab" * 4)[:10], list("abcabc")]
    assert dry_run(src, "--concurrency", "1") == file_order
    assert dry_run(src, "--unordered") == file_order


def test_replay_takes_neither_concurrency_nor_unordered(creds: None, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from pushcli.cli import app

    src = tmp_path / "e.ndjson"
    src.write_text(json.dumps({"channel": "a", "name": "e", "time": 1.0}) + "\n")
    for extra in (["--concurrency", "4"], ["--unordered"]):
        r = CliRunner().invoke(app, ["batch", str(src), "--replay", *extra])
        assert r.exit_code == 4
        assert "--replay sends in time order over one connection" in r.stderr
