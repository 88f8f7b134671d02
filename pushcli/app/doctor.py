"""`pushcli doctor`: a checklist from the config file to a WebSocket round trip, with fixes."""

from __future__ import annotations

import asyncio
import email.utils
import json
import secrets
import socket
import ssl
import stat
import time
from dataclasses import asdict, dataclass
from typing import Any

from pushcli import __version__
from pushcli.app.calls import SettingsSource, settings_of
from pushcli.client.profiles import Settings
from pushcli.errors import ExitCode, PushcliError
from pushcli.protocol import frames

SKEW_WARN = 30
SKEW_FAIL = 600

#: what to do about a REST answer: for an app on pusher.com (or any remote server) ...
FIXES = {
    401: "the secret (or key) is wrong for this app: copy them again from the app's keys",
    403: "the app is disabled or over quota",
    404: "the app id is wrong (or the app does not exist on this cluster)",
}
#: ... and for a server on this machine, which has no dashboard: its own settings decide
LOCAL_FIXES = {
    401: "this local server runs with another secret: give pushcli the one it was started "
    "with (pushcli serve: its settings' secret, app-secret when nothing is configured; "
    "soketi: SOKETI_DEFAULT_APP_SECRET)",
    403: "the local server refuses this app (disabled or over a limit): see its log",
    404: "this local server does not serve this app id: use the one it runs with "
    "(pushcli serve: app-id by default, or --app-id; soketi: SOKETI_DEFAULT_APP_ID)",
}


def _loopback(host: str) -> bool:
    return host in ("localhost", "::1", "[::1]") or host.startswith("127.")


@dataclass
class Check:
    name: str
    status: str  # pass | warn | fail | skip
    detail: str
    fix: str = ""
    ms: float | None = None
    code: int = 0

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("code")
        return d


class Doctor:
    def __init__(self, settings: Settings, *, timeout: float = 5.0) -> None:
        self.s = settings
        self.timeout = timeout
        self.checks: list[Check] = []

    def add(
        self,
        name: str,
        status: str,
        detail: str,
        fix: str = "",
        ms: float | None = None,
        code: ExitCode = ExitCode.OK,
    ) -> Check:
        c = Check(name, status, detail, fix, None if ms is None else round(ms, 1), int(code))
        self.checks.append(c)
        return c

    @property
    def ok(self) -> bool:
        return all(c.status in ("pass", "warn", "skip") for c in self.checks)

    @property
    def exit_code(self) -> int:
        failed = [c for c in self.checks if c.status == "fail"]
        return failed[0].code if failed else 0

    def run(self) -> list[Check]:
        self.config_file()
        if not self.credentials():
            return self.checks
        if not self.resolve() or not self.connect():
            return self.checks
        self.tls()
        if self.rest():
            self.websocket()
        return self.checks

    # --- the checks ---------------------------------------------------------------------------

    def config_file(self) -> None:
        path = self.s.config_file
        if path is None or not path.exists():
            self.add("config file", "pass", f"none at {path} (credentials from env or defaults)")
            return
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            self.add(
                "config file",
                "fail",
                f"{path} is mode {mode:o}: other users can read your secrets",
                f"chmod 600 {path}",
                code=ExitCode.CONFIG,
            )
        else:
            self.add("config file", "pass", f"{path} (mode {mode:o})")

    def credentials(self) -> bool:
        try:
            self.s.require("app_id", "key", "secret", "location")
        except PushcliError as e:
            self.add(
                "credentials",
                "fail",
                e.message,
                "pushcli config add NAME ... (see pushcli config add --help)",
                code=ExitCode.CONFIG,
            )
            return False
        if self.s.local_default:
            self.add(
                "credentials",
                "warn",
                "nothing configured: using the local default app on 127.0.0.1:6001",
                "add a profile for your app: pushcli config add NAME ...",
            )
            return True
        where = f"profile {self.s.profile}" if self.s.profile else "environment"
        self.add(
            "credentials",
            "pass",
            f"app {self.s.app_id}, key {self.s.key} ({where}; secret from {self.s.sources.get('secret')})",
        )
        return True

    def resolve(self) -> bool:
        host = self.s.rest_host
        start = time.perf_counter()
        try:
            infos = socket.getaddrinfo(host, self.s.effective_port, type=socket.SOCK_STREAM)
        except socket.gaierror as e:
            fix = (
                "check the cluster name (mt1, us2, us3, eu, ap1, ap2, ap3, ap4, sa1)"
                if self.s.cluster
                else "check the host name"
            )
            self.add(
                "resolve",
                "fail",
                f"cannot resolve {host}: {e.strerror}",
                fix,
                code=ExitCode.UNAVAILABLE,
            )
            return False
        addrs = sorted({i[4][0] for i in infos})
        self.add(
            "resolve",
            "pass",
            f"{host} → {', '.join(str(a) for a in addrs[:3])}",
            ms=(time.perf_counter() - start) * 1000,
        )
        return True

    def connect(self) -> bool:
        start = time.perf_counter()
        try:
            with socket.create_connection(
                (self.s.rest_host, self.s.effective_port), timeout=self.timeout
            ):
                pass
        except OSError as e:
            fix = (
                "start a local server: pushcli serve"
                if self.s.local_default
                else "is the server running, and the port right?"
            )
            self.add(
                "connect",
                "fail",
                f"cannot connect to {self.s.rest_host}:{self.s.effective_port}: {e.strerror or e}",
                fix,
                code=ExitCode.UNAVAILABLE,
            )
            return False
        self.add(
            "connect",
            "pass",
            f"{self.s.rest_host}:{self.s.effective_port} answers",
            ms=(time.perf_counter() - start) * 1000,
        )
        return True

    def tls(self) -> None:
        host = self.s.rest_host
        if self.s.scheme != "https":
            if _loopback(host):
                self.add("tls", "skip", "plain http on loopback")
            else:
                self.add(
                    "tls",
                    "warn",
                    f"plain http to {host}: events and signed requests travel unencrypted",
                    'use https (PUSHER_SCHEME=https or scheme = "https")',
                )
            return
        ctx = ssl.create_default_context()
        start = time.perf_counter()
        try:
            with (
                socket.create_connection(
                    (host, self.s.effective_port), timeout=self.timeout
                ) as raw,
                ctx.wrap_socket(raw, server_hostname=host) as tls,
            ):
                version = tls.version()
                cert = tls.getpeercert() or {}
        except ssl.SSLCertVerificationError as e:
            self.add(
                "tls",
                "fail",
                f"certificate not valid for {host}: {e.verify_message}",
                "fix the server's certificate, or check the host name",
                code=ExitCode.UNAVAILABLE,
            )
            return
        except (OSError, ssl.SSLError) as e:
            self.add(
                "tls",
                "fail",
                f"TLS handshake with {host} failed: {e}",
                "is the port a TLS port?",
                code=ExitCode.UNAVAILABLE,
            )
            return
        expires = cert.get("notAfter", "?")
        self.add(
            "tls",
            "pass",
            f"{version}, certificate valid until {expires}",
            ms=(time.perf_counter() - start) * 1000,
        )

    def rest(self) -> bool:
        import httpx

        from pushcli.client.rest import build_request, interpret

        req = build_request(self.s, "GET", "/channels")
        start = time.perf_counter()
        try:
            with httpx.Client(timeout=self.timeout, trust_env=False) as client:
                resp = client.get(req.url, headers={"User-Agent": f"pushcli/{__version__} doctor"})
        except httpx.HTTPError as e:
            self.add("REST signature", "fail", f"request failed: {e}", code=ExitCode.UNAVAILABLE)
            return False
        ms = (time.perf_counter() - start) * 1000
        self.clock(resp.headers.get("date"))
        try:
            interpret(resp.status_code, resp.content, self.s.server_label)
        except PushcliError as e:
            status = getattr(e, "status", None)
            fixes = LOCAL_FIXES if _loopback(self.s.rest_host) else FIXES
            fix = fixes.get(status or 0, "")
            self.add("REST signature", "fail", e.message, fix, ms, code=e.exit_code)
            return False
        self.add("REST signature", "pass", "a signed GET /channels was accepted", ms=ms)
        return True

    def clock(self, date_header: str | None) -> None:
        if not date_header:
            self.add("clock", "skip", "the server sent no Date header")
            return
        try:
            server = email.utils.parsedate_to_datetime(date_header).timestamp()
        except (TypeError, ValueError):
            self.add("clock", "skip", f"unreadable Date header {date_header!r}")
            return
        skew = time.time() - server
        detail = f"{abs(skew):.0f} s {'ahead of' if skew > 0 else 'behind'} the server"
        if abs(skew) > SKEW_FAIL:
            self.add(
                "clock",
                "fail",
                detail + f" (signatures are refused past {SKEW_FAIL} s)",
                "sync the clock (timedatectl set-ntp true)",
                code=ExitCode.REJECTED,
            )
        elif abs(skew) > SKEW_WARN:
            self.add("clock", "warn", detail, "sync the clock (timedatectl set-ntp true)")
        else:
            self.add("clock", "pass", detail)

    def websocket(self) -> None:
        try:
            asyncio.run(asyncio.wait_for(self._ws_round_trip(), self.timeout * 3))
        except TimeoutError:
            self.add("websocket", "fail", "no answer in time", code=ExitCode.UNAVAILABLE)

    async def _ws_round_trip(self) -> None:
        import websockets

        url = frames.ws_url(
            self.s.ws_base, f"{self.s.key}", client="pushcli-doctor", version=__version__
        )
        start = time.perf_counter()
        try:
            ws = await websockets.connect(
                url, open_timeout=self.timeout, ping_interval=None, proxy=None
            )
        except (OSError, websockets.InvalidHandshake) as e:
            self.add(
                "websocket",
                "fail",
                f"cannot connect to {url.split('?')[0]}: {e}",
                code=ExitCode.UNAVAILABLE,
            )
            return
        async with ws:
            first = frames.decode(await asyncio.wait_for(ws.recv(), self.timeout))
            if first.event != frames.CONNECTION_ESTABLISHED:
                data = frames.decode_json(first.data)
                data = data if isinstance(data, dict) else {}
                code = data.get("code")
                fix = "the app key is wrong" if code == 4001 else ""
                self.add(
                    "websocket",
                    "fail",
                    f"server refused the connection: {data.get('message')} ({code})",
                    fix,
                    code=ExitCode.REJECTED,
                )
                return
            self.add("websocket", "pass", "connected", ms=(time.perf_counter() - start) * 1000)
            channel = f"pushcli-doctor-{secrets.token_hex(4)}"
            start = time.perf_counter()
            await ws.send(frames.encode(frames.SUBSCRIBE, {"channel": channel}))
            while True:
                frame = frames.decode(await asyncio.wait_for(ws.recv(), self.timeout))
                if frame.event == frames.SUBSCRIPTION_SUCCEEDED:
                    break
            subscribed = time.perf_counter()
            marker = secrets.token_hex(8)
            await asyncio.to_thread(self._trigger, channel, marker)
            while True:
                frame = frames.decode(await asyncio.wait_for(ws.recv(), self.timeout))
                if frame.event == "doctor-ping" and marker in str(frame.data):
                    break
            self.add(
                "round trip",
                "pass",
                f"subscribed to {channel} in {(subscribed - start) * 1000:.0f} ms; "
                "a triggered event arrived",
                ms=(time.perf_counter() - subscribed) * 1000,
            )

    def _trigger(self, channel: str, marker: str) -> None:
        from pushcli.client.rest import RestClient

        with RestClient(self.s, retries=0, timeout=self.timeout) as client:
            client.trigger(
                {"name": "doctor-ping", "channel": channel, "data": json.dumps({"marker": marker})}
            )


# --- the command ---------------------------------------------------------------------------------


@dataclass
class DoctorResult:
    checks: list[Check]
    ok: bool
    #: the first failed check's exit code (0 when every check passed)
    exit_code: int


def doctor(settings: SettingsSource, *, timeout: float = 5.0) -> DoctorResult:
    """Run the checklist; settings that cannot be resolved are its first, failed check."""
    try:
        resolved = settings_of(settings)
    except PushcliError as e:
        failed = Check(
            "settings",
            "fail",
            e.message,
            "fix the config file or the PUSHER_* variables",
            code=int(e.exit_code),
        )
        return DoctorResult([failed], False, int(e.exit_code))
    doc = Doctor(resolved, timeout=timeout)
    checks = doc.run()
    return DoctorResult(checks, doc.ok, doc.exit_code)
