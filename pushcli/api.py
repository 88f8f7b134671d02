"""pushcli as a Python library: the functions the commands call, without spawning a process.

    from pushcli.api import Client

    client = Client.from_profile()            # same resolution as the CLI (flags aside)
    client.trigger("orders", "created", {"id": 42})
    client.batch([{"channel": "a", "name": "e", "data": {"i": 1}}])
    client.members("presence-room")
    client.sign_channel("private-orders", "1234.5678")

    async for event in client.listen(["orders"]):   # see realtime.Listener
        print(event)

Every method raises :class:`pushcli.errors.PushcliError` subclasses carrying the CLI's exit
codes (ConfigError, InputError, RejectedError, UnavailableError, PartialFailure).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from pushcli.app import auth as _auth
from pushcli.app import channels as _channels
from pushcli.app import publish
from pushcli.app import trigger as _trigger
from pushcli.app import users as _users
from pushcli.client.profiles import Settings, resolve
from pushcli.errors import (
    ConfigError,
    InputError,
    NotArrivedError,
    PartialFailure,
    PushcliError,
    RejectedError,
    UnavailableError,
)
from pushcli.protocol import events as _events

__all__ = [
    "Client",
    "ConfigError",
    "Event",
    "InputError",
    "MemberAdded",
    "MemberRemoved",
    "NotArrivedError",
    "PartialFailure",
    "PushcliError",
    "RejectedError",
    "Settings",
    "Status",
    "Subscribed",
    "UnavailableError",
]
if TYPE_CHECKING:
    from pushcli.protocol.client_session import (
        Event,
        MemberAdded,
        MemberRemoved,
        Status,
        Subscribed,
    )

_REALTIME = ("Event", "MemberAdded", "MemberRemoved", "Status", "Subscribed")


def __getattr__(name: str) -> Any:
    """The listen item types, imported on first use."""
    if name in _REALTIME:
        from pushcli.protocol import client_session

        return getattr(client_session, name)
    raise AttributeError(name)


class Client:
    """A Pusher app: REST calls over one keep-alive connection, auth signing, listening."""

    def __init__(self, settings: Settings, *, timeout: float = 10.0, retries: int = 3) -> None:
        self.settings = settings
        self._timeout = timeout
        self._retries = retries
        self._rest: Any = None

    @classmethod
    def from_profile(
        cls, profile: str | None = None, *, config_file: str | None = None, **flags: str | None
    ) -> Client:
        """Resolve settings as the CLI does: flags (keyword arguments) > env > profile > defaults."""
        return cls(resolve(flags=flags, profile=profile, config_file=config_file, hint=False))

    @classmethod
    def from_values(
        cls,
        *,
        app_id: str,
        key: str,
        secret: str,
        cluster: str | None = None,
        host: str | None = None,
        port: int | None = None,
        scheme: str | None = None,
        encryption_master_key: str | None = None,
    ) -> Client:
        """Explicit credentials; nothing read from the environment or the config file."""
        values = {
            "app_id": app_id,
            "key": key,
            "secret": secret,
            "cluster": cluster,
            "host": host,
            "port": None if port is None else str(port),
            "scheme": scheme,
            "encryption_master_key": encryption_master_key,
        }
        return cls(
            resolve(flags=values, env={}, config_file="/nonexistent/pushcli.toml", hint=False)
        )

    # --- REST ---------------------------------------------------------------------------------

    @property
    def rest(self) -> Any:
        if self._rest is None:
            from pushcli.client.rest import RestClient

            self._rest = RestClient(self.settings, timeout=self._timeout, retries=self._retries)
        return self._rest

    def _client(self) -> Any:
        """The keep-alive client, made when a call first needs it (after its checks)."""
        return self.rest

    def close(self) -> None:
        if self._rest is not None:
            self._rest.close()
            self._rest = None

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def trigger(
        self,
        channels: str | list[str],
        event: str,
        data: Any = None,
        *,
        socket_id: str | None = None,
        info: str | None = None,
    ) -> Any:
        """Trigger ``event`` on one channel or a list; objects are JSON-encoded once."""
        names = [channels] if isinstance(channels, str) else list(channels)
        wire = "{}" if data is None else _events.wire_data(data)
        result = _trigger.trigger(
            self.settings, names, event, wire, socket_id=socket_id, info=info, rest=self._client
        )
        return result.answer

    def batch(
        self, events: Iterable[Mapping[str, Any]], *, raise_on_failure: bool = True
    ) -> publish.BatchResult:
        """Validate every event first (nothing is sent if one is invalid), then send 10 a request."""
        items = [dict(e) for e in events]
        result = _events.validate_items(items, "event", max_data_bytes=self.settings.max_data_bytes)
        if result.errors:
            from pushcli.errors import InputError

            raise InputError("; ".join(result.errors))
        publish.encrypt_events(self.settings, result.events)
        sent = publish.send_batch(self.rest, result.events)
        if raise_on_failure and sent.failed:
            if sent.sent == 0 and sent.fatal is not None:
                raise sent.fatal.error()
            raise PartialFailure(f"{len(sent.failed)} of {sent.total} events failed")
        return sent

    def channels(self, prefix: str | None = None, info: str | None = None) -> dict[str, Any]:
        """The server's answer (internal channels too); ``info`` is checked as the CLI does."""
        result = _channels.channels(self.settings, prefix, info, show_all=True, rest=self._client)
        answer: dict[str, Any] = result.answer
        return answer

    def channel(self, name: str, info: str | None = None) -> dict[str, Any]:
        answer: dict[str, Any] = _channels.channel(
            self.settings, name, info, rest=self._client
        ).answer
        return answer

    def members(self, channel: str) -> list[str]:
        """User ids of a presence channel's members."""
        return _channels.members(self.settings, channel, rest=self._client).user_ids

    def send_to_user(self, user_id: str, event: str, data: Any = None) -> Any:
        wire = "{}" if data is None else _events.wire_data(data)
        return _users.send(self.settings, user_id, event, wire, rest=self._client).answer

    def terminate_user(self, user_id: str) -> Any:
        return _users.terminate(self.settings, user_id, rest=self._client).answer

    # --- auth ---------------------------------------------------------------------------------

    def sign_channel(
        self, channel: str, socket_id: str, *, user_id: str | None = None, user_info: Any = None
    ) -> dict[str, str]:
        """What an auth endpoint returns for a private, presence or encrypted channel."""
        import json

        info = None if user_info is None else json.dumps(user_info, separators=(",", ":"))
        return _auth.sign(self.settings, channel, socket_id, user_id=user_id, user_info=info).answer

    def sign_user(self, socket_id: str, user_data: Mapping[str, Any]) -> dict[str, str]:
        """What a user-authentication endpoint returns for ``pusher:signin``."""
        import json

        data = json.dumps(dict(user_data), separators=(",", ":"))
        return _auth.user(self.settings, socket_id, data).answer

    # --- realtime -----------------------------------------------------------------------------

    async def listen(
        self,
        channels: list[str],
        *,
        user_id: str | None = None,
        user_info: Any = None,
        auth_endpoint: str | None = None,
        auth_headers: list[str] | None = None,
        system: bool = False,
        retries: int = 5,
    ) -> AsyncIterator[Any]:
        """Subscribe and yield what arrives, surviving reconnects (an async iterator).

        Yields :class:`pushcli.client.realtime.Event` (``channel``, ``event``, ``data`` as the wire
        string, ``user_id``; ``error`` set when an encrypted payload cannot be decrypted),
        ``MemberAdded`` and ``MemberRemoved``; with ``system=True`` also ``pusher:*`` events
        and ``Subscribed`` / ``Status`` items. Breaking out of the loop unsubscribes and closes.
        Channels are checked as ``pushcli listen`` checks them, and as it does the connection
        signs in as ``user_id`` with the secret, except when ``auth_endpoint`` authorizes.
        """
        import json

        from pushcli.app import listen as _listen
        from pushcli.protocol.client_session import Event, MemberAdded, MemberRemoved

        names = _listen.check_channels(list(channels))
        info = None if user_info is None else json.dumps(user_info, separators=(",", ":"))
        listener = _listen.make_listener(
            self.settings,
            names,
            auth_endpoint=auth_endpoint,
            auth_headers=auth_headers,
            user_id=user_id,
            user_info=info,
            retries=retries,
        )
        items = listener.items()
        try:
            async for item in items:
                if isinstance(item, MemberAdded | MemberRemoved):
                    yield item
                elif isinstance(item, Event):
                    if system or not item.system:
                        yield item
                elif system:
                    yield item
        finally:
            await items.aclose()
