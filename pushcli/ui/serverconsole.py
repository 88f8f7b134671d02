"""``pushcli serve --console``: the server's records as a live view on a terminal; and
:func:`server_records`, the hook that sends them to the log (serverlog.py) and/or the view.

A header with counts (connections, occupied channels, messages and their rate, client events,
webhooks, errors) above the latest records, newest at the bottom. As in listen's live view
(liveview.py), the server's loop thread only appends to a bounded deque and bumps counters
under a lock; rich's refresh thread draws a snapshot a few times a second, so a slow terminal
never slows the server. Import this module only inside the command (it imports rich.live).

While the view is up, the server's own log lines (logger ``pushcli.server``) would scribble
over it: warnings and errors are shown in the view instead, the rest is left to the records.
When stderr is not the terminal (``2> serve.log``) the log goes there as usual.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pushcli.ui.render import console
from pushcli.ui.serverlog import (
    FAILED,
    LABELS,
    OnRecord,
    clock,
    log_writer,
    parts,
    record_object,
    webhook_ok,
)

SERVER_LOGGER = "pushcli.server"
#: messages per second are counted over this many seconds
RATE_WINDOW = 3.0


@dataclass(slots=True, kw_only=True)
class LogLine:
    """A warning of the server's log, shown among the records."""

    type: ClassVar[str] = "log"
    time: float = field(default_factory=time.time)
    message: str
    level: str


class _Divert(logging.Filter):
    def __init__(self, view: ServerConsole, swallow: bool) -> None:
        super().__init__()
        self.view = view
        self.swallow = swallow

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.WARNING:
            self.view.warn(record.getMessage().strip(), record.levelname.lower())
        return not self.swallow


class ServerConsole:
    """Call it with each record (``Server(on_record=view)``) inside ``with view:``."""

    def __init__(self, address: str, *, max_rows: int = 500, fps: float = 4) -> None:
        self.address = address
        self.fps = fps
        self.started = time.monotonic()
        self._lock = threading.Lock()
        self._rows: deque[Any] = deque(maxlen=max_rows)
        self._sent: deque[tuple[float, int]] = deque(maxlen=int(fps * RATE_WINDOW) + 2)
        self.connections = 0
        #: (app id, channel) -> subscribers, from the records; gone when it reaches 0
        self.channels: dict[tuple[str, str], int] = {}
        self.messages = 0
        self.client_events = 0
        self.webhooks_ok = 0
        self.webhooks_retried = 0  # attempts that failed, and another one followed
        self.webhooks_lost = 0  # requests given up on
        self.errors = 0
        self.message = ""
        self._live: Any = None
        self._divert: _Divert | None = None

    # --- the server's loop thread: cheap, under the lock -------------------------------------

    def __call__(self, rec: Any) -> None:
        kind = rec.type
        with self._lock:
            self._rows.append(rec)
            if kind == "api_message":
                self.messages += 1
            elif kind == "client_event":
                self.client_events += 1
            elif kind == "subscribed":
                self._count(rec.app_id, rec.channel, 1)
            elif kind == "unsubscribed":
                self._count(rec.app_id, rec.channel, -1)
            elif kind == "connection_opened":
                self.connections += 1
            elif kind == "connection_closed":
                self.connections -= 1
                for channel in rec.channels:
                    self._count(rec.app_id, channel, -1)
            elif kind == "webhook":
                if rec.status is not None and 200 <= rec.status < 300:
                    self.webhooks_ok += 1
                elif rec.retry:
                    self.webhooks_retried += 1
                else:
                    self.webhooks_lost += 1
            elif kind in ("error", "api_error"):
                self.errors += 1

    def _count(self, app_id: str, channel: str, delta: int) -> None:
        if channel.startswith("#"):  # a user's own channel: not occupied like a channel
            return
        key = (app_id, channel)
        n = self.channels.get(key, 0) + delta
        if n > 0:
            self.channels[key] = n
        else:
            self.channels.pop(key, None)

    def warn(self, text: str, level: str = "warning") -> None:
        with self._lock:
            self.message = text
            self._rows.append(LogLine(message=text, level=level))

    # --- rich's refresh thread ---------------------------------------------------------------

    def __enter__(self) -> ServerConsole:
        from rich.live import Live

        self._divert = _Divert(self, swallow=_isatty(sys.stderr))
        logging.getLogger(SERVER_LOGGER).addFilter(self._divert)
        self._live = Live(
            console=console(),
            get_renderable=self._render,
            refresh_per_second=self.fps,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self._live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.stop()
        if self._divert is not None:
            logging.getLogger(SERVER_LOGGER).removeFilter(self._divert)

    def _rate(self, sent: int) -> float:
        now = time.monotonic()
        self._sent.append((now, sent))
        t0, n0 = self._sent[0]
        return (sent - n0) / (now - t0) if now - t0 > 0.2 else 0.0

    def _render(self) -> Any:
        from rich.console import Group
        from rich.table import Table
        from rich.text import Text

        height = self._live.console.height if self._live is not None else 24
        width = self._live.console.width if self._live is not None else 80
        with self._lock:
            message = self.message
            # the header's 3 lines, the message, the table's header, a line for the cursor
            visible = max(1, height - (7 if message else 6))
            rows = list(self._rows)[-visible:]
            connections, channels = self.connections, len(self.channels)
            messages, client_events = self.messages, self.client_events
            hooks = self.webhooks_ok, self.webhooks_retried, self.webhooks_lost
            errors = self.errors
        rate = self._rate(messages + client_events)
        up = int(time.monotonic() - self.started)
        head = Table.grid(padding=(0, 2))
        head.add_row(
            Text("pushcli serve", style="bold"),
            Text(self.address),
            Text(f"up {up // 3600}:{up // 60 % 60:02d}:{up % 60:02d}", style="dim"),
            Text("Ctrl-C to stop", style="dim"),
        )
        head.add_row(
            Text(f"connections {connections}", style="bold green" if connections else ""),
            Text(f"channels {channels}", style="bold cyan" if channels else ""),
            Text(f"messages {messages}  {rate:.1f}/s"),
            Text(f"client events {client_events}"),
        )
        head.add_row(
            Text(f"webhooks {hooks[0]} ok"),
            Text(
                f"{hooks[1]} retried  {hooks[2]} lost",
                style="red" if hooks[2] else "yellow" if hooks[1] else "",
            ),
            Text(f"errors {errors}", style="bold red" if errors else ""),
            Text(""),
        )
        out: list[Any] = [head]
        if message:
            out.append(Text(message, style="yellow", overflow="ellipsis", no_wrap=True))
        # narrow: the channel goes with the details (most records have none), seconds only
        narrow = width < 100
        table = Table(expand=True, box=None, header_style="bold", pad_edge=False, padding=(0, 1))
        table.add_column("time", no_wrap=True, style="dim")
        table.add_column("what", no_wrap=True, width=11)
        table.add_column("socket", no_wrap=True, overflow="ellipsis", max_width=20)
        if not narrow:
            table.add_column("channel", no_wrap=True, overflow="ellipsis", max_width=32)
        table.add_column(
            "channel  details" if narrow else "details", no_wrap=True, overflow="ellipsis", ratio=1
        )
        for rec in rows:
            obj = record_object(rec)
            label, sid, channel, details = parts(obj)
            style = LABELS.get(rec.type, ("", "", ""))[2]
            if rec.type == "webhook" and not webhook_ok(obj):
                style = FAILED[1]
            what = Text(details, style="red" if rec.type in ("error", "api_error") else "")
            stamp = clock(rec.time)
            if narrow:
                if channel:  # cut long names: what happened matters more than all of it
                    cut = channel if len(channel) <= 24 else channel[:23] + "…"
                    what = Text.assemble((cut, "bold"), "  ", what)
                table.add_row(stamp[:8], Text(label, style=style), sid, what)
            else:
                table.add_row(stamp, Text(label, style=style), sid, channel, what)
        out.append(table)
        return Group(*out)


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


@contextlib.contextmanager
def server_records(
    log: str | None, fmt: str, *, console: bool = False, address: str = ""
) -> Iterator[OnRecord | None]:
    """The ``on_record`` hook for ``pushcli serve --log/--console``: None when neither."""
    with contextlib.ExitStack() as stack:
        hooks: list[OnRecord] = []
        if log is not None:
            hooks.append(stack.enter_context(log_writer(log, fmt)))
        if console:
            hooks.append(stack.enter_context(ServerConsole(address)))
        if not hooks:
            yield None
        elif len(hooks) == 1:
            yield hooks[0]
        else:
            first, second = hooks

            def both(rec: Any) -> None:
                first(rec)
                second(rec)

            yield both
