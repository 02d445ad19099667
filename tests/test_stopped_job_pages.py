"""The pages that show background jobs say when a job's worker stopped, and offer to run it again
where that makes sense (an export, a query; a size import's file is gone, so its log says to
upload it again).

Each job here is left as a worker killed on this host leaves it: running, claimed by a process
that no longer exists, its last heartbeat a few beats ago. (``test_job_liveness`` kills a real
worker; these tests are about what each kind of job and its page make of it.)
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from typing import Any

import pytest

import sr_facts
from orthanc_rem import export_jobs, job_heartbeat, job_liveness, model, size_import_jobs
from orthanc_rem.config import Settings
from orthanc_rem.exports.runner import ExportFormat, ExportRequest
from orthanc_rem.ingest import ingest_object
from orthanc_rem.patient_size_import import SizeColumns
from orthanc_rem.qr import store
from orthanc_rem.qr.options import QueryOptions
from orthanc_rem.tasks import build_queue
from web_clients import dose_browser_client

CT_FILE = "CT-ESR-GE_VCT.dcm"


@pytest.fixture
def dead_pid() -> int:
    """The process id of a process that has ended."""
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def _left_by_a_killed_worker(job: Any, pid: int, settings: Settings) -> None:
    job.worker_host, job.worker_pid = job_heartbeat.this_host(), pid
    beats = job_liveness.GONE_AFTER_BEATS + 1
    job.heartbeat_at = job_heartbeat.now() - dt.timedelta(seconds=beats * settings.job_heartbeat_s)


def test_a_stopped_export_is_failed_on_the_page_and_runs_again(tmp_path, database_url, sessions, corpus, dead_pid):
    settings = Settings(data_dir=tmp_path / "data", database_url=database_url, queue_url="memory://")
    assert ingest_object(sessions, corpus(CT_FILE), source=CT_FILE).extracted
    partial = export_jobs.exports_dir(settings) / "ctexport-partial.csv"
    partial.parent.mkdir(parents=True)
    partial.write_text("Institution,")
    with sessions.begin() as session:
        job = export_jobs.create_job(session, owner=None, request=ExportRequest("CT", ExportFormat.CSV), filters={})
        job.status, job.started_at, job.file_name = export_jobs.Status.RUNNING, job_heartbeat.now(), partial.name
        _left_by_a_killed_worker(job, dead_pid, settings)
        job_id = job.id
    client = dose_browser_client(settings, sessions)

    page = client.get("/exports/").get_data(as_text=True)
    assert "worker stopped (last seen" in page and f"process {dead_pid})" in page
    assert "Run again" in page
    assert not partial.exists()
    rerun = client.post(f"/exports/{job_id}/rerun")
    assert rerun.status_code == 302
    again, stopped = client.get("/exports/status.json").json
    assert stopped["id"] == job_id and stopped["status"] == "failed"
    assert (again["status"], again["modality"], again["type"], again["studies_total"]) == (
        "finished", "CT", "CSV export", 1
    )
    rows = (export_jobs.exports_dir(settings) / again["file_name"]).read_text().splitlines()
    assert str(sr_facts.read(corpus(CT_FILE)).AccessionNumber) in rows[1]


def test_only_a_failed_or_aborted_export_runs_again(tmp_path, database_url, sessions):
    settings = Settings(data_dir=tmp_path / "data", database_url=database_url, queue_url="memory://")
    with sessions.begin() as session:
        job = export_jobs.create_job(session, owner=None, request=ExportRequest("CT", ExportFormat.CSV), filters={})
        job.status = export_jobs.Status.RUNNING
        job_id = job.id
    assert dose_browser_client(settings, sessions).post(f"/exports/{job_id}/rerun").status_code == 409


def test_a_stopped_size_import_says_so_and_how_to_go_on(tmp_path, database_url, sessions, dead_pid):
    settings = Settings(data_dir=tmp_path, database_url=database_url, queue_url=f"sqlite:///{tmp_path / 'q.sqlite'}")
    with sessions() as session:
        job = size_import_jobs.create_job(session, "sizes.csv", b"Accession,Height\nACC1,172\nACC2,180\n")
        size_import_jobs.choose_columns(session, job.id, SizeColumns("Accession", "accession_number", "Height"))
        job.status, job.started_at, job.rows_done = size_import_jobs.RUNNING, job_heartbeat.now(), 1
        _left_by_a_killed_worker(job, dead_pid, settings)
        session.commit()
        job_id = job.id
    client = dose_browser_client(settings, sessions)

    page = client.get("/admin/sizes").get_data(as_text=True)
    assert "worker stopped (last seen" in page
    with sessions() as session:
        job = session.get(model.SizeImportJob, job_id)
        assert job is not None and job.status == size_import_jobs.FAILED and job.csv_content is None
    log = client.get(f"/admin/sizes/{job_id}/log").get_data(as_text=True)
    assert "The first 1 rows were processed; upload the file again for the rest" in log


def test_a_failed_query_runs_again_with_its_node_and_options(tmp_path, database_url, sessions, dead_pid):
    settings = Settings(data_dir=tmp_path, database_url=database_url, queue_url=f"sqlite:///{tmp_path / 'q.sqlite'}")
    options = QueryOptions(modalities=("DX",), single_date=dt.date(2026, 11, 30)).validate()
    with sessions.begin() as session:
        node = store.add_node(session, "pacs", "PACSAET01", "pacs.example", 104)
        query = store.create_query(session, node, options, retrieve=True, created_by=None)
        query.status = store.RETRIEVING
        _left_by_a_killed_worker(query, dead_pid, settings)
        query_id = query.id
    client = dose_browser_client(settings, sessions)

    state = client.get(f"/qr/api/queries/{query_id}").json
    assert state["status"] == "failed" and state["reason"].startswith("worker stopped (last seen")
    assert 'id="rerun-form" >' in client.get(f"/qr/queries/{query_id}").get_data(as_text=True)
    rerun = client.post(f"/qr/queries/{query_id}/rerun")
    assert rerun.status_code == 303
    new_id = int(rerun.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    with sessions() as session:
        again = session.get(model.QrQuery, new_id)
        assert again is not None and again.status == store.QUEUED and again.retrieve
        assert QueryOptions.from_json(json.loads(again.options)) == options
    assert ("qr_query", (new_id,)) in [(t.name, t.args) for t in build_queue(settings).huey.pending()]
    assert client.post(f"/qr/queries/{new_id}/rerun").status_code == 409


def test_a_retrieve_waiting_for_a_worker_is_not_taken_for_stopped(tmp_path, database_url, sessions, dead_pid):
    """Retrieve asked for long after the query ended (its worker's heartbeat is old): the retrieve
    waits in the queue, and no worker has it yet to be judged."""
    settings = Settings(data_dir=tmp_path, database_url=database_url, queue_url=f"sqlite:///{tmp_path / 'q.sqlite'}")
    with sessions.begin() as session:
        node = store.add_node(session, "pacs", "PACSAET01", "pacs.example", 104)
        query = store.create_query(session, node, QueryOptions(modalities=("CT",)), retrieve=False, created_by=None)
        query.status = store.QUERIED
        _left_by_a_killed_worker(query, dead_pid, settings)
        query.heartbeat_at -= dt.timedelta(hours=1)
        query_id = query.id
    client = dose_browser_client(settings, sessions)
    assert client.post(f"/qr/queries/{query_id}/retrieve").status_code == 303
    state = client.get(f"/qr/api/queries/{query_id}").json
    assert (state["status"], state["stage"]) == ("retrieving", "Waiting for a worker to retrieve")
