"""Who is asking: login sessions, HTTP Basic for the JSON API, CSRF protection, and the login,
logout and change-password pages.

Why our own login: Orthanc's accounts (``RegisteredUsers``) open its whole REST API, so a browser
that holds them can be made by any other web page to change Orthanc's data (``GET
/instances/<id>?_method=delete``). Our users only open the dose pages; the README section "Users
and permissions" says how this sits with Orthanc's own authentication.

* The session is Flask's signed cookie, HttpOnly, SameSite=Strict, Secure on https, with the
  path of our prefix, holding a random token that names a row of the database
  (``orthanc_rem.login_sessions``; sessions last :data:`SESSION_HOURS`). The row and the user are
  read on every request, so logging out, an admin ending a user's sessions, a new password,
  deactivating or removing the user end a session at once in every process, and a copied cookie
  stops working with the session it belongs to.
* The signing key is made once and kept in the data folder (mode 0600), so sessions survive a
  restart and every process of the service shares it.
* Every POST, PUT, PATCH and DELETE needs the session's CSRF token (form field ``csrf_token`` or
  header ``X-CSRF-Token``), except API requests authenticated by HTTP Basic that a browser did not
  send cross-site (scripts have no session; a browser's cached Basic credentials must not become
  a CSRF hole). ``_method`` and method-override headers are refused outright.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Flask, abort, g, redirect, render_template, request, session, url_for
from flask.sessions import SecureCookieSessionInterface
from sqlalchemy.orm import Session

from orthanc_rem import database, login_sessions, users
from orthanc_rem.config import Settings
from orthanc_rem_web import permissions
from orthanc_rem_web.db import close_session, dose_session, writer_session
from orthanc_rem_web.login_throttle import FailedLogins

blueprint = Blueprint("auth", __name__)

THROTTLE = "orthanc_rem_failed_logins"
SECRET_KEY_FILE = "web-session-key"
SESSION_HOURS = 12
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
METHOD_OVERRIDE_HEADERS = ("X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override")


@dataclass(frozen=True)
class CurrentUser:
    """The request's user as the views see it (no ORM row: it outlives the request's session)."""

    name: str
    group_set: frozenset[str]


class PrefixedCookieSessions(SecureCookieSessionInterface):
    """The session cookie only for our prefix (Orthanc's own routes never see it), and Secure
    whenever the request came over https (directly or through a proxy's X-Forwarded-Proto)."""

    def get_cookie_path(self, app: Flask) -> str:
        return str(app.config.get("SESSION_COOKIE_PATH") or request.script_root or "/")

    def get_cookie_secure(self, app: Flask) -> bool:
        return request.scheme == "https"


def init_app(app: Flask, settings: Settings) -> None:
    """Install sessions, the per-request user and CSRF checks, and the login pages."""
    app.secret_key = secret_key(settings.data_dir)
    app.session_interface = PrefixedCookieSessions()
    app.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Strict", SESSION_COOKIE_NAME="rem_session")
    # Failed logins are counted in the database, so every process refuses the same name.
    app.extensions[THROTTLE] = FailedLogins(database.session_factory(settings.database_url, writer=True))
    app.before_request(identify_user)
    app.before_request(check_csrf)
    app.add_template_global(csrf_token)
    app.add_template_global(current_user)
    app.register_blueprint(blueprint)
    from orthanc_rem_web import users_admin

    app.register_blueprint(users_admin.blueprint)


def secret_key(data_dir: Path) -> bytes:
    """The session-signing key: made once (mode 0600) in the data folder, read by every process."""
    path = Path(data_dir) / SECRET_KEY_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(50):  # another process is writing it right now
            key = path.read_bytes()
            if len(key) >= 32:
                return key
            time.sleep(0.02)
        raise RuntimeError(f"{path} is shorter than 32 bytes: delete it to make a new session key") from None
    with os.fdopen(descriptor, "wb") as file:
        file.write(secrets.token_hex(32).encode())
    return path.read_bytes()


def failed_logins() -> FailedLogins:
    from flask import current_app

    throttle: FailedLogins = current_app.extensions[THROTTLE]
    return throttle


def refuse_if_throttled(name: str) -> None:
    wait = failed_logins().seconds_refused(name)
    if wait:
        minutes = int(wait // 60) + 1
        abort(429, description=f"Too many failed logins for this user: try again in {minutes} minute(s).")


def current_user() -> CurrentUser | None:
    user: CurrentUser | None = g.get("dose_browser_user")
    return user


def _is_api() -> bool:
    return request.path == "/api" or request.path.startswith("/api/")


# --- who is asking -----------------------------------------------------------------------------------


def identify_user() -> None:
    try:
        _identify_user()
    finally:
        # End the read transaction: views that write (login, users) use another connection, which
        # SQLite would make wait for this one when both are writers (as in the tests).
        close_session(None)


def _identify_user() -> None:
    g.dose_browser_user = None
    g.authenticated_by = None
    if "_method" in request.args or any(request.headers.get(name) for name in METHOD_OVERRIDE_HEADERS):
        abort(400, description="HTTP method overrides (_method, X-HTTP-Method-Override) are not accepted.")
    token = session.get("token")
    if token is not None:
        row = login_sessions.session_user(dose_session(), str(token), users.now())
        if row is not None:
            g.dose_browser_user = CurrentUser(row.name, row.group_set)
            g.authenticated_by = "session"
            return
        session.clear()
    elif session.get("user") is not None:
        session.clear()  # a cookie of a version without server-side sessions: log in again
    if _is_api() and request.authorization is not None and request.authorization.type == "basic":
        basic_name = request.authorization.username or ""
        refuse_if_throttled(basic_name)
        user = _basic_user(basic_name, request.authorization.password or "")
        if user is None:
            close_session(None)  # the read transaction first: SQLite has one writer at a time
            failed_logins().failed(basic_name)
            abort(401, description="Wrong user name or password, or the user is inactive.")
        g.dose_browser_user = user
        g.authenticated_by = "basic"


_verified: dict[tuple[str, str], bytes] = {}
_verified_lock = threading.Lock()
_VERIFIED_KEY = secrets.token_bytes(32)


def _basic_user(name: str, password: str) -> CurrentUser | None:
    """Check Basic credentials; a success is remembered (keyed by the stored hash, so a password
    change forgets it) because scrypt costs ~50 ms and scripts send the header on every call."""
    row = users.find_user(dose_session(), name) if name and ":" not in name else None
    digest = hmac.new(_VERIFIED_KEY, password.encode(), hashlib.sha256).digest()
    if row is not None and row.active:
        with _verified_lock:
            known = _verified.get((row.name, row.password_hash))
        if known is not None and hmac.compare_digest(known, digest):
            return CurrentUser(row.name, row.group_set)
    if users.authenticate(dose_session(), name, password) is None or row is None:
        return None
    with _verified_lock:
        if len(_verified) > 1000:
            _verified.clear()
        _verified[(row.name, row.password_hash)] = digest
    return CurrentUser(row.name, row.group_set)


# --- CSRF ----------------------------------------------------------------------------------------------


def csrf_token() -> str:
    """The session's CSRF token (made on first use) for forms and the pages' scripts."""
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(32)
    return str(token)


def _sent_cross_site() -> bool:
    if request.headers.get("Sec-Fetch-Site", "none") not in ("none", "same-origin"):
        return True
    origin = request.headers.get("Origin")
    return origin is not None and urlsplit(origin).netloc != request.host


def check_csrf() -> None:
    if request.method not in UNSAFE_METHODS:
        return
    if g.get("authenticated_by") == "basic" and not _sent_cross_site():
        return
    expected = session.get("csrf")
    sent = request.form.get("csrf_token") or request.headers.get("X-CSRF-Token") or ""
    if not expected or not hmac.compare_digest(str(expected), sent):
        abort(403, description="The form's CSRF token is missing or wrong: reload the page and try again.")


# --- pages ---------------------------------------------------------------------------------------------


def safe_next(target: str | None) -> str | None:
    """A path inside the dose browser to go back to after login; anything else (another host,
    ``//host``, a scheme, backslashes) is dropped."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or any(ord(c) < 32 for c in target):
        return None
    return target


def landing(user: CurrentUser) -> str:
    if permissions.VIEW in user.group_set:
        return url_for("pages.home")
    if permissions.ADMIN in user.group_set:
        return url_for("users_admin.user_list")
    return url_for("auth.change_password")


def _start_session(accounts: Session, row: Any) -> None:
    """A new server-side session for this browser (the caller commits)."""
    token = login_sessions.start_session(accounts, row, dt.timedelta(hours=SESSION_HOURS), users.now())
    session.clear()
    session["token"] = token
    session["csrf"] = secrets.token_urlsafe(32)  # a new token after login (no fixation)


@blueprint.route("/login", methods=["GET", "POST"])
@permissions.public
def login() -> Any:
    target = safe_next(request.values.get("next"))
    user = current_user()
    if request.method == "GET":
        if user is not None:
            return redirect(request.script_root + target if target else landing(user))
        return render_template("login.html", next=target or "", error=None)
    name = request.form.get("name", "")
    if failed_logins().seconds_refused(name):
        error = "Too many failed logins for this user: try again later."
        return render_template("login.html", next=target or "", error=error), 429
    signed_in: CurrentUser | None = None
    with writer_session() as accounts:
        row = users.authenticate(accounts, name, request.form.get("password", ""))
        if row is not None:
            row.last_login = users.now()
            _start_session(accounts, row)
            signed_in = CurrentUser(row.name, row.group_set)
    # The failures are written after the accounts' transaction (SQLite has one writer at a time).
    if signed_in is None:
        failed_logins().failed(name)
        return render_template("login.html", next=target or "", error="Wrong user name or password."), 401
    failed_logins().succeeded(name)
    return redirect(request.script_root + target if target else landing(signed_in))


@blueprint.post("/logout")
@permissions.require()
def logout() -> Any:
    """Ends this session on the server too: a copy of the cookie (stolen, or in another tab's
    saved state) opens nothing afterwards."""
    with writer_session() as accounts:
        login_sessions.end_session(accounts, str(session.get("token", "")))
    session.clear()
    return redirect(url_for("auth.login"))


@blueprint.route("/password", methods=["GET", "POST"])
@permissions.require()
def change_password() -> Any:
    user = current_user()
    assert user is not None
    if request.method == "GET":
        return render_template("password.html", error=None, done=False)
    new = request.form.get("new_password", "")
    with writer_session() as accounts:
        if users.authenticate(accounts, user.name, request.form.get("current_password", "")) is None:
            return render_template("password.html", error="The current password is wrong.", done=False), 400
        if new != request.form.get("new_password_again", ""):
            return render_template("password.html", error="The new passwords differ.", done=False), 400
        try:
            row = users.change_user(accounts, user.name, password=new)
        except users.UserError as exc:
            return render_template("password.html", error=str(exc).capitalize() + ".", done=False), 400
        _start_session(accounts, row)  # the new password ended every session; this browser gets a new one
    return render_template("password.html", error=None, done=True)
