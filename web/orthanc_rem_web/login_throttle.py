"""Failed logins per user name, so that the login page and the API's HTTP Basic cannot be used to
try passwords one after another.

The dose pages are reachable without Orthanc's account (README, "Users and permissions"); scrypt
already costs each attempt tens of milliseconds, but an 8-character password still falls to a
patient guesser. After :attr:`FailedLogins.limit` failures within :attr:`FailedLogins.window_s`
the name is refused (HTTP 429) until the oldest failure leaves the window. Kept in the process
(the dose browser runs in Orthanc's one process); a restart forgets it.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable


class FailedLogins:
    def __init__(self, limit: int = 10, window_s: float = 900.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window_s = window_s
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _key(name: str) -> str:
        return name.strip().casefold()

    def _recent(self, key: str, now: float) -> deque[float]:
        failures = self._failures.get(key, deque())
        while failures and now - failures[0] >= self.window_s:
            failures.popleft()
        return failures

    def seconds_refused(self, name: str) -> float:
        """How long ``name`` is still refused (0: it may try)."""
        with self._lock:
            now = self._clock()
            failures = self._recent(self._key(name), now)
            if len(failures) < self.limit:
                return 0.0
            return max(0.0, self.window_s - (now - failures[0]))

    def failed(self, name: str) -> None:
        with self._lock:
            now = self._clock()
            key = self._key(name)
            failures = self._recent(key, now)
            failures.append(now)
            if len(self._failures) > 10_000 and key not in self._failures:
                self._failures.pop(next(iter(self._failures)))  # bounded: forget the oldest name
            self._failures[key] = failures

    def succeeded(self, name: str) -> None:
        with self._lock:
            self._failures.pop(self._key(name), None)
