"""The check registry and the assertions the checks share."""

from __future__ import annotations

from collections.abc import Callable, Collection

from pushcli.app.conform.context import Answer
from pushcli.app.conform.model import Check, CheckFn, Failed

REGISTRY: list[Check] = []

PROTOCOL = "Pusher Channels protocol"
HTTP_API = "Pusher HTTP API reference"


def check(
    group: str,
    name: str,
    *,
    expected: str,
    rule: str,
    destructive: bool = False,
    last: bool = False,
    messages: int = 0,
    webhooks: bool = False,
) -> Callable[[CheckFn], CheckFn]:
    """Register the decorated coroutine function as a check."""

    def register(fn: CheckFn) -> CheckFn:
        if any(c.name == name for c in REGISTRY):
            raise ValueError(f"check {name!r} is defined twice")
        REGISTRY.append(
            Check(name, group, expected, rule, fn, destructive, last, messages, webhooks)
        )
        return fn

    return register


def need(condition: bool, observed: str) -> None:
    """Fail the check with ``observed`` unless ``condition`` holds."""
    if not condition:
        raise Failed(observed)


def http_error(answer: Answer, allowed: Collection[int], want: str | None = None) -> str:
    """Pass when the answer's HTTP status is one of ``allowed`` (``want`` says so in words);
    an error reported in the body of a 200 (soketi's way) is a failure of its own."""
    want = want or "/".join(str(s) for s in sorted(allowed))
    if answer.status in allowed:
        return answer.describe()
    claimed = answer.body_error
    if answer.status < 300 and claimed is not None:
        raise Failed(
            f"HTTP {answer.status} with the error in the body (code {claimed}), not status "
            f"{want}: {answer.describe()}"
        )
    if answer.status < 300:
        raise Failed(f"accepted: {answer.describe()}")
    raise Failed(f"{answer.describe()} (expected {want})")
