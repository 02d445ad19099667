"""An Orthanc in a container as the container tests reach it: its JSON over HTTP with the admin
account, and waiting for it (``scale_out.Node`` plus what the checks read)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from base64 import b64encode
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


class HttpNode:
    aet = "ORTHANCREM"

    def __init__(
        self, name: str, http_port: int, dicom_port: int, admin_password: str, workdir: Path, logs: Callable[[], str]
    ) -> None:
        self.name = name
        self.http_port = http_port
        self.dicom_port = dicom_port
        self.admin_password = admin_password
        self.workdir = workdir
        self.logs = logs  # what a timeout prints: the containers' last lines

    def url(self, path: str = "") -> str:
        return f"http://127.0.0.1:{self.http_port}{path}"

    def get_json(self, path: str, timeout: float = 30.0) -> Any:
        request = urllib.request.Request(self.url(path))
        token = b64encode(f"admin:{self.admin_password}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read())

    def wait_until(self, predicate: Callable[[], T], timeout: float, interval: float = 0.1, message: str = "") -> T:
        deadline = time.monotonic() + timeout
        while True:
            try:
                result = predicate()
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                result = None  # type: ignore[assignment]
            if result:
                return result
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{message} within {timeout} s\n{self.logs()}")
            time.sleep(interval)

    def wait_until_up(self) -> None:
        self.wait_until(lambda: self.get_json("/system", timeout=2), 120, 0.5, f"{self.name} did not start")
