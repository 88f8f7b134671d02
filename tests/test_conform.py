"""pushcli conform: every check passes on the embedded server, soketi's known deviations are
reported as failures by name, and each fault a stand-in server commits trips its checks (and
only those).

Servers: ``pushcli serve`` (subprocess, the ``embedded`` fixture and private ones for webhooks
and a short activity timeout), soketi 1.6.1 (``soketi``, ``soketi_restartable``, and a private
one posting webhooks), and the stand-ins of standins.py (in this process).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
import standins
from servers import (
    EmbeddedServer,
    Soketi,
    SoketiUnavailable,
    check_soketi_available,
    free_tcp_ports,
)
from typer.testing import CliRunner

from pushcli.app.conform.checks import ALL
from pushcli.app.conform.model import GROUPS
from pushcli.cli import app
from pushcli.errors import ExitCode

NAMES = {c.name for c in ALL}
KEYS = {"name", "group", "status", "expected", "observed", "rule"}
WEBHOOKS = {c.name for c in ALL if c.group == "webhooks"}


def conform(env: dict[str, str], *args: str) -> tuple[int, dict[str, Any], str]:
    """Run ``pushcli conform --json ARGS`` in this process: (exit code, document, stderr)."""
    result = CliRunner().invoke(app, ["conform", "--json", *args], env=env)
    try:
        doc = json.loads(result.stdout) if result.stdout.strip() else {}
    except ValueError:
        pytest.fail(f"not JSON: {result.stdout!r} (stderr {result.stderr!r})")
    return result.exit_code, doc, result.stderr


def by_status(doc: dict[str, Any], status: str) -> set[str]:
    return {c["name"] for c in doc["checks"] if c["status"] == status}


def exits(server: Soketi, within: float = 10.0) -> bool:
    deadline = time.monotonic() + within
    while server.is_running() and time.monotonic() < deadline:
        time.sleep(0.05)
    return not server.is_running()


def observed(doc: dict[str, Any], name: str) -> str:
    return next(c["observed"] for c in doc["checks"] if c["name"] == name)


# --------------------------------------------------------------------------- the embedded server


def test_embedded_server_passes_every_check(embedded: EmbeddedServer) -> None:
    code, doc, stderr = conform(embedded.env(), "--destructive")
    failed = {c["name"]: c["observed"] for c in doc["checks"] if c["status"] == "fail"}
    assert code == 0 and not failed, (failed, stderr)
    assert {c["name"] for c in doc["checks"]} == NAMES
    # what cannot run without a webhook receiver or a short activity_timeout is skipped
    assert by_status(doc, "skip") == WEBHOOKS | {"activity_timeout"}
    assert all(set(c) == KEYS for c in doc["checks"])
    assert (doc["passed"], doc["failed"], doc["skipped"]) == (
        len(NAMES) - len(WEBHOOKS) - 1,
        0,
        len(WEBHOOKS) + 1,
    )
    assert doc["server"] == f"http://127.0.0.1:{embedded.port}"


def test_embedded_webhooks_and_keepalive(tmp_path: Path) -> None:
    """With its webhook URL on conform's receiver and a 1 s activity timeout, the embedded
    server passes the webhook checks and the server-ping check too."""
    (port,) = free_tcp_ports(1)
    server = EmbeddedServer(
        tmp_path / "serve",
        extra_args=["--webhook-url", f"http://127.0.0.1:{port}/", "--activity-timeout", "1"],
    ).start()
    try:
        code, doc, stderr = conform(
            server.env(), "--only", "webhooks", "--only", "websocket", "--webhook-port", str(port)
        )
    finally:
        server.stop()
    assert code == 0, ([c for c in doc.get("checks", []) if c["status"] != "pass"], stderr)
    assert by_status(doc, "pass") >= WEBHOOKS | {"activity_timeout"}
    assert by_status(doc, "skip") == {"malformed_subscribe"}  # needs --destructive


# --------------------------------------------------------------------------- soketi

#: what soketi 1.6.1 gets wrong, each by the name of the check that catches it
SOKETI_DEVIATIONS = {
    # HTTP API errors answered with status 200 and the error in the body
    "http_error_status",
    "http_bad_signature",
    "http_bad_body_md5",
    "http_unknown_app",
    "http_data_too_large",
    "http_batch_over_10",
    "http_channels_over_100",
    # no auth_timestamp check, no auth_key check
    "http_old_timestamp",
    "http_wrong_auth_key",
    # members without user_info left out of presence.hash (pusher-js never lists them)
    "presence_hash_without_user_info",
    # info ignored on trigger and batch; user_count missing from /channels
    "trigger_info",
    "batch_info",
    "channels_info_user_count",
    # client events relayed on public and on encrypted channels
    "client_event_public_refused",
    "client_event_encrypted_refused",
    # no pusher_internal:subscription_count
    "subscription_count",
    # ?protocol=99 accepted; a message that is not JSON ignored without a pusher:error
    "unsupported_protocol",
    "invalid_json",
}


def test_soketi_deviations_are_failures_by_name(soketi: Soketi) -> None:
    code, doc, _ = conform(soketi.env(), "--timeout", "1")
    assert code == ExitCode.NONCONFORMING
    assert by_status(doc, "fail") == SOKETI_DEVIATIONS
    assert "with the error in the body (code 401)" in observed(doc, "http_error_status")
    assert observed(doc, "http_old_timestamp").startswith("accepted: HTTP 200")
    assert "missing from presence.hash" in observed(doc, "presence_hash_without_user_info")
    assert observed(doc, "client_event_public_refused").startswith("relayed")
    assert "user_count 2" in observed(doc, "channels_info_user_count")
    assert doc["failed"] == len(SOKETI_DEVIATIONS)
    assert soketi.is_running()  # nothing in the default run can take a server down


def test_soketi_destructive_checks(soketi_restartable: Soketi) -> None:
    """soketi exits on a subscribe frame without data and on {"batch": 5}; it has no client
    event rate limit by default; terminate_connections and the member limit work."""
    server = soketi_restartable
    code, doc, _ = conform(server.env(), "--destructive", "--only", "websocket", "--timeout", "1")
    assert code == ExitCode.NONCONFORMING
    assert "malformed_subscribe" in by_status(doc, "fail")
    # soketi shuts down: the check sees either its closing 4200 or the refused reconnect first
    seen = observed(doc, "malformed_subscribe")
    assert "stopped accepting connections" in seen or "closed the connection (4200)" in seen, seen
    assert exits(server)
    server.stop()
    server.start()
    code, doc, _ = conform(
        server.env(),
        "--destructive",
        *("--only", "http-api", "--only", "client-events", "--only", "presence"),
        *("--timeout", "1"),
    )
    failed = by_status(doc, "fail")
    assert {"http_malformed_batch", "client_event_rate_limit"} <= failed
    assert {"terminate_connections", "presence_member_limit"} <= by_status(doc, "pass")
    assert "stopped answering" in observed(doc, "http_malformed_batch")
    assert observed(doc, "client_event_rate_limit").startswith("20 of 20 relayed")
    assert exits(server)


def test_soketi_webhooks_are_not_retried(tmp_path: Path) -> None:
    try:
        check_soketi_available()
    except SoketiUnavailable as e:
        pytest.skip(str(e))
    (port,) = free_tcp_ports(1)
    events = [
        "channel_occupied",
        "channel_vacated",
        "member_added",
        "member_removed",
        "client_event",
    ]
    server = Soketi(
        tmp_path / "soketi", webhooks=[{"url": f"http://127.0.0.1:{port}/", "event_types": events}]
    )
    server.start()
    try:
        code, doc, _ = conform(
            server.env(), "--only", "webhooks", "--webhook-port", str(port), "--timeout", "1"
        )
    finally:
        server.stop()
    assert code == ExitCode.NONCONFORMING
    assert by_status(doc, "fail") == {"webhook_retry"}
    assert "not delivered again" in observed(doc, "webhook_retry")


# --------------------------------------------------------------------------- stand-ins

#: fault -> (groups to run, the checks it must fail, and no other)
FAULTS: dict[str, tuple[tuple[str, ...], set[str]]] = {
    "errors_in_200_body": (
        ("http-api",),
        {
            "http_error_status",
            "http_bad_signature",
            "http_bad_body_md5",
            "http_old_timestamp",
            "http_wrong_auth_key",
            "http_unknown_app",
            "http_data_too_large",
            "http_batch_over_10",
            "http_channels_over_100",
        },
    ),
    "echo_client_events": (("client-events",), {"client_event_not_echoed"}),
    "drop_members_without_user_info": (("presence",), {"presence_hash_without_user_info"}),
    "client_events_anywhere": (
        ("client-events",),
        {"client_event_public_refused", "client_event_encrypted_refused"},
    ),
    "any_signature": (
        ("websocket", "encrypted"),
        {"private_bad_signature", "presence_tampered_channel_data", "encrypted_needs_auth"},
    ),
    "no_timestamp_check": (("http-api",), {"http_old_timestamp"}),
    "ignore_info": (
        ("http-api",),
        {"trigger_info", "batch_info", "channels_info_user_count", "channel_info"},
    ),
    "no_cache": (("cache",), {"cache_last_event", "private_cache_last_event"}),
    "no_subscription_count": (("websocket",), {"subscription_count"}),
    "member_added_per_connection": (("presence",), {"presence_same_user_counted_once"}),
    "ignore_unsubscribe": (
        ("websocket", "presence"),
        {"unsubscribe", "presence_member_removed", "presence_removed_when_last_leaves"},
    ),
    "forged_webhook_signature": (("webhooks",), {"webhook_signature"}),
    "no_webhook_retry": (("webhooks",), {"webhook_retry"}),
}


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_fault_fails_its_checks_only(fault: str, monkeypatch: pytest.MonkeyPatch) -> None:
    groups, expected = FAULTS[fault]
    args = [a for g in groups for a in ("--only", g)]
    urls: tuple[str, ...] = ()
    if "webhooks" in groups:
        (port,) = free_tcp_ports(1)
        urls, args = (f"http://127.0.0.1:{port}/",), [*args, "--webhook-port", str(port)]
    with standins.FaultyServer(getattr(standins, fault), monkeypatch, webhook_urls=urls) as server:
        code, doc, stderr = conform(server.env(), *args, "--timeout", "1")
    assert by_status(doc, "fail") == expected, (doc, stderr)
    assert code == ExitCode.NONCONFORMING


def test_errors_as_200_stand_in() -> None:
    """An independent HTTP server answering everything 200 + error body: each HTTP error
    check says so, and the WebSocket checks fail on the handshake."""
    with standins.errors_as_200() as port:
        code, doc, _ = conform(standins.env_for(port), "--only", "http-api", "--timeout", "1")
    assert code == ExitCode.NONCONFORMING
    for name in ("http_error_status", "http_bad_signature", "http_data_too_large"):
        assert "with the error in the body (code 401)" in observed(doc, name)
    assert by_status(doc, "pass") == set()


# --------------------------------------------------------------------------- the command


def test_unreachable_server_exits_6_before_any_check(monkeypatch: pytest.MonkeyPatch) -> None:
    (port,) = free_tcp_ports(1)
    result = CliRunner().invoke(app, ["conform"], env=standins.env_for(port))
    assert result.exit_code == ExitCode.UNAVAILABLE
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and "cannot connect to 127.0.0.1" in result.stderr


def test_usage_and_config_errors() -> None:
    env = standins.env_for(free_tcp_ports(1)[0])
    result = CliRunner().invoke(app, ["conform", "--only", "nonsense"], env=env)
    assert result.exit_code == ExitCode.USAGE and "websocket" in result.stderr
    result = CliRunner().invoke(app, ["conform"], env={**env, "PUSHER_APP_SECRET": ""})
    assert result.exit_code == ExitCode.CONFIG and "secret" in result.stderr


def test_message_count_is_said_first_for_pusher_com(
    embedded: EmbeddedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Against a pusher.com cluster (simulated: the decision is forced on a local server),
    stderr says how many messages will be sent before anything is sent."""
    from pushcli.app.conform import runner

    said: list[str] = []
    real_run = runner.run

    def run(*a: Any, **kw: Any) -> Any:
        said.append("run")
        return real_run(*a, **kw)

    monkeypatch.setattr(runner, "is_pusher_com", lambda settings: True)
    monkeypatch.setattr(runner, "run", run)
    code, doc, stderr = conform(embedded.env(), "--only", "cache")
    expected = runner.message_estimate(runner.select(["cache"]), destructive=False)
    assert code == 0 and said == ["run"]
    assert f"will send about {expected} messages" in stderr and expected > 0


def test_terminal_table_groups_checks_with_a_summary(
    embedded: EmbeddedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("pushcli.ui.render.stdout_is_tty", lambda: True)
    monkeypatch.setenv("COLUMNS", "160")
    result = CliRunner().invoke(
        app, ["conform", "--only", "cache", "--only", "encrypted"], env=embedded.env()
    )
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert out.index("cache") < out.index("cache_miss") < out.index("encrypted_end_to_end")
    assert "5 passed, 0 failed, 0 skipped" in out and "conforms" in out
    assert not out.lstrip().startswith("{")


def test_every_group_has_checks_and_every_check_a_rule() -> None:
    assert {c.group for c in ALL} == set(GROUPS)
    assert all(c.rule and c.expected for c in ALL)
    assert len(NAMES) == len(ALL)


# --------------------------------------------------------------------------- the server fix


def test_subscription_count_of_large_channels_waits_for_the_sweep() -> None:
    """Up to 100 subscribers every join sends the new count at once; beyond, the once-a-second
    sweep (flush_counts) sends it, so a big fan-out does not cost n² frames."""
    from pushcli.server.apps import App
    from pushcli.server.state import COUNT_AT_ONCE, AppState
    from pushcli.server.wire import payload

    class Sink:
        def __init__(self, n: int) -> None:
            self.socket_id, self.user_id, self.frames = f"1.{n}", None, []

        def write(self, data: bytes) -> None:
            self.frames.append(json.loads(payload(data)))

        def terminate(self, code: int, message: str) -> None:
            raise AssertionError("not expected")

    def counts(sink: Sink) -> list[int]:
        return [
            json.loads(f["data"])["subscription_count"]
            for f in sink.frames
            if f["event"] == "pusher_internal:subscription_count"
        ]

    state = AppState(App("1", "k", "s"))
    sinks = [Sink(i) for i in range(COUNT_AT_ONCE + 2)]
    for sink in sinks:
        state.join(sink, "big")
        state.subscription_counted("big")
    assert counts(sinks[0]) == list(range(1, COUNT_AT_ONCE + 1))
    assert counts(sinks[-1]) == []
    state.flush_counts()
    assert counts(sinks[0])[-1] == counts(sinks[-1])[-1] == COUNT_AT_ONCE + 2
    state.leave(sinks[-1], "big")
    state.leave(sinks[-2], "big")
    assert counts(sinks[0])[-1] == COUNT_AT_ONCE  # back to at once
