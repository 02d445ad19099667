"""The WSGI bridge against a fake RestOutput that behaves like Orthanc 1.10.1's (orthanc-notes.md §1.3, §2).

The fake answers the way the core does, as measured with a probe plugin on 1.10.1 + orthanc-python 4.0:
301/405 through SendHttpStatus(Code) and unknown status codes are refused (the client gets an empty reply),
Redirect and SendMethodNotAllowed clear the headers set before, AnswerBuffer adds Content-Type itself.
"""

from __future__ import annotations

import io
import json
import re
from typing import Any

import pytest
from flask import Flask, Response, abort, jsonify, redirect, request, send_file, url_for

from orthanc_rem_web.wsgi_bridge import make_rest_callback, route_pattern, send_http_status

PREFIX = "/rem-test"
ORTHANC_STATUSES = {*range(100, 103), *range(200, 209), 226, *range(300, 306), 307, *range(400, 418)} | {
    *range(422, 425),
    426,
    *range(500, 511),
}


class FakeRestOutput:
    """Records what a client of Orthanc would receive; ``refused`` means an empty reply."""

    def __init__(self) -> None:
        self.headers: list[tuple[str, str]] = []
        self.answers: list[tuple[int, bytes]] = []
        self.refused: list[str] = []
        self.status_calls: list[tuple[Any, ...]] = []

    # -- the RestOutput methods the bridge may call --------------------------------------------------------
    def AnswerBuffer(self, data: bytes | str, mime: str) -> None:
        self.headers.append(("Content-Type", mime))
        self._answer(200, data.encode() if isinstance(data, str) else bytes(data))

    def SetHttpHeader(self, key: str, value: str) -> None:
        assert isinstance(key, str) and isinstance(value, str)
        self.headers.append((key, value))

    def SendHttpStatusCode(self, status: int) -> None:
        self._status(status, b"")

    def Redirect(self, url: str) -> None:
        self.headers = [("Location", url)]
        self._answer(301, b"")

    def SendMethodNotAllowed(self, allowed: str) -> None:
        self.headers = [("Allow", allowed)]
        self._answer(405, b"")

    # -- core behaviour -------------------------------------------------------------------------------------
    def _status(self, status: int, body: bytes) -> None:
        if status in (301, 405) or status not in ORTHANC_STATUSES:
            self.refused.append(f"Parameter out of range: {status}")
        else:
            self._answer(status, body)

    def _answer(self, status: int, body: bytes) -> None:
        self.answers.append((status, body))

    # -- what the client sees -------------------------------------------------------------------------------
    @property
    def status(self) -> int:
        assert not self.refused, self.refused
        assert len(self.answers) == 1, f"expected exactly one answer, got {self.answers}"
        return self.answers[0][0]

    @property
    def body(self) -> bytes:
        assert self.status
        return self.answers[0][1]

    def header(self, name: str) -> str | None:
        values = self.header_values(name)
        assert len(values) <= 1, values
        return values[0] if values else None

    def header_values(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key.lower() == name.lower()]

    def json(self) -> Any:
        return json.loads(self.body)


class RestOutput40(FakeRestOutput):
    """orthanc-python 4.0: ``SendHttpStatus(int, str, int)``, bytes rejected with TypeError (notes §1.3)."""

    def SendHttpStatus(self, *args: Any) -> None:
        self.status_calls.append(args)
        if len(args) != 3 or not isinstance(args[1], str) or not isinstance(args[2], int):
            raise TypeError("Bad types for the arguments (3 arguments expected)")
        status, text, length = args
        assert length == len(text.encode("utf-8"))
        self._status(status, text.encode("utf-8"))


class RestOutput42(FakeRestOutput):
    """orthanc-python >= 4.2: ``SendHttpStatus(int, bytes)`` (NEWS 4.2)."""

    def SendHttpStatus(self, *args: Any) -> None:
        self.status_calls.append(args)
        if len(args) != 2 or not isinstance(args[1], bytes):
            raise TypeError("Bad types for the arguments (2 arguments expected)")
        self._status(args[0], args[1])


def create_test_app() -> Flask:
    app = Flask(__name__)

    @app.get("/")
    def index() -> str:
        return "index"

    @app.get("/studies/")
    def studies() -> str:
        return "study list"

    @app.get("/hello")
    def hello() -> Response:
        return jsonify(
            name=request.args.get("name"),
            all_args=request.args.to_dict(),
            url=url_for("hello"),
            external=url_for("hello", _external=True),
        )

    @app.post("/doses")
    def add_dose() -> tuple[Response, int]:
        return jsonify(received=request.get_json(), length=request.content_length), 201

    @app.get("/login")
    def login_form() -> Response:
        response = Response("form")
        response.set_cookie("session", "abc", httponly=True)
        response.set_cookie("theme", "dark")
        return response

    @app.post("/login")
    def login() -> Response:
        response = redirect(url_for("whoami"))
        response.set_cookie("session", "s3cr3t", httponly=True)
        return response

    @app.get("/whoami")
    def whoami() -> Response:
        return jsonify(dict(request.cookies))

    @app.get("/boom")
    def boom() -> str:
        raise RuntimeError("deliberate failure")

    @app.get("/missing")
    def missing() -> str:
        abort(404)

    @app.delete("/studies/<study_id>")
    def delete_study(study_id: str) -> tuple[str, int]:
        return "", 204

    @app.put("/studies/<study_id>")
    def put_study(study_id: str) -> tuple[bytes, int]:
        return request.get_data(), 201

    @app.get("/report.csv")
    def report() -> Response:
        csv = io.BytesIO("patient;dlp_mgycm\nJürg;123.4\n".encode())
        return send_file(csv, mimetype="text/csv", as_attachment=True, download_name="dose report.csv")

    @app.get("/pixels")
    def pixels() -> Response:
        return Response(bytes(range(256)), mimetype="application/octet-stream")

    @app.get("/patients/<name>")
    def patient(name: str) -> Response:
        return jsonify(name=name, url=url_for("patient", name=name))

    @app.get("/status/<int:code>")
    def status(code: int) -> Response:
        response = Response(f"status {code}", status=code, mimetype="text/plain")
        response.headers["Location"] = "/rem-test/elsewhere"
        response.headers["Allow"] = "GET, POST"
        return response

    @app.get("/etag")
    def etag() -> Response:
        response = Response("cached", mimetype="text/plain")
        response.add_etag()
        return response.make_conditional(request)

    return app


@pytest.fixture(scope="module")
def app() -> Flask:
    return create_test_app()


def call(
    app: Any,
    method: str,
    uri: str,
    *,
    get: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    output: FakeRestOutput | None = None,
    **options: Any,
) -> FakeRestOutput:
    """Invoke the callback as Orthanc 4.0 does: ``get`` only for GET, ``body`` only for POST/PUT."""
    output = output if output is not None else RestOutput40()
    # Orthanc normalises the path: no trailing slash, no empty segments (measured on 1.10.1).
    uri = "/" + "/".join(segment for segment in uri.split("/") if segment)
    request: dict[str, Any] = {
        "method": method,
        "groups": (uri[len(PREFIX) :] or None,),
        "headers": {"host": "127.0.0.1:8042", **(headers or {})},
    }
    if method == "GET":
        request["get"] = get or {}
    if method in ("POST", "PUT"):
        request["body"] = body or b""
    make_rest_callback(app, PREFIX, **options)(output, uri, **request)
    return output


def test_route_pattern_matches_the_prefix_and_below_only() -> None:
    pattern = route_pattern(PREFIX)
    assert re.fullmatch(pattern, "/rem-test")
    assert re.fullmatch(pattern, "/rem-test/hello/x")
    assert not re.fullmatch(pattern, "/rem-testing")
    assert not re.fullmatch(pattern, "/app/rem-test")


@pytest.mark.parametrize("prefix", ["rem", "/rem/", "/", "/rem(/.*)?", ""])
def test_prefix_must_be_a_plain_path(prefix: str) -> None:
    with pytest.raises(ValueError):
        route_pattern(prefix)


def test_get_values_arrive_percent_encoded_and_are_decoded_once(app: Flask) -> None:
    # Orthanc leaves GET values undecoded (notes §1.3): ?name=J%C3%BCrg+X arrives as 'J%C3%BCrg+X'.
    output = call(app, "GET", "/rem-test/hello", get={"name": "J%C3%BCrg+X", "q": "a%26b", "raw": "x y"})
    assert output.status == 200
    assert output.json()["all_args"] == {"name": "Jürg X", "q": "a&b", "raw": "x y"}


def test_script_name_is_the_prefix_so_url_for_yields_prefixed_urls(app: Flask) -> None:
    output = call(app, "GET", "/rem-test/hello")
    assert output.json()["url"] == "/rem-test/hello"
    assert output.json()["external"] == "http://127.0.0.1:8042/rem-test/hello"


def test_forwarded_proto_sets_the_url_scheme(app: Flask) -> None:
    output = call(
        app, "GET", "/rem-test/hello", headers={"x-forwarded-proto": "https", "host": "rem.example"}
    )
    assert output.json()["external"] == "https://rem.example/rem-test/hello"


def test_the_prefix_is_the_application_root(app: Flask) -> None:
    # Orthanc strips the trailing slash of /rem-test/, so Werkzeug's redirect to it would loop (measured).
    assert call(app, "GET", "/rem-test").body == b"index"
    assert call(app, "GET", "/rem-test/").body == b"index"


def test_routes_ending_in_a_slash_are_served_without_a_redirect_loop(app: Flask) -> None:
    output = call(app, "GET", "/rem-test/studies/")
    assert (output.status, output.body) == (200, b"study list")


def test_other_redirects_to_a_slashed_url_are_left_alone() -> None:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("302 Found", [("Location", "/rem-test/elsewhere/")])
        return [b""]

    output = call(app, "GET", "/rem-test/x")
    assert (output.status, output.header("Location")) == (302, "/rem-test/elsewhere/")


def test_json_post_reaches_the_app_and_201_comes_back_as_text(app: Flask) -> None:
    payload = {"dlp_mgycm": 123.4, "patient": "Jürg"}
    body = json.dumps(payload).encode()
    output = call(app, "POST", "/rem-test/doses", headers={"content-type": "application/json"}, body=body)
    assert output.status == 201
    assert output.header("Content-Type") == "application/json"
    assert output.json() == {"received": payload, "length": len(body)}


def test_answer_200_uses_answer_buffer_without_a_second_content_type(app: Flask) -> None:
    output = call(app, "GET", "/rem-test/hello")
    # Setting Content-Type via SetHttpHeader as well gives two Content-Type headers (measured).
    assert output.header_values("Content-Type") == ["application/json"]
    assert output.header("Content-Length") is None


def test_cookies_reach_the_app(app: Flask) -> None:
    output = call(app, "GET", "/rem-test/whoami", headers={"cookie": "session=abc; theme=dark"})
    assert output.json() == {"session": "abc", "theme": "dark"}


def test_every_set_cookie_is_sent(app: Flask) -> None:
    output = call(app, "GET", "/rem-test/login")
    cookies = output.header_values("Set-Cookie")
    assert len(cookies) == 2
    assert cookies[0].startswith("session=abc;") and "HttpOnly" in cookies[0]
    assert cookies[1].startswith("theme=dark;")


def test_302_keeps_location_and_cookie(app: Flask) -> None:
    output = call(
        app, "POST", "/rem-test/login", headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert output.status == 302
    assert output.header("Location") == "/rem-test/whoami"
    assert output.header("Set-Cookie").startswith("session=s3cr3t;")


def test_abort_404(app: Flask) -> None:
    output = call(app, "GET", "/rem-test/missing")
    assert output.status == 404
    assert b"Not Found" in output.body


def test_unknown_route_is_404(app: Flask) -> None:
    assert call(app, "GET", "/rem-test/no/such/page").status == 404


def test_flask_exception_gives_flasks_500_page(app: Flask) -> None:
    output = call(app, "GET", "/rem-test/boom")
    assert output.status == 500
    assert b"Internal Server Error" in output.body


def test_exception_escaping_the_app_gives_a_plain_text_500() -> None:
    def broken_app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        raise RuntimeError("deliberate failure")

    output = call(broken_app, "GET", "/rem-test/x")
    assert output.status == 500
    assert output.header("Content-Type") == "text/plain; charset=utf-8"
    assert output.body == b"Internal Server Error\n"


def test_exception_while_iterating_the_body_gives_a_plain_text_500() -> None:
    def streaming_app(environ: dict[str, Any], start_response: Any) -> Any:
        start_response("200 OK", [("Content-Type", "text/plain")])
        yield b"half"
        raise RuntimeError("deliberate failure")

    output = call(streaming_app, "GET", "/rem-test/x")
    assert (output.status, output.body) == (500, b"Internal Server Error\n")


def test_app_that_never_starts_a_response_gives_500() -> None:
    output = call(lambda environ, start_response: [b"x"], "GET", "/rem-test/x")
    assert output.status == 500


def test_204_is_sent_without_body(app: Flask) -> None:
    output = call(app, "DELETE", "/rem-test/studies/1", headers={"x-requested-with": "fetch"})
    assert (output.status, output.body) == (204, b"")


def test_304_keeps_the_etag(app: Flask) -> None:
    etag = call(app, "GET", "/rem-test/etag").header("ETag")
    output = call(app, "GET", "/rem-test/etag", headers={"if-none-match": etag})
    assert (output.status, output.body) == (304, b"")
    assert output.header("ETag") == etag


def test_download_keeps_content_disposition(app: Flask) -> None:
    output = call(app, "GET", "/rem-test/report.csv")
    assert output.status == 200
    assert output.header("Content-Disposition") == 'attachment; filename="dose report.csv"'
    assert output.header("Content-Type").startswith("text/csv")
    assert output.body.decode() == "patient;dlp_mgycm\nJürg;123.4\n"


def test_range_requests_get_the_whole_file_because_206_bodies_cannot_be_binary_in_4_0(app: Flask) -> None:
    output = call(app, "GET", "/rem-test/report.csv", headers={"range": "bytes=0-3"})
    assert output.status == 200
    assert output.body.startswith(b"patient;")


def test_binary_body_round_trips(app: Flask) -> None:
    output = call(app, "GET", "/rem-test/pixels")
    assert output.body == bytes(range(256))
    put = call(app, "PUT", "/rem-test/studies/1", headers={"x-requested-with": "x"}, body=bytes(range(256)))
    # A non-200 body travels as a NUL-free str in 4.0: only UTF-8 text survives, the rest becomes U+FFFD.
    assert put.status == 201
    assert put.body == bytes(range(256)).decode("utf-8", "replace").replace("\x00", "\ufffd").encode()


def test_binary_non_200_body_survives_with_the_4_2_signature(app: Flask) -> None:
    put = call(
        app,
        "PUT",
        "/rem-test/studies/1",
        headers={"x-requested-with": "x"},
        body=bytes(range(256)),
        output=RestOutput42(),
    )
    assert (put.status, put.body) == (201, bytes(range(256)))


def test_non_ascii_path_is_re_encoded_for_wsgi(app: Flask) -> None:
    # Orthanc decodes the path (notes §1.3); PEP 3333 wants it as UTF-8 bytes in a latin-1 str.
    output = call(app, "GET", "/rem-test/patients/Jürg Müller")
    assert output.json() == {"name": "Jürg Müller", "url": "/rem-test/patients/J%C3%BCrg%20M%C3%BCller"}


def test_non_ascii_response_header_keeps_its_utf8_bytes() -> None:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response(
            "200 OK", [("Content-Type", "text/plain"), ("X-Patient", "Jürg".encode().decode("latin-1"))]
        )
        return [b"x"]

    # The SDK encodes header strings as UTF-8, so the bridge hands over real text.
    assert call(app, "GET", "/rem-test/x").header("X-Patient") == "Jürg"


def test_hop_by_hop_headers_are_dropped() -> None:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response(
            "200 OK", [("Content-Type", "text/plain"), ("Connection", "close"), ("Content-Length", "1")]
        )
        return [b"x"]

    output = call(app, "GET", "/rem-test/x")
    assert output.header("Connection") is None and output.header("Content-Length") is None


@pytest.mark.parametrize(
    ("app_status", "sent_status"), [(418, 400), (429, 503), (308, 307), (499, 400), (599, 500)]
)
def test_status_codes_orthanc_does_not_know_are_mapped(app: Flask, app_status: int, sent_status: int) -> None:
    # Unknown codes make Orthanc drop the connection without a reply (notes §1.3).
    output = call(app, "GET", f"/rem-test/status/{app_status}")
    assert output.status == sent_status
    assert output.body == f"status {app_status}".encode()


def test_307_keeps_location(app: Flask) -> None:
    output = call(app, "GET", "/rem-test/status/307")
    assert (output.status, output.header("Location")) == (307, "/rem-test/elsewhere")


def test_301_goes_through_redirect_which_is_the_only_way_to_send_it(app: Flask) -> None:
    output = call(app, "GET", "/rem-test/status/301")
    assert (output.status, output.headers) == (301, [("Location", "/rem-test/elsewhere")])


def test_301_with_a_cookie_becomes_302_because_redirect_clears_headers() -> None:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response(
            "301 Moved Permanently", [("Location", "/rem-test/new"), ("Set-Cookie", "a=1; Path=/")]
        )
        return [b""]

    output = call(app, "GET", "/rem-test/old")
    assert (output.status, output.header("Location"), output.header("Set-Cookie")) == (
        302,
        "/rem-test/new",
        "a=1; Path=/",
    )


def test_405_uses_send_method_not_allowed_with_the_allow_header(app: Flask) -> None:
    output = call(app, "GET", "/rem-test/status/405")
    assert (output.status, output.header("Allow")) == (405, "GET, POST")


def test_flask_405_for_a_wrong_method(app: Flask) -> None:
    output = call(app, "POST", "/rem-test/hello")
    assert output.status == 405
    assert set(output.header("Allow").split(", ")) >= {"GET"}


@pytest.mark.parametrize("method", ["PUT", "DELETE"])
def test_put_and_delete_without_x_requested_with_are_refused(app: Flask, method: str) -> None:
    # GET /rem-test/studies/1?_method=delete reaches us as a DELETE without any custom header (notes §1.3).
    output = call(app, method, "/rem-test/studies/1")
    assert output.status == 403
    assert output.header("Content-Type") == "text/plain; charset=utf-8"


def test_csrf_header_requirement_can_be_switched_off(app: Flask) -> None:
    assert call(app, "DELETE", "/rem-test/studies/1", csrf_header_required=False).status == 204


def test_post_needs_no_csrf_header_so_html_forms_work(app: Flask) -> None:
    assert call(app, "POST", "/rem-test/login").status == 302


def test_remote_addr_is_unknown() -> None:
    seen: dict[str, Any] = {}

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        seen.update(environ)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b""]

    call(
        app, "POST", "/rem-test/a", headers={"content-type": "text/plain", "content-length": "2"}, body=b"hi"
    )
    assert seen["REMOTE_ADDR"] == ""
    assert (seen["CONTENT_TYPE"], seen["CONTENT_LENGTH"]) == ("text/plain", "2")
    assert "HTTP_CONTENT_TYPE" not in seen and "HTTP_CONTENT_LENGTH" not in seen
    assert (seen["SERVER_NAME"], seen["SERVER_PORT"]) == ("127.0.0.1", "8042")


def test_send_http_status_shim_learns_the_signature_once() -> None:
    class Fresh42(RestOutput42):
        pass

    first, second = Fresh42(), Fresh42()
    send_http_status(first, 404, b"nope")
    send_http_status(second, 404, b"nope")
    assert [len(args) for args in first.status_calls] == [3, 2]  # tried 4.0's form, fell back
    assert [len(args) for args in second.status_calls] == [2]  # remembered
    assert second.answers == [(404, b"nope")]


def test_send_http_status_uses_the_4_0_form_with_utf8_length() -> None:
    output = RestOutput40()
    send_http_status(output, 404, "Jürg nicht gefunden".encode())
    assert output.status_calls == [(404, "Jürg nicht gefunden", len("Jürg nicht gefunden".encode()))]
