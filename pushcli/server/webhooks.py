"""Webhooks: events batched per app for a short window, signed, POSTed, retried on failure.

Body ``{"time_ms": ..., "events": [...]}``; headers ``X-Pusher-Key`` and ``X-Pusher-Signature``
(hex HMAC-SHA256 of the raw body with the app secret), as Pusher sends them
(:mod:`pushcli.protocol.webhooks`). A delivery is
retried with exponential backoff when the receiver cannot be reached or answers non-2xx.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from pushcli.protocol import webhooks
from pushcli.server.apps import App
from pushcli.server.records import OnRecord, WebhookSent, webhook_events

log = logging.getLogger("pushcli.server")
MAX_EVENTS_PER_REQUEST = 100


class WebhookSender:
    def __init__(
        self,
        urls: tuple[str, ...] = (),
        *,
        batch_seconds: float = 0.5,
        attempts: int = 6,
        first_retry: float = 0.5,
        timeout: float = 10.0,
    ) -> None:
        self.urls = urls
        self.batch_seconds = batch_seconds
        self.attempts = attempts
        self.first_retry = first_retry
        self.timeout = timeout
        self._pending: dict[str, tuple[App, list[dict[str, Any]]]] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._client: Any = None
        self.delivered = 0
        self.failed = 0
        #: the debug console's hook (records.py): one WebhookSent per attempt
        self.on_record: OnRecord | None = None

    def wants(self, app: App) -> bool:
        return bool(app.webhooks or self.urls)

    def add(self, app: App, event: dict[str, Any]) -> None:
        """Queue one event (called on the loop thread; never blocks)."""
        if not self.wants(app):
            return
        entry = self._pending.get(app.id)
        if entry is None:
            entry = self._pending[app.id] = (app, [])
        entry[1].append(event)
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self.batch_seconds, self.flush)

    def flush(self) -> None:
        self._timer = None
        pending, self._pending = self._pending, {}
        for app, events in pending.values():
            for i in range(0, len(events), MAX_EVENTS_PER_REQUEST):
                chunk = events[i : i + MAX_EVENTS_PER_REQUEST]
                for url in app.webhooks or self.urls:
                    task = asyncio.get_running_loop().create_task(self._deliver(app, url, chunk))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)

    def _http(self) -> Any:
        if self._client is None:
            import httpx

            self._client = httpx.AsyncClient(timeout=self.timeout, follow_redirects=False)
        return self._client

    async def _deliver(self, app: App, url: str, events: list[dict[str, Any]]) -> None:
        client = self._http()
        delay = self.first_retry
        why = ""
        for attempt in range(1, self.attempts + 1):
            body = webhooks.body(events, int(time.time() * 1000))
            headers = webhooks.headers(app.key, app.secret, body, user_agent="pushcli-serve")
            status: int | None = None
            try:
                resp = await client.post(url, content=body, headers=headers)
                status = resp.status_code
                if 200 <= resp.status_code < 300:
                    self.delivered += 1
                    log.debug("webhook %s: %d event(s) delivered", url, len(events))
                    if self.on_record is not None:
                        self._record(app, url, events, attempt, status, None)
                    return
                why = f"answered {resp.status_code}"
            except Exception as e:  # noqa: BLE001 - any transport failure is retried
                why = f"{e.__class__.__name__}: {e}" if str(e) else e.__class__.__name__
            if self.on_record is not None:
                error = None if status is not None else why
                self._record(app, url, events, attempt, status, error)
            if attempt < self.attempts:
                log.info("webhook %s %s; retry %d in %.1fs", url, why, attempt, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
        self.failed += 1
        log.warning(
            "webhook %s: giving up after %d attempts (%s); %d event(s) lost",
            url,
            self.attempts,
            why,
            len(events),
        )

    def _record(
        self,
        app: App,
        url: str,
        events: list[dict[str, Any]],
        attempt: int,
        status: int | None,
        error: str | None,
    ) -> None:
        assert self.on_record is not None
        ok = status is not None and 200 <= status < 300
        self.on_record(
            WebhookSent(
                app_id=app.id,
                url=url,
                events=webhook_events(events),
                attempt=attempt,
                status=status,
                error=error,
                retry=not ok and attempt < self.attempts,
            )
        )

    async def close(self, timeout: float = 2.0) -> None:
        """Send what is queued, wait a little for deliveries in flight, release the client."""
        if self._timer is not None:
            self._timer.cancel()
            self.flush()
        if self._tasks:
            _, still = await asyncio.wait(set(self._tasks), timeout=timeout)
            for task in still:
                task.cancel()
        if self._client is not None:
            await self._client.aclose()
            self._client = None
