"""pushcli bench against soketi and ``pushcli serve``, checked against an independent subscriber.

The independent count comes from the raw protocol-7 client in servers.py (a connection of its
own, subscribed to the bench channels before the run): what it receives per channel, times the
bench subscribers on that channel, must equal what bench reports.
"""

from __future__ import annotations

import csv
import json
import uuid

import pytest
from servers import free_tcp_ports, subscriber_thread
from typer.testing import CliRunner

from pushcli.app import bench
from pushcli.cli import app
from pushcli.client import benchwire
from pushcli.client.profiles import Settings
from pushcli.errors import ExitCode

runner = CliRunner()
ORDER = ("min", "p50", "p90", "p99", "p99.9", "max")


def run_bench(*args: str, env: dict[str, str] | None = None):
    return runner.invoke(app, ["bench", *args], env=env)


def assert_ordered(latency: dict) -> None:
    values = [latency[k] for k in ORDER]
    assert all(isinstance(v, float) for v in values), latency
    assert values == sorted(values), latency
    assert latency["min"] <= latency["mean"] <= latency["max"]


@pytest.mark.parametrize(
    "mode", [["--max"], ["--batch", "--rate", "2000"]], ids=["single-max", "batch-rate"]
)
def test_report_matches_an_independent_count(pusher_server_env, tmp_path, mode):
    run_id = uuid.uuid4().hex[:8]
    channels = [f"bench-{run_id}-0", f"bench-{run_id}-1"]
    out_csv = tmp_path / "run.csv"
    with subscriber_thread(pusher_server_env.ws_url, channels) as independent:
        r = run_bench(
            "--run-id",
            run_id,
            "--channels",
            "2",
            "--subscribers",
            "5",
            "--messages",
            "200",
            "--json",
            "--csv",
            str(out_csv),
            *mode,
        )
        assert r.exit_code == 0, r.stderr
        seen = independent.wait_for(200, timeout=10)
    report = json.loads(r.stdout)

    # the independent subscriber: every message once, 100 per channel
    assert len(independent.events) == 200
    per_channel = {c: [e for e in seen if e["channel"] == c] for c in channels}
    assert {c: len(v) for c, v in per_channel.items()} == dict.fromkeys(channels, 100)
    assert sorted(json.loads(e["data"])["seq"] for e in seen) == list(range(200))

    # bench's own numbers agree: subscriber i listens on channel i % 2 (3 and 2 subscribers)
    assert report["channels"] == [
        {"name": channels[0], "subscribers": 3, "sent": 100, "delivered": 3 * 100},
        {"name": channels[1], "subscribers": 2, "sent": 100, "delivered": 2 * 100},
    ]
    for ch in report["channels"]:
        assert ch["delivered"] == len(per_channel[ch["name"]]) * ch["subscribers"]
    d, p = report["delivery"], report["publish"]
    assert d["expected"] == d["delivered"] == 500
    assert (d["lost"], d["duplicates"], d["disconnects"], d["unreadable"]) == (0, 0, 0, 0)
    assert p["messages"] == 200 and p["failed"] == 0
    assert p["requests"] == (20 if "--batch" in mode else 200)
    assert d["per_second"] > 0 and p["per_second"] > 0
    assert_ordered(d["latency_ms"])
    assert_ordered(p["latency_ms"])
    assert set(report) == {
        "run_id",
        "server",
        "event",
        "config",
        "connect_seconds",
        "publish",
        "delivery",
        "channels",
        "client_cpu_percent",
        "client_cpu_peak_percent",
        "notes",
    }
    assert report["run_id"] == run_id and report["config"]["subscribers"] == 5

    # --csv: one row per message received, consistent with the report
    with out_csv.open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == d["delivered"]
    assert tuple(rows[0]) == bench.CSV_COLUMNS
    for row in rows:
        sub = int(row["subscriber"])
        assert row["channel"] == channels[sub % 2]
        assert int(row["seq"]) % 2 == sub % 2  # message seq goes to channel seq % 2
        latency = float(row["received_ms"]) - float(row["sent_ms"])
        assert abs(latency - float(row["latency_ms"])) < 0.01
        assert row["duplicate"] == "0"
    by_sub: dict[int, set[int]] = {}
    for row in rows:
        by_sub.setdefault(int(row["subscriber"]), set()).add(int(row["seq"]))
    assert by_sub == {s: set(range(s % 2, 200, 2)) for s in range(5)}
    latencies = sorted(float(row["latency_ms"]) for row in rows)
    assert abs(latencies[-1] - d["latency_ms"]["max"]) < 0.01


def test_duration_mode_and_table(pusher_server_env):
    r = run_bench("--subscribers", "2", "--duration", "0.5", "--rate", "40")
    assert r.exit_code == 0, r.stderr
    report = json.loads(r.stdout)  # not a terminal: JSON
    sent = report["publish"]["messages"]
    # due at 0, 1/40 ... 19/40 s (the 21st would be due at 0.5 s); a late one is not sent
    assert 17 <= sent <= 20
    assert report["delivery"]["delivered"] == report["delivery"]["expected"] == 2 * sent
    assert "bench " in r.stderr and "2 subscribers on 1 channel" in r.stderr


def test_server_errors_exit_5_and_unreachable_exits_6(pusher_server, monkeypatch):
    for name, value in pusher_server.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("PUSHER_APP_SECRET", "wrong")  # refused at signin (WS) or trigger (REST)
    r = run_bench("--subscribers", "2", "--messages", "5")
    assert r.exit_code == ExitCode.REJECTED, r.stderr
    assert "refused" in r.stderr or "rejected" in r.stderr
    monkeypatch.setenv("PUSHER_PORT", str(free_tcp_ports(1)[0]))
    r = run_bench("--subscribers", "2", "--messages", "5")
    assert r.exit_code == ExitCode.UNAVAILABLE, r.stderr
    assert "connection refused" in r.stderr


# --- refusal on pusher.com (before any connection: no network here) ---------------------------

CLUSTER_ENV = {
    "PUSHER_APP_ID": "123456",
    "PUSHER_APP_KEY": "app-key",
    "PUSHER_APP_SECRET": "app-secret",
    "PUSHER_APP_CLUSTER": "eu",
}


@pytest.mark.parametrize(
    "args",
    [
        ["--subscribers", "20"],  # default 100 messages x 20 = 2,000 deliveries
        ["--messages", "500", "--subscribers", "3"],
        ["--rate", "50", "--messages", "10", "--subscribers", "1"],
        ["--max", "--messages", "10", "--subscribers", "1"],
        ["--max", "--duration", "1", "--subscribers", "1"],
    ],
)
def test_refuses_a_costly_load_on_a_cluster_without_yes(monkeypatch, args):
    def no_network(*a, **k):
        raise AssertionError("bench tried to connect")

    monkeypatch.setattr(benchwire, "connect", no_network)
    monkeypatch.setattr(benchwire.Publisher, "run", no_network)
    r = run_bench(*args, env=CLUSTER_ENV)
    assert r.exit_code == ExitCode.INPUT, r.stderr
    assert "pusher.com cluster eu" in r.stderr and "--yes" in r.stderr
    assert "quota" in r.stderr or "no bound" in r.stderr
    assert r.stdout == ""


def test_cluster_limits_are_pure():
    cluster = Settings(app_id="1", key="k", secret="s", cluster="mt1")  # noqa: S106
    local = Settings(app_id="1", key="k", secret="s", host="127.0.0.1", port=6001)  # noqa: S106
    small = bench.make_plan(cluster)  # the cluster defaults are a small load
    assert (small.subscribers, small.messages, small.rate) == (5, 100, 10.0)
    bench.check_cost(small, cluster, yes=False)
    big = bench.make_plan(cluster, subscribers=50, messages=2000, max_rate=True)
    with pytest.raises(Exception, match="102,000 messages"):
        bench.check_cost(big, cluster, yes=False)
    bench.check_cost(big, cluster, yes=True)
    bench.check_cost(bench.make_plan(local, subscribers=50, max_rate=True), local, yes=False)
    assert bench.make_plan(local).subscribers == 10


def test_percentiles_are_exact_nearest_rank():
    ms = [i * 1_000_000 for i in range(1, 1001)]  # 1..1000 ms
    p = bench.percentiles(list(reversed(ms)))
    assert (p["min"], p["p50"], p["p90"], p["p99"], p["p99.9"], p["max"]) == (
        1.0,
        500.0,
        900.0,
        990.0,
        999.0,
        1000.0,
    )
    assert p["mean"] == 500.5
    assert bench.percentiles([])["p50"] is None


def test_payload_has_the_requested_size():
    for size in (64, 100, 4096):
        data = benchwire.payload(123456, 98765432101234, size)
        assert len(data.encode()) == size
        assert json.loads(data)["seq"] == 123456
    frame = json.dumps({"event": "bench", "data": benchwire.payload(7, 9, 80)})
    assert benchwire.parse(frame) == (7, 9)  # any JSON layout: the fast path or json.loads
    assert benchwire.parse(json.dumps({"event": "bench", "data": {"seq": 7, "t": 9}})) == (7, 9)
    assert benchwire.parse('{"event":"pusher:ping","data":{}}') == "pusher:ping"
    assert benchwire.parse("not json") is None


@pytest.mark.parametrize(
    "args, message",
    [
        (["--rate", "5", "--max"], "--rate or --max"),
        (["--messages", "5", "--duration", "1"], "--messages or --duration"),
        (["--channels", "3", "--subscribers", "2"], "at least as many subscribers"),
        (["--size", "10"], "--size must be between"),
        (["--csv", "/nonexistent-dir/x.csv"], "directory does not exist"),
    ],
)
def test_bad_options(args, message):
    env = {**CLUSTER_ENV, "PUSHER_APP_CLUSTER": "", "PUSHER_HOST": "127.0.0.1", "PUSHER_PORT": "9"}
    r = run_bench(*args, env=env)
    assert r.exit_code == ExitCode.INPUT, r.stderr
    assert message in r.stderr


# --- the accounting, on synthetic deliveries ----------------------------------------------------


def test_loss_duplicates_and_failed_publishes_are_counted_per_subscriber():
    local = Settings(app_id="1", key="k", secret="s", host="127.0.0.1", port=6001)  # noqa: S106
    plan = bench.make_plan(local, channels=2, subscribers=3, messages=7, run_id="t")
    pub = benchwire.Publisher(plan, local, retries=0)
    pub.sent, pub.per_channel, pub.failed = 6, [3, 3], {6}  # seq 6 (channel 0) was refused
    pub.started_ns, pub.finished_ns = 0, 1_000_000_000
    d = benchwire.Deliveries(3)  # subscribers 0 and 2 on channel 0, 1 on channel 1
    for sub, seq in [
        (0, 0),
        (0, 2),
        (0, 0),
        (2, 0),
        (2, 2),
        (2, 4),
        (2, 6),
        (1, 1),
        (1, 3),
        (1, 5),
    ]:
        d.record(sub, seq, sent_ns=seq * 1000, recv_ns=seq * 1000 + 2_000_000)
    r = bench.report(plan, local, pub, d, connect_seconds=0.1, cpu=(0.5, 0.6))
    delivery = r["delivery"]
    assert delivery["expected"] == 3 * 2 + 3 * 1
    assert delivery["lost"] == 1  # subscriber 0 missed seq 4; seq 6 arriving is not a loss
    assert delivery["duplicates"] == 1 and delivery["delivered"] == 9
    assert delivery["latency_ms"]["p50"] == 2.0
    assert [c["delivered"] for c in r["channels"]] == [6, 3]


def test_loss_exits_7_after_printing_the_report(monkeypatch):
    env = {**CLUSTER_ENV, "PUSHER_APP_CLUSTER": "", "PUSHER_HOST": "127.0.0.1", "PUSHER_PORT": "9"}

    async def lossy_run(plan, settings, **kwargs):
        return {
            "run_id": plan.run_id,
            "notes": ["subscriber 1: connection closed (1006)"],
            "delivery": {"lost": 3, "expected": 10},
            "publish": {"failed": 0},
        }

    monkeypatch.setattr(bench, "run", lossy_run)
    r = run_bench("--subscribers", "2", "--messages", "5", "--json", env=env)
    assert r.exit_code == ExitCode.PARTIAL
    assert json.loads(r.stdout)["delivery"]["lost"] == 3
    assert "3 of 10 deliveries lost" in r.stderr and "note: subscriber 1" in r.stderr
