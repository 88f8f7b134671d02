"""``pushcli serve``: its own behaviour, over loopback, against the real server in a subprocess.

The REST and WebSocket scenarios shared with soketi live in test_rest_servers.py (both
servers); here: authentication failures, limits, presence counting, client events, cache
channels, signin, keep-alive, shutdown, webhooks, bad input, and third-party clients (pusher-js
and the official `pusher` libraries) behaving the same against soketi and pushcli serve.
"""

from __future__ import annotations

import asyncio
import http.client
import http.server
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from servers import (
    EmbeddedServer,
    WsSubscriber,
    presence_auth,
    private_auth,
)

from pushcli.protocol.signing import sign_params, user_auth

HERE = Path(__file__).resolve().parent


def _name(prefix: str = "") -> str:
    return f"{prefix}t-{uuid.uuid4().hex[:8]}"


def rest(
    server: Any,
    method: str,
    path: str,
    body: Any = None,
    *,
    params: dict[str, str] | None = None,
    raw: bytes | None = None,
    ts: int | None = None,
    secret: str | None = None,
    md5: str | None = None,
    app_id: str | None = None,
    key: str | None = None,
) -> tuple[int, str]:
    """A signed request (``md5`` replaces the body's real body_md5, still signed)."""
    full = f"/apps/{app_id or server.app_id}{path}"
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    query = dict(params or {})
    if md5 is not None:
        query["body_md5"] = md5
        to_hash = None
    else:
        to_hash = data if data is not None else b""
    signed = sign_params(
        key or server.key,
        secret or server.secret,
        method,
        full,
        timestamp=ts or int(time.time()),
        body=to_hash,
        params=query,
    )
    conn = http.client.HTTPConnection(server.host, server.port, timeout=10)
    try:
        conn.request(
            method,
            f"{full}?{urlencode(signed)}",
            body=data,
            headers={"Content-Type": "application/json"},
        )
        resp = conn.getresponse()
        return resp.status, resp.read().decode()
    finally:
        conn.close()


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 30))


async def connect_raw(url: str) -> Any:
    from websockets.asyncio.client import connect

    return await connect(url, proxy=None, open_timeout=5)


async def recv_json(ws: Any, timeout: float = 5.0) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def closed_code(ws: Any, timeout: float = 5.0) -> tuple[int | None, list[dict[str, Any]]]:
    """Read until the server closes; the close code and the frames seen before it."""
    from websockets.exceptions import ConnectionClosed

    frames = []
    try:
        while True:
            frames.append(json.loads(await asyncio.wait_for(ws.recv(), timeout)))
    except ConnectionClosed as e:
        return (e.rcvd.code if e.rcvd else None), frames


# --------------------------------------------------------------------------- REST


def test_trigger_answers_empty_object_and_info(embedded) -> None:  # type: ignore[no-untyped-def]
    status, text = rest(embedded, "POST", "/events", {"name": "e", "channel": "r-1", "data": "{}"})
    assert (status, json.loads(text)) == (200, {})
    status, text = rest(
        embedded,
        "POST",
        "/events",
        {
            "name": "e",
            "channels": ["r-1", "presence-r"],
            "data": "x",
            "info": "subscription_count,user_count",
        },
    )
    assert json.loads(text) == {
        "channels": {
            "r-1": {"subscription_count": 0},
            "presence-r": {"user_count": 0, "subscription_count": 0},
        }
    }


def test_bad_signature_says_what_to_sign_without_the_secret(embedded) -> None:  # type: ignore[no-untyped-def]
    status, text = rest(
        embedded,
        "POST",
        "/events",
        {"name": "e", "channel": "c", "data": "{}"},
        secret="wrong-secret",  # noqa: S106 - test value
    )
    assert status == 401
    assert text.startswith(
        'Invalid signature: you should have sent HmacSHA256Hex("POST\\n/apps/123456/events\\n'
        "auth_key=app-key&auth_timestamp="
    )
    assert "your_secret_key), but you sent" in text
    assert "app-secret" not in text and "wrong-secret" not in text


@pytest.mark.parametrize(
    ("kwargs", "status", "phrase"),
    [
        ({"ts_offset": -700}, 401, "Timestamp expired"),
        ({"ts_offset": 700}, 401, "Timestamp expired"),
        ({"md5": "0" * 32}, 401, "Invalid body_md5"),
        ({"app_id": "999"}, 404, "Unknown app id"),
        ({"body": {"name": "e", "channel": "c", "data": "x" * (100 * 1024 + 1)}}, 413, "too large"),
        (
            {"body": {"name": "e", "channels": [f"c{i}" for i in range(101)], "data": "{}"}},
            400,
            "too many channels",
        ),
        (
            {"body": {"name": "e", "channel": "bad name!", "data": "{}"}},
            400,
            "invalid channel name",
        ),
        (
            {"body": {"name": "e", "channel": "c", "data": {"an": "object"}}},
            400,
            "data must be a string",
        ),
        (
            {"body": {"name": "e", "channel": "c", "data": "{}", "socket_id": "nope"}},
            400,
            "socket_id",
        ),
        (
            {"body": {"name": "e", "channels": ["private-encrypted-x", "c"], "data": "{}"}},
            400,
            "encrypted",
        ),
        ({"body": {"channel": "c", "data": "{}"}}, 400, "missing event name"),
        ({"raw": b"{not json"}, 400, "not valid JSON"),
        ({"raw": b"\xff\xfe garbage"}, 400, "not valid JSON"),
    ],
    ids=[
        "stale",
        "future",
        "body_md5",
        "unknown-app",
        "413",
        "101-channels",
        "bad-channel",
        "data-object",
        "bad-socket-id",
        "encrypted-multi",
        "no-name",
        "bad-json",
        "garbage-body",
    ],
)
def test_trigger_refusals(embedded, kwargs: dict[str, Any], status: int, phrase: str) -> None:  # type: ignore[no-untyped-def]
    kwargs = dict(kwargs)  # the parameter dict is shared between runs
    body = kwargs.pop("body", {"name": "e", "channel": "c", "data": "{}"})
    if "ts_offset" in kwargs:  # relative to now, not to collection time (the suite takes minutes)
        kwargs["ts"] = int(time.time()) + kwargs.pop("ts_offset")
    got, text = rest(embedded, "POST", "/events", None if "raw" in kwargs else body, **kwargs)
    assert got == status, text
    assert phrase.lower() in text.lower()


def test_batch_limits_and_all_or_nothing(embedded) -> None:  # type: ignore[no-untyped-def]
    eleven = [{"channel": "b", "name": "e", "data": "{}"} for _ in range(11)]
    status, text = rest(embedded, "POST", "/batch_events", {"batch": eleven})
    assert status == 400 and "at most 10" in text

    async def main() -> None:
        sub = await WsSubscriber.connect(embedded.ws_url)
        await sub.subscribe("b-all")
        bad = [
            {"channel": "b-all", "name": "e", "data": "1"},
            {"channel": "b-all", "name": "e", "data": 2},
        ]
        status, text = await asyncio.to_thread(
            rest, embedded, "POST", "/batch_events", {"batch": bad}
        )
        assert status == 400 and "batch[1]" in text
        good = [
            {"channel": "b-all", "name": "e", "data": str(i), "info": "subscription_count"}
            for i in range(3)
        ]
        status, text = await asyncio.to_thread(
            rest, embedded, "POST", "/batch_events", {"batch": good}
        )
        assert json.loads(text) == {"batch": [{"subscription_count": 1}] * 3}
        got = await sub.collect(3)
        assert [e["data"] for e in got] == ["0", "1", "2"]  # nothing from the refused batch
        await sub.close()

    run(main())


def test_queries_and_their_refusals(embedded) -> None:  # type: ignore[no-untyped-def]
    assert rest(embedded, "GET", "/channels", params={"info": "user_count"})[0] == 400
    assert rest(embedded, "GET", "/channels/q-x", params={"info": "user_count"})[0] == 400
    assert rest(embedded, "GET", "/channels/q-x/users")[0] == 400
    assert rest(embedded, "GET", "/channels/bad%20name")[0] == 400
    assert rest(embedded, "GET", "/channels/q-x", params={"info": "bogus"})[0] == 400
    status, text = rest(
        embedded, "GET", "/channels/q-nobody", params={"info": "subscription_count"}
    )
    assert json.loads(text) == {"occupied": False, "subscription_count": 0}
    assert rest(embedded, "GET", "/events")[0] == 405
    assert rest(embedded, "GET", "/nothing-here")[0] == 404


def test_garbage_http_is_refused_and_the_server_keeps_serving(embedded) -> None:  # type: ignore[no-untyped-def]
    for junk in (
        b"GARBAGE\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + os.urandom(64),
    ):
        with socket.create_connection((embedded.host, embedded.port), timeout=5) as s:
            s.sendall(junk)
            answer = s.recv(4096)
        assert answer.startswith(b"HTTP/1.1 400"), answer[:100]
    with socket.create_connection((embedded.host, embedded.port), timeout=5) as s:
        s.sendall(
            b"POST /apps/123456/events HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n"
        )
        assert s.recv(4096).startswith(b"HTTP/1.1 413")
    assert rest(embedded, "POST", "/events", {"name": "e", "channel": "c", "data": "{}"})[0] == 200


def test_official_python_library_against_both(pusher_server) -> None:  # type: ignore[no-untyped-def]
    client = pusher_server.pusher_client()
    channel = _name("presence-py-")

    async def main() -> None:
        sub = await WsSubscriber.connect(pusher_server.ws_url)
        auth = presence_auth(
            pusher_server.key, pusher_server.secret, sub.socket_id, channel, "py-u"
        )
        await sub.subscribe(channel, **auth)
        answer = await asyncio.to_thread(client.trigger, [channel], "one", {"n": 1})
        assert answer in (
            {},
            {"ok": True},
        )  # Pusher (and pushcli serve) answer {}, soketi {"ok": true}
        await asyncio.to_thread(
            client.trigger_batch,
            [
                {"channel": channel, "name": "two", "data": "2"},
                {"channel": channel, "name": "three", "data": "3"},
            ],
        )
        got = await sub.collect(3)
        assert [(e["event"], e["data"]) for e in got] == [
            ("one", '{"n": 1}'),
            ("two", "2"),
            ("three", "3"),
        ]
        info = await asyncio.to_thread(client.channel_info, channel, ["user_count"])
        assert info["occupied"] is True and info["user_count"] == 1
        users = await asyncio.to_thread(client.users_info, channel)
        assert users == {"users": [{"id": "py-u"}]}
        listed = await asyncio.to_thread(client.channels_info, channel[:14])
        assert channel in listed["channels"]
        await sub.close()

    run(main())


# --------------------------------------------------------------------------- WebSocket


def test_unknown_app_key_and_protocol_version_close_the_connection(embedded) -> None:  # type: ignore[no-untyped-def]
    async def main() -> None:
        base = f"ws://{embedded.host}:{embedded.port}/app/"
        for path, code in (
            ("no-such-key?protocol=7", 4001),
            ("app-key", 4008),
            ("app-key?protocol=99", 4007),
        ):
            ws = await connect_raw(base + path)
            got, frames = await closed_code(ws)
            assert got == code and frames[-1]["event"] == "pusher:error"
            assert frames[-1]["data"]["code"] == code

    run(main())


def test_connection_established_and_ping(embedded) -> None:  # type: ignore[no-untyped-def]
    async def main() -> None:
        ws = await connect_raw(embedded.ws_url)
        hello = await recv_json(ws)
        data = json.loads(hello["data"])
        assert hello["event"] == "pusher:connection_established"
        assert data["activity_timeout"] == 120
        assert __import__("re").fullmatch(r"\d+\.\d+", data["socket_id"])
        await ws.send(json.dumps({"event": "pusher:ping", "data": {}}))
        assert (await recv_json(ws))["event"] == "pusher:pong"
        await ws.close()

    run(main())


def test_bad_input_gets_errors_and_others_keep_being_served(embedded) -> None:  # type: ignore[no-untyped-def]
    async def main() -> None:
        other = await WsSubscriber.connect(embedded.ws_url)
        await other.subscribe("bad-input")
        ws = await connect_raw(embedded.ws_url)
        await recv_json(ws)
        for junk in (
            "{not json",
            "[1,2]",
            '{"event": 5}',
            '{"event": "pusher:subscribe", "data": 1}',
            '{"event": "no-such-event", "data": {}}',
        ):
            await ws.send(junk)
            frame = await recv_json(ws)
            assert frame["event"] == "pusher:error", (junk, frame)
        await ws.send(b"\xff\xfe")
        assert (await recv_json(ws))["event"] == "pusher:error"
        await ws.send(
            json.dumps(
                {
                    "event": "pusher:subscribe",
                    "data": {"channel": "private-x", "auth": "app-key:" + "0" * 64},
                }
            )
        )
        refused = await recv_json(ws)
        assert refused["event"] == "pusher:subscription_error" and refused["data"]["status"] == 401
        assert "Invalid signature" in refused["data"]["error"] and "app-secret" not in json.dumps(
            refused
        )
        await ws.send(json.dumps({"event": "pusher:subscribe", "data": {"channel": "bad name!"}}))
        assert (await recv_json(ws))["event"] == "pusher:subscription_error"
        await ws.send(
            json.dumps({"event": "pusher:subscribe", "data": {"channel": "#server-to-user-x"}})
        )
        assert (await recv_json(ws))["event"] == "pusher:subscription_error"
        # still usable after all that
        await ws.send(json.dumps({"event": "pusher:subscribe", "data": {"channel": "bad-input"}}))
        assert (await recv_json(ws))["event"] == "pusher_internal:subscription_succeeded"
        # a message larger than the server accepts closes that connection (1009) only
        await ws.send("x" * (300 * 1024))
        code, _ = await closed_code(ws)
        assert code == 1009
        status, _ = await asyncio.to_thread(
            rest,
            embedded,
            "POST",
            "/events",
            {"name": "still", "channel": "bad-input", "data": "ok"},
        )
        assert status == 200 and (await other.next_event())["event"] == "still"
        await other.close()

    run(main())


def test_presence_counts_a_user_once(embedded) -> None:  # type: ignore[no-untyped-def]
    channel = _name("presence-")

    def auth(sub: WsSubscriber, user: str) -> dict[str, str]:
        return presence_auth(
            embedded.key, embedded.secret, sub.socket_id, channel, user, {"n": user}
        )

    async def main() -> None:
        watcher, a1, a2 = [await WsSubscriber.connect(embedded.ws_url) for _ in range(3)]
        await watcher.subscribe(channel, **auth(watcher, "w"))
        first = await a1.subscribe(channel, **auth(a1, "alice"))
        assert first["presence"]["count"] == 2
        second = await a2.subscribe(channel, **auth(a2, "alice"))
        assert second["presence"]["count"] == 2 and sorted(second["presence"]["ids"]) == [
            "alice",
            "w",
        ]
        assert second["presence"]["hash"]["alice"] == {"n": "alice"}
        _, text = await asyncio.to_thread(
            rest,
            embedded,
            "GET",
            f"/channels/{channel}",
            params={"info": "user_count,subscription_count"},
        )
        assert json.loads(text) == {"occupied": True, "user_count": 2, "subscription_count": 3}
        await a1.unsubscribe(channel)
        await asyncio.sleep(0.3)
        await a2.close()  # the last connection of alice
        await asyncio.sleep(0.3)
        try:
            await watcher.next_event(timeout=0.3)
        except TimeoutError:
            pass
        seen = [
            (f["event"], json.loads(f["data"])["user_id"])
            for f in watcher.internal
            if "member" in f["event"]
        ]
        assert seen == [
            ("pusher_internal:member_added", "alice"),
            ("pusher_internal:member_removed", "alice"),
        ]
        _, text = await asyncio.to_thread(rest, embedded, "GET", f"/channels/{channel}/users")
        assert json.loads(text) == {"users": [{"id": "w"}]}
        await watcher.close()
        await a1.close()

    run(main())


def test_client_events(embedded) -> None:  # type: ignore[no-untyped-def]
    priv, pres, pub, enc = (
        _name("private-"),
        _name("presence-"),
        _name("pub-"),
        _name("private-encrypted-"),
    )

    async def main() -> None:
        a, b = (
            await WsSubscriber.connect(embedded.ws_url),
            await WsSubscriber.connect(embedded.ws_url),
        )
        for sub, user in ((a, "ua"), (b, "ub")):
            await sub.subscribe(
                priv, **private_auth(embedded.key, embedded.secret, sub.socket_id, priv)
            )
            await sub.subscribe(
                pres, **presence_auth(embedded.key, embedded.secret, sub.socket_id, pres, user)
            )
            await sub.subscribe(pub)
            await sub.subscribe(
                enc, **private_auth(embedded.key, embedded.secret, sub.socket_id, enc)
            )
        await a.trigger_client_event(pres, "client-hi", {"x": 1})
        got = await b.next_event()
        assert got == {"event": "client-hi", "channel": pres, "data": {"x": 1}, "user_id": "ua"}
        for channel in (pub, enc, "private-not-subscribed"):
            await a.trigger_client_event(channel, "client-no", {})
        with pytest.raises(TimeoutError):
            await b.next_event(timeout=0.5)
        await a.send({"event": "pusher:ping", "data": {}})
        with pytest.raises(TimeoutError):
            await a.next_event(timeout=0.3)
        assert [e["data"]["code"] for e in a.errors] == [4301, 4301, 4301]
        # 10 per second per connection: a burst of 15 gets 10 through and 5 refusals (4301)
        for i in range(15):
            await a.trigger_client_event(priv, "client-burst", {"i": i})
        burst = await b.collect(10, timeout=3)
        assert [e["data"]["i"] for e in burst] == list(range(10))
        assert all("user_id" not in e for e in burst)
        with pytest.raises(TimeoutError):
            await b.next_event(timeout=0.3)
        with pytest.raises(TimeoutError):
            await a.next_event(timeout=0.2)
        assert [e["data"]["code"] for e in a.errors[3:]] == [4301] * 5
        await a.close()
        await b.close()

    run(main())


def test_cache_channels(embedded) -> None:  # type: ignore[no-untyped-def]
    channel = _name("cache-")

    async def main() -> None:
        first = await WsSubscriber.connect(embedded.ws_url)
        await first.subscribe(channel)
        await asyncio.sleep(0.1)
        try:
            await first.next_event(timeout=0.2)
        except TimeoutError:
            pass
        assert [f["event"] for f in first.internal][-1] == "pusher:cache_miss"
        _, text = await asyncio.to_thread(
            rest, embedded, "GET", f"/channels/{channel}", params={"info": "cache"}
        )
        assert json.loads(text) == {"occupied": True}
        for i in range(2):
            await asyncio.to_thread(
                rest, embedded, "POST", "/events", {"name": "v", "channel": channel, "data": str(i)}
            )
        assert [e["data"] for e in await first.collect(2)] == ["0", "1"]
        late = await WsSubscriber.connect(embedded.ws_url)
        await late.subscribe(channel)
        assert (await late.next_event()) == {"event": "v", "channel": channel, "data": "1"}
        _, text = await asyncio.to_thread(
            rest, embedded, "GET", f"/channels/{channel}", params={"info": "cache"}
        )
        cache = json.loads(text)["cache"]
        assert (cache["event"], cache["data"]) == ("v", "1") and 1700 < cache["ttl"] <= 1800
        await first.close()
        await late.close()

    run(main())


def test_signin_refused_and_server_to_user(embedded) -> None:  # type: ignore[no-untyped-def]
    async def main() -> None:
        ws = await connect_raw(embedded.ws_url)
        await recv_json(ws)
        await ws.send(
            json.dumps(
                {
                    "event": "pusher:signin",
                    "data": {"auth": "app-key:" + "0" * 64, "user_data": '{"id":"u"}'},
                }
            )
        )
        code, frames = await closed_code(ws)
        assert code == 4009 and frames[-1]["data"]["code"] == 4009

        sub = await WsSubscriber.connect(embedded.ws_url)
        user_data = '{"id":"u-9","name":"N"}'
        await sub.send(
            {
                "event": "pusher:signin",
                "data": {
                    "auth": user_auth(embedded.key, embedded.secret, sub.socket_id, user_data),
                    "user_data": user_data,
                },
            }
        )
        await sub.subscribe("#server-to-user-u-9")  # what pusher-js does after signin
        status, _ = await asyncio.to_thread(
            rest,
            embedded,
            "POST",
            "/events",
            {"name": "to-me", "channel": "#server-to-user-u-9", "data": "d"},
        )
        assert status == 200
        assert (await sub.next_event())["event"] == "to-me"
        with pytest.raises(TimeoutError):  # once per connection, not per subscription
            await sub.next_event(timeout=0.3)
        assert [f["event"] for f in sub.internal][:2] == [
            "pusher:signin_success",
            "pusher_internal:subscription_succeeded",
        ]
        await asyncio.to_thread(rest, embedded, "POST", "/users/u-9/terminate_connections", {})
        code, frames = await closed_code(sub.ws)
        assert code == 4009

    run(main())


# --------------------------------------------------------------------------- a server of our own


class HookReceiver(http.server.BaseHTTPRequestHandler):
    calls: list[tuple[dict[str, str], bytes]] = []
    fail_next = 0

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        cls = type(self)
        if cls.fail_next:
            cls.fail_next -= 1
            self.send_response(500)
            self.end_headers()
            return
        cls.calls.append(({k: v for k, v in self.headers.items()}, body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def hooks():  # type: ignore[no-untyped-def]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), HookReceiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def special(hooks, tmp_path_factory):  # type: ignore[no-untyped-def]
    """Two apps (--app ID:KEY, secrets from env), short timeouts, a webhook receiver."""
    server = EmbeddedServer(
        tmp_path_factory.mktemp("special"),
        extra_args=[
            "--app",
            "123456:app-key",
            "--app",
            "777:other-key",
            "--activity-timeout",
            "1",
            "--pong-timeout",
            "1",
            "--cache-ttl",
            "1",
            "--webhook-url",
            f"http://127.0.0.1:{hooks.server_address[1]}/hook",
        ],
        extra_env={
            "PUSHCLI_SERVE_SECRET_123456": "app-secret",
            "PUSHCLI_SERVE_SECRET_777": "other-secret",
        },
    ).start()
    yield server
    server.stop()


def test_second_app_is_separate(special) -> None:  # type: ignore[no-untyped-def]
    async def main() -> None:
        other_url = special.ws_url.replace("/app/app-key", "/app/other-key")
        mine, theirs = (
            await WsSubscriber.connect(special.ws_url),
            await WsSubscriber.connect(other_url),
        )
        await mine.subscribe("shared-name")
        await theirs.subscribe("shared-name")
        status, _ = await asyncio.to_thread(
            rest,
            special,
            "POST",
            "/events",
            {"name": "e", "channel": "shared-name", "data": "x"},
            app_id="777",
            key="other-key",
            secret="other-secret",  # noqa: S106 - test value
        )
        assert status == 200
        assert (await theirs.next_event())["event"] == "e"
        with pytest.raises(TimeoutError):
            await mine.next_event(timeout=0.3)
        status, _ = await asyncio.to_thread(
            rest,
            special,
            "POST",
            "/events",
            {"name": "e", "channel": "c", "data": "x"},
            app_id="777",
            key="other-key",
        )
        assert status == 401  # app 123456's secret does not sign for app 777
        await mine.close()
        await theirs.close()

    run(main())


def test_idle_connection_is_pinged_then_closed_4201(special) -> None:  # type: ignore[no-untyped-def]
    async def main() -> None:
        answering = await WsSubscriber.connect(special.ws_url)  # answers pusher:ping while reading
        await answering.subscribe("idle-test")
        reader = asyncio.create_task(answering.next_event(timeout=10))
        silent = await connect_raw(special.ws_url)
        assert json.loads((await recv_json(silent))["data"])["activity_timeout"] == 1
        start = time.monotonic()
        code, frames = await closed_code(silent, timeout=6)
        assert code == 4201 and "pusher:ping" in [f["event"] for f in frames]
        assert time.monotonic() - start < 5
        await asyncio.sleep(1)  # ...while answering pings keeps a connection open
        status, _ = await asyncio.to_thread(
            rest, special, "POST", "/events", {"name": "alive", "channel": "idle-test", "data": "x"}
        )
        assert (await reader)["event"] == "alive"
        await answering.close()

    run(main())


def test_cache_ttl_expires(special) -> None:  # type: ignore[no-untyped-def]
    channel = _name("cache-")
    rest(special, "POST", "/events", {"name": "v", "channel": channel, "data": "1"})

    async def main() -> None:
        sub = await WsSubscriber.connect(special.ws_url)
        await sub.subscribe(channel)
        assert (await sub.next_event())["data"] == "1"
        await asyncio.sleep(1.3)
        await sub.unsubscribe(channel)
        await sub.subscribe(channel)
        await sub.send({"event": "pusher:ping", "data": {}})
        with pytest.raises(TimeoutError):
            await sub.next_event(timeout=0.3)
        assert [f["event"] for f in sub.internal if f["event"] == "pusher:cache_miss"] == [
            "pusher:cache_miss"
        ]
        await sub.close()

    run(main())


def test_webhooks_are_signed_batched_and_retried(special, hooks) -> None:  # type: ignore[no-untyped-def]
    import pusher

    HookReceiver.calls.clear()
    HookReceiver.fail_next = 1  # the first delivery fails: it must be retried
    pres, cache = _name("presence-"), _name("cache-")

    async def main() -> None:
        a, b = (
            await WsSubscriber.connect(special.ws_url),
            await WsSubscriber.connect(special.ws_url),
        )
        await a.subscribe(
            pres, **presence_auth(special.key, special.secret, a.socket_id, pres, "ua")
        )
        await b.subscribe(
            pres, **presence_auth(special.key, special.secret, b.socket_id, pres, "ub")
        )
        await b.trigger_client_event(pres, "client-note", {"k": 1})
        await a.subscribe(cache)
        await b.close()
        await a.unsubscribe(pres)
        await asyncio.sleep(0.2)
        await a.close()

    run(main())
    validator = pusher.Pusher(app_id="123456", key="app-key", secret="app-secret")  # noqa: S106
    events: list[dict[str, Any]] = []
    deadline = time.monotonic() + 8
    while time.monotonic() < deadline:
        events = []
        for headers, body in list(HookReceiver.calls):
            assert headers["X-Pusher-Key"] == "app-key"
            checked = validator.validate_webhook(
                headers["X-Pusher-Key"], headers["X-Pusher-Signature"], body
            )
            assert checked is not None, (
                "webhook signature or time_ms rejected by pusher.validate_webhook"
            )
            events += checked["events"]
        vacated = [e for e in events if e["name"] == "channel_vacated"]
        if {e["channel"] for e in vacated} >= {pres, cache}:
            break
        time.sleep(0.1)
    mine = [e for e in events if e.get("channel") in (pres, cache)]
    names = [(e["name"], e.get("user_id")) for e in mine]
    assert ("channel_occupied", None) in names and ("cache_miss", None) in names
    assert ("member_added", "ua") in names and ("member_added", "ub") in names
    assert ("member_removed", "ub") in names and ("member_removed", "ua") in names
    assert names.count(("channel_vacated", None)) == 2
    client_event = next(e for e in mine if e["name"] == "client_event")
    assert client_event["event"] == "client-note" and client_event["user_id"] == "ub"
    assert json.loads(client_event["data"]) == {"k": 1} and client_event["socket_id"]
    assert len(HookReceiver.calls) < len(mine)  # batched: several events per request
    assert HookReceiver.fail_next == 0


def test_shutdown_closes_clients_with_4200(tmp_path: Path) -> None:
    server = EmbeddedServer(tmp_path).start()
    try:

        async def main() -> None:
            sub = await WsSubscriber.connect(server.ws_url)
            await sub.subscribe("bye")
            assert server._proc is not None
            server._proc.send_signal(signal.SIGTERM)
            code, frames = await closed_code(sub.ws)
            assert code == 4200 and frames[-1]["data"]["code"] == 4200

        run(main())
        assert server._proc is not None and server._proc.wait(timeout=5) == 0
    finally:
        server.stop()
    assert "shutting down" in server.log_tail()


def test_port_in_use_is_a_clear_error(embedded) -> None:  # type: ignore[no-untyped-def]
    import sys

    p = subprocess.run(  # noqa: S603 - fixed argv
        [sys.executable, "-m", "pushcli", "serve", "--port", str(embedded.port)],
        capture_output=True,
        text=True,
        timeout=20,
        env={**os.environ, "PUSHCLI_CONFIG": "/nonexistent/config.toml"},
    )
    assert p.returncode == 6
    assert "cannot listen on 127.0.0.1" in p.stderr


# --------------------------------------------------------------------------- third-party clients


def _pusherjs(server: Any) -> dict[str, Any]:
    cfg = {
        "host": server.host,
        "port": server.port,
        "appId": server.app_id,
        "key": server.key,
        "secret": server.secret,
    }
    p = subprocess.run(  # noqa: S603 - fixed argv
        [
            shutil.which("node") or "node",
            str(HERE / "js" / "pusherjs_scenario.js"),
            json.dumps(cfg),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    out = json.loads(p.stdout.strip().splitlines()[-1]) if p.stdout.strip() else {"error": p.stderr}
    assert p.returncode == 0, out
    return out


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node")
def test_pusherjs_and_npm_pusher_behave_as_with_soketi(soketi, embedded) -> None:  # type: ignore[no-untyped-def]
    """pusher-js subscribes to public, private, presence and encrypted channels with its own
    authorizer; the npm library triggers, batches, queries, sends to a user and terminates."""
    with_soketi, with_ours = _pusherjs(soketi), _pusherjs(embedded)
    assert with_ours == with_soketi
    assert with_ours["received"] == [
        {"on": "js-public"},
        {"on": "private-js"},
        {"on": "presence-js"},
        {"on": "private-encrypted-js"},
    ]
    assert with_ours["member_added"] == {"id": "js-bob", "info": {"name": "Bob"}}
    assert with_ours["presence_client_event"] == {"user_id": "js-bob"}
    assert with_ours["batch"]["order"] == [0, 1, 2]
    assert with_ours["users"] == ["js-alice", "js-bob"]
    assert with_ours["user_event"] == {"hi": 1} and with_ours["after_terminate"] == "disconnected"


# --------------------------------------------------------------------------- config, in-process


def test_apps_from_flags_env_and_file(tmp_path: Path) -> None:
    from pushcli.errors import ConfigError
    from pushcli.server.apps import load_apps_file, parse_app_spec

    app = parse_app_spec("42:k42", {"PUSHCLI_SERVE_SECRET_42": "s42"})
    assert (app.id, app.key, app.secret) == ("42", "k42", "s42") and "s42" not in repr(app)
    with pytest.raises(ConfigError, match="PUSHCLI_SERVE_SECRET_43"):
        parse_app_spec("43:k43", {})
    with pytest.raises(ConfigError, match="ID:KEY"):
        parse_app_spec("43:k43:secret-on-argv", {})
    f = tmp_path / "apps.toml"
    f.write_text(
        '[[apps]]\nid = "1"\nkey = "k1"\nsecret = "s1"\nclient_events = false\n'
        '[[apps]]\nid = "2"\nkey = "k2"\nsecret_env = "MY_SECRET"\n'
        'webhooks = ["http://127.0.0.1:9/hook"]\n'
    )
    f.chmod(0o600)
    apps = load_apps_file(f, {"MY_SECRET": "s2"})
    assert [(a.id, a.secret, a.client_events, a.webhooks) for a in apps] == [
        ("1", "s1", False, ()),
        ("2", "s2", True, ("http://127.0.0.1:9/hook",)),
    ]
    with pytest.raises(ConfigError, match="MY_SECRET"):
        load_apps_file(f, {})


def test_in_process_server_start_trigger_stop() -> None:
    """The Server class without a subprocess: port 0, a subscriber, a trigger, stop -> 4200."""
    from pushcli.server import App, Limits, Server

    async def main() -> None:
        server = Server(
            [App("1", "k1", "s1", client_events=False)], port=0, limits=Limits.with_data_limit(1)
        )
        await server.start()
        target = type(
            "T",
            (),
            {"host": "127.0.0.1", "port": server.port, "app_id": "1", "key": "k1", "secret": "s1"},
        )()
        sub = await WsSubscriber.connect(f"ws://127.0.0.1:{server.port}/app/k1?protocol=7")
        await sub.subscribe(
            private := "private-inproc", **private_auth("k1", "s1", sub.socket_id, private)
        )
        status, _ = await asyncio.to_thread(
            rest, target, "POST", "/events", {"name": "e", "channel": private, "data": "x" * 1025}
        )
        assert status == 413  # --max-data-kb 1
        status, _ = await asyncio.to_thread(
            rest, target, "POST", "/events", {"name": "e", "channel": private, "data": "small"}
        )
        assert status == 200 and (await sub.next_event())["data"] == "small"
        await sub.trigger_client_event(private, "client-x", {})  # client events off for this app
        await sub.send({"event": "pusher:ping", "data": {}})
        with pytest.raises(TimeoutError):
            await sub.next_event(timeout=0.3)
        assert sub.errors and "disabled" in sub.errors[0]["data"]["message"]
        stopping = asyncio.create_task(server.stop())
        code, _ = await closed_code(sub.ws)
        await stopping
        assert code == 4200 and not server.connections

    run(main())


def test_serve_refuses_bad_configuration_before_listening(monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from pushcli.cli import app

    runner = CliRunner()
    r = runner.invoke(app, ["serve", "--app-id", "42", "--key", "k"])
    assert (
        r.exit_code == 3 and "no secret for app 42" in r.stderr and "PUSHER_APP_SECRET" in r.stderr
    )
    r = runner.invoke(app, ["serve", "--app", "42:k"])
    assert r.exit_code == 3 and "PUSHCLI_SERVE_SECRET_42" in r.stderr
    monkeypatch.setenv("PUSHCLI_SERVE_SECRET_42", "s")
    r = runner.invoke(app, ["serve", "--app", "42:k", "--app-id", "7"])
    assert r.exit_code == 3 and "not both" in r.stderr
    r = runner.invoke(app, ["serve", "--app", "42:k", "--webhook-url", "ftp://x"])
    assert r.exit_code == 3 and "invalid webhook URL" in r.stderr
