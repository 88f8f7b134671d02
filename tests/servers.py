"""Test-only process and protocol helpers: a loopback soketi and a Pusher WebSocket subscriber.

Nothing here imports pushcli. Everything talks to 127.0.0.1 only:

* ``Soketi`` starts ``node tests/soketi/node_modules/@soketi/soketi/bin/server.js start``
  bound to 127.0.0.1 on free ports, waits until ``GET /`` answers ``OK``, and stops it by
  its own pid.
* ``WsSubscriber`` is an asyncio Pusher protocol-7 client built on ``websockets``.
* ``subscriber_thread`` runs a ``WsSubscriber`` in a background thread for sync tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import http.client
import inspect
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
SOKETI_DIR = ROOT / "tests" / "soketi"
SOKETI_SERVER_JS = SOKETI_DIR / "node_modules" / "@soketi" / "soketi" / "bin" / "server.js"

LOOPBACK = "127.0.0.1"
APP_ID = "123456"  # numeric: the official python `pusher` library refuses anything else
APP_KEY = "app-key"
APP_SECRET = "app-secret"  # noqa: S105 - test-only soketi credential

_LOOPBACK_HOSTS = {"127.0.0.1", "::1", "localhost"}


class SoketiUnavailable(RuntimeError):
    """soketi cannot be started on this machine (node or node_modules missing)."""


class SoketiError(RuntimeError):
    """soketi was started but did not come up (or misbehaved)."""


# --------------------------------------------------------------------------- ports


def free_tcp_ports(n: int) -> list[int]:
    """``n`` distinct TCP ports that are free on 127.0.0.1 right now."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((LOOPBACK, 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def free_udp_port(exclude: Iterable[int] = ()) -> int:
    """A UDP port free on 127.0.0.1 (soketi's cluster discovery uses UDP)."""
    exclude = set(exclude)
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind((LOOPBACK, 0))
            port = s.getsockname()[1]
        if port not in exclude:
            return port
    raise SoketiError("could not find a free UDP port")


def _listening_socket_inodes(port: int) -> set[str] | None:
    """Inodes of TCP sockets listening on 127.0.0.1:port, or None when /proc is unavailable."""
    try:
        text = Path("/proc/net/tcp").read_text()
    except OSError:
        return None
    want = f"0100007F:{port:04X}"  # 127.0.0.1 in /proc's little-endian hex
    inodes = set()
    for line in text.splitlines()[1:]:
        parts = line.split()
        if len(parts) > 9 and parts[1] == want and parts[3] == "0A":  # 0A = LISTEN
            inodes.add(parts[9])
    return inodes


def _socket_inodes_of(pid: int) -> set[str] | None:
    fd_dir = Path(f"/proc/{pid}/fd")
    try:
        names = os.listdir(fd_dir)
    except OSError:
        return None
    inodes = set()
    for name in names:
        try:
            target = os.readlink(fd_dir / name)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    return inodes


# --------------------------------------------------------------------------- soketi


class Soketi:
    """One soketi process on 127.0.0.1. Ports are picked once and kept across restarts."""

    host = LOOPBACK
    app_id = APP_ID
    key = APP_KEY
    secret = APP_SECRET

    def __init__(
        self,
        log_dir: Path | str | None = None,
        *,
        ready_timeout: float = 20.0,
        shutdown_grace_ms: int = 300,
        debug: bool | None = None,
        webhooks: list[dict[str, Any]] | None = None,
    ) -> None:
        for hook in webhooks or []:
            _assert_loopback(hook["url"])
        self.webhooks = webhooks
        self.log_dir = (
            Path(log_dir) if log_dir else Path(tempfile.mkdtemp(prefix="pushcli-soketi-"))
        )
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.log_dir / "soketi.log"
        self.ready_timeout = ready_timeout
        # soketi waits this long after SIGTERM (having told clients "4200 Server closed") before
        # exiting; its default of 3000 ms only makes the suite slower.
        self.shutdown_grace_ms = shutdown_grace_ms
        if debug is None:
            debug = bool(os.environ.get("PUSHCLI_TEST_SOKETI_DEBUG"))
        self.debug = debug
        self.port: int | None = None
        self.metrics_port: int | None = None
        self.cluster_port: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_file = None

    # ---- public attributes

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def url(self) -> str:
        return f"http://{self.key}:{self.secret}@{self.host}:{self.port}/apps/{self.app_id}"

    @property
    def http_base(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}/app/{self.key}?protocol=7&client=test&version=1"

    def env(self) -> dict[str, str]:
        """PUSHER_* variables pointing pushcli at this soketi."""
        return {
            "PUSHER_APP_ID": self.app_id,
            "PUSHER_APP_KEY": self.key,
            "PUSHER_APP_SECRET": self.secret,
            "PUSHER_HOST": self.host,
            "PUSHER_PORT": str(self.port),
            "PUSHER_SCHEME": "http",
        }

    def pusher_client(self, **kwargs: Any):
        """The official python `pusher` library, pointed at this soketi."""
        import pusher  # test extra

        return pusher.Pusher(
            app_id=self.app_id,
            key=self.key,
            secret=self.secret,
            host=self.host,
            port=self.port,
            ssl=False,
            **kwargs,
        )

    def private_auth(self, socket_id: str, channel: str) -> dict[str, str]:
        return private_auth(self.key, self.secret, socket_id, channel)

    def presence_auth(
        self, socket_id: str, channel: str, user_id: str, user_info: dict | None = None
    ) -> dict[str, str]:
        return presence_auth(self.key, self.secret, socket_id, channel, user_id, user_info)

    def auth_fn(self, user_id: str = "test-user", user_info: dict | None = None):
        return make_auth_fn(self.key, self.secret, user_id=user_id, user_info=user_info)

    def is_running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def __repr__(self) -> str:
        return f"<Soketi pid={self.pid} port={self.port} running={self.is_running()}>"

    # ---- lifecycle

    def start(self) -> Soketi:
        """Start soketi (again). A restart reuses the same ports; the old process must be gone."""
        if self.is_running():
            raise SoketiError(f"soketi already running (pid {self.pid})")
        check_soketi_available()
        if self.port is None:
            # First start: pick ports, retrying on the (rare) race where one was taken meanwhile.
            last: Exception | None = None
            for _ in range(3):
                self.port, self.metrics_port = free_tcp_ports(2)
                self.cluster_port = free_udp_port(exclude=(self.port, self.metrics_port))
                try:
                    self._spawn_and_wait()
                    return self
                except _PortTaken as exc:
                    last = exc
            raise SoketiError(f"could not start soketi on free ports: {last}")
        try:
            self._spawn_and_wait()
        except _PortTaken as exc:
            raise SoketiError(str(exc)) from None
        return self

    def stop(self, timeout: float = 10.0, *, graceful: bool = True) -> None:
        """Stop by pid: SIGTERM (or SIGKILL when not graceful), wait, SIGKILL after timeout."""
        proc = self._proc
        if proc is None:
            return
        try:
            if proc.poll() is None:
                if graceful:
                    proc.send_signal(signal.SIGTERM)
                    try:
                        proc.wait(timeout=timeout)
                    except subprocess.TimeoutExpired:
                        proc.kill()
                        proc.wait(timeout=10)
                else:
                    proc.kill()
                    proc.wait(timeout=10)
            else:
                proc.wait()
        finally:
            if self._log_file is not None:
                self._log_file.close()
                self._log_file = None
        # The listen sockets are closed by the kernel once the pid is gone; make sure, so a
        # restart on the same port never shares it (SO_REUSEPORT) with a dying process.
        deadline = time.monotonic() + 5
        while self.port and _listening_socket_inodes(self.port) and time.monotonic() < deadline:
            time.sleep(0.05)

    def kill(self) -> None:
        """Simulate a crash: SIGKILL, no 4200 goodbye to clients."""
        self.stop(graceful=False)

    def restart(self, *, graceful: bool = True) -> Soketi:
        self.stop(graceful=graceful)
        return self.start()

    def __enter__(self) -> Soketi:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- internals

    def _child_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SOKETI_")}
        env.update(
            {
                "SOKETI_HOST": LOOPBACK,
                "SOKETI_METRICS_HOST": LOOPBACK,
                "SOKETI_CLUSTER_HOST": LOOPBACK,
                "SOKETI_CLUSTER_UNICAST_ADDRESSES": f"{LOOPBACK}:{self.cluster_port}",
                "SOKETI_CLUSTER_PORT": str(self.cluster_port),
                "SOKETI_PORT": str(self.port),
                "SOKETI_METRICS_SERVER_PORT": str(self.metrics_port),
                "SOKETI_DEFAULT_APP_ID": self.app_id,
                "SOKETI_DEFAULT_APP_KEY": self.key,
                "SOKETI_DEFAULT_APP_SECRET": self.secret,
                "SOKETI_DEFAULT_APP_ENABLE_CLIENT_MESSAGES": "true",
                "SOKETI_DEFAULT_APP_USER_AUTHENTICATION": "true",
                "SOKETI_SHUTDOWN_GRACE_PERIOD": str(self.shutdown_grace_ms),
            }
        )
        if self.webhooks:
            env["SOKETI_DEFAULT_APP_WEBHOOKS"] = json.dumps(self.webhooks)
        if self.debug:
            env["SOKETI_DEBUG"] = "true"
        return env

    def _spawn_and_wait(self) -> None:
        node = shutil.which("node")
        assert node is not None  # check_soketi_available() ran
        self._log_file = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self._log_file.write(
            f"\n===== starting soketi on {LOOPBACK}:{self.port} "
            f"(metrics {self.metrics_port}, cluster udp {self.cluster_port}) =====\n".encode()
        )
        self._log_file.flush()
        # cwd is the private log dir: soketi calls dotenv, which would read a ./.env file.
        self._proc = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
            [node, str(SOKETI_SERVER_JS), "start"],
            cwd=self.log_dir,
            env=self._child_env(),
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C in the terminal reaches pytest, not soketi
            preexec_fn=_parent_death_signal(),  # noqa: PLW1509
        )
        try:
            self._wait_ready()
        except BaseException:
            self.stop(timeout=5)
            raise

    #: how the process is named in errors
    label = "soketi"

    def _exited_early(self) -> None:
        """Raise why the process exited before it was ready."""
        assert self._proc is not None
        raise SoketiError(
            f"{self.label} exited with code {self._proc.returncode} before it was ready; "
            f"log {self.log_path}:\n{self.log_tail()}"
        )

    def _wait_ready(self) -> None:
        """Poll GET / until it answers OK (the same probe for soketi and pushcli serve)."""
        assert self._proc is not None
        deadline = time.monotonic() + self.ready_timeout
        last_error = "no answer yet"
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                self._exited_early()
            try:
                conn = http.client.HTTPConnection(LOOPBACK, self.port, timeout=1)
                try:
                    conn.request("GET", "/")
                    resp = conn.getresponse()
                    body = resp.read().decode(errors="replace").strip()
                finally:
                    conn.close()
                if resp.status == 200 and body == "OK":
                    self._check_port_is_ours()
                    return
                last_error = f"GET / answered {resp.status} {body[:80]!r}"
            except OSError as exc:
                last_error = f"{type(exc).__name__}: {exc}"
            time.sleep(0.05)
        raise SoketiError(
            f"{self.label} (pid {self.pid}) not ready on {LOOPBACK}:{self.port} after "
            f"{self.ready_timeout:g}s ({last_error}); log {self.log_path}:\n{self.log_tail()}"
        )

    def _check_port_is_ours(self) -> None:
        """uWebSockets listens with SO_REUSEPORT and soketi logs success even when its listen
        failed, so an 'OK' might come from someone else's server on that port: verify."""
        listening = _listening_socket_inodes(self.port)
        ours = _socket_inodes_of(self.pid)
        if listening is None or ours is None:
            return  # no /proc: cannot check
        if not listening or not listening <= ours:
            raise _PortTaken(
                f"127.0.0.1:{self.port} is (also) served by another process than soketi pid "
                f"{self.pid}"
            )


class _PortTaken(SoketiError):
    pass


# --------------------------------------------------------------------------- pushcli serve


class EmbeddedServer(Soketi):
    """``pushcli serve`` in a subprocess on 127.0.0.1, with the same app and the same API as
    :class:`Soketi` (host, port, key, secret, url, ws_url, env(), pusher_client(), auth helpers,
    start/stop/kill by pid). ``extra_args`` go to ``pushcli serve`` (e.g. --webhook-url)."""

    def __init__(
        self,
        log_dir: Path | str | None = None,
        *,
        extra_args: Iterable[str] = (),
        extra_env: dict[str, str] | None = None,
        ready_timeout: float = 15.0,
    ) -> None:
        log_dir = log_dir or tempfile.mkdtemp(prefix="pushcli-serve-")
        super().__init__(log_dir, ready_timeout=ready_timeout)
        self.log_path = self.log_dir / "serve.log"
        self.extra_args = list(extra_args)
        self.extra_env = dict(extra_env or {})

    def __repr__(self) -> str:
        return f"<EmbeddedServer pid={self.pid} port={self.port} running={self.is_running()}>"

    label = "pushcli serve"

    def _exited_early(self) -> None:
        if "cannot listen" in self.log_tail(5):
            raise _PortTaken(self.log_tail(5))
        super()._exited_early()

    def start(self) -> EmbeddedServer:
        if self.is_running():
            raise SoketiError(f"pushcli serve already running (pid {self.pid})")
        if self.port is not None:
            self._spawn_and_wait()
            return self
        last: Exception | None = None
        for _ in range(3):
            (self.port,) = free_tcp_ports(1)
            try:
                self._spawn_and_wait()
                return self
            except _PortTaken as exc:
                last = exc
        raise SoketiError(f"could not start pushcli serve on a free port: {last}")

    def _child_env(self) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("PUSHER_", "PUSHCLI_", "SOKETI_"))
            and k.lower() not in ("http_proxy", "https_proxy", "all_proxy")
        }
        env.update(
            {
                "PUSHER_APP_ID": self.app_id,
                "PUSHER_APP_KEY": self.key,
                "PUSHER_APP_SECRET": self.secret,
                "PUSHCLI_CONFIG": str(self.log_dir / "no-config.toml"),
                "NO_PROXY": "127.0.0.1,localhost,::1",
                "no_proxy": "127.0.0.1,localhost,::1",
            }
        )
        env.update(self.extra_env)
        return env

    def _spawn_and_wait(self) -> None:
        self._log_file = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        argv = [
            sys.executable,
            "-m",
            "pushcli",
            "serve",
            "--host",
            LOOPBACK,
            "--port",
            str(self.port),
            *self.extra_args,
        ]
        self._log_file.write(f"\n===== {' '.join(argv)} =====\n".encode())
        self._log_file.flush()
        self._proc = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
            argv,
            cwd=self.log_dir,
            env=self._child_env(),
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_parent_death_signal(),  # noqa: PLW1509
        )
        try:
            self._wait_ready()
        except BaseException:
            self.stop(timeout=5)
            raise


def _parent_death_signal() -> Callable[[], None] | None:
    """On Linux, a preexec_fn making the child get SIGTERM if pytest dies without cleaning up
    (e.g. SIGKILL), so no soketi is left running. libc is resolved here, in the parent."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    pr_set_pdeathsig = 1

    def preexec() -> None:
        prctl(pr_set_pdeathsig, signal.SIGTERM, 0, 0, 0)

    return preexec


def check_soketi_available() -> None:
    """Raise SoketiUnavailable with the reason when soketi cannot be started here."""
    if shutil.which("node") is None:
        raise SoketiUnavailable("`node` is not on PATH (Node 20 is needed to run soketi)")
    if not SOKETI_SERVER_JS.is_file():
        raise SoketiUnavailable(
            f"{SOKETI_SERVER_JS} is missing: run `bash tests/run.sh` "
            "(or `npm ci --no-audit --no-fund` in tests/soketi) first"
        )


# --------------------------------------------------------------------------- auth helpers


def _sign(secret: str, string_to_sign: str) -> str:
    return hmac.new(secret.encode(), string_to_sign.encode(), hashlib.sha256).hexdigest()


def private_auth(key: str, secret: str, socket_id: str, channel: str) -> dict[str, str]:
    return {"auth": f"{key}:{_sign(secret, f'{socket_id}:{channel}')}"}


def presence_auth(
    key: str,
    secret: str,
    socket_id: str,
    channel: str,
    user_id: str,
    user_info: dict | None = None,
) -> dict[str, str]:
    member: dict[str, Any] = {"user_id": user_id}
    if user_info is not None:
        member["user_info"] = user_info
    channel_data = json.dumps(member, separators=(",", ":"))
    return {
        "auth": f"{key}:{_sign(secret, f'{socket_id}:{channel}:{channel_data}')}",
        "channel_data": channel_data,
    }


def make_auth_fn(
    key: str = APP_KEY,
    secret: str = APP_SECRET,
    *,
    user_id: str = "test-user",
    user_info: dict | None = None,
) -> Callable[[str, str], dict[str, str] | None]:
    """auth_fn(socket_id, channel) for WsSubscriber / subscriber_thread."""

    def auth_fn(socket_id: str, channel: str) -> dict[str, str] | None:
        if channel.startswith("presence-"):
            return presence_auth(key, secret, socket_id, channel, user_id, user_info)
        if channel.startswith("private-"):
            return private_auth(key, secret, socket_id, channel)
        return None

    return auth_fn


# --------------------------------------------------------------------------- websocket client


class SubscriptionError(RuntimeError):
    def __init__(self, channel: str, frame: dict) -> None:
        super().__init__(f"subscription to {channel!r} refused: {frame.get('data')!r}")
        self.channel = channel
        self.frame = frame


class PusherError(RuntimeError):
    """A pusher:error frame arrived while waiting for something else."""

    def __init__(self, frame: dict) -> None:
        super().__init__(f"pusher:error {frame.get('data')!r}")
        self.frame = frame


def _assert_loopback(url: str) -> None:
    host = urlsplit(url).hostname
    if host not in _LOOPBACK_HOSTS:
        raise ValueError(f"test WebSocket clients only connect to loopback, not {host!r}")


def _decode_data(data: Any) -> Any:
    if isinstance(data, str):
        try:
            return json.loads(data)
        except ValueError:
            return data
    return data


class WsSubscriber:
    """A minimal Pusher protocol-7 client for tests.

    Frames are dicts as received (``data`` left as sent by the server: user events carry a
    string, usually JSON). ``next_event`` skips ``pusher:*`` / ``pusher_internal:*`` frames,
    which are kept in ``self.internal`` (and ``pusher:error`` frames also in ``self.errors``).
    """

    def __init__(self, ws: Any, socket_id: str, activity_timeout: int | None) -> None:
        self.ws = ws
        self.socket_id = socket_id
        self.activity_timeout = activity_timeout
        self.pending: deque[dict] = deque()
        self.internal: list[dict] = []
        self.errors: list[dict] = []
        self.subscriptions: dict[str, Any] = {}  # channel -> subscription_succeeded data

    @classmethod
    async def connect(cls, ws_url: str, timeout: float = 10.0) -> WsSubscriber:
        from websockets.asyncio.client import connect

        _assert_loopback(ws_url)
        kwargs: dict[str, Any] = {"open_timeout": timeout}
        if "proxy" in inspect.signature(connect).parameters:
            kwargs["proxy"] = None  # websockets >= 15 would honour *_proxy env vars otherwise
        ws = await connect(ws_url, **kwargs)
        try:
            raw = await asyncio.wait_for(ws.recv(), timeout)
            frame = json.loads(raw)
            if frame.get("event") != "pusher:connection_established":
                raise RuntimeError(f"expected pusher:connection_established, got {frame!r}")
            data = _decode_data(frame.get("data"))
            return cls(ws, data["socket_id"], data.get("activity_timeout"))
        except BaseException:
            await ws.close()
            raise

    # ---- low level

    async def send(self, frame: dict) -> None:
        await self.ws.send(json.dumps(frame))

    async def _recv_frame(self) -> dict:
        """Next frame; answers pusher:ping transparently and records internal frames."""
        while True:
            raw = await self.ws.recv()
            frame = json.loads(raw)
            event = frame.get("event", "")
            if event == "pusher:ping":
                await self.send({"event": "pusher:pong", "data": {}})
                continue
            if event.startswith(("pusher:", "pusher_internal:")):
                self.internal.append(frame)
                if event == "pusher:error":
                    self.errors.append(frame)
            return frame

    # ---- pusher operations

    async def subscribe(
        self,
        channel: str,
        auth: str | None = None,
        channel_data: str | None = None,
        timeout: float = 5.0,
    ) -> Any:
        """Subscribe and wait for pusher_internal:subscription_succeeded on ``channel``.

        Returns the (decoded) subscription_succeeded data (presence members for presence-).
        Raises SubscriptionError on pusher:subscription_error, PusherError on pusher:error.
        """
        data: dict[str, Any] = {"channel": channel}
        if auth is not None:
            data["auth"] = auth
        if channel_data is not None:
            data["channel_data"] = channel_data
        await self.send({"event": "pusher:subscribe", "data": data})

        async def wait() -> Any:
            while True:
                frame = await self._recv_frame()
                event = frame.get("event")
                if (
                    event == "pusher_internal:subscription_succeeded"
                    and frame.get("channel") == channel
                ):
                    self.subscriptions[channel] = _decode_data(frame.get("data"))
                    return self.subscriptions[channel]
                if event == "pusher:subscription_error" and frame.get("channel") in (channel, None):
                    raise SubscriptionError(channel, frame)
                if event == "pusher:error":
                    raise PusherError(frame)
                if not event.startswith(("pusher:", "pusher_internal:")):
                    self.pending.append(frame)

        try:
            return await asyncio.wait_for(wait(), timeout)
        except TimeoutError:
            raise TimeoutError(
                f"no subscription_succeeded for {channel!r} within {timeout}s "
                f"(internal frames: {self.internal[-5:]!r})"
            ) from None

    async def unsubscribe(self, channel: str) -> None:
        await self.send({"event": "pusher:unsubscribe", "data": {"channel": channel}})
        self.subscriptions.pop(channel, None)

    async def trigger_client_event(self, channel: str, event: str, data: Any) -> None:
        """Send a client event (``client-*``) on a subscribed private/presence channel."""
        await self.send({"event": event, "channel": channel, "data": data})

    async def next_event(self, timeout: float = 5.0) -> dict:
        """Next non-pusher/pusher_internal frame as a dict with at least event/channel/data."""
        if self.pending:
            return self.pending.popleft()

        async def wait() -> dict:
            while True:
                frame = await self._recv_frame()
                if not frame.get("event", "").startswith(("pusher:", "pusher_internal:")):
                    frame.setdefault("channel", None)
                    frame.setdefault("data", None)
                    return frame

        try:
            return await asyncio.wait_for(wait(), timeout)
        except TimeoutError:
            raise TimeoutError(f"no event within {timeout}s") from None

    async def collect(self, n: int, timeout: float = 5.0) -> list[dict]:
        """Exactly ``n`` events, all within ``timeout`` seconds in total."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        events: list[dict] = []
        while len(events) < n:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"got {len(events)} of {n} events within {timeout}s: {events!r}")
            try:
                events.append(await self.next_event(timeout=remaining))
            except TimeoutError:
                raise TimeoutError(
                    f"got {len(events)} of {n} events within {timeout}s: {events!r}"
                ) from None
        return events

    async def close(self) -> None:
        await self.ws.close()

    async def __aenter__(self) -> WsSubscriber:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


# --------------------------------------------------------------------------- thread helper


class ThreadedSubscriber:
    """State shared between a test and the subscriber thread (see ``subscriber_thread``)."""

    def __init__(self) -> None:
        self.ready = threading.Event()  # set once every channel is subscribed
        self.finished = threading.Event()  # set when the thread ends (ok or error)
        self.events: list[dict] = []
        self.error: BaseException | None = None
        self.socket_id: str | None = None
        self.subscriptions: dict[str, Any] = {}
        self._cond = threading.Condition()
        self._stop = threading.Event()

    def _append(self, event: dict) -> None:
        with self._cond:
            self.events.append(event)
            self._cond.notify_all()

    def wait_for(self, n: int, timeout: float = 5.0) -> list[dict]:
        """Block until at least ``n`` events arrived; return the first ``n``."""
        with self._cond:
            ok = self._cond.wait_for(
                lambda: len(self.events) >= n or self.error is not None, timeout
            )
            if self.error is not None and len(self.events) < n:
                raise RuntimeError(f"subscriber thread failed: {self.error!r}") from self.error
            if not ok:
                raise TimeoutError(
                    f"got {len(self.events)} of {n} events within {timeout}s: {self.events!r}"
                )
            return list(self.events[:n])


@contextlib.contextmanager
def subscriber_thread(
    ws_url: str,
    channels: Iterable[str],
    auth_fn: Callable[[str, str], dict | None] | None = None,
    *,
    timeout: float = 10.0,
) -> Iterator[ThreadedSubscriber]:
    """Run a WsSubscriber in a background thread (own event loop) for non-async tests.

    ``auth_fn(socket_id, channel)`` returns ``{"auth": ..., "channel_data": ...}`` (or None)
    for private/presence channels. On entry, waits until every channel is subscribed
    (``.ready``); on exit, closes the socket and joins the thread.
    """
    channels = list(channels)
    state = ThreadedSubscriber()

    async def main() -> None:
        sub = await WsSubscriber.connect(ws_url, timeout=timeout)
        try:
            state.socket_id = sub.socket_id
            for channel in channels:
                extra = (auth_fn(sub.socket_id, channel) if auth_fn else None) or {}
                state.subscriptions[channel] = await sub.subscribe(
                    channel,
                    auth=extra.get("auth"),
                    channel_data=extra.get("channel_data"),
                    timeout=timeout,
                )
            state.ready.set()
            while not state._stop.is_set():
                try:
                    event = await sub.next_event(timeout=0.1)
                except TimeoutError:
                    continue
                state._append(event)
        finally:
            await sub.close()

    def run() -> None:
        try:
            asyncio.run(main())
        except BaseException as exc:  # noqa: BLE001 - reported to the test thread
            with state._cond:
                state.error = exc
                state._cond.notify_all()
        finally:
            state.finished.set()

    thread = threading.Thread(target=run, name="pusher-subscriber", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + timeout + 1
        while not state.ready.is_set() and not state.finished.is_set():
            if time.monotonic() > deadline:
                raise TimeoutError(f"subscriber not ready within {timeout}s")
            state.ready.wait(0.05)
        if not state.ready.is_set():
            raise RuntimeError(f"subscriber thread failed: {state.error!r}") from state.error
        yield state
    finally:
        state._stop.set()
        thread.join(timeout=10)
