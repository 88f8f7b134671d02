"""What a conformance run is made of: check definitions, their results, the report (pure data).

A check is an async function of a :class:`~pushcli.app.conform.context.Context` that returns what
it observed when the server behaved as Pusher does, raises :class:`Failed` with what it
observed otherwise, or :class:`Skipped` with the reason it could not run.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

Status = Literal["pass", "fail", "skip"]

#: the groups, in the order they run and are shown
GROUPS = (
    "websocket",
    "presence",
    "client-events",
    "cache",
    "encrypted",
    "http-api",
    "webhooks",
)


class Failed(Exception):
    """The server did not behave as the rule says; ``observed`` is what it did."""

    def __init__(self, observed: str) -> None:
        super().__init__(observed)
        self.observed = observed


class Skipped(Exception):
    """The check cannot run here; the message says why."""


#: a check takes the run's :class:`~pushcli.app.conform.context.Context` (typed Any here: the
#: context imports this module, and a model that imports it back would make a circle)
CheckFn = Callable[[Any], Awaitable[str]]


@dataclass(frozen=True)
class Check:
    name: str
    group: str
    expected: str
    rule: str
    fn: CheckFn = field(repr=False, compare=False)
    #: side effects on other users (terminating connections, load, input that may crash a
    #: non-conforming server): runs only with --destructive
    destructive: bool = False
    #: run after every other check (it may take a non-conforming server down)
    last: bool = False
    #: about how many Pusher messages it costs (events published + deliveries)
    messages: int = 0
    #: needs the webhook receiver (--webhook-port)
    webhooks: bool = False


@dataclass
class CheckResult:
    name: str
    group: str
    status: Status
    expected: str
    observed: str
    rule: str
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "group": self.group,
            "status": self.status,
            "expected": self.expected,
            "observed": self.observed,
            "rule": self.rule,
        }


@dataclass
class Report:
    server: str
    checks: list[CheckResult] = field(default_factory=list)
    seconds: float = 0.0

    def count(self, status: Status) -> int:
        return sum(1 for c in self.checks if c.status == status)

    @property
    def passed(self) -> int:
        return self.count("pass")

    @property
    def failed(self) -> int:
        return self.count("fail")

    @property
    def skipped(self) -> int:
        return self.count("skip")

    @property
    def ok(self) -> bool:
        return self.failed == 0

    def get(self, name: str) -> CheckResult:
        for c in self.checks:
            if c.name == name:
                return c
        raise KeyError(name)

    def as_dict(self) -> dict[str, Any]:
        return {
            "server": self.server,
            "checks": [c.as_dict() for c in self.checks],
            "passed": self.passed,
            "failed": self.failed,
            "skipped": self.skipped,
        }
