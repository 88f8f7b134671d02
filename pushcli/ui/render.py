"""Output: rich tables on a terminal, JSON/NDJSON otherwise; messages to stderr.

rich is imported only when a table is actually drawn, so pipes and --json stay light.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Sequence
from typing import Any


def stdout_is_tty() -> bool:
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


def wants_json(flag: bool) -> bool:
    """JSON with --json, or whenever stdout is not a terminal."""
    return flag or not stdout_is_tty()


def dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def print_json(obj: Any, *, pretty: bool | None = None) -> None:
    if pretty is None:
        pretty = stdout_is_tty()
    text = json.dumps(obj, ensure_ascii=False, indent=2) if pretty else dumps(obj)
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def print_ndjson(rows: Iterable[Any]) -> None:
    write = sys.stdout.write
    for row in rows:
        write(dumps(row) + "\n")
    sys.stdout.flush()


def use_color() -> bool:
    return "NO_COLOR" not in os.environ


def message(text: str) -> None:
    """A status line on stderr (never on stdout, so pipes stay clean)."""
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


def error_line(text: str) -> None:
    if use_color() and sys.stderr.isatty():
        sys.stderr.write(f"\x1b[31merror:\x1b[0m {text}\n")
    else:
        sys.stderr.write(f"error: {text}\n")
    sys.stderr.flush()


def hint_line(text: str) -> None:
    """The one line after an error that says what to do about it."""
    sys.stderr.write(f"hint: {text}\n")
    sys.stderr.flush()


def console(stderr: bool = False) -> Any:
    from rich.console import Console

    return Console(stderr=stderr, no_color=not use_color(), highlight=False)


def plural(n: int, word: str, words: str | None = None) -> str:
    """``1 member``, ``2 members``, ``0 members`` (``words``: an irregular plural)."""
    return f"{n:,} {word if n == 1 else (words or word + 's')}"


def cell(value: Any) -> str:
    """A value as a table shows it: booleans as yes/no, nothing as nothing."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _heading(text: str) -> Any:
    from rich.text import Text

    return Text(text, style="bold", no_wrap=True, overflow="ellipsis")


def table(
    columns: Sequence[str], rows: Iterable[Sequence[Any]], *, title: str | None = None
) -> None:
    """A table on stdout; its ``title`` (a count, a name) is the line above it, never squeezed
    into the table's width. Without rows only the title is drawn."""
    from rich.table import Table

    out = console()
    rows = list(rows)
    if title:
        out.print(_heading(title))
    if not rows and title:
        return
    t = Table(header_style="bold")
    for c in columns:
        t.add_column(c)
    for r in rows:
        t.add_row(*(cell(v) for v in r))
    out.print(t)


def key_values(rows: Iterable[tuple[str, Any]], *, title: str | None = None) -> None:
    from rich.table import Table

    out = console()
    if title:
        out.print(_heading(title))
    t = Table(show_header=False, box=None, pad_edge=False)
    t.add_column(style="bold", no_wrap=True)
    t.add_column(overflow="fold")  # signatures must stay whole, to compare and copy
    for k, v in rows:
        t.add_row(k, cell(v))
    out.print(t)
