"""What the benchmarks that compare this checkout with an older revision in one run share.

``worker_cpu.py`` and ``store_cpu.py`` measure CPU per object for this checkout and for a baseline
revision side by side (a shared machine's load changes between runs, less within one): both need
the baseline's code out of git and a fresh dose database per side.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[1]


def revision_tree(revision: str, folder: Path, path: str = "plugin") -> Path:
    """``path`` of the repository as it was at ``revision``, extracted under ``folder``."""
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", revision, path], check=True, stdout=subprocess.PIPE
    ).stdout
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder / path


def revision_module(revision: str, path: str, name: str, folder: Path) -> ModuleType:
    """The module at ``path`` as it was at ``revision``, imported as ``name`` beside this
    checkout's modules (so it must be API-compatible with them)."""
    source = subprocess.run(
        ["git", "-C", str(REPO), "show", f"{revision}:{path}"], check=True, capture_output=True, text=True
    ).stdout
    file = folder / f"{name.rpartition('.')[2]}.py"
    file.write_text(source)
    spec = importlib.util.spec_from_file_location(name, file)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@contextmanager
def scratch_database(kind: str, folder: Path) -> Iterator[str]:
    """The URL of a new, empty dose database (``sqlite`` file in ``folder`` or ``postgres``),
    dropped afterwards."""
    if kind == "sqlite":
        yield f"sqlite:///{folder / f'{uuid.uuid4().hex[:8]}.sqlite'}"
        return
    # The tests' scratch PostgreSQL database (created, then dropped with its connections).
    sys.path.insert(0, str(REPO / "tests"))
    from database_fixtures import scratch_postgres_url

    yield from scratch_postgres_url()
