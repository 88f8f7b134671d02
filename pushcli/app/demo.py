"""`listen --serve` and `--demo`: the embedded server in-process, and a demo publisher.

They let one command show pushcli's whole job on a fresh machine: a local server, events
triggered through its HTTP API every second, and the listener receiving them.
"""

from __future__ import annotations

import contextlib
import errno
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from pushcli.client.profiles import Settings
from pushcli.errors import InputError, UnavailableError
from pushcli.server.localhttp import is_loopback

DEMO_EVENT = "demo"


@contextlib.asynccontextmanager
async def local_server(settings: Settings) -> AsyncIterator[None]:
    """Run the embedded server for the profile's app on its (loopback) host and port."""
    from pushcli.server import Server
    from pushcli.server.apps import from_settings

    check_local(settings)
    host, port = settings.host or "", settings.effective_port
    server = Server([from_settings(settings)], host=host, port=port)
    try:
        await server.start()
    except OSError as e:
        raise serve_error(host, port, e) from None
    try:
        yield
    finally:
        await server.stop(grace=0.5)


def check_local(settings: Settings) -> None:
    """What --serve needs before anything starts: the app's credentials and a loopback host
    (a :class:`~pushcli.errors.ConfigError` or :class:`InputError` otherwise)."""
    settings.require("app_id", "key", "secret")
    if not settings.host or not is_loopback(settings.host):
        where = settings.host or f"pusher.com cluster {settings.cluster}"
        raise InputError(
            f"--serve runs a server on this machine, but the settings point at {where}"
        )


def serve_error(host: str, port: int, e: OSError) -> UnavailableError:
    """One line for a server that cannot listen on ``host:port``: the OS's reason, and what to
    do about the usual one (something else is serving there)."""
    where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    if isinstance(e, socket.gaierror):
        return UnavailableError(f"cannot serve on {where}: unknown host {host!r}")
    reason = e.strerror or e.__class__.__name__
    if e.errno == errno.EADDRINUSE:
        return UnavailableError(
            f"cannot serve on {where}: {reason}",
            hint="another server is running there: drop --serve to use it",
        )
    return UnavailableError(f"cannot serve on {where}: {reason}")


class DemoPublisher:
    """Triggers an event on ``channel`` every ``interval`` seconds through the HTTP API."""

    def __init__(self, settings: Settings, channel: str, interval: float = 1.0) -> None:
        self.settings = settings
        self.channel = channel
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pushcli-demo", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        from pushcli.client.rest import RestClient
        from pushcli.errors import PushcliError

        n = 0
        with RestClient(self.settings, retries=1, timeout=5) as client:
            while not self._stop.wait(self.interval):
                n += 1
                data = {"n": n, "message": "hello from pushcli --demo", "sent_at": time.time()}
                try:
                    client.trigger(
                        {
                            "name": DEMO_EVENT,
                            "channel": self.channel,
                            "data": json.dumps(data, separators=(",", ":")),
                        }
                    )
                except PushcliError:
                    continue  # the listener shows connection trouble; keep trying


async def run_with(
    settings: Settings,
    serve: bool,
    demo_channel: str | None,
    main: Callable[[], Awaitable[None]],
) -> None:
    """Await ``main()`` with the local server and/or the demo publisher around it.

    ``main`` is called only once they run: a coroutine made before a server that fails to
    start would never be awaited (and Python would warn about it on stderr)."""
    async with contextlib.AsyncExitStack() as stack:
        if serve:
            await stack.enter_async_context(local_server(settings))
        if demo_channel is not None:
            publisher = DemoPublisher(settings, demo_channel)
            publisher.start()
            stack.callback(publisher.stop)
        await main()
