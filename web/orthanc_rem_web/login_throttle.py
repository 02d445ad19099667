"""Failed logins per user name, so that the login page and the API's HTTP Basic cannot be used to
try passwords one after another.

The dose pages are reachable without Orthanc's account (README, "Users and permissions"); scrypt
already costs each attempt tens of milliseconds, but an 8-character password still falls to a
patient guesser. After :attr:`FailedLogins.limit` failures within :attr:`FailedLogins.window_s`
the name is refused (HTTP 429) until the oldest failure leaves the window.

The failures are rows of the dose database (``failed_login``), not a counter in the process:
Orthanc, the workers and every node of a scaled-out service then refuse the same name, and a
restart does not reset the count. Times are wall-clock seconds (``time.time``) because processes
compare them.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from orthanc_rem.model import FailedLogin


class FailedLogins:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        limit: int = 10,
        window_s: float = 900.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.sessions = sessions
        self.limit = limit
        self.window_s = window_s
        self._clock = clock

    @staticmethod
    def _key(name: str) -> str:
        return name.strip().casefold()[:150]

    def seconds_refused(self, name: str) -> float:
        """How long ``name`` is still refused (0: it may try)."""
        now = self._clock()
        with self.sessions() as session:
            count, oldest = session.execute(
                select(func.count(), func.min(FailedLogin.at)).where(
                    FailedLogin.name_key == self._key(name), FailedLogin.at > now - self.window_s
                )
            ).one()
        if count < self.limit or oldest is None:
            return 0.0
        return max(0.0, self.window_s - (now - float(oldest)))

    def failed(self, name: str) -> None:
        """Count a failure; failures that left the window (of any name) are deleted on the way."""
        now = self._clock()
        with self.sessions() as session:
            session.execute(delete(FailedLogin).where(FailedLogin.at <= now - self.window_s))
            session.add(FailedLogin(name_key=self._key(name), at=now))
            session.commit()

    def succeeded(self, name: str) -> None:
        with self.sessions() as session:
            session.execute(delete(FailedLogin).where(FailedLogin.name_key == self._key(name)))
            session.commit()
