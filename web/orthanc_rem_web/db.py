"""The request's view of the dose database, shared by the pages and the API.

Kept apart from ``app`` (as Flask's tutorial keeps ``db.py``) so that the blueprints import it
without importing the application factory that imports them.
"""

from __future__ import annotations

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


def writer_sessions() -> sessionmaker[Session]:
    """Sessions that may write (jobs, nodes, settings), on the database the pages read; the
    request's own session (``dose_session``) only reads."""
    return database.session_factory(browser().settings.database_url)


def close_session(_exc: BaseException | None) -> None:
    session = g.pop("dose_session", None)
    if session is not None:
        session.close()  # rolls back: the browser never commits


def settings_description(session: Session) -> dict[str, Any]:
    return import_settings.describe(session)
