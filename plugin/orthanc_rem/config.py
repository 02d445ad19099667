"""Where the service keeps its data and how its parts find each other.

One place resolves every setting, in this order (first wins):
1. an explicit argument (``--database`` on the command line);
2. environment variables ``ORTHANC_REM_*`` (how the plugin hands settings to its workers, and
   how Docker deployments override the JSON);
3. the ``OrthancRem`` section of Orthanc's configuration (``orthanc.json``);
4. defaults: everything on SQLite under one data folder.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orthanc_rem.toshiba_ct.systems import DEFAULT_SYSTEMS, parse_systems

SECTION = "OrthancRem"


def default_data_dir() -> Path:
    xdg = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(xdg) / "orthanc-rem"


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    queue_url: str
    workers: int = 2
    worker_python: str = "python3"
    url_prefix: str = "/rem"
    orthanc_url: str = "http://127.0.0.1:8042"
    orthanc_authorization: str | None = None
    page_size: int = 25
    #: Skin dose map of a fluoroscopy RDSR computed by a worker right after its import (issue 12).
    skin_dose_on_import: bool = True
    #: Legacy CT systems whose dose screen is read by PixelMed's OCR when a study has no RDSR (issue 13).
    toshiba_ct: bool = True
    toshiba_ct_systems: tuple[tuple[str, str], ...] = DEFAULT_SYSTEMS
    #: Seconds between two heartbeats of a running background job (``job_liveness``).
    job_heartbeat_s: float = 10.0

    def worker_environment(self) -> dict[str, str]:
        """What a worker process needs to find the database, the queue and Orthanc."""
        env = {
            "ORTHANC_REM_DATA": str(self.data_dir),
            "ORTHANC_REM_DATABASE": self.database_url,
            "ORTHANC_REM_QUEUE": self.queue_url,
            "ORTHANC_REM_WORKERS": str(self.workers),
            "ORTHANC_REM_ORTHANC_URL": self.orthanc_url,
            "ORTHANC_REM_SKIN_DOSE_ON_IMPORT": "1" if self.skin_dose_on_import else "0",
            "ORTHANC_REM_TOSHIBA_CT": "1" if self.toshiba_ct else "0",
            "ORTHANC_REM_TOSHIBA_CT_SYSTEMS": json.dumps([list(pair) for pair in self.toshiba_ct_systems]),
            "ORTHANC_REM_JOB_HEARTBEAT": str(self.job_heartbeat_s),
        }
        if self.orthanc_authorization:
            env["ORTHANC_REM_ORTHANC_AUTHORIZATION"] = self.orthanc_authorization
        return env


def _first(*values: Any) -> Any:
    for value in values:
        if value not in (None, ""):
            return value
    return None


def load_settings(
    orthanc_configuration: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    database_url: str | None = None,
) -> Settings:
    """Resolve settings; ``orthanc_configuration`` is Orthanc's merged JSON when running inside it."""
    env = os.environ if environ is None else environ
    if orthanc_configuration is None and env.get("ORTHANC_REM_CONFIG"):
        orthanc_configuration = json.loads(Path(env["ORTHANC_REM_CONFIG"]).read_text("utf-8"))
    orthanc = orthanc_configuration or {}
    section: Mapping[str, Any] = orthanc.get(SECTION) or {}

    data_dir = Path(_first(env.get("ORTHANC_REM_DATA"), section.get("DataDirectory")) or default_data_dir())
    database = _first(database_url, env.get("ORTHANC_REM_DATABASE"), section.get("Database"))
    database = database or f"sqlite:///{data_dir / 'orthanc-rem.sqlite'}"
    queue = _first(env.get("ORTHANC_REM_QUEUE"), section.get("Queue")) or f"sqlite:///{data_dir / 'queue.sqlite'}"
    http_port = orthanc.get("HttpPort", 8042)
    return Settings(
        data_dir=data_dir,
        database_url=normalise_database_url(database),
        queue_url=queue,
        # 0 is a real choice (workers run elsewhere), so only a missing value means the default.
        workers=int(_first(env.get("ORTHANC_REM_WORKERS"), section.get("Workers"), 2)),
        worker_python=_first(env.get("ORTHANC_REM_PYTHON"), section.get("WorkerPython")) or "python3",
        url_prefix="/" + str(section.get("UrlPrefix") or "rem").strip("/"),
        orthanc_url=_first(env.get("ORTHANC_REM_ORTHANC_URL"), section.get("OrthancUrl"))
        or f"http://127.0.0.1:{http_port}",
        orthanc_authorization=_first(env.get("ORTHANC_REM_ORTHANC_AUTHORIZATION"), section.get("OrthancAuthorization")),
        page_size=int(section.get("PageSize") or 25),
        skin_dose_on_import=str(
            _first(env.get("ORTHANC_REM_SKIN_DOSE_ON_IMPORT"), section.get("SkinDoseOnImport"), True)
        )
        .strip()
        .lower()
        not in ("0", "false", "no", "off"),
        toshiba_ct=_switch(_first(env.get("ORTHANC_REM_TOSHIBA_CT"), section.get("ToshibaCtExtractor"))),
        toshiba_ct_systems=parse_systems(
            _first(env.get("ORTHANC_REM_TOSHIBA_CT_SYSTEMS"), section.get("ToshibaCtSystems"))
        ),
        job_heartbeat_s=float(_first(env.get("ORTHANC_REM_JOB_HEARTBEAT"), section.get("JobHeartbeatSeconds"), 10)),
    )


def _switch(value: Any, default: bool = True) -> bool:
    """A yes/no setting from JSON (true/false) or the environment ("1"/"0", "true"/"false")."""
    if value is None:
        return default
    return str(value).strip().lower() not in ("0", "false", "no", "off")


def normalise_database_url(url: str) -> str:
    """Accept plain ``postgresql://`` URLs and pick the driver we ship (psycopg2)."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg2://" + url[len("postgresql://") :]
    return url


def read_orthanc_configuration(path: Path, environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Orthanc's configuration read as Orthanc reads it, for programs that run beside the service
    (``orthanc-rem reprocess`` must find the port and database the running service uses).

    ``path`` is a JSON file or a folder of them (merged, as Orthanc does); ``//`` and ``/* */``
    comments are allowed (Orthanc's shipped files use them) and ``${NAME}`` in a text value is the
    environment variable's value, empty when unset, as Orthanc substitutes it.
    """
    env = os.environ if environ is None else environ
    files = sorted(path.glob("*.json")) if path.is_dir() else [path]
    merged: dict[str, Any] = {}
    for file in files:
        merged.update(json.loads(_without_comments(file.read_text("utf-8"))))
    substituted: dict[str, Any] = _substitute(merged, env)
    return substituted


_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _substitute(value: Any, env: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        return _VARIABLE.sub(lambda match: env.get(match.group(1), ""), value)
    if isinstance(value, dict):
        return {key: _substitute(item, env) for key, item in value.items()}
    if isinstance(value, list):
        return [_substitute(item, env) for item in value]
    return value


def _without_comments(text: str) -> str:
    """JSON text without ``//`` and ``/* */`` comments; a ``//`` inside a string (a URL) stays."""
    out: list[str] = []
    i, in_string = 0, False
    while i < len(text):
        char = text[i]
        if in_string:
            out.append(text[i : i + 2] if char == "\\" else char)
            i += 2 if char == "\\" else 1
            in_string = char != '"'
        elif char == '"':
            in_string = True
            out.append(char)
            i += 1
        elif text.startswith("//", i):
            end = text.find("\n", i)
            i = len(text) if end < 0 else end
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            i = len(text) if end < 0 else end + 2
            out.append(" ")
        else:
            out.append(char)
            i += 1
    return "".join(out)
