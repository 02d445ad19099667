"""Logging in and out, the session cookie, CSRF, HTTP Basic for the API, the users pages.

Values asserted come from the HTTP and cookie standards (RFC 6265 attributes, RFC 7617 Basic) and
from the issue's rules; nothing is copied from a previous run.
"""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from orthanc_rem import users
from orthanc_rem.config import Settings
from orthanc_rem_web import auth
from orthanc_rem_web.login_throttle import FailedLogins
from web_clients import PASSWORD, add_user, anonymous_client, browser_app, client_with_groups, csrf_token_of, log_in


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(data_dir=tmp_path, database_url=database_url, queue_url="memory://")


def basic(name: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{name}:{password}".encode()).decode()}


def login_form(client, name: str, password: str, **extra: str):  # type: ignore[no-untyped-def]
    token = csrf_token_of(client)
    return client.post("/login", data={"name": name, "password": password, "csrf_token": token, **extra})


def test_a_page_sends_an_anonymous_visitor_to_login_and_back(settings, sessions) -> None:
    add_user(sessions, "physicist", ["view"])
    client = anonymous_client(settings, sessions)
    first = client.get("/ct/?date_from=2024-01-01", base_url="http://orthanc.test/rem/")
    assert first.status_code == 302
    assert first.headers["Location"] == "/rem/login?next=/ct/?date_from%3D2024-01-01"
    reply = login_form(client, "physicist", PASSWORD, next="/ct/?date_from=2024-01-01")
    assert (reply.status_code, reply.headers["Location"]) == (302, "/ct/?date_from=2024-01-01")
    assert client.get("/ct/").status_code == 200


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)"]
)
def test_login_never_redirects_off_site(settings, sessions, target: str) -> None:
    add_user(sessions, "physicist", ["view"])
    reply = login_form(anonymous_client(settings, sessions), "physicist", PASSWORD, next=target)
    assert (reply.status_code, reply.headers["Location"]) == (302, "/")


def test_session_cookie_attributes(settings, sessions) -> None:
    add_user(sessions, "physicist", ["view"])
    app = browser_app(settings, sessions)
    app.config["SESSION_COOKIE_PATH"] = None  # as in production: the prefix
    client = app.test_client()
    token = csrf_token_of(client, "/login")
    reply = client.post(
        "/login",
        data={"name": "physicist", "password": PASSWORD, "csrf_token": token},
        base_url="http://orthanc.test/rem/",
    )
    cookie = reply.headers["Set-Cookie"]
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert {"httponly", "path"} <= attributes and "secure" not in attributes
    assert "SameSite=Strict" in cookie and "Path=/rem;" in cookie + ";"
    secure = app.test_client()
    token = csrf_token_of(secure, "/login")
    over_https = secure.post(
        "/login",
        data={"name": "physicist", "password": PASSWORD, "csrf_token": token},
        base_url="https://orthanc.test/rem/",
    )
    assert "Secure" in over_https.headers["Set-Cookie"]


def test_wrong_password_and_inactive_user_do_not_log_in(settings, sessions) -> None:
    add_user(sessions, "physicist", ["view"])
    client = anonymous_client(settings, sessions)
    assert login_form(client, "physicist", "wrong password").status_code == 401
    assert login_form(client, "nobody", PASSWORD).status_code == 401
    with sessions() as session:
        users.change_user(session, "physicist", active=False)
        session.commit()
    assert login_form(client, "physicist", PASSWORD).status_code == 401
    assert client.get("/ct/").status_code == 302


def test_deactivating_a_user_ends_their_session(settings, sessions) -> None:
    client = client_with_groups(settings, sessions, ["view"])
    assert client.get("/ct/").status_code == 200
    with sessions() as session:
        (name,) = [u.name for u in users.list_users(session)]
        users.change_user(session, name, active=False)
        session.commit()
    assert client.get("/ct/").status_code == 302


def test_post_without_or_with_a_wrong_csrf_token_is_refused(settings, sessions) -> None:
    add_user(sessions, "physicist", ["view"])
    client = anonymous_client(settings, sessions)
    client.get("/login")
    assert client.post("/login", data={"name": "physicist", "password": PASSWORD}).status_code == 403
    bad = client.post("/login", data={"name": "physicist", "password": PASSWORD, "csrf_token": "forged"})
    assert bad.status_code == 403
    logged_in = client_with_groups(settings, sessions, ["view"])
    del logged_in.environ_base["HTTP_X_CSRF_TOKEN"]
    assert logged_in.post("/logout").status_code == 403
    assert logged_in.get("/ct/").status_code == 200  # still logged in


def test_logout_ends_the_session(settings, sessions) -> None:
    client = client_with_groups(settings, sessions, ["view"])
    assert client.post("/logout").status_code == 302
    assert client.get("/ct/").status_code == 302


@pytest.mark.parametrize(
    ("path", "headers"),
    [("/ct/?_method=delete", {}), ("/ct/", {"X-HTTP-Method-Override": "DELETE"}), ("/api/studies?_method=DELETE", {})],
)
def test_method_overrides_are_refused(settings, sessions, path: str, headers: dict[str, str]) -> None:
    client = client_with_groups(settings, sessions, users.GROUPS)
    assert client.get(path, headers=headers).status_code == 400


def test_api_takes_basic_with_our_users_and_applies_groups(settings, sessions) -> None:
    add_user(sessions, "script", ["view"])
    client = anonymous_client(settings, sessions)
    assert client.get("/api/studies", headers=basic("script", PASSWORD)).status_code == 200
    assert client.get("/api/rejected", headers=basic("script", PASSWORD)).status_code == 403
    assert client.get("/api/studies", headers=basic("script", "wrong password")).status_code == 401
    assert client.get("/api/studies").status_code == 401
    # Basic is for scripts of the API only: pages still want a login.
    assert client.get("/ct/", headers=basic("script", PASSWORD)).status_code == 302
    # No CSRF token needed for a script's Basic request (405: it got past the check to routing)...
    assert client.post("/api/studies", headers=basic("script", PASSWORD)).status_code == 405
    # ... but a browser sending cached Basic credentials cross-site needs one.
    cross_site = {**basic("script", PASSWORD), "Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}
    assert client.post("/api/studies", headers=cross_site).status_code == 403


def test_own_password_change_keeps_this_session_and_ends_others(settings, sessions) -> None:
    add_user(sessions, "physicist", ["view"])
    app = browser_app(settings, sessions)
    here, elsewhere = app.test_client(), app.test_client()
    log_in(here, "physicist", PASSWORD)
    log_in(elsewhere, "physicist", PASSWORD)
    form = {
        "current_password": PASSWORD,
        "new_password": "a new long password",
        "new_password_again": "a new long password",
    }
    assert here.post("/password", data={**form, "current_password": "wrong"}).status_code == 400
    assert here.post("/password", data=form).status_code == 200
    assert here.get("/ct/").status_code == 200
    assert elsewhere.get("/ct/").status_code == 302
    assert (
        login_form(anonymous_client(settings, sessions, app=app), "physicist", "a new long password").status_code == 302
    )


def test_admin_manages_users_from_the_page(settings, sessions) -> None:
    admin = client_with_groups(settings, sessions, ["admin"])
    new = {"name": "Jürg", "password": "pässword long", "password_again": "pässword long", "groups": ["view", "pid"]}
    assert admin.post("/users", data=new).status_code == 302
    assert admin.post("/users", data=new).status_code == 400  # exists already
    with sessions() as session:
        jurg = users.get_user(session, "Jürg")
        assert jurg.group_set == {"view", "pid"}
        jurg_id = jurg.id
    page = admin.get("/users").get_data(as_text=True)
    assert "Jürg" in page and "view, pid" in page
    change = {"groups": ["export"], "password": "reset password 1", "password_again": "reset password 1"}
    assert admin.post(f"/users/{jurg_id}", data=change).status_code == 302  # no "active": deactivated
    with sessions() as session:
        jurg = users.get_user(session, "Jürg")
        assert (jurg.group_set, jurg.active) == ({"export"}, False)
        assert users.authenticate(session, "Jürg", "reset password 1") is None  # inactive
    assert admin.post(f"/users/{jurg_id}/remove").status_code == 302
    with sessions() as session:
        assert users.find_user(session, "Jürg") is None


def test_admin_cannot_lock_themselves_out(settings, sessions) -> None:
    admin = client_with_groups(settings, sessions, ["admin"])
    with sessions() as session:
        (me,) = users.list_users(session)
    assert admin.post(f"/users/{me.id}", data={"groups": ["view"], "active": "on"}).status_code == 400
    assert admin.post(f"/users/{me.id}/remove").status_code == 400
    assert admin.get("/users").status_code == 200


def test_the_session_key_is_made_once_and_private(tmp_path: Path) -> None:
    first = auth.secret_key(tmp_path)
    assert auth.secret_key(tmp_path) == first and len(first) >= 32
    assert stat.S_IMODE(os.stat(tmp_path / auth.SECRET_KEY_FILE).st_mode) == 0o600


def test_admin_password_variable_creates_and_resets_admin(sessions: sessionmaker[Session]) -> None:
    with sessions() as session:
        assert users.ensure_admin_from_environment(session, {"ORTHANC_REM_ADMIN_PASSWORD": "first password"})
    with sessions() as session:
        users.change_user(session, "admin", groups=["view"], active=False)
        session.commit()
        users.ensure_admin_from_environment(session, {"ORTHANC_REM_ADMIN_PASSWORD": "second password"})
    with sessions() as session:
        admin = users.authenticate(session, "admin", "second password")
        assert admin is not None and admin.group_set == set(users.GROUPS)
        assert not users.ensure_admin_from_environment(session, {})


@pytest.mark.parametrize("name", ["", "a:b", "x" * 151, "line\nbreak"])
def test_user_names_basic_auth_cannot_carry_are_refused(sessions, name: str) -> None:
    with sessions() as session, pytest.raises(users.UserError):
        users.add_user(session, name, "long enough", ["view"])


def test_unknown_groups_and_short_passwords_are_refused(sessions) -> None:
    with sessions() as session:
        with pytest.raises(users.UserError, match="unknown group"):
            users.add_user(session, "x", "long enough", ["view", "superuser"])
        with pytest.raises(users.UserError, match="at least 8"):
            users.add_user(session, "x", "short", ["view"])


def test_repeated_failed_logins_lock_the_name_for_a_while(settings, sessions) -> None:
    add_user(sessions, "physicist", ["view"])
    app = browser_app(settings, sessions)
    client = anonymous_client(settings, sessions, app=app)
    for _ in range(FailedLogins(sessions).limit):
        assert login_form(client, "physicist", "guess").status_code == 401
    assert login_form(client, "physicist", PASSWORD).status_code == 429  # even the right password
    assert client.get("/api/studies", headers=basic("physicist", PASSWORD)).status_code == 429
    add_user(sessions, "other", ["view"])
    assert login_form(client, "other", PASSWORD).status_code == 302  # other names are not affected


def test_failures_leave_the_window(sessions) -> None:
    now = [1_000.0]
    throttle = FailedLogins(sessions, limit=3, window_s=60, clock=lambda: now[0])
    for _ in range(3):
        throttle.failed("Physicist")
    assert throttle.seconds_refused("physicist ") == 60
    now[0] = 1_059.0
    assert throttle.seconds_refused("physicist") == pytest.approx(1.0)
    now[0] = 1_060.0
    assert throttle.seconds_refused("physicist") == 0
    throttle.failed("physicist")
    throttle.succeeded("physicist")
    assert throttle.seconds_refused("physicist") == 0
