"""Exponential backoff with jitter: the one formula, for reconnects and for REST retries.

Pure: the random source is a parameter (tests pass ``random.Random(seed)``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class Rng(Protocol):
    def random(self) -> float: ...


@dataclass(frozen=True, slots=True)
class Backoff:
    """Attempt ``n`` waits between ``floor * c`` and ``c``, ``c = min(cap, base * 2**n)``.

    ``floor`` 0 is "full jitter", 0.5 "equal jitter" (never less than half the ceiling).
    """

    base: float
    cap: float
    floor: float

    def ceiling(self, attempt: int) -> float:
        return min(self.cap, self.base * float(2 ** min(max(attempt, 0), 16)))

    def delay(self, attempt: int, rng: Rng) -> float:
        ceiling = self.ceiling(attempt)
        low = ceiling * self.floor
        return float(low + (ceiling - low) * rng.random())


#: WebSocket reconnects: attempt 0 waits 0.5-1 s, doubling, at most 30 s
RECONNECT = Backoff(base=1.0, cap=30.0, floor=0.5)
#: WebSocket reconnects with no limit on attempts (a person watching ``listen`` on a terminal):
#: the same start, at most 10 s apart, so a restarted local server is back within seconds
RECONNECT_WATCHING = Backoff(base=1.0, cap=10.0, floor=0.5)
#: retried REST requests (429, 5xx, network errors): 0-0.2 s, doubling, at most 5 s
REST_RETRY = Backoff(base=0.2, cap=5.0, floor=0.0)
