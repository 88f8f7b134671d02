"""Batch throughput, over a 50 ms round trip and on loopback, against baselines, in one run.

    .venv/bin/python benchmarks/bench_batch.py [--rtt-events 3000] [--loopback-events 20000]
        [--rounds 3] [--rtt 0.05] [--server soketi|embedded] [--only rtt|loopback]

Events of ~120 bytes over 50 channels, 10 per request, against one server started by
tests/servers.py (soketi by default; loopback only, stopped by its pid).

Over a round trip (benchmarks/delayproxy.py in its own process, half the RTT each way):
(a) ``pushcli batch FILE`` run as a command (wall time, process start included), and the send
    rate it reports itself;
(b) 32 raw senders in threads, one ``http.client`` keep-alive connection each, taking signed
    requests from one queue (no order kept);
(c) the official ``pusher`` library's ``trigger_batch`` loop (one request at a time; it is
    latency-bound, so it sends ``--official-events`` events, 600 by default, not all).
On loopback (CPU-bound): (a), a bare ``http.client`` loop, and (c).
Rounds are interleaved and the median of each is reported, with ratios in the same run.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import queue
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from common import signed_batch_path  # noqa: E402
from servers import EmbeddedServer, Soketi  # noqa: E402

CHANNELS = 50
RAW_SENDERS = 32
HEADERS = {"Content-Type": "application/json"}


def make_events(n: int) -> list[dict[str, Any]]:
    # ~120 bytes per event on the wire: channel, name and a small JSON payload.
    return [
        {
            "channel": f"bench-{i % CHANNELS}",
            "name": "bench-event",
            "data": {"i": i, "pad": "x" * (62 - len(str(i)))},
        }
        for i in range(n)
    ]


def batches(events: list[dict[str, Any]]) -> list[bytes]:
    out = []
    for i in range(0, len(events), 10):
        part = [
            {
                "channel": e["channel"],
                "name": e["name"],
                "data": json.dumps(e["data"], separators=(",", ":")),
            }
            for e in events[i : i + 10]
        ]
        out.append(json.dumps({"batch": part}, separators=(",", ":")).encode())
    return out


class Target:
    """Where the clients send: the server, or the delay proxy in front of it."""

    def __init__(self, srv: Any, port: int) -> None:
        self.srv, self.host, self.port = srv, srv.host, port
        self.app_id, self.key, self.secret = srv.app_id, srv.key, srv.secret


def post(conn: http.client.HTTPConnection, target: Target, body: bytes) -> None:
    conn.request("POST", signed_batch_path(target, body), body=body, headers=HEADERS)
    resp = conn.getresponse()
    answer = resp.read()
    assert resp.status == 200 and b'"error"' not in answer, answer


def run_http_client(target: Target, bodies: list[bytes], n: int) -> float:
    t = time.perf_counter()
    conn = http.client.HTTPConnection(target.host, target.port)
    for body in bodies:
        post(conn, target, body)
    conn.close()
    return n / (time.perf_counter() - t)


def run_raw_senders(target: Target, bodies: list[bytes], n: int) -> float:
    work: queue.SimpleQueue[bytes] = queue.SimpleQueue()
    for body in bodies:
        work.put(body)
    failures: list[BaseException] = []

    def sender() -> None:
        conn = http.client.HTTPConnection(target.host, target.port, timeout=30)
        try:
            while True:
                try:
                    body = work.get_nowait()
                except queue.Empty:
                    return
                post(conn, target, body)
        except BaseException as e:  # noqa: BLE001 - reported below
            failures.append(e)
        finally:
            conn.close()

    t = time.perf_counter()
    threads = [threading.Thread(target=sender) for _ in range(RAW_SENDERS)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    if failures:
        raise SystemExit(f"raw senders failed: {failures[0]!r}")
    return n / (time.perf_counter() - t)


def run_official(target: Target, events: list[dict[str, Any]], n: int) -> float:
    import pusher

    client = pusher.Pusher(
        app_id=target.app_id,
        key=target.key,
        secret=target.secret,
        host=target.host,
        port=target.port,
        ssl=False,
    )
    t = time.perf_counter()
    for i in range(0, n, 10):
        client.trigger_batch(
            [
                {"channel": e["channel"], "name": e["name"], "data": e["data"]}
                for e in events[i : i + 10]
            ]
        )
    return n / (time.perf_counter() - t)


def run_pushcli(target: Target, path: Path, n: int, extra: list[str]) -> tuple[float, float]:
    env = {
        **target.srv.env(),
        "PUSHER_PORT": str(target.port),
        "PUSHCLI_CONFIG": str(path.parent / "none.toml"),
        "PATH": "/usr/bin:/bin",
    }
    t = time.perf_counter()
    p = subprocess.run(
        [sys.executable, "-m", "pushcli", "batch", str(path), "--json", *extra],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=600,
    )
    wall = n / (time.perf_counter() - t)
    if p.returncode != 0:
        raise SystemExit(f"pushcli batch failed ({p.returncode}): {p.stderr}")
    summary = json.loads(p.stdout)
    assert summary["sent"] == n and summary["failed"] == 0, summary
    return wall, summary["events_per_second"]


class DelayProxyProcess:
    def __init__(self, upstream_port: int, rtt: float, tmp: Path) -> None:
        port_file = tmp / "delayproxy.port"
        self.proc = subprocess.Popen(  # noqa: S603 - fixed argv
            [
                sys.executable,
                str(ROOT / "benchmarks" / "delayproxy.py"),
                "--upstream-port",
                str(upstream_port),
                "--delay",
                str(rtt / 2),
                "--port-file",
                str(port_file),
                "--max-seconds",
                "1800",
            ]
        )
        deadline = time.monotonic() + 10
        while not port_file.exists():
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.stop()
                raise SystemExit("the delay proxy did not start")
            time.sleep(0.05)
        self.port = int(port_file.read_text())

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def measure(
    name: str,
    rounds: int,
    contenders: dict[str, Callable[[], float | tuple[float, float]]],
) -> dict[str, list[float]]:
    res: dict[str, list[float]] = {}
    for r in range(rounds):
        for label, fn in contenders.items():
            out = fn()
            if isinstance(out, tuple):
                res.setdefault(f"{label} (command)", []).append(out[0])
                res.setdefault(f"{label} (send)", []).append(out[1])
            else:
                res.setdefault(label, []).append(out)
        print(f"  {name}: round {r + 1}/{rounds} done", file=sys.stderr, flush=True)
    return res


def report(title: str, res: dict[str, list[float]], baselines: list[str]) -> None:
    med = {k: statistics.median(v) for k, v in res.items()}
    print(title)
    for k, v in med.items():
        print(f"  {k:26s} {v:9,.0f}   runs: {', '.join(f'{x:,.0f}' for x in res[k])}")
    for k in med:
        if k.startswith("pushcli"):
            ratios = ", ".join(f"{med[k] / med[b]:.2f}x {b}" for b in baselines)
            print(f"  {k}: {ratios}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rtt-events", type=int, default=3000)
    ap.add_argument("--loopback-events", type=int, default=20000)
    ap.add_argument("--official-events", type=int, default=600, help="at the RTT")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--rtt", type=float, default=0.05, help="seconds (default 0.05)")
    ap.add_argument("--server", choices=["soketi", "embedded"], default="soketi")
    ap.add_argument("--only", choices=["rtt", "loopback"])
    ap.add_argument("--pushcli-args", default="", help="extra options for pushcli batch")
    args = ap.parse_args()
    extra = args.pushcli_args.split()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        cls = Soketi if args.server == "soketi" else EmbeddedServer
        srv = cls(tmp / "server").start()
        proxy: DelayProxyProcess | None = None
        try:
            print(
                f"server: {args.server}; machine: {os.cpu_count()} cores "
                f"(load average {os.getloadavg()[0]:.2f} at the start)"
            )
            if args.only != "loopback":
                proxy = DelayProxyProcess(srv.port, args.rtt, tmp)
                n = args.rtt_events
                events = make_events(n)
                bodies = batches(events)
                path = tmp / "rtt.ndjson"
                path.write_text("".join(json.dumps(e) + "\n" for e in events))
                via = Target(srv, proxy.port)
                official_n = min(n, args.official_events)
                res = measure(
                    "rtt",
                    args.rounds,
                    {
                        "pushcli": lambda: run_pushcli(via, path, n, extra),
                        f"{RAW_SENDERS} raw senders": lambda: run_raw_senders(via, bodies, n),
                        "official": lambda: run_official(via, events, official_n),
                    },
                )
                report(
                    f"{args.rtt * 1000:.0f} ms RTT: {n} events over {CHANNELS} channels "
                    f"(official: {official_n}), {args.rounds} rounds, median events/s:",
                    res,
                    [f"{RAW_SENDERS} raw senders", "official"],
                )
                proxy.stop()
                proxy = None
            if args.only != "rtt":
                n = args.loopback_events
                events = make_events(n)
                bodies = batches(events)
                path = tmp / "loopback.ndjson"
                path.write_text("".join(json.dumps(e) + "\n" for e in events))
                direct = Target(srv, srv.port)
                res = measure(
                    "loopback",
                    args.rounds,
                    {
                        "pushcli": lambda: run_pushcli(direct, path, n, extra),
                        "http.client": lambda: run_http_client(direct, bodies, n),
                        "official": lambda: run_official(direct, events, n),
                    },
                )
                report(
                    f"loopback: {n} events over {CHANNELS} channels, {args.rounds} rounds, "
                    "median events/s:",
                    res,
                    ["http.client", "official"],
                )
            print(f"load average at the end: {os.getloadavg()[0]:.2f}")
        finally:
            if proxy is not None:
                proxy.stop()
            srv.stop()


if __name__ == "__main__":
    main()
