"""The client side of Pusher protocol 7, sans I/O: frames and the time in, items and frames out.

A :class:`ClientSession` is one logical subscription to some channels that lives across
connections (like the embedded server's ``Session``, and websockets' own ``protocol.py``, it
never touches a socket or a clock). Its shell (:mod:`pushcli.client.realtime`) opens the
connection, then for each connection:

* ``begin(now)``; ``receive(text, now)`` for every text frame, which returns the items to hand
  on (:class:`Event`, :class:`MemberAdded`, ...) and raises
  :class:`~pushcli.errors.RejectedError` when the server refuses;
* sends ``data_to_send()``; answers ``request`` (a :class:`SigninRequest` or an
  :class:`AuthRequest`: authorization is the shell's, asynchronous) with ``signed_in()`` or
  ``authorized()``, which queue the frames that follow;
* calls ``timer(now)`` at ``deadline()``: it queues a ``pusher:ping`` after the activity
  timeout, and sets ``lost`` when the pong (or ``connection_established``) does not come: the
  shell then closes the socket;
* ``closed(code, reason)`` when the connection ends: a :class:`Lost` that :class:`Reconnect`
  turns into "wait this long" or the error to end with.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from pushcli.errors import RejectedError, UnavailableError
from pushcli.protocol import frames
from pushcli.protocol.backoff import RECONNECT, Backoff, Rng
from pushcli.protocol.channels import kind_of
from pushcli.protocol.crypto import DecryptError

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
CloseAction = Literal["fatal", "backoff", "now", "tls"]

PING_FRAME = frames.encode(frames.PING, {})
PONG_FRAME = frames.encode(frames.PONG, {})


# --- what a session yields -----------------------------------------------------------------


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
    """``connecting``, ``connected`` (socket_id), ``signed_in``, ``reconnecting`` (delay).

    ``attempt``: for ``reconnecting`` and ``connecting``, which attempt in a row the next one
    is (1 after a connection that lasted); ``retries``: how many may fail in a row (None: no
    limit)."""

    time: float
    state: str
    detail: str = ""
    socket_id: str | None = None
    delay: float | None = None
    attempt: int | None = None
    retries: int | None = None


@dataclass(slots=True)
class Problem:
    """A non-fatal error: a ``pusher:error`` frame or an unreadable frame."""

    time: float
    message: str
    channel: str | None = None
    code: int | None = None


Item = Event | MemberAdded | MemberRemoved | Subscribed | Status | Problem


# --- what a session asks of its shell ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SigninRequest:
    """Sign in (``pusher:signin``): answer with ``{auth, user_data}`` for ``socket_id``."""

    socket_id: str


@dataclass(frozen=True, slots=True)
class AuthRequest:
    """Authorize ``channel`` for ``socket_id``; ``encrypted``: also give a decryptor."""

    channel: str
    socket_id: str
    encrypted: bool = False


Request = SigninRequest | AuthRequest


@dataclass(frozen=True, slots=True)
class Lost:
    """Why a connection ended, and what the close code asks a client to do."""

    reason: str
    action: CloseAction
    code: int | None = None


# --- pure policy ---------------------------------------------------------------------------


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


def terminated(code: int | None, message: str) -> bool:
    """The app ended this user's connections (the HTTP API's terminate_connections): Pusher,
    soketi and pushcli serve say so with 4009 and "You got disconnected by the app"."""
    return code == 4009 and "disconnected by the app" in message.lower()


def terminated_error() -> RejectedError:
    return RejectedError(
        "the app terminated this user's connections (4009: you got disconnected by the app)",
        hint="its backend called terminate_connections (pushcli users terminate USER_ID); "
        "the credentials are fine",
    )


def _user_id(user_data: Any) -> str:
    data = frames.decode_json(user_data)
    return str(data.get("id", "")) if isinstance(data, dict) else ""


# --- the session ---------------------------------------------------------------------------

_CONNECTING, _OPEN = 0, 1


class ClientSession:
    """Subscriptions to ``channels`` on ``server`` (a label for messages), across connections.

    ``signin``: send ``pusher:signin`` before subscribing (the shell answers the
    :class:`SigninRequest`). Times are seconds on one clock (the shell uses ``time.time()``:
    items are stamped with it).
    """

    def __init__(
        self,
        channels: list[str],
        *,
        server: str = "",
        signin: bool = False,
        connect_timeout: float = CONNECT_TIMEOUT,
        pong_timeout: float = PONG_TIMEOUT,
    ) -> None:
        self.channels = list(channels)
        self.server = server
        self.signin = signin
        self.connect_timeout = connect_timeout
        self.pong_timeout = pong_timeout
        # across connections
        self.socket_id: str | None = None
        self.members: dict[str, dict[str, Any]] = {}
        self.activity_timeout = MAX_ACTIVITY_TIMEOUT
        self._ever: set[str] = set()
        self._decrypt: dict[str, Callable[[str], str]] = {}
        # this connection
        self.subscribed: set[str] = set()
        #: frames to send (see :meth:`data_to_send`)
        self.outgoing: list[str] = []
        #: what the shell must answer before the session can go on, or None
        self.request: Request | None = None
        #: set by :meth:`timer` when the connection is to be given up (the shell closes it)
        self.lost: Lost | None = None
        #: ``now`` of this connection's ``connection_established``, or None
        self.established_at: float | None = None
        self._state = _CONNECTING
        self._connect_deadline = 0.0
        self._rx = 0.0  # last frame received
        self._ping_sent: float | None = None
        self._last_error: tuple[int | None, str] | None = None
        self._steps: list[str | None] = []  # None: sign in; else a channel to subscribe

    # --- a connection's life ---------------------------------------------------------------

    def begin(self, now: float) -> None:
        """A connection is being opened (``connection_established`` is due by
        ``now + connect_timeout``)."""
        self.subscribed.clear()
        self.outgoing.clear()
        self.request = None
        self.lost = None
        self.established_at = None
        self._state = _CONNECTING
        self._connect_deadline = now + self.connect_timeout
        self._rx = now
        self._ping_sent = None
        self._last_error = None
        self._steps = []

    def closed(self, code: int | None, reason: str = "") -> Lost:
        """The connection ended with close ``code`` (None: no close frame): why, and what next."""
        self.subscribed.clear()
        self.request = None
        self._steps = []
        if self.lost is not None:
            return self.lost
        if code is None:
            return Lost("connection lost (no close frame)", "backoff")
        why = reason
        if self._last_error and (self._last_error[0] == code or not why):
            why = self._last_error[1]
        text = f"connection closed ({code}{': ' + why if why else ''})"
        return Lost(text, close_action(code), code)

    def data_to_send(self) -> list[str]:
        """The frames queued so far (and forgets them)."""
        out, self.outgoing = self.outgoing, []
        return out

    def unsubscribe_all(self) -> list[str]:
        """The frames that leave every subscribed channel (closing politely)."""
        out = [frames.encode(frames.UNSUBSCRIBE, {"channel": c}) for c in sorted(self.subscribed)]
        self.subscribed.clear()
        return out

    # --- timers ----------------------------------------------------------------------------

    def deadline(self) -> float:
        """When :meth:`timer` is next due."""
        if self._state == _CONNECTING:
            return self._connect_deadline
        if self._ping_sent is not None and self._rx < self._ping_sent:
            return self._ping_sent + self.pong_timeout
        return self._rx + self.activity_timeout

    def timer(self, now: float) -> None:
        """Time passed: ping after ``activity_timeout`` of silence, give up without a pong."""
        if self.lost is not None or now < self.deadline():
            return
        if self._state == _CONNECTING:
            self.lost = Lost(
                f"no pusher:connection_established within {self.connect_timeout:g}s", "backoff"
            )
        elif self._ping_sent is not None and self._rx < self._ping_sent:
            self.lost = Lost(f"no pong within {self.pong_timeout:g}s", "now")
        else:
            self._ping_sent = now
            self.outgoing.append(PING_FRAME)

    # --- frames in -------------------------------------------------------------------------

    def receive(self, text: str | bytes, now: float) -> list[Item]:
        """One text frame from the server: the items it makes. Any frame counts as activity
        (and as the answer to a ping)."""
        self._rx = now
        try:
            event, channel, data, user_id = frames.decode(text)
        except frames.FrameError:
            shown = text if isinstance(text, str) else text.decode(errors="replace")
            return [Problem(now, f"unreadable frame: {shown[:120]}")]
        if event.startswith(frames.SYSTEM_PREFIXES):
            items: list[Item] = [
                Event(now, channel, event, frames.wire_string(data), user_id, system=True)
            ]
            items.extend(self._system(now, channel, event, frames.decode_json(data)))
            return items
        if type(data) is not str:
            data = frames.wire_string(data)
        decrypt = self._decrypt.get(channel) if self._decrypt and channel is not None else None
        if decrypt is None:
            return [Event(now, channel, event, data, user_id)]
        try:
            return [Event(now, channel, event, decrypt(data or ""), user_id)]
        except DecryptError as e:
            return [Event(now, channel, event, data, user_id, error=str(e))]

    def _system(self, now: float, channel: str | None, event: str, data: Any) -> list[Item]:
        d = data if isinstance(data, dict) else {}
        if event == frames.CONNECTION_ESTABLISHED:
            return self._established(now, d)
        if event == frames.PING:
            self.outgoing.append(PONG_FRAME)
            return []
        if event == frames.ERROR:
            code = d.get("code")
            code = code if isinstance(code, int) else None
            message = str(d.get("message") or d.get("error") or data or "unknown error")
            self._last_error = (code, message)
            if code is not None and 4000 <= code < 4100:
                if terminated(code, message):
                    raise terminated_error()
                hint = None
                if code == 4009 and self.signin:
                    hint = "pushcli signs in with the app secret: check it, or use --no-signin"
                raise RejectedError(f"server refused the connection: {message} ({code})", hint=hint)
            return [Problem(now, message, channel, code)]
        if event == frames.SUBSCRIPTION_ERROR:
            status = d.get("status")
            what = d.get("error") or d.get("type") or data or "refused"
            raise RejectedError(
                f"subscription to {channel} refused: {what}"
                + (f" (status {status})" if status is not None else ""),
                status=status if isinstance(status, int) else None,
            )
        if event == frames.SIGNIN_SUCCESS:
            return [Status(now, "signed_in", _user_id(d.get("user_data")))]
        if channel is None:
            return []
        if event == frames.SUBSCRIPTION_SUCCEEDED:
            return [self._subscribed(now, channel, d)]
        if event == frames.MEMBER_ADDED and "user_id" in d:
            uid = str(d["user_id"])
            self.members.setdefault(channel, {})[uid] = d.get("user_info")
            return [MemberAdded(now, channel, uid, d.get("user_info"))]
        if event == frames.MEMBER_REMOVED and "user_id" in d:
            uid = str(d["user_id"])
            info = self.members.get(channel, {}).pop(uid, None)
            return [MemberRemoved(now, channel, uid, info)]
        return []

    def _established(self, now: float, d: dict[str, Any]) -> list[Item]:
        self.socket_id = str(d.get("socket_id", ""))
        activity = d.get("activity_timeout")
        if isinstance(activity, int | float) and activity > 0:
            self.activity_timeout = min(float(activity), MAX_ACTIVITY_TIMEOUT)
        self._state = _OPEN
        self.established_at = now
        # sign in first, then each channel in order (popped from the end)
        self._steps = [*reversed(self.channels), *([None] if self.signin else [])]
        self._advance()
        return [Status(now, "connected", self.server, socket_id=self.socket_id)]

    def _subscribed(self, now: float, channel: str, d: dict[str, Any]) -> Subscribed:
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
        return Subscribed(now, channel, dict(members) if members is not None else None, first)

    # --- subscribing: frames out, authorization asked of the shell --------------------------

    def _advance(self) -> None:
        """Queue subscribe frames in order until a step needs an answer from the shell."""
        socket_id = self.socket_id or ""
        while self.request is None and self._steps:
            channel = self._steps.pop()
            if channel is None:
                self.request = SigninRequest(socket_id)
                return
            kind = kind_of(channel)
            if kind.needs_auth:
                self.request = AuthRequest(channel, socket_id, kind.encrypted)
                return
            self.outgoing.append(frames.encode(frames.SUBSCRIBE, {"channel": channel}))

    def signed_in(self, answer: dict[str, str]) -> None:
        """The shell's answer to a :class:`SigninRequest` (``{auth, user_data}``)."""
        assert isinstance(self.request, SigninRequest), self.request
        self.request = None
        self.outgoing.append(frames.encode(frames.SIGNIN, answer))
        self._advance()

    def authorized(
        self, answer: dict[str, str], decrypt: Callable[[str], str] | None = None
    ) -> None:
        """The shell's answer to an :class:`AuthRequest` (``{auth, channel_data?}``) and, for
        an encrypted channel, what decrypts its events."""
        request = self.request
        assert isinstance(request, AuthRequest), request
        self.request = None
        data = {"channel": request.channel, "auth": answer["auth"]}
        if "channel_data" in answer:
            data["channel_data"] = answer["channel_data"]
        if decrypt is not None:
            self._decrypt[request.channel] = decrypt
        self.outgoing.append(frames.encode(frames.SUBSCRIBE, data))
        self._advance()


# --- reconnecting --------------------------------------------------------------------------


class Reconnect:
    """When to connect again and when to give up, after a failed attempt or a lost connection.

    ``retries``: attempts in a row that may fail (None: no limit, as pusher-js); an attempt
    fails when it does not reach ``connection_established``, or when the connection ends within
    ``stable_after`` seconds. ``backoff``: the delays (by default :data:`RECONNECT`).
    """

    def __init__(
        self,
        server: str,
        *,
        retries: int | None,
        stable_after: float,
        rng: Rng,
        backoff: Backoff = RECONNECT,
    ) -> None:
        self.server = server
        self.retries = retries
        self.stable_after = stable_after
        self.rng = rng
        self.backoff = backoff
        self.failures = 0
        #: why the last attempt failed or the last connection ended, or None
        self.last_failure: str | None = None

    def connect_failed(self, reason: str) -> float:
        """The connection could not be opened: the delay before the next attempt."""
        self.failures += 1
        self.last_failure = reason
        error = self._given_up(established=False)
        if error is not None:
            raise error
        return self.backoff.delay(self.failures - 1, self.rng)

    def ended(self, lost: Lost, lasted: float | None) -> float:
        """A connection ended ``lasted`` seconds after ``connection_established`` (None: it
        never got there): the delay before the next attempt."""
        self.last_failure = lost.reason
        if lost.action == "fatal" and terminated(lost.code, lost.reason):
            raise terminated_error()
        if lost.action == "fatal":
            raise RejectedError(f"server refused the connection: {lost.reason}")
        if lost.action == "tls":
            raise RejectedError(
                f"server refused the connection: {lost.reason}",
                hint="the server only accepts TLS: use --scheme https",
            )
        if lasted is not None and lasted >= self.stable_after:
            self.failures = 0  # a connection that lasted: start over
            return 0.0 if lost.action == "now" else self.backoff.delay(0, self.rng)
        self.failures += 1
        error = self._given_up(established=lasted is not None)
        if error is not None:
            raise error
        if lost.action == "now" and lasted is not None and self.failures == 1:
            return 0.0  # as the close code asks, but only once in a row
        return self.backoff.delay(self.failures - 1, self.rng)

    @property
    def attempt(self) -> int:
        """Which attempt in a row the next one is."""
        return self.failures + 1

    def _given_up(self, *, established: bool) -> UnavailableError | None:
        if self.retries is None or self.failures < self.retries:
            return None
        attempts = f"{self.failures} attempt{'s' if self.failures != 1 else ''}"
        if established:
            return UnavailableError(
                f"{self.server} keeps closing the connection: {self.last_failure} "
                f"({attempts} in a row ended within {self.stable_after:g}s)"
            )
        return UnavailableError(
            f"cannot connect to {self.server}: {self.last_failure} ({attempts})"
        )
