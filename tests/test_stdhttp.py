"""The lean transport's answer reader, driven with bytes (no sockets): what it accepts, what it
refuses, and when the connection may be used again. Its behaviour against real servers is in
test_batch_faults.py (soketi and pushcli serve, through the fault proxy)."""

from __future__ import annotations

import io

import pytest

from pushcli.client.stdhttp import BadAnswer, read_answer


def answer(raw: bytes, **kwargs: bool) -> tuple[int, dict[bytes, bytes], bytes, bool]:
    return read_answer(io.BytesIO(raw), **kwargs)


def test_content_length_and_keep_alive() -> None:
    status, headers, body, keep = answer(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}extra"
    )
    assert (status, body, keep) == (200, b"{}", True)
    assert headers[b"content-type"] == b"application/json"


def test_connection_close_and_http_1_0_are_not_kept() -> None:
    soketi = b'HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 11\r\n\r\n{"ok":true}'
    assert answer(soketi)[2:] == (b'{"ok":true}', False)
    assert answer(b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n")[3] is False


def test_chunked_with_extensions_and_trailers() -> None:
    raw = b"HTTP/1.1 429 Too Many\r\nTransfer-Encoding: chunked\r\nRetry-After: 1\r\n\r\n"
    raw += b'4;x=y\r\n{"er\r\n3\r\nr":\r\n2\r\n1}\r\n0\r\nX-Trailer: t\r\n\r\n'
    status, headers, body, keep = answer(raw)
    assert (status, body, keep) == (429, b'{"err":1}', True)
    assert headers[b"retry-after"] == b"1"


def test_body_to_the_end_of_the_connection() -> None:
    assert answer(b"HTTP/1.1 200 OK\r\n\r\nall of it")[2:] == (b"all of it", False)


def test_informational_answers_are_skipped_and_head_has_no_body() -> None:
    raw = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n"
    assert answer(raw)[0::2] == (204, b"")
    assert answer(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", head=True)[2] == b""


@pytest.mark.parametrize(
    "raw",
    [
        b"",  # closed without answering
        b"SSH-2.0-OpenSSH\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",  # cut inside the body
        b"HTTP/1.1 200 OK\r\nContent-Len",  # cut inside the headers
        b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
        b"HTTP/1.1 200 OK\r\n" + b"X: y\r\n" * 101 + b"\r\n",
    ],
)
def test_what_is_not_a_whole_answer_is_refused(raw: bytes) -> None:
    with pytest.raises(BadAnswer):
        answer(raw)
