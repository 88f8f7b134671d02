"""The HTTP API: request authentication, routing, validation and the answers, as Pusher gives them.

``handle`` takes a parsed request (method, target, body) and returns a :class:`Reply`; the
transport does the HTTP. Nothing is published unless the whole request is valid. Successful
answers are JSON (``{}`` for triggers, like Pusher); errors are one line of plain text, like
Pusher's, and never contain a secret.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote

from pushcli.protocol import signing
from pushcli.protocol.channels import PRESENCE_PREFIX, is_cache, kind_of, valid_name
from pushcli.protocol.limits import SOCKET_ID_RE, valid_event_name_chars
from pushcli.server import wire
from pushcli.server.apps import App, AppRegistry, Limits
from pushcli.server.records import ApiError, ApiMessage, OnRecord, Terminated
from pushcli.server.state import AppState

log = logging.getLogger("pushcli.server")


@dataclass
class Reply:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: list[tuple[str, str]] = field(default_factory=list)


class HttpError(Exception):
    def __init__(self, status: int, message: str, headers: list[tuple[str, str]] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or []


def ok(obj: Any) -> Reply:
    return Reply(200, wire.dumps(obj).encode())


def error_reply(status: int, message: str) -> Reply:
    return Reply(status, (message + "\n").encode(), "text/plain; charset=utf-8")


@dataclass
class Api:
    registry: AppRegistry
    states: Mapping[str, AppState]
    limits: Limits
    on_record: OnRecord | None = None

    def handle(self, method: str, target: str, body: bytes, now: float) -> Reply:
        try:
            return self._handle(method, target, body, now)
        except HttpError as e:
            if e.status != 404 or target.startswith("/apps/"):
                log.info(
                    "HTTP %s %s -> %d %s", method, target.partition("?")[0], e.status, e.message
                )
            if self.on_record is not None and target.startswith("/apps/"):
                path = target.partition("?")[0]
                self.on_record(
                    ApiError(method=method, path=path, status=e.status, message=e.message)
                )
            reply = error_reply(e.status, e.message)
            reply.headers.extend(e.headers)
            return reply

    def _handle(self, method: str, target: str, body: bytes, now: float) -> Reply:
        path, _, query = target.partition("?")
        if path == "/":
            return Reply(200, b"OK", "text/plain; charset=utf-8")
        parts = path.split("/")
        if len(parts) < 4 or parts[0] != "" or parts[1] != "apps":
            raise HttpError(404, f"Not found: {path[:100]}")
        route, want = _route(parts[3:])
        if method != want:
            raise HttpError(
                405, f"Method not allowed: use {want} for {path[:100]}", [("Allow", want)]
            )
        app = self.registry.by_id.get(unquote(parts[2]))
        if app is None:
            raise HttpError(404, f"Unknown app id {unquote(parts[2])[:100]!r}")
        try:
            params = dict(
                parse_qsl(
                    query, keep_blank_values=True, strict_parsing=bool(query), max_num_fields=64
                )
            )
        except ValueError:
            raise HttpError(400, "Malformed query string") from None
        authenticate(app, method, path, params, body, now, self.limits.timestamp_window_seconds)
        state = self.states[app.id]
        log.debug("HTTP %s %s", method, path)
        if route == "events":
            return self.events(state, _json_body(body))
        if route == "batch_events":
            return self.batch(state, _json_body(body))
        if route == "channels":
            return self.channels(state, params)
        if route == "channel":
            return self.channel(state, self._channel_name(parts[4]), params)
        if route == "users":
            return self.users(state, self._channel_name(parts[4]))
        if body.strip():
            _json_body(body)
        user_id = unquote(parts[4])
        closed = state.terminate_user(user_id)
        if self.on_record is not None:
            self.on_record(Terminated(app_id=app.id, user_id=user_id, connections=closed))
        return ok({})

    # ---- triggering

    def events(self, state: AppState, body: Any) -> Reply:
        channels, name, data, socket_id, info = self._event(body)
        state.cork()
        try:
            for channel in channels:
                state.trigger(channel, name, data, socket_id)
        finally:
            state.uncork()
        if self.on_record is not None:
            self._record(state, "events", channels, name, data, socket_id)
        log.debug("event %s -> %s", name, ", ".join(channels))
        if info:
            return ok({"channels": {c: _info(state, c, info) for c in channels}})
        return ok({})

    def batch(self, state: AppState, body: Any) -> Reply:
        batch = body.get("batch") if isinstance(body, dict) else None
        if not isinstance(batch, list):
            raise HttpError(400, 'Expected {"batch": [event, ...]}')
        if len(batch) > self.limits.max_events_per_batch:
            raise HttpError(
                400,
                f"Batch too large: {len(batch)} events, "
                f"at most {self.limits.max_events_per_batch} per request",
            )
        events = [self._event(item, where=f"batch[{i}]: ") for i, item in enumerate(batch)]
        state.cork()
        try:
            for channels, name, data, socket_id, _ in events:
                for channel in channels:
                    state.trigger(channel, name, data, socket_id)
        finally:
            state.uncork()
        if self.on_record is not None:
            for channels, name, data, socket_id, _ in events:
                self._record(state, "batch_events", channels, name, data, socket_id)
        if any(e[4] for e in events):
            return ok({"batch": [_info(state, e[0][0], e[4]) if e[4] else {} for e in events]})
        return ok({})

    def _record(
        self,
        state: AppState,
        endpoint: str,
        channels: list[str],
        name: str,
        data: str,
        socket_id: str | None,
    ) -> None:
        assert self.on_record is not None
        self.on_record(
            ApiMessage(
                app_id=state.app.id,
                endpoint=endpoint,
                event=name,
                channels=channels,
                size=len(data.encode()),
                excluded_socket_id=socket_id,
            )
        )

    def _event(
        self, body: Any, where: str = ""
    ) -> tuple[list[str], str, str, str | None, list[str]]:
        lim = self.limits
        if not isinstance(body, dict):
            raise HttpError(400, f"{where}an event must be a JSON object")
        name = body.get("name")
        if not isinstance(name, str) or not name:
            raise HttpError(400, f"{where}missing event name")
        if len(name) > lim.max_event_name:
            raise HttpError(400, f"{where}event name longer than {lim.max_event_name} characters")
        if not valid_event_name_chars(name):
            raise HttpError(400, f"{where}invalid event name {name[:100]!r}: control characters")
        channels = body.get("channels")
        if channels is None and body.get("channel") is not None:
            channels = [body["channel"]]
        if (
            not isinstance(channels, list)
            or not channels
            or not all(isinstance(c, str) for c in channels)
        ):
            raise HttpError(
                400, f"{where}missing channel: give channel or channels (a list of names)"
            )
        if len(channels) > lim.max_channels_per_event:
            raise HttpError(
                400,
                f"{where}too many channels: {len(channels)}, "
                f"at most {lim.max_channels_per_event} per event",
            )
        for c in channels:
            if not _valid_channel(c, lim.max_channel_name, allow_user=True):
                raise HttpError(400, f"{where}invalid channel name {c[:100]!r}")
        if len(channels) > 1 and any(kind_of(c).encrypted for c in channels):
            raise HttpError(
                400, f"{where}an event for an encrypted channel cannot go to other channels"
            )
        data = body.get("data")
        if not isinstance(data, str):
            raise HttpError(400, f"{where}data must be a string (JSON-encode objects)")
        size = len(data.encode())
        if size > lim.max_event_data_bytes:
            raise HttpError(
                413,
                f"{where}event data too large: {size} bytes, at most {lim.max_event_data_bytes}",
            )
        socket_id = body.get("socket_id")
        if socket_id is not None and (
            not isinstance(socket_id, str) or not SOCKET_ID_RE.fullmatch(socket_id)
        ):
            raise HttpError(400, f"{where}invalid socket_id (expected digits.digits)")
        info = _parse_info(body.get("info"), ("user_count", "subscription_count"))
        return channels, name, data, socket_id, info

    # ---- queries

    def _channel_name(self, raw: str) -> str:
        name = unquote(raw)
        if not _valid_channel(name, self.limits.max_channel_name):
            raise HttpError(400, f"invalid channel name {name[:100]!r}")
        return name

    def channels(self, state: AppState, params: dict[str, str]) -> Reply:
        prefix = params.get("filter_by_prefix", "")
        info = _parse_info(params.get("info"), ("user_count", "subscription_count"))
        if "user_count" in info and not prefix.startswith(PRESENCE_PREFIX):
            raise HttpError(400, "info=user_count needs filter_by_prefix=presence-")
        out = {name: _info(state, name, info) for name in state.channels if name.startswith(prefix)}
        return ok({"channels": out})

    def channel(self, state: AppState, name: str, params: dict[str, str]) -> Reply:
        info = _parse_info(params.get("info"), ("user_count", "subscription_count", "cache"))
        if "user_count" in info and not kind_of(name).has_members:
            raise HttpError(400, "info=user_count is only for presence- channels")
        if "cache" in info and not is_cache(name):
            raise HttpError(400, "info=cache is only for cache channels")
        ch = state.channel(name)
        out: dict[str, Any] = {"occupied": ch is not None}
        out.update(_info(state, name, [i for i in info if i != "cache"]))
        if "cache" in info:
            cached = state.cached(name)
            if cached is not None:
                out["cache"] = {
                    "event": cached.event,
                    "data": cached.data,
                    "ttl": state.cache_ttl_left(name),
                }
        return ok(out)

    def users(self, state: AppState, name: str) -> Reply:
        if not kind_of(name).has_members:
            raise HttpError(400, "users can only be listed for presence- channels")
        ch = state.channel(name)
        members = ch.members if ch is not None and ch.members is not None else {}
        return ok({"users": [{"id": uid} for uid in members]})


def _route(rest: list[str]) -> tuple[str, str]:
    """Route name and the method it takes, from the path after /apps/{id}/."""
    n = len(rest)
    if n == 1 and rest[0] in ("events", "batch_events"):
        return rest[0], "POST"
    if rest[0] == "channels":
        if n == 1:
            return "channels", "GET"
        if n == 2 and rest[1]:
            return "channel", "GET"
        if n == 3 and rest[1] and rest[2] == "users":
            return "users", "GET"
    if n == 3 and rest[0] == "users" and rest[1] and rest[2] == "terminate_connections":
        return "terminate", "POST"
    raise HttpError(404, f"Not found: /{'/'.join(rest)[:100]}")


def authenticate(
    app: App, method: str, path: str, params: dict[str, str], body: bytes, now: float, window: int
) -> None:
    """Pusher's request authentication; raises HttpError(401) saying what is wrong."""
    key, signature, ts = (
        params.get("auth_key"),
        params.get("auth_signature"),
        params.get("auth_timestamp"),
    )
    if not key or not signature or not ts:
        raise HttpError(401, "Missing auth_key, auth_timestamp or auth_signature")
    if key != app.key:
        raise HttpError(401, f"Unknown auth_key {key[:100]!r} for app {app.id}")
    if params.get("auth_version", "1.0") != "1.0":
        raise HttpError(401, "Unsupported auth_version (only 1.0)")
    try:
        stamp = int(ts)
    except ValueError:
        raise HttpError(401, "auth_timestamp must be an integer (unix seconds)") from None
    if abs(now - stamp) > window:
        raise HttpError(
            401,
            f"Timestamp expired: Given timestamp ({stamp}) not within {window}s "
            f"of server time ({int(now)})",
        )
    md5 = params.get("body_md5")
    if body and md5 is None:
        raise HttpError(401, "body_md5 is required for a request with a body")
    if md5 is not None and md5 != signing.body_md5(body):
        raise HttpError(
            401,
            f"Invalid body_md5: the body's MD5 is {signing.body_md5(body)}, you sent {md5[:64]!r}",
        )
    to_sign = signing.string_to_sign(method, path, params)
    expected = signing.hmac_hex(app.secret, to_sign)
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        raise HttpError(
            401,
            "Invalid signature: you should have sent HmacSHA256Hex("
            f"{json.dumps(to_sign)}, your_secret_key), but you sent "
            f"{json.dumps(signature[:128])}",
        )


def _json_body(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        raise HttpError(400, "Request body is not valid JSON") from None
    except RecursionError:
        raise HttpError(400, "Request body is JSON nested too deeply") from None


def _parse_info(raw: Any, allowed: tuple[str, ...]) -> list[str]:
    if raw is None or raw == "":
        return []
    if not isinstance(raw, str):
        raise HttpError(400, "info must be a comma-separated string")
    parts = [p.strip() for p in raw.split(",") if p.strip()]
    bad = [p for p in parts if p not in allowed]
    if bad:
        raise HttpError(
            400, f"unknown info attribute(s) {', '.join(bad)[:100]} (allowed: {', '.join(allowed)})"
        )
    return parts


def _info(state: AppState, name: str, info: list[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    ch = state.channel(name)
    if "user_count" in info and kind_of(name).has_members:
        out["user_count"] = len(ch.members) if ch is not None and ch.members is not None else 0
    if "subscription_count" in info:
        out["subscription_count"] = len(ch.subscribers) if ch is not None else 0
    return out


def _valid_channel(name: str, max_len: int, *, allow_user: bool = False) -> bool:
    return valid_name(name, allow_server_to_user=allow_user, max_len=max_len)
