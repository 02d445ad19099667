"""Server-side login sessions and the shared failed-login count (migration 0017).

A copied session cookie (a "stolen" one) stands for what an attacker holds: each test checks that
it opens the pages while the session lives and nothing once the session is ended by logout, by an
admin, by a new password or by deactivating the user. Two Flask applications on one database stand
for two processes of the service (Orthanc and a worker, or two nodes).
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from orthanc_rem import cli, login_sessions, users
from orthanc_rem.config import Settings
from orthanc_rem.model import FailedLogin, LoginSession
from orthanc_rem_web.login_throttle import FailedLogins
from web_clients import PASSWORD, add_user, anonymous_client, browser_app, client_with_groups, csrf_token_of, log_in

COOKIE = "rem_session"


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(data_dir=tmp_path, database_url=database_url, queue_url="memory://")


def stolen_copy(client: FlaskClient, settings: Settings, sessions: sessionmaker[Session]) -> FlaskClient:
    """Another browser (another process's app) holding a copy of ``client``'s session cookie."""
    cookie = client.get_cookie(COOKIE, domain="localhost", path="/")
    assert cookie is not None
    thief = anonymous_client(settings, sessions)
    thief.set_cookie(COOKIE, cookie.value, domain="localhost", path="/")
    return thief


def opens_pages(client: FlaskClient) -> bool:
    status = client.get("/ct/").status_code
    assert status in (200, 302)
    return status == 200


def test_logout_ends_the_session_in_every_copy_of_the_cookie(settings, sessions) -> None:
    client = client_with_groups(settings, sessions, ["view"])
    thief = stolen_copy(client, settings, sessions)
    assert opens_pages(thief)  # the copy works while the session lives...
    assert client.post("/logout").status_code == 302
    assert not opens_pages(thief)  # ...and not after logout
    assert not opens_pages(client)


def test_the_database_keeps_only_a_hash_of_the_token(settings, sessions) -> None:
    client = client_with_groups(settings, sessions, ["view"])
    cookie = client.get_cookie(COOKIE, domain="localhost", path="/")
    assert cookie is not None
    with sessions() as session:
        (row,) = session.scalars(select(LoginSession)).all()
        assert re.fullmatch(r"[0-9a-f]{64}", row.token_hash)
        assert row.expires - row.created == dt.timedelta(hours=12)
    # the cookie is signed, not encrypted: the token is in it, its hash is not
    assert row.token_hash not in cookie.value


def test_an_expired_session_opens_nothing(settings, sessions) -> None:
    client = client_with_groups(settings, sessions, ["view"])
    with sessions() as session:
        session.execute(update(LoginSession).values(expires=users.now() - dt.timedelta(seconds=1)))
        session.commit()
    assert not opens_pages(client)


def test_an_admin_logs_a_user_out_everywhere(settings, sessions) -> None:
    admin = client_with_groups(settings, sessions, ["admin"])
    victim = client_with_groups(settings, sessions, ["view"])
    thief = stolen_copy(victim, settings, sessions)
    with sessions() as session:
        (target,) = [u for u in users.list_users(session) if u.group_set == {"view"}]
    page = admin.get(f"/users/{target.id}").get_data(as_text=True)
    assert "1 open login session(s)" in page
    answer = admin.post(f"/users/{target.id}/end-sessions")
    assert answer.status_code == 302
    assert "Ended 1 session(s)" in admin.get(answer.headers["Location"]).get_data(as_text=True)
    assert not opens_pages(thief) and not opens_pages(victim)
    assert admin.get("/users").status_code == 200  # the admin's own session is another one


def test_ending_sessions_needs_admin_and_the_csrf_token(settings, sessions) -> None:
    viewer = client_with_groups(settings, sessions, ["view"])
    with sessions() as session:
        (me,) = [u for u in users.list_users(session) if u.group_set == {"view"}]
    assert viewer.post(f"/users/{me.id}/end-sessions").status_code == 403
    admin = client_with_groups(settings, sessions, ["admin"])
    del admin.environ_base["HTTP_X_CSRF_TOKEN"]
    assert admin.post(f"/users/{me.id}/end-sessions").status_code == 403
    assert opens_pages(viewer)


def test_deactivating_or_a_new_password_ends_the_sessions_at_once(settings, sessions) -> None:
    admin = client_with_groups(settings, sessions, ["admin"])
    for change in (
        {"active": ""},
        {"active": "on", "password": "another password", "password_again": "another password"},
    ):
        victim = client_with_groups(settings, sessions, ["view"])
        thief = stolen_copy(victim, settings, sessions)
        with sessions() as session:
            target = max((u for u in users.list_users(session) if u.group_set == {"view"}), key=lambda u: u.id)
        assert admin.post(f"/users/{target.id}", data={"groups": ["view"], **change}).status_code == 302
        assert not opens_pages(thief), change
        with sessions() as session:
            assert not session.scalars(select(LoginSession).where(LoginSession.user_fk == target.id)).all()


def test_a_removed_user_leaves_no_session(settings, sessions) -> None:
    client_with_groups(settings, sessions, ["view"])
    with sessions() as session:
        (name,) = [u.name for u in users.list_users(session)]
        users.remove_user(session, name)
        session.commit()
        assert session.scalars(select(LoginSession)).all() == []


def test_the_command_line_logs_a_user_out(settings, sessions, capsys, database_url) -> None:
    victim = client_with_groups(settings, sessions, ["view"])
    other_browser = client_with_groups(settings, sessions, ["view"])
    with sessions() as session:
        name = min(u.name for u in users.list_users(session))
    assert cli.main(["user", "logout", name, "--database", database_url]) == 0
    assert f"ended 1 session(s) of user {name}" in capsys.readouterr().out
    assert not opens_pages(victim)
    assert opens_pages(other_browser)  # another user's session is untouched


def test_a_session_row_names_the_user_only_while_they_are_active(sessions) -> None:
    add_user(sessions, "physicist", ["view"])
    now = users.now()
    with sessions() as session:
        user = users.get_user(session, "physicist")
        token = login_sessions.start_session(session, user, dt.timedelta(hours=1), now)
        session.commit()
        assert login_sessions.session_user(session, token, now) is not None
        assert login_sessions.session_user(session, token + "x", now) is None
        assert login_sessions.session_user(session, token, now + dt.timedelta(hours=1)) is None
        user.active = False
        session.commit()
        assert login_sessions.session_user(session, token, now) is None


# --- failed logins shared by every process ------------------------------------------------------------


def test_failed_logins_in_one_process_are_refused_in_another(settings, sessions) -> None:
    add_user(sessions, "physicist", ["view"])
    orthanc, worker = browser_app(settings, sessions), browser_app(settings, sessions)
    first = anonymous_client(settings, sessions, app=orthanc)
    limit = FailedLogins(sessions).limit
    for _ in range(limit):
        token = csrf_token_of(first)
        assert (
            first.post("/login", data={"name": "Physicist", "password": "guess", "csrf_token": token}).status_code
            == 401
        )
    other = anonymous_client(settings, sessions, app=worker)
    token = csrf_token_of(other)
    refused = other.post("/login", data={"name": "physicist", "password": PASSWORD, "csrf_token": token})
    assert refused.status_code == 429
    with sessions() as session:
        assert len(session.scalars(select(FailedLogin)).all()) == limit


def test_a_successful_login_clears_the_count_and_old_failures_are_deleted(sessions) -> None:
    now = [10_000.0]
    throttle = FailedLogins(sessions, limit=3, window_s=60, clock=lambda: now[0])
    throttle.failed("someone else")
    now[0] += 61
    throttle.failed("physicist")
    with sessions() as session:  # the other name's failure left the window and was deleted
        assert [row.name_key for row in session.scalars(select(FailedLogin))] == ["physicist"]
    throttle.succeeded("PHYSICIST")
    with sessions() as session:
        assert session.scalars(select(FailedLogin)).all() == []


def test_logging_in_again_after_logout_works(settings, sessions) -> None:
    add_user(sessions, "physicist", ["view"])
    client = anonymous_client(settings, sessions)
    log_in(client, "physicist", PASSWORD)
    client.post("/logout")
    log_in(client, "physicist", PASSWORD)
    assert opens_pages(client)
