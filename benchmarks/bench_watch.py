"""`pushcli channels --watch` on 5,000 occupied channels: CPU per poll, RSS over 1,000 polls.

    .venv/bin/python benchmarks/bench_watch.py [--channels 5000] [--presence 500] [--churn 50]
        [--cpu-polls 60] [--rss-polls 1000] [--skip-cpu] [--skip-rss] [--server stub|embedded]

The server is a tiny local HTTP/1.1 stub in a subprocess of its own (so its CPU is not counted):
``GET /apps/ID/channels`` answers ``--channels`` occupied channels (``--presence`` of them
presence- channels), with ``user_count`` when the prefix is ``presence-`` (as Pusher and
``pushcli serve`` do); before each answer ``--churn`` channels change their counts and a tenth of
that many are replaced by new ones, so every poll has changes, new and vacated rows to draw.
It keeps connections alive and does not check signatures. With ``--server embedded``, CPU is
measured against ``pushcli serve`` instead, with the channels occupied by raw WebSocket
subscribers (10 connections; no churn).

(a) CPU of one poll, in this process (``time.thread_time``, the polling thread only): the two
    requests and their JSON (``ChannelsPoller.poll``), the diff (``ChannelsTracker.feed``), and
    drawing the live table (``ChannelsLive.update`` + one frame rendered to a 140x40 console in
    memory, sorted by count) - and, for ``--json``, the change lines and a ``--snapshots`` line.
    Medians and maxima over ``--cpu-polls`` polls (the first, which builds every row, apart).
    The issue's target: one poll (diff + draw) under 100 ms of CPU.
(b) RSS: ``pushcli channels --watch --interval 0 --polls N --sort count`` runs under a
    pseudo-terminal (120x40, drained here) against the stub; VmRSS is read from /proc every
    0.2 s, with the number of polls the stub has answered by then. Reported: RSS after the
    first 50 polls, at the end, and the maximum; and the same for ``--json > /dev/null``.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import io
import json
import os
import pty
import statistics
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

STUB = r"""
import json, random, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

n, presence, churn = (int(x) for x in sys.argv[1:4])
rng = random.Random(7)
made = 0
def new_name(i):
    return f"presence-room-{i}" if i % (n // max(presence, 1) or 1) == 0 and presence else f"room-{i}"
channels = {}
for _ in range(n):
    channels[new_name(made)] = [rng.randint(1, 40), 0]
    made += 1
for name, counts in channels.items():
    counts[1] = max(1, counts[0] - 1) if name.startswith("presence-") else 0
answered = 0

def step():
    global made
    names = list(channels)
    for name in rng.sample(names, min(churn, len(names))):
        channels[name][0] = max(1, channels[name][0] + rng.choice((-1, 1)))
        if name.startswith("presence-"):
            channels[name][1] = max(1, channels[name][0] - 1)
    for name in rng.sample(names, churn // 10):
        del channels[name]
        channels[new_name(made)] = [1, 1]
        made += 1

class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        global answered
        url = urlsplit(self.path)
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        prefix = q.get("filter_by_prefix", "")
        users = "user_count" in q.get("info", "") and prefix.startswith("presence-")
        if prefix == "":
            step()
            answered += 1
            sys.stdout.write(f"{answered}\n"); sys.stdout.flush()
        out = {}
        for name, (subs, uc) in channels.items():
            if name.startswith(prefix):
                out[name] = {"subscription_count": subs, **({"user_count": uc} if users else {})}
        body = json.dumps({"channels": out}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass

srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
sys.stdout.write(f"port {srv.server_address[1]}\n"); sys.stdout.flush()
srv.serve_forever()
"""


class Stub:
    def __init__(self, channels: int, presence: int, churn: int) -> None:
        self.proc = subprocess.Popen(  # noqa: S603 - fixed argv
            [sys.executable, "-c", STUB, str(channels), str(presence), str(churn)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self.port = int(self.proc.stdout.readline().split()[1])
        self.answered = 0
        threading.Thread(target=self._count, daemon=True).start()

    def _count(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.answered = int(line)

    def env(self) -> dict[str, str]:
        return {
            "PUSHER_APP_ID": "123456",
            "PUSHER_APP_KEY": "app-key",
            "PUSHER_APP_SECRET": "app-secret",
            "PUSHER_HOST": "127.0.0.1",
            "PUSHER_PORT": str(self.port),
            "PUSHER_SCHEME": "http",
        }

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(5)


@contextlib.contextmanager
def embedded_with_channels(n: int, presence: int) -> Iterator[dict[str, str]]:
    """pushcli serve with ``n`` channels occupied by raw subscribers (10 connections)."""
    import asyncio

    from servers import EmbeddedServer, WsSubscriber, make_auth_fn

    srv = EmbeddedServer().start()
    stop = threading.Event()
    ready = threading.Event()
    auth = make_auth_fn(user_id="bench", user_info={"name": "bench"})
    names = [
        f"presence-room-{i}" if presence and i % (n // presence) == 0 else f"room-{i}"
        for i in range(n)
    ]

    async def hold() -> None:
        subs = [await WsSubscriber.connect(srv.ws_url) for _ in range(10)]
        for i, name in enumerate(names):
            sub = subs[i % 10]
            a = auth(sub.socket_id, name)
            await sub.subscribe(name, *((a["auth"], a.get("channel_data")) if a else ()))
        ready.set()
        while not stop.is_set():
            await asyncio.sleep(0.1)
        for sub in subs:
            await sub.ws.close()

    t = threading.Thread(target=lambda: asyncio.run(hold()), daemon=True)
    t.start()
    ready.wait(300)
    try:
        yield srv.env()
    finally:
        stop.set()
        t.join(10)
        srv.stop()


def settings_for(env: dict[str, str]) -> Any:
    from pushcli.client.profiles import resolve

    os.environ.update(env)
    return resolve(flags={}, profile=None, config_file=str(ROOT / ".no-config.toml"))


def cpu_run(env: dict[str, str], polls: int) -> None:
    from rich.console import Console

    from pushcli.app.watch import ChannelsPoll, ChannelsPoller, ChannelsTracker
    from pushcli.client.rest import RestClient
    from pushcli.ui.watchview import ChannelsLive, ChannelsNdjson, change_object

    settings = settings_for(env)
    phases: dict[str, list[float]] = {k: [] for k in ("poll", "diff", "draw", "json", "snapshot")}
    first: dict[str, float] = {}
    with RestClient(settings, retries=0) as client:
        poller = ChannelsPoller(client)
        tracker = ChannelsTracker()
        live = ChannelsLive("stub", sort="count")
        console = Console(file=io.StringIO(), width=140, height=40, force_terminal=True)
        live.height = lambda: 40  # type: ignore[method-assign]
        ndjson = ChannelsNdjson(snapshots=True, out=io.StringIO(), err=io.StringIO())
        rows = changes = 0
        for n in range(polls + 1):
            clock = time.thread_time
            t0 = clock()
            found = poller.poll()
            t1 = clock()
            got = tracker.feed(found, time.time())
            t2 = clock()
            result = ChannelsPoll(n + 1, time.time(), 0.01, poller.requests, 1.0, tracker.rows, got)
            result.first = n == 0
            live.update(result)
            console.file = io.StringIO()
            console.print(live.renderable())
            t3 = clock()
            "".join(json.dumps(change_object(c)) for c in got)
            t4 = clock()
            ndjson.out = io.StringIO()
            ndjson.update(result)
            t5 = clock()
            sample = {
                "poll": t1 - t0,
                "diff": t2 - t1,
                "draw": t3 - t2,
                "json": t4 - t3,
                "snapshot": t5 - t4,
            }
            if n == 0:
                first = sample
            else:
                for k, v in sample.items():
                    phases[k].append(v)
                changes += len(got)
            rows = len(tracker.rows)
        requests = poller.requests
    ms = lambda v: f"{v * 1000:6.1f}"  # noqa: E731
    print(
        f"(a) CPU per poll, {rows} channels in the table, {requests} requests per poll, "
        f"{changes / polls:.0f} changes per poll, {polls} polls (thread CPU, ms)"
    )
    print(f"    {'phase':34} {'median':>7} {'max':>7} {'first':>7}")
    names = {
        "poll": "requests + JSON (ChannelsPoller)",
        "diff": "diff (ChannelsTracker.feed)",
        "draw": "live table: update + one frame",
        "json": "--json: the change lines",
        "snapshot": "--json --snapshots: snapshot line",
    }
    for k, label in names.items():
        v = phases[k]
        print(f"    {label:34} {ms(statistics.median(v))} {ms(max(v))} {ms(first[k])}")
    diff_draw = [d + r for d, r in zip(phases["diff"], phases["draw"], strict=True)]
    whole = [
        p + d + r for p, d, r in zip(phases["poll"], phases["diff"], phases["draw"], strict=True)
    ]
    print(f"    {'diff + draw':34} {ms(statistics.median(diff_draw))} {ms(max(diff_draw))}")
    print(
        f"    {'whole poll (requests+diff+draw)':34} {ms(statistics.median(whole))} {ms(max(whole))}"
    )


def vmrss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def rss_run(stub: Stub, polls: int, as_json: bool) -> None:
    env = {**os.environ, **stub.env(), "PUSHCLI_CONFIG": str(ROOT / ".no-config.toml")}
    argv = [
        sys.executable,
        "-m",
        "pushcli",
        "channels",
        "--watch",
        "--interval",
        "0",
        "--polls",
        str(polls),
        "--sort",
        "count",
    ]
    master = None
    if as_json:
        proc = subprocess.Popen([*argv, "--json"], stdout=subprocess.DEVNULL, env=env, cwd=ROOT)  # noqa: S603
    else:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        env["TERM"] = "xterm-256color"
        proc = subprocess.Popen(
            argv, stdin=slave, stdout=slave, stderr=subprocess.DEVNULL, env=env, cwd=ROOT
        )  # noqa: S603
        os.close(slave)

        def drain() -> None:
            with contextlib.suppress(OSError):
                while os.read(master, 65536):
                    pass

        threading.Thread(target=drain, daemon=True).start()
    start_answered = stub.answered
    samples: list[tuple[int, int]] = []
    started = time.perf_counter()
    while proc.poll() is None:
        with contextlib.suppress(OSError, RuntimeError):
            samples.append((stub.answered - start_answered, vmrss(proc.pid)))
        time.sleep(0.2)
    seconds = time.perf_counter() - started
    rc = proc.wait()
    if master is not None:
        os.close(master)
    after50 = next((kb for n, kb in samples if n >= 50), samples[0][1])
    last = samples[-1]
    mode = "--json > /dev/null" if as_json else "live view (pty 120x40)"
    print(
        f"(b) RSS, {mode}: {polls} polls in {seconds:.1f}s (exit {rc}); VmRSS after 50 polls "
        f"{after50 / 1024:.1f} MiB, at poll {last[0]} {last[1] / 1024:.1f} MiB, "
        f"max {max(kb for _, kb in samples) / 1024:.1f} MiB"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--channels", type=int, default=5000)
    ap.add_argument("--presence", type=int, default=500)
    ap.add_argument("--churn", type=int, default=50)
    ap.add_argument("--cpu-polls", type=int, default=60)
    ap.add_argument("--rss-polls", type=int, default=1000)
    ap.add_argument("--server", choices=("stub", "embedded"), default="stub")
    ap.add_argument("--skip-cpu", action="store_true")
    ap.add_argument("--skip-rss", action="store_true")
    args = ap.parse_args()
    stub = Stub(args.channels, args.presence, args.churn)
    try:
        if not args.skip_cpu:
            if args.server == "embedded":
                with embedded_with_channels(args.channels, args.presence) as env:
                    print(f"server: pushcli serve, {args.channels} channels from raw subscribers")
                    cpu_run(env, args.cpu_polls)
            else:
                print(f"server: HTTP stub, {args.channels} channels, churn {args.churn}/poll")
                cpu_run(stub.env(), args.cpu_polls)
        if not args.skip_rss:
            rss_run(stub, args.rss_polls, as_json=False)
            rss_run(stub, args.rss_polls, as_json=True)
    finally:
        stub.stop()


if __name__ == "__main__":
    main()
