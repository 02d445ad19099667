"""Server-side state of the dose browser's logins (issue 7): who is logged in where, and the failed
logins that throttle password guessing.

A signed cookie alone cannot be taken back: a stolen one worked until it expired. Each login is a
row here instead, and the cookie carries a random token whose hash names the row; logging out,
an admin ending a user's sessions, a password change and deactivating the user delete rows, and
every process of the service (Orthanc and its workers, several nodes) sees that at once. The
failed logins live here for the same reason: a counter per process let each process be guessed
against separately.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from orthanc_rem.model.common import Base


class LoginSession(Base):
    __tablename__ = "dose_browser_session"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(
        String(64), unique=True, info={"doc": "SHA-256 (hex) of the cookie's token; the token is never stored"}
    )
    user_fk: Mapped[int] = mapped_column(ForeignKey("dose_browser_user.id", ondelete="CASCADE"), index=True)
    created: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    expires: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class FailedLogin(Base):
    __tablename__ = "failed_login"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name_key: Mapped[str] = mapped_column(String(150), index=True, info={"doc": "user name as typed, case-folded"})
    at: Mapped[float] = mapped_column(Float, index=True, info={"doc": "seconds since the epoch (time.time)"})
