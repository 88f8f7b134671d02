"""Pusher protocol 7 for one WebSocket connection: what a client says, what the server answers.

No I/O here: a :class:`Session` reads decoded text messages and writes frames through the
connection object it was given (``write(bytes)``, ``close(code, reason)``), so the same logic
can be driven by tests without sockets.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Callable
from typing import Any, Protocol

from pushcli.protocol import frames, signing
from pushcli.protocol.channels import (
    CHANNEL_NAME_RE,
    ChannelKind,
    is_cache,
    kind_of,
    server_to_user_channel,
)
from pushcli.server import wire
from pushcli.server.apps import Limits
from pushcli.server.records import (
    ClientEvent,
    ErrorSent,
    OnRecord,
    SignedIn,
    Subscribed,
    Unsubscribed,
)
from pushcli.server.state import AppState

PROTOCOL_VERSIONS = range(5, 8)
#: client event refusals and size limits (soketi's code; 4300+ is "other error", non-fatal)
LIMIT_CODE = 4301
UNAUTHORIZED = 4009


class Conn(Protocol):
    peer: str

    def write(self, data: bytes) -> None: ...

    def close(self, code: int, reason: str) -> None: ...


class Session:
    """One client connection of one app."""

    def __init__(
        self,
        state: AppState,
        conn: Conn,
        socket_id: str,
        *,
        limits: Limits,
        activity_timeout: int,
        log: logging.Logger,
        clock: Callable[[], float] = time.monotonic,
        on_record: OnRecord | None = None,
    ) -> None:
        self.state = state
        self.on_record = on_record
        #: the channels it was subscribed to when it closed (kept for the records only)
        self.left: list[str] = []
        self.app = state.app
        self.conn = conn
        self.write = conn.write  # what fan-out calls: no extra layer per subscriber
        self.socket_id = socket_id
        self.user_id: str | None = None
        self.limits = limits
        self.activity_timeout = activity_timeout
        self.log = log
        self.verbose = log.isEnabledFor(logging.DEBUG)
        self.clock = clock
        #: subscribed channel -> presence user id (None on other channels)
        self.channels: dict[str, str | None] = {}
        self.open = False
        self.last_seen = clock()
        self.ping_sent: float | None = None
        self._tokens = float(limits.client_events_per_second)
        self._refilled = self.last_seen

    # ---- lifecycle

    def start(self) -> None:
        self.open = True
        self.state.add_client(self)
        self._internal(
            frames.CONNECTION_ESTABLISHED,
            {"socket_id": self.socket_id, "activity_timeout": self.activity_timeout},
        )

    def closed(self) -> None:
        """The connection is gone (or going): leave every channel, forget the socket."""
        if not self.open:
            return
        self.open = False
        if self.on_record is not None:
            self.left = list(self.channels)
        self.state.remove_client(self, list(self.channels))
        self.channels.clear()

    def terminate(self, code: int, message: str) -> None:
        """Tell the client why (``pusher:error``), forget it, close with ``code``."""
        if not self.open:
            return
        if self.on_record is not None:
            self._record_error("pusher:error", code, message)
        self.send(wire.error(code, message))
        self.closed()
        self.conn.close(code, message)

    # ---- output

    def send(self, data: bytes) -> None:
        if self.open:
            if self.verbose:
                self.log.debug(
                    "%s > %s", self.socket_id, wire.payload(data)[:2000].decode(errors="replace")
                )
            self.write(data)

    def _internal(self, event: str, data: Any, channel: str | None = None) -> None:
        self.send(wire.internal(event, data, channel))

    def error(self, code: int | None, message: str, channel: str | None = None) -> None:
        """Send ``pusher:error``."""
        if self.on_record is not None:
            self._record_error("pusher:error", code, message, channel)
        self.send(wire.message(frames.ERROR, {"code": code, "message": message}, channel))

    _error = error

    def _record_error(
        self,
        event: str,
        code: int | None,
        message: str,
        channel: str | None = None,
        error_type: str | None = None,
    ) -> None:
        assert self.on_record is not None
        self.on_record(
            ErrorSent(
                event=event,
                code=code,
                message=message,
                app_id=self.app.id,
                socket_id=self.socket_id,
                remote=self.conn.peer,
                channel=channel,
                error_type=error_type,
            )
        )

    def _subscription_error(self, channel: str, kind: str, error: str, status: int) -> None:
        if self.on_record is not None:
            self._record_error("pusher:subscription_error", status, error, channel, kind)
        self.send(
            wire.message(
                frames.SUBSCRIPTION_ERROR,
                {"type": kind, "error": error, "status": status},
                channel,
            )
        )

    # ---- keep-alive

    def touch(self) -> None:
        self.last_seen = self.clock()
        self.ping_sent = None

    def check_alive(self, now: float, pong_timeout: float) -> None:
        """Ping after ``activity_timeout`` of silence; close 4201 when no answer comes."""
        if self.ping_sent is not None:
            if now - self.ping_sent > pong_timeout:
                self.terminate(4201, "Pong reply not received")
        elif now - self.last_seen > self.activity_timeout:
            self.ping_sent = now
            self.send(wire.message(frames.PING, {}))

    # ---- input

    def received(self, text: str) -> None:
        if self.verbose:
            self.log.debug("%s < %s", self.socket_id, text[:2000])
        try:
            msg = frames.decode(text)
        except frames.FrameError as e:
            return self._error(None, f"Invalid message: {e}")
        event = msg.event
        if event == frames.PING:
            self.send(wire.message(frames.PONG, {}))
        elif event == frames.PONG:
            pass
        elif event == frames.SUBSCRIBE:
            self._subscribe(msg)
        elif event == frames.UNSUBSCRIBE:
            self._unsubscribe(msg)
        elif event == frames.SIGNIN:
            self._signin(msg)
        elif event.startswith("client-"):
            self._client_event(msg)
        else:
            self._error(None, f"Unsupported event: {event[:100]}")

    @staticmethod
    def _data(msg: frames.Frame) -> dict[str, Any] | None:
        data = frames.decode_json(msg.data)
        return data if isinstance(data, dict) else None

    def _check_auth(self, channel: str, auth: Any, to_sign: str) -> bool:
        expected = f"{self.app.key}:{signing.hmac_hex(self.app.secret, to_sign)}"
        if isinstance(auth, str) and hmac.compare_digest(expected.encode(), auth.encode()):
            return True
        given = auth.rpartition(":")[2][:128] if isinstance(auth, str) else "nothing"
        # Pusher's wording; status 401 like soketi (pusher-js apps read it as an HTTP status)
        self._subscription_error(
            channel,
            "AuthError",
            f"Invalid signature: Expected HMAC SHA256 hex digest of {to_sign}, but got {given}",
            401,
        )
        return False

    def _subscribe(self, msg: frames.Frame) -> None:
        data = self._data(msg)
        channel = data.get("channel") if data else None
        if not isinstance(channel, str) or not channel:
            return self._error(None, "pusher:subscribe needs data {channel, auth?, channel_data?}")
        assert data is not None
        if len(channel) > self.limits.max_channel_name:
            return self._subscription_error(
                channel,
                "LimitReached",
                f"The channel name is longer than {self.limits.max_channel_name} characters.",
                UNAUTHORIZED,
            )
        if kind_of(channel) is ChannelKind.SERVER_TO_USER:
            if self.user_id is not None and channel == server_to_user_channel(self.user_id):
                if self.on_record is not None:
                    self._record_subscribed(channel, None)
                return self._internal(frames.SUBSCRIPTION_SUCCEEDED, {}, channel)
            return self._subscription_error(
                channel, "AuthError", "Sign in (pusher:signin) as this user first.", UNAUTHORIZED
            )
        if not CHANNEL_NAME_RE.fullmatch(channel):
            return self._subscription_error(
                channel,
                "InvalidChannel",
                "Invalid channel name: only letters, digits and -_=@,.; are allowed.",
                UNAUTHORIZED,
            )
        kind = kind_of(channel)
        member: tuple[str, Any] | None = None
        if kind.has_members:
            member = self._presence_member(channel, data)
            if member is None:
                return
        elif kind.needs_auth:
            if not self._check_auth(channel, data.get("auth"), f"{self.socket_id}:{channel}"):
                return
        already = channel in self.channels
        self.state.join(self, channel, member)
        self.channels[channel] = member[0] if member else None
        if member is not None:
            self._internal(
                frames.SUBSCRIPTION_SUCCEEDED,
                self.state.presence_snapshot(channel),
                channel,
            )
        else:
            self._internal(frames.SUBSCRIPTION_SUCCEEDED, {}, channel)
        if not already:
            if self.on_record is not None:
                self._record_subscribed(channel, member[0] if member else None)
            self.state.subscription_counted(channel)
        if is_cache(channel) and not already:
            self._send_cached(channel)

    def _record_subscribed(self, channel: str, user_id: str | None) -> None:
        assert self.on_record is not None
        self.on_record(
            Subscribed(
                app_id=self.app.id, socket_id=self.socket_id, channel=channel, user_id=user_id
            )
        )

    def _presence_member(self, channel: str, data: dict[str, Any]) -> tuple[str, Any] | None:
        channel_data = data.get("channel_data")
        if not isinstance(channel_data, str):
            self._subscription_error(
                channel, "AuthError", "Presence channels need channel_data.", UNAUTHORIZED
            )
            return None
        if not self._check_auth(
            channel, data.get("auth"), f"{self.socket_id}:{channel}:{channel_data}"
        ):
            return None
        decoded = frames.decode_json(channel_data)
        user_id = decoded.get("user_id") if isinstance(decoded, dict) else None
        if isinstance(user_id, int) and not isinstance(user_id, bool):
            user_id = str(user_id)
        if not isinstance(user_id, str) or not user_id:
            self._subscription_error(
                channel, "InvalidData", "channel_data must be JSON with a user_id.", UNAUTHORIZED
            )
            return None
        assert isinstance(decoded, dict)
        info = decoded.get("user_info")
        if (
            info is not None
            and len(wire.dumps(info).encode()) > self.limits.max_presence_user_info_bytes
        ):
            self._subscription_error(
                channel,
                "LimitReached",
                f"user_info is larger than {self.limits.max_presence_user_info_bytes} bytes.",
                LIMIT_CODE,
            )
            return None
        if (
            not self.state.is_member(channel, user_id)
            and self.state.member_count(channel) >= self.limits.max_presence_members
        ):
            self._subscription_error(
                channel,
                "LimitReached",
                f"The presence channel has {self.limits.max_presence_members} members already.",
                4100,
            )
            return None
        return user_id, info

    def _send_cached(self, channel: str) -> None:
        cached = self.state.cached(channel)
        if cached is not None:
            self.send(wire.message(cached.event, cached.data, channel))
        else:
            self.send(wire.message(frames.CACHE_MISS, channel=channel))
            self.state.hook("cache_miss", channel)

    def _unsubscribe(self, msg: frames.Frame) -> None:
        data = self._data(msg)
        channel = data.get("channel") if data else None
        if not isinstance(channel, str):
            return self._error(None, "pusher:unsubscribe needs data {channel}")
        if channel in self.channels:
            user_id = self.channels.pop(channel)
            self.state.leave(self, channel)
            if self.on_record is not None:
                self.on_record(
                    Unsubscribed(
                        app_id=self.app.id,
                        socket_id=self.socket_id,
                        channel=channel,
                        user_id=user_id,
                    )
                )

    def _signin(self, msg: frames.Frame) -> None:
        data = self._data(msg) or {}
        user_data, auth = data.get("user_data"), data.get("auth")
        if not isinstance(user_data, str) or not isinstance(auth, str):
            return self.terminate(UNAUTHORIZED, "pusher:signin needs data {auth, user_data}")
        expected = signing.user_auth(self.app.key, self.app.secret, self.socket_id, user_data)
        if not hmac.compare_digest(expected.encode(), auth.encode()):
            return self.terminate(
                UNAUTHORIZED,
                "Invalid signature for pusher:signin: expected "
                f"HmacSHA256Hex({signing.user_auth_string(self.socket_id, user_data)!r})",
            )
        user = frames.decode_json(user_data)
        user_id = user.get("id") if isinstance(user, dict) else None
        if isinstance(user_id, int) and not isinstance(user_id, bool):
            user_id = str(user_id)  # as soketi does (and as for presence user_id): {"id": 42}
        if not isinstance(user_id, str) or not user_id:
            return self.terminate(
                UNAUTHORIZED, 'user_data must be JSON with a non-empty "id" (a string or number)'
            )
        self.state.sign_in(self, user_id)
        if self.on_record is not None:
            self.on_record(SignedIn(app_id=self.app.id, socket_id=self.socket_id, user_id=user_id))
        self._internal(frames.SIGNIN_SUCCESS, {"user_data": user_data})

    def _client_event(self, msg: frames.Frame) -> None:
        event, channel, data = msg.event, msg.channel, msg.data
        refused = self._client_event_refusal(event, channel, data)
        if refused is not None:
            where = channel if isinstance(channel, str) else None
            return self._error(LIMIT_CODE, f"Client event rejected: {refused}", where)
        assert isinstance(channel, str)
        text = data if isinstance(data, str) else wire.dumps(data)
        user_id = self.channels[channel]
        extra = {"user_id": user_id} if user_id is not None else {}
        self.state.publish(channel, wire.message(event, data, channel, **extra), self.socket_id)
        self.state.hook(
            "client_event", channel, event=event, data=text, socket_id=self.socket_id, **extra
        )
        if self.on_record is not None:
            self.on_record(
                ClientEvent(
                    app_id=self.app.id,
                    socket_id=self.socket_id,
                    channel=channel,
                    event=event,
                    size=len(text.encode()),
                    user_id=user_id,
                )
            )

    def _client_event_refusal(self, event: str, channel: Any, data: Any) -> str | None:
        if not self.app.client_events:
            return "client events are disabled for this app."
        if not isinstance(channel, str) or channel not in self.channels:
            return "not subscribed to the channel."
        if not kind_of(channel).client_events:
            return (
                "only private and presence channels take client events (not public or encrypted)."
            )
        if len(event) > self.limits.max_event_name:
            return f"event name longer than {self.limits.max_event_name} characters."
        text = data if isinstance(data, str) else wire.dumps(data)
        if len(text.encode()) > self.limits.max_event_data_bytes:
            return (
                f"the event data should be less than {self.limits.max_event_data_bytes // 1024} KB."
            )
        if not self._take_token():
            return f"more than {self.limits.client_events_per_second} per second (rate limit)."
        return None

    def _take_token(self) -> bool:
        now = self.clock()
        rate = self.limits.client_events_per_second
        self._tokens = min(float(rate), self._tokens + (now - self._refilled) * rate)
        self._refilled = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True
