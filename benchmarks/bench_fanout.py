"""Fan-out: N WebSocket subscribers on one channel, a burst of M events; soketi vs pushcli serve.

    .venv/bin/python benchmarks/bench_fanout.py [--subscribers 1000] [--events 200]
                                                [--client-procs 2] [--rounds 3]

For each server (soketi and `pushcli serve`, both started by tests/servers.py on loopback and
stopped by pid), ``--client-procs`` processes open the subscribers with the websockets asyncio
client and subscribe; then this process sends the burst as signed ``batch_events`` requests (10
events each, back to back on one keep-alive connection). Every event carries the sender's
``time.time()`` at the moment its request is sent: latency = receive time - that (one clock, one
machine). Reported per server: delivered messages / s (first send to last receive), p50 / p99
latency, and loss (expected - received, after the receivers have been idle for 3 s). Rounds
alternate between the servers; the median round of each is printed, with the ratio.

The box has 2 cores: subscriber processes, the sender and the server share them, so the clients'
own cost (a Python websockets client per message) is part of every figure, for both servers.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from common import signed_batch_path  # noqa: E402
from servers import EmbeddedServer, Soketi  # noqa: E402

CHANNEL = "fanout"


# --------------------------------------------------------------------------- subscriber process


async def subscriber_main(url: str, n: int, expected: int, idle: float) -> None:
    from websockets.asyncio.client import connect

    latencies: list[float] = []
    last_recv = 0.0
    sem = asyncio.Semaphore(50)

    async def open_one() -> object:
        async with sem:
            ws = await connect(url, proxy=None, open_timeout=30, max_queue=None, compression=None)
            hello = json.loads(await ws.recv())
            assert hello["event"] == "pusher:connection_established", hello
            await ws.send(json.dumps({"event": "pusher:subscribe", "data": {"channel": CHANNEL}}))
            ok = json.loads(await ws.recv())
            assert ok["event"] == "pusher_internal:subscription_succeeded", ok
            return ws

    sockets = await asyncio.gather(*(open_one() for _ in range(n)))
    sys.stdout.write("READY\n")
    sys.stdout.flush()
    done = asyncio.Event()
    total = expected * n

    async def reader(ws: object) -> None:
        nonlocal last_recv
        count = 0
        while count < expected:
            raw = await ws.recv()  # type: ignore[attr-defined]
            now = time.time()
            msg = json.loads(raw)
            if msg.get("event") != "burst":
                if msg.get("event") == "pusher:ping":
                    await ws.send('{"event":"pusher:pong","data":{}}')  # type: ignore[attr-defined]
                continue
            latencies.append(now - json.loads(msg["data"])["t"])
            last_recv = now
            count += 1
        if len(latencies) >= total:
            done.set()

    tasks = [asyncio.create_task(reader(ws)) for ws in sockets]
    # finish when everything arrived, or after `idle` seconds without any new message
    seen = -1
    while not done.is_set():
        try:
            await asyncio.wait_for(done.wait(), idle)
        except TimeoutError:
            if len(latencies) == seen and seen >= 0:
                break
            seen = len(latencies)
    for t in tasks:
        t.cancel()
    sys.stdout.write(
        json.dumps(
            {"received": len(latencies), "last": last_recv, "lat": [round(x, 6) for x in latencies]}
        )
        + "\n"
    )
    sys.stdout.flush()
    await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)  # type: ignore[attr-defined]


async def subscriber_sansio_main(url: str, n: int, expected: int, idle: float) -> None:
    """The same subscriber on websockets' sans-I/O ClientProtocol driven by an asyncio.Protocol:
    no future per message, so the client costs less per delivery than the asyncio client."""
    from urllib.parse import urlsplit

    from websockets.client import ClientProtocol
    from websockets.frames import Opcode
    from websockets.uri import parse_uri

    loop = asyncio.get_running_loop()
    latencies: list[float] = []
    state = {"last": 0.0}
    total = expected * n
    done = asyncio.Event()
    parts = urlsplit(url)
    subscribe = json.dumps({"event": "pusher:subscribe", "data": {"channel": CHANNEL}})

    class Sub(asyncio.Protocol):
        def __init__(self) -> None:
            self.ws = ClientProtocol(parse_uri(url), max_size=None)
            self.ready = loop.create_future()
            self.count = 0

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport = transport
            self.ws.send_request(self.ws.connect())
            self._flush()

        def _flush(self) -> None:
            for chunk in self.ws.data_to_send():
                if chunk:
                    self.transport.write(chunk)  # type: ignore[attr-defined]

        def data_received(self, data: bytes) -> None:
            self.ws.receive_data(data)
            now = time.time()
            for ev in self.ws.events_received():
                if getattr(ev, "opcode", None) is not Opcode.TEXT:
                    continue
                msg = json.loads(ev.data)
                event = msg.get("event")
                if event == "burst":
                    latencies.append(now - json.loads(msg["data"])["t"])
                    state["last"] = now
                    self.count += 1
                    if len(latencies) >= total:
                        done.set()
                elif event == "pusher:connection_established":
                    self.ws.send_text(subscribe.encode())
                elif event == "pusher_internal:subscription_succeeded" and not self.ready.done():
                    self.ready.set_result(None)
                elif event == "pusher:ping":
                    self.ws.send_text(b'{"event":"pusher:pong","data":{}}')
            self._flush()

    sem = asyncio.Semaphore(50)

    async def open_one() -> Sub:
        async with sem:
            _, proto = await loop.create_connection(Sub, parts.hostname, parts.port)
            await asyncio.wait_for(proto.ready, 30)
            return proto

    subs = await asyncio.gather(*(open_one() for _ in range(n)))
    sys.stdout.write("READY\n")
    sys.stdout.flush()
    seen = -1
    while not done.is_set():
        try:
            await asyncio.wait_for(done.wait(), idle)
        except TimeoutError:
            if len(latencies) == seen and seen >= 0:
                break
            seen = len(latencies)
    sys.stdout.write(
        json.dumps(
            {
                "received": len(latencies),
                "last": state["last"],
                "lat": [round(x, 6) for x in latencies],
            }
        )
        + "\n"
    )
    sys.stdout.flush()
    for sub in subs:
        sub.transport.close()


# --------------------------------------------------------------------------- sender


def run_round(
    srv: Soketi,
    subscribers: int,
    events: int,
    procs: int,
    idle: float,
    client: str,
    rate: float = 0.0,
) -> dict:
    """One round; ``rate`` > 0 sends one event per request at that many per second (paced)
    instead of a burst of back-to-back batches."""
    per = [subscribers // procs + (1 if i < subscribers % procs else 0) for i in range(procs)]
    clients = [
        subprocess.Popen(  # noqa: S603 - this very script
            [
                sys.executable,
                __file__,
                "--subscriber",
                client,
                srv.ws_url,
                str(n),
                str(events),
                str(idle),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        for n in per
    ]
    for c in clients:
        line = c.stdout.readline()  # type: ignore[union-attr]
        if line.strip() != "READY":
            raise RuntimeError(f"subscriber process failed: {line!r}")
    time.sleep(0.5)  # let the subscriptions settle
    conn = http.client.HTTPConnection(srv.host, srv.port, timeout=30)
    first_send = time.time()
    per_request = 1 if rate else 10
    for start in range(0, events, per_request):
        if rate:
            time.sleep(max(0.0, first_send + start / rate - time.time()))
        t = time.time()
        batch = [
            {
                "channel": CHANNEL,
                "name": "burst",
                "data": json.dumps({"i": i, "t": t, "pad": "x" * 40}),
            }
            for i in range(start, min(events, start + per_request))
        ]
        body = json.dumps({"batch": batch}, separators=(",", ":")).encode()
        conn.request(
            "POST",
            signed_batch_path(srv, body),
            body=body,
            headers={"Content-Type": "application/json"},
        )
        resp = conn.getresponse()
        answer = resp.read()
        if resp.status != 200 or b'"error"' in answer:
            raise RuntimeError(f"trigger failed: {resp.status} {answer[:200]!r}")
    sent_done = time.time()
    conn.close()
    results = [json.loads(c.communicate(timeout=120)[0].strip().splitlines()[-1]) for c in clients]
    lat = sorted(x for r in results for x in r["lat"])
    received = sum(r["received"] for r in results)
    last = max(r["last"] for r in results)
    expected = subscribers * events
    return {
        "expected": expected,
        "received": received,
        "loss": expected - received,
        "per_s": received / (last - first_send) if last > first_send else 0.0,
        "send_s": sent_done - first_send,
        "p50_ms": 1000 * lat[len(lat) // 2] if lat else float("nan"),
        "p99_ms": 1000 * lat[min(len(lat) - 1, int(len(lat) * 0.99))] if lat else float("nan"),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--subscribers", type=int, default=1000)
    ap.add_argument("--events", type=int, default=200)
    ap.add_argument("--client-procs", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument(
        "--idle", type=float, default=3.0, help="receivers stop after this many quiet seconds"
    )
    ap.add_argument(
        "--paced-events",
        type=int,
        default=50,
        help="then this many events one at a time at --paced-rate (latency off-burst)",
    )
    ap.add_argument("--paced-rate", type=float, default=10.0)
    ap.add_argument(
        "--client",
        choices=["asyncio", "sansio"],
        default="asyncio",
        help="subscriber implementation: websockets' asyncio client, or its sans-I/O "
        "protocol on a bare asyncio.Protocol (cheaper per message)",
    )
    args = ap.parse_args()

    servers = {"soketi": Soketi(), "pushcli serve": EmbeddedServer()}
    rounds: dict[str, list[dict]] = {name: [] for name in servers}
    paced: dict[str, list[dict]] = {name: [] for name in servers}
    try:
        for s in servers.values():
            s.start()
        for r in range(args.rounds):
            for name, srv in servers.items():
                res = run_round(
                    srv, args.subscribers, args.events, args.client_procs, args.idle, args.client
                )
                rounds[name].append(res)
                print(
                    f"round {r + 1} burst {name:14} {res['per_s']:10,.0f} msg/s  "
                    f"p50 {res['p50_ms']:7.1f} ms  p99 {res['p99_ms']:7.1f} ms  "
                    f"loss {res['loss']}  (sent in {res['send_s']:.2f} s)",
                    flush=True,
                )
        for name, srv in servers.items():
            if args.paced_events:
                res = run_round(
                    srv,
                    args.subscribers,
                    args.paced_events,
                    args.client_procs,
                    args.idle,
                    args.client,
                    rate=args.paced_rate,
                )
                paced[name].append(res)
                print(
                    f"paced {args.paced_rate:g}/s {name:14} p50 {res['p50_ms']:7.1f} ms  "
                    f"p99 {res['p99_ms']:7.1f} ms  loss {res['loss']}",
                    flush=True,
                )
    finally:
        for s in servers.values():
            s.stop()

    print(
        f"\n{args.subscribers} subscribers x {args.events} events = "
        f"{args.subscribers * args.events:,} deliveries per round; {args.client_procs} subscriber "
        f"processes ({args.client} client); median of {args.rounds} rounds"
    )
    summary = {}
    for name, rs in rounds.items():
        med = sorted(rs, key=lambda x: x["per_s"])[len(rs) // 2]
        summary[name] = med
        line = (
            f"{name:14} burst {med['per_s']:10,.0f} delivered/s   p50 {med['p50_ms']:7.1f} ms   "
            f"p99 {med['p99_ms']:7.1f} ms   loss {sum(x['loss'] for x in rs)} in all rounds"
        )
        if paced[name]:
            p = paced[name][0]
            line += (
                f"   | paced {args.paced_rate:g}/s: p50 {p['p50_ms']:.1f} ms  "
                f"p99 {p['p99_ms']:.1f} ms  loss {p['loss']}"
            )
        print(line)
    ratio = summary["pushcli serve"]["per_s"] / summary["soketi"]["per_s"]
    print(f"pushcli serve / soketi burst throughput: {ratio:.2f}x")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--subscriber":
        _, _, kind, url, n, expected, idle = sys.argv
        run_sub = subscriber_sansio_main if kind == "sansio" else subscriber_main
        asyncio.run(run_sub(url, int(n), int(expected), float(idle)))
    else:
        main()
