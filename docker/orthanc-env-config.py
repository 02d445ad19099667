"""Orthanc's configuration from /etc/orthanc/*.json, secrets and ``ORTHANC__…`` variables.

The Debian image follows the convention of the production image (orthancteam/orthanc's
``generateConfiguration.py``), so that one compose file and one set of variables configure both:

* every ``/etc/orthanc/*.json`` (and ``/run/secrets/*.json``), merged in name order;
* ``ORTHANC_JSON``: a whole JSON document merged over them;
* ``ORTHANC__SECTION__KEY_NAME=value``: ``{"Section": {"KeyName": value}}``, ``value`` read as
  JSON when it parses (numbers, booleans, objects), as text otherwise; later wins.

``${VARIABLE}`` inside text values is left for Orthanc to substitute when it reads the file, so
passwords stay in the environment (or in ``*_FILE`` secrets the entrypoint reads), never in the
image or the generated file's source.
Usage: python orthanc-env-config.py OUTPUT.json
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import Any

#: Words whose capitals the upper-case variable names lose (orthancteam's
#: ``env-var-non-standards.json`` holds the same kind of exceptions).
SPECIAL_WORDS = {"POSTGRESQL": "PostgreSQL", "MYSQL": "MySQL", "ODBC": "Odbc", "SSL": "Ssl"}


def key_name(part: str) -> str:
    if part in SPECIAL_WORDS:
        return SPECIAL_WORDS[part]
    return "".join(SPECIAL_WORDS.get(word, word.capitalize()) for word in part.split("_"))


def without_comments(text: str) -> str:
    """Orthanc's files may hold // and /* */ comments; a // inside a string (a URL) stays."""
    pattern = re.compile(r'"(?:\\.|[^"\\])*"|//[^\n]*|/\*.*?\*/', re.S)
    return pattern.sub(lambda m: m.group(0) if m.group(0).startswith('"') else " ", text)


def merge(into: dict[str, Any], other: dict[str, Any]) -> None:
    for key, value in other.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            merge(into[key], value)
        else:
            into[key] = value


def configuration(environ: dict[str, str], folders: list[Path]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for folder in folders:
        for file in sorted(folder.glob("*.json")) if folder.is_dir() else []:
            merge(merged, json.loads(without_comments(file.read_text("utf-8"))))
    if environ.get("ORTHANC_JSON"):
        merge(merged, json.loads(environ["ORTHANC_JSON"]))
    for name in sorted(environ):
        if not name.startswith("ORTHANC__"):
            continue
        path = [key_name(part) for part in name[len("ORTHANC__") :].split("__")]
        try:
            value: Any = json.loads(environ[name])
        except ValueError:
            value = environ[name]
        node = merged
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    return merged


if __name__ == "__main__":
    output = Path(sys.argv[1])
    result = configuration(dict(os.environ), [Path("/etc/orthanc"), Path("/run/secrets")])
    output.write_text(json.dumps(result, indent=2), "utf-8")
    output.chmod(0o600)
