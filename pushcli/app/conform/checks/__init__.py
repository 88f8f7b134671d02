"""Every check, in the order of GROUPS (each group's module registers its own)."""

from __future__ import annotations

from pushcli.app.conform.checks import (  # noqa: F401 - imported to register their checks
    cache,
    client_events,
    encrypted,
    http_api,
    presence,
    webhooks,
    websocket,
)
from pushcli.app.conform.checks.base import REGISTRY
from pushcli.app.conform.model import GROUPS, Check

ALL: tuple[Check, ...] = tuple(sorted(REGISTRY, key=lambda c: GROUPS.index(c.group)))

__all__ = ["ALL"]
