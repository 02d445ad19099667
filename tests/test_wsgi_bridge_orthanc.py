"""The WSGI bridge inside the real Orthanc 1.10.1 with the real orthanc-python 4.0 plugin.

The unit tests use a fake RestOutput; this checks the same Flask app (``create_test_app`` from
test_wsgi_bridge.py) over HTTP, where the facts of orthanc-notes.md §1.3/§2 actually bite: undecoded GET
values, decoded paths, the 3-argument SendHttpStatus, status codes the core refuses (empty reply), Redirect
clearing headers, ``?_method=delete`` tunnelling.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from typing import Any

import pytest

from orthanc_harness import OrthancProcess, requires_orthanc, running_orthanc

pytestmark = [pytest.mark.orthanc, requires_orthanc]

TESTS_DIR = Path(__file__).resolve().parent

# Registered at import time of the plugin script, as the production glue will do.
PLUGIN_SCRIPT = """
import orthanc
from flask import Response

from orthanc_rem_web.wsgi_bridge import make_rest_callback, route_pattern
from test_wsgi_bridge import create_test_app

app = create_test_app()


@app.get("/boom-in-body")
def boom_in_body():
    def chunks():
        yield b"half"
        raise RuntimeError("deliberate failure in the body")

    return Response(chunks(), mimetype="text/plain")


orthanc.RegisterRestCallback(route_pattern("/rem-test"), make_rest_callback(app, "/rem-test"))
"""


@dataclass
class Reply:
    status: int
    headers: Message
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class _KeepRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # hand the 3xx answer to the test instead of following it


def fetch(
    orthanc: OrthancProcess,
    path: str,
    *,
    method: str = "GET",
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> Reply:
    request = urllib.request.Request(orthanc.url(path), data=body, method=method, headers=headers or {})
    opener = urllib.request.build_opener(_KeepRedirects)
    try:
        with opener.open(request, timeout=10) as response:
            return Reply(response.status, response.headers, response.read())
    except urllib.error.HTTPError as error:
        return Reply(error.code, error.headers, error.read())


@pytest.fixture(scope="module")
def orthanc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OrthancProcess]:
    with running_orthanc(
        tmp_path_factory.mktemp("orthanc"),
        python_source=PLUGIN_SCRIPT,
        python_path=[TESTS_DIR],
        # Provoked on purpose by the 500 tests (Flask's error log and the bridge's own log).
        expected_errors=["deliberate failure"],
    ) as process:
        yield process


@pytest.fixture(autouse=True)
def orthanc_log_of_failing_test(orthanc: OrthancProcess) -> Iterator[None]:
    """pytest shows teardown output only for failing tests: the log tail then sits next to the failure."""
    yield
    print(orthanc.log_tail())


def test_percent_encoded_query_is_decoded_once(orthanc: OrthancProcess) -> None:
    reply = fetch(orthanc, "/rem-test/hello?name=J%C3%BCrg+X&q=a%26b")
    assert reply.status == 200
    assert reply.json()["all_args"] == {"name": "Jürg X", "q": "a&b"}


def test_url_for_yields_the_prefixed_url(orthanc: OrthancProcess) -> None:
    reply = fetch(orthanc, "/rem-test/hello")
    assert reply.json()["url"] == "/rem-test/hello"
    assert reply.json()["external"] == orthanc.url("/rem-test/hello")


def test_non_ascii_path(orthanc: OrthancProcess) -> None:
    reply = fetch(orthanc, "/rem-test/patients/J%C3%BCrg%20M%C3%BCller")
    assert reply.json() == {"name": "Jürg Müller", "url": "/rem-test/patients/J%C3%BCrg%20M%C3%BCller"}


def test_post_json(orthanc: OrthancProcess) -> None:
    payload = {"dlp_mgycm": 123.4, "patient": "Jürg"}
    body = json.dumps(payload).encode()
    reply = fetch(
        orthanc, "/rem-test/doses", method="POST", body=body, headers={"Content-Type": "application/json"}
    )
    assert reply.status == 201
    assert reply.headers["Content-Type"] == "application/json"
    assert reply.json() == {"received": payload, "length": len(body)}


def test_cookie_round_trip(orthanc: OrthancProcess) -> None:
    reply = fetch(orthanc, "/rem-test/login")
    cookies = reply.headers.get_all("Set-Cookie")
    assert [cookie.split(";")[0] for cookie in cookies] == ["session=abc", "theme=dark"]
    cookie_header = "; ".join(cookie.split(";")[0] for cookie in cookies)
    assert fetch(orthanc, "/rem-test/whoami", headers={"Cookie": cookie_header}).json() == {
        "session": "abc",
        "theme": "dark",
    }


def test_302_redirect_keeps_location_and_cookie(orthanc: OrthancProcess) -> None:
    reply = fetch(
        orthanc,
        "/rem-test/login",
        method="POST",
        body=b"user=physicist",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert reply.status == 302
    assert reply.headers["Location"] == "/rem-test/whoami"
    assert reply.headers["Set-Cookie"].startswith("session=s3cr3t;")


def test_404(orthanc: OrthancProcess) -> None:
    for path in ("/rem-test/missing", "/rem-test/no/such/page"):
        reply = fetch(orthanc, path)
        assert reply.status == 404
        assert reply.headers["Content-Type"] == "text/html; charset=utf-8"
        assert b"Not Found" in reply.body


def test_500_from_flask(orthanc: OrthancProcess) -> None:
    reply = fetch(orthanc, "/rem-test/boom")
    assert reply.status == 500
    assert b"Internal Server Error" in reply.body


def test_500_from_the_bridge_is_plain_text_not_the_plugin_engine_json(orthanc: OrthancProcess) -> None:
    reply = fetch(orthanc, "/rem-test/boom-in-body")
    assert (reply.status, reply.body) == (500, b"Internal Server Error\n")
    assert reply.headers["Content-Type"] == "text/plain; charset=utf-8"


def test_204_delete(orthanc: OrthancProcess) -> None:
    reply = fetch(orthanc, "/rem-test/studies/1", method="DELETE", headers={"X-Requested-With": "fetch"})
    assert (reply.status, reply.body) == (204, b"")


def test_get_method_tunnelling_cannot_delete(orthanc: OrthancProcess) -> None:
    # Orthanc turns this GET into a DELETE before the plugin sees it (notes §1.3).
    reply = fetch(orthanc, "/rem-test/studies/1?_method=delete")
    assert reply.status == 403


def test_binary_body_and_download(orthanc: OrthancProcess) -> None:
    assert fetch(orthanc, "/rem-test/pixels").body == bytes(range(256))
    reply = fetch(orthanc, "/rem-test/report.csv")
    assert reply.headers["Content-Disposition"] == 'attachment; filename="dose report.csv"'
    assert reply.body.decode() == "patient;dlp_mgycm\nJürg;123.4\n"


def test_304_keeps_the_etag(orthanc: OrthancProcess) -> None:
    etag = fetch(orthanc, "/rem-test/etag").headers["ETag"]
    reply = fetch(orthanc, "/rem-test/etag", headers={"If-None-Match": etag})
    assert (reply.status, reply.headers["ETag"]) == (304, etag)


@pytest.mark.parametrize(("app_status", "sent_status"), [(418, 400), (429, 503), (308, 307)])
def test_status_codes_orthanc_refuses_are_mapped_instead_of_an_empty_reply(
    orthanc: OrthancProcess, app_status: int, sent_status: int
) -> None:
    reply = fetch(orthanc, f"/rem-test/status/{app_status}")
    assert (reply.status, reply.body) == (sent_status, f"status {app_status}".encode())


def test_301_and_405_need_their_dedicated_calls(orthanc: OrthancProcess) -> None:
    moved = fetch(orthanc, "/rem-test/status/301")
    assert (moved.status, moved.headers["Location"]) == (301, "/rem-test/elsewhere")
    not_allowed = fetch(orthanc, "/rem-test/status/405")
    assert (not_allowed.status, not_allowed.headers["Allow"]) == (405, "GET, POST")


def test_the_application_root_and_slashed_routes_do_not_loop(orthanc: OrthancProcess) -> None:
    # Orthanc strips trailing slashes before the plugin sees the path (measured).
    for path, body in [
        ("/rem-test", b"index"),
        ("/rem-test/", b"index"),
        ("/rem-test/studies/", b"study list"),
    ]:
        reply = fetch(orthanc, path)
        assert (reply.status, reply.body) == (200, body)
