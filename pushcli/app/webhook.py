"""``pushcli webhook verify / listen / send``: the commands, over app/webhooks.py's pieces.

app/webhooks.py has the sample bodies, signing, sending and the receiving handler; this
module runs them for one command each and says what happened.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from pushcli.app import endpoint
from pushcli.client.profiles import Settings
from pushcli.errors import PushcliError, RejectedError
from pushcli.protocol import diagnose


@dataclass
class VerifyResult:
    verdict: diagnose.Verdict
    body_bytes: int

    @property
    def error(self) -> RejectedError | None:
        """The error to exit with once the verdict is shown (None when it verifies)."""
        if self.verdict.valid:
            return None
        return RejectedError(
            "the webhook signature does not verify (expected and likely cause above)"
        )


@dataclass
class Receiving:
    """``webhook listen`` accepts webhooks on ``where`` for the app ``key``."""

    where: endpoint.Listening
    key: str | None
    forward_to: str | None


@dataclass
class Received:
    """What ``webhook listen`` received before it was stopped."""

    received: int
    invalid: int


class ListenView(Protocol):
    """What ``webhook listen`` shows while it runs (pushcli.ui.show.WebhookListenView)."""

    def started(self, receiving: Receiving) -> None: ...

    def webhook(self, record: dict[str, Any]) -> None: ...

    def stopped(self, received: Received) -> None: ...


@dataclass
class SendResult:
    url: str
    status: int
    ms: float
    #: the first 500 characters of the endpoint's answer
    body: str
    #: the webhook body that was sent
    sent: bytes
    bad_signature: bool = False

    @property
    def sent_json(self) -> Any:
        return json.loads(self.sent)

    @property
    def error(self) -> PushcliError | None:
        """Failure by the answer: not 2xx, or with a forged signature, 2xx (it was accepted)."""
        from pushcli.app import webhooks

        answer = webhooks.SendResult(self.status, self.body, self.ms)
        try:
            webhooks.check_answer(self.url, answer, bad_signature=self.bad_signature)
        except PushcliError as e:
            return e
        return None


def verify(
    settings: Settings,
    body: bytes | Callable[[], bytes],
    signature: str,
    *,
    key: str | None = None,
) -> VerifyResult:
    """Check ``signature`` over the raw ``body`` (or a function reading it, once the settings
    are checked); ``key`` is the X-Pusher-Key header, when known."""
    settings = settings.require("key", "secret")
    raw = body() if callable(body) else body
    verdict = diagnose.verify_webhook(
        settings.secret or "", settings.key or "", raw, signature, key
    )
    return VerifyResult(verdict, len(raw))


class _Quiet:
    def started(self, receiving: Receiving) -> None:
        pass

    def webhook(self, record: dict[str, Any]) -> None:
        pass

    def stopped(self, received: Received) -> None:
        pass


def listen(
    settings: Settings,
    *,
    host: str = "127.0.0.1",
    port: int = 9000,
    forward_to: str | None = None,
    view: ListenView | None = None,
) -> Received:
    """Receive, verify, report and (with ``forward_to``) forward webhooks until stopped."""
    from pushcli.app.webhooks import WebhookReceiver

    settings = settings.require("key", "secret")
    shown = view or _Quiet()
    receiver = WebhookReceiver(settings, forward_to=forward_to, report=shown.webhook)
    server, where = endpoint.bind(host, port, receiver)
    shown.started(Receiving(where, settings.key, forward_to))
    try:
        endpoint.serve(server)
    finally:
        shown.stopped(Received(receiver.received, receiver.invalid))
    return Received(receiver.received, receiver.invalid)


def send(
    settings: Settings,
    url: str,
    event_name: str,
    *,
    channel: str | None = None,
    user_id: str | None = None,
    data: str | None = None,
    event: str | None = None,
    bad_signature: bool = False,
) -> SendResult:
    """Send one correctly (or, with ``bad_signature``, wrongly) signed sample webhook."""
    from pushcli.app import webhooks

    settings = settings.require("key", "secret")
    ev = webhooks.sample_event(event_name, channel=channel, user_id=user_id, data=data, event=event)
    body = webhooks.body_for([ev])
    headers = webhooks.headers_for(settings, body, bad_signature=bad_signature)
    answer = webhooks.send(url, body, headers)
    return SendResult(url, answer.status, answer.ms, answer.body, body, bad_signature)
