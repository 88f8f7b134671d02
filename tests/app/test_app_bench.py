"""app/bench.bench against a real server: a BenchResult, and the CSV it wrote."""

from __future__ import annotations

from pathlib import Path

from pushcli.app import bench
from pushcli.client.profiles import resolve


def test_bench_returns_the_report_and_writes_the_csv(pusher_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings = resolve(
        flags={}, env=pusher_server.env(), config_file="/nonexistent/pushcli.toml", hint=False
    )
    csv_file = tmp_path / "run.csv"
    result = bench.bench(
        settings, subscribers=2, messages=10, rate=200, drain=3, csv_file=csv_file, run_id="appb"
    )
    assert isinstance(result, bench.BenchResult)
    assert result.plan.run_id == "appb" and result.plan.subscribers == 2
    d = result.report["delivery"]
    assert (d["expected"], d["delivered"], d["lost"]) == (20, 20, 0)
    assert result.error is None
    assert not any(k.startswith("_") for k in result.report)  # the raw samples stay out
    assert result.csv_rows == 20 and result.csv_file == csv_file
    assert len(csv_file.read_text().splitlines()) == 21  # header + one row per delivery
