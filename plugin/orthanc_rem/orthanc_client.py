"""Reading objects from Orthanc's REST API over HTTP, the way the workers do.

Workers live in their own processes (see orthanc-notes §5), so they use plain HTTP on loopback
rather than the plugin SDK: no GIL shared with Orthanc, no SDK call that blocks C-STORE.
Authorisation is either a service account (``user:password``) or the bearer token the plugin
generated for the workers it started.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from typing import Any


class OrthancUnavailable(Exception):
    """Orthanc could not be reached; the task should be retried, not the object quarantined."""


class OrthancClient:
    def __init__(self, url: str, authorization: str | None = None, timeout: float = 60.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._headers: dict[str, str] = {}
        if authorization:
            if authorization.startswith(("Bearer ", "Basic ")):
                self._headers["Authorization"] = authorization
            else:
                token = base64.b64encode(authorization.encode("utf-8")).decode("ascii")
                self._headers["Authorization"] = f"Basic {token}"

    def get(self, path: str) -> bytes:
        request = urllib.request.Request(self.url + path, headers=self._headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                return answer.read()
        except urllib.error.HTTPError:
            raise
        except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
            raise OrthancUnavailable(f"{self.url}: {exc}") from exc

    def get_json(self, path: str) -> Any:
        return json.loads(self.get(path))

    def instance_file(self, orthanc_id: str) -> bytes:
        return self.get(f"/instances/{orthanc_id}/file")

    def sop_class_uid(self, orthanc_id: str) -> str | None:
        """Orthanc keeps the SOP Class UID as instance metadata: no need to download the file."""
        try:
            return self.get(f"/instances/{orthanc_id}/metadata/SopClassUid").decode("utf-8").strip() or None
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            raise
