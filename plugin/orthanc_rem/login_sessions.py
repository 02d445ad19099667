"""The dose browser's login sessions, kept in the database so that they can be ended
(``model.login_sessions`` says why).

No Flask here: the login pages, the users page and ``orthanc-rem user`` call these functions. The
cookie carries a random token (256 bits); the database keeps only its SHA-256, so that a copy of
the database (a backup) opens no session.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from orthanc_rem.model import DoseBrowserUser, LoginSession


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(session: Session, user: DoseBrowserUser, lasting: dt.timedelta, now: dt.datetime) -> str:
    """A new session of ``user``; returns the token for the cookie. Expired sessions of every user
    are deleted on the way (logins are rare enough for that to be the cleaning); the caller commits."""
    session.execute(delete(LoginSession).where(LoginSession.expires <= now))
    token = secrets.token_urlsafe(32)
    session.add(LoginSession(token_hash=_hash(token), user_fk=user.id, created=now, expires=now + lasting))
    session.flush()
    return token


def session_user(session: Session, token: str, now: dt.datetime) -> DoseBrowserUser | None:
    """The active user whose unexpired session ``token`` names, else None."""
    if not token:
        return None
    user: DoseBrowserUser | None = session.scalar(
        select(DoseBrowserUser)
        .join(LoginSession, LoginSession.user_fk == DoseBrowserUser.id)
        .where(LoginSession.token_hash == _hash(token), LoginSession.expires > now, DoseBrowserUser.active)
    )
    return user


def end_session(session: Session, token: str) -> None:
    """Logout: this session ends in every browser and process that holds its cookie; the caller commits."""
    session.execute(delete(LoginSession).where(LoginSession.token_hash == _hash(token)))


def end_user_sessions(session: Session, user: DoseBrowserUser) -> int:
    """End every session of ``user`` (how many there were); the caller commits."""
    result = session.execute(delete(LoginSession).where(LoginSession.user_fk == user.id))
    return int(getattr(result, "rowcount", 0) or 0)


def open_sessions(session: Session, user: DoseBrowserUser, now: dt.datetime) -> int:
    """How many unexpired sessions ``user`` has (the users page shows it)."""
    found = session.scalars(
        select(LoginSession.id).where(LoginSession.user_fk == user.id, LoginSession.expires > now)
    ).all()
    return len(found)
