"""A failure that is not the object's fault (Orthanc refusing our token, Orthanc down, the database
starting up) postpones the object; only a fault of the object itself quarantines it.

Issue 6: orphaned workers holding a dead token quarantined good objects as "could not be read
after 20 retries: 401".
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from fake_orthanc_http import fake_orthanc
from orthanc_harness import free_ports
from orthanc_rem import database, model
from orthanc_rem.config import load_settings
from orthanc_rem.tasks import build_queue

X_RAY_RADIATION_DOSE_SR = "1.2.840.10008.5.1.4.1.1.88.67"


def _queue(tmp_path, database_url: str, orthanc_url: str):  # type: ignore[no-untyped-def]
    settings = load_settings(
        {},
        environ={
            "ORTHANC_REM_DATABASE": database_url,
            "ORTHANC_REM_QUEUE": f"sqlite:///{tmp_path / 'queue.sqlite'}",
            "ORTHANC_REM_ORTHANC_URL": orthanc_url,
        },
    )
    return build_queue(settings)


def _run_last_attempt(queue, orthanc_id: str) -> None:  # type: ignore[no-untyped-def]
    queue.ingest_orthanc_instance(orthanc_id)
    task = queue.huey.dequeue()
    task.retries = 0  # even the last of the retries a task was given
    queue.huey.execute(task)


def _rejections(url: str) -> int:
    with database.session_factory(url)() as session:
        return session.scalar(select(func.count()).select_from(model.RejectedObject)) or 0


@pytest.mark.parametrize("status", [401, 403, 500, 503])
def test_orthanc_refusing_the_worker_postpones_the_object(tmp_path, status):
    url = f"sqlite:///{tmp_path / 'rem.sqlite'}"
    database.upgrade_schema(url)
    with fake_orthanc(lambda _path: (status, b'{"Message": "refused"}')) as orthanc_url:
        queue = _queue(tmp_path, url, orthanc_url)
        _run_last_attempt(queue, "f00d-instance")
    assert _rejections(url) == 0
    (postponed,) = queue.huey.scheduled()
    assert postponed.args == ("f00d-instance",)


def test_orthanc_down_postpones_the_object(tmp_path):
    url = f"sqlite:///{tmp_path / 'rem.sqlite'}"
    database.upgrade_schema(url)
    (closed_port,) = free_ports(1)
    queue = _queue(tmp_path, url, f"http://127.0.0.1:{closed_port}")
    _run_last_attempt(queue, "f00d-instance")
    assert _rejections(url) == 0
    assert [task.args for task in queue.huey.scheduled()] == [("f00d-instance",)]


def test_database_unreachable_postpones_the_object(tmp_path, corpus):
    """PostgreSQL restarting ("the database system is starting up") or gone: nothing is quarantined."""
    content = corpus("CT-RDSR-Siemens-Multi-1.dcm").read_bytes()
    routes = {
        "/instances/f00d/metadata/SopClassUid": (200, X_RAY_RADIATION_DOSE_SR.encode()),
        "/instances/f00d/file": (200, content),
    }
    (closed_port,) = free_ports(1)
    with fake_orthanc(routes) as orthanc_url:
        queue = _queue(tmp_path, f"postgresql://postgres@127.0.0.1:{closed_port}/nothing", orthanc_url)
        _run_last_attempt(queue, "f00d")
    assert [task.args for task in queue.huey.scheduled()] == [("f00d",)]


def test_a_broken_object_is_still_quarantined(tmp_path, corpus, database_url):
    """The object's own fault (here: not DICOM at all) is recorded once, not retried."""
    routes = {
        "/instances/bad/metadata/SopClassUid": (200, X_RAY_RADIATION_DOSE_SR.encode()),
        "/instances/bad/file": (200, b"this is not a DICOM file"),
    }
    with fake_orthanc(routes) as orthanc_url:
        queue = _queue(tmp_path, database_url, orthanc_url)
        _run_last_attempt(queue, "bad")
    assert queue.huey.scheduled() == []
    with database.session_factory(database_url)() as session:
        (rejected,) = session.scalars(select(model.RejectedObject)).all()
    assert (rejected.orthanc_id, rejected.outcome) == ("bad", "failed")
