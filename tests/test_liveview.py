"""The live view of ``pushcli listen`` on a terminal, the retry policy by context, --serve errors.

End-to-end tests run ``pushcli listen`` under a pseudo-terminal of a given size and read what a
terminal would show (:class:`Screen`, a small VT emulator for what rich's Live writes), with the
official python ``pusher`` library sending the events through soketi or ``pushcli serve``. The
pure parts (column widths, keys, the view's state) are tested on their own first.
"""

from __future__ import annotations

import codecs
import errno
import fcntl
import json
import os
import re
import socket
import struct
import subprocess
import sys
import termios
import threading
import time
import uuid
from pathlib import Path

import pytest
from servers import free_tcp_ports

from pushcli.app.listen import DEFAULT_RETRIES, retry_limit
from pushcli.app.tail import Row
from pushcli.protocol.backoff import RECONNECT_WATCHING
from pushcli.protocol.client_session import MemberAdded, Status, Subscribed
from pushcli.ui.live import layout
from pushcli.ui.live.keys import decode
from pushcli.ui.live.state import MAX_NAMES, OTHER, ViewState, summary

ROOT = Path(__file__).resolve().parent.parent
LONG_USER = "user-" + "0123456789abcdef" * 3 + "-end"  # 57 characters


def chan(prefix: str = "") -> str:
    return f"{prefix}live-{uuid.uuid4().hex[:8]}"


def payload_of_60() -> tuple[dict, str]:
    """A payload whose compact JSON (as the view shows it) is exactly 60 characters."""
    value = {"text": "x" * 42 + "-60-END"}
    text = json.dumps(value, separators=(",", ":"))
    assert len(text) == 60
    return value, text


# --- pure: widths, keys, state ----------------------------------------------------------------


def test_data_column_comes_first_and_other_columns_fit_what_they_show():
    # one channel (no channel column), short events: a 60-character payload fits in 80 columns
    w = layout.allocate(80, channel=None, event=len("subscribed"), user=None, data=60)
    assert (w.channel, w.user) == (0, 0) and w.data >= 60
    assert w.time + w.event + w.data + 2 <= 80
    # a long event name gives way to the payload, down to its floor, not to nothing
    w = layout.allocate(80, channel=None, event=32, user=None, data=200)
    assert w.event == layout.FLOOR["event"] and w.time + w.event + w.data + 2 == 80
    # the event column is as wide as the widest name shown, not as pusher:subscription_succeeded
    w = layout.allocate(140, channel=None, event=8, user=None, data=20)
    assert w.event == 8 and w.data == 140 - 12 - 8 - 2
    # on a wide terminal long payloads leave whole channel and event names their room
    w = layout.allocate(140, channel=15, event=13, user=None, data=300)
    assert (w.channel, w.event, w.data) == (15, 13, 140 - 12 - 15 - 13 - 3)
    # several channels and user ids: every column shown, the data still the widest
    w = layout.allocate(80, channel=24, event=12, user=57, data=300)
    assert 0 < w.user <= layout.FLOOR["user"] and w.channel and w.data > 3 * w.event


def test_middle_truncation_keeps_both_ends():
    assert layout.middle(LONG_USER, 11) == "user-…f-end"
    assert layout.middle("short", 11) == "short"
    assert layout.clip("abcdef", 4) == "abc…"
    assert layout.middle("日本語のチャンネル", 7) == "日…ネル"  # 7 cells


def test_keys_decode_arrows_and_escape():
    assert decode("\x1b[A\x1b[Bj\r/x\x7f") == (
        ["up", "down", "j", "enter", "/", "x", "backspace"],
        "",
    )
    assert decode("\x1b[5~\x1bOH") == (["pageup", "home"], "")
    assert decode("a\x1b") == (["a"], "\x1b")  # a lone ESC waits for what follows
    assert decode("\x1b[") == ([], "\x1b[")


def test_view_state_pause_select_expand_filter():
    v = ViewState(["c"])
    for i in range(5):
        v.add(Row(1.0 + i, "c", "greeting" if i % 2 else "order", data=json.dumps({"i": i})))
    v.press("up")  # pauses on the newest row
    assert v.paused and v.selected() is v.rows[-1]
    v.press("up")
    assert v.selected() is v.rows[-2]
    v.add(Row(9.0, "c", "late", data="{}"))  # arrives while paused: counted, not shown
    assert v.events - v.events_at_pause == 1 and v.rows[-1] not in v.visible()
    v.press("enter")
    assert v.expanded
    v.press("escape")
    assert not v.expanded and v.paused
    v.press("/")
    for ch in "GREET":
        v.press(ch)
    v.press("enter")
    assert v.filter == "GREET" and {r.event for r in v.visible()} == {"greeting"}
    v.press("escape")  # clears the filter
    v.press("escape")  # back to live
    assert not v.paused and v.filter == "" and v.visible()[-1].event == "late"


def test_view_state_reconnecting_marks_members_and_adds_a_gap_row():
    v = ViewState(["presence-r"])
    v.observe(Status(100.0, "connected", socket_id="1.1"))
    v.observe(Subscribed(100.0, "presence-r", {"ada": None}))
    v.observe(MemberAdded(101.0, "presence-r", "bob"))
    v.observe(Status(110.0, "reconnecting", "connection refused", delay=2.0, attempt=3))
    assert v.retry is not None and (v.retry.attempt, v.retry.due) == (3, 112.0)
    assert v.stale("presence-r") and set(v.members["presence-r"]) == {"ada", "bob"}
    v.observe(Status(112.0, "connecting", "ws://x", attempt=3))
    v.observe(Status(122.3, "connected", socket_id="2.2"))
    assert v.retry is None and v.reconnects == 1
    gap = v.rows[-1]
    assert gap.kind == "gap" and summary(gap) == (
        "— reconnected after 12.3 s; events sent meanwhile were not received —"
    )


def test_a_client_events_user_id_does_not_cut_other_payloads():
    """One row with a user id (a client event) does not take a column from every row's data:
    at 80 columns its user id goes before its own data, cut in the middle."""
    import io

    from rich.console import Console

    from pushcli.ui.liveview import LiveSink

    _, text = payload_of_60()
    sink = LiveSink("ws://127.0.0.1:6001", ["presence-r"])
    sink.row(Row(1.0, "presence-r", "greeting", data=text))
    sink.row(Row(2.0, "presence-r", "client-typing", data='{"typing":true}', user_id=LONG_USER))
    out = io.StringIO()
    Console(file=out, width=80, height=24, color_system=None).print(sink._render())
    lines = out.getvalue().splitlines()
    assert any(line.endswith("greeting   " + text) for line in lines)
    typing = row_with(lines, '{"typing":true}')
    assert typing.endswith(layout.middle(LONG_USER, 13) + ' · {"typing":true}')


def test_counts_by_event_are_bounded():
    v = ViewState(["a", "b"])
    for i in range(MAX_NAMES + 50):
        v.add(Row(1.0, "a" if i % 2 else "b", f"ev-{i}", data="{}"))
    assert len(v.by_event) == MAX_NAMES + 1 and v.by_event[OTHER] == 50
    assert v.by_channel == {"a": (MAX_NAMES + 50) // 2, "b": (MAX_NAMES + 50) // 2}


@pytest.mark.parametrize(
    ("retries", "terminal", "waits", "expected"),
    [
        (None, True, {}, None),  # a person watching: until Ctrl-C
        (None, False, {}, DEFAULT_RETRIES),  # a script
        (None, True, {"count": 1}, DEFAULT_RETRIES),
        (None, True, {"until": "done"}, DEFAULT_RETRIES),
        (None, True, {"timeout": 30.0}, DEFAULT_RETRIES),
        (2, True, {}, 2),  # --retries as given
    ],
)
def test_retry_limit_by_context(retries, terminal, waits, expected):
    assert retry_limit(retries, terminal=terminal, **waits) == expected


def test_unbounded_retries_back_off_to_ten_seconds():
    assert RECONNECT_WATCHING.ceiling(20) == 10.0


# --- a terminal ------------------------------------------------------------------------------


def _own_terminal() -> None:
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class Screen:
    """``pushcli listen`` under a pseudo-terminal of ``cols`` x ``rows``, and what it shows.

    Understands what rich's Live writes: text, CR/LF, ESC[nA (up), ESC[2K (erase line),
    SGR colours (ignored) and cursor show/hide."""

    CSI = re.compile(r"\x1b\[([0-9;?]*)([A-Za-z])")

    def __init__(self, args: list[str], env: dict[str, str], cols: int, rows: int) -> None:
        self.cols, self.rows = cols, rows
        self.grid = [[" "] * cols for _ in range(rows)]
        self.y = self.x = 0
        self._cond = threading.Condition()
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        env = dict(env, TERM="xterm-256color", COLUMNS=str(cols), LINES=str(rows))
        env.pop("NO_COLOR", None)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pushcli", "listen", *args],
            stdin=slave,
            stdout=slave,
            stderr=subprocess.PIPE,
            env=env,
            cwd=ROOT,
            preexec_fn=_own_terminal,  # so that Ctrl-C typed on it is SIGINT, as in a shell
        )
        os.close(slave)
        self.master = master
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._pending = ""
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self._err: list[bytes] = []
        self._err_reader = threading.Thread(target=self._read_err, daemon=True)
        self._err_reader.start()

    def _read_err(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self._err.append(line)

    # the terminal

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self.master, 65536)
            except OSError:
                chunk = b""
            if not chunk:
                with self._cond:
                    self._cond.notify_all()
                return
            with self._cond:
                self._feed(self._decoder.decode(chunk))
                self._cond.notify_all()

    def _feed(self, text: str) -> None:
        text = self._pending + text
        self._pending = ""
        i = 0
        while i < len(text):
            ch = text[i]
            if ch == "\x1b":
                m = self.CSI.match(text, i)
                if m is None:
                    if len(text) - i < 16:
                        self._pending = text[i:]  # cut in the middle: wait for the rest
                        return
                    i += 1
                    continue
                self._csi(m.group(1), m.group(2))
                i = m.end()
                continue
            if ch == "\r":
                self.x = 0
            elif ch == "\n":
                self._down()
            elif ch >= " ":
                if self.x >= self.cols:
                    self.x = 0
                    self._down()
                self.grid[self.y][self.x] = ch
                self.x += 1
            i += 1

    def _down(self) -> None:
        if self.y == self.rows - 1:
            self.grid.pop(0)
            self.grid.append([" "] * self.cols)
        else:
            self.y += 1

    def _csi(self, params: str, final: str) -> None:
        n = int(params) if params.isdigit() else 1
        if final == "A":
            self.y = max(0, self.y - n)
        elif final == "B":
            self.y = min(self.rows - 1, self.y + n)
        elif final == "K":
            self.grid[self.y] = [" "] * self.cols
        elif final == "H":
            self.y = self.x = 0

    def lines(self) -> list[str]:
        with self._cond:
            return ["".join(row).rstrip() for row in self.grid]

    def text(self) -> str:
        return "\n".join(self.lines())

    def wait_for(self, pred, timeout: float = 10.0, what: str = "") -> list[str]:
        deadline = time.monotonic() + timeout
        while True:
            lines = self.lines()
            if pred(lines):
                return lines
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise AssertionError(
                    f"not on screen: {what} (exit {self.proc.poll()}):\n"
                    + "\n".join(lines)
                    + f"\nstderr: {self.stderr_so_far()}"
                )
            with self._cond:
                self._cond.wait(0.1)

    def shows(self, needle: str, timeout: float = 10.0) -> list[str]:
        return self.wait_for(lambda ls: any(needle in line for line in ls), timeout, needle)

    def press(self, keys: bytes) -> None:
        os.write(self.master, keys)

    def stderr_so_far(self) -> str:
        return b"".join(self._err).decode(errors="replace")

    def finish(self, timeout: float = 10.0) -> tuple[int, str]:
        try:
            self.proc.wait(timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(5)
        self._err_reader.join(5)
        return self.proc.returncode, self.stderr_so_far()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def screen():
    """Start ``pushcli listen ARGS`` on a terminal: ``screen(server, cols, rows, *args)``."""
    started: list[Screen] = []

    def start(server, cols: int, rows: int, *args: str, **env: str) -> Screen:
        s = Screen(list(args), dict(os.environ, **server.env(), **env), cols, rows)
        started.append(s)
        return s

    yield start
    for s in started:
        s.kill()
        if s.proc.stderr is not None:
            s.proc.stderr.close()
        try:
            os.close(s.master)
        except OSError:
            pass


def row_with(lines: list[str], needle: str) -> str:
    [line] = [line for line in lines if needle in line]
    return line


@pytest.mark.parametrize(
    ("server_name", "cols", "rows", "kind"),
    [
        ("soketi", 80, 24, "public"),
        ("embedded", 80, 24, "public"),
        ("soketi", 80, 24, "presence"),
        ("embedded", 80, 24, "presence"),
        ("embedded", 140, 40, "public"),
        ("embedded", 140, 40, "presence"),
    ],
)
def test_a_60_character_payload_is_shown_whole(request, screen, server_name, cols, rows, kind):
    """The data column has priority: at 80 columns a 60-character payload is shown in full,
    on a public channel and on a presence channel whose member has a 57-character id."""
    server = request.getfixturevalue(server_name)
    c = chan("presence-" if kind == "presence" else "")
    args = [c, "--user-id", LONG_USER] if kind == "presence" else [c]
    s = screen(server, cols, rows, *args)
    s.shows("1/1 subscribed")
    value, text = payload_of_60()
    server.pusher_client().trigger(c, "greeting", value)
    lines = s.shows(text)
    line = row_with(lines, text)
    assert line.endswith(text)  # nothing after it, nothing cut
    assert re.match(r"^\d\d:\d\d:\d\d(\.\d{3})? +greeting +" + re.escape(text) + "$", line)
    assert c not in line  # no channel column when listening to one channel
    header = next(line for line in lines if line.startswith("time"))
    assert header.split() == ["time", "event", "data"]
    if kind == "presence":
        member_line = row_with(lines, f"{c} — 1 member: ")
        assert LONG_USER[:20] in member_line
    assert "by event: greeting 1" in s.text()
    s.press(b"\x03")  # Ctrl-C
    rc, err = s.finish()
    assert rc == 130, err


def test_expand_key_shows_the_whole_payload_pretty_printed_and_filter(embedded, screen):
    c = chan()
    s = screen(embedded, 80, 24, c)
    s.shows("1/1 subscribed")
    client = embedded.pusher_client()
    order = {
        "order": 42,
        "items": [{"sku": "A-1", "qty": 2}, {"sku": "B-7", "qty": 1}],
        "note": "leave at the door " + "z" * 60,
    }
    client.trigger(c, "order-shipped", order)
    client.trigger(c, "greeting", {"hello": "world"})
    s.shows('{"hello":"world"}')
    s.press(b"\x1b[A")  # pauses on the newest row
    s.shows("paused, 0 new")
    s.press(b"\x1b[A\r")  # the row before, expanded
    lines = s.shows('"order": 42,')
    at = lines.index('  "order": 42,')
    assert lines[at - 1] == "{"
    assert lines[at + 1 : at + 4] == ['  "items": [', "    {", '      "sku": "A-1",']
    assert any(line.startswith(f"order-shipped on {c}") for line in lines)
    assert "z" * 50 in s.text()  # the long note is folded, not cut
    s.press(b"\x1b")  # back to the table, still paused
    s.shows("enter show whole payload")
    s.press(b"/greet\r")
    lines = s.shows("filter: greet")
    assert any('{"hello":"world"}' in line for line in lines)
    assert not any('{"order":42' in line for line in lines)
    s.press(b"\x03")
    rc, err = s.finish()
    assert rc == 130, err


def test_explicit_retries_still_bound_listen_on_a_terminal(screen, tmp_path):
    [port] = free_tcp_ports(1)

    class Nowhere:
        def env(self) -> dict[str, str]:
            return {
                "PUSHER_APP_ID": "1",
                "PUSHER_APP_KEY": "k",
                "PUSHER_APP_SECRET": "s",
                "PUSHER_HOST": "127.0.0.1",
                "PUSHER_PORT": str(port),
                "PUSHER_SCHEME": "http",
            }

    s = screen(Nowhere(), 80, 24, "c", "--retries", "2")
    s.shows("(attempt 2 of 2)")
    rc, err = s.finish()
    assert rc == 6 and "cannot connect" in err and "(2 attempts)" in err


@pytest.mark.slow
def test_view_rides_out_a_30_second_outage_of_the_server(embedded_restartable, screen):
    """On a terminal with nothing to wait for, listen keeps reconnecting (today's bounded
    retries gave up after ~20 s with exit 6): the header says when it retries, the members are
    marked stale, a gap row follows the reconnect, and events sent after it are shown."""
    server = embedded_restartable
    c = chan("presence-")
    s = screen(server, 80, 24, c, "--user-id", "steady")
    s.shows("1/1 subscribed")
    client = server.pusher_client()
    client.trigger(c, "before", {"n": 1})
    s.shows('{"n":1}')

    server.stop()
    stopped = time.monotonic()
    lines = s.wait_for(
        lambda ls: bool(re.match(r"↻ reconnecting in \d+ s \(attempt \d+\)", ls[0])),
        what="reconnecting in N s (attempt k)",
    )
    assert "0/1 subscribed" in lines[1]
    row_with(lines, f"{c} — 1 member before the disconnect (not current): steady")
    attempts = set()
    while time.monotonic() - stopped < 30:
        head = s.lines()[0]
        m = re.search(r"\(attempt (\d+)\)", head)
        if m:
            attempts.add(int(m.group(1)))
        assert s.proc.poll() is None, "listen gave up during the outage"
        time.sleep(0.5)
    assert len(attempts) >= 4  # it kept trying, and said so

    server.start()  # the same port
    lines = s.shows("— reconnected after ", timeout=15)
    gap = row_with(lines, "— reconnected after ")
    m = re.fullmatch(
        r"— reconnected after (\d+\.\d) s; events sent meanwhile were not received —", gap
    )
    assert m and 30 <= float(m.group(1)) < 45
    s.shows("● connected")
    s.shows("1/1 subscribed")
    row_with(s.lines(), f"{c} — 1 member: steady")
    client.trigger(c, "after", {"n": 2})
    lines = s.shows('{"n":2}')
    assert lines.index(row_with(lines, '{"n":2}')) > lines.index(gap)
    assert "reconnects 1" in s.text()
    s.press(b"\x03")
    rc, err = s.finish()
    assert rc == 130, err


# --- scripts keep bounded retries ------------------------------------------------------------


def test_a_script_without_options_keeps_the_bounded_retries(tmp_path):
    """stdout not a terminal: still --retries' default (5), so a script ends with exit 6."""
    [port] = free_tcp_ports(1)
    env = dict(
        os.environ,
        PUSHER_APP_ID="1",
        PUSHER_APP_KEY="k",
        PUSHER_APP_SECRET="s",
        PUSHER_HOST="127.0.0.1",
        PUSHER_PORT=str(port),
        PUSHER_SCHEME="http",
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "pushcli", "listen", "c"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=ROOT,
        text=True,
    )
    try:
        assert proc.stderr is not None
        seen = []
        for line in proc.stderr:  # the first retry says how many there will be at most
            seen.append(line)
            if "reconnecting in" in line:
                break
        assert f"(attempt 2 of {DEFAULT_RETRIES}): connection refused" in seen[-1], seen
    finally:
        proc.kill()
        proc.communicate()


# --- listen --serve: one line, no asyncio noise ----------------------------------------------


def serve_env(port: int, **extra: str) -> dict[str, str]:
    env = dict(
        os.environ,
        PUSHER_APP_ID="123456",
        PUSHER_APP_KEY="app-key",
        PUSHER_APP_SECRET="app-secret",
        PUSHER_HOST="127.0.0.1",
        PUSHER_PORT=str(port),
        PUSHER_SCHEME="http",
    )
    env.update(extra)
    return env


def run_listen(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pushcli", "listen", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=20,
    )


def test_serve_on_a_port_in_use_is_one_line_and_a_hint_exit_6():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        r = run_listen("c", "--serve", "--json", env=serve_env(port))
    assert r.returncode == 6
    assert r.stderr == (
        f"error: cannot serve on 127.0.0.1:{port}: {os.strerror(errno.EADDRINUSE)}\n"
        "hint: another server is running there: drop --serve to use it\n"
    )
    assert r.stdout == ""


@pytest.mark.parametrize(
    ("extra", "code", "line"),
    [
        (
            {"PUSHER_APP_KEY": "bad/key"},
            3,
            "error: invalid app key 'bad/key' (app_id from env PUSHER_APP_ID, key from env "
            "PUSHER_APP_KEY, secret from env PUSHER_APP_SECRET): use letters, digits, '_', '.', '-'",
        ),
        (
            {"PUSHER_HOST": "127.x"},
            6,
            "error: cannot serve on 127.x:{port}: unknown host '127.x'",
        ),
    ],
)
def test_serve_with_a_bad_app_or_host_is_one_line(extra, code, line):
    [port] = free_tcp_ports(1)
    r = run_listen("c", "--serve", "--json", env=serve_env(port, **extra))
    assert r.returncode == code
    assert r.stderr == line.format(port=port) + "\n"
