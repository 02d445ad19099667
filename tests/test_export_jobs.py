"""Exports as users start them: the Exports page and its endpoints, the background job record,
permissions on the files, and ``orthanc-rem export`` on the same code path."""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from sqlalchemy import select

import sr_facts
from orthanc_rem import export_jobs, model
from orthanc_rem.cli import main
from orthanc_rem.config import Settings
from orthanc_rem.exports.columns import PatientData
from orthanc_rem.exports.runner import ExportFormat, ExportRequest
from orthanc_rem.exports.selection import known_filters, selected_studies
from orthanc_rem.ingest import ingest_object
from orthanc_rem_web import current_user, export_pages, permissions
from web_clients import dose_browser_client

BASE_URL = "http://orthanc.test/rem/"
CT_FILES = ("CT-RDSR-Siemens_Flash-TAP-SS.dcm", "CT-ESR-GE_VCT.dcm")


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url=database_url, queue_url="memory://", page_size=25)


@pytest.fixture
def client(settings: Settings, sessions: Any, corpus: Any) -> Any:
    for name in CT_FILES:
        assert ingest_object(sessions, corpus(name), source=f"file:{name}").extracted
    return dose_browser_client(settings, sessions)


def _jobs(client: Any) -> list[dict[str, Any]]:
    response = client.get("/exports/status.json", base_url=BASE_URL)
    assert response.status_code == 200
    return response.json  # type: ignore[no-any-return]


def test_list_buttons_start_an_export_with_the_lists_query_string(client, corpus):
    ds = sr_facts.read(corpus(CT_FILES[1]))
    day = f"{ds.StudyDate[:4]}-{ds.StudyDate[4:6]}-{ds.StudyDate[6:]}"
    page = client.get(f"/ct/?date_from={day}", base_url=BASE_URL).get_data(as_text=True)
    actions = re.findall(r'action="([^"]*/exports/start/[^"]*)"', page)
    assert {a.split("?")[0].rsplit("/", 1)[1] for a in actions} == {"csv", "xlsx"}
    xlsx = next(a for a in actions if "/xlsx" in a)
    assert f"date_from={day}" in xlsx
    response = client.post(xlsx.replace("/rem", "", 1), base_url=BASE_URL)
    assert response.status_code == 302
    (job,) = _jobs(client)
    assert (job["status"], job["modality"], job["type"], job["studies_total"]) == ("finished", "CT", "XLSX export", 1)
    download = client.get(f"/exports/{job['id']}/download", base_url=BASE_URL)
    assert download.status_code == 200
    assert re.fullmatch(r"ctexport\d{8}-\d{12}\.xlsx", job["file_name"])
    path = Path(client.application.extensions["orthanc_rem"].settings.data_dir) / "exports" / job["file_name"]
    rows = list(openpyxl.load_workbook(path)["All data"].iter_rows(values_only=True))
    assert rows[1][rows[0].index("Accession number")] == str(ds.AccessionNumber)
    page = client.get("/exports/", base_url=BASE_URL).get_data(as_text=True)
    assert job["file_name"] in page


def test_mammography_list_offers_nhsbsp(client):
    page = client.get("/mg/", base_url=BASE_URL).get_data(as_text=True)
    assert "/exports/start/mg/nhsbsp" in page


def test_zero_studies_is_a_failed_export_with_the_reason(client):
    client.post("/exports/start/ct/csv?date_from=2999-01-01", base_url=BASE_URL)
    (job,) = _jobs(client)
    assert job["status"] == "failed"
    assert job["error"] == "Export aborted - zero studies in the filter!"
    assert "zero studies in the filter" in client.get("/exports/", base_url=BASE_URL).get_data(as_text=True)


def test_a_filter_the_export_cannot_apply_is_refused(client):
    response = client.post("/exports/start/ct/csv?no_such_filter=1", base_url=BASE_URL)
    assert response.status_code == 400
    assert _jobs(client) == []


def test_export_selection_knows_every_list_filter():
    """Exports read the lists' own filter (study_filters): every list filter is an export filter."""
    assert {"study_description", "acquisition_protocol", "dlp_from", "display_name", "order_by"} <= known_filters()


def test_patient_variants_need_the_pid_group(client, monkeypatch):
    monkeypatch.setattr(permissions, "may", lambda group: group != permissions.PID)
    monkeypatch.setitem(client.application.jinja_env.globals, "may", permissions.may)
    response = client.post("/exports/start/ct/csv", data={"pid": "names"}, base_url=BASE_URL)
    assert response.status_code == 403
    assert "with names" not in client.get("/ct/", base_url=BASE_URL).get_data(as_text=True)


def test_files_are_for_their_owner_and_admins(client, monkeypatch):
    monkeypatch.setattr(export_pages, "current_user_name", lambda: "alice")
    client.post("/exports/start/ct/csv", base_url=BASE_URL)
    (job,) = _jobs(client)
    assert job["owner"] == "alice"
    monkeypatch.setattr(export_pages, "current_user_name", lambda: "bob")
    monkeypatch.setattr(permissions, "may", lambda group: group != permissions.ADMIN)
    assert client.get(f"/exports/{job['id']}/download", base_url=BASE_URL).status_code == 404
    assert _jobs(client) == []
    monkeypatch.setattr(permissions, "may", lambda group: True)  # an administrator
    assert client.get(f"/exports/{job['id']}/download", base_url=BASE_URL).status_code == 200


def test_delete_removes_the_record_and_the_file(client, settings):
    client.post("/exports/start/ct/csv", base_url=BASE_URL)
    (job,) = _jobs(client)
    path = settings.data_dir / "exports" / job["file_name"]
    assert path.is_file()
    client.post("/exports/delete", data={"job": [str(job["id"])]}, base_url=BASE_URL)
    assert _jobs(client) == [] and not path.exists()


def test_abort_of_a_queued_job_stops_it_before_it_runs(settings, sessions, client):
    with sessions() as session:
        job = export_jobs.create_job(session, owner=None, request=ExportRequest("CT", ExportFormat.XLSX), filters={})
        session.commit()
        job_id = job.id
    client.post(f"/exports/{job_id}/abort", base_url=BASE_URL)
    job = export_jobs.run_job(settings, job_id, selected_studies)
    assert job.status == "aborted" and job.file_name is None


def test_abort_while_running_removes_the_file(settings, sessions, client):
    with sessions() as session:
        job = export_jobs.create_job(session, owner=None, request=ExportRequest("CT", ExportFormat.CSV), filters={})
        session.commit()
        job_id = job.id

    def abort_after_first_batch(done: int, total: int) -> None:
        with sessions.begin() as session:
            export_jobs.request_abort(session, job_id)

    job = export_jobs.run_job(settings, job_id, selected_studies, abort_after_first_batch)
    # Both studies fit in one batch, so the export ends before it looks at the flag again.
    assert job.status in ("finished", "aborted")
    if job.status == "aborted":
        assert not any((settings.data_dir / "exports").iterdir())


def test_command_line_export_with_ids_and_progress_off_without_a_terminal(
    client, database_url, tmp_path, corpus, capsys
):
    output = tmp_path / "ct.csv"
    status = main(["export", "--database", database_url, "--modality", "ct", "--format", "csv",
                   "--output", str(output), "--with-ids"])  # fmt: skip
    assert status == 0
    captured = capsys.readouterr()
    assert "2 studies, 2 rows written" in captured.out
    assert "exporting [" not in captured.err
    with output.open(encoding="utf-8", newline="") as file:
        header, *rows = list(csv.reader(file))
    assert header[:2] == ["Patient ID", "Institution"] and len(rows) == 2
    with export_jobs.database.session_factory(database_url)() as session:
        (job,) = session.scalars(select(model.ExportJob)).all()
        assert (job.status, job.with_ids, job.file_name) == ("finished", True, None)


def test_command_line_bom_option_starts_the_csv_with_a_byte_order_mark(client, database_url, tmp_path):
    """The job record keeps the option: the export runs from the record, as a queued one does."""
    common = ["export", "--database", database_url, "--modality", "CT", "--format", "csv"]
    assert main([*common, "--output", str(tmp_path / "bom.csv"), "--bom"]) == 0
    assert main([*common, "--output", str(tmp_path / "plain.csv")]) == 0
    assert (tmp_path / "bom.csv").read_bytes().startswith(b"\xef\xbb\xbfInstitution,")
    assert (tmp_path / "plain.csv").read_bytes().startswith(b"Institution,")


def test_command_line_refuses_a_filter_it_cannot_apply_and_reports_zero_studies(client, database_url, tmp_path, capsys):
    common = ["export", "--database", database_url, "--modality", "CT", "--format", "xlsx", "--output",
              str(tmp_path / "x.xlsx")]  # fmt: skip
    assert main([*common, "--filter", "no_such_filter=1"]) == 2
    assert "no_such_filter" in capsys.readouterr().err
    assert main([*common, "--date-from", "2999-01-01"]) == 1
    assert "zero studies in the filter" in capsys.readouterr().err
    assert not (tmp_path / "x.xlsx").exists()


def test_patient_data_label():
    assert PatientData(names=True, ids=True).label == "with names and IDs"
    assert current_user.current_user_name() is None


def test_an_export_that_cannot_be_queued_fails_with_the_reason(client, monkeypatch):
    from orthanc_rem import export_tasks

    def unreachable(settings: Settings, job_id: int) -> None:
        raise OSError("queue.sqlite: disk I/O error")

    monkeypatch.setattr(export_tasks, "queue_export", unreachable)
    client.post("/exports/start/ct/csv", base_url=BASE_URL)
    (job,) = _jobs(client)
    assert job["status"] == "failed" and "disk I/O error" in job["error"]
