"""What the command modules of app/ share, so that none borrows from another.

* settings given now, or a function that resolves them once the arguments are checked (the
  CLI passes its lazy resolver, so a bad argument is reported before a bad profile);
* a REST client for one call: the caller's keep-alive one (pushcli.api passes a function that
  makes it on first use, so nothing is connected before the arguments are checked), else one
  of its own;
* ``POST /events`` (trigger, users send), or the signed request described (``--dry-run``).

Imports nothing heavy: the REST client (httpx) is imported when a call is made.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias

from pushcli.client.profiles import Settings

if TYPE_CHECKING:
    from pushcli.client.rest import RestClient

#: resolved settings, or a function resolving them (called once, when they are needed)
SettingsSource: TypeAlias = Settings | Callable[[], Settings]
#: a REST client to reuse (it stays open), or a function returning one
RestSource: TypeAlias = "RestClient | Callable[[], RestClient]"
#: a status line shown while a command runs (the CLI hands in ui.render.message)
Notice: TypeAlias = Callable[[str], None]


def settings_of(source: SettingsSource) -> Settings:
    return source if isinstance(source, Settings) else source()


def no_notice(text: str) -> None:
    """The library's notice: it shows nothing."""


@contextlib.contextmanager
def rest_client(settings: Settings, rest: RestSource | None = None) -> Iterator[RestClient]:
    """The caller's client when given (it stays open), else one for this call only."""
    if rest is not None:
        yield rest() if callable(rest) else rest
        return
    from pushcli.client.rest import RestClient

    with RestClient(settings) as client:
        yield client


@dataclass
class Sent:
    """What ``POST /events`` gave: the server's answer, or on a dry run the request."""

    answer: Any = None
    #: the signed request (method, URL, body) a dry run described instead of sending
    request: str | None = None


def send_event(
    settings: Settings, body: dict[str, Any], *, dry_run: bool, rest: RestSource | None = None
) -> Sent:
    """POST /events, or with ``dry_run`` only build and describe the signed request."""
    if dry_run:
        from pushcli.client.rest import build_request, encode_body

        settings.require("app_id", "key", "secret", "location")
        request = build_request(settings, "POST", "/events", body=encode_body(body))
        return Sent(request=request.describe())
    with rest_client(settings, rest) as client:
        return Sent(answer=client.trigger(body))
