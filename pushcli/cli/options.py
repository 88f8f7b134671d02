"""Shared option types and small helpers for the command modules (no heavy imports)."""

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from pushcli.errors import InputError, PushcliError

JsonOpt = Annotated[
    bool, typer.Option("--json", help="Print JSON (the default when stdout is not a terminal).")
]
DryRunOpt = Annotated[
    bool, typer.Option("--dry-run", help="Print the signed request(s) instead of sending.")
]
SocketIdOpt = Annotated[
    str | None,
    typer.Option(
        "--socket-id",
        metavar="SOCKET_ID",
        help="Exclude this connection (socket id) from receiving the event.",
    ),
]
RawOpt = Annotated[
    bool, typer.Option("--raw", help="Send DATA as it is, without checking it is JSON.")
]


def state(ctx: typer.Context) -> Any:
    return ctx.find_root().obj


def read_stdin(error: type[PushcliError] = InputError) -> str:
    """All of stdin as text. A closed stdin (``<&-``), one that cannot be read or is not UTF-8
    is an ``error`` (bad input unless the caller says otherwise), never a traceback."""
    if sys.stdin is None:  # file descriptor 0 was closed when Python started
        raise error("stdin is closed: nothing to read (give the input with < FILE or a pipe)")
    try:
        text = sys.stdin.read()
        if not text.isascii():
            text.encode()  # under a C locale Python reads bytes that are not UTF-8 as surrogates
    except UnicodeError:
        raise error("stdin is not UTF-8 text") from None
    except OSError as e:
        raise error(f"cannot read stdin: {e.strerror}") from None
    return text


def read_stdin_bytes() -> bytes:
    if sys.stdin is None:
        raise InputError("stdin is closed: nothing to read (give the input with < FILE or a pipe)")
    try:
        return sys.stdin.buffer.read()
    except OSError as e:
        raise InputError(f"cannot read stdin: {e.strerror}") from None


def read_data(arg: str | None) -> str:
    """DATA argument: absent means ``{}``, ``-`` reads stdin, ``@path`` reads a file."""
    if arg is None:
        return "{}"
    if arg == "-":
        text = read_stdin()
        if not text:
            raise InputError(
                "no DATA on stdin (it is empty); give DATA, or '{}' for an empty object"
            )
        return text
    if arg.startswith("@"):
        return read_file(arg[1:])
    return arg


def read_file(path: str) -> str:
    if path == "-":
        return read_stdin()
    try:
        return Path(path).expanduser().read_text(encoding="utf-8")
    except OSError as e:
        raise InputError(f"cannot read {path}: {e.strerror}") from None
    except UnicodeDecodeError:
        raise InputError(f"{path} is not UTF-8 text") from None


def complete_profiles(ctx: typer.Context, incomplete: str) -> list[str]:
    """Shell completion: profile names from the config file (never fails).

    Honours a ``--config PATH`` given earlier on the same command line.
    """
    try:
        from pushcli.client.profiles import config_path, load_config

        given = ctx.find_root().params.get("config")
        names = load_config(config_path(given)).get("profiles", {})
    except Exception:  # noqa: BLE001 - completion must never print an error
        return []
    return sorted(n for n in names if n.startswith(incomplete))


def stop_on_sigterm() -> None:
    """SIGTERM stops like Ctrl-C (a KeyboardInterrupt), so connections close cleanly."""
    import signal

    signal.signal(signal.SIGTERM, signal.default_int_handler)
