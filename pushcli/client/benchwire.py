"""The two sides of ``pushcli bench``: the REST publisher thread and the WebSocket subscribers.

Imports ``websockets`` (and httpx through :mod:`pushcli.client.rest` when publishing): import this
module only from :mod:`pushcli.app.bench`, inside the command.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import threading
import time
from array import array
from dataclasses import dataclass, field
from typing import Protocol

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from pushcli import __version__
from pushcli.client.profiles import Settings
from pushcli.client.realtime import describe_connect_error
from pushcli.errors import PushcliError, RejectedError, UnavailableError
from pushcli.protocol import frames, limits
from pushcli.protocol.client_session import PING_FRAME, PONG_FRAME, close_action

EVENT = "bench"
PONG = PONG_FRAME
PING = PING_FRAME


def payload(seq: int, t_ns: int, size: int) -> str:
    """The data string of message ``seq``, padded to ``size`` bytes."""
    head = f'{{"seq":{seq},"t":{t_ns},"pad":"'
    return head + "x" * max(0, size - len(head) - 2) + '"}'


# --- the publisher (a thread: RestClient is synchronous) ---------------------------------------


class PublishPlan(Protocol):
    """What the publisher follows (``pushcli.app.bench.Plan`` is one)."""

    @property
    def channels(self) -> int: ...
    @property
    def channel_names(self) -> list[str]: ...
    @property
    def rate(self) -> float | None: ...  # messages per second; None: as fast as possible
    @property
    def messages(self) -> int | None: ...  # None: until ``duration``
    @property
    def duration(self) -> float | None: ...
    @property
    def size(self) -> int: ...
    @property
    def batch(self) -> bool: ...


class Publisher:
    def __init__(self, plan: PublishPlan, settings: Settings, retries: int) -> None:
        self.plan = plan
        self.settings = settings
        self.retries = retries
        self.stop = threading.Event()
        self.sent = 0  # messages accepted by the server
        self.attempted = 0
        self.issued = 0  # messages whose request has started (for progress)
        self.per_channel = [0] * plan.channels
        self.failed: set[int] = set()
        self.request_ns = array("q")
        self.requests = 0
        self.error: PushcliError | None = None
        self.started_ns = 0
        self.finished_ns = 0

    def run(self) -> None:
        from pushcli.client.rest import RestClient

        plan, channels = self.plan, self.plan.channel_names
        per = limits.MAX_EVENTS_PER_BATCH if plan.batch else 1
        clock = time.perf_counter_ns
        with RestClient(self.settings, retries=self.retries) as client:
            self.started_ns = start = clock()
            seq = 0
            while not self.stop.is_set():
                if plan.messages is not None and seq >= plan.messages:
                    break
                # with a rate, message seq is due at seq / rate: within --duration or not at all
                due = start + (seq / plan.rate * 1e9 if plan.rate is not None else 0)
                if plan.duration is not None and max(due, clock()) - start >= plan.duration * 1e9:
                    break
                if plan.rate is not None:
                    wait = (due - clock()) / 1e9
                    if wait > 0 and self.stop.wait(wait):
                        break
                n = per if plan.messages is None else min(per, plan.messages - seq)
                seqs = range(seq, seq + n)
                self.issued = seq + n
                t0 = clock()
                items = [
                    {
                        "channel": channels[s % plan.channels],
                        "name": EVENT,
                        "data": payload(s, t0, plan.size),
                    }
                    for s in seqs
                ]
                try:
                    if plan.batch:
                        client.trigger_batch(items)
                    else:
                        client.trigger(items[0])
                except PushcliError as e:
                    # the next request would fail the same way: stop, report what went through
                    self.failed.update(seqs)
                    self.error = e
                    self.stop.set()
                else:
                    self.sent += n
                    for s in seqs:
                        self.per_channel[s % plan.channels] += 1
                self.request_ns.append(clock() - t0)
                self.attempted = seq = seq + n
            self.finished_ns = clock()
            self.requests = client.requests_sent


# --- the subscribers -----------------------------------------------------------------------------


@dataclass
class Deliveries:
    """What the subscribers received; appended to by the event loop only."""

    subscribers: int
    seen: list[set[int]] = field(init=False)
    count: list[int] = field(init=False)
    seq: array[int] = field(default_factory=lambda: array("q"))
    sub: array[int] = field(default_factory=lambda: array("i"))
    sent_ns: array[int] = field(default_factory=lambda: array("q"))
    recv_ns: array[int] = field(default_factory=lambda: array("q"))
    duplicate: bytearray = field(default_factory=bytearray)
    latency_ns: array[int] = field(default_factory=lambda: array("q"))
    duplicates: int = 0
    unreadable: int = 0
    disconnects: list[str] = field(default_factory=list)
    last_ns: int = 0
    last_rx: list[int] = field(init=False)

    def __post_init__(self) -> None:
        self.seen = [set() for _ in range(self.subscribers)]
        self.count = [0] * self.subscribers
        self.last_rx = [0] * self.subscribers

    @property
    def delivered(self) -> int:
        return len(self.latency_ns)

    def record(self, sub: int, seq: int, sent_ns: int, recv_ns: int) -> None:
        seen = self.seen[sub]
        dup = seq in seen
        self.seq.append(seq)
        self.sub.append(sub)
        self.sent_ns.append(sent_ns)
        self.recv_ns.append(recv_ns)
        self.duplicate.append(dup)
        self.last_ns = recv_ns
        if dup:
            self.duplicates += 1
        else:
            seen.add(seq)
            self.count[sub] += 1
            self.latency_ns.append(recv_ns - sent_ns)


async def open_subscriber(
    url: str, channel: str, timeout: float, settings: Settings, user_id: str
) -> ClientConnection:
    """Connect, sign in, subscribe, and return once the subscription succeeded.

    Signing in (as ``listen`` does) keeps servers with user authentication (soketi closes
    connections not signed in within 30 s) from dropping long runs.
    """
    from pushcli.protocol.auth import user_auth_response

    try:
        ws = await connect(
            url,
            ping_interval=None,
            open_timeout=timeout,
            close_timeout=1,
            compression=None,
            max_size=2**22,
            user_agent_header=f"pushcli/{__version__} bench",
        )
    except (OSError, TimeoutError, InvalidHandshake) as e:
        where = url.split("/app/")[0]
        raise UnavailableError(f"cannot connect to {where}: {describe_connect_error(e)}") from None
    subscribe = frames.encode(frames.SUBSCRIBE, {"channel": channel})
    user_data = frames.dumps({"id": user_id})
    try:
        async with asyncio.timeout(timeout):
            while True:
                try:
                    event, _, data, _ = frames.decode(await ws.recv())
                except frames.FrameError:
                    continue
                if event == frames.CONNECTION_ESTABLISHED:
                    data = frames.decode_json(data)
                    answer = user_auth_response(settings, str(data["socket_id"]), user_data)
                    await ws.send(frames.encode(frames.SIGNIN, answer))
                    await ws.send(subscribe)
                elif event == frames.SUBSCRIPTION_SUCCEEDED:
                    return ws
                elif event == frames.SUBSCRIPTION_ERROR:
                    raise RejectedError(f"subscription to {channel} refused: {data}")
                elif event == frames.ERROR:
                    raise _refused(data)
                elif event == frames.PING:
                    await ws.send(PONG)
    except TimeoutError:
        await ws.close()
        raise UnavailableError(f"not subscribed to {channel} within {timeout:g}s") from None
    except ConnectionClosed as e:
        code = e.rcvd.code if e.rcvd is not None else None
        err: PushcliError = (
            RejectedError(f"server refused the connection ({code}: {e.rcvd.reason})")
            if e.rcvd is not None and close_action(code) == "fatal"
            else UnavailableError(f"connection closed while subscribing ({code})")
        )
        raise err from None
    except BaseException:
        await ws.close()
        raise


def _refused(data: object) -> RejectedError:
    d = frames.decode_json(data)
    if isinstance(d, dict):
        code = d.get("code")
        text = f"{d.get('message') or d.get('error') or d}" + (f" ({code})" if code else "")
    else:
        code, text = None, str(d)
    hint = "bench signs in with the app secret: check it" if code == 4009 else None
    return RejectedError(f"server refused the connection: {text}", hint=hint)


#: seq and t inside the JSON-encoded data string of a bench frame, as every server sends it
_FAST = re.compile(r'\\"seq\\":(\d+),\\"t\\":(\d+)')


def parse(raw: str | bytes) -> tuple[int, int] | str | None:
    """(seq, t) of a bench message; else the frame's event name (None when unreadable)."""
    text = raw if isinstance(raw, str) else raw.decode("utf-8", "replace")
    m = _FAST.search(text)
    if m is not None:
        return int(m[1]), int(m[2])
    try:
        event, _, data, _ = frames.decode(text)
        if event != EVENT:
            return event
        data = frames.decode_json(data)
        return int(data["seq"]), int(data["t"])
    except (AttributeError, KeyError, TypeError, ValueError):
        return None


async def receive(i: int, ws: ClientConnection, d: Deliveries, closing: asyncio.Event) -> None:
    clock = time.perf_counter_ns
    try:
        async for raw in ws:
            now = clock()
            d.last_rx[i] = now
            got = parse(raw)
            if not isinstance(got, tuple):
                if got == frames.PING:
                    await ws.send(PONG)
                elif got is None:
                    d.unreadable += 1
                continue
            d.record(i, got[0], got[1], now)
    except ConnectionClosed as e:
        if not closing.is_set():
            code = e.rcvd.code if e.rcvd is not None else "no close frame"
            d.disconnects.append(f"subscriber {i}: connection closed ({code})")
        return
    if not closing.is_set():
        d.disconnects.append(f"subscriber {i}: connection closed by the server")


async def keepalive(conns: list[ClientConnection], d: Deliveries, every: float = 30.0) -> None:
    """Protocol pings on connections that have been silent (slow runs, long drains)."""
    while True:
        await asyncio.sleep(every)
        quiet = time.perf_counter_ns() - int(every * 1e9)
        for i, ws in enumerate(conns):
            if d.last_rx[i] < quiet:
                with contextlib.suppress(ConnectionClosed):
                    await ws.send(PING)
