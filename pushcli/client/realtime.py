"""The WebSocket listener: connect, reconnect, keep time, authorize; yields typed items.

A thin asyncio/websockets shell over :class:`pushcli.protocol.client_session.ClientSession`,
which knows the protocol (what frames mean, what to send, when to ping, what a close code
asks for). Imports ``websockets`` at module level: import this module only inside command
bodies. The listener knows nothing about output: :meth:`Listener.items` yields what happened
(events, members joining and leaving, subscriptions, state changes, non-fatal errors) and
raises a :class:`~pushcli.errors.PushcliError` for what ends the session (refused,
unreachable).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from pushcli import __version__
from pushcli.client.profiles import Settings
from pushcli.errors import RejectedError, UnavailableError
from pushcli.protocol import frames
from pushcli.protocol.backoff import RECONNECT, RECONNECT_WATCHING, Backoff
from pushcli.protocol.client_session import (
    CONNECT_TIMEOUT,
    MAX_ACTIVITY_TIMEOUT,
    PONG_TIMEOUT,
    STABLE_AFTER,
    AuthRequest,
    ClientSession,
    CloseAction,
    Event,
    Item,
    Lost,
    MemberAdded,
    MemberRemoved,
    Problem,
    Reconnect,
    Status,
    Subscribed,
    close_action,
)

PROTOCOL = frames.PROTOCOL

__all__ = [
    "CONNECT_TIMEOUT",
    "MAX_ACTIVITY_TIMEOUT",
    "PONG_TIMEOUT",
    "PROTOCOL",
    "STABLE_AFTER",
    "Authorizer",
    "CloseAction",
    "Event",
    "Item",
    "Listener",
    "MemberAdded",
    "MemberRemoved",
    "Problem",
    "Status",
    "Subscribed",
    "close_action",
    "describe_connect_error",
    "ws_url",
]


class Authorizer(Protocol):
    async def authorize(self, channel: str, socket_id: str) -> dict[str, str]: ...

    def decryptor(self, channel: str, answer: dict[str, str]) -> Callable[[str], str]: ...

    async def aclose(self) -> None: ...


def ws_url(settings: Settings) -> str:
    return frames.ws_url(settings.ws_base, f"{settings.key}", version=__version__)


def describe_connect_error(e: BaseException) -> str:
    """A short reason for a failed connect (timed out, refused, the OS message)."""
    if isinstance(e, TimeoutError):
        return "timed out"
    if isinstance(e, ConnectionRefusedError):
        return "connection refused"
    if isinstance(e, OSError):
        return e.strerror or str(e) or e.__class__.__name__
    return str(e) or e.__class__.__name__


def _close_of(e: ConnectionClosed) -> tuple[int | None, str]:
    return (e.rcvd.code, e.rcvd.reason) if e.rcvd is not None else (None, "")


@dataclass
class Listener:
    """One logical subscription to ``channels`` that survives reconnects."""

    settings: Settings
    channels: list[str]
    authorizer: Authorizer | None = None
    #: connect attempts in a row that may fail before giving up (exit 6); an attempt fails when
    #: it does not reach ``connection_established`` within ``connect_timeout``, or when the
    #: connection ends within ``stable_after`` seconds of it. None: never give up (until the
    #: consumer stops), waiting at most ``RECONNECT_WATCHING.cap`` seconds between attempts
    retries: int | None = 5
    #: ``socket_id → {auth, user_data}`` for ``pusher:signin``, or None
    signin: Callable[[str], Awaitable[dict[str, str]]] | None = None
    connect_timeout: float = CONNECT_TIMEOUT
    stable_after: float = STABLE_AFTER
    pong_timeout: float = PONG_TIMEOUT
    rng: random.Random = field(default_factory=random.Random)

    reconnects: int = field(default=0, init=False)
    session: ClientSession = field(init=False)
    _policy: Reconnect = field(init=False)
    _ws: ClientConnection | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.session = ClientSession(self.channels, server=self.server)
        self._policy = Reconnect(
            self.server,
            retries=self.retries,
            stable_after=self.stable_after,
            rng=self.rng,
            backoff=self.backoff,
        )

    @property
    def backoff(self) -> Backoff:
        """The reconnect delays: bounded retries back off up to 30 s; unbounded ones (a person
        watching) up to 10 s."""
        return RECONNECT if self.retries is not None else RECONNECT_WATCHING

    @property
    def url(self) -> str:
        return ws_url(self.settings)

    @property
    def server(self) -> str:
        return self.settings.ws_base

    @property
    def socket_id(self) -> str | None:
        return self.session.socket_id

    @property
    def subscribed(self) -> set[str]:
        return self.session.subscribed

    @property
    def members(self) -> dict[str, dict[str, Any]]:
        return self.session.members

    @property
    def last_failure(self) -> str | None:
        """Why the last connection attempt failed or the last connection ended, or None."""
        return self._policy.last_failure

    async def send(self, event: str, data: Any, channel: str | None = None) -> None:
        if self._ws is None:
            raise UnavailableError("not connected")
        await self._ws.send(frames.encode(event, data, channel))

    async def items(self) -> AsyncGenerator[Item, None]:
        """Connect, subscribe and yield until the consumer stops or a fatal error is raised."""
        session, policy, clock = self.session, self._policy, time.time
        # the fields may have been changed since the listener was made
        session.channels, session.signin = list(self.channels), self.signin is not None
        session.connect_timeout, session.pong_timeout = self.connect_timeout, self.pong_timeout
        policy.retries, policy.stable_after, policy.rng = self.retries, self.stable_after, self.rng
        policy.backoff = self.backoff
        loop = asyncio.get_running_loop()
        delay, reason = 0.0, ""
        try:
            while True:
                attempt = policy.attempt if reason else None
                if delay or reason:
                    yield Status(
                        clock(),
                        "reconnecting",
                        reason,
                        delay=delay,
                        attempt=attempt,
                        retries=self.retries,
                    )
                    await asyncio.sleep(delay)
                yield Status(
                    clock(), "connecting", self.server, attempt=attempt, retries=self.retries
                )
                session.begin(clock())  # connection_established is due connect_timeout from here
                try:
                    self._ws = ws = await connect(
                        self.url,
                        ping_interval=None,  # the Pusher protocol has its own ping
                        open_timeout=self.connect_timeout,
                        close_timeout=2,
                        max_size=2**22,
                        user_agent_header=f"pushcli/{__version__}",
                    )
                except (OSError, TimeoutError, InvalidHandshake) as e:
                    reason = describe_connect_error(e)
                    delay = policy.connect_failed(reason)
                    continue
                # One task keeps the session's time (connect deadline, pings, pongs): not a
                # timer per frame, which was the largest single cost of a busy channel.
                watchdog = loop.create_task(self._watch(ws))
                lost: Lost | None = None
                try:
                    recv, receive = ws.recv, session.receive
                    while lost is None:
                        try:
                            raw = await recv()
                        except ConnectionClosed as e:
                            lost = session.closed(*_close_of(e))
                            break
                        for item in receive(raw, clock()):
                            yield item
                        if session.outgoing or session.request is not None:
                            lost = await self._service(ws)
                finally:
                    watchdog.cancel()
                await self._drop()
                established = session.established_at
                lasted = None if established is None else clock() - established
                if lasted is not None:
                    self.reconnects += 1
                reason = lost.reason
                delay = policy.ended(lost, lasted)
        finally:
            await self.close()

    async def close(self) -> None:
        """Unsubscribe every channel and close the socket (bounded to a few seconds)."""
        ws, self._ws = self._ws, None
        if ws is not None:
            try:
                async with asyncio.timeout(2):
                    for frame in self.session.unsubscribe_all():
                        await ws.send(frame)
                    await ws.close()
            except (TimeoutError, ConnectionClosed, OSError):
                pass
        self.session.subscribed.clear()
        if self.authorizer is not None:
            await self.authorizer.aclose()

    # --- one connection ----------------------------------------------------------------------

    async def _service(self, ws: ClientConnection) -> Lost | None:
        """Send what the session queued; answer its requests (sign in, authorize channels)."""
        session = self.session
        try:
            while True:
                for frame in session.data_to_send():
                    await ws.send(frame)
                request = session.request
                if request is None:
                    return None
                if isinstance(request, AuthRequest):
                    if self.authorizer is None:
                        raise RejectedError(f"{request.channel} needs authorization")
                    answer = await self.authorizer.authorize(request.channel, request.socket_id)
                    decrypt = (
                        self.authorizer.decryptor(request.channel, answer)
                        if request.encrypted
                        else None
                    )
                    session.authorized(answer, decrypt)
                else:
                    assert self.signin is not None
                    session.signed_in(await self.signin(request.socket_id))
        except ConnectionClosed as e:
            return session.closed(*_close_of(e))

    async def _watch(self, ws: ClientConnection) -> None:
        """Run the session's timers: send its pings; close the socket when it gives up (the
        receive loop then ends with the session's reason)."""
        session, clock = self.session, time.time
        while True:
            wait = session.deadline() - clock()
            if wait > 0:
                await asyncio.sleep(wait)
                continue
            session.timer(clock())
            if session.lost is not None:
                await ws.close()
                return
            try:
                for frame in session.data_to_send():
                    await ws.send(frame)
            except ConnectionClosed:
                return  # the receive loop sees it

    async def _drop(self) -> None:
        ws, self._ws = self._ws, None
        self.session.subscribed.clear()
        if ws is not None:
            try:
                async with asyncio.timeout(2):
                    await ws.close()
            except (TimeoutError, ConnectionClosed, OSError):
                pass
