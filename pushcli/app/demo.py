"""`listen --serve` and `--demo`: the embedded server in-process, and a demo publisher.

They let one command show pushcli's whole job on a fresh machine: a local server, events
triggered through its HTTP API every second, and the listener receiving them.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import AsyncIterator, Awaitable

from pushcli.client.profiles import Settings
from pushcli.errors import InputError, UnavailableError
from pushcli.server.localhttp import is_loopback

DEMO_EVENT = "demo"


@contextlib.asynccontextmanager
async def local_server(settings: Settings) -> AsyncIterator[None]:
    """Run the embedded server for the profile's app on its (loopback) host and port."""
    from pushcli.server import App, Server

    settings.require("app_id", "key", "secret")
    if not settings.host or not is_loopback(settings.host):
        where = settings.host or f"pusher.com cluster {settings.cluster}"
        raise InputError(
            f"--serve runs a server on this machine, but the settings point at {where}"
        )
    server = Server(
        [App(settings.app_id or "", settings.key or "", settings.secret or "")],
        host=settings.host,
        port=settings.effective_port,
    )
    try:
        await server.start()
    except OSError as e:
        raise UnavailableError(
            f"cannot serve on {settings.host}:{settings.effective_port}: {e.strerror or e}",
            hint="another server is running there: drop --serve to use it",
        ) from None
    try:
        yield
    finally:
        await server.stop(grace=0.5)


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
    settings: Settings, serve: bool, demo_channel: str | None, main: Awaitable[None]
) -> None:
    """Await ``main`` with the local server and/or the demo publisher around it."""
    async with contextlib.AsyncExitStack() as stack:
        if serve:
            await stack.enter_async_context(local_server(settings))
        if demo_channel is not None:
            publisher = DemoPublisher(settings, demo_channel)
            publisher.start()
            stack.callback(publisher.stop)
        await main
