"""The apps a server serves, and every limit it enforces (one place, soketi's defaults).

Secrets never come from the command line: the default app takes its secret from the resolved
settings (env, profile or the local default), ``--app ID:KEY`` from the environment variable
``PUSHCLI_SERVE_SECRET_<ID>``, and an apps file may hold them (it should be mode 0600).
"""

from __future__ import annotations

import logging
import os
import re
import stat
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pushcli.errors import ConfigError
from pushcli.protocol import limits as client_limits
from pushcli.protocol.channels import MAX_CHANNEL_NAME

log = logging.getLogger("pushcli.server")

SECRET_ENV_PREFIX = "PUSHCLI_SERVE_SECRET_"  # noqa: S105 - a variable name, not a secret
KEY_RE = re.compile(r"\A[A-Za-z0-9_.\-]+\Z")


@dataclass(frozen=True)
class Limits:
    """What a self-hosted server allows; soketi's defaults (Pusher's are tighter)."""

    max_event_data_bytes: int = client_limits.SELF_HOSTED_MAX_DATA_BYTES
    max_channels_per_event: int = client_limits.MAX_CHANNELS_PER_TRIGGER
    max_events_per_batch: int = client_limits.MAX_EVENTS_PER_BATCH
    max_channel_name: int = MAX_CHANNEL_NAME
    max_event_name: int = client_limits.MAX_EVENT_NAME
    max_presence_members: int = 100
    max_presence_user_info_bytes: int = 2 * 1024
    #: a whole WebSocket message from a client (frame envelope + data, JSON-escaped)
    max_message_bytes: int = 256 * 1024
    #: an HTTP request body (a batch of 10 events of 100 KB, escaped, fits)
    max_request_body_bytes: int = 4 * 1024 * 1024
    client_events_per_second: int = 10
    #: REST auth_timestamp may differ from the server clock by this much
    timestamp_window_seconds: int = 600
    #: time a client has to send one complete HTTP request, headers and body (the WebSocket
    #: handshake is one): from its first byte, or from the connection for the first request.
    #: Then 408 and close (soketi's uWebSockets.js closes such connections after about 10 s).
    request_timeout_seconds: float = 10.0
    #: cache channels keep their last event for at most this many channels, of at most this
    #: many bytes in total (the frames as sent); past either, the least recently written goes.
    #: soketi keeps every one until its TTL.
    max_cache_channels: int = 10_000
    max_cache_bytes: int = 64 * 1024 * 1024

    @classmethod
    def with_data_limit(cls, kilobytes: int) -> Limits:
        size = kilobytes * 1024
        return cls(
            max_event_data_bytes=size,
            max_message_bytes=max(256 * 1024, 2 * size + 16384),
            max_request_body_bytes=max(4 * 1024 * 1024, 24 * size),
        )


@dataclass(frozen=True)
class App:
    id: str
    key: str
    secret: str = field(repr=False)
    client_events: bool = True
    webhooks: tuple[str, ...] = ()


class AppRegistry:
    """Apps by id (HTTP API) and by key (WebSocket path)."""

    def __init__(self, apps: Iterable[App]) -> None:
        self.by_id: dict[str, App] = {}
        self.by_key: dict[str, App] = {}
        for app in apps:
            if app.id in self.by_id:
                raise ConfigError(f"app id {app.id!r} is configured twice")
            if app.key in self.by_key:
                raise ConfigError(f"app key {app.key!r} is configured twice")
            self.by_id[app.id] = app
            self.by_key[app.key] = app
        if not self.by_id:
            raise ConfigError("no app to serve")

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.by_id.values())

    def __len__(self) -> int:
        return len(self.by_id)


def check_app(app_id: str, key: str, secret: str | None, origin: str) -> App:
    if not app_id or not KEY_RE.fullmatch(app_id):
        raise ConfigError(
            f"invalid app id {app_id!r} ({origin}): use letters, digits, '_', '.', '-'"
        )
    if not key or not KEY_RE.fullmatch(key):
        raise ConfigError(f"invalid app key {key!r} ({origin}): use letters, digits, '_', '.', '-'")
    if not secret:
        raise ConfigError(f"no secret for app {app_id} ({origin})")
    return App(app_id, key, secret)


def secret_env_name(app_id: str) -> str:
    return SECRET_ENV_PREFIX + re.sub(r"[^A-Za-z0-9]", "_", app_id).upper()


def parse_app_spec(spec: str, env: Mapping[str, str] | None = None) -> App:
    """``ID:KEY``; the secret comes from ``PUSHCLI_SERVE_SECRET_<ID>``."""
    env = os.environ if env is None else env
    app_id, sep, key = spec.partition(":")
    if not sep or ":" in key:
        raise ConfigError(
            f"--app {spec!r}: expected ID:KEY (the secret comes from the environment)"
        )
    var = secret_env_name(app_id)
    secret = env.get(var, "")
    if not secret:
        raise ConfigError(f"--app {app_id}:{key}: set the secret in {var}")
    return check_app(app_id, key, secret, f"--app, secret from {var}")


def load_apps_file(path: Path, env: Mapping[str, str] | None = None) -> list[App]:
    """A TOML file of ``[[apps]]``: id, key, secret or secret_env, client_events, webhooks."""
    env = os.environ if env is None else env
    try:
        raw = path.read_bytes()
        mode = path.stat().st_mode
    except OSError as e:
        raise ConfigError(f"cannot read apps file {path}: {e.strerror}") from None
    try:
        doc = tomllib.loads(raw.decode())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"invalid apps file {path}: {e}") from None
    entries = doc.get("apps")
    if (
        not isinstance(entries, list)
        or not entries
        or not all(isinstance(e, dict) for e in entries)
    ):
        raise ConfigError(f"invalid apps file {path}: expected one or more [[apps]] tables")
    if mode & (stat.S_IRWXG | stat.S_IRWXO) and any("secret" in e for e in entries):
        log.warning(
            "warning: %s holds secrets and is readable by others; run: chmod 600 %s", path, path
        )
    return [_app_from_table(e, f"{path} [[apps]] #{i + 1}", env) for i, e in enumerate(entries)]


def _app_from_table(entry: dict[str, Any], origin: str, env: Mapping[str, str]) -> App:
    unknown = set(entry) - {"id", "key", "secret", "secret_env", "client_events", "webhooks"}
    if unknown:
        raise ConfigError(f"{origin}: unknown field(s) {', '.join(sorted(unknown))}")
    app_id, key = str(entry.get("id", "")), str(entry.get("key", ""))
    secret = entry.get("secret")
    if secret is None and entry.get("secret_env"):
        secret = env.get(str(entry["secret_env"]))
        if not secret:
            raise ConfigError(f"{origin}: {entry['secret_env']} is not set")
    if secret is None:
        secret = env.get(secret_env_name(app_id))
    app = check_app(app_id, key, None if secret is None else str(secret), origin)
    webhooks = entry.get("webhooks", [])
    if not isinstance(webhooks, list) or not all(isinstance(u, str) for u in webhooks):
        raise ConfigError(f"{origin}: webhooks must be a list of URLs")
    client_events = entry.get("client_events", True)
    if not isinstance(client_events, bool):
        raise ConfigError(f"{origin}: client_events must be true or false")
    return App(
        app.id, app.key, app.secret, client_events, tuple(check_webhook_url(u) for u in webhooks)
    )


def check_webhook_url(url: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"invalid webhook URL {url!r}: expected http(s)://host[:port]/path")
    return url


def from_settings(settings: Any) -> App:
    """The default app: id, key and secret as pushcli resolves them (flag > env > profile >
    the local default app-id / app-key / app-secret)."""
    where = ", ".join(
        f"{f} from {settings.sources[f]}"
        for f in ("app_id", "key", "secret")
        if f in settings.sources
    )
    if not settings.secret:
        raise ConfigError(
            f"no secret for app {settings.app_id} ({where or 'settings'})",
            hint="set PUSHER_APP_SECRET or use a profile: a secret is never taken from argv",
        )
    return check_app(settings.app_id or "", settings.key or "", settings.secret, where)
