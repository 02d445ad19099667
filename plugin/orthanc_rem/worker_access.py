"""Who may reach what through Orthanc's HTTP server: the plugin's one incoming-HTTP filter.

Two jobs share the filter (Orthanc runs every filter on every request, and each costs the GIL):

* the workers' Orthanc account may read objects and changes and delete objects, nothing else;
* with ``AuthenticationEnabled: false`` and ``RegisteredUsers`` listed (our shipped
  configuration), the filter checks Orthanc's accounts itself on every URI outside the dose
  browser's prefix, and lets requests to the prefix through without them so that our own login
  applies there (issue 7: one login for the dose pages, and browsers of the dose pages hold no
  credentials Orthanc's REST API accepts). Orthanc 1.10.1 refuses an unauthenticated request
  with 401 before any filter runs when its own authentication is on (HttpServer.cpp; a filter
  may grant that only from 1.12.9), so this is the only way to have both. The request to
  :data:`EXPLORER_LOGIN` asks the browser for an Orthanc account (a filter can only answer 403,
  which makes no browser prompt) and sends it on to Orthanc Explorer.

Worker account:

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
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

#: (method, path) the workers use: the object and its SOP Class UID metadata (tasks.py), the
#: instance list and the change log (recovery.py), and deleting an extracted object (the
#: delete-after-processing policy). The path is Orthanc's, without the query string.
#: Query-retrieve (orthanc_rem.qr) adds: its own modalities only (``remqr-`` prefix: declare,
#: forget, C-ECHO, C-FIND, C-MOVE), the answers of its queries, Orthanc's AE title and port
#: (``/system``) and finding a retrieved instance by SOP Instance UID (``/tools/lookup``).
#: Legacy CT dose screens add a study and its series (read) and ``POST /instances`` (store back).
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
    # Legacy CT dose screens (orthanc_rem.toshiba_ct): a stable study's series and instances, and
    # storing the RDSR read off the screen.
    ("GET", re.compile(r"/studies/[0-9a-f-]+")),
    ("GET", re.compile(r"/series/[0-9a-f-]+")),
    ("POST", re.compile(r"/instances")),
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


#: Orthanc URI of the page that asks a browser for an Orthanc account and then opens Orthanc
#: Explorer. Directly below ``/`` so that browsers send the account to every path of the server
#: afterwards (they reuse Basic credentials below the directory of the URL that asked for them).
EXPLORER_LOGIN = "/orthanc-explorer-login"
#: What the dose pages link to in Explorer (``?instance=<Orthanc id>``): Explorer's own page names.
EXPLORER_RESOURCES = ("instance", "series", "study", "patient")
_ORTHANC_ID = re.compile(r"[0-9a-f]{8}(-[0-9a-f]{8}){4}")


def explorer_target(arguments: Mapping[str, str]) -> str:
    """Where :data:`EXPLORER_LOGIN` sends a browser once it holds an Orthanc account: Explorer's
    page of the resource the dose page linked to (``?instance=<id>``), else Explorer's start.

    Only an Orthanc id (five groups of eight hex digits) is taken, so the redirect cannot be made
    to point anywhere else (an open redirect) or carry script into Explorer's URL fragment.
    """
    for resource in EXPLORER_RESOURCES:
        orthanc_id = arguments.get(resource, "")
        if _ORTHANC_ID.fullmatch(orthanc_id):
            return f"app/explorer.html#{resource}?uuid={orthanc_id}"
    return "app/explorer.html"


def basic_credentials(headers: Mapping[str, str]) -> tuple[str, str] | None:
    value = headers.get("authorization", "")
    scheme, _, encoded = value.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, separator, password = decoded.partition(":")
    return (user, password) if separator else None


@dataclass(frozen=True)
class HttpAccess:
    """The filter's rules for one Orthanc configuration.

    ``orthanc_accounts`` is ``RegisteredUsers`` when the plugin checks them itself (Orthanc's own
    authentication off), else None (Orthanc checked the ``Authorization`` header already, or
    nobody needs one).
    """

    url_prefix: str
    worker_user: str | None = None
    orthanc_accounts: Mapping[str, str] | None = field(default=None, repr=False)

    @classmethod
    def from_configuration(
        cls, configuration: Mapping[str, object], url_prefix: str, worker_user: str | None
    ) -> HttpAccess:
        accounts = configuration.get("RegisteredUsers")
        # Orthanc's default for AuthenticationEnabled is RemoteAccessAllowed (since 1.5.8).
        authentication = configuration.get("AuthenticationEnabled", configuration.get("RemoteAccessAllowed", False))
        if authentication or not isinstance(accounts, Mapping) or not accounts:
            return cls(url_prefix, worker_user, None)
        return cls(url_prefix, worker_user, {str(user): str(password) for user, password in accounts.items()})

    @property
    def needed(self) -> bool:
        """Whether a filter must be installed at all (it costs every request the GIL)."""
        return self.worker_user is not None or self.orthanc_accounts is not None

    def is_dose_browser(self, uri: str) -> bool:
        return uri == self.url_prefix or uri.startswith(self.url_prefix + "/")

    def orthanc_account(self, headers: Mapping[str, str]) -> str | None:
        """The Orthanc account whose name and password the request carries (checked here)."""
        credentials = basic_credentials(headers)
        if credentials is None or self.orthanc_accounts is None:
            return None
        user, password = credentials
        expected = self.orthanc_accounts.get(user)
        if expected is None or not hmac.compare_digest(expected.encode(), password.encode()):
            return None
        return user

    def allows(self, method: str, uri: str, headers: Mapping[str, str]) -> bool:
        user = basic_user(headers)
        if self.worker_user is not None and user == self.worker_user:
            return worker_may(method, uri) and (
                self.orthanc_accounts is None or self.orthanc_account(headers) == self.worker_user
            )
        if self.orthanc_accounts is None or self.is_dose_browser(uri) or uri == EXPLORER_LOGIN:
            return True
        return self.orthanc_account(headers) is not None
