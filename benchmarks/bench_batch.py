"""Batch throughput: `pushcli batch` against two baselines, in one script, on one soketi.

    .venv/bin/python benchmarks/bench_batch.py [--events 20000] [--rounds 3]

(a) a bare http.client keep-alive loop sending the same signed batch requests,
(b) the official `pusher` library's trigger_batch loop,
(c) `pushcli batch FILE` run as a command (wall time, process start included), and the send
    rate it reports itself.
Runs are interleaved and the median of each is reported, with ratios against (a) and (b).
soketi is started by tests/servers.py (loopback only) and stopped by its pid.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from common import signed_batch_path  # noqa: E402
from servers import Soketi  # noqa: E402


def make_events(n: int) -> list[dict]:
    # ~120 bytes per event on the wire: channel, name and a small JSON payload.
    return [
        {
            "channel": f"bench-{i % 4}",
            "name": "bench-event",
            "data": {"i": i, "pad": "x" * (62 - len(str(i)))},
        }
        for i in range(n)
    ]


def batches(events: list[dict]) -> list[bytes]:
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


def run_http_client(srv: Soketi, bodies: list[bytes], n: int) -> float:
    t = time.perf_counter()
    conn = http.client.HTTPConnection(srv.host, srv.port)
    for body in bodies:
        conn.request(
            "POST",
            signed_batch_path(srv, body),
            body=body,
            headers={"Content-Type": "application/json"},
        )
        resp = conn.getresponse()
        resp.read()
        assert resp.status == 200
    conn.close()
    return n / (time.perf_counter() - t)


def run_official(srv: Soketi, events: list[dict], n: int) -> float:
    client = srv.pusher_client()
    t = time.perf_counter()
    for i in range(0, len(events), 10):
        client.trigger_batch(
            [
                {"channel": e["channel"], "name": e["name"], "data": e["data"]}
                for e in events[i : i + 10]
            ]
        )
    return n / (time.perf_counter() - t)


def run_pushcli(srv: Soketi, path: Path, n: int) -> tuple[float, float]:
    env = {**srv.env(), "PUSHCLI_CONFIG": str(path.parent / "none.toml"), "PATH": "/usr/bin:/bin"}
    t = time.perf_counter()
    p = subprocess.run(
        [sys.executable, "-m", "pushcli", "batch", str(path), "--json"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    wall = n / (time.perf_counter() - t)
    if p.returncode != 0:
        raise SystemExit(f"pushcli batch failed ({p.returncode}): {p.stderr}")
    summary = json.loads(p.stdout)
    assert summary["sent"] == n and summary["failed"] == 0, summary
    return wall, summary["events_per_second"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=20000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    n = args.events
    events = make_events(n)
    bodies = batches(events)
    sizes = [len(json.dumps(e, separators=(",", ":"))) for e in events]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "events.ndjson"
        path.write_text("".join(json.dumps(e, separators=(",", ":")) + "\n" for e in events))
        srv = Soketi(Path(tmp) / "soketi").start()
        try:
            res: dict[str, list[float]] = {
                "http.client": [],
                "official": [],
                "pushcli (command)": [],
                "pushcli (send)": [],
            }
            for _ in range(args.rounds):
                res["http.client"].append(run_http_client(srv, bodies, n))
                res["official"].append(run_official(srv, events, n))
                wall, send = run_pushcli(srv, path, n)
                res["pushcli (command)"].append(wall)
                res["pushcli (send)"].append(send)
        finally:
            srv.stop()
    med = {k: statistics.median(v) for k, v in res.items()}
    print(
        f"{n} events of ~{statistics.mean(sizes):.0f} bytes, {args.rounds} rounds, median events/s:"
    )
    for k, v in med.items():
        print(f"  {k:20s} {v:9,.0f}   runs: {', '.join(f'{x:,.0f}' for x in res[k])}")
    for k in ("pushcli (command)", "pushcli (send)"):
        print(
            f"  {k}: {med[k] / med['http.client']:.2f}x http.client, {med[k] / med['official']:.2f}x official"
        )


if __name__ == "__main__":
    main()
