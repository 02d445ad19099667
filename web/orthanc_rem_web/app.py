"""The dose browser: a small Flask application that reads the dose database and never writes it.

Orthanc serves it under its URL prefix (``/rem``) through our WSGI bridge, so the application sees
``SCRIPT_NAME=/rem`` and every link is built with ``url_for``. Orthanc's Python plugin 4.0 leaks a
little memory per request, so a request creates nothing but its database session, which is closed
when the request ends.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

from flask import Flask, current_app, render_template, request
from flask.json.provider import DefaultJSONProvider
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.exceptions import HTTPException

from orthanc_rem import database, strict_json
from orthanc_rem.config import Settings
from orthanc_rem_web import (
    admin_pages,
    api,
    auth,
    chart_options_pages,
    charts_api,
    charts_page,
    db,
    detail_display,
    export_pages,
    list_sorting,
    pages,
    permissions,
    projection_display,
    qr_pages,
    skin_dose_api,
)
from orthanc_rem_web.query import BadParameter

_log = logging.getLogger(__name__)


class StrictJSONProvider(DefaultJSONProvider):
    """The API's JSON: strict (no NaN/Infinity tokens, see ``orthanc_rem.strict_json``), in the
    document's own key order, and UTF-8 text as it is."""

    sort_keys = False
    ensure_ascii = False

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        return super().dumps(strict_json.finite_or_null(obj), allow_nan=False, **kwargs)


def create_app(settings: Settings, sessions: sessionmaker[Session] | None = None) -> Flask:
    app = Flask(__name__)
    app.extensions[db.EXTENSION] = db.DoseBrowser(
        settings, sessions or database.session_factory(settings.database_url, writer=False)
    )
    app.json = StrictJSONProvider(app)
    auth.init_app(app, settings)  # users, sessions, CSRF (issue 7)
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
    app.add_template_filter(fixed)
    app.add_template_filter(number)
    app.add_template_filter(sop_class_name)
    for converter in (gym2_in_cgycm2, gy_in_mgy, s_in_ms, uas_in_mas):
        app.add_template_filter(converter)
    projection_display.register(app)
    detail_display.register(app)
    list_sorting.register(app)
    app.add_template_global(orthanc_explorer_url)
    app.add_template_global(page_links)
    app.add_template_global(permissions.may, "may")
    app.teardown_appcontext(db.close_session)
    app.register_blueprint(pages.blueprint)
    app.register_blueprint(api.blueprint, url_prefix="/api")
    admin_pages.register(app)
    app.register_blueprint(qr_pages.blueprint)
    app.register_blueprint(export_pages.blueprint)
    app.register_blueprint(skin_dose_api.blueprint)
    app.register_blueprint(charts_api.blueprint, url_prefix="/api")
    app.register_blueprint(charts_page.blueprint, url_prefix="/charts")
    chart_options_pages.register(app)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(BadParameter, _bad_parameter)
    app.register_error_handler(SQLAlchemyError, _database_error)
    return app


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


#: Set (by the plugin) when Orthanc serves ``/orthanc-explorer-login`` (``worker_access.EXPLORER_LOGIN``).
EXPLORER_LOGIN_CONFIG = "ORTHANC_REM_EXPLORER_LOGIN"


def orthanc_explorer_url(orthanc_id: str) -> str:
    """A link to the instance in Orthanc Explorer, relative so that it survives reverse proxies.

    Orthanc Explorer lives at ``app/explorer.html`` beside our prefix; ``request.path`` is the page's
    path below the prefix, so one ``..`` per slash climbs out of it. Explorer needs one of Orthanc's
    accounts, which our login does not give; where the plugin checks those accounts itself, the link
    goes through ``orthanc-explorer-login``, which asks the browser for one only if it holds none
    and then opens the instance (``worker_access.explorer_target``).
    """
    up = "../" * request.path.count("/")
    if current_app.config.get(EXPLORER_LOGIN_CONFIG):
        return up + "orthanc-explorer-login?instance=" + quote(orthanc_id, safe="")
    return up + "app/explorer.html#instance?uuid=" + quote(orthanc_id, safe="")


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
