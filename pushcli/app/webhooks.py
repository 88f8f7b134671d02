"""Webhooks: sample bodies, signing, sending, and the receiving side of `webhook listen`."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pushcli.client.profiles import Settings
from pushcli.errors import InputError, RejectedError, UnavailableError
from pushcli.protocol import diagnose, signing
from pushcli.protocol.channels import check_channel, kind_of
from pushcli.server.localhttp import HttpRequest, HttpResponse

EVENT_NAMES = (
    "channel_occupied",
    "channel_vacated",
    "member_added",
    "member_removed",
    "client_event",
    "cache_miss",
    "subscription_count",
)
#: The headers a webhook carries that matter for verification, forwarded as received.
FORWARD_HEADERS = ("content-type", "x-pusher-key", "x-pusher-signature", "user-agent")


def sample_event(
    name: str,
    *,
    channel: str | None = None,
    user_id: str | None = None,
    data: str | None = None,
    event: str | None = None,
    socket_id: str | None = None,
) -> dict[str, Any]:
    """One webhook event of the given kind, with the fields Pusher sends for it."""
    if name not in EVENT_NAMES:
        raise InputError(f"unknown webhook event {name!r} (one of: {', '.join(EVENT_NAMES)})")
    if name.startswith("member_"):
        channel = channel or "presence-demo"
        if not kind_of(channel).has_members:
            raise InputError(f"{name} happens only on presence- channels")
        user_id = user_id or "user-1"
    channel = channel or "demo"
    check_channel(channel)
    out: dict[str, Any] = {"name": name, "channel": channel}
    if name.startswith("member_"):
        out["user_id"] = user_id
    elif name == "client_event":
        if not kind_of(channel).client_events:
            raise InputError("client events happen only on private- and presence- channels")
        out["event"] = event or "client-demo"
        out["data"] = data if data is not None else "{}"
        out["socket_id"] = socket_id or "123.456"
        if user_id or kind_of(channel).has_members:
            out["user_id"] = user_id or "user-1"
    elif name == "subscription_count":
        out["subscription_count"] = 1
    elif user_id:
        raise InputError(f"--user-id does not apply to {name}")
    if data is not None and name != "client_event":
        raise InputError("--data applies only to client_event")
    return out


def body_for(events: list[dict[str, Any]], *, time_ms: int | None = None) -> bytes:
    ms = int(time.time() * 1000) if time_ms is None else time_ms
    return json.dumps({"time_ms": ms, "events": events}, separators=(",", ":")).encode()


def headers_for(settings: Settings, body: bytes, *, bad_signature: bool = False) -> dict[str, str]:
    sig = signing.webhook_signature(settings.secret or "", body)
    if bad_signature:
        sig = signing.webhook_signature((settings.secret or "") + "-forged", body)
    return {
        "Content-Type": "application/json",
        "X-Pusher-Key": settings.key or "",
        "X-Pusher-Signature": sig,
        "User-Agent": "pushcli-webhook",
    }


@dataclass
class SendResult:
    status: int
    body: str
    ms: float


def send(url: str, body: bytes, headers: dict[str, str], *, timeout: float = 10.0) -> SendResult:
    import httpx

    try:
        with httpx.Client(timeout=timeout, trust_env=False) as client:
            start = time.perf_counter()
            resp = client.post(url, content=body, headers=headers)
    except httpx.TimeoutException:
        raise UnavailableError(f"{url} did not answer in time") from None
    except httpx.HTTPError as e:
        raise UnavailableError(f"cannot reach {url}: {e}") from None
    return SendResult(resp.status_code, resp.text[:500], (time.perf_counter() - start) * 1000)


def check_answer(url: str, result: SendResult, *, bad_signature: bool) -> None:
    """Raise for an answer that means failure; with a forged signature, acceptance is the failure."""
    if bad_signature:
        if 200 <= result.status < 300:
            raise RejectedError(
                f"{url} ACCEPTED a webhook with a forged signature ({result.status}): "
                "it does not verify X-Pusher-Signature"
            )
        return
    if 200 <= result.status < 300:
        return
    msg = f"{url} answered {result.status}: {' '.join(result.body.split())[:200]}"
    if result.status >= 500:
        raise UnavailableError(msg)
    raise RejectedError(msg, status=result.status)


@dataclass
class WebhookReceiver:
    """Verifies each webhook, reports it, and forwards it unchanged when asked."""

    settings: Settings
    forward_to: str | None = None
    report: Callable[[dict[str, Any]], None] = lambda record: None
    received: int = 0
    invalid: int = 0
    _client: Any = field(default=None, repr=False)

    def __call__(self, req: HttpRequest) -> HttpResponse:
        if req.method != "POST":
            return HttpResponse(405, b'{"error":"webhooks are POSTed"}')
        self.received += 1
        verdict = diagnose.verify_webhook(
            self.settings.secret or "",
            self.settings.key or "",
            req.body,
            req.headers.get("x-pusher-signature", ""),
            req.headers.get("x-pusher-key"),
        )
        if not verdict.valid:
            self.invalid += 1
        try:
            payload = json.loads(req.body)
            events = payload.get("events", []) if isinstance(payload, dict) else []
            time_ms = payload.get("time_ms") if isinstance(payload, dict) else None
        except ValueError:
            events, time_ms = [], None
        forward = self._forward(req) if self.forward_to else None
        base = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "valid": verdict.valid,
            "key": req.headers.get("x-pusher-key"),
            "time_ms": time_ms,
        }
        if not verdict.valid:
            base["problem"] = verdict.causes[0] if verdict.causes else "invalid signature"
        if forward is not None:
            base["forward"] = forward
        for ev in events or [{}]:
            self.report({**base, **(ev if isinstance(ev, dict) else {"event": ev})})
        if forward is not None and "status" in forward:
            return HttpResponse(forward["status"], forward.get("body", "").encode())
        if verdict.valid:
            return HttpResponse(200, b"{}")
        return HttpResponse(401, b'{"error":"invalid webhook signature"}')

    def _forward(self, req: HttpRequest) -> dict[str, Any]:
        import httpx

        if self._client is None:
            self._client = httpx.Client(timeout=10.0, trust_env=False)
        headers = {k: v for k, v in req.headers.items() if k in FORWARD_HEADERS}
        start = time.perf_counter()
        try:
            resp = self._client.post(self.forward_to or "", content=req.body, headers=headers)
        except httpx.HTTPError as e:
            return {"error": f"cannot reach {self.forward_to}: {e}"}
        return {
            "status": resp.status_code,
            "ms": round((time.perf_counter() - start) * 1000, 1),
            "body": resp.text[:200],
        }
