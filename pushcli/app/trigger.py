"""``pushcli trigger`` / ``Client.trigger``: one event to one or more channels."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pushcli.app import publish
from pushcli.app.calls import RestSource, send_event
from pushcli.client.profiles import Settings


@dataclass
class TriggerResult:
    event: str
    channels: list[str]
    #: the server's answer (``{}``, or ``{"channels": {...}}`` with ``info``); None on a dry run
    answer: Any = None
    #: on a dry run, the signed request that was not sent
    request: str | None = None

    @property
    def dry_run(self) -> bool:
        return self.request is not None

    @property
    def counts(self) -> dict[str, Any]:
        """``channel → {user_count, subscription_count}`` when ``info`` asked for them."""
        found = self.answer.get("channels") if isinstance(self.answer, dict) else None
        return found if isinstance(found, dict) else {}


def trigger(
    settings: Settings,
    channels: Sequence[str],
    event: str,
    data: str,
    *,
    socket_id: str | None = None,
    info: str | None = None,
    dry_run: bool = False,
    rest: RestSource | None = None,
) -> TriggerResult:
    """Validate (names, size, encryption), then send ``data`` (the wire string) or describe it."""
    names = list(channels)
    body = publish.trigger_body(settings, names, event, data, socket_id=socket_id, info=info)
    sent = send_event(settings, body, dry_run=dry_run, rest=rest)
    return TriggerResult(event, names, sent.answer, sent.request)
