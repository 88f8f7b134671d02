"""Pusher WebSocket protocol 7: connect, subscribe, keep alive, reconnect; yields typed items.

Imports ``websockets`` at module level: import this module only inside command bodies. The
listener knows nothing about output: :meth:`Listener.items` yields what happened (events,
members joining and leaving, subscriptions, state changes, non-fatal errors) and raises a
:class:`~pushcli.errors.PushcliError` for what ends the session (refused, unreachable).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from pushcli import __version__
from pushcli.client.profiles import Settings
from pushcli.errors import RejectedError, UnavailableError
from pushcli.protocol.channels import kind_of
from pushcli.protocol.crypto import DecryptError

PROTOCOL = 7
PONG_TIMEOUT = 30.0
MAX_ACTIVITY_TIMEOUT = 120.0
#: seconds from opening a connection to the server's ``pusher:connection_established``; an
#: attempt that takes longer has failed (pusher-js gives up after about 15 s too)
CONNECT_TIMEOUT = 15.0
#: a connection the server closes sooner than this after ``connection_established`` counts as
#: a failed attempt: it is backed off and counts toward ``retries`` even when the close code
#: says "reconnect at once" (a server that closes every subscriber with 4200 is not a reason to
#: reconnect thousands of times a second)
STABLE_AFTER = 5.0
BACKOFF_BASE = 1.0
BACKOFF_CAP = 30.0
CloseAction = Literal["fatal", "backoff", "now", "tls"]


# --- what the listener yields ----------------------------------------------------------------


@dataclass(slots=True)
class Event:
    """A frame with an event name. ``system`` for ``pusher:*`` / ``pusher_internal:*``."""

    time: float
    channel: str | None
    event: str
    data: str | None
    user_id: str | None = None
    system: bool = False
    #: set instead of usable data when an encrypted payload cannot be decrypted
    error: str | None = None


@dataclass(slots=True)
class MemberAdded:
    time: float
    channel: str
    user_id: str
    user_info: Any = None


@dataclass(slots=True)
class MemberRemoved:
    time: float
    channel: str
    user_id: str
    user_info: Any = None


@dataclass(slots=True)
class Subscribed:
    time: float
    channel: str
    #: presence channels: ``{user_id: user_info}`` as the server sent them
    members: dict[str, Any] | None = None
    #: False when this is a resubscription after a reconnect
    first: bool = True


@dataclass(slots=True)
class Status:
    """``connecting``, ``connected`` (socket_id), ``signed_in``, ``reconnecting`` (delay)."""

    time: float
    state: str
    detail: str = ""
    socket_id: str | None = None
    delay: float | None = None


@dataclass(slots=True)
class Problem:
    """A non-fatal error: a ``pusher:error`` frame or an unreadable frame."""

    time: float
    message: str
    channel: str | None = None
    code: int | None = None


Item = Event | MemberAdded | MemberRemoved | Subscribed | Status | Problem


class Authorizer(Protocol):
    async def authorize(self, channel: str, socket_id: str) -> dict[str, str]: ...

    def decryptor(self, channel: str, answer: dict[str, str]) -> Callable[[str], str]: ...

    async def aclose(self) -> None: ...


# --- pure policy -----------------------------------------------------------------------------


def close_action(code: int | None) -> CloseAction:
    """What a client does after the server closed with ``code`` (None: abnormal closure)."""
    if code is None or code < 4000:
        return "backoff"
    if code == 4000:
        return "tls"
    if code < 4100:
        return "fatal"
    if code < 4200:
        return "backoff"
    if code < 4300:
        return "now"
    return "fatal"


def backoff_delay(attempt: int, rng: random.Random | None = None) -> float:
    """Exponential backoff with jitter: attempt 0 → 0.5–1 s, doubling, capped at 30 s."""
    ceiling = min(BACKOFF_CAP, BACKOFF_BASE * (2 ** min(attempt, 16)))
    r = (rng or random).random()
    return float(ceiling / 2 + r * ceiling / 2)


def ws_url(settings: Settings) -> str:
    query = f"protocol={PROTOCOL}&client=pushcli&version={__version__}"
    return f"{settings.ws_base}/app/{settings.key}?{query}"


def decode_json(data: Any) -> Any:
    """Server ``data`` is usually a JSON-encoded string: decode it, or keep it as it is."""
    if isinstance(data, str):
        try:
            return json.loads(data)
        except ValueError:
            return data
    return data


def _wire(data: Any) -> str | None:
    """The data as a string (as on the wire); None when the frame had none."""
    if isinstance(data, str) or data is None:
        return data
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def _frame(event: str, data: Any, channel: str | None = None) -> str:
    out: dict[str, Any] = {"event": event, "data": data}
    if channel is not None:
        out["channel"] = channel
    return json.dumps(out, separators=(",", ":"), ensure_ascii=False)


class _Lost(Exception):
    def __init__(self, reason: str, action: CloseAction, code: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.action = action
        self.code = code


# --- the listener ----------------------------------------------------------------------------


@dataclass
class Listener:
    """One logical subscription to ``channels`` that survives reconnects."""

    settings: Settings
    channels: list[str]
    authorizer: Authorizer | None = None
    #: connect attempts in a row that may fail before giving up (exit 6); an attempt fails when
    #: it does not reach ``connection_established`` within ``connect_timeout``, or when the
    #: connection ends within ``stable_after`` seconds of it
    retries: int = 5
    #: ``socket_id → {auth, user_data}`` for ``pusher:signin``, or None
    signin: Callable[[str], Awaitable[dict[str, str]]] | None = None
    connect_timeout: float = CONNECT_TIMEOUT
    stable_after: float = STABLE_AFTER
    pong_timeout: float = PONG_TIMEOUT
    rng: random.Random = field(default_factory=random.Random)

    socket_id: str | None = field(default=None, init=False)
    reconnects: int = field(default=0, init=False)
    #: why the last connection attempt failed or the last connection ended, or None
    last_failure: str | None = field(default=None, init=False)
    members: dict[str, dict[str, Any]] = field(default_factory=dict, init=False)
    subscribed: set[str] = field(default_factory=set, init=False)
    _ever: set[str] = field(default_factory=set, init=False)
    _ws: ClientConnection | None = field(default=None, init=False)
    _decrypt: dict[str, Callable[[str], str]] = field(default_factory=dict, init=False)
    _activity: float = field(default=MAX_ACTIVITY_TIMEOUT, init=False)
    _last_error: tuple[int | None, str] | None = field(default=None, init=False)
    _pong_due: bool = field(default=False, init=False)
    #: loop time of the last frame received (or of the session's start)
    _rx: float = field(default=0.0, init=False)
    #: why _keepalive closed the socket, or None
    _silent: str | None = field(default=None, init=False)

    @property
    def url(self) -> str:
        return ws_url(self.settings)

    @property
    def server(self) -> str:
        return self.settings.ws_base

    async def send(self, event: str, data: Any, channel: str | None = None) -> None:
        if self._ws is None:
            raise UnavailableError("not connected")
        await self._ws.send(_frame(event, data, channel))

    async def items(self) -> AsyncGenerator[Item, None]:
        """Connect, subscribe and yield until the consumer stops or a fatal error is raised."""
        loop = asyncio.get_running_loop()
        failures = 0  # attempts in a row that failed (see ``retries``)
        delay, reason = 0.0, ""
        try:
            while True:
                if delay or reason:
                    yield Status(time.time(), "reconnecting", reason, delay=delay)
                    await asyncio.sleep(delay)
                yield Status(time.time(), "connecting", self.server)
                deadline = loop.time() + self.connect_timeout
                try:
                    self._ws = await connect(
                        self.url,
                        ping_interval=None,  # the Pusher protocol has its own ping
                        open_timeout=self.connect_timeout,
                        close_timeout=2,
                        max_size=2**22,
                        user_agent_header=f"pushcli/{__version__}",
                    )
                except (OSError, TimeoutError, InvalidHandshake) as e:
                    failures += 1
                    reason = self.last_failure = describe_connect_error(e)
                    if (error := self._given_up(failures, established=False)) is not None:
                        raise error from None
                    delay = backoff_delay(failures - 1, self.rng)
                    continue
                established: float | None = None  # loop time of connection_established
                action: CloseAction = "backoff"
                try:
                    async with contextlib.aclosing(self._session(deadline)) as session:
                        async for item in session:
                            if isinstance(item, Status) and item.state == "connected":
                                established = loop.time()
                            yield item
                except _Lost as lost:
                    reason, action = lost.reason, lost.action
                    await self._drop()
                self.last_failure = reason
                self._raise_if_fatal(action, reason)
                if established is not None:
                    self.reconnects += 1
                if established is not None and loop.time() - established >= self.stable_after:
                    failures = 0  # a connection that lasted: start over
                    delay = 0.0 if action == "now" else backoff_delay(0, self.rng)
                    continue
                failures += 1
                error = self._given_up(failures, established=established is not None)
                if error is not None:
                    raise error
                if action == "now" and established is not None and failures == 1:
                    delay = 0.0  # as the close code asks, but only once in a row
                else:
                    delay = backoff_delay(failures - 1, self.rng)
        finally:
            await self.close()

    def _given_up(self, failures: int, *, established: bool) -> UnavailableError | None:
        """The error to end with once ``failures`` attempts in a row failed, else None."""
        if failures < self.retries:
            return None
        attempts = f"{failures} attempt{'s' if failures != 1 else ''}"
        if established:
            return UnavailableError(
                f"{self.server} keeps closing the connection: {self.last_failure} "
                f"({attempts} in a row ended within {self.stable_after:g}s)"
            )
        return UnavailableError(
            f"cannot connect to {self.server}: {self.last_failure} ({attempts})"
        )

    async def close(self) -> None:
        """Unsubscribe every channel and close the socket (bounded to a few seconds)."""
        ws, self._ws = self._ws, None
        if ws is not None:
            try:
                async with asyncio.timeout(2):
                    for channel in sorted(self.subscribed):
                        await ws.send(_frame("pusher:unsubscribe", {"channel": channel}))
                    await ws.close()
            except (TimeoutError, ConnectionClosed, OSError):
                pass
        self.subscribed.clear()
        if self.authorizer is not None:
            await self.authorizer.aclose()

    # --- one connection ----------------------------------------------------------------------

    async def _session(self, deadline: float) -> AsyncGenerator[Item, None]:
        """Yield the items of one connection; raise _Lost when it ends, or when
        ``connection_established`` has not arrived by ``deadline`` (loop time)."""
        assert self._ws is not None
        ws = self._ws
        self.subscribed.clear()
        self._last_error = None
        self._silent = None
        loop = asyncio.get_running_loop()
        self._rx = loop.time()
        # Silence is watched by a task of its own rather than a timeout around every recv():
        # a timer per frame was the largest single cost of a busy channel.
        watchdog = loop.create_task(self._keepalive(ws))
        established = False
        try:
            while True:
                try:
                    if established:
                        raw = await ws.recv()
                    else:  # a server that accepts the socket and says nothing
                        async with asyncio.timeout_at(deadline):
                            raw = await ws.recv()
                except TimeoutError:
                    raise _Lost(
                        f"no pusher:connection_established within {self.connect_timeout:g}s",
                        "backoff",
                    ) from None
                except ConnectionClosed as e:
                    if self._silent is not None:  # closed by _keepalive
                        raise _Lost(self._silent, "now") from None
                    raise self._lost(e) from None
                self._rx = loop.time()
                for item in self._handle(raw):
                    yield item
                    if isinstance(item, Status) and item.state == "connected":
                        established = True
                        # the server's activity_timeout applies from here
                        watchdog.cancel()
                        watchdog = loop.create_task(self._keepalive(ws))
                        await self._subscribe_all(ws)
                if self._pong_due:
                    self._pong_due = False
                    await self._send_or_lose(ws, _frame("pusher:pong", {}))
        finally:
            watchdog.cancel()

    async def _keepalive(self, ws: ClientConnection) -> None:
        """After ``activity timeout`` seconds without a frame, send ``pusher:ping``; when still
        nothing arrives within ``pong_timeout``, close the socket (the session then ends with
        "no pong", and the listener reconnects at once)."""
        loop = asyncio.get_running_loop()
        while True:
            idle = loop.time() - self._rx
            if idle < self._activity:
                await asyncio.sleep(self._activity - idle)
                continue
            sent = loop.time()
            try:
                await ws.send(_frame("pusher:ping", {}))
            except ConnectionClosed:
                return  # the receive loop sees it
            await asyncio.sleep(self.pong_timeout)
            if self._rx < sent:
                self._silent = f"no pong within {self.pong_timeout:g}s"
                await ws.close()
                return

    async def _subscribe_all(self, ws: ClientConnection) -> None:
        socket_id = self.socket_id or ""
        if self.signin is not None:
            answer = await self.signin(socket_id)
            await self._send_or_lose(ws, _frame("pusher:signin", answer))
        for channel in self.channels:
            data: dict[str, str] = {"channel": channel}
            kind = kind_of(channel)
            if kind.needs_auth:
                if self.authorizer is None:
                    raise RejectedError(f"{channel} needs authorization")
                answer = await self.authorizer.authorize(channel, socket_id)
                data["auth"] = answer["auth"]
                if "channel_data" in answer:
                    data["channel_data"] = answer["channel_data"]
                if kind.encrypted:
                    self._decrypt[channel] = self.authorizer.decryptor(channel, answer)
            await self._send_or_lose(ws, _frame("pusher:subscribe", data))

    async def _send_or_lose(self, ws: ClientConnection, frame: str) -> None:
        try:
            await ws.send(frame)
        except ConnectionClosed as e:
            raise self._lost(e) from None

    def _lost(self, e: ConnectionClosed) -> _Lost:
        code = e.rcvd.code if e.rcvd is not None else None
        why = e.rcvd.reason if e.rcvd is not None else ""
        if self._last_error and (self._last_error[0] == code or not why):
            why = self._last_error[1]
        if code is None:
            return _Lost("connection lost (no close frame)", "backoff")
        text = f"connection closed ({code}{': ' + why if why else ''})"
        return _Lost(text, close_action(code), code)

    async def _drop(self) -> None:
        ws, self._ws = self._ws, None
        self.subscribed.clear()
        if ws is not None:
            try:
                async with asyncio.timeout(2):
                    await ws.close()
            except (TimeoutError, ConnectionClosed, OSError):
                pass

    def _raise_if_fatal(self, action: CloseAction, reason: str) -> None:
        if action == "fatal":
            raise RejectedError(f"server refused the connection: {reason}")
        if action == "tls":
            raise RejectedError(
                f"server refused the connection: {reason}",
                hint="the server only accepts TLS: use --scheme https",
            )

    # --- frames ------------------------------------------------------------------------------

    def _handle(self, raw: str | bytes) -> list[Item]:
        now = time.time()
        try:
            msg = json.loads(raw)
            event = msg["event"]
            if not isinstance(event, str):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            text = raw if isinstance(raw, str) else raw.decode(errors="replace")
            return [Problem(now, f"unreadable frame: {text[:120]}")]
        channel = msg.get("channel")
        data = msg.get("data")
        user_id = msg.get("user_id")
        user_id = None if user_id is None else str(user_id)
        if not event.startswith(("pusher:", "pusher_internal:")):
            return [self._event(now, channel, event, _wire(data), user_id)]
        items: list[Item] = [Event(now, channel, event, _wire(data), user_id, system=True)]
        items.extend(self._system(now, channel, event, decode_json(data)))
        return items

    def _event(
        self, now: float, channel: Any, event: str, data: str | None, user_id: str | None
    ) -> Event:
        decrypt = self._decrypt.get(channel) if isinstance(channel, str) else None
        if decrypt is None:
            return Event(now, channel, event, data, user_id)
        try:
            return Event(now, channel, event, decrypt(data or ""), user_id)
        except DecryptError as e:
            return Event(now, channel, event, data, user_id, error=str(e))

    def _system(self, now: float, channel: Any, event: str, data: Any) -> list[Item]:
        d = data if isinstance(data, dict) else {}
        if event == "pusher:connection_established":
            self.socket_id = str(d.get("socket_id", ""))
            activity = d.get("activity_timeout")
            if isinstance(activity, int | float) and activity > 0:
                self._activity = min(float(activity), MAX_ACTIVITY_TIMEOUT)
            return [Status(now, "connected", self.server, socket_id=self.socket_id)]
        if event == "pusher:ping":
            self._pong_due = True
            return []
        if event == "pusher:error":
            code = d.get("code")
            code = code if isinstance(code, int) else None
            message = str(d.get("message") or d.get("error") or data or "unknown error")
            self._last_error = (code, message)
            if code is not None and 4000 <= code < 4100:
                hint = None
                if code == 4009 and self.signin is not None:
                    hint = "pushcli signs in with the app secret: check it, or use --no-signin"
                raise RejectedError(f"server refused the connection: {message} ({code})", hint=hint)
            return [Problem(now, message, channel, code)]
        if event == "pusher:subscription_error":
            status = d.get("status")
            what = d.get("error") or d.get("type") or data or "refused"
            raise RejectedError(
                f"subscription to {channel} refused: {what}"
                + (f" (status {status})" if status is not None else ""),
                status=status if isinstance(status, int) else None,
            )
        if event == "pusher:signin_success":
            return [Status(now, "signed_in", _user_id(d.get("user_data")))]
        if not isinstance(channel, str):
            return []
        if event == "pusher_internal:subscription_succeeded":
            members = None
            if kind_of(channel).has_members:
                presence = d.get("presence")
                presence = presence if isinstance(presence, dict) else {}
                hash_ = presence.get("hash")
                hash_ = hash_ if isinstance(hash_, dict) else {}
                members = {str(k): v for k, v in hash_.items()}
                for uid in presence.get("ids") or []:
                    members.setdefault(str(uid), None)
                self.members[channel] = members
            self.subscribed.add(channel)
            first = channel not in self._ever
            self._ever.add(channel)
            return [Subscribed(now, channel, dict(members) if members is not None else None, first)]
        if event == "pusher_internal:member_added" and "user_id" in d:
            uid = str(d["user_id"])
            self.members.setdefault(channel, {})[uid] = d.get("user_info")
            return [MemberAdded(now, channel, uid, d.get("user_info"))]
        if event == "pusher_internal:member_removed" and "user_id" in d:
            uid = str(d["user_id"])
            info = self.members.get(channel, {}).pop(uid, None)
            return [MemberRemoved(now, channel, uid, info)]
        return []


def _user_id(user_data: Any) -> str:
    data = decode_json(user_data)
    return str(data.get("id", "")) if isinstance(data, dict) else ""


def describe_connect_error(e: BaseException) -> str:
    """A short reason for a failed connect (timed out, refused, the OS message)."""
    if isinstance(e, TimeoutError):
        return "timed out"
    if isinstance(e, ConnectionRefusedError):
        return "connection refused"
    if isinstance(e, OSError):
        return e.strerror or str(e) or e.__class__.__name__
    return str(e) or e.__class__.__name__
