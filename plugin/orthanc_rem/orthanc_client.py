"""Reading objects from Orthanc's REST API over HTTP, the way the workers do.

Workers live in their own processes (see orthanc-notes §5), so they use plain HTTP on loopback
rather than the plugin SDK: no GIL shared with Orthanc, no SDK call that blocks C-STORE.
Authorisation is either a service account (``user:password``) or the bearer token the plugin
generated for the workers it started. One keep-alive connection per client: a new TCP
connection per request costs both sides more than the request itself.
"""

from __future__ import annotations

import base64
import http.client
import json
import threading
from typing import Any
from urllib.parse import urlsplit


class OrthancUnavailable(Exception):
    """Orthanc could not be reached; the task should be retried, not the object quarantined."""


class OrthancHttpError(Exception):
    def __init__(self, status: int, path: str, body: bytes) -> None:
        super().__init__(f"Orthanc answered {status} for {path}: {body[:200]!r}")
        self.status = status


class OrthancClient:
    def __init__(self, url: str, authorization: str | None = None, timeout: float = 60.0) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise ValueError(f"Orthanc URL must be http(s)://host:port, not {url!r}")
        self.url = url.rstrip("/")
        self._scheme = parts.scheme
        self._netloc = parts.netloc
        self._base_path = parts.path.rstrip("/")
        self.timeout = timeout
        self._headers: dict[str, str] = {}
        if authorization:
            if authorization.startswith(("Bearer ", "Basic ")):
                self._headers["Authorization"] = authorization
            else:
                token = base64.b64encode(authorization.encode("utf-8")).decode("ascii")
                self._headers["Authorization"] = f"Basic {token}"
        self._connection: http.client.HTTPConnection | None = None
        self._lock = threading.Lock()

    def _connect(self) -> http.client.HTTPConnection:
        if self._connection is None:
            factory = http.client.HTTPSConnection if self._scheme == "https" else http.client.HTTPConnection
            self._connection = factory(self._netloc, timeout=self.timeout)
        return self._connection

    def get(self, path: str) -> bytes:
        return self._request("GET", path)

    def delete(self, path: str) -> None:
        self._request("DELETE", path)

    def post_json(self, path: str, payload: Any, timeout: float | None = None) -> Any:
        """POST a JSON body, JSON answer (query-retrieve: C-FIND, C-MOVE, C-ECHO through Orthanc)."""
        body = self._request("POST", path, json.dumps(payload).encode("utf-8"), timeout)
        return json.loads(body) if body.strip() else None

    def post_text(self, path: str, text: str) -> Any:
        """POST a plain-text body (``/tools/lookup`` takes the bare UID), JSON answer."""
        body = self._request("POST", path, text.encode("utf-8"))
        return json.loads(body) if body.strip() else None

    def post_dicom(self, content: bytes) -> Any:
        """Store a DICOM object (``POST /instances``); Orthanc's JSON answer (ID, Status)."""
        body = self._request("POST", "/instances", content, content_type="application/dicom")
        return json.loads(body) if body.strip() else None

    def put_json(self, path: str, payload: Any) -> None:
        self._request("PUT", path, json.dumps(payload).encode("utf-8"))

    def _request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        timeout: float | None = None,
        content_type: str = "application/json",
    ) -> bytes:
        with self._lock:
            # A keep-alive connection may have been closed by Orthanc meanwhile: retry once on a new one.
            for attempt in (1, 2):
                connection = self._connect()
                headers = self._headers if body is None else {**self._headers, "Content-Type": content_type}
                try:
                    # A C-MOVE may take longer than a read: its own timeout for this request only.
                    connection.timeout = timeout or self.timeout
                    if connection.sock is not None:
                        connection.sock.settimeout(connection.timeout)
                    connection.request(method, self._base_path + path, body=body, headers=headers)
                    response = connection.getresponse()
                    answer = response.read()
                except (http.client.HTTPException, OSError) as exc:
                    connection.close()
                    self._connection = None
                    if attempt == 2:
                        raise OrthancUnavailable(f"{self.url}: {exc}") from exc
                    continue
                if response.status >= 400:
                    raise OrthancHttpError(response.status, path, answer)
                return answer
        raise AssertionError("unreachable")

    def get_json(self, path: str) -> Any:
        return json.loads(self.get(path))

    def instance_file(self, orthanc_id: str) -> bytes:
        return self.get(f"/instances/{orthanc_id}/file")

    def sop_class_uid(self, orthanc_id: str) -> str | None:
        """Orthanc keeps the SOP Class UID as instance metadata: no need to download the file."""
        try:
            return self.get(f"/instances/{orthanc_id}/metadata/SopClassUid").decode("utf-8").strip() or None
        except OrthancHttpError as exc:
            if exc.status == 404:
                return None
            raise

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None
