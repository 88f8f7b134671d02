"""What a check works with: the target, raw WebSocket connections, signed (or deliberately
wrong) HTTP API requests, unique channel names, and the webhook receiver.

``httpx`` is imported when the first request is made.
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from pushcli import __version__
from pushcli.app.conform.model import Failed
from pushcli.app.conform.wsclient import Conn, Frame, decode, is_event, short
from pushcli.client.profiles import Settings
from pushcli.protocol import signing

PROTOCOL_QUERY = f"protocol=7&client=pushcli-conform&version={__version__}"
_UNSET: Any = object()


@dataclass
class Answer:
    """An HTTP API answer."""

    status: int
    text: str

    @property
    def json(self) -> Any:
        try:
            return json.loads(self.text)
        except ValueError:
            return None

    @property
    def body_error(self) -> int | None:
        """The status a ``{"error": ..., "code": N}`` body claims (soketi answers errors so,
        with HTTP status 200)."""
        body = self.json
        if isinstance(body, dict) and "error" in body and isinstance(body.get("code"), int):
            return int(body["code"])
        return None

    def describe(self) -> str:
        text = " ".join(self.text.split())
        return f"HTTP {self.status} {short(text, 200)}".rstrip()


class Context:
    def __init__(
        self,
        settings: Settings,
        *,
        timeout: float,
        master_key: bytes | None = None,
        webhooks: Any = None,
    ) -> None:
        self.settings = settings
        self.key = settings.key or ""
        self.secret = settings.secret or ""
        self.app_id = settings.app_id or ""
        self.timeout = timeout
        self.run_id = secrets.token_hex(4)
        #: encryption is end to end: any 32-byte key works when the profile has none
        self.master_key = master_key or secrets.token_bytes(32)
        self.webhooks = webhooks
        self._conns: list[Conn] = []
        self._http: Any = None
        self._names = 0

    # ---- names

    def name(self, prefix: str, tag: str) -> str:
        """A channel name of this run only: ``{prefix}conform-{run}-{tag}{n}``."""
        self._names += 1
        return f"{prefix}conform-{self.run_id}-{tag}{self._names}"

    def user(self, tag: str) -> str:
        self._names += 1
        return f"conform-{self.run_id}-{tag}{self._names}"

    # ---- WebSocket

    def ws_url(self, key: str | None = None, query: str = PROTOCOL_QUERY) -> str:
        return f"{self.settings.ws_base}/app/{key or self.key}?{query}"

    async def connect(
        self, *, key: str | None = None, query: str = PROTOCOL_QUERY, established: bool = True
    ) -> Conn:
        conn = await Conn.open(self.ws_url(key, query), self.timeout, established=established)
        self._conns.append(conn)
        if established and not conn.socket_id:
            raise Failed(f"connection_established without a socket_id: {short(conn.established)}")
        return conn

    async def close_all(self) -> None:
        conns, self._conns = self._conns, []
        await asyncio.gather(*(conn.close() for conn in conns))

    def auth_for(
        self,
        conn: Conn,
        channel: str,
        *,
        user_id: str | None = None,
        user_info: Any = _UNSET,
    ) -> tuple[str | None, str | None]:
        """(auth, channel_data) as an auth endpoint would answer for ``channel``."""
        if channel.startswith("presence-"):
            data: dict[str, Any] = {"user_id": user_id or self.user("u")}
            if user_info is not _UNSET and user_info is not None:
                data["user_info"] = user_info
            channel_data = json.dumps(data, separators=(",", ":"))
            auth = signing.channel_auth(
                self.key, self.secret, conn.socket_id, channel, channel_data
            )
            return auth, channel_data
        if channel.startswith("private-"):
            return signing.channel_auth(self.key, self.secret, conn.socket_id, channel), None
        return None, None

    async def subscribe(
        self,
        conn: Conn,
        channel: str,
        *,
        user_id: str | None = None,
        user_info: Any = _UNSET,
    ) -> Any:
        """Subscribe with a valid auth; the decoded subscription_succeeded data. A refusal is
        a failure of the check (the server refused what Pusher accepts)."""
        if channel.startswith("presence-") and user_info is _UNSET:
            user_info = {"name": user_id or "conform"}
        auth, channel_data = self.auth_for(conn, channel, user_id=user_id, user_info=user_info)
        await conn.subscribe_frame(channel, auth, channel_data)
        frame = await self.subscription_answer(conn, channel)
        if frame.get("event") != "pusher_internal:subscription_succeeded":
            raise Failed(f"subscription to {channel} refused: {short(frame)}")
        return decode(frame.get("data"))

    async def subscription_answer(self, conn: Conn, channel: str) -> Frame:
        """subscription_succeeded, subscription_error or pusher:error for ``channel``."""

        def answer(frame: Frame) -> bool:
            event = frame.get("event")
            if event in ("pusher_internal:subscription_succeeded", "pusher:subscription_error"):
                return frame.get("channel") in (channel, None)
            return event == "pusher:error"

        return await conn.expect(answer, self.timeout, f"answer to the subscription to {channel}")

    async def expect_event(self, conn: Conn, channel: str, event: str) -> Frame:
        return await conn.expect(is_event(event, channel), self.timeout, f"{event} on {channel}")

    async def sync(self, conn: Conn) -> None:
        """A ping round trip: the server has handled every frame ``conn`` sent before."""
        await conn.send({"event": "pusher:ping", "data": {}})
        await conn.expect(is_event("pusher:pong"), self.timeout, "pusher:pong")

    async def marker(self, conn: Conn, channel: str) -> None:
        """Trigger an event on ``channel`` through the HTTP API and wait until ``conn`` has it:
        whatever the server was to send ``conn`` before, it has sent by then."""
        name = f"conform-marker-{secrets.token_hex(3)}"
        await self.trigger([channel], name, "{}")
        await self.expect_event(conn, channel, name)

    # ---- HTTP API

    def _client(self) -> Any:
        if self._http is None:
            import httpx

            self._http = httpx.AsyncClient(
                base_url=self.settings.rest_base,
                timeout=self.timeout + 2,
                trust_env=False,
                headers={"User-Agent": f"pushcli/{__version__} conform"},
            )
        return self._http

    async def aclose(self) -> None:
        await self.close_all()
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def rest(
        self,
        method: str,
        path: str,
        body: Any = None,
        params: Mapping[str, str] | None = None,
        *,
        app_id: str | None = None,
        key: str | None = None,
        secret: str | None = None,
        timestamp: int | None = None,
        body_md5: str | None = None,
        signature: str | None = None,
    ) -> Answer:
        """A request to ``/apps/{app_id}{path}``, signed as Pusher wants unless told to get one
        part wrong (another key, secret, timestamp, body_md5 or signature)."""
        full = f"/apps/{app_id or self.app_id}{path}"
        raw: bytes | None
        if body is None:
            raw = None
        elif isinstance(body, bytes):
            raw = body
        else:
            raw = json.dumps(body, separators=(",", ":")).encode()
        query = dict(params or {})
        if body_md5 is not None:
            query["body_md5"] = body_md5
        signed = signing.sign_params(
            key or self.key,
            secret or self.secret,
            method,
            full,
            timestamp=int(time.time()) if timestamp is None else timestamp,
            body=raw if body_md5 is None else None,
            params=query,
        )
        if signature is not None:
            signed["auth_signature"] = signature
        qs = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in signed.items())
        headers = {"Content-Type": "application/json"} if raw is not None else {}
        resp = await self._client().request(method, f"{full}?{qs}", content=raw, headers=headers)
        return Answer(resp.status_code, resp.text)

    async def trigger(
        self,
        channels: list[str],
        event: str,
        data: str,
        *,
        socket_id: str | None = None,
        info: str | None = None,
    ) -> Answer:
        """A valid trigger; anything but a 2xx answer without an error body fails the check."""
        body: dict[str, Any] = {"name": event, "channels": channels, "data": data}
        if socket_id:
            body["socket_id"] = socket_id
        if info:
            body["info"] = info
        answer = await self.rest("POST", "/events", body)
        return self.accepted(answer, f"trigger of {event}")

    def accepted(self, answer: Answer, what: str) -> Answer:
        if not 200 <= answer.status < 300 or answer.body_error is not None:
            raise Failed(f"{what} refused: {answer.describe()}")
        return answer

    # ---- encrypted channels

    def shared_secret(self, channel: str) -> bytes:
        from pushcli.protocol.crypto import shared_secret

        return shared_secret(channel, self.master_key)

    def shared_secret_b64(self, channel: str) -> str:
        return base64.b64encode(self.shared_secret(channel)).decode()
