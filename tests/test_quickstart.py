"""The README's first command: `listen --serve --demo` shows the whole job in one process."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from servers import free_tcp_ports

from pushcli.errors import ExitCode


def run_listen(
    *args: str, env: dict[str, str], timeout: float = 20
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pushcli", "listen", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **env},
    )


def test_serve_and_demo_in_one_command() -> None:
    port = free_tcp_ports(1)[0]
    env = {
        "PUSHER_APP_ID": "app-id",
        "PUSHER_APP_KEY": "app-key",
        "PUSHER_APP_SECRET": "app-secret",
        "PUSHER_HOST": "127.0.0.1",
        "PUSHER_PORT": str(port),
    }
    p = run_listen("demo", "--serve", "--demo", "--count", "2", "--json", env=env)
    assert p.returncode == 0, p.stderr
    lines = [json.loads(line) for line in p.stdout.splitlines()]
    assert [(e["channel"], e["event"], e["data"]["n"]) for e in lines] == [
        ("demo", "demo", 1),
        ("demo", "demo", 2),
    ]
    assert "pushcli serve" not in p.stderr  # no "start a server" hint when we run one


def test_serve_refuses_a_remote_profile_and_a_busy_port(embedded) -> None:  # type: ignore[no-untyped-def]
    remote = {
        "PUSHER_APP_ID": "1",
        "PUSHER_APP_KEY": "k",
        "PUSHER_APP_SECRET": "s",
        "PUSHER_APP_CLUSTER": "eu",
    }
    p = run_listen("demo", "--serve", "--count", "1", "--json", env=remote)
    assert p.returncode == ExitCode.INPUT and "pusher.com cluster eu" in p.stderr
    p = run_listen("demo", "--serve", "--count", "1", "--json", env=embedded.env())
    assert p.returncode == ExitCode.UNAVAILABLE and "drop --serve" in p.stderr


def test_sigterm_stops_cleanly(embedded, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """CI scripts kill background listeners: SIGTERM closes like Ctrl-C (130); servers exit 0."""
    import signal
    import time

    ready = tmp_path / "ready"
    env = {**os.environ, **embedded.env()}
    listen = subprocess.Popen(
        [sys.executable, "-m", "pushcli", "listen", "term", "--json", "--ready-file", str(ready)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    port = free_tcp_ports(1)[0]
    auth = subprocess.Popen(
        [sys.executable, "-m", "pushcli", "auth", "serve", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    deadline = time.time() + 15
    while not ready.exists() and time.time() < deadline:
        time.sleep(0.05)
    assert ready.exists()
    time.sleep(0.5)
    listen.send_signal(signal.SIGTERM)
    auth.send_signal(signal.SIGTERM)
    _, err = listen.communicate(timeout=10)
    assert listen.returncode == ExitCode.INTERRUPTED, err
    assert "closed" in err and "Traceback" not in err
    _, err = auth.communicate(timeout=10)
    assert auth.returncode == 0 and "Traceback" not in err
