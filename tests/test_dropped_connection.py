"""PostgreSQL dropping the workers' pooled connections (a restart, an administrator) loses nothing.

The workers no longer test each pooled connection with a round trip before using it
(``database.make_engine(retried=True)``, issue 6 §5): a dropped connection fails the next
transaction instead. That object must then be postponed (never quarantined) and be imported when
its retry runs, on a new connection.
"""

from __future__ import annotations

from collections.abc import Iterator

import pydicom
import pytest
from sqlalchemy import select

from database_fixtures import _admin, scratch_postgres_url
from fake_orthanc_http import fake_orthanc
from orthanc_rem import database, model
from orthanc_rem.config import load_settings
from orthanc_rem.tasks import build_queue

pytestmark = pytest.mark.postgres


@pytest.fixture
def postgres_url() -> Iterator[str]:
    for url in scratch_postgres_url():
        database.upgrade_schema(url)
        yield url


def run_pending(queue) -> None:  # type: ignore[no-untyped-def]
    """Run what is queued, in order, as a worker would (an import may queue follow-up tasks)."""
    while (task := queue.huey.dequeue()) is not None:
        queue.huey.execute(task)


def test_objects_after_a_dropped_connection_are_imported(tmp_path, corpus, postgres_url):
    files = {"f00d": corpus("CT-RDSR-Siemens-Multi-1.dcm"), "beef": corpus("CT-RDSR-GEPixelMed.dcm")}
    routes = {}
    for orthanc_id, path in files.items():
        routes[f"/instances/{orthanc_id}/metadata/SopClassUid"] = (200, str(pydicom.dcmread(path).SOPClassUID).encode())
        routes[f"/instances/{orthanc_id}/file"] = (200, path.read_bytes())
    expected = {str(pydicom.dcmread(path).SOPInstanceUID) for path in files.values()}
    with fake_orthanc(routes) as orthanc_url:
        settings = load_settings(
            {},
            environ={
                "ORTHANC_REM_DATABASE": postgres_url,
                "ORTHANC_REM_QUEUE": f"sqlite:///{tmp_path / 'queue.sqlite'}",
                "ORTHANC_REM_ORTHANC_URL": orthanc_url,
            },
        )
        queue = build_queue(settings)
        queue.ingest_orthanc_instance("f00d")
        run_pending(queue)  # the worker's pool now holds a connection
        database_name = postgres_url.rsplit("/", 1)[1]
        _admin(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{database_name}'")
        queue.ingest_orthanc_instance("beef")
        run_pending(queue)
        for postponed in queue.huey.scheduled():  # the retry, run as if its time had come
            queue.huey.execute(postponed, timestamp=postponed.eta)
    with database.session_factory(postgres_url)() as session:
        stored = set(session.scalars(select(model.ProcessedObject.sop_instance_uid)))
        rejected = session.scalars(select(model.RejectedObject.source)).all()
    assert stored == expected
    assert rejected == []
