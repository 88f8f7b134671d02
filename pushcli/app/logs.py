"""Where the core's log records go: the commands that run servers show them on stderr.

The server layer (``pushcli.server``, its ``localhttp`` endpoints, the apps file loader) only
logs; it never writes to stderr itself. A command that wants those lines shown wraps its work in
:func:`to_stderr`.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator

#: ``pushcli serve``: each line after the time of day
SERVE_FORMAT = ("%(asctime)s %(message)s", "%H:%M:%S")


@contextlib.contextmanager
def to_stderr(
    name: str = "pushcli",
    *,
    level: int | None = None,
    fmt: tuple[str, str | None] = ("%(message)s", None),
) -> Iterator[logging.Logger]:
    """Show the records of logger ``name`` (and its children) on stderr while inside.

    ``level`` None leaves the logger's level as it is (WARNING and up when nobody set one).
    """
    logger = logging.getLogger(name)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(*fmt))
    saved = logger.level, logger.propagate
    logger.addHandler(handler)
    if level is not None:
        logger.setLevel(level)
    elif logger.level == logging.NOTSET:
        logger.setLevel(logging.WARNING)
    logger.propagate = False
    try:
        yield logger
    finally:
        logger.removeHandler(handler)
        logger.setLevel(saved[0])
        logger.propagate = saved[1]
