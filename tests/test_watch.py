"""``pushcli channels --watch`` and ``pushcli members CHANNEL --watch``.

Against real servers on loopback (soketi and ``pushcli serve``, through ``pusher_server``), with
pusher-js clients (tests/js/channel_party.js) as the ones joining and leaving; faults (429 with
Retry-After, 5xx) come from tests/faultproxy.py in front of the server. pushcli runs as a
subprocess: NDJSON in a pipe, the live view under a pseudo-terminal. The pure parts (the tracker
and the poll loop's timing) are driven with a fake clock.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from faultproxy import Fault, FaultProxy

from pushcli.app.watch import ChannelsTracker, poll_loop
from pushcli.errors import RejectedError, UnavailableError

ROOT = Path(__file__).resolve().parent.parent
PARTY_JS = ROOT / "tests" / "js" / "channel_party.js"
ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[()][0-9A-B]|\r")


def name(prefix: str = "") -> str:
    return f"{prefix}w-{uuid.uuid4().hex[:8]}"


def env_for(server: Any, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(server.env())
    env.update(extra)
    return env


class Lines:
    """A subprocess whose stdout JSON lines and stderr lines are collected by threads."""

    def __init__(self, argv: list[str], env: dict[str, str], **popen: Any) -> None:
        self.p = subprocess.Popen(  # noqa: S603 - fixed argv
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd=ROOT,
            text=True,
            **popen,
        )
        self.lines: list[dict[str, Any]] = []
        self.err: list[str] = []
        self._cond = threading.Condition()
        self._threads = [
            threading.Thread(target=self._pump, args=(self.p.stdout, True), daemon=True),
            threading.Thread(target=self._pump, args=(self.p.stderr, False), daemon=True),
        ]
        for t in self._threads:
            t.start()

    def _pump(self, stream: Any, is_stdout: bool) -> None:
        for line in stream:
            with self._cond:
                if is_stdout:
                    self.lines.append(json.loads(line))
                else:
                    self.err.append(line.rstrip("\n"))
                self._cond.notify_all()

    @property
    def stderr(self) -> str:
        with self._cond:
            return "\n".join(self.err)

    def wait_for(self, pred: Any, timeout: float = 8.0, what: str = "a line") -> dict[str, Any]:
        """The first stdout line matching ``pred``."""
        with self._cond:

            def found() -> dict[str, Any] | None:
                return next((x for x in self.lines if pred(x)), None)

            ok = self._cond.wait_for(
                lambda: found() is not None or self.p.poll() is not None, timeout
            )
            hit = found()
            if hit is None:
                state = "exited " + str(self.p.poll()) if ok else "timed out"
                raise AssertionError(
                    f"{state} waiting for {what}; lines: {self.lines[-8:]}\nstderr:\n"
                    + "\n".join(self.err)
                )
            return hit

    def wait_err(self, pattern: str, timeout: float = 8.0) -> None:
        with self._cond:
            if not self._cond.wait_for(
                lambda: any(re.search(pattern, e) for e in self.err), timeout
            ):
                raise AssertionError(
                    f"no stderr line matching {pattern!r}:\n" + "\n".join(self.err)
                )

    def stop(self, sig: int = signal.SIGINT, timeout: float = 10.0) -> int:
        if self.p.poll() is None:
            self.p.send_signal(sig)
        try:
            rc = self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
            raise AssertionError(f"did not exit on {sig}; stderr:\n{self.stderr}") from None
        for t in self._threads:
            t.join(5)
        return rc


def pushcli(*args: str, env: dict[str, str]) -> Lines:
    return Lines([sys.executable, "-m", "pushcli", *args], env)


class Party(Lines):
    """pusher-js clients that join and leave on command (tests/js/channel_party.js)."""

    def __init__(self, server: Any) -> None:
        cfg = {
            "host": server.host,
            "port": server.port,
            "appId": server.app_id,
            "key": server.key,
            "secret": server.secret,
        }
        super().__init__(
            ["node", str(PARTY_JS), json.dumps(cfg)], dict(os.environ), stdin=subprocess.PIPE
        )

    def send(self, **command: Any) -> None:
        assert self.p.stdin is not None
        self.p.stdin.write(json.dumps(command) + "\n")
        self.p.stdin.flush()

    def join(self, client: str, channel: str, **member: Any) -> dict[str, Any]:
        self.send(client=client, join=channel, **member)
        return self.wait_for(
            lambda x: (
                x.get("type") == "joined" and x["client"] == client and x["channel"] == channel
            ),
            what=f"{client} joined {channel}",
        )

    def leave(self, client: str, channel: str) -> None:
        self.send(client=client, leave=channel)

    def close(self) -> None:
        if self.p.poll() is None:
            assert self.p.stdin is not None
            self.p.stdin.close()
            try:
                self.p.wait(5)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()


@pytest.fixture
def party(pusher_server: Any):  # type: ignore[no-untyped-def]
    parties: list[Party] = []

    def start(server: Any = None) -> Party:
        p = Party(server or pusher_server)
        parties.append(p)
        return p

    yield start
    for p in parties:
        p.close()


def change(lines: Lines, type_: str, channel: str, **counts: int) -> dict[str, Any]:
    def pred(x: dict[str, Any]) -> bool:
        return (
            x.get("type") == type_
            and x.get("channel") == channel
            and all(x.get(k) == v for k, v in counts.items())
        )

    return lines.wait_for(pred, what=f"{type_} {channel} {counts}")


# --- channels --watch over NDJSON --------------------------------------------------------------


def test_channels_watch_json_sees_clients_join_and_leave(pusher_server, party) -> None:  # type: ignore[no-untyped-def]
    public, presence = name(), name("presence-")
    clients = party()
    clients.join("a", public)
    watch = pushcli(
        "channels", "--watch", "--interval", "0.2", "--json", env=env_for(pusher_server)
    )
    snap = watch.wait_for(lambda x: x.get("type") == "snapshot", what="the first snapshot")
    assert snap["poll"] == 1
    assert snap["channels"][public] == {"subscription_count": 1}
    assert presence not in snap["channels"]

    clients.join("b", public)
    changed = change(watch, "changed", public, subscription_count=2)
    assert "user_count" not in changed  # a public channel has no users
    clients.join("ann", presence, userId="ann", userInfo={"name": "Ann"})
    occupied = change(watch, "occupied", presence, subscription_count=1)
    # user_count is known on both servers: the listing's (pushcli serve), or asked channel by
    # channel when the server leaves it out of the listing (soketi)
    assert occupied["user_count"] == 1
    clients.join("bob", presence, userId="bob", userInfo={"name": "Bob"})
    change(watch, "changed", presence, subscription_count=2, user_count=2)
    clients.leave("a", public)
    change(watch, "changed", public, subscription_count=1)
    clients.leave("b", public)
    vacated = change(watch, "vacated", public, subscription_count=0)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", vacated["time"])
    assert watch.stop() == 130
    assert "interrupted" in watch.stderr
    # one line per change: nothing repeated while counts stood still
    mine = [
        (x["type"], x.get("subscription_count")) for x in watch.lines if x.get("channel") == public
    ]
    assert mine == [("changed", 2), ("changed", 1), ("vacated", 0)]


def test_channels_watch_presence_prefix_and_snapshots(pusher_server, party) -> None:  # type: ignore[no-untyped-def]
    presence = name("presence-")
    clients = party()
    clients.join("ann", presence, userId="ann")
    clients.join("ann2", presence, userId="ann")  # the same user twice: 2 subscriptions, 1 user
    watch = pushcli(
        "channels",
        "--watch",
        "--prefix",
        "presence-",
        "--interval",
        "0.2",
        "--snapshots",
        "--polls",
        "3",
        "--json",
        env=env_for(pusher_server),
    )
    assert watch.p.wait(15) == 0, watch.stderr
    watch.stop()
    snaps = [x for x in watch.lines if x["type"] == "snapshot"]
    assert [s["poll"] for s in snaps] == [1, 2, 3]
    assert all(s["channels"][presence] == {"subscription_count": 2, "user_count": 1} for s in snaps)
    assert all(c.startswith("presence-") for s in snaps for c in s["channels"])


def test_channels_watch_exits_5_at_once_on_a_bad_secret(pusher_server) -> None:  # type: ignore[no-untyped-def]
    watch = pushcli(
        "channels", "--watch", "--json", env=env_for(pusher_server, PUSHER_APP_SECRET="wrong")
    )
    assert watch.p.wait(15) == 5
    watch.stop()
    assert watch.lines == []
    assert len(watch.err) == 1 and watch.err[0].startswith("error: rejected by"), watch.err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["channels", "--interval", "1"], "--interval only applies with --watch"),
        (["channels", "--watch", "--info", "user_count"], "--info does not apply with --watch"),
        (["channels", "--watch", "--sort", "size"], "--sort must be one of name, count, age"),
        (["members", "presence-x", "--poll"], "--poll only applies with --watch"),
        (["members", "x", "--watch"], "x is not a presence channel"),
        (
            ["members", "presence-x", "--watch", "--interval", "2"],
            "--interval only applies with --poll",
        ),
        (["members", "presence-x", "--watch", "--poll", "--user-id", "u"], "not --poll"),
    ],
)
def test_watch_input_errors_exit_4(args: list[str], message: str) -> None:
    env = {
        **os.environ,
        "PUSHER_APP_ID": "1",
        "PUSHER_APP_KEY": "k",
        "PUSHER_APP_SECRET": "s",
        "PUSHER_HOST": "127.0.0.1",
        "PUSHER_PORT": "9",
    }
    r = subprocess.run(  # noqa: S603 - fixed argv
        [sys.executable, "-m", "pushcli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=15,
    )
    assert r.returncode == 4, r.stderr
    assert message in r.stderr and r.stdout == ""


# --- errors in a poll ----------------------------------------------------------------------


def test_channels_watch_shows_429_and_5xx_and_keeps_polling(pusher_server, party) -> None:  # type: ignore[no-untyped-def]
    public = name()
    clients = party()
    clients.join("a", public)
    with FaultProxy(pusher_server.port) as proxy:
        watch = pushcli(
            "channels",
            "--watch",
            "--interval",
            "0.2",
            "--json",
            env=env_for(pusher_server, **proxy.env(pusher_server)),
        )
        watch.wait_for(lambda x: x.get("type") == "snapshot", what="the first snapshot")
        proxy.next(Fault.too_many(1), Fault.status(503), Fault.status(500))
        watch.wait_err(r"poll \d+ failed: rejected by .*\(429\).*next poll in 1\.0s")
        watch.wait_err(r"poll \d+ failed: .*answered 503")
        clients.join("b", public)  # while the server is "down": seen once it answers again
        watch.wait_err(r"poll \d+ failed: .*answered 500")
        change(watch, "changed", public, subscription_count=2)
        assert watch.stop(signal.SIGTERM) == 130
        log = [s for s in proxy.log if "/channels" in s.path]
    faults = [i for i, s in enumerate(log) if s.fault != "forward"]
    assert len(faults) == 3
    after_429 = log[faults[0] + 1].at - log[faults[0]].at
    assert after_429 >= 0.95, f"Retry-After 1 not honoured: next request {after_429:.2f}s later"
    # no table went missing: the failed polls did not look like channels being vacated
    assert not [x for x in watch.lines if x.get("channel") == public and x["type"] == "vacated"]


# --- members --watch ----------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["websocket", "poll"])
def test_members_watch_sees_added_and_removed(pusher_server, party, mode: str) -> None:  # type: ignore[no-untyped-def]
    channel = name("presence-")
    clients = party()
    clients.join("ann", channel, userId="ann", userInfo={"name": "Ann"})
    extra = ["--poll", "--interval", "0.2"] if mode == "poll" else ["--user-id", "watcher"]
    watch = pushcli("members", channel, "--watch", "--json", *extra, env=env_for(pusher_server))
    snap = watch.wait_for(lambda x: x.get("type") == "snapshot", what="the member snapshot")
    bob = clients.join("bob", channel, userId="bob", userInfo={"name": "Bob", "role": "qa"})
    added = watch.wait_for(lambda x: x.get("type") == "added", what="bob added")
    clients.send(client="bob", disconnect=True)
    removed = watch.wait_for(lambda x: x.get("type") == "removed", what="bob removed")
    assert watch.stop() == 130
    assert snap["channel"] == channel
    if mode == "websocket":
        # pushcli is a member of its own, which pusher-js sees; user_info as the clients sent it
        assert {"user_id": "ann", "user_info": {"name": "Ann"}} in snap["members"]
        assert snap["self"] == "watcher" and "watcher" in bob["members"]
        assert added == {**added, "user_id": "bob", "user_info": {"name": "Bob", "role": "qa"}}
        assert removed["user_id"] == "bob" and removed["user_info"] == {"name": "Bob", "role": "qa"}
    else:
        assert snap["members"] == [{"user_id": "ann"}] and "self" not in snap
        assert "watcher" not in bob["members"] and len(bob["members"]) == 2  # nobody else joined
        assert added == {**added, "user_id": "bob"} and "user_info" not in added
        assert removed["user_id"] == "bob"
        assert "no member joins" in watch.stderr
    assert [x["type"] for x in watch.lines] == ["snapshot", "added", "removed"]


def test_members_poll_shows_errors_and_keeps_polling(pusher_server, party) -> None:  # type: ignore[no-untyped-def]
    channel = name("presence-")
    clients = party()
    clients.join("ann", channel, userId="ann")
    with FaultProxy(pusher_server.port) as proxy:
        watch = pushcli(
            "members",
            channel,
            "--watch",
            "--poll",
            "--interval",
            "0.2",
            "--json",
            env=env_for(pusher_server, **proxy.env(pusher_server)),
        )
        watch.wait_for(lambda x: x.get("type") == "snapshot", what="the member snapshot")
        proxy.next(Fault.status(502), Fault.too_many(0.5))
        watch.wait_err(r"poll \d+ failed: .*answered 502")
        watch.wait_err(r"poll \d+ failed: .*\(429\)")
        clients.join("bob", channel, userId="bob")
        watch.wait_for(lambda x: x.get("type") == "added" and x["user_id"] == "bob")
        assert watch.stop() == 130


# --- the live views under a pseudo-terminal ------------------------------------------------


def run_in_pty(
    args: list[str], env: dict[str, str], columns: int, rows: int = 24
) -> tuple[subprocess.Popen[bytes], list[bytes], int]:
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    env = {**env, "TERM": "xterm-256color", "COLUMNS": str(columns), "LINES": str(rows)}
    env.pop("NO_COLOR", None)
    proc = subprocess.Popen(  # noqa: S603 - fixed argv
        [sys.executable, "-m", "pushcli", *args],
        stdin=slave,
        stdout=slave,
        stderr=subprocess.PIPE,
        env=env,
        cwd=ROOT,
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

    threading.Thread(target=drain, daemon=True).start()
    return proc, screen, master


def wait_screen(screen: list[bytes], pattern: str, timeout: float = 8.0) -> str:
    deadline = time.monotonic() + timeout
    while True:
        text = ANSI.sub("", b"".join(screen).decode("utf-8", "replace"))
        if re.search(pattern, text):
            return text
        if time.monotonic() > deadline:
            raise AssertionError(f"{pattern!r} not on the screen:\n{text[-3000:]}")
        time.sleep(0.05)


@pytest.mark.parametrize("columns", [80, 140])
def test_channels_live_view_in_a_terminal(pusher_server, party, columns: int) -> None:  # type: ignore[no-untyped-def]
    public, presence = name(), name("presence-")
    clients = party()
    clients.join("a", public)
    proc, screen, master = run_in_pty(
        ["channels", "--watch", "--interval", "0.2", "--sort", "count"],
        env_for(pusher_server),
        columns,
    )
    try:
        wait_screen(screen, rf"{public}\s+1\s")
        clients.join("b", public)
        clients.join("ann", presence, userId="ann")
        # the count went up (highlighted with its delta); the presence channel shows its users
        wait_screen(screen, rf"{public}\s+2\s+.*▲ \+1")
        text = wait_screen(screen, rf"{presence}\s+1\s+1\s")
        assert re.search(r"\d+ occupied · \d+ subscriptions", text)
        assert re.search(r"poll \d+ at \d\d:\d\d:\d\d · \d+ ms · \d requests? · next in", text)
        assert "http://127.0.0.1:" in text
        # the table is laid out for the terminal's width: its rule spans it, never more
        assert max(len(run) for run in re.findall("─+", text)) == columns - 2
        clients.send(client="a", disconnect=True)
        clients.send(client="b", disconnect=True)
        wait_screen(screen, rf"{public}\s+0\s+.*vacated")
        proc.send_signal(signal.SIGINT)
        assert proc.wait(10) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)


def test_members_live_view_in_a_terminal(pusher_server, party) -> None:  # type: ignore[no-untyped-def]
    channel = name("presence-")
    clients = party()
    clients.join("ann", channel, userId="ann", userInfo={"name": "Ann"})
    proc, screen, master = run_in_pty(
        ["members", channel, "--watch", "--user-id", "watcher"], env_for(pusher_server), 80
    )
    try:
        wait_screen(screen, r"ann\s+≤\d\d:\d\d:\d\d\s+\{\"name\":\"Ann\"\}")
        wait_screen(screen, r"watcher\s+≤\d\d:\d\d:\d\d\s+you")
        clients.join("bob", channel, userId="bob", userInfo={"name": "Bob"})
        wait_screen(screen, r"bob\s+\d\d:\d\d:\d\d\s+joined\s+\{\"name\":\"Bob\"\}")
        wait_screen(screen, r"\d\d:\d\d:\d\d joined bob")
        clients.send(client="bob", disconnect=True)
        wait_screen(screen, r"\d\d:\d\d:\d\d left\s+bob")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)


# --- pure: the tracker and the poll loop's timing -------------------------------------------


def test_tracker_changes_linger_and_forget() -> None:
    t = ChannelsTracker(linger=5)
    assert (
        t.feed(
            {
                "a": {"subscription_count": 1},
                "presence-p": {"subscription_count": 1, "user_count": 1},
            },
            100,
        )
        == []
    )
    assert t.rows["a"].at_start and t.rows["a"].first_seen == 100
    got = t.feed(
        {
            "a": {"subscription_count": 3},
            "presence-p": {"subscription_count": 1},
            "b": {"subscription_count": 1},
        },
        101,
    )
    assert [(c.type, c.channel, c.subscription_count) for c in got] == [
        ("changed", "a", 3),
        ("occupied", "b", 1),
    ]
    assert t.rows["presence-p"].user_count == 1  # not asked this poll: the last count stands
    assert t.rows["a"].delta == 2 and t.rows["a"].change == "up"
    got = t.feed({"b": {"subscription_count": 1}}, 102)
    assert sorted((c.type, c.channel, c.subscription_count, c.user_count) for c in got) == [
        ("vacated", "a", 0, None),
        ("vacated", "presence-p", 0, 0),
    ]
    assert t.rows["a"].vacated_at == 102  # lingers, for the view to fade
    assert (
        t.feed({"b": {"subscription_count": 1}, "a": {"subscription_count": 1}}, 103)[0].type
        == "occupied"
    )
    assert not t.rows["a"].at_start and t.rows["a"].first_seen == 103
    t.feed({"b": {"subscription_count": 1}}, 104)
    t.feed({"b": {"subscription_count": 1}}, 108.9)
    assert set(t.rows) == {"a", "b"}
    t.feed({"b": {"subscription_count": 1}}, 109)
    assert set(t.rows) == {"b"}  # forgotten after linger: memory follows what is occupied


def test_tracker_memory_is_bounded_by_what_is_occupied() -> None:
    t = ChannelsTracker(linger=1, max_lingering=100)
    for i in range(50):
        t.feed({f"c{i}-{j}": {"subscription_count": 1} for j in range(200)}, float(i))
        assert len(t.rows) <= 200 + 100
    assert len(t._lingering) <= 100


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        self.slept.append(round(s, 3))
        self.now += s


def test_poll_loop_honours_retry_after_backs_off_and_never_raises_after_success() -> None:
    ft = FakeTime()
    too_many = RejectedError("rate limited", status=429)
    too_many.retry_after = 4.0
    script: list[Any] = [
        {},
        too_many,
        UnavailableError("down"),
        UnavailableError("down"),
        {},
        RejectedError("no", status=401),
        {},
    ]

    def poll() -> Any:
        ft.now += 0.05  # the request takes 50 ms
        item = script.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    outs = list(poll_loop(poll, interval=0.5, polls=7, clock=ft.clock, sleep=ft.sleep))
    assert [o.error is None for o in outs] == [True, False, False, False, True, False, True]
    # 0.5 s start to start; Retry-After 4; then failures 2 and 3 in a row wait 1 s and 2 s
    assert [round(o.next_in, 3) for o in outs] == [0.45, 4.0, 0.95, 1.95, 0.45, 0.45, 0.45]
    assert ft.slept == [0.45, 4.0, 0.95, 1.95, 0.45, 0.45]
    assert outs[-1].ok == 3


def test_poll_loop_refusal_before_any_success_ends_it() -> None:
    ft = FakeTime()

    def poll() -> Any:
        raise RejectedError("bad signature", status=401)

    with pytest.raises(RejectedError):
        list(poll_loop(poll, interval=1, clock=ft.clock, sleep=ft.sleep))

    def limited() -> Any:
        raise RejectedError("rate limited", status=429)

    seen = list(poll_loop(limited, interval=1, polls=2, clock=ft.clock, sleep=ft.sleep))
    assert len(seen) == 2  # a 429 is never fatal: the next poll is the retry
