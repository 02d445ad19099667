"""Our login against a real Orthanc 1.10.1: no double login, and Orthanc's REST API no more open
than before (issue 7, README "Users and permissions").

The shipped setup is reproduced: Orthanc's own authentication off, its accounts listed in
``RegisteredUsers`` and checked by our plugin's HTTP filter everywhere but under ``/rem``, where our
login applies. The attacks are the issue's: a dose-browser session must not reach ``/instances``
or ``/tools/find``, ``GET /instances/<id>?_method=delete`` must delete nothing, a ``text/plain``
POST to ``/tools/find`` without Orthanc's account must be refused.
"""

from __future__ import annotations

import base64
import html
import json
import os
import re
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import pydicom
import pytest
from sqlalchemy import select

from browser_session import chromium_page, log_in
from orthanc_harness import REPO_ROOT, OrthancProcess, orthanc_rem_section, running_orthanc
from orthanc_rem import database, model, users

pytestmark = pytest.mark.orthanc

CT_REPORT = "CT-RDSR-Siemens-Multi-1.dcm"


def plugin_config(
    tmp_path: Any, admin_password: str, worker_password: str, *, orthanc_authentication: bool
) -> dict[str, Any]:
    return {
        "AuthenticationEnabled": orthanc_authentication,
        "RegisteredUsers": {"admin": admin_password, "orthanc-rem-worker": worker_password},
        "OrthancRem": orthanc_rem_section(
            tmp_path, workers=1, OrthancAuthorization=f"orthanc-rem-worker:{worker_password}"
        ),
    }


@pytest.fixture
def shipped(tmp_path):  # type: ignore[no-untyped-def]
    admin, worker = "admin-" + os.urandom(6).hex(), "worker-" + os.urandom(6).hex()
    config = plugin_config(tmp_path, admin, worker, orthanc_authentication=False)
    script = REPO_ROOT / "plugin" / "orthanc_rem_plugin.py"
    # A test that ends within seconds stops the workers while they still import (SIGINT).
    with running_orthanc(
        tmp_path / "orthanc", python_script=script, config=config, expected_errors=["KeyboardInterrupt"]
    ) as orthanc:
        yield orthanc, worker


def call(
    orthanc: OrthancProcess,
    method: str,
    path: str,
    *,
    account: tuple[str, str] | None = None,
    cookie: str | None = None,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, bytes, Any]:
    """One request with exactly the credentials given (the harness would add its own)."""
    request = urllib.request.Request(orthanc.url(path), data=body, method=method, headers=dict(headers or {}))
    if account:
        request.add_header("Authorization", "Basic " + base64.b64encode(":".join(account).encode()).decode())
    if cookie:
        request.add_header("Cookie", cookie)

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any, **kwargs: Any) -> None:
            return None

    try:
        with urllib.request.build_opener(NoRedirect).open(request, timeout=30) as response:
            return response.status, response.read(), response.headers
    except urllib.error.HTTPError as error:
        return error.code, error.read(), error.headers


def store(orthanc: OrthancProcess, corpus) -> tuple[str, pydicom.Dataset]:  # type: ignore[no-untyped-def]
    path = corpus(CT_REPORT)
    instance = json.loads(orthanc.request("POST", "/instances", path.read_bytes()))["ID"]
    return instance, pydicom.dcmread(path, stop_before_pixels=True)


def test_orthanc_rest_needs_an_orthanc_account_and_rem_our_login(shipped, corpus) -> None:
    orthanc, worker_password = shipped
    admin = ("admin", orthanc.dose_browser_password)
    instance, _ = store(orthanc, corpus)

    # Orthanc's own API and Explorer: an Orthanc account, as before.
    assert call(orthanc, "GET", "/system")[0] == 403
    assert call(orthanc, "GET", "/app/explorer.html")[0] == 403
    assert call(orthanc, "GET", "/system", account=("admin", "wrong"))[0] == 403
    assert call(orthanc, "GET", "/system", account=admin)[0] == 200

    # The dose pages: our login, no Orthanc account needed.
    status, _, headers = call(orthanc, "GET", "/rem/ct/")
    assert status == 302 and "/rem/login?next=" in headers["Location"]
    cookie = orthanc.log_in()
    assert call(orthanc, "GET", "/rem/ct/", cookie=cookie)[0] == 200

    # A dose-browser session opens nothing of Orthanc's.
    assert call(orthanc, "GET", "/instances", cookie=cookie)[0] == 403
    find = json.dumps({"Level": "Instance", "Query": {}}).encode()
    assert (
        call(orthanc, "POST", "/tools/find", cookie=cookie, body=find, headers={"Content-Type": "text/plain"})[0] == 403
    )
    assert call(orthanc, "POST", "/tools/find", body=find, headers={"Content-Type": "text/plain"})[0] == 403
    assert call(orthanc, "GET", f"/instances/{instance}?_method=delete", cookie=cookie)[0] == 403
    assert call(orthanc, "GET", f"/instances/{instance}", account=admin)[0] == 200  # still there

    # Climbing out of /rem does not reach Orthanc's routes.
    for path in ("/rem/../instances", "/rem/%2e%2e/instances", "/rem/..%2finstances"):
        status, body, _ = call(orthanc, "GET", path, cookie=cookie)
        assert instance.encode() not in body, (path, status)

    # Our users' Basic credentials open our API, never Orthanc's.
    with database.session_factory(orthanc.config["OrthancRem"]["Database"])() as session:
        users.add_user(session, "script", "script password", ["view"])
        session.commit()
    script = ("script", "script password")
    assert call(orthanc, "GET", "/rem/api/studies", account=script)[0] == 200
    assert call(orthanc, "GET", "/rem/api/rejected", account=script)[0] == 403
    assert call(orthanc, "GET", "/instances", account=script)[0] == 403

    # The worker account: its routes only, as before.
    worker = ("orthanc-rem-worker", worker_password)
    assert call(orthanc, "GET", "/instances", account=worker)[0] == 200
    assert call(orthanc, "GET", "/patients", account=worker)[0] == 403
    assert call(orthanc, "GET", "/rem/api/studies", account=worker)[0] == 403


def test_explorer_login_asks_the_browser_for_an_orthanc_account(shipped) -> None:
    orthanc, worker_password = shipped
    status, _, headers = call(orthanc, "GET", "/orthanc-explorer-login")
    assert status == 401 and headers["WWW-Authenticate"].startswith("Basic")
    assert call(orthanc, "GET", "/orthanc-explorer-login", account=("orthanc-rem-worker", worker_password))[0] in (
        401,
        403,
    )
    status, _, headers = call(
        orthanc, "GET", "/orthanc-explorer-login", account=("admin", orthanc.dose_browser_password)
    )
    assert status in (301, 302, 303, 307) and headers["Location"].endswith("app/explorer.html")


def test_with_orthancs_own_authentication_every_request_needs_its_account_first(tmp_path) -> None:
    """Why the shipped setup turns it off: Orthanc 1.10.1 answers 401 before any plugin filter."""
    config = plugin_config(tmp_path, "admin-pw-1", "worker-pw-1", orthanc_authentication=True)
    script = REPO_ROOT / "plugin" / "orthanc_rem_plugin.py"
    with running_orthanc(
        tmp_path / "orthanc", python_script=script, config=config, expected_errors=["KeyboardInterrupt"]
    ) as orthanc:
        assert call(orthanc, "GET", "/rem/login")[0] == 401
        # With Orthanc's account (which is also our admin's, as scripts/serve sets them) all works.
        assert call(orthanc, "GET", "/rem/api/studies", account=("admin", "admin-pw-1"))[0] == 200


def test_log_in_with_chromium_and_see_the_ct_list(shipped, corpus) -> None:
    orthanc, _ = shipped
    _, dataset = store(orthanc, corpus)
    sessions = database.session_factory(orthanc.config["OrthancRem"]["Database"])

    def extracted() -> bool:
        with sessions() as session:
            return session.scalar(select(model.Study.id)) is not None

    orthanc.wait_until(extracted, timeout=90, message="the CT report was not extracted")
    with chromium_page() as page:
        page.goto(orthanc.url("/rem/ct/"))
        assert "/rem/login" in page.url
        log_in(page, orthanc, "/rem/ct/")
        assert page.url.endswith("/rem/ct/")
        text = page.inner_text("main")
        assert str(dataset.StudyDescription) in text
        assert page.get_by_role("button", name="Log out").is_visible()
        page.get_by_role("button", name="Log out").click()
        page.wait_for_load_state()
        assert "/rem/login" in page.url


def test_explorer_links_go_through_the_explorer_login_to_the_instance(shipped, corpus) -> None:
    """A pid/admin user's "open in Orthanc Explorer" asks for Orthanc's account only if the browser
    holds none, then lands on the instance (the id is Orthanc's, from its answer to the upload)."""
    orthanc, _ = shipped
    instance, _ = store(orthanc, corpus)
    sessions = database.session_factory(orthanc.config["OrthancRem"]["Database"])

    def extracted() -> int | None:
        with sessions() as session:
            return session.scalar(select(model.Study.id))

    study_id = orthanc.wait_until(extracted, timeout=90, message="the CT report was not extracted")
    headers = orthanc.dose_browser_headers()
    page = call(orthanc, "GET", f"/rem/ct/{study_id}", cookie=headers["Cookie"])[1].decode()
    (href,) = {h for h in re.findall(r'href="([^"]*explorer[^"]*)"', page)}
    target = urllib.parse.urljoin(f"/rem/ct/{study_id}", html.unescape(href))
    assert target == f"/orthanc-explorer-login?instance={instance}"
    assert call(orthanc, "GET", target)[0] == 401  # no Orthanc account yet: the browser asks for one
    status, _, answer = call(orthanc, "GET", target, account=("admin", orthanc.dose_browser_password))
    assert status in (301, 302, 303, 307)
    assert answer["Location"].endswith(f"app/explorer.html#instance?uuid={instance}")
    for hostile in ("https://evil.example/", "x#<script>", "../../tools/reset"):
        status, _, answer = call(
            orthanc, "GET", f"/orthanc-explorer-login?instance={urllib.parse.quote(hostile)}",
            account=("admin", orthanc.dose_browser_password),
        )  # fmt: skip
        assert answer["Location"].endswith("app/explorer.html"), hostile
