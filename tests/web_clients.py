"""Flask test clients of the dose browser, made in one place.

Every web test gets its client here, so that what a client must carry to be let in (a session,
credentials) is decided once, not in each test module. Clients log in through the real login
page (its CSRF token included) and then send the session's CSRF token on every request
(``X-CSRF-Token``), so that tests of forms and state-changing endpoints need not fetch it.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import re
import threading
from collections.abc import Iterable, Iterator
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker

from orthanc_rem import users
from orthanc_rem.config import Settings
from orthanc_rem.model import DoseBrowserUser
from orthanc_rem_web.app import create_app

#: The password of every user these helpers make (long enough for the password rule).
PASSWORD = "correct horse battery staple"
_numbers = itertools.count(1)
_CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


class AnyHostClient(FlaskClient):
    """A test client whose cookies go to every host and path.

    Web tests talk to the app under several base URLs (``http://localhost/``,
    ``http://orthanc.test/rem/``); a browser would only ever see one. Werkzeug's cookie jar keys
    cookies by host, so the jar is kept under one name here (private hooks of werkzeug >= 2.3).
    """

    def _add_cookies_to_wsgi(self, environ: Any) -> None:
        host, name = environ.get("HTTP_HOST"), environ.get("SERVER_NAME")
        environ["HTTP_HOST"] = environ["SERVER_NAME"] = "localhost"
        try:
            super()._add_cookies_to_wsgi(environ)
        finally:
            for key, value in (("HTTP_HOST", host), ("SERVER_NAME", name)):
                if value is None:
                    environ.pop(key, None)
                else:
                    environ[key] = value

    def _update_cookies_from_response(self, server_name: str, path: str, headers: list[str]) -> None:
        super()._update_cookies_from_response("localhost", path, headers)


def browser_app(settings: Settings, sessions: sessionmaker[Session]) -> Flask:
    """The dose browser app, with its session cookie on ``/`` so that one login serves every base URL."""
    app = create_app(settings, sessions)
    app.config["SESSION_COOKIE_PATH"] = "/"
    app.test_client_class = AnyHostClient
    return app


def dose_browser_client(settings: Settings, sessions: sessionmaker[Session]) -> FlaskClient:
    """A client of the dose browser allowed to see and do everything it offers (every group)."""
    return client_with_groups(settings, sessions, users.GROUPS)


def client_with_groups(
    settings: Settings, sessions: sessionmaker[Session], groups: Iterable[str], *, app: Flask | None = None
) -> FlaskClient:
    """A client logged in as a new user who belongs to exactly ``groups``."""
    name = f"user-{next(_numbers)}-{'-'.join(sorted(groups)) or 'nogroup'}"
    add_user(sessions, name, groups)
    client = anonymous_client(settings, sessions, app=app)
    log_in(client, name, PASSWORD)
    return client


def anonymous_client(settings: Settings, sessions: sessionmaker[Session], *, app: Flask | None = None) -> FlaskClient:
    """A client that has not logged in."""
    return (app or browser_app(settings, sessions)).test_client()


@functools.cache
def _password_hash(password: str) -> str:
    return users.hash_password(password)


def add_user(sessions: sessionmaker[Session], name: str, groups: Iterable[str], password: str = PASSWORD) -> None:
    """A new active user (its scrypt hash made once per password and process: each costs ~0.1 s)."""
    with sessions() as session:
        session.add(
            DoseBrowserUser(
                name=users.check_name(name),
                password_hash=_password_hash(password),
                groups=",".join(group for group in users.GROUPS if group in users.parse_groups(groups)),
                active=True,
                created=users.now(),
            )
        )
        session.commit()


def csrf_token_of(client: FlaskClient, path: str = "/login") -> str:
    """The CSRF token a page's form carries (the session's token)."""
    page = client.get(path).get_data(as_text=True)
    match = _CSRF_FIELD.search(page)
    assert match, f"no csrf_token field on {path}"
    return match.group(1)


def log_in(client: FlaskClient, name: str, password: str) -> None:
    """Log in through the login form; later requests carry the session's CSRF token as a header."""
    token = csrf_token_of(client)
    reply = client.post("/login", data={"name": name, "password": password, "csrf_token": token})
    assert reply.status_code == 302, reply.get_data(as_text=True)
    client.environ_base["HTTP_X_CSRF_TOKEN"] = csrf_token_of(client, "/password")


def logged_in_wsgi(settings: Settings, sessions: sessionmaker[Session], groups: Iterable[str] = users.GROUPS) -> Any:
    """The dose browser as a WSGI app whose every request carries a logged-in user's session
    cookie: for a real browser (``chromium --dump-dom``) pointed at a test server, which cannot
    fill in the login form itself."""
    app = browser_app(settings, sessions)
    client = client_with_groups(settings, sessions, groups, app=app)
    cookie = client.get_cookie(app.config.get("SESSION_COOKIE_NAME") or "session", domain="localhost", path="/")
    assert cookie is not None, "the login set no session cookie"
    wsgi_app = app.wsgi_app

    def with_session(environ: Any, start_response: Any) -> Any:
        environ["HTTP_COOKIE"] = f"{cookie.key}={cookie.value}"
        return wsgi_app(environ, start_response)

    app.wsgi_app = with_session  # type: ignore[method-assign]
    return app


@contextlib.contextmanager
def served_under_rem(application: Any) -> Iterator[str]:
    """A WSGI application on a free loopback port, mounted under /rem as Orthanc serves the dose
    pages (anything else is 404), for headless Chromium, which can only reach a real server.
    Yields the base URL (``http://127.0.0.1:PORT/rem``)."""
    from werkzeug.exceptions import NotFound
    from werkzeug.middleware.dispatcher import DispatcherMiddleware
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, DispatcherMiddleware(NotFound(), {"/rem": application}), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/rem"
    finally:
        server.shutdown()


def served_dose_browser(settings: Settings, sessions: sessionmaker[Session]) -> contextlib.AbstractContextManager[str]:
    """The dose browser served by :func:`served_under_rem`, logged in as a user of every group."""
    return served_under_rem(logged_in_wsgi(settings, sessions))
