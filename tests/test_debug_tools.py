"""The debugging toolkit: auth verify, auth serve (with pusher-js), webhooks, doctor."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from servers import Soketi, free_tcp_ports, subscriber_thread
from typer.testing import CliRunner

from pushcli.cli import app
from pushcli.errors import ExitCode

runner = CliRunner()
KEY, SECRET = "278d425bdf160c739803", "7ad3773142a6692b25b8"  # the published test vectors' app
JS_CLIENT = Path(__file__).parent / "js" / "pusherjs_client.js"


@pytest.fixture
def vector_app(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PUSHER_APP_ID", "3")
    monkeypatch.setenv("PUSHER_APP_KEY", KEY)
    monkeypatch.setenv("PUSHER_APP_SECRET", SECRET)
    monkeypatch.setenv("PUSHER_HOST", "127.0.0.1")


def run(*args: str, input: str | bytes | None = None):  # noqa: A002
    return runner.invoke(app, list(args), input=input)


# --- auth verify --------------------------------------------------------------------------------

VECTOR_SIG = "58df8b0c36d6982b82c3ecf6b4662e34fe8c25bba48f5369f135bf843651c3a4"


def verify(*args: str):  # type: ignore[no-untyped-def]
    r = run("auth", "verify", *args, "--json")
    return r.exit_code, json.loads(r.stdout) if r.stdout else None, r.stderr


def test_auth_verify_published_vectors(vector_app: None) -> None:
    code, out, _ = verify(
        "private-foobar", "--socket-id", "1234.1234", "--auth", f"{KEY}:{VECTOR_SIG}"
    )
    assert code == 0 and out["valid"] and out["string_to_sign"] == "1234.1234:private-foobar"
    code, out, _ = verify(
        "--socket-id",
        "1234.1234",
        "--user-data",
        '{"id":"12345"}',
        "--auth",
        f"{KEY}:4708d583dada6a56435fb8bc611c77c359a31eebde13337c16ab43aa6de336ba",
    )
    assert code == 0 and out["valid"]


@pytest.mark.parametrize(
    ("args", "cause"),
    [
        (
            ("private-foobar", "--socket-id", "1234.1234", "--auth", f"otherkey:{VECTOR_SIG}"),
            "only the key prefix is wrong",
        ),
        (
            ("private-foobar", "--socket-id", "9999.1", "--auth", f"{KEY}:{VECTOR_SIG}"),
            "another socket id",
        ),
        (
            ("private-foobar", "--socket-id", "1234.1234", "--auth", f"{KEY}:{'0' * 64}"),
            "another secret",
        ),
        (
            ("presence-room", "--socket-id", "1234.1234", "--auth", f"{KEY}:{'0' * 64}"),
            "give --channel-data",
        ),
    ],
)
def test_auth_verify_explains(vector_app: None, args: tuple, cause: str) -> None:
    code, out, err = verify(*args)
    assert code == ExitCode.REJECTED
    assert not out["valid"] and cause in " ".join(out["causes"])
    assert out["expected"].startswith(f"{KEY}:")
    assert SECRET not in json.dumps(out) + err


def test_auth_verify_finds_reserialised_channel_data(vector_app: None) -> None:
    """The endpoint signed compact JSON but sent it with spaces (the classic presence bug)."""
    signed = run(
        "auth",
        "sign",
        "presence-room",
        "--socket-id",
        "1.2",
        "--user-id",
        "u",
        "--user-info",
        '{"n":"Ada"}',
    )
    auth = json.loads(signed.stdout)["auth"]
    code, out, _ = verify(
        "presence-room",
        "--socket-id",
        "1.2",
        "--auth",
        auth,
        "--channel-data",
        '{"user_id": "u", "user_info": {"n": "Ada"}}',
    )
    assert code == ExitCode.REJECTED
    assert "serialised compact" in out["causes"][0]
    assert out["string_to_sign"] == '1.2:presence-room:{"user_id": "u", "user_info": {"n": "Ada"}}'


def test_auth_verify_private_channel_signed_with_data(vector_app: None) -> None:
    import hashlib
    import hmac

    sig = hmac.new(SECRET.encode(), b'1.2:private-x:{"user_id":"u"}', hashlib.sha256).hexdigest()
    code, out, _ = verify(
        "private-x",
        "--socket-id",
        "1.2",
        "--auth",
        f"{KEY}:{sig}",
        "--channel-data",
        '{"user_id":"u"}',
    )
    assert code == ExitCode.REJECTED and "sign only socket_id:channel" in out["causes"][0]


# --- webhook verify -----------------------------------------------------------------------------


def _signed_body() -> tuple[bytes, str]:
    import pusher

    body = json.dumps(
        {
            "time_ms": int(time.time() * 1000),
            "events": [{"name": "channel_occupied", "channel": "c"}],
        }
    ).encode()
    import hashlib
    import hmac

    sig = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    # The official library agrees this is a valid webhook.
    assert pusher.Pusher(app_id="3", key=KEY, secret=SECRET).validate_webhook(
        KEY, sig, body.decode()
    )
    return body, sig


def test_webhook_verify(vector_app: None, tmp_path: Path) -> None:
    body, sig = _signed_body()
    f = tmp_path / "body.json"
    f.write_bytes(body)
    r = run("webhook", "verify", "--body", str(f), "--signature", sig, "--key", KEY, "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["valid"]
    r = run("webhook", "verify", "--signature", sig, "--json", input=body)  # stdin
    assert r.exit_code == 0


@pytest.mark.parametrize(
    ("mangle", "key", "cause"),
    [
        (lambda b: json.dumps(json.loads(b), separators=(",", ":")).encode(), KEY, "re-serialised"),
        (lambda b: b + b"\n", KEY, "without its trailing newline"),
        (lambda b: b, "other-key", "X-Pusher-Key is 'other-key'"),
        (lambda b: b.replace(b"channel_occupied", b"channel_vacated"), KEY, "wrong secret"),
    ],
)
def test_webhook_verify_explains(
    vector_app: None, tmp_path: Path, mangle, key: str, cause: str
) -> None:  # type: ignore[no-untyped-def]
    body, sig = _signed_body()
    f = tmp_path / "body.json"
    f.write_bytes(mangle(body))
    r = run("webhook", "verify", "--body", str(f), "--signature", sig, "--key", key, "--json")
    assert r.exit_code == ExitCode.REJECTED
    assert cause in " ".join(json.loads(r.stdout)["causes"])


# --- local servers run as real commands ---------------------------------------------------------


@contextmanager
def pushcli_server(
    args: list[str], env: dict[str, str], ready_text: str
) -> Iterator[subprocess.Popen]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "pushcli", *args, "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **env},
    )
    try:
        deadline = time.time() + 15
        line = ""
        while ready_text not in line:
            line = proc.stderr.readline()
            if not line and proc.poll() is not None or time.time() > deadline:
                raise RuntimeError(f"{args[0]} did not start: {line}{proc.stderr.read()}")
        yield proc
    finally:
        proc.terminate()
        proc.wait(10)


def read_records(proc: subprocess.Popen, n: int, timeout: float = 10) -> list[dict]:
    out: list[dict] = []
    box: list[str] = []

    def reader() -> None:
        while len(box) < n:
            line = proc.stdout.readline()
            if not line:
                return
            box.append(line)

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    t.join(timeout)
    out = [json.loads(line) for line in box]
    assert len(out) >= n, out
    return out


def node_available() -> bool:
    return (
        shutil.which("node") is not None
        and (Path(__file__).parent / "soketi" / "node_modules" / "pusher-js").exists()
    )


def run_pusherjs(server: Soketi, env: dict[str, str]) -> list[dict]:
    if not node_available():
        if os.environ.get("CI"):
            pytest.fail("node and tests/soketi/node_modules are required on CI")
        pytest.skip("node or pusher-js missing")
    p = subprocess.run(
        ["node", str(JS_CLIENT)],
        capture_output=True,
        text=True,
        timeout=30,
        env={
            **os.environ,
            "WS_HOST": server.host,
            "WS_PORT": str(server.port),
            "APP_KEY": server.key,
            **env,
        },
    )
    return [json.loads(line) for line in p.stdout.splitlines() if line.startswith("{")]


def test_auth_serve_with_pusher_js_on_soketi(soketi_env, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """pusher-js authorizes private, presence and encrypted channels through `auth serve`."""
    import base64

    master = base64.b64encode(b"m" * 32).decode()
    monkeypatch.setenv("PUSHER_ENCRYPTION_MASTER_KEY_BASE64", master)
    port = free_tcp_ports(1)[0]
    env = {**soketi_env.env(), "PUSHER_ENCRYPTION_MASTER_KEY_BASE64": master}
    channels = ["private-as", "presence-as", "private-encrypted-as", "private-admin-x"]
    with pushcli_server(
        [
            "auth",
            "serve",
            "--port",
            str(port),
            "--user-info",
            '{"name":"Ada"}',
            "--deny",
            "private-admin-*",
        ],
        env,
        "auth endpoint on",
    ) as proc:
        result: dict[str, list[dict]] = {}

        def client() -> None:
            result["js"] = run_pusherjs(
                soketi_env,
                {
                    "AUTH_ENDPOINT": f"http://127.0.0.1:{port}/pusher/auth",
                    "USER_AUTH_ENDPOINT": f"http://127.0.0.1:{port}/pusher/user-auth",
                    "AUTH_HEADERS": json.dumps({"X-User-Id": "ada"}),
                    "CHANNELS": ",".join(channels),
                    "EXPECT": "3",
                    "TIMEOUT_MS": "15000",
                },
            )

        t = threading.Thread(target=client)
        t.start()
        # Wait until pusher-js is subscribed everywhere it may be (3 channels + 1 refusal + signin = 5 requests).
        records = read_records(proc, 5, timeout=20)
        time.sleep(0.3)
        for ch in channels[:3]:
            r = run("trigger", ch, "hello", json.dumps({"on": ch}))
            assert r.exit_code == 0, r.stderr
        t.join(30)
    js = result["js"]
    subscribed = {e["channel"]: e for e in js if e["type"] == "subscribed"}
    assert set(subscribed) == set(channels[:3]), js
    assert subscribed["presence-as"]["me"] == "ada"
    refused = [e for e in js if e["type"] == "subscription_error"]
    assert refused and refused[0]["channel"] == "private-admin-x" and refused[0]["status"] == 403
    got = {e["channel"]: e["data"] for e in js if e["type"] == "event"}
    assert got == {
        ch: {"on": ch} for ch in channels[:3]
    }  # the encrypted one decrypted by pusher-js
    assert [e["user_id"] for e in js if e["type"] == "signed_in"] == ["ada"]
    decisions = {(r.get("channel"), r["status"]) for r in records}
    assert ("private-admin-x", 403) in decisions and ("presence-as", 200) in decisions
    assert any(r["path"] == "/pusher/user-auth" and r["user_id"] == "ada" for r in records)


def test_auth_serve_cors_and_bad_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    import httpx

    port = free_tcp_ports(1)[0]
    env = {
        "PUSHER_APP_ID": "1",
        "PUSHER_APP_KEY": "k",
        "PUSHER_APP_SECRET": "s",
        "PUSHER_HOST": "127.0.0.1",
    }
    with pushcli_server(
        ["auth", "serve", "--port", str(port), "--cors-origin", "http://localhost:5173"],
        env,
        "auth endpoint on",
    ):
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(trust_env=False) as c:
            pre = c.options(
                f"{base}/pusher/auth",
                headers={
                    "Origin": "http://localhost:5173",
                    "Access-Control-Request-Method": "POST",
                },
            )
            assert (
                pre.status_code == 204
                and pre.headers["access-control-allow-origin"] == "http://localhost:5173"
            )
            other = c.options(f"{base}/pusher/auth", headers={"Origin": "http://evil.test"})
            assert "access-control-allow-origin" not in other.headers
            ok = c.post(
                f"{base}/pusher/auth", json={"socket_id": "1.2", "channel_name": "private-j"}
            )
            assert ok.status_code == 200 and ok.json()["auth"].startswith("k:")
            assert (
                c.post(
                    f"{base}/pusher/auth", data={"socket_id": "nope", "channel_name": "private-j"}
                ).status_code
                == 400
            )
            assert (
                c.post(
                    f"{base}/pusher/auth", data={"socket_id": "1.2", "channel_name": "public"}
                ).status_code
                == 400
            )
            assert (
                c.post(
                    f"{base}/pusher/auth",
                    data={"socket_id": "1.2", "channel_name": "private-encrypted-x"},
                ).status_code
                == 500
            )
            assert c.get(f"{base}/pusher/auth").status_code == 404


class _Receiver(BaseHTTPRequestHandler):
    """A user's webhook endpoint, validating with the official library."""

    got: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802
        import pusher

        body = self.rfile.read(int(self.headers["Content-Length"]))
        client = pusher.Pusher(app_id="123456", key="app-key", secret="app-secret")
        valid = client.validate_webhook(
            self.headers.get("X-Pusher-Key"), self.headers.get("X-Pusher-Signature"), body.decode()
        )
        type(self).got.append({"valid": valid is not None, "body": json.loads(body)})
        self.send_response(200 if valid else 401)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *a: object) -> None:
        pass


@contextmanager
def receiver() -> Iterator[tuple[str, list[dict]]]:
    _Receiver.got = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/webhook", _Receiver.got
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def app_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in {
        "PUSHER_APP_ID": "123456",
        "PUSHER_APP_KEY": "app-key",
        "PUSHER_APP_SECRET": "app-secret",
        "PUSHER_HOST": "127.0.0.1",
    }.items():
        monkeypatch.setenv(k, v)


def test_webhook_send_validated_by_official_library(app_env: None) -> None:
    with receiver() as (url, got):
        r = run(
            "webhook",
            "send",
            url,
            "member_added",
            "--channel",
            "presence-r",
            "--user-id",
            "u1",
            "--json",
        )
        assert r.exit_code == 0, r.stderr
        assert got[-1]["valid"] and got[-1]["body"]["events"] == [
            {"name": "member_added", "channel": "presence-r", "user_id": "u1"}
        ]
        r = run(
            "webhook",
            "send",
            url,
            "client_event",
            "--channel",
            "private-c",
            "--event",
            "client-x",
            "--data",
            '{"a":1}',
        )
        assert r.exit_code == 0 and got[-1]["body"]["events"][0]["event"] == "client-x"
        # A forged signature: the endpoint refuses it, which is what --bad-signature wants.
        r = run("webhook", "send", url, "channel_occupied", "--bad-signature")
        assert r.exit_code == 0 and got[-1]["valid"] is False
    assert run("webhook", "send", url, "channel_occupied").exit_code == ExitCode.UNAVAILABLE
    assert run("webhook", "send", url, "no_such_event").exit_code == ExitCode.INPUT
    assert (
        run("webhook", "send", url, "member_added", "--channel", "public").exit_code
        == ExitCode.INPUT
    )


class _Careless(BaseHTTPRequestHandler):
    """An endpoint that never checks signatures."""

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *a: object) -> None:
        pass


def test_webhook_send_bad_signature_catches_careless_endpoint(app_env: None) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Careless)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        assert run("webhook", "send", url, "channel_vacated").exit_code == 0
        r = run("webhook", "send", url, "channel_vacated", "--bad-signature")
        assert r.exit_code == ExitCode.REJECTED and "ACCEPTED" in r.stderr
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("kind", ["soketi", "embedded"])
def test_server_webhooks_through_webhook_listen_forwarded(kind: str, tmp_path: Path) -> None:
    """A real server posts webhooks to `webhook listen`, which verifies and forwards them."""
    from servers import EmbeddedServer

    port = free_tcp_ports(1)[0]
    url = f"http://127.0.0.1:{port}/"
    if kind == "soketi":
        hooks = [
            {
                "url": url,
                "event_types": [
                    "channel_occupied",
                    "channel_vacated",
                    "member_added",
                    "member_removed",
                    "client_event",
                ],
            }
        ]
        srv: Soketi = Soketi(tmp_path / "soketi", webhooks=hooks)
    else:
        srv = EmbeddedServer(tmp_path / "serve", extra_args=["--webhook-url", url])
    try:
        srv.start()
    except Exception as e:  # noqa: BLE001
        if os.environ.get("CI") or kind == "embedded":
            raise
        pytest.skip(f"soketi unavailable: {e}")
    try:
        with (
            receiver() as (app_url, got),
            pushcli_server(
                ["webhook", "listen", "--port", str(port), "--forward-to", app_url],
                srv.env(),
                "receiving webhooks",
            ) as proc,
        ):
            with subscriber_thread(srv.ws_url, ["presence-wh"], srv.auth_fn(user_id="wh-user")):
                records = read_records(proc, 2, timeout=15)
            records += read_records(proc, 2, timeout=15)
    finally:
        srv.stop()
    names = [r["name"] for r in records]
    assert {"channel_occupied", "member_added", "member_removed", "channel_vacated"} <= set(
        names
    ), records
    assert all(r["valid"] for r in records)
    assert all(r["forward"]["status"] == 200 for r in records)
    assert all(g["valid"] for g in got) and len(got) >= 2
    added = next(r for r in records if r["name"] == "member_added")
    assert added["user_id"] == "wh-user" and added["channel"] == "presence-wh"


# --- doctor -------------------------------------------------------------------------------------


def test_doctor_against_soketi(soketi_env) -> None:  # type: ignore[no-untyped-def]
    r = run("doctor", "--json")
    out = json.loads(r.stdout)
    assert r.exit_code == 0, out
    by_name = {c["name"]: c for c in out["checks"]}
    assert by_name["REST signature"]["status"] == "pass"
    assert by_name["round trip"]["status"] == "pass"
    assert by_name["clock"]["status"] in ("pass", "warn")


def test_doctor_wrong_secret_and_stopped_server(
    soketi_env, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("PUSHER_APP_SECRET", "wrong-secret")
    r = run("doctor", "--json")
    assert r.exit_code == ExitCode.REJECTED
    failed = [c for c in json.loads(r.stdout)["checks"] if c["status"] == "fail"]
    assert failed[0]["name"] == "REST signature" and "secret" in failed[0]["fix"]
    assert "wrong-secret" not in r.stdout
    monkeypatch.setenv("PUSHER_PORT", str(free_tcp_ports(1)[0]))
    r = run("doctor", "--json")
    assert r.exit_code == ExitCode.UNAVAILABLE
    assert [c["name"] for c in json.loads(r.stdout)["checks"] if c["status"] == "fail"] == [
        "connect"
    ]


def test_doctor_readable_config(_isolated_config: Path) -> None:
    r = run(
        "config",
        "add",
        "p",
        "--app-id",
        "1",
        "--key",
        "k",
        "--host",
        "127.0.0.1",
        "--port",
        str(free_tcp_ports(1)[0]),
        "--secret-stdin",
        input="s\n",
    )
    assert r.exit_code == 0
    _isolated_config.chmod(0o644)
    r = run("doctor", "--json")
    checks = json.loads(r.stdout)["checks"]
    assert (
        checks[0]["name"] == "config file"
        and checks[0]["status"] == "fail"
        and "chmod 600" in checks[0]["fix"]
    )
    assert r.exit_code == ExitCode.CONFIG
