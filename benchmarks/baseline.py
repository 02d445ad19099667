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


def revision_modules(revision: str, names: list[str], suffix: str, folder: Path) -> dict[str, ModuleType]:
    """The ``orthanc_rem`` modules ``names`` (e.g. ``["bulk_rows", "persistence"]``) as they were at
    ``revision``, imported as ``orthanc_rem.<name><suffix>`` beside this checkout's, each seeing the
    older versions of the modules loaded before it: list a module after those it imports. Modules
    not listed are this checkout's (so the older ones must be API-compatible with those)."""
    import orthanc_rem

    loaded: dict[str, ModuleType] = {}
    for name in names:
        saved = {other: (sys.modules[f"orthanc_rem.{other}"], getattr(orthanc_rem, other)) for other in loaded}
        try:
            for other, module in loaded.items():  # ``from orthanc_rem import x`` binds these at import
                sys.modules[f"orthanc_rem.{other}"] = module
                setattr(orthanc_rem, other, module)
            loaded[name] = revision_module(
                revision, f"plugin/orthanc_rem/{name}.py", f"orthanc_rem.{name}{suffix}", folder
            )
        finally:
            for other, (module, attribute) in saved.items():
                sys.modules[f"orthanc_rem.{other}"] = module
                setattr(orthanc_rem, other, attribute)
    return loaded


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
