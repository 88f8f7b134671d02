"""The HTTP API: build signed requests, send them (bounded retries) over a transport.

Requests are built first (pure, clock passed in) and sent second, so ``--dry-run`` shows exactly
what would go out. Errors become exceptions carrying pushcli's exit codes.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol
from urllib.parse import quote

from pushcli.client.profiles import Settings
from pushcli.errors import PushcliError, RejectedError, UnavailableError
from pushcli.protocol import signing
from pushcli.protocol.backoff import REST_RETRY, Backoff

USER_AGENT = "pushcli"
HEADERS = {"User-Agent": USER_AGENT, "Accept": "application/json"}
JSON_HEADERS = {**HEADERS, "Content-Type": "application/json"}
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(slots=True)
class Request:
    method: str
    path: str
    query: dict[str, str]
    body: bytes | None
    base: str

    @property
    def target(self) -> str:
        """Path and query, as on the request line."""
        qs = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in self.query.items())
        return f"{self.path}?{qs}"

    @property
    def url(self) -> str:
        return self.base + self.target

    def describe(self) -> str:
        """Method, signed URL and body, for --dry-run (contains no secret)."""
        lines = [f"{self.method} {self.url}"]
        if self.body is not None:
            lines.append("Content-Type: application/json")
            lines.append("")
            lines.append(self.body.decode())
        return "\n".join(lines)


def encode_body(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def build_request(
    settings: Settings,
    method: str,
    path: str,
    *,
    body: bytes | None = None,
    params: Mapping[str, str] | None = None,
    timestamp: int | None = None,
) -> Request:
    """A signed request for ``/apps/{app_id}{path}``."""
    full = f"/apps/{settings.app_id}{path}"
    ts = int(time.time()) if timestamp is None else timestamp
    query = signing.sign_params(
        settings.key or "",
        settings.secret or "",
        method,
        full,
        timestamp=ts,
        body=body if body is not None or method == "POST" else b"",
        params=params,
    )
    return Request(method, full, query, body, settings.rest_base)


class ServerError(UnavailableError):
    """A 5xx answer (kept distinct so batch can retry and report it)."""

    def __init__(self, message: str, status: int = 500) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after: float | None = None


class OutcomeUnknown(UnavailableError):
    """The request went out, but no answer came back (read timeout, connection lost): the server
    may have acted on it. Retrying such a request can deliver its events twice."""


def outcome_unknown(e: PushcliError) -> bool:
    """Whether the server may have accepted the request that ended in ``e``: no answer came, or a
    gateway answered 504 (it gave up waiting for the server, which may still have acted)."""
    return isinstance(e, OutcomeUnknown) or (isinstance(e, ServerError) and e.status == 504)


def _error_message(status: int, payload: Any, text: str) -> str:
    msg = ""
    if isinstance(payload, dict):
        msg = str(payload.get("error") or payload.get("message") or "")
    if not msg:
        msg = text.strip()
    msg = " ".join(msg.split()) if "\n" not in msg else msg.replace("\n", "\\n")
    return msg[:500]


def interpret(status: int, content: bytes, server: str, retry_after: str | None = None) -> Any:
    """Turn an answer into data, or raise the matching error.

    soketi (with its uWebSockets.js build) answers errors with status 200 and the real status in
    the body as ``{"error": ..., "code": N}``; such a body is treated as that status.
    """
    text = content.decode("utf-8", "replace")
    try:
        payload: Any = json.loads(text) if text.strip() else {}
    except ValueError:
        payload = None
    if (
        status < 400
        and isinstance(payload, dict)
        and "error" in payload
        and isinstance(payload.get("code"), int)
        and payload["code"] >= 400
    ):
        status = payload["code"]
    if status < 400:
        return payload if payload is not None else text
    msg = _error_message(status, payload, text)
    err: ServerError | RejectedError
    if status >= 500:
        err = ServerError(f"{server} answered {status}: {msg}", status)
    else:
        err = RejectedError(f"rejected by {server} ({status}): {msg}", status=status)
    if status in (429, 503):
        err.retry_after = parse_retry_after(retry_after)
    raise err


#: the longest Retry-After pushcli waits, whatever the server asks
MAX_RETRY_AFTER = 30.0


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delay-seconds form), capped; None if absent
    or not a number (then the usual backoff applies)."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    if seconds != seconds or seconds < 0:  # NaN, negative
        return None
    return min(seconds, MAX_RETRY_AFTER)


def backoff_delay(
    attempt: int, base: float = REST_RETRY.base, cap: float = REST_RETRY.cap
) -> float:
    """Exponential backoff with full jitter (:data:`pushcli.protocol.backoff.REST_RETRY`)."""
    return Backoff(base=base, cap=cap, floor=REST_RETRY.floor).delay(attempt, random)


class Answer(NamedTuple):
    """What came back for one request, before :func:`interpret` reads it."""

    status: int
    content: bytes
    retry_after: str | None


class Transport(Protocol):
    """Sends one built request and returns the answer, or raises :class:`UnavailableError`
    (the request did not get there) / :class:`OutcomeUnknown` (it went out, no answer came)."""

    def send(self, req: Request) -> Answer: ...

    def close(self) -> None: ...


class HttpxTransport:
    """httpx's transport (not httpx.Client: pushcli needs no cookies, redirects, auth hooks or
    URL merging, and skipping them halves the client-side cost of each request)."""

    def __init__(self, server: str, timeout: float) -> None:
        import httpx

        self._httpx = httpx
        self.server = server
        self.transport = httpx.HTTPTransport(retries=0)
        self._timeout = {"connect": timeout, "read": timeout, "write": timeout, "pool": timeout}

    def close(self) -> None:
        self.transport.close()

    def send(self, req: Request) -> Answer:
        httpx = self._httpx
        request = httpx.Request(
            req.method,
            req.url,
            content=req.body,
            headers=JSON_HEADERS if req.body is not None else HEADERS,
            extensions={"timeout": self._timeout},
        )
        try:
            resp = self.transport.handle_request(request)
            try:
                content = resp.read()
            finally:
                resp.close()
        except httpx.ReadTimeout:
            raise no_answer_in_time(self.server) from None
        except httpx.TimeoutException:  # connecting or sending: the request did not get there
            raise UnavailableError(f"{self.server} did not answer in time") from None
        except (httpx.ReadError, httpx.RemoteProtocolError) as e:
            # The request was sent; the connection broke before a whole answer came back.
            raise answer_lost(self.server, str(e) or e.__class__.__name__) from None
        except httpx.TransportError as e:
            reason = str(e) or e.__class__.__name__
            raise UnavailableError(f"cannot reach {self.server}: {reason}") from None
        return Answer(resp.status_code, content, resp.headers.get("retry-after"))


def no_answer_in_time(server: str) -> OutcomeUnknown:
    return OutcomeUnknown(f"{server} did not answer in time (it may have accepted the request)")


def answer_lost(server: str, reason: str) -> OutcomeUnknown:
    return OutcomeUnknown(
        f"connection to {server} lost before its answer ({reason}); "
        "it may have accepted the request"
    )


class SharedBackoff:
    """One pause for many senders (threads, or forked processes with a shared ``value``).

    A 429 or a 503 speaks for the whole server (or the app's rate limit), not for the request
    that got it: the sender that got it holds every sender until its delay (the server's
    ``Retry-After``, else backoff) has passed, and each sender waits before every attempt.
    ``value`` is anything with ``.value`` and ``.get_lock()`` (``multiprocessing.Value("d")``),
    holding a ``time.monotonic()`` instant, which Linux shares between processes.
    """

    def __init__(
        self,
        value: Any = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._until = value if value is not None else _Instant()
        self.clock = clock
        self.sleep = sleep

    def hold(self, seconds: float) -> None:
        with self._until.get_lock():
            self._until.value = max(self._until.value, self.clock() + seconds)

    def wait(self) -> None:
        while (left := self._until.value - self.clock()) > 0:
            self.sleep(left)


class _Instant:
    def __init__(self) -> None:
        self.value = 0.0
        self._lock = threading.Lock()

    def get_lock(self) -> threading.Lock:
        return self._lock


def slows_everyone(e: PushcliError) -> bool:
    """429 (rate limited) and 503 (unavailable) are about the server, not this request."""
    return getattr(e, "status", None) in (429, 503)


class RestClient:
    """Signed requests with bounded retries over one transport (default: one httpx
    keep-alive connection; batch gives each of its senders a lean one of its own)."""

    def __init__(
        self,
        settings: Settings,
        *,
        timeout: float = 10.0,
        retries: int = 3,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        transport: Transport | None = None,
        backoff: SharedBackoff | None = None,
    ) -> None:
        settings.require("app_id", "key", "secret", "location")
        self.settings = settings
        self.retries = retries
        self.clock = clock
        self._sleep = sleep
        self.server = settings.server_label
        self.transport: Transport = transport or HttpxTransport(self.server, timeout)
        self.backoff = backoff
        self.requests_sent = 0
        #: whether the last call() had an attempt whose outcome is unknown (see call())
        self.last_call_uncertain = False

    def __enter__(self) -> RestClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.transport.close()

    def build(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        params: Mapping[str, str] | None = None,
    ) -> Request:
        return build_request(
            self.settings, method, path, body=body, params=params, timestamp=int(self.clock())
        )

    def send_once(self, req: Request) -> Any:
        try:
            answer = self.transport.send(req)
        finally:
            self.requests_sent += 1
        return interpret(answer.status, answer.content, self.server, answer.retry_after)

    def call(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        params: Mapping[str, str] | None = None,
    ) -> Any:
        """Sign, send and retry on 429, 5xx and network errors (bounded).

        Afterwards :attr:`last_call_uncertain` says whether an attempt ended with no answer (see
        :func:`outcome_unknown`): then the server may have acted on the request although this
        call raised, or acted twice although it returned (retries are at-least-once).
        """
        attempt = 0
        self.last_call_uncertain = False
        while True:
            if self.backoff is not None:
                self.backoff.wait()
            req = self.build(method, path, body=body, params=params)
            try:
                return self.send_once(req)
            except PushcliError as e:
                if outcome_unknown(e):
                    self.last_call_uncertain = True
                if not retryable(e) or attempt >= self.retries:
                    if self.last_call_uncertain and not outcome_unknown(e):
                        e.message += (
                            " (an earlier attempt got no answer: the server may have accepted it)"
                        )
                    raise
                delay = retry_delay(e, attempt)
                if self.backoff is not None and slows_everyone(e):
                    self.backoff.hold(delay)  # the wait before the next attempt honours it
                else:
                    self._sleep(delay)
                attempt += 1

    # --- the API ------------------------------------------------------------------------------

    def trigger(self, body: dict[str, Any]) -> Any:
        return self.call("POST", "/events", body=encode_body(body))

    def trigger_batch(self, batch: list[dict[str, Any]]) -> Any:
        return self.call("POST", "/batch_events", body=encode_body({"batch": batch}))

    def channels(self, prefix: str | None = None, info: str | None = None) -> Any:
        params = {}
        if prefix:
            params["filter_by_prefix"] = prefix
        if info:
            params["info"] = info
        return self.call("GET", "/channels", params=params)

    def channel(self, name: str, info: str | None = None) -> Any:
        return self.call("GET", f"/channels/{name}", params={"info": info} if info else None)

    def users(self, channel: str) -> Any:
        return self.call("GET", f"/channels/{channel}/users")

    def terminate(self, user_id: str) -> Any:
        uid = quote(user_id, safe="")
        return self.call("POST", f"/users/{uid}/terminate_connections", body=b"{}")


def retryable(e: PushcliError) -> bool:
    if isinstance(e, RejectedError):
        return e.status == 429
    return isinstance(e, UnavailableError)


def retry_delay(e: PushcliError, attempt: int) -> float:
    """The server's ``Retry-After`` (429, 503) when it gave one, else backoff with jitter."""
    if isinstance(e, RejectedError | ServerError) and e.retry_after is not None:
        return e.retry_after
    return backoff_delay(attempt)
