"""Triggering and batch sending: validation, encryption, chunking, retries, failures."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pushcli.client.profiles import Settings
from pushcli.errors import ExitCode, PushcliError, RejectedError, UnavailableError
from pushcli.protocol import crypto, limits
from pushcli.protocol.channels import kind_of
from pushcli.protocol.events import Event

INFO_VALUES = ("user_count", "subscription_count")


def check_info(info: str | None, allowed: Sequence[str] = INFO_VALUES) -> str | None:
    from pushcli.errors import InputError

    if not info:
        return None
    parts = [p.strip() for p in info.split(",") if p.strip()]
    bad = [p for p in parts if p not in allowed]
    if bad:
        raise InputError(
            f"unknown --info attribute {', '.join(bad)} (allowed: {', '.join(allowed)})"
        )
    return ",".join(parts)


def trigger_body(
    settings: Settings,
    channels: list[str],
    name: str,
    data: str,
    *,
    socket_id: str | None = None,
    info: str | None = None,
) -> dict[str, Any]:
    """Validate and build the body of POST /events (encrypting when the channel asks)."""
    limits.check_channels(channels, allow_server_to_user=True)
    limits.check_event_name(name)
    if socket_id is not None:
        limits.check_socket_id(socket_id)
    if kind_of(channels[0]).encrypted:
        key = crypto.require_master_key(settings.encryption_master_key, channels[0])
        data = crypto.encrypt(channels[0], data, key)
    limits.check_data_size(data, settings.max_data_bytes)
    body: dict[str, Any] = {"name": name, "data": data}
    if len(channels) == 1:
        body["channel"] = channels[0]
    else:
        body["channels"] = channels
    if socket_id:
        body["socket_id"] = socket_id
    if info:
        body["info"] = check_info(info)
    return body


def encrypt_events(settings: Settings, events: list[Event]) -> None:
    """Encrypt, in place, every event for a private-encrypted- channel; check final sizes."""
    key: bytes | None = None
    for ev in events:
        if kind_of(ev.channel).encrypted:
            if key is None:
                key = crypto.require_master_key(settings.encryption_master_key, ev.channel)
            ev.plain = ev.data
            ev.data = crypto.encrypt(ev.channel, ev.data, key)
            limits.check_data_size(ev.data, settings.max_data_bytes)


@dataclass(frozen=True, slots=True)
class Problem:
    """Why a request failed, as plain data (it crosses process boundaries; exceptions may not)."""

    message: str
    exit_code: int
    #: the HTTP status, when the server answered
    status: int | None = None
    #: it would fail every later request too (401/403/404, unreachable): the run stops
    stops: bool = False

    @classmethod
    def of(cls, e: PushcliError) -> Problem:
        status = getattr(e, "status", None)
        return cls(
            e.message,
            int(e.exit_code),
            status if isinstance(status, int) else None,
            _stops_everything(e),
        )

    def error(self, message: str | None = None) -> PushcliError:
        """An exception carrying this problem's exit code (and status), to raise."""
        text = self.message if message is None else message
        if self.exit_code == ExitCode.REJECTED:
            return RejectedError(text, status=self.status)
        if self.exit_code == ExitCode.UNAVAILABLE:
            return UnavailableError(text)
        err = PushcliError(text)
        err.exit_code = ExitCode(self.exit_code)
        return err


@dataclass
class BatchResult:
    """What a batch run did. Plain data throughout: workers send theirs back to the parent.

    Delivery is at-least-once: ``failed`` holds every event the server did not confirm (what
    ``--failed-to`` keeps); ``unknown`` the ones among them whose request got no answer (timeout,
    connection lost after sending), which the server may have delivered anyway. ``maybe_duplicated``
    counts confirmed events whose request was sent again after such an attempt: they may have
    arrived twice.
    """

    total: int = 0
    sent: int = 0
    failed: list[Event] = field(default_factory=list)
    unknown: list[Event] = field(default_factory=list)
    maybe_duplicated: int = 0
    errors: list[str] = field(default_factory=list)
    requests: int = 0
    seconds: float = 0.0
    #: the error that stopped the run (401/403/404, unreachable), if one did
    fatal: Problem | None = None
    #: the first error of any kind, for the exit code when nothing at all was sent
    first_error: Problem | None = None

    @property
    def rate(self) -> float:
        return self.sent / self.seconds if self.seconds > 0 else 0.0

    def merge(self, other: BatchResult) -> None:
        """Add another run's counts, failures and errors (seconds and total are the caller's)."""
        self.sent += other.sent
        self.failed.extend(other.failed)
        self.unknown.extend(other.unknown)
        self.maybe_duplicated += other.maybe_duplicated
        self.errors.extend(other.errors)
        self.requests += other.requests
        self.fatal = self.fatal or other.fatal
        self.first_error = self.first_error or other.first_error

    def summary(self) -> dict[str, Any]:
        return {
            "sent": self.sent,
            "failed": len(self.failed),
            "unknown": len(self.unknown),
            "maybe_duplicated": self.maybe_duplicated,
            "requests": self.requests,
            "seconds": round(self.seconds, 3),
            "events_per_second": round(self.rate, 1),
            "errors": self.errors[:20],
        }


def chunks(events: list[Event], size: int = limits.MAX_EVENTS_PER_BATCH) -> list[list[Event]]:
    return [events[i : i + size] for i in range(0, len(events), size)]


def _stops_everything(e: PushcliError) -> bool:
    """Errors that would fail every later request too: bad credentials, app gone, unreachable."""
    if isinstance(e, RejectedError):
        return e.status in (401, 403, 404)
    return isinstance(e, UnavailableError)


def _span(part: list[Event]) -> str:
    first, last = part[0].origin, part[-1].origin
    return first if first == last else f"{first}…{last}"


def _uncertain(client: Any) -> bool:
    """Whether the client's last call had an attempt with no answer (RestClient says so)."""
    return bool(getattr(client, "last_call_uncertain", False))


@dataclass(frozen=True, slots=True)
class Outcome:
    """How one request of a batch ended: confirmed (``problem`` None) or not, and whether an
    attempt got no answer (then a confirmed request may have delivered twice, an unconfirmed
    one may have delivered all the same)."""

    problem: Problem | None
    uncertain: bool


def send_chunk(client: Any, part: list[Event], *, contain_errors: bool = False) -> Outcome:
    """One POST /batch_events for ``part`` (at most 10 events), retried as the client does."""
    from pushcli.client.rest import encode_body

    body = encode_body({"batch": [ev.wire() for ev in part]})
    try:
        client.call("POST", "/batch_events", body=body)
    except PushcliError as e:
        return Outcome(Problem.of(e), _uncertain(client))
    except Exception as e:
        if not contain_errors:
            raise
        problem = Problem(
            f"unexpected error: {e.__class__.__name__}: {e}", ExitCode.UNEXPECTED, stops=True
        )
        return Outcome(problem, True)
    return Outcome(None, _uncertain(client))


def record(result: BatchResult, part: list[Event], outcome: Outcome) -> None:
    """Count ``part`` in ``result`` as ``outcome`` says (a stopping problem becomes ``fatal``)."""
    problem = outcome.problem
    if problem is None:
        result.sent += len(part)
        if outcome.uncertain:
            result.maybe_duplicated += len(part)
        return
    result.errors.append(f"{_span(part)}: {problem.message}")
    result.first_error = result.first_error or problem
    result.failed.extend(part)
    if outcome.uncertain:
        result.unknown.extend(part)
    if problem.stops:
        result.fatal = result.fatal or problem


def send_batch(
    client: Any,
    events: list[Event],
    *,
    progress: Callable[[int], None] | None = None,
    contain_errors: bool = False,
) -> BatchResult:
    """Send ``events`` in requests of 10, in order, one at a time over the client's connection
    (the library's ``Client.batch`` and ``--replay``; the command keeps many in flight:
    :mod:`pushcli.app.batch`).

    A chunk the server rejects (400, 413, …) is recorded as failed and sending goes on; an error
    that would fail every later chunk (401/403/404, unreachable after retries) stops the run and
    marks everything not sent as failed. A chunk whose request got no answer is failed *and*
    unknown (see :class:`BatchResult`). With ``contain_errors`` an unexpected exception becomes
    a problem too: the chunk in flight is unknown, the rest failed, nothing is lost.
    """
    result = BatchResult(total=len(events))
    start = time.perf_counter()
    parts = chunks(events)
    before = client.requests_sent
    for i, part in enumerate(parts):
        outcome = send_chunk(client, part, contain_errors=contain_errors)
        record(result, part, outcome)
        if outcome.problem is not None and outcome.problem.stops:
            for rest in parts[i + 1 :]:
                result.failed.extend(rest)
            break
        if progress is not None:
            progress(len(part))
    result.requests = client.requests_sent - before
    result.seconds = time.perf_counter() - start
    return result
