"""The one exit-code table, and the exceptions that carry a code.

Every error pushcli reports on purpose is a :class:`PushcliError`; the CLI layer prints its
message as one line on stderr and exits with its code. Messages never contain secrets.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    UNEXPECTED = 1
    USAGE = 2
    CONFIG = 3
    INPUT = 4
    REJECTED = 5
    UNAVAILABLE = 6
    PARTIAL = 7
    NOT_ARRIVED = 8
    NONCONFORMING = 9
    INTERRUPTED = 130


class PushcliError(Exception):
    """An error with a message for the user and an exit code."""

    exit_code: ExitCode = ExitCode.UNEXPECTED

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class ConfigError(PushcliError):
    """Unknown profile, missing credential, unreadable or invalid config."""

    exit_code = ExitCode.CONFIG


class InputError(PushcliError):
    """Invalid names, sizes, counts or JSON: nothing was sent."""

    exit_code = ExitCode.INPUT


class RejectedError(PushcliError):
    """The server answered with a 4xx (or refused a subscription)."""

    exit_code = ExitCode.REJECTED

    def __init__(self, message: str, *, status: int | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.status = status
        self.retry_after: float | None = None


class UnavailableError(PushcliError):
    """Connection refused, timeout, or 5xx after retries."""

    exit_code = ExitCode.UNAVAILABLE


class PartialFailure(PushcliError):
    """Some of the work was done, some failed."""

    exit_code = ExitCode.PARTIAL


class NotArrivedError(PushcliError):
    """Waited for events that did not come in time."""

    exit_code = ExitCode.NOT_ARRIVED
