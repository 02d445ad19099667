"""Fixtures shared by the test modules."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from database_fixtures import database_url, database_url_unmigrated, sessions  # noqa: F401 - fixtures

#: The DICOM test corpus lives in ``shared/`` beside the repository; ORTHANC_REM_CORPUS overrides it.
DEFAULT_CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "dicom"


def corpus_dir() -> Path:
    return Path(os.environ.get("ORTHANC_REM_CORPUS") or DEFAULT_CORPUS)


@pytest.fixture
def corpus() -> Callable[[str], Path]:
    """``corpus("CT-RDSR-Siemens-Multi-1.dcm")`` -> path of that corpus file (fails if it is missing)."""

    def path(name: str) -> Path:
        found = corpus_dir() / name
        assert found.is_file(), f"corpus file {found} not found (set ORTHANC_REM_CORPUS?)"
        return found

    return path
