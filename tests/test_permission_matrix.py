"""Every route of the dose browser × anonymous, each group alone, no group and every group.

Routes are read from ``app.url_map``, so a page or endpoint added later is checked without
editing this file; it must declare its group with ``permissions.require`` (or ``public``).
What each identity may do follows from the declaration and the manual's rule that a group does
not imply another (admin included).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.routing import IntegerConverter, Rule

from orthanc_rem import users
from orthanc_rem.config import Settings
from orthanc_rem_web.permissions import REQUIRED_GROUPS
from orthanc_rem_web.query import STUDY_ID
from web_clients import anonymous_client, browser_app, client_with_groups, csrf_token_of

#: Endpoints without a permission of their own: Flask's static files (none are served today).
#: Static files (the app's and the chart panel's scripts and styles) need no permission.
UNDECLARED_ALLOWED = {"static", "charts_page.static"}
#: Identities: None is anonymous; the rest are users in exactly these groups.
IDENTITIES: list[tuple[str, frozenset[str] | None]] = [
    ("anonymous", None),
    ("no group", frozenset()),
    *[(group, frozenset({group})) for group in users.GROUPS],
    ("every group", frozenset(users.GROUPS)),
]
UNSAFE = ("POST", "PUT", "PATCH", "DELETE")


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(data_dir=tmp_path, database_url=database_url, queue_url="memory://")


@pytest.fixture
def app(settings: Settings, sessions: sessionmaker[Session]) -> Flask:
    return browser_app(settings, sessions)


def declared(app: Flask, rule: Rule) -> Any:
    return getattr(app.view_functions[rule.endpoint], REQUIRED_GROUPS, "undeclared")


def routes(app: Flask) -> list[tuple[Rule, str]]:
    return [
        (rule, method)
        for rule in app.url_map.iter_rules()
        if rule.endpoint not in UNDECLARED_ALLOWED
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})
    ]


def url(app: Flask, rule: Rule) -> str:
    """The route's URL with an id no row has (a permitted user then gets 404, never a change)."""
    values = {
        name: 999999 if isinstance(converter, IntegerConverter) else "no-such-thing"
        for name, converter in rule._converters.items()
    }
    return app.url_map.bind("localhost").build(rule.endpoint, values)


def test_every_route_declares_its_permission(app: Flask) -> None:
    undeclared = [
        rule.rule
        for rule in app.url_map.iter_rules()
        if rule.endpoint not in UNDECLARED_ALLOWED and declared(app, rule) == "undeclared"
    ]
    assert undeclared == []


def test_the_matrix(app: Flask, settings: Settings, sessions: sessionmaker[Session]) -> None:
    failures = []
    for label, groups in IDENTITIES:
        if groups is None:
            client = anonymous_client(settings, sessions, app=app)
            client.environ_base["HTTP_X_CSRF_TOKEN"] = csrf_token_of(client)
        else:
            client = client_with_groups(settings, sessions, groups, app=app)
        logout_last = []
        for rule, method in routes(app):
            if rule.endpoint == "auth.logout" and groups is not None:
                logout_last.append((rule, method))
                continue
            problem = check(app, client, rule, method, groups)
            if problem:
                failures.append(f"{label}: {method} {rule.rule}: {problem}")
        for rule, method in logout_last:
            problem = check(app, client, rule, method, groups)
            if problem:
                failures.append(f"{label}: {method} {rule.rule}: {problem}")
    assert failures == []


def check(app: Flask, client: Any, rule: Rule, method: str, groups: frozenset[str] | None) -> str | None:
    required = declared(app, rule)
    path = url(app, rule)
    reply = client.open(path, method=method)
    status = reply.status_code
    to_login = status == 302 and "/login" in reply.headers.get("Location", "")
    if required is None:  # public
        return f"public route answered {status}" if status == 403 or to_login else None
    if groups is None:
        is_api = rule.rule.startswith("/api")
        if method == "GET" and not is_api:
            return None if to_login else f"anonymous page: expected a redirect to login, got {status}"
        return None if status == 401 else f"anonymous: expected 401, got {status}"
    if set(required) <= groups:
        if rule.endpoint == "auth.logout":  # logging out sends to the login page
            return None if to_login else f"logout answered {status}"
        return f"permitted user answered {status}" if status in (401, 403) or to_login else None
    return None if status == 403 else f"user without {set(required) - groups}: expected 403, got {status}"


def test_the_declared_groups_of_the_existing_pages(app: Flask) -> None:
    """Dose pages and data need view; failed imports and settings need admin (issue 7)."""
    by_path = {rule.rule: declared(app, rule) for rule in app.url_map.iter_rules()}
    for path in ("/", "/ct/", "/rf/", "/dx/", "/mg/", f"/ct/{STUDY_ID}", "/api/studies", f"/api/studies/{STUDY_ID}"):
        assert by_path[path] == (users.VIEW,), path
    for path in ("/rejected", "/settings", "/api/rejected", "/api/settings", "/users"):
        assert by_path[path] == (users.ADMIN,), path
    assert by_path["/login"] is None
