"""What one app's server knows: connections, channels, presence members, signed-in users, cache.

Everything here runs on the event loop thread and never awaits. The side effects that follow
from a change of state (member_added / member_removed to the other subscribers, webhooks for
occupied / vacated / member events) happen here, so every path that changes state (unsubscribe,
disconnect, terminate) gets them right.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from pushcli.protocol.channels import is_cache, user_of_server_channel
from pushcli.server import wire
from pushcli.server.apps import App

#: up to this many subscribers, a channel hears its new subscription count at once; larger
#: channels hear it from the once-a-second sweep (flush_counts), as Pusher throttles it
COUNT_AT_ONCE = 100

Notify = Callable[[App, dict[str, Any]], None]


class Client(Protocol):
    """What the state needs from a connection (protocol.Session)."""

    socket_id: str
    user_id: str | None

    def write(self, data: bytes) -> None: ...

    def terminate(self, code: int, message: str) -> None: ...


@dataclass(slots=True)
class Member:
    info: Any
    sockets: set[str]


class Channel:
    __slots__ = ("name", "subscribers", "members")

    def __init__(self, name: str, presence: bool) -> None:
        self.name = name
        self.subscribers: dict[str, Client] = {}
        self.members: dict[str, Member] | None = {} if presence else None


@dataclass(slots=True)
class Cached:
    event: str
    data: Any
    expires: float
    size: int  # bytes of the frame a new subscriber gets


class AppState:
    """One app's namespace."""

    def __init__(
        self,
        app: App,
        *,
        cache_ttl: float = 1800.0,
        max_cache_channels: int = 10_000,
        max_cache_bytes: int = 64 * 1024 * 1024,
        notify: Notify | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self.cache_ttl = cache_ttl
        self.max_cache_channels = max_cache_channels
        self.max_cache_bytes = max_cache_bytes
        self.notify = notify
        self.clock = clock
        self.clients: dict[str, Client] = {}
        self.channels: dict[str, Channel] = {}
        self.users: dict[str, dict[str, Client]] = {}
        #: cache channel -> last event, least recently written first
        self.cache: dict[str, Cached] = {}
        self.cache_bytes = 0
        self._pending: dict[Client, list[bytes]] | None = None
        self._counts_due: set[str] = set()
        self.quiet = False  # no webhooks while the server shuts down

    # ---- webhooks

    def hook(self, name: str, channel: str, **fields: Any) -> None:
        if self.notify is not None and not self.quiet:
            self.notify(self.app, {"name": name, "channel": channel, **fields})

    # ---- connections

    def add_client(self, client: Client) -> None:
        self.clients[client.socket_id] = client

    def remove_client(self, client: Client, channels: list[str]) -> None:
        """Forget a connection: leave its channels (vacated, member_removed), sign it out."""
        for name in channels:
            self.leave(client, name)
        self.sign_out(client)
        self.clients.pop(client.socket_id, None)

    # ---- channels

    def channel(self, name: str) -> Channel | None:
        return self.channels.get(name)

    def is_member(self, name: str, user_id: str) -> bool:
        ch = self.channels.get(name)
        return bool(ch and ch.members and user_id in ch.members)

    def member_count(self, name: str) -> int:
        ch = self.channels.get(name)
        return len(ch.members) if ch is not None and ch.members is not None else 0

    def join(self, client: Client, name: str, member: tuple[str, Any] | None = None) -> None:
        """Subscribe ``client``; for presence, ``member`` is (user_id, user_info)."""
        ch = self.channels.get(name)
        if ch is None:
            ch = self.channels[name] = Channel(name, member is not None)
        if client.socket_id in ch.subscribers:
            return
        ch.subscribers[client.socket_id] = client
        if len(ch.subscribers) == 1:
            self.hook("channel_occupied", name)
        if member is None or ch.members is None:
            return
        user_id, info = member
        known = ch.members.get(user_id)
        if known is not None:
            known.sockets.add(client.socket_id)
            return
        ch.members[user_id] = Member(info, {client.socket_id})
        # Exactly what presence_snapshot's hash carries for this member (null without user_info),
        # so a client that was there and one that joins later agree on the member.
        added = {"user_id": user_id, "user_info": info}
        self.publish(
            name,
            wire.internal("pusher_internal:member_added", added, name),
            except_id=client.socket_id,
        )
        self.hook("member_added", name, user_id=user_id)

    def leave(self, client: Client, name: str) -> bool:
        """Unsubscribe; False when ``client`` was not subscribed."""
        ch = self.channels.get(name)
        if ch is None or ch.subscribers.pop(client.socket_id, None) is None:
            return False
        if ch.members is not None:
            for user_id, m in list(ch.members.items()):
                if client.socket_id in m.sockets:
                    m.sockets.discard(client.socket_id)
                    if not m.sockets:
                        del ch.members[user_id]
                        gone = wire.internal(
                            "pusher_internal:member_removed", {"user_id": user_id}, name
                        )
                        self.publish(name, gone)
                        self.hook("member_removed", name, user_id=user_id)
                    break
        if not ch.subscribers:
            del self.channels[name]
            self.hook("channel_vacated", name)
        else:
            self.subscription_counted(name)
        return True

    def subscription_counted(self, name: str) -> None:
        """Send the channel's subscribers ``pusher_internal:subscription_count``."""
        ch = self.channels.get(name)
        if ch is None:
            return
        if len(ch.subscribers) > COUNT_AT_ONCE:
            self._counts_due.add(name)
            return
        count = {"subscription_count": len(ch.subscribers)}
        self.publish(name, wire.internal("pusher_internal:subscription_count", count, name))

    def flush_counts(self) -> None:
        """The subscription counts of large channels that changed since the last call."""
        due, self._counts_due = self._counts_due, set()
        for name in due:
            ch = self.channels.get(name)
            if ch is not None:
                count = {"subscription_count": len(ch.subscribers)}
                self.publish(name, wire.internal("pusher_internal:subscription_count", count, name))

    def presence_snapshot(self, name: str) -> dict[str, Any]:
        ch = self.channels.get(name)
        members = ch.members if ch is not None and ch.members is not None else {}
        return {
            "presence": {
                "ids": list(members),
                "hash": {uid: m.info for uid, m in members.items()},
                "count": len(members),
            }
        }

    # ---- users (pusher:signin)

    def sign_in(self, client: Client, user_id: str) -> None:
        if client.user_id is not None and client.user_id != user_id:
            self.sign_out(client)
        client.user_id = user_id
        self.users.setdefault(user_id, {})[client.socket_id] = client

    def sign_out(self, client: Client) -> None:
        if client.user_id is None:
            return
        sockets = self.users.get(client.user_id)
        if sockets is not None:
            sockets.pop(client.socket_id, None)
            if not sockets:
                del self.users[client.user_id]

    def terminate_user(self, user_id: str) -> int:
        clients = list(self.users.get(user_id, {}).values())
        for client in clients:
            client.terminate(4009, "You got disconnected by the app.")
        return len(clients)

    # ---- publishing

    def cork(self) -> None:
        """Queue every write until ``uncork``: one write per connection for a whole batch."""
        if self._pending is None:
            self._pending = {}

    def uncork(self) -> None:
        pending, self._pending = self._pending, None
        if pending:
            for client, frames in pending.items():
                client.write(frames[0] if len(frames) == 1 else b"".join(frames))

    def publish(self, name: str, data: bytes, except_id: str | None = None) -> int:
        """Write one frame to every subscriber of ``name`` (or to a user's connections)."""
        user = user_of_server_channel(name)
        if user is not None:
            targets = self.users.get(user)
        else:
            ch = self.channels.get(name)
            targets = ch.subscribers if ch is not None else None
        if not targets:
            return 0
        pending = self._pending
        if pending is None:
            for socket_id, client in list(targets.items()):
                if socket_id != except_id:
                    client.write(data)
        else:
            for socket_id, client in targets.items():
                if socket_id != except_id:
                    frames = pending.get(client)
                    if frames is None:
                        pending[client] = [data]
                    else:
                        frames.append(data)
        return len(targets)

    def trigger(self, channel: str, event: str, data: Any, except_id: str | None = None) -> None:
        """An event from the HTTP API: fan out, and remember it on cache channels."""
        frame = wire.message(event, data, channel)
        self.publish(channel, frame, except_id)
        if is_cache(channel):
            self._remember(channel, Cached(event, data, self.clock() + self.cache_ttl, len(frame)))

    # ---- cache channels

    def _remember(self, channel: str, entry: Cached) -> None:
        """Keep ``entry`` as the newest; forget the oldest past the count or size cap."""
        self._forget(channel)
        if entry.size > self.max_cache_bytes:
            return
        self.cache[channel] = entry
        self.cache_bytes += entry.size
        while len(self.cache) > self.max_cache_channels or self.cache_bytes > self.max_cache_bytes:
            self._forget(next(iter(self.cache)))

    def _forget(self, name: str) -> None:
        entry = self.cache.pop(name, None)
        if entry is not None:
            self.cache_bytes -= entry.size

    def cached(self, name: str) -> Cached | None:
        entry = self.cache.get(name)
        if entry is not None and entry.expires <= self.clock():
            self._forget(name)
            return None
        return entry

    def expire_cache(self) -> None:
        # one TTL for all, oldest first: the expired entries are at the front
        now = self.clock()
        while self.cache:
            name, entry = next(iter(self.cache.items()))
            if entry.expires > now:
                return
            self._forget(name)

    def cache_ttl_left(self, name: str) -> int | None:
        entry = self.cached(name)
        return None if entry is None else max(0, round(entry.expires - self.clock()))
