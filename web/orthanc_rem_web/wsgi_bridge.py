"""Serve a WSGI application (our Flask UI) from an Orthanc REST callback.

No WSGI bridge exists for the Orthanc Python plugin (orthanc-notes.md §2), so this is our own, built to the
facts measured on Orthanc 1.10.1 + orthanc-python 4.0 (notes §1.3, §1.10, §2). Glue code registers it with::

    orthanc.RegisterRestCallback(route_pattern('/rem'), make_rest_callback(app, '/rem'))

This module never imports ``orthanc``: the ``RestOutput`` arrives as the callback's first argument.

What the bridge has to work around:

* GET values arrive still percent-encoded and the path arrives decoded; POST/PUT/DELETE get no query string.
* The core normalises the path before plugins see it (measured on 1.10.1): ``/rem/studies/`` arrives as
  ``/rem/studies``, ``//`` and ``..`` are collapsed. A Flask route ending in ``/`` (including the root) would
  answer with a redirect to the slashed URL, which comes back without the slash: an endless loop. The bridge
  recognises that redirect and runs the request again with the slash.
* Only statuses in Orthanc's ``HttpStatus`` enum can be sent; anything else (418, 429, 308) makes the core drop
  the connection without a reply. 301 and 405 are refused by ``SendHttpStatus``/``SendHttpStatusCode`` and
  need ``Redirect`` (which clears all headers, so cookies are lost) and ``SendMethodNotAllowed``.
* ``SendHttpStatus`` takes ``(code, str, len)`` in 4.0 but ``(code, bytes)`` from 4.2 on (Docker images).
* A callback that raises or returns without answering gives the client an empty reply or an opaque JSON 500,
  so every failure here ends in a plain-text 500.
* ``GET ...?_method=delete`` (and ``X-HTTP-Method-Override``) is turned into DELETE/PUT by the core: a plain
  link could trigger a state-changing handler, hence ``csrf_header_required``.
* Known limits (notes §2): no multipart uploads, no HEAD/OPTIONS/PATCH, no streaming (answers are buffered),
  duplicate query keys collapse, ``%2F`` in paths becomes ``/``, REMOTE_ADDR is unknown (left empty).
"""

from __future__ import annotations

import io
import logging
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol
from urllib.parse import quote, unquote, urlsplit

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

_log = logging.getLogger(__name__)

# Orthanc's HttpStatus enum (Enumerations.h, 1.10.1); other codes make the core close the connection.
_ORTHANC_STATUSES = frozenset(
    [*range(100, 103), *range(200, 209), 226, *range(300, 306), 307, *range(400, 418)]
    + [*range(422, 425), 426, *range(500, 511)]
)
_STATUS_SUBSTITUTES = {308: 307, 418: 400, 429: 503}
_HOP_BY_HOP = frozenset(
    ["connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer", "trailers"]
    + ["transfer-encoding", "upgrade", "content-length"]  # Orthanc computes Content-Length itself.
)
# A Range request makes send_file answer 206 with a binary body, which 4.0 cannot send (non-200 bodies are
# str); without the header the full file is sent with 200.
_DROPPED_REQUEST_HEADERS = frozenset(["range", "if-range"])
# RFC 3986 query characters without the separators '&' and '#'; '%' keeps Orthanc's undecoded escapes intact.
_QUERY_VALUE_SAFE = "%+!$'()*,;:@/?=~"
_QUERY_KEY_SAFE = _QUERY_VALUE_SAFE.replace("=", "")
_PLAIN_TEXT = "text/plain; charset=utf-8"
_PREFIX = re.compile(r"^(/[A-Za-z0-9._~-]+)+$")

# Which SendHttpStatus signature worked, per RestOutput type: 3 = 4.0 (code, str, len), 2 = >=4.2 (code, bytes).
_STATUS_SIGNATURE: dict[type, int] = {}


class RestOutput(Protocol):
    """The part of ``orthanc.RestOutput`` the bridge uses."""

    def AnswerBuffer(self, data: bytes, mime: str) -> None: ...
    def SetHttpHeader(self, key: str, value: str) -> None: ...
    def SendHttpStatus(self, *args: Any) -> None: ...
    def SendHttpStatusCode(self, status: int) -> None: ...
    def SendMethodNotAllowed(self, allowed: str) -> None: ...
    def Redirect(self, url: str) -> None: ...


def route_pattern(prefix: str) -> str:
    """The regex for ``RegisterRestCallback``: the prefix itself and everything below it (boost regex_match)."""
    _check_prefix(prefix)
    return re.escape(prefix) + "(/.*)?"


def make_rest_callback(
    app: WsgiApp, prefix: str, *, csrf_header_required: bool = True
) -> Callable[..., None]:
    """A REST callback ``callback(output, uri, **request)`` that runs ``app`` mounted at ``prefix``.

    With ``csrf_header_required`` PUT and DELETE must carry an ``X-Requested-With`` header (any value; our
    JavaScript sends it) or get 403: a cross-site page cannot add custom headers without a CORS preflight,
    which Orthanc never grants (OPTIONS is 404), while ``GET ?_method=delete`` needs no header at all.
    POST is not covered: HTML forms (login) must keep working; protect POST handlers with a form token.
    """
    _check_prefix(prefix)

    def callback(output: RestOutput, uri: str, **request: Any) -> None:
        try:
            method = request.get("method", "GET")
            headers = request.get("headers") or {}
            if csrf_header_required and method in ("PUT", "DELETE") and not headers.get("x-requested-with"):
                body = b"PUT and DELETE need an X-Requested-With header.\n"
                _answer(output, 403, [("Content-Type", _PLAIN_TEXT)], body)
                return
            path_info = uri.removeprefix(prefix)
            status, response_headers, body = _run_app(app, _environ(prefix, path_info, request))
            if _redirects_to_trailing_slash(uri, status, response_headers):
                # Orthanc strips trailing slashes, so the client would come back without it, forever.
                status, response_headers, body = _run_app(app, _environ(prefix, path_info + "/", request))
            _answer(output, status, response_headers, body)
        except Exception:  # noqa: BLE001 - any failure must still answer the request
            _log.exception("WSGI bridge failed for %s %s", request.get("method"), uri)
            # If even this raises, the plugin engine still answers with its own JSON 500 (notes §1.3).
            _answer(output, 500, [("Content-Type", _PLAIN_TEXT)], b"Internal Server Error\n")

    return callback


def send_http_status(output: RestOutput, status: int, body: bytes) -> None:
    """``SendHttpStatus`` for both plugin generations (notes §1.1, §1.10 item 6).

    4.0 wants ``(code, str, len)`` and raises TypeError for bytes; 4.2 and later want ``(code, bytes)`` and
    raise TypeError for three arguments. Try the 4.0 form, fall back, remember the winner. In 4.0 the body
    travels as UTF-8 text, so binary bodies of non-200 answers are mangled there.
    """
    signature = _STATUS_SIGNATURE.get(type(output))
    if signature != 2:
        text = body.decode("utf-8", "replace").replace("\x00", "\ufffd")  # "s" format rejects NUL
        try:
            output.SendHttpStatus(status, text, len(text.encode("utf-8")))
        except TypeError:
            if signature == 3:
                raise
        else:
            _STATUS_SIGNATURE[type(output)] = 3
            return
    output.SendHttpStatus(status, body)
    _STATUS_SIGNATURE[type(output)] = 2


def _check_prefix(prefix: str) -> None:
    if not _PREFIX.match(prefix):
        raise ValueError(f"prefix must look like '/rem' or '/rem/ui' (no trailing slash): {prefix!r}")


def _to_wsgi(text: str) -> str:
    """PEP 3333 "bytes as latin-1 str": Orthanc hands us decoded UTF-8 text."""
    return text.encode("utf-8").decode("latin-1")


def _from_wsgi(text: str) -> str:
    """Back to real text: the SDK encodes header strings as UTF-8, so this keeps the app's bytes on the wire."""
    try:
        return text.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return text


def _query_string(get: Mapping[str, str]) -> str:
    """Rebuild the query from Orthanc's ``get`` dict, whose keys and values are still percent-encoded."""
    return "&".join(
        f"{quote(key, safe=_QUERY_KEY_SAFE)}={quote(value, safe=_QUERY_VALUE_SAFE)}"
        for key, value in get.items()
    )


def _environ(prefix: str, path_info: str, request: Mapping[str, Any]) -> dict[str, Any]:
    headers: Mapping[str, str] = request.get("headers") or {}
    body: bytes = request.get("body") or b""
    forwarded_proto = headers.get("x-forwarded-proto", "").lower()
    scheme = forwarded_proto if forwarded_proto in ("http", "https") else "http"
    host, _, port = headers.get("host", "localhost").rpartition(":")
    if not host or not port.isdigit():  # no port, or a bare IPv6 address
        host, port = headers.get("host", "localhost"), ("443" if scheme == "https" else "80")
    environ: dict[str, Any] = {
        "REQUEST_METHOD": request.get("method", "GET"),
        "SCRIPT_NAME": _to_wsgi(prefix),
        "PATH_INFO": _to_wsgi(path_info),
        "QUERY_STRING": _query_string(request.get("get") or {}),
        "SERVER_NAME": host,
        "SERVER_PORT": port,
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "",  # not passed to REST callbacks (notes §2)
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scheme,
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr or io.StringIO(),
        "wsgi.multithread": True,  # REST callbacks run concurrently (notes §1.9)
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    if "body" in request:
        environ["CONTENT_LENGTH"] = str(len(body))
    if "content-type" in headers:
        environ["CONTENT_TYPE"] = _to_wsgi(headers["content-type"])
    for name, value in headers.items():
        if name in ("content-type", "content-length") or name in _DROPPED_REQUEST_HEADERS:
            continue
        environ["HTTP_" + name.upper().replace("-", "_")] = _to_wsgi(value)
    return environ


def _run_app(app: WsgiApp, environ: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
    """Call the app and buffer its whole answer (4.0 cannot stream, notes §1.1)."""
    started: list[tuple[str, list[tuple[str, str]]]] = []
    chunks: list[bytes] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable:
        # Nothing is sent before the app returns, so a later call (error page) simply replaces the first.
        started[:] = [(status, list(headers))]
        return chunks.append

    result = app(environ, start_response)
    try:
        chunks.extend(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    if not started:
        raise RuntimeError("the WSGI application returned without calling start_response")
    status, headers = started[0]
    return int(status.split(None, 1)[0]), headers, b"".join(chunks)


def _redirects_to_trailing_slash(uri: str, status: int, headers: list[tuple[str, str]]) -> bool:
    """Werkzeug's strict-slashes redirect (``/studies`` -> ``/studies/``, also for the bare prefix)."""
    if not 300 <= status < 400:
        return False
    location = next((value for name, value in headers if name.lower() == "location"), "")
    return unquote(urlsplit(_from_wsgi(location)).path) == uri + "/"


def _orthanc_status(status: int) -> int:
    if status in _ORTHANC_STATUSES:
        return status
    if status in _STATUS_SUBSTITUTES:
        return _STATUS_SUBSTITUTES[status]
    return 400 if 400 <= status < 500 else 500


def _answer(output: RestOutput, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
    """Send one WSGI answer through the only RestOutput call that works for its status (notes §1.3)."""
    status = _orthanc_status(status)
    kept = [(name, _from_wsgi(value)) for name, value in headers if name.lower() not in _HOP_BY_HOP]
    values = {name.lower(): value for name, value in kept}
    if status == 301:
        if "location" in values and not any(name.lower() == "set-cookie" for name, _ in kept):
            output.Redirect(values["location"])  # the only way to send 301; it drops every other header
            return
        status = 302  # keep the cookies, lose the permanence
    if status == 405:
        output.SendMethodNotAllowed(values.get("allow", ""))  # clears other headers anyway
        return
    for name, value in kept:
        if not (status == 200 and name.lower() == "content-type"):  # AnswerBuffer sets it (twice otherwise)
            output.SetHttpHeader(name, value)
    if status == 200:
        output.AnswerBuffer(body, values.get("content-type", "application/octet-stream"))
    elif body and status not in (204, 304):
        send_http_status(output, status, body)
    else:
        output.SendHttpStatusCode(status)
