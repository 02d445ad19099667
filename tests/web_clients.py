"""Flask test clients of the dose browser, made in one place.

Every web test gets its client here, so that what a client must carry to be let in (a session,
credentials) is decided once, not in each test module.
"""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker

from orthanc_rem.config import Settings
from orthanc_rem_web.app import create_app


def dose_browser_client(settings: Settings, sessions: sessionmaker[Session]) -> FlaskClient:
    """A client of the dose browser allowed to see and do everything it offers."""
    return create_app(settings, sessions).test_client()
