"""Column widths for the live view: the data column first, the others as wide as what they show.

Pure (widths in terminal cells, measured with rich.cells). The live view measures the rows it
is about to draw and asks :func:`allocate` how wide each column may be; :func:`clip` and
:func:`middle` cut a text to a width (at the end, or in the middle for ids and channel names,
whose ends tell them apart).
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.cells import cell_len, set_cell_size

ELLIPSIS = "…"
#: one space between columns
GAP = 1
#: a column that must shrink keeps at least this much of what it shows (its natural width if
#: smaller): enough to tell names apart, the rest goes to the data
FLOOR = {"channel": 10, "event": 10, "user": 9}
#: and is never wider than this, however long a name is
CAP = {"channel": 40, "event": 32, "user": 32}
#: the data column is served first up to this width; past it, whole channel and event names
#: are worth more than more of a long payload (which Enter shows whole), and it gets the rest
DATA_FIRST = 72
#: below this many columns the time is shown without milliseconds
WIDE = 100


def time_width(total: int) -> int:
    """``HH:MM:SS.mmm`` (12) on a wide terminal, ``HH:MM:SS`` (8) on a narrow one."""
    return 12 if total >= WIDE else 8


def clip(text: str, width: int) -> str:
    """``text`` in at most ``width`` cells, ending in an ellipsis when cut."""
    if width <= 0:
        return ""
    if cell_len(text) <= width:
        return text
    return set_cell_size(text, width - 1).rstrip() + ELLIPSIS if width > 1 else ELLIPSIS


def middle(text: str, width: int) -> str:
    """``text`` in at most ``width`` cells, cut in the middle: ``pushcli-…c8f4e1``."""
    if width <= 0:
        return ""
    if cell_len(text) <= width:
        return text
    if width < 3:
        return clip(text, width)
    start = head(text, width - 1 - (width - 1) // 2)
    return start + ELLIPSIS + tail_of(text, width - 1 - cell_len(start))


def head(text: str, width: int) -> str:
    """The longest start of ``text`` that fits in ``width`` cells."""
    out, used = [], 0
    for ch in text:
        w = cell_len(ch)
        if used + w > width:
            break
        out.append(ch)
        used += w
    return "".join(out)


def tail_of(text: str, width: int) -> str:
    return head(text[::-1], width)[::-1]


def pad(text: str, width: int) -> str:
    """``text`` padded with spaces to exactly ``width`` cells (it must fit)."""
    return text + " " * max(0, width - cell_len(text))


@dataclass(frozen=True, slots=True)
class Widths:
    """Cells per column; 0: the column is not shown."""

    time: int
    channel: int
    event: int
    user: int
    data: int


def allocate(
    total: int,
    *,
    channel: int | None,
    event: int,
    user: int | None,
    data: int,
) -> Widths:
    """Widths for a row of ``total`` cells, given the natural widths (the widest text each
    column would show; None: the column is not shown).

    The data column gets what its widest payload needs first (up to :data:`DATA_FIRST`),
    leaving the other columns their floor (:data:`FLOOR`); what is left widens them up to
    their natural width (event, then channel, then user), and anything still left goes to
    the data column, which fills the row.
    """
    t = time_width(total)
    shown = {
        name: min(width, CAP[name])
        for name, width in (("channel", channel), ("event", event), ("user", user))
        if width is not None
    }
    avail = total - t - GAP * (len(shown) + 1)
    floors = {name: min(width, FLOOR[name]) for name, width in shown.items()}
    # on a very narrow terminal even the floors do not fit: the data keeps a third
    while floors and avail - sum(floors.values()) < max(1, avail // 3):
        widest = max(floors, key=lambda n: floors[n])
        if floors[widest] <= 3:
            break
        floors[widest] -= 1
    data_w = max(1, min(data, DATA_FIRST, avail - sum(floors.values())))
    rest = avail - data_w - sum(floors.values())
    widths = dict(floors)
    for name in ("event", "channel", "user"):
        if name in widths and rest > 0:
            more = min(rest, shown[name] - widths[name])
            widths[name] += more
            rest -= more
    data_w += max(0, rest)
    return Widths(
        time=t,
        channel=widths.get("channel", 0),
        event=widths.get("event", 0),
        user=widths.get("user", 0),
        data=data_w,
    )
