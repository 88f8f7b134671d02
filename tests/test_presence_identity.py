"""What the other side sees of pushcli's presence member, signin ids and internal channels.

pushcli is on one end only: pusher-js (node build, tests/js/presence_party.js, signed by the
official npm ``pusher`` library or through ``pushcli auth serve`` with pusher-js's own HTTP auth
flow) and the official python ``pusher`` library are the other party, and each test runs against
soketi and ``pushcli serve`` alike (``pusher_server``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from servers import APP_KEY, APP_SECRET, EmbeddedServer, Soketi, free_tcp_ports, presence_auth
from typer.testing import CliRunner

from pushcli.cli import app

ROOT = Path(__file__).resolve().parent.parent
PARTY_JS = ROOT / "tests" / "js" / "presence_party.js"


def _name(prefix: str = "") -> str:
    return f"{prefix}ident-{uuid.uuid4().hex[:8]}"


def default_info(user_id: str) -> dict[str, str]:
    """What pushcli documents as its presence user_info when none is given."""
    return {"id": user_id, "name": "pushcli"}


def env_for(server: Soketi) -> dict[str, str]:
    return {**os.environ, **server.env()}


def run_cli(server: Soketi, *args: str, timeout: float = 20) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - fixed argv
        [sys.executable, "-m", "pushcli", *args],
        capture_output=True,
        text=True,
        env=env_for(server),
        cwd=ROOT,
        timeout=timeout,
    )


class Lines:
    """JSON lines of a subprocess's stdout, collected by a thread, waited on by predicate."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.lines: list[dict[str, Any]] = []
        self.other: list[str] = []
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._pump, daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._cond:
                if line.startswith("{"):
                    self.lines.append(json.loads(line))
                else:
                    self.other.append(line)
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def wait_for(
        self, pred: Callable[[dict[str, Any]], bool], what: str, timeout: float = 10
    ) -> dict[str, Any]:
        def found() -> dict[str, Any] | None:
            return next((x for x in self.lines if pred(x)), None)

        with self._cond:
            self._cond.wait_for(
                lambda: found() is not None or self.proc.poll() is not None, timeout
            )
            hit = found()
        if hit is None:
            raise AssertionError(f"no {what} (rc {self.proc.poll()}): {self.lines}{self.other}")
        return hit

    def finish(self, timeout: float = 15) -> int:
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"did not exit: {self.lines}") from None
        self._thread.join(5)
        return rc


@pytest.fixture
def party(pusher_server: Soketi) -> Iterator[Callable[..., Lines]]:
    """Start tests/js/presence_party.js against the test's server (see the script's header)."""
    node = shutil.which("node")
    if node is None or not (ROOT / "tests" / "soketi" / "node_modules" / "pusher-js").exists():
        if os.environ.get("CI"):
            pytest.fail("node and tests/soketi/node_modules are required on CI")
        pytest.skip("node or pusher-js missing")
    started: list[subprocess.Popen[str]] = []

    def start(channel: str | None, clients: list[dict[str, Any]], hold: bool = False) -> Lines:
        cfg = {
            "host": pusher_server.host,
            "port": pusher_server.port,
            "appId": pusher_server.app_id,
            "key": pusher_server.key,
            "secret": pusher_server.secret,
            "channel": channel,
            "clients": clients,
            "hold": hold,
        }
        proc = subprocess.Popen(  # noqa: S603 - fixed argv
            [node, str(PARTY_JS), json.dumps(cfg)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        started.append(proc)
        return Lines(proc)

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def release(lines: Lines) -> int:
    """Let a holding party disconnect (it waits for stdin to close) and wait for it."""
    assert lines.proc.stdin is not None
    lines.proc.stdin.close()
    return lines.finish()


@pytest.fixture
def listener(pusher_server: Soketi, tmp_path: Path) -> Iterator[Callable[..., Lines]]:
    """``pushcli listen ... --json --ready-file`` in a subprocess, returned once subscribed."""
    started: list[subprocess.Popen[str]] = []

    def start(*args: str) -> Lines:
        ready = tmp_path / f"ready-{uuid.uuid4().hex[:6]}"
        proc = subprocess.Popen(  # noqa: S603 - fixed argv
            [
                sys.executable,
                "-m",
                "pushcli",
                "listen",
                *args,
                "--json",
                "--ready-file",
                str(ready),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env_for(pusher_server),
            cwd=ROOT,
            text=True,
        )
        started.append(proc)
        deadline = time.monotonic() + 10
        while not ready.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise AssertionError(f"listen not ready: {proc.communicate()[1]}")
            time.sleep(0.02)
        return Lines(proc)

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(10)


# --- 1. pushcli's member is visible to pusher-js ------------------------------------------------


def test_listen_member_is_listed_by_pusher_js_joining_later(pusher_server, listener, party):
    """The headline use: `pushcli listen presence-…` with no --user-info, then a browser joins."""
    c = _name("presence-")
    cli = listener(c, "--timeout", "30")
    [uid] = cli.wait_for(lambda x: x["event"] == "pusher:subscription_succeeded", "sub")["members"]
    assert uid.startswith("pushcli-")

    js = party(c, [{"userId": "js-bob", "userInfo": {"name": "Bob"}}])
    assert js.finish() == 0, js.lines
    sub = js.wait_for(lambda x: x["type"] == "subscribed", "pusher-js subscribed")
    assert sub["me"] == {"id": "js-bob", "info": {"name": "Bob"}}
    by_id = {m["id"]: m["info"] for m in sub["members"]}
    assert by_id == {uid: default_info(uid), "js-bob": {"name": "Bob"}}
    added = cli.wait_for(lambda x: x["event"] == "pusher:member_added", "member_added")
    assert added["user_info"] == {"name": "Bob"}


def test_client_event_member_is_seen_by_pusher_js(pusher_server, party):
    """`pushcli client-event` on presence joins as a member pusher-js can name."""
    c = _name("presence-")
    js = party(c, [{"userId": "js-bob", "userInfo": {"name": "Bob"}}], hold=True)
    js.wait_for(lambda x: x["type"] == "ready", "ready")
    r = run_cli(
        pusher_server, "client-event", c, "client-hi", '"yo"', "--user-id", "alice", "--wait", "0.5"
    )
    assert r.returncode == 0, r.stderr
    added = js.wait_for(lambda x: x["type"] == "member_added", "member_added")
    assert (added["id"], added["info"]) == ("alice", default_info("alice"))
    ev = js.wait_for(lambda x: x["type"] == "event", "client event")
    assert (ev["event"], ev["data"], ev["user_id"]) == ("client-hi", "yo", "alice")
    assert release(js) == 0


def test_auth_sign_and_library_send_user_info_by_default(monkeypatch) -> None:
    for name, value in {
        "PUSHER_APP_ID": "1",
        "PUSHER_APP_KEY": APP_KEY,
        "PUSHER_APP_SECRET": APP_SECRET,
    }.items():
        monkeypatch.setenv(name, value)
    expected = presence_auth(APP_KEY, APP_SECRET, "1.1", "presence-r", "u1", default_info("u1"))
    r = CliRunner().invoke(
        app, ["auth", "sign", "presence-r", "--socket-id", "1.1", "--user-id", "u1"]
    )
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout) == expected

    from pushcli.api import Client

    client = Client.from_values(app_id="1", key=APP_KEY, secret=APP_SECRET)
    assert client.sign_channel("presence-r", "1.1", user_id="u1") == expected
    given = client.sign_channel("presence-r", "1.1", user_id="u1", user_info={"name": "Ada"})
    assert given == presence_auth(APP_KEY, APP_SECRET, "1.1", "presence-r", "u1", {"name": "Ada"})


def _auth_serve(server: Soketi) -> tuple[subprocess.Popen[str], int]:
    port = free_tcp_ports(1)[0]
    proc = subprocess.Popen(  # noqa: S603 - fixed argv
        [sys.executable, "-m", "pushcli", "auth", "serve", "--port", str(port), "--json"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env_for(server),
        text=True,
    )
    assert proc.stderr is not None
    deadline = time.monotonic() + 15
    line = ""
    while "auth endpoint on" not in line:
        line = proc.stderr.readline()
        if (not line and proc.poll() is not None) or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"auth serve did not start: {line}")
    return proc, port


def test_auth_serve_pusher_js_sees_itself_and_the_others(pusher_server, party):
    """pusher-js's own authEndpoint flow against `pushcli auth serve` with no --user-info."""
    c = _name("presence-")
    proc, port = _auth_serve(pusher_server)
    try:
        endpoint = f"http://127.0.0.1:{port}/pusher/auth"
        js = party(
            c,
            [
                {"authEndpoint": endpoint, "headers": {"X-User-Id": "ada"}},
                {"authEndpoint": endpoint, "headers": {"X-User-Id": "bob"}},
            ],
        )
        assert js.finish() == 0, js.lines
    finally:
        proc.terminate()
        proc.wait(10)
    subs = {x["client"]: x for x in js.lines if x["type"] == "subscribed"}
    ada, bob = (
        {"id": "ada", "info": default_info("ada")},
        {"id": "bob", "info": default_info("bob")},
    )
    assert subs[0]["me"] == ada and subs[0]["members"] == [ada]
    assert subs[1]["me"] == bob
    assert sorted(subs[1]["members"], key=lambda m: m["id"]) == [ada, bob]
    added = [x for x in js.lines if x["type"] == "member_added" and x["client"] == 0]
    assert [(x["id"], x["info"]) for x in added] == [("bob", default_info("bob"))]


# --- 2. the embedded server: numeric signin ids, member_added == presence hash --------------


def test_numeric_signin_id_is_accepted_and_reachable(pusher_server, party):
    """A PHP/Laravel backend signs `{"id": 42}`; soketi accepts it as user "42"."""
    js = party(None, [{"userId": "x", "signin": {"id": 42, "name": "Num"}}], hold=True)
    signed = js.wait_for(lambda x: x["type"] in ("signed_in", "error"), "signin")
    assert signed == {"type": "signed_in", "client": 0, "id": 42}, js.lines
    js.wait_for(lambda x: x["type"] == "ready", "ready")
    pusher_server.pusher_client().send_to_user("42", "notice", {"hi": 1})
    got = js.wait_for(lambda x: x["type"] == "message", "the event sent to user 42")
    assert (got["channel"], got["event"]) == ("#server-to-user-42", "notice")
    assert got["data"] == {"hi": 1}
    assert release(js) == 0


@pytest.mark.parametrize("info", ["null", "absent"])
def test_member_added_carries_what_the_presence_hash_carries(pusher_server, party, info):
    """One pusher-js client sees b join (member_added), another joins later (hash): same info."""
    c = _name("presence-")
    b: dict[str, Any] = {"userId": "b"}
    if info == "null":
        b["userInfo"] = None  # the library sends "user_info":null
    js = party(
        c,
        [{"userId": "a", "userInfo": {"n": "a"}}, b, {"userId": "c", "userInfo": {"n": "c"}}],
    )
    assert js.finish() == 0, js.lines
    added = next(x for x in js.lines if x["type"] == "member_added" and x["id"] == "b")
    later = next(x for x in js.lines if x["type"] == "subscribed" and x["client"] == 2)
    in_hash = {m["id"]: m["info"] for m in later["members"]}
    if info == "absent" and not isinstance(pusher_server, EmbeddedServer):
        # soketi's own deviation, the reason pushcli always sends user_info: without it the
        # member is announced but left out of the hash, invisible to anyone joining later
        assert added["info"] == "<absent>" and "b" not in in_hash
        return
    assert added["info"] is None
    assert in_hash["b"] is None


# --- 9. channels hides #server-to-user-*, channel --info cache says when it is ignored ------------


def test_channels_hides_server_to_user_channels_unless_all(pusher_server, party):
    c, user = _name(), _name("u-")
    js = party(c, [{"userId": user, "signin": {"id": user}}], hold=True)
    js.wait_for(lambda x: x["type"] == "ready", "signed in and subscribed")
    try:
        shown = run_cli(pusher_server, "channels", "--json")
        everything = run_cli(pusher_server, "channels", "--all", "--json")
    finally:
        assert release(js) == 0
    assert shown.returncode == 0 and everything.returncode == 0, shown.stderr + everything.stderr
    listed = set(json.loads(shown.stdout)["channels"])
    listed_all = set(json.loads(everything.stdout)["channels"])
    assert c in listed and not any(n.startswith("#") for n in listed)
    assert listed <= listed_all
    internal = f"#server-to-user-{user}"
    if isinstance(pusher_server, EmbeddedServer):
        assert internal not in listed_all  # pushcli serve does not list them at all
    else:
        assert internal in listed_all  # soketi lists the channel pusher-js subscribed to
        assert "internal #server-to-user-* channel" in shown.stderr and "--all" in shown.stderr
        assert "not shown" not in everything.stderr


def test_channel_info_cache_says_when_the_server_answers_without_it(pusher_server):
    c = _name("cache-")
    pusher_server.pusher_client().trigger(c, "state", {"v": 1})
    r = run_cli(pusher_server, "channel", c, "--info", "cache", "--json")
    assert r.returncode == 0, r.stderr
    answer = json.loads(r.stdout)
    if isinstance(pusher_server, EmbeddedServer):
        assert answer["cache"]["event"] == "state"
        assert "without cache" not in r.stderr
    else:
        assert "cache" not in answer  # soketi ignores info=cache
        [notice] = [line for line in r.stderr.splitlines() if "without cache" in line]
        assert "ignores info=cache" in notice
