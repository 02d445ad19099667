"""The plugin's HTTP filter rules (worker_access.HttpAccess) without Orthanc: who reaches what."""

from __future__ import annotations

import base64

import pytest

from orthanc_rem.worker_access import EXPLORER_LOGIN, HttpAccess

ACCOUNTS = {"admin": "admin password", "orthanc-rem-worker": "worker password"}


def basic(user: str, password: str) -> dict[str, str]:
    # Orthanc lower-cases header names before the filter sees them.
    return {"authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@pytest.fixture
def checked_here() -> HttpAccess:
    configuration = {"AuthenticationEnabled": False, "RegisteredUsers": ACCOUNTS}
    return HttpAccess.from_configuration(configuration, "/rem", "orthanc-rem-worker")


def test_orthanc_routes_need_an_orthanc_account_with_its_password(checked_here: HttpAccess) -> None:
    assert not checked_here.allows("GET", "/instances", {})
    assert not checked_here.allows("GET", "/instances", basic("admin", "wrong"))
    assert not checked_here.allows("GET", "/app/explorer.html", basic("physicist", "our users' password"))
    assert checked_here.allows("DELETE", "/instances/abc", basic("admin", "admin password"))


def test_the_dose_browser_and_the_explorer_login_need_none(checked_here: HttpAccess) -> None:
    for uri in ("/rem", "/rem/", "/rem/ct/", "/rem/api/studies", EXPLORER_LOGIN):
        assert checked_here.allows("GET", uri, {}), uri
    assert not checked_here.allows("GET", "/remote", {})  # a prefix of the name is not the prefix


def test_the_worker_account_keeps_its_routes_only(checked_here: HttpAccess) -> None:
    worker = basic("orthanc-rem-worker", "worker password")
    assert checked_here.allows("GET", "/instances/0a-1b/file", worker)
    assert not checked_here.allows("PUT", "/modalities/evil", worker)
    assert not checked_here.allows("GET", "/rem/api/studies", worker)
    assert not checked_here.allows("GET", "/instances/0a-1b/file", basic("orthanc-rem-worker", "wrong"))


@pytest.mark.parametrize(
    "configuration",
    [
        {"AuthenticationEnabled": True, "RegisteredUsers": ACCOUNTS},  # Orthanc checks them itself
        {"RemoteAccessAllowed": True, "RegisteredUsers": ACCOUNTS},  # the same, by Orthanc's default
        {"AuthenticationEnabled": False},  # nobody has an account: open, as Orthanc is
    ],
)
def test_otherwise_orthanc_decides(configuration: dict[str, object]) -> None:
    access = HttpAccess.from_configuration(configuration, "/rem", None)
    assert access.orthanc_accounts is None and not access.needed
    assert access.allows("GET", "/instances", {})
