"""Keys for the live view: the terminal in cbreak mode, read by a thread of its own.

Only when stdin is a terminal. The terminal's mode is put back on :meth:`KeyReader.stop`
(and Ctrl-C still sends SIGINT: cbreak keeps signals). :func:`decode` turns the bytes a
terminal sends into key names, and is pure.
"""

from __future__ import annotations

import os
import select
import threading
from collections.abc import Callable
from typing import Any

#: escape sequences (after ESC) of the keys the view uses; xterm and VT100 forms
SEQUENCES = {
    "[A": "up",
    "[B": "down",
    "[C": "right",
    "[D": "left",
    "OA": "up",
    "OB": "down",
    "OC": "right",
    "OD": "left",
    "[H": "home",
    "[F": "end",
    "OH": "home",
    "OF": "end",
    "[1~": "home",
    "[4~": "end",
    "[7~": "home",
    "[8~": "end",
    "[5~": "pageup",
    "[6~": "pagedown",
}
NAMED = {"\r": "enter", "\n": "enter", "\x7f": "backspace", "\x08": "backspace", "\t": "tab"}


def decode(text: str) -> tuple[list[str], str]:
    """Key names in ``text``, and what is left of an incomplete escape sequence at its end.

    A lone ESC at the end is left over too: the caller decides (after a short wait) that it
    was the Escape key.
    """
    keys: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch != "\x1b":
            keys.append(NAMED.get(ch, ch))
            i += 1
            continue
        if i + 1 >= len(text):
            return keys, text[i:]
        if text[i + 1] not in "[O":
            keys.append("escape")  # ESC then a key: Alt+key, taken as Escape then the key
            i += 1
            continue
        # CSI / SS3: parameters (digits, ';') then one final byte
        j = i + 2
        while j < len(text) and (text[j].isdigit() or text[j] == ";"):
            j += 1
        if j >= len(text):
            return keys, text[i:]
        seq = text[i + 1 : j + 1]
        keys.append(SEQUENCES.get(seq, f"unknown:{seq}"))
        i = j + 1
    return keys, ""


class KeyReader:
    """Reads keys from ``fd`` (a terminal) and calls ``on_key(name)`` on its own thread."""

    def __init__(self, fd: int, on_key: Callable[[str], None]) -> None:
        self.fd = fd
        self.on_key = on_key
        self._stop = threading.Event()
        self._saved: list[Any] | None = None
        self._thread = threading.Thread(target=self._run, name="pushcli-keys", daemon=True)

    @classmethod
    def for_stdin(cls, on_key: Callable[[str], None]) -> KeyReader | None:
        """A reader of stdin, or None when stdin is not a terminal (or cannot be set up)."""
        try:
            fd = 0
            if not os.isatty(fd):
                return None
        except OSError:
            return None
        return cls(fd, on_key)

    def start(self) -> bool:
        import termios

        try:
            saved = termios.tcgetattr(self.fd)
            mode = termios.tcgetattr(self.fd)
            mode[3] &= ~(termios.ICANON | termios.ECHO)  # lflags: keys at once, not echoed
            mode[6][termios.VMIN], mode[6][termios.VTIME] = 1, 0
            termios.tcsetattr(self.fd, termios.TCSANOW, mode)
        except (termios.error, OSError):
            return False
        self._saved = saved
        self._thread.start()
        return True

    def stop(self) -> None:
        import termios

        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(1)
        if self._saved is not None:
            try:
                termios.tcsetattr(self.fd, termios.TCSANOW, self._saved)
            except (termios.error, OSError):
                pass
            self._saved = None

    def _run(self) -> None:
        pending = ""
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select([self.fd], [], [], 0.05 if pending else 0.2)
                chunk = os.read(self.fd, 256) if ready else b""
            except (OSError, ValueError):
                return
            if ready and not chunk:
                return  # the terminal is gone
            if not chunk and pending:
                # nothing followed: an ESC alone is the Escape key; a cut sequence is dropped
                keys, pending = (["escape"] if pending == "\x1b" else []), ""
            else:
                keys, pending = decode(pending + chunk.decode(errors="ignore"))
            for key in keys:
                self.on_key(key)
