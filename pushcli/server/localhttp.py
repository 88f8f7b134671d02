"""A small local HTTP server for pushcli's development endpoints (auth serve, webhook listen).

The standard library's ThreadingHTTPServer parses HTTP; a handler function decides. Binds
127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_BODY = 1024 * 1024


@dataclass
class HttpRequest:
    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes
    client: str


@dataclass
class HttpResponse:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[HttpRequest], HttpResponse]


def make_server(host: str, port: int, handler: Handler) -> ThreadingHTTPServer:
    class _Handler(BaseHTTPRequestHandler):
        server_version = "pushcli"
        sys_version = ""
        protocol_version = "HTTP/1.1"

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                self._send(HttpResponse(413, b'{"error":"body too large"}'))
                return
            body = self.rfile.read(length) if length else b""
            req = HttpRequest(
                self.command,
                self.path,
                {k.lower(): v for k, v in self.headers.items()},
                body,
                self.client_address[0],
            )
            try:
                resp = handler(req)
            except Exception as e:  # noqa: BLE001 - one bad request must not stop the server
                sys.stderr.write(f"pushcli: error handling {self.command} {self.path}: {e}\n")
                resp = HttpResponse(500, b'{"error":"internal error"}')
            self._send(resp)

        def _send(self, resp: HttpResponse) -> None:
            self.send_response(resp.status)
            headers = {"Content-Type": "application/json", **resp.headers}
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(resp.body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(resp.body)

        do_GET = do_POST = do_OPTIONS = do_PUT = do_DELETE = do_HEAD = _handle  # noqa: N815

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass  # the handler logs decisions itself

    server = ThreadingHTTPServer((host, port), _Handler)
    server.daemon_threads = True
    return server


def run_until_stopped(server: ThreadingHTTPServer) -> None:
    """Serve until Ctrl-C or SIGTERM (the normal ways to stop a local server), then close."""
    import signal

    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def serve_in_thread(server: ThreadingHTTPServer) -> threading.Thread:
    t = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
    t.start()
    return t


def is_loopback(host: str) -> bool:
    return host in ("localhost", "::1") or host.startswith("127.")
