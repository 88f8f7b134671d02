"""``pushcli listen`` and ``client-event``: a Listener for the channels, run to its end.

Builds the authorizer (the local secret or ``--auth-endpoint``) and the
:class:`pushcli.client.realtime.Listener`, runs the tail (app/tail.py) into the sink the
caller opens (pushcli.ui.liveview: a live view or NDJSON), optionally recording
(app/record.py), with ``--serve`` / ``--demo`` around it (app/demo.py), on an asyncio loop of
its own. ``pushcli.api.Client.listen`` builds its Listener here too.

Imports websockets only when a Listener is made.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pushcli.app.calls import SettingsSource, settings_of
from pushcli.client.profiles import Settings
from pushcli.errors import InputError
from pushcli.protocol.channels import check_channel, client_event_refusal, kind_of

if TYPE_CHECKING:
    from pushcli.app.tail import Sink
    from pushcli.client.realtime import Listener

#: opens the sink the rows go to, for (server URL, channels); the CLI's is ui.liveview's
OpenSink = Callable[[str, list[str]], contextlib.AbstractContextManager["Sink"]]


@dataclass
class ListenResult:
    channels: list[str]
    #: events written by ``record`` (None without it)
    recorded: int | None = None


@dataclass
class ClientEventResult:
    channel: str
    event: str
    #: the connection the event was sent from
    socket_id: str | None


def check_channels(channels: list[str]) -> list[str]:
    """Channels one connection can subscribe to: valid, subscribable, each once."""
    if not channels:
        raise InputError("no channel given")
    for c in channels:
        if not kind_of(c).subscribable:
            raise InputError(f"{c}: server-to-user channels cannot be subscribed to")
        check_channel(c)
    if len(set(channels)) != len(channels):
        raise InputError("a channel is listed twice")
    return channels


#: --retries when it is not given and listen does not keep retrying (see :func:`retry_limit`)
DEFAULT_RETRIES = 5


def retry_limit(
    retries: int | None,
    *,
    terminal: bool,
    count: int | None = None,
    until: str | None = None,
    timeout: float | None = None,
) -> int | None:
    """How many connection attempts in a row may fail before listen exits 6 (None: no limit).

    --retries when given. Otherwise a person watching a terminal (stdout a TTY) with no
    --count/--until/--timeout rides out server restarts and outages as pusher-js does: it
    keeps reconnecting, backing off to at most 10 s between attempts, until Ctrl-C. Scripts
    (stdout not a terminal) and runs that wait for something keep a bound, so they end.
    """
    if retries is not None:
        return retries
    if terminal and count is None and until is None and timeout is None:
        return None
    return DEFAULT_RETRIES


def signs_in(signin: bool | None, auth_endpoint: str | None) -> bool:
    """Sign in by default, but not as a made-up user when the app's own endpoint authorizes."""
    return (auth_endpoint is None) if signin is None else signin


def make_listener(
    settings: Settings,
    channels: list[str],
    *,
    auth_endpoint: str | None = None,
    auth_headers: list[str] | None = None,
    user_id: str | None = None,
    user_info: str | None = None,
    retries: int | None = DEFAULT_RETRIES,
    connect_timeout: float | None = None,
    signin: bool | None = None,
) -> Listener:
    """The Listener for ``channels`` (already checked), authorized and signing in as the CLI."""
    from pushcli.client import authorize
    from pushcli.client.realtime import Listener

    uid = user_id or authorize.default_user_id()
    authorizer = authorize.build(
        settings,
        channels,
        endpoint=auth_endpoint,
        headers=auth_headers or [],
        user_id=uid,
        user_info=user_info,
    )
    timing: dict[str, Any] = {} if connect_timeout is None else {"connect_timeout": connect_timeout}
    return Listener(
        settings,
        list(channels),
        authorizer,
        retries=retries,
        signin=authorize.signer(settings, uid) if signs_in(signin, auth_endpoint) else None,
        **timing,
    )


def listen(
    settings: Settings,
    channels: list[str],
    *,
    open_sink: OpenSink,
    events: list[str] | None = None,
    system: bool = False,
    count: int | None = None,
    until: str | None = None,
    timeout: float | None = None,
    ready_file: Path | None = None,
    auth_endpoint: str | None = None,
    auth_headers: list[str] | None = None,
    user_id: str | None = None,
    user_info: str | None = None,
    retries: int | None = None,
    terminal: bool = False,
    connect_timeout: float | None = None,
    signin: bool | None = None,
    serve: bool = False,
    demo: bool = False,
    record: Path | None = None,
) -> ListenResult:
    """Show what arrives until --count / --until / --timeout (or Ctrl-C); see app/tail.py.

    ``terminal``: stdout is a terminal (a person is watching): with ``retries`` None and
    nothing to wait for, reconnect until Ctrl-C (:func:`retry_limit`).
    """
    import asyncio

    from pushcli.app import tail
    from pushcli.app.demo import check_local, run_with
    from pushcli.app.record import RecordingSink, recording

    settings = settings.require("key", "location")
    channels = check_channels(channels)
    listener = make_listener(
        settings,
        channels,
        auth_endpoint=auth_endpoint,
        auth_headers=auth_headers,
        user_id=user_id,
        user_info=user_info,
        retries=retry_limit(retries, terminal=terminal, count=count, until=until, timeout=timeout),
        connect_timeout=connect_timeout,
        signin=signin,
    )
    opts = tail.Options(
        events=events or [],
        system=system,
        count=count,
        until=until,
        timeout=timeout,
        ready_file=ready_file,
    )
    demo_channel = channels[0] if demo else None
    if demo:
        settings.require("app_id", "secret")
    if serve:
        check_local(settings)
    result = ListenResult(channels)

    async def main() -> None:
        # the sink opens once a --serve server is up: a failure to start it is one error line,
        # not a live view drawn and torn down around it
        with open_sink(settings.ws_base, channels) as shown, recording(shown, record) as sink:
            try:
                await tail.listen_for(listener, sink, opts)
            finally:
                if isinstance(sink, RecordingSink):
                    result.recorded = sink.recorded

    asyncio.run(run_with(settings, serve, demo_channel, main))
    return result


def client_event_value(text: str) -> Any:
    """DATA for a client event: JSON is sent as a value, anything else as a string."""
    from pushcli.protocol import events

    try:
        return events.loads(text)
    except events.JSONInputError as e:  # NaN or too deep: looks like JSON, is not
        raise InputError(f"DATA is not valid JSON ({e})") from None
    except ValueError:
        return text


def client_event(
    settings: SettingsSource,
    channel: str,
    event: str,
    data: str | Callable[[], str],
    *,
    sink: Sink,
    wait: float = 1.0,
    timeout: float = 10.0,
    auth_endpoint: str | None = None,
    auth_headers: list[str] | None = None,
    user_id: str | None = None,
    user_info: str | None = None,
    retries: int | None = 3,
    connect_timeout: float | None = None,
    signin: bool | None = None,
) -> ClientEventResult:
    """Subscribe from a connection of pushcli's own, send ``event``, watch ``wait`` s for errors.

    ``data`` is the DATA text, or a function reading it (called once the names are checked).
    """
    import asyncio

    from pushcli.app import tail
    from pushcli.protocol import limits

    refusal = client_event_refusal(check_channel(channel))
    if refusal is not None:
        raise InputError(refusal)
    limits.check_event_name(event)
    if not event.startswith("client-"):
        raise InputError(f"client event names must start with client- (got {event!r})")
    value = client_event_value(data() if callable(data) else data)
    resolved = settings_of(settings).require("key", "location")
    listener = make_listener(
        resolved,
        [channel],
        auth_endpoint=auth_endpoint,
        auth_headers=auth_headers,
        user_id=user_id,
        user_info=user_info,
        retries=retries,
        connect_timeout=connect_timeout,
        signin=signin,
    )
    socket_id = asyncio.run(
        tail.send_client_event(listener, sink, channel, event, value, wait=wait, timeout=timeout)
    )
    return ClientEventResult(channel, event, socket_id)
