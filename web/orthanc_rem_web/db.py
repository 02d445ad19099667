"""The request's view of the dose database, shared by the pages and the API.

Kept apart from ``app`` (as Flask's tutorial keeps ``db.py``) so that the blueprints import it
without importing the application factory that imports them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from flask import current_app, g
from sqlalchemy.orm import Session, sessionmaker

from orthanc_rem import database, import_settings
from orthanc_rem.config import Settings

EXTENSION = "orthanc_rem"


@dataclass(frozen=True)
class DoseBrowser:
    """What the application keeps between requests: its settings and where sessions come from."""

    settings: Settings
    sessions: sessionmaker[Session]


def browser() -> DoseBrowser:
    extension: DoseBrowser = current_app.extensions[EXTENSION]
    return extension


def dose_session() -> Session:
    """The request's read-only session, opened on first use and closed by the teardown."""
    session: Session | None = g.get("dose_session")
    if session is None:
        session = g.dose_session = browser().sessions()
    return session


@contextmanager
def writer_session() -> Iterator[Session]:
    """The one way a view writes (jobs, nodes, settings, users): a session of its own on the
    database the pages read, committed when the block ends and rolled back if it raises (an
    ``abort`` included). The request's own session (``dose_session``) only reads.

    The request's read transaction ends first. On SQLite a read session that holds the write lock
    (the test clients' sessions take it at ``BEGIN IMMEDIATE``) would otherwise make this writer
    wait for its own request until the busy timeout: the view fails with "database is locked"
    after a minute. Objects read before are expired, not detached: they read again on next use.
    """
    read: Session | None = g.get("dose_session")
    if read is not None:
        read.rollback()
    with database.session_factory(browser().settings.database_url)() as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def close_session(_exc: BaseException | None) -> None:
    session = g.pop("dose_session", None)
    if session is not None:
        session.close()  # rolls back: the browser never commits


def settings_description(session: Session) -> dict[str, Any]:
    return import_settings.describe(session)
