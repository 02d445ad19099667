"""What the workers' Orthanc account may do: read objects and changes, delete objects, nothing else.

Workers parse untrusted DICOM, so they get the least Orthanc 1.10.1 allows. A plugin token
(``GenerateRestApiAuthorizationToken``) grants the whole REST API and bypasses the HTTP filter
(notes §1.4, §9: it answered ``DELETE /instances/…`` and ``PUT /modalities/…``). A registered
user (``RegisteredUsers``, HTTP Basic) does go through the filter, so with a worker account the
plugin installs an incoming-HTTP filter that limits that user to the routes below. Orthanc
itself has no per-user rights, and the filter sees the user only as the ``Authorization`` header,
which Orthanc has already checked when ``AuthenticationEnabled`` is true.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping

#: (method, path) the workers use: the object and its SOP Class UID metadata (tasks.py), the
#: instance list and the change log (recovery.py), and deleting an extracted object (the
#: delete-after-processing policy). The path is Orthanc's, without the query string.
#: Query-retrieve (orthanc_rem.qr) adds: its own modalities only (``remqr-`` prefix: declare,
#: forget, C-ECHO, C-FIND, C-MOVE), the answers of its queries, Orthanc's AE title and port
#: (``/system``) and finding a retrieved instance by SOP Instance UID (``/tools/lookup``).
_QR_MODALITY = r"/modalities/remqr-[A-Za-z0-9_.-]+"
WORKER_ROUTES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("GET", re.compile(r"/instances")),
    ("GET", re.compile(r"/instances/[0-9a-f-]+/file")),
    ("GET", re.compile(r"/instances/[0-9a-f-]+/metadata(/[A-Za-z0-9]+)?")),
    ("GET", re.compile(r"/changes")),
    ("DELETE", re.compile(r"/instances/[0-9a-f-]+")),
    ("GET", re.compile(r"/system")),
    ("PUT", re.compile(_QR_MODALITY)),
    ("DELETE", re.compile(_QR_MODALITY)),
    ("POST", re.compile(_QR_MODALITY + r"/(echo|query|move)")),
    ("GET", re.compile(r"/queries/[0-9a-f-]+/answers")),
    ("DELETE", re.compile(r"/queries/[0-9a-f-]+")),
    ("POST", re.compile(r"/tools/lookup")),
)


def account_user(authorization: str | None) -> str | None:
    """The user name of a ``user:password`` (or ``Basic …``) authorisation; None for a token."""
    if not authorization or authorization.startswith("Bearer "):
        return None
    if authorization.startswith("Basic "):
        return basic_user({"authorization": authorization})
    user, separator, _password = authorization.partition(":")
    return user if separator else None


def basic_user(headers: Mapping[str, str]) -> str | None:
    """The user of an HTTP Basic ``authorization`` header (Orthanc lower-cases header names)."""
    value = headers.get("authorization", "")
    scheme, _, encoded = value.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, separator, _password = decoded.partition(":")
    return user if separator else None


def worker_may(method: str, uri: str) -> bool:
    return any(method == allowed and pattern.fullmatch(uri) for allowed, pattern in WORKER_ROUTES)


def allows(worker_user: str, method: str, uri: str, headers: Mapping[str, str]) -> bool:
    """The filter's answer: any other user as Orthanc decides, the worker account only its routes."""
    return basic_user(headers) != worker_user or worker_may(method, uri)
