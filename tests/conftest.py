"""Fixtures shared by the test modules."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from database_fixtures import database_url, database_url_unmigrated, sessions, store  # noqa: F401 - fixtures

#: The DICOM test corpus ships with the repository (``tests/corpus/``), so a clone anywhere passes.
REPOSITORY_CORPUS = Path(__file__).resolve().parent / "corpus" / "dicom"


def corpus_dir() -> Path:
    """The repository's own corpus: tests that know every file by name read this one."""
    return REPOSITORY_CORPUS


def extra_corpus_dir() -> Path | None:
    """``ORTHANC_REM_CORPUS``: a folder of further objects (other vendors, held-out files).

    A file there takes precedence over the repository's file of the same name, and the
    whole-corpus tests run over these files too.
    """
    extra = os.environ.get("ORTHANC_REM_CORPUS")
    return Path(extra) if extra else None


def corpus_files() -> list[Path]:
    """Every ``.dcm`` of the repository's corpus and of ``ORTHANC_REM_CORPUS``, by name."""
    files = {path.name: path for path in corpus_dir().glob("*.dcm")}
    extra = extra_corpus_dir()
    if extra is not None:
        files.update({path.name: path for path in extra.rglob("*.dcm")})
    return [files[name] for name in sorted(files)]


@pytest.fixture
def corpus() -> Callable[[str], Path]:
    """``corpus("CT-RDSR-Siemens-Multi-1.dcm")`` -> path of that corpus file (fails if it is missing)."""

    def path(name: str) -> Path:
        extra = extra_corpus_dir()
        if extra is not None and (extra / name).is_file():
            return extra / name
        found = corpus_dir() / name
        assert found.is_file(), f"corpus file {found} not found"
        return found

    return path
