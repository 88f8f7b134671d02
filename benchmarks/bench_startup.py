"""Startup: `pushcli --version` and `--help` against bare Typer baselines, in one script.

    .venv/bin/python benchmarks/bench_startup.py [--runs 20]

Targets: --version within 1.25x of `python -c "import typer"`; --help within 1.2x of a
two-command Typer app's --help. Runs are interleaved; medians reported.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TWO_COMMANDS = '''
import typer
app = typer.Typer()

@app.command()
def hello(name: str) -> None:
    """Say hello."""

@app.command()
def bye(name: str, loud: bool = False) -> None:
    """Say bye."""

app()
'''


def timed(cmd: list[str], env: dict[str, str]) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=True)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=20)
    args = ap.parse_args()
    py = sys.executable
    exe = str(Path(py).parent / "pushcli")  # the installed console script, as users run it
    with tempfile.TemporaryDirectory() as tmp:
        app = Path(tmp) / "two.py"
        app.write_text(TWO_COMMANDS)
        env = {**os.environ, "PUSHCLI_CONFIG": str(Path(tmp) / "none.toml"), "COLUMNS": "100"}
        cases = {
            "import typer": [py, "-c", "import typer"],
            "pushcli --version": [exe, "--version"],
            "two-command --help": [py, str(app), "--help"],
            "pushcli --help": [exe, "--help"],
        }
        for cmd in cases.values():  # warm the file cache and .pyc files
            timed(cmd, env)
        res: dict[str, list[float]] = {k: [] for k in cases}
        for _ in range(args.runs):
            for k, cmd in cases.items():
                res[k].append(timed(cmd, env))
    med = {k: statistics.median(v) * 1000 for k, v in res.items()}
    for k, v in med.items():
        print(f"  {k:22s} {v:7.1f} ms")
    print(
        f"  --version: {med['pushcli --version'] / med['import typer']:.2f}x import typer (target <= 1.25)"
    )
    print(
        f"  --help:    {med['pushcli --help'] / med['two-command --help']:.2f}x two-command app (target <= 1.2)"
    )


if __name__ == "__main__":
    main()
