"""The local endpoints (``auth serve``, ``webhook listen``) on the embedded server's HTTP stack.

Real sockets on loopback, the app's real handler (:class:`AuthEndpoint`), and third-party
clients (httpx, http.client, raw sockets) on the other end: the request-time bound and chunked
bodies the stack shares with ``pushcli serve``, and HEAD answered the same way by both.
"""

from __future__ import annotations

import http.client
import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from pushcli.app.authserver import AuthEndpoint
from pushcli.client.profiles import Settings
from pushcli.server.localhttp import make_server, serve_in_thread

TIMEOUT = 1.0


@pytest.fixture
def endpoint() -> Iterator[tuple[str, int]]:
    """``auth serve``'s handler on a local server with a short request timeout."""
    settings = Settings(app_id="1", key="k", secret="s")  # noqa: S106 - test value
    server = make_server("127.0.0.1", 0, AuthEndpoint(settings))
    server.request_timeout = TIMEOUT  # type: ignore[attr-defined]
    serve_in_thread(server)
    time.sleep(0.1)
    try:
        yield "127.0.0.1", server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def test_a_request_that_trickles_in_gets_408_and_is_closed(endpoint: tuple[str, int]) -> None:
    began = time.monotonic()
    with socket.create_connection(endpoint, timeout=TIMEOUT + 4) as slow:
        slow.sendall(b"POST /pusher/auth HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        # meanwhile another client is served at once
        with httpx.Client(trust_env=False, timeout=5) as c:
            ok = c.post(
                f"http://{endpoint[0]}:{endpoint[1]}/pusher/auth",
                data={"socket_id": "1.2", "channel_name": "private-x"},
            )
        assert ok.status_code == 200 and ok.json()["auth"].startswith("k:")
        answer = b""
        while chunk := slow.recv(4096):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 408 "), answer
    assert TIMEOUT - 0.2 < time.monotonic() - began < TIMEOUT + 3


def test_a_chunked_body_reaches_the_handler(endpoint: tuple[str, int]) -> None:
    def chunks() -> Iterator[bytes]:  # no Content-Length: httpx sends it chunked
        yield b"socket_id=1.2&"
        yield b"channel_name=private-x"

    with httpx.Client(trust_env=False, timeout=5) as c:
        r = c.post(
            f"http://{endpoint[0]}:{endpoint[1]}/pusher/auth",
            content=chunks(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
    assert r.request.headers.get("transfer-encoding") == "chunked"
    assert r.status_code == 200 and r.json()["auth"].startswith("k:"), r.text


def test_head_is_answered_without_a_body_by_both_stacks(
    endpoint: tuple[str, int],
    embedded,  # type: ignore[no-untyped-def]
) -> None:
    for host, port, status in (
        (embedded.host, embedded.port, 200),
        (*endpoint, 404),
    ):
        conn = http.client.HTTPConnection(host, port, timeout=5)
        try:
            conn.request("HEAD", "/")
            r = conn.getresponse()
            assert (r.status, r.read()) == (status, b"")
            conn.request("GET", "/")  # the connection is still good
            assert conn.getresponse().status == status
        finally:
            conn.close()
