"""Receiving: `pushcli listen --json > file` against a bare websockets loop; live view RSS.

    .venv/bin/python benchmarks/bench_listen.py [--server soketi|embedded] [--events 20000]
        [--rounds 3] [--rate EVENTS_PER_S] [--rss-bursts 20] [--rss-burst 10000]
        [--skip-cpu] [--skip-rss] [--profile FILE.prof]

The server (soketi by default, or `pushcli serve` with --server embedded) is started by
tests/servers.py on 127.0.0.1 and stopped by its pid. Events (~100 bytes of JSON data, each
with a sequence number) are sent as signed ``batch_events`` requests (10 per request) from two
threads on keep-alive connections, as fast as the server takes them (or paced with --rate);
the sender is not measured.

(a) CPU per event. Each receiver runs as a subprocess; its CPU time (user + sys) is read from
    /proc/PID/task/*/schedstat when its ready file appears (subscribed, idle) and from os.wait4
    when it exits, so "CPU after ready" leaves out interpreter start, imports, connect and
    subscribe. A run receiving ``--events`` events and a run receiving 1 event are both
    measured; (after_ready(N) - after_ready(1)) / (N - 1) is the cost per event, with the
    shutdown taken out too. (The same from whole-process CPU, cpu(N) - cpu(1), is also shown:
    it agrees, but carries the start-up's noise of +-0.1 s, i.e. +-5 us/event.) Receivers:
      * ``pushcli listen CHANNEL --json --count N --ready-file F > file``;
      * ``bare``: a websockets asyncio loop (same connect options as pushcli) that subscribes,
        json-decodes every frame and writes each event's data to a file (buffered);
      * ``bare+flush``: the same, flushing after every line, as pushcli does so that
        ``listen | jq`` sees each event at once.
    Each output file is checked: exactly N lines, every sequence number once, data as sent.
    Runs are interleaved for ``--rounds`` rounds; medians are reported, with the ratio
    pushcli / bare (the issue's target: <= 1.5).
(b) RSS of the live view. `pushcli listen CHANNEL --count B*K` runs under a pseudo-terminal
    (TERM=xterm-256color, 120x40; this process drains the terminal so it never blocks). ``B``
    bursts of ``K`` events are sent; after each, once the view shows them all, VmRSS is read
    from /proc/PID/status. Reported: first / last / max RSS and the growth from burst 5 to the
    last, and whether the view exited 0 after exactly B*K events (it exits after --count events).

The box has 2 cores shared by the server, the sender and the receiver (and whatever else runs).
CPU time is the receiver's own, but a receiver that keeps up wakes once per few frames while one
that lags reads many per wake-up, which is cheaper per event: flat out, the faster receiver is
penalised. ``--rate`` paces the sender so that every receiver sees the same arrivals. Compare
figures from one run of this script only.
"""

from __future__ import annotations

import argparse
import fcntl
import http.client
import json
import os
import re
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from common import signed_batch_path  # noqa: E402
from servers import EmbeddedServer, Soketi  # noqa: E402

EVENT = "bench-listen"

BARE = r"""
import asyncio, json, os, sys
from websockets.asyncio.client import connect

EVENT = "bench-listen"
PONG = '{"event":"pusher:pong","data":{}}'


async def main(url, channel, n, out_path, ready_path, flush):
    async with asyncio.timeout(300):
        # the same connect options as pushcli.client.realtime.Listener
        async with connect(url, ping_interval=None, max_size=2**22, close_timeout=2) as ws:
            hello = json.loads(await ws.recv())
            assert hello["event"] == "pusher:connection_established", hello
            await ws.send(json.dumps({"event": "pusher:subscribe", "data": {"channel": channel}}))
            while True:
                msg = json.loads(await ws.recv())
                if msg["event"] == "pusher_internal:subscription_succeeded":
                    break
            tmp = ready_path + ".tmp"
            with open(tmp, "w") as f:
                f.write("ready\n")
            os.replace(tmp, ready_path)
            got = 0
            with open(out_path, "w", encoding="utf-8") as out:
                while got < n:
                    msg = json.loads(await ws.recv())
                    event = msg["event"]
                    if event == EVENT:
                        out.write(msg["data"] + "\n")
                        if flush:
                            out.flush()
                        got += 1
                    elif event == "pusher:ping":
                        await ws.send(PONG)


url, channel, n, out_path, ready_path, flush = sys.argv[1:]
asyncio.run(main(url, channel, int(n), out_path, ready_path, flush == "1"))
"""


# --------------------------------------------------------------------------- sending


def payload(seq: int) -> dict:
    """~100 bytes of JSON data carrying the sequence number."""
    return {"seq": seq, "kind": "bench", "pad": "x" * (70 - len(str(seq)))}


def bodies(channel: str, first: int, n: int) -> list[bytes]:
    out = []
    for start in range(first, first + n, 10):
        batch = [
            {"channel": channel, "name": EVENT, "data": json.dumps(payload(i))}
            for i in range(start, min(first + n, start + 10))
        ]
        out.append(json.dumps({"batch": batch}, separators=(",", ":")).encode())
    return out


def send(
    srv: Soketi, channel: str, n: int, first: int = 0, threads: int = 2, rate: float = 0.0
) -> float:
    """Send events ``first .. first+n-1`` (paced at ``rate`` events/s when > 0); returns the
    seconds it took."""
    all_bodies = bodies(channel, first, n)
    errors: list[str] = []
    started = time.perf_counter()

    def worker(offset: int, part: list[bytes]) -> None:
        conn = http.client.HTTPConnection(srv.host, srv.port, timeout=30)
        try:
            for k, body in enumerate(part):
                if rate:
                    due = started + (offset + k * threads) * 10 / rate
                    time.sleep(max(0.0, due - time.perf_counter()))
                conn.request(
                    "POST",
                    signed_batch_path(srv, body),
                    body=body,
                    headers={"Content-Type": "application/json"},
                )
                resp = conn.getresponse()
                answer = resp.read()
                if resp.status != 200:
                    errors.append(f"{resp.status} {answer[:200]!r}")
                    return
        finally:
            conn.close()

    ts = [threading.Thread(target=worker, args=(i, all_bodies[i::threads])) for i in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if errors:
        raise RuntimeError(f"trigger failed: {errors[0]}")
    return time.perf_counter() - started


# --------------------------------------------------------------------------- receivers


def child_env(srv: Soketi, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PUSHER_", "PUSHCLI_"))
        and k.lower() not in ("http_proxy", "https_proxy", "all_proxy", "ws_proxy", "wss_proxy")
    }
    env.update(srv.env())
    env.update(
        PUSHCLI_CONFIG=str(Path(tempfile.gettempdir()) / "pushcli-bench-no-config.toml"),
        NO_PROXY="127.0.0.1,localhost,::1",
        no_proxy="127.0.0.1,localhost,::1",
    )
    env.update(extra)
    return env


def wait_ready(proc: subprocess.Popen, ready: Path, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not ready.exists():
        if proc.poll() is not None:
            raise RuntimeError(f"receiver exited with {proc.returncode} before it was ready")
        if time.monotonic() > deadline:
            proc.kill()
            proc.wait()
            raise RuntimeError("receiver not ready in time")
        time.sleep(0.01)


def cpu_so_far(pid: int) -> float:
    """CPU seconds the live process ``pid`` has used so far (all its threads; schedstat is in
    ns, and is what the kernel's user+sys rusage adds up to)."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
            total += int(f.read().split()[0])
    return total / 1e9


def reap(proc: subprocess.Popen, timeout: float = 300) -> tuple[int, float, int]:
    """Wait for ``proc`` with os.wait4: (exit code, CPU seconds user+sys, max RSS KiB)."""
    deadline = time.monotonic() + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline:
            proc.kill()
            _, status, usage = os.wait4(proc.pid, 0)
            break
        time.sleep(0.005)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, usage.ru_utime + usage.ru_stime, usage.ru_maxrss


def receiver_argv(
    kind: str,
    srv: Soketi,
    channel: str,
    n: int,
    out: Path,
    ready: Path,
    script: Path,
    profile: Path | None = None,
) -> list[str]:
    if kind == "pushcli":
        prof = ["-m", "cProfile", "-o", str(profile)] if profile else []
        return [
            sys.executable,
            *prof,
            "-m",
            "pushcli",
            "listen",
            channel,
            "--json",
            "--count",
            str(n),
            "--timeout",
            "300",
            "--ready-file",
            str(ready),
        ]
    flush = "1" if kind == "bare+flush" else "0"
    return [sys.executable, str(script), srv.ws_url, channel, str(n), str(out), str(ready), flush]


def run_receiver(
    kind: str,
    srv: Soketi,
    n: int,
    work: Path,
    script: Path,
    profile: Path | None = None,
    rate: float = 0.0,
) -> dict:
    channel = f"bench-{uuid.uuid4().hex[:10]}"
    out = work / f"{kind}-{n}.out"
    ready = work / f"{kind}-{n}.ready"
    ready.unlink(missing_ok=True)
    out.unlink(missing_ok=True)
    argv = receiver_argv(kind, srv, channel, n, out, ready, script, profile)
    stdout = open(out, "wb") if kind == "pushcli" else subprocess.DEVNULL  # noqa: SIM115
    err_path = work / f"{kind}-{n}.err"
    with open(err_path, "wb") as err:
        proc = subprocess.Popen(  # noqa: S603 - fixed argv
            argv,
            stdout=stdout,
            stderr=err,
            stdin=subprocess.DEVNULL,
            env=child_env(srv),
            cwd=work,
        )
        try:
            wait_ready(proc, ready)
            at_ready = cpu_so_far(proc.pid)
            send_s = send(srv, channel, n, rate=rate)
            rc, cpu, maxrss = reap(proc)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            if stdout is not subprocess.DEVNULL:
                stdout.close()
    if rc != 0:
        raise RuntimeError(f"{kind} exited {rc}: {err_path.read_text()[-2000:]}")
    received = verify(kind, out, channel, n)
    return {
        "cpu": cpu,
        "window": cpu - at_ready,
        "maxrss": maxrss,
        "send_s": send_s,
        "received": received,
    }


def verify(kind: str, out: Path, channel: str, n: int) -> int:
    """Every sequence number exactly once, data as sent; returns the number of lines."""
    lines = out.read_text(encoding="utf-8").splitlines()
    seen: set[int] = set()
    for line in lines:
        obj = json.loads(line)
        if kind == "pushcli":
            if obj["channel"] != channel or obj["event"] != EVENT:
                raise AssertionError(f"unexpected line {line[:200]}")
            data = obj["data"]
        else:
            data = obj
        seq = data["seq"]
        if seq in seen:
            raise AssertionError(f"{kind}: sequence number {seq} twice")
        if data != payload(seq):
            raise AssertionError(f"{kind}: data of {seq} differs: {data!r}")
        seen.add(seq)
    if len(lines) != n or seen != set(range(n)):
        missing = sorted(set(range(n)) - seen)[:10]
        raise AssertionError(f"{kind}: {len(lines)} lines of {n}; missing e.g. {missing}")
    return len(lines)


def cpu_rounds(srv: Soketi, args: argparse.Namespace, work: Path, script: Path) -> None:
    kinds = ["pushcli", "bare", "bare+flush"]
    per_event: dict[str, list[float]] = {k: [] for k in kinds}
    base: dict[str, list[float]] = {k: [] for k in kinds}
    whole: dict[str, list[float]] = {k: [] for k in kinds}
    send_rates: list[float] = []
    n = args.events
    for r in range(args.rounds):
        order = kinds if r % 2 == 0 else kinds[::-1]
        for kind in order:
            one = run_receiver(kind, srv, 1, work, script)
            full = run_receiver(kind, srv, n, work, script, rate=args.rate)
            us = (full["window"] - one["window"]) / (n - 1) * 1e6
            per_event[kind].append(us)
            whole[kind].append((full["cpu"] - one["cpu"]) / (n - 1) * 1e6)
            base[kind].append(one["cpu"] - one["window"])
            send_rates.append(n / full["send_s"])
            print(
                f"round {r + 1} {kind:10}  {us:6.1f} us/event   received {full['received']}/{n}"
                f"   cpu {full['cpu']:.2f} s, {full['window']:.2f} s after ready"
                f" (1 event: {one['cpu']:.2f} s, {one['window']:.3f} s)"
                f"   max RSS {full['maxrss'] / 1024:.0f} MiB   sent at {n / full['send_s']:,.0f}/s",
                flush=True,
            )
    med = {k: statistics.median(v) for k, v in per_event.items()}
    pace = f"paced at {args.rate:,.0f}/s" if args.rate else "flat out"
    print(
        f"\nCPU per event, median of {args.rounds} rounds ({n} events, {args.server}; "
        f"sender {pace}, median {statistics.median(send_rates):,.0f} events/s):"
    )
    for k in kinds:
        print(
            f"  {k:10} {med[k]:6.1f} us/event   (whole runs minus the 1-event run: "
            f"{statistics.median(whole[k]):.1f}; start, connect, subscribe: "
            f"{statistics.median(base[k]):.2f} s)"
        )
    print(f"  pushcli / bare        {med['pushcli'] / med['bare']:.2f}x   (target <= 1.5)")
    print(f"  pushcli / bare+flush  {med['pushcli'] / med['bare+flush']:.2f}x")
    if args.profile:
        prof = Path(args.profile).resolve()
        run_receiver("pushcli", srv, n, work, script, profile=prof, rate=args.rate)
        import pstats

        print(f"\ncProfile of one pushcli run ({prof}), top 25 by own time:")
        pstats.Stats(str(prof)).sort_stats("tottime").print_stats(25)


# --------------------------------------------------------------------------- live view RSS


class PtyDrain(threading.Thread):
    """Reads the terminal's master side until EOF; remembers the last 'events N' shown."""

    EVENTS = re.compile(rb"events (\d+)")

    def __init__(self, fd: int) -> None:
        super().__init__(daemon=True)
        self.fd = fd
        self.shown = 0
        self.bytes = 0
        self._tail = b""

    def run(self) -> None:
        while True:
            try:
                chunk = os.read(self.fd, 65536)
            except OSError:  # EIO once the child side is closed
                return
            if not chunk:
                return
            self.bytes += len(chunk)
            text = self._tail + chunk
            found = self.EVENTS.findall(text)
            if found:
                self.shown = max(self.shown, int(found[-1]))
            self._tail = text[-64:]


def vm_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def rss_run(srv: Soketi, args: argparse.Namespace, work: Path) -> None:
    bursts, size = args.rss_bursts, args.rss_burst
    total = bursts * size
    channel = f"bench-live-{uuid.uuid4().hex[:8]}"
    ready = work / "live.ready"
    ready.unlink(missing_ok=True)
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    env = child_env(srv, TERM="xterm-256color", COLUMNS="120", LINES="40")
    env.pop("NO_COLOR", None)
    err_path = work / "live.err"
    with open(err_path, "wb") as err:
        proc = subprocess.Popen(  # noqa: S603 - fixed argv
            [
                sys.executable,
                "-m",
                "pushcli",
                "listen",
                channel,
                "--count",
                str(total),
                "--timeout",
                "900",
                "--ready-file",
                str(ready),
            ],
            stdin=slave,
            stdout=slave,
            stderr=err,
            env=env,
            cwd=work,
            start_new_session=True,
        )
    os.close(slave)
    drain = PtyDrain(master)
    drain.start()
    samples: list[int] = []
    started = time.perf_counter()
    try:
        wait_ready(proc, ready)
        print(
            f"\nlive view (pid {proc.pid}) under a pty: {bursts} bursts x {size:,} events",
            flush=True,
        )
        for b in range(bursts):
            send(srv, channel, size, first=b * size)
            want = (b + 1) * size
            deadline = time.monotonic() + 60
            while drain.shown < want and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.05)
            try:
                samples.append(vm_rss_kib(proc.pid))
            except (OSError, RuntimeError):
                break  # the last burst: it already exited after --count events
            print(
                f"  burst {b + 1:2}: view shows {drain.shown:7,} events   "
                f"VmRSS {samples[-1] / 1024:6.1f} MiB",
                flush=True,
            )
        rc, cpu, maxrss = reap(proc, timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        drain.join(5)
        os.close(master)
    wall = time.perf_counter() - started
    print(
        f"\nlive view: exit {rc} after --count {total:,} "
        f"({'all received' if rc == 0 else 'NOT all received: ' + err_path.read_text()[-500:]})"
    )
    print(
        f"  CPU {cpu:.1f} s for {total:,} events = {cpu / total * 1e6:.1f} us/event (drawing "
        f"included); {drain.bytes / 1024:,.0f} KiB drawn; wall {wall:.1f} s"
    )
    if samples:
        k = min(4, len(samples) - 1)
        growth = (samples[-1] - samples[k]) / 1024
        print(
            f"  VmRSS first {samples[0] / 1024:.1f} MiB, last {samples[-1] / 1024:.1f} MiB, "
            f"max {max(samples) / 1024:.1f} MiB (ru_maxrss {maxrss / 1024:.1f} MiB); "
            f"burst {k + 1} -> burst {len(samples)}: {growth:+.1f} MiB"
        )


# --------------------------------------------------------------------------- main


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--server", choices=["soketi", "embedded"], default="soketi")
    ap.add_argument("--events", type=int, default=20_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument(
        "--rate",
        type=float,
        default=0.0,
        help="pace the CPU runs' sender at this many events/s (default: flat out)",
    )
    ap.add_argument("--rss-bursts", type=int, default=20)
    ap.add_argument("--rss-burst", type=int, default=10_000)
    ap.add_argument("--skip-cpu", action="store_true")
    ap.add_argument("--skip-rss", action="store_true")
    ap.add_argument("--profile", metavar="FILE", help="also run pushcli once under cProfile")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-listen-") as tmp:
        work = Path(tmp)
        logs = work / "server"  # the server's log (and cwd), removed with the rest
        srv: Soketi = Soketi(logs) if args.server == "soketi" else EmbeddedServer(logs)
        script = work / "bare_receiver.py"
        script.write_text(BARE)
        try:
            srv.start()
            print(f"{args.server} on 127.0.0.1:{srv.port} (pid {srv.pid})", flush=True)
            if not args.skip_cpu:
                cpu_rounds(srv, args, work, script)
            if not args.skip_rss:
                rss_run(srv, args, work)
        finally:
            srv.stop()


if __name__ == "__main__":
    main()
