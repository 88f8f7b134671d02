"""Webhooks: sending samples (``webhook send``) and the receiving side of ``webhook listen``.

The events, body and signature are :mod:`pushcli.protocol.webhooks`'s (as the embedded server's).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pushcli.client.profiles import Settings
from pushcli.errors import RejectedError, UnavailableError
from pushcli.protocol import diagnose
from pushcli.protocol import webhooks as protocol_webhooks
from pushcli.protocol.webhooks import EVENT_NAMES as EVENT_NAMES
from pushcli.protocol.webhooks import sample_event as sample_event
from pushcli.server.localhttp import HttpRequest, HttpResponse

#: The headers a webhook carries that matter for verification, forwarded as received.
FORWARD_HEADERS = ("content-type", "x-pusher-key", "x-pusher-signature", "user-agent")


def body_for(events: list[dict[str, Any]], *, time_ms: int | None = None) -> bytes:
    return protocol_webhooks.body(events, int(time.time() * 1000) if time_ms is None else time_ms)


def headers_for(settings: Settings, body: bytes, *, bad_signature: bool = False) -> dict[str, str]:
    secret = (settings.secret or "") + ("-forged" if bad_signature else "")
    return protocol_webhooks.headers(settings.key or "", secret, body, user_agent="pushcli-webhook")


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
