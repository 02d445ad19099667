"""The patient size import pages: raw-body upload (what the page's script sends, since Orthanc
1.10.1 swallows multipart posts), column mapping, the job run by the worker task (huey in
immediate mode here: the real task, run synchronously), progress JSON, abort, log download and
deletion. Identifiers and stored sizes come from the corpus object's header."""

from __future__ import annotations

import html
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import select

import sr_facts
from orthanc_rem import model, size_import_jobs
from orthanc_rem.config import Settings
from orthanc_rem.ingest import ingest_object
from orthanc_rem.tasks import build_queue
from orthanc_rem_web.admin_pages import QUEUE_EXTENSION
from web_clients import dose_browser_client

NO_SIZE = "CT-ESR-GE_VCT.dcm"
FILENAME = "größen März.csv"


@pytest.fixture
def queue(tmp_path: Path, database_url: str):  # type: ignore[no-untyped-def]
    settings = Settings(data_dir=tmp_path, database_url=database_url, queue_url=f"sqlite:///{tmp_path / 'q.sqlite'}")
    return build_queue(settings)


@pytest.fixture
def client(tmp_path: Path, database_url: str, sessions, queue):  # type: ignore[no-untyped-def]
    settings = Settings(data_dir=tmp_path, database_url=database_url, queue_url=f"sqlite:///{tmp_path / 'q.sqlite'}")
    client = dose_browser_client(settings, sessions)
    client.application.extensions[QUEUE_EXTENSION] = queue
    return client


@pytest.fixture
def header(corpus, sessions):  # type: ignore[no-untyped-def]
    assert ingest_object(sessions, corpus(NO_SIZE), source=NO_SIZE).ok
    return sr_facts.read(corpus(NO_SIZE))


def upload(client, content: bytes):  # type: ignore[no-untyped-def]
    return client.post(
        "/admin/sizes/upload",
        data=content,
        headers={"Content-Type": "text/csv", "X-File-Name": quote(FILENAME)},
    )


def size_file(header) -> bytes:  # type: ignore[no-untyped-def]
    return f"Acc <no>,Höhe,Gewicht\n{header.AccessionNumber},172,64\nUNKNOWN,180,80\n".encode()


def test_upload_map_run_and_read_the_log(client, sessions, queue, header):
    answer = upload(client, size_file(header))
    assert answer.status_code == 201
    columns_url = answer.get_json()["columns_url"]
    page = client.get(columns_url).get_data(as_text=True)
    assert html.escape("Acc <no>") in page and "Höhe" in page and html.escape(FILENAME) in page
    queue.huey.immediate = True  # the worker task runs at once, in this process
    done = client.post(
        columns_url,
        data={"identifier_column": "Acc <no>", "identifier_type": "accession_number", "height_column": "Höhe",
              "height_unit": "cm", "weight_column": "Gewicht"},
    )  # fmt: skip
    assert done.status_code == 303
    with sessions() as session:
        study = session.scalars(select(model.Study)).one()
        assert (study.patient.size_m, study.patient.weight_kg) == (pytest.approx(1.72), pytest.approx(64))
        (job,) = session.scalars(select(model.SizeImportJob)).all()
    progress = client.get(f"/admin/sizes/{job.id}/progress").get_json()
    assert progress["status"] == "finished" and progress["rows_done"] == progress["rows_total"] == 2
    listing = client.get("/admin/sizes").get_data(as_text=True)
    assert "Completed import tasks" in listing and "Download logfile" in listing
    log = client.get(f"/admin/sizes/{job.id}/log")
    assert log.mimetype == "text/plain" and "attachment" in log.headers["Content-Disposition"]
    text = log.get_data(as_text=True)
    assert f"Patient size import from {FILENAME}" in text
    assert f"{header.AccessionNumber}: inserted height of 172 cm" in text
    assert "UNKNOWN: no stored study has this identifier" in text
    with sessions() as session:
        assert session.get(model.SizeImportJob, job.id).csv_content is None  # the file is gone
    client.post("/admin/sizes/delete", data={"job": job.id})
    assert client.get(f"/admin/sizes/{job.id}/progress").status_code == 404


def test_a_bad_file_is_refused_with_the_reason(client):
    answer = upload(client, b"")
    assert answer.status_code == 400 and "empty" in answer.get_json()["error"]
    answer = upload(client, b"Only,A,Header\n")
    assert answer.status_code == 400 and "no data rows" in answer.get_json()["error"]


def test_a_wrong_column_choice_keeps_the_file_waiting(client, sessions, header):
    columns_url = upload(client, size_file(header)).get_json()["columns_url"]
    answer = client.post(columns_url, data={"identifier_column": "Acc <no>", "identifier_type": "accession_number"})
    assert answer.status_code == 400
    assert "choose a height column, a weight column or both" in answer.get_data(as_text=True)
    with sessions() as session:
        (job,) = session.scalars(select(model.SizeImportJob)).all()
        assert job.status == size_import_jobs.AWAITING_COLUMNS and job.csv_content


def test_a_queued_import_is_aborted_from_the_page(client, sessions, queue, header):
    columns_url = upload(client, size_file(header)).get_json()["columns_url"]
    client.post(columns_url, data={"identifier_column": "Acc <no>", "identifier_type": "accession_number",
                                   "height_column": "Höhe", "height_unit": "cm"})  # fmt: skip
    with sessions() as session:
        (job,) = session.scalars(select(model.SizeImportJob)).all()
    assert job.status == size_import_jobs.QUEUED
    assert queue.huey.pending_count() == 1  # waiting for a worker
    page = client.get("/admin/sizes").get_data(as_text=True)
    assert "Import tasks in progress" in page and f"/admin/sizes/{job.id}/abort" in page
    client.post(f"/admin/sizes/{job.id}/abort")
    (task,) = queue.huey.pending()
    queue.huey.execute(task)  # what a worker does with it
    with sessions() as session:
        job = session.get(model.SizeImportJob, job.id)
        assert job.status == size_import_jobs.ABORTED and job.csv_content is None
        assert session.scalars(select(model.Study)).one().patient.size_m is None
