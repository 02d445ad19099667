"""Two Orthanc nodes on one PostgreSQL index and storage, one Redis queue, workers on both:
the plain-process topology of issue 11, shared by the scale-out test and ``benchmarks/ingest.py
--nodes 2``.

Each node is a real Orthanc 1.10.1 with Debian's ``orthanc-postgresql`` 4.0 plugins (index and
storage in one scratch database, ``Lock: false`` so that several servers may write) and our
plugin, whose workers take tasks from a Redis queue named for this run only.
"""

from __future__ import annotations

import contextlib
import copy
import os
import re
import socket
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pydicom
import pytest
from pydicom.uid import generate_uid
from sqlalchemy import select

from database_fixtures import POSTGRES_ADMIN, _admin, postgres_available, scratch_postgres_url
from orthanc_harness import REPO_ROOT, OrthancProcess, missing_prerequisites
from orthanc_rem import database, model

PLUGIN = REPO_ROOT / "plugin" / "orthanc_rem_plugin.py"
POSTGRESQL_INDEX = Path("/usr/lib/orthanc/libOrthancPostgreSQLIndex.so.4.0")
POSTGRESQL_STORAGE = Path("/usr/lib/orthanc/libOrthancPostgreSQLStorage.so.4.0")
PYTHON_PLUGIN = Path("/usr/lib/orthanc/libOrthancPython.so.4.0")
REDIS = ("127.0.0.1", 6379)


def missing_scale_out_prerequisites() -> str | None:
    """Why the two-node topology cannot run here, or None."""
    reason = missing_prerequisites()
    if reason:
        return reason
    if not POSTGRESQL_INDEX.exists():
        return f"{POSTGRESQL_INDEX} not found (apt-get install orthanc-postgresql; scripts/bootstrap does)"
    if not postgres_available():
        return "no PostgreSQL server at 127.0.0.1:5432 (user postgres, trust)"
    try:
        with socket.create_connection(REDIS, timeout=2):
            pass
    except OSError:
        return f"no Redis server at {REDIS[0]}:{REDIS[1]} (apt-get install redis-server)"
    try:
        import redis  # noqa: F401
    except ImportError:
        return "the redis Python package is missing (pip install -e '.[redis]')"
    return None


def skip_without_scale_out() -> None:
    reason = missing_scale_out_prerequisites()
    if reason:
        message = f"two-node scale-out test SKIPPED: {reason}"
        print(f"\n{'#' * 80}\n## {message}\n{'#' * 80}", file=sys.stderr)
        pytest.skip(message)


@contextlib.contextmanager
def scratch_orthanc_index() -> Iterator[str]:
    """An empty PostgreSQL database for Orthanc's index and storage, dropped afterwards."""
    name = f"orthanc_index_test_{uuid.uuid4().hex[:12]}"
    _admin(f"CREATE DATABASE \"{name}\" ENCODING 'UTF8' TEMPLATE template0")
    try:
        yield name
    finally:
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def scratch_redis_queue() -> Iterator[str]:
    """A queue URL of its own on the shared Redis server, its keys deleted afterwards."""
    import redis

    name = f"orthanc-rem-test-{uuid.uuid4().hex[:12]}"
    url = f"redis://{REDIS[0]}:{REDIS[1]}/0?queue={name}"
    try:
        yield url
    finally:
        connection = redis.Redis(host=REDIS[0], port=REDIS[1], db=0)
        for key in connection.scan_iter(match=f"*{name}*"):
            connection.delete(key)
        connection.close()


@dataclass
class Site:
    """The shared parts: Orthanc's index database, the dose database URL and the queue URL."""

    orthanc_index: str
    dose_database: str
    queue: str


@contextlib.contextmanager
def shared_site() -> Iterator[Site]:
    with scratch_orthanc_index() as index, scratch_redis_queue() as queue:
        for dose_database in scratch_postgres_url():
            yield Site(index, dose_database, queue)


def node_config(site: Site, data_dir: Path, workers: int) -> dict[str, Any]:
    return {
        "Plugins": [str(PYTHON_PLUGIN), str(POSTGRESQL_INDEX), str(POSTGRESQL_STORAGE)],
        "PythonScript": str(PLUGIN),
        "PostgreSQL": {
            "EnableIndex": True,
            "EnableStorage": True,
            "Host": POSTGRES_ADMIN["host"],
            "Port": POSTGRES_ADMIN["port"],
            "Database": site.orthanc_index,
            "Username": POSTGRES_ADMIN["user"],
            "Password": "",
            # Several Orthanc servers write to this index (Orthanc Book, "multiple writers").
            "Lock": False,
            "IndexConnectionsCount": 5,
        },
        "OrthancRem": {
            "Database": site.dose_database,
            "Queue": site.queue,
            "DataDirectory": str(data_dir),
            "Workers": workers,
            "WorkerPython": sys.executable,
        },
    }


def make_node(site: Site, workdir: Path, name: str, workers: int) -> OrthancProcess:
    """An Orthanc node of the site (not started); its own ports, log and worker data folder."""
    return OrthancProcess(
        workdir / name,
        name=name,
        aet="ORTHANCREM",
        config=node_config(site, workdir / name / "rem-data", workers),
        startup_timeout=60,
    )


class Node(Protocol):
    """An Orthanc node as the checks below use it: a process (OrthancProcess) or a container."""

    aet: str
    dicom_port: int
    workdir: Path  # the workers' log is workdir/rem-data/orthanc-rem.log

    def get_json(self, path: str, timeout: float = 30.0) -> Any: ...

    def wait_until(self, predicate: Any, timeout: float, interval: float = 0.1, message: str = "") -> Any: ...


#: A worker's line for an instance it extracted (worker_log.py): ``orthanc:<id>: <outcome>``.
OUTCOME_LINE = re.compile(
    r"orthanc:([0-9a-f-]+): (imported|replaced|duplicate|superseded|not_dose_report|unmatched|failed)"
)


def storescu_command(node: Node, files: list[Path]) -> list[str]:
    """C-STORE with dcmtk, proposing exactly what the files need (-R -nh, see README)."""
    return ["storescu", "-R", "-nh", "-aec", node.aet, "-aet", "MODALITY", "127.0.0.1", str(node.dicom_port)] + [
        str(path) for path in files
    ]


SENDER_ENVIRONMENT = {**os.environ, "TCP_NODELAY": "1"}


def store(node: Node, files: list[Path]) -> None:
    subprocess.run(storescu_command(node, files), check=True, capture_output=True, timeout=600, env=SENDER_ENVIRONMENT)


def storable_by_dcmtk(files: list[Path]) -> list[Path]:
    """The files storescu can send: DCMTK refuses to parse one corpus file (a Hologic projection
    image with an odd-length element) and leaves it out, as it would at a modality."""
    return [path for path in files if subprocess.run(["dcmdump", "-q", str(path)], capture_output=True).returncode == 0]


def send_in_parallel(*work: tuple[Node, list[Path]]) -> None:
    """One association per node at the same time, as two modalities would send."""
    with ThreadPoolExecutor(len(work)) as pool:
        for result in [pool.submit(store, node, files) for node, files in work]:
            result.result()


def outcomes(url: str) -> tuple[Counter[str], dict[str, int]]:
    """Orthanc ID -> number of outcome rows; Orthanc ID -> attempts of each rejected object."""
    with database.session_factory(url)() as session:
        rows = Counter(session.scalars(select(model.ProcessedObject.orthanc_id)))
        attempts = {}
        for rejected in session.scalars(select(model.RejectedObject)):
            rows[rejected.orthanc_id] += 1
            attempts[rejected.orthanc_id] = rejected.attempts
    return rows, attempts


def orthanc_instances(node: Node) -> dict[str, str]:
    """Orthanc ID -> SOP Instance UID of every instance in the shared index."""
    ids = node.get_json("/instances", timeout=60)
    return {
        orthanc_id: node.get_json(f"/instances/{orthanc_id}")["MainDicomTags"]["SOPInstanceUID"] for orthanc_id in ids
    }


def wait_until_every_instance_has_an_outcome(node: Node, url: str, count: int, timeout: float = 300) -> None:
    def done() -> bool:
        ids = node.get_json("/instances", timeout=60)
        return len(ids) == count and set(ids) <= set(outcomes(url)[0])

    node.wait_until(done, timeout, interval=0.5, message=f"not every one of {count} instances has an outcome")


def outcome_lines(*nodes: Node) -> Counter[str]:
    """Orthanc ID -> outcome lines written by the workers of all nodes (each node's log file)."""
    lines: Counter[str] = Counter()
    for node in nodes:
        log = node.workdir / "rem-data" / "orthanc-rem.log"
        if log.exists():
            lines.update(m.group(1) for m in OUTCOME_LINE.finditer(log.read_text("utf-8", errors="replace")))
    return lines


def sop_instance_uid(path: Path) -> str:
    return str(pydicom.dcmread(path, stop_before_pixels=True).SOPInstanceUID)


def distinct_instances(files: list[Path]) -> int:
    """How many instances Orthanc keeps of ``files``: one per patient, study, series and SOP
    instance UID (its instance ID hashes them), so an identical second copy is stored once."""
    keys = set()
    for path in files:
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        keys.add((ds.get("PatientID"), ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID))
    return len(keys)


def assert_exactly_once(node: Node, url: str, files: list[Path], *nodes: Node) -> None:
    instances = orthanc_instances(node)
    assert len(instances) == distinct_instances(files)  # nothing lost
    assert set(instances.values()) == {sop_instance_uid(path) for path in files}
    rows, attempts = outcomes(url)
    assert {orthanc_id: rows[orthanc_id] for orthanc_id in instances} == dict.fromkeys(instances, 1)
    assert set(rows) == set(instances)
    assert set(attempts.values()) <= {1}, {i: n for i, n in attempts.items() if n != 1}
    lines = outcome_lines(*nodes)
    assert {i: n for i, n in lines.items() if n > 1} == {}  # no instance extracted twice


def fresh_copies(template: Path, count: int, folder: Path) -> list[Path]:
    """Distinct dose reports made from a corpus file: new study, series, SOP instance UIDs."""
    original = pydicom.dcmread(template)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        ds = copy.deepcopy(original)
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID = generate_uid(), generate_uid(), generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        path = folder / f"copy-{index:04d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths
