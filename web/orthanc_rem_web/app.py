"""The dose browser: a small Flask application that reads the dose database and never writes it.

Orthanc serves it under its URL prefix (``/rem``) through our WSGI bridge, so the application sees
``SCRIPT_NAME=/rem`` and every link is built with ``url_for``. Orthanc's Python plugin 4.0 leaks a
little memory per request, so a request creates nothing but its database session, which is closed
when the request ends.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from flask import Flask, current_app, g, render_template, request
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.exceptions import HTTPException

from orthanc_rem import database, import_settings
from orthanc_rem.config import Settings
from orthanc_rem.study_document import MODALITIES
from orthanc_rem_web import projection_display

PER_PAGE_CHOICES = (10, 25, 50, 100, 200, 400)
API_PER_PAGE = range(1, 1001)
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_EXTENSION = "orthanc_rem"

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DoseBrowser:
    """What the application keeps between requests: its settings and where sessions come from."""

    settings: Settings
    sessions: sessionmaker[Session]


def create_app(settings: Settings, sessions: sessionmaker[Session] | None = None) -> Flask:
    from orthanc_rem_web import api, pages  # they import this module's helpers

    app = Flask(__name__)
    app.extensions[_EXTENSION] = DoseBrowser(
        settings, sessions or database.session_factory(settings.database_url, writer=False)
    )
    app.json.sort_keys = False  # type: ignore[attr-defined]  # keep the document in model order
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
    app.add_template_filter(fixed)
    app.add_template_filter(number)
    app.add_template_filter(sop_class_name)
    for converter in (gym2_in_cgycm2, gy_in_mgy, s_in_ms, uas_in_mas):
        app.add_template_filter(converter)
    projection_display.register(app)
    app.add_template_global(orthanc_explorer_url)
    app.add_template_global(page_links)
    app.teardown_appcontext(_close_session)
    app.register_blueprint(pages.blueprint)
    app.register_blueprint(api.blueprint, url_prefix="/api")
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(BadParameter, _bad_parameter)
    app.register_error_handler(SQLAlchemyError, _database_error)
    return app


def browser() -> DoseBrowser:
    extension: DoseBrowser = current_app.extensions[_EXTENSION]
    return extension


def dose_session() -> Session:
    """The request's read-only session, opened on first use and closed by the teardown."""
    session: Session | None = g.get("dose_session")
    if session is None:
        session = g.dose_session = browser().sessions()
    return session


def _close_session(_exc: BaseException | None) -> None:
    session = g.pop("dose_session", None)
    if session is not None:
        session.close()  # rolls back: the browser never commits


def settings_description(session: Session) -> dict[str, Any]:
    return import_settings.describe(session)


# --- query parameters shared by the pages and the API -------------------------------------------


class BadParameter(ValueError):
    """A query parameter the user can fix; answered with 400 and the message."""


@dataclass(frozen=True)
class ListQuery:
    page: int
    per_page: int
    date_from: dt.date | None = None
    date_until: dt.date | None = None
    display_name: str | None = None

    def link_args(self, default_per_page: int, **changes: Any) -> dict[str, Any]:
        """Arguments for ``url_for`` that reproduce this query (defaults omitted), with ``changes``."""
        values = {
            "date_from": self.date_from.isoformat() if self.date_from else None,
            "date_until": self.date_until.isoformat() if self.date_until else None,
            "display_name": self.display_name,
            "per_page": self.per_page if self.per_page != default_per_page else None,
            "page": self.page,
        } | changes
        if values["page"] == 1:
            values["page"] = None
        return {key: value for key, value in values.items() if value is not None}


def page_arguments(args: Mapping[str, str], default_per_page: int, allowed: Sequence[int]) -> tuple[int, int]:
    page = _whole_number(args, "page", 1)
    per_page = _whole_number(args, "per_page", default_per_page)
    if per_page not in allowed:
        if isinstance(allowed, range):
            expected = f"between {allowed.start} and {allowed.stop - 1}"
        else:
            expected = "one of " + ", ".join(map(str, allowed))
        raise BadParameter(f"per_page must be {expected}, not {per_page}.")
    return page, per_page


def list_query(args: Mapping[str, str], default_per_page: int, allowed: Sequence[int]) -> ListQuery:
    page, per_page = page_arguments(args, default_per_page, allowed)
    date_from, date_until = _date(args, "date_from"), _date(args, "date_until")
    if date_from and date_until and date_from > date_until:
        raise BadParameter(f"date_from ({date_from}) is after date_until ({date_until}).")
    return ListQuery(page, per_page, date_from, date_until, args.get("display_name") or None)


def modality_argument(args: Mapping[str, str]) -> str | None:
    """The ``modality`` filter, upper-cased; None when not given."""
    text = (args.get("modality") or "").strip()
    if not text:
        return None
    if text.upper() not in MODALITIES:
        raise BadParameter(f"modality must be one of {', '.join(MODALITIES)}, not {text!r}.")
    return text.upper()


def per_page_choices(default_per_page: int) -> tuple[int, ...]:
    return tuple(sorted({*PER_PAGE_CHOICES, default_per_page}))


def _whole_number(args: Mapping[str, str], name: str, default: int) -> int:
    text = (args.get(name) or "").strip()
    if not text:
        return default
    if not text.isdigit() or int(text) < 1:
        raise BadParameter(f"{name} must be a whole number of 1 or more, not {text!r}.")
    return int(text)


def _date(args: Mapping[str, str], name: str) -> dt.date | None:
    text = (args.get(name) or "").strip()
    if not text:
        return None
    try:
        if not _ISO_DATE.match(text):
            raise ValueError
        return dt.date.fromisoformat(text)
    except ValueError:
        raise BadParameter(f"{name} must be a date written yyyy-mm-dd, not {text!r}.") from None


# --- errors: JSON under /api, a page elsewhere ----------------------------------------------------


def _wants_json() -> bool:
    return request.path == "/api" or request.path.startswith("/api/")


def _error(status: int, title: str, message: str) -> Any:
    if _wants_json():
        return {"error": message, "status": status}, status
    return render_template("error.html", status=status, title=title, message=message), status


def _http_error(error: HTTPException) -> Any:
    if error.code is None or error.code < 400:
        return error
    return _error(error.code, error.name, error.description or error.name)


def _bad_parameter(error: BadParameter) -> Any:
    return _error(400, "Bad request", str(error))


def _database_error(error: SQLAlchemyError) -> Any:
    _log.exception("dose database error on %s", request.path)
    return _error(503, "Dose database unavailable", f"The dose database cannot be read: {type(error).__name__}.")


# --- template helpers ---------------------------------------------------------------------------------


def fixed(value: float | None, places: int = 2) -> str:
    """A number with a fixed count of decimals (CTDIvol, DLP); empty when not recorded."""
    return "" if value is None else f"{value:.{places}f}"


def number(value: float | None, max_places: int = 3) -> str:
    """A number without trailing zeros (kVp 120, pitch 0.8, rotation time 0.285)."""
    if value is None:
        return ""
    text = f"{value:.{max_places}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


# Stored units to the units the manual displays (DAP in cGy.cm2, dose at the reference point in mGy,
# durations in ms, exposure in mAs); None stays None so that ``fixed`` and ``number`` print nothing.


def gym2_in_cgycm2(value: float | None) -> float | None:
    return None if value is None else value * 1e6


def gy_in_mgy(value: float | None) -> float | None:
    return None if value is None else value * 1e3


def s_in_ms(value: float | None) -> float | None:
    return None if value is None else value * 1e3


def uas_in_mas(value: float | None) -> float | None:
    return None if value is None else value / 1e3


def sop_class_name(uid: str | None) -> str:
    """The SOP class's name from the DICOM dictionary, or nothing for an unknown UID."""
    if not uid:
        return ""
    from pydicom.uid import UID

    name = str(UID(uid).name)
    return "" if name == uid else name


def orthanc_explorer_url(orthanc_id: str) -> str:
    """A link to the instance in Orthanc Explorer, relative so that it survives reverse proxies.

    Orthanc Explorer lives at ``app/explorer.html`` beside our prefix; ``request.path`` is the page's
    path below the prefix, so one ``..`` per slash climbs out of it.
    """
    return "../" * request.path.count("/") + "app/explorer.html#instance?uuid=" + quote(orthanc_id, safe="")


def page_links(page: int, pages: int) -> list[int | None]:
    """Page numbers to offer: both ends and the neighbourhood of ``page``; None marks a gap."""
    wanted = sorted({1, 2, pages - 1, pages, *range(page - 2, page + 3)} & set(range(1, pages + 1)))
    links: list[int | None] = []
    previous = 0
    for wanted_page in wanted:
        if previous and wanted_page != previous + 1:
            links.append(None)
        links.append(wanted_page)
        previous = wanted_page
    return links
