"""The local HTTP endpoints of ``auth serve`` and ``webhook listen``: bind, then serve.

Both commands run a handler (app/authserver.py, app/webhooks.py) on the local HTTP server
(server/localhttp.py); what they share is here, so neither command borrows from the other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pushcli.errors import InputError
from pushcli.server.localhttp import Handler, is_loopback, make_server, run_until_stopped


@dataclass
class Listening:
    """Where an endpoint accepts requests (the port the system gave for ``--port 0``)."""

    host: str
    port: int

    @property
    def loopback(self) -> bool:
        """False when other machines can reach it (the CLI warns)."""
        return is_loopback(self.host)


def bind(host: str, port: int, handler: Handler) -> tuple[Any, Listening]:
    """The server bound to ``host:port`` (not serving yet), and where it listens."""
    try:
        server = make_server(host, port, handler)
    except OSError as e:
        raise InputError(f"cannot listen on {host}:{port}: {e.strerror}") from None
    return server, Listening(host, server.server_address[1])


def serve(server: Any) -> None:
    """Serve until Ctrl-C or SIGTERM, then close."""
    from pushcli.app import logs

    with logs.to_stderr("pushcli.server.localhttp"):  # a request that failed: one line
        run_until_stopped(server)
