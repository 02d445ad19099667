"""What every detail page does alike: events in the order they were taken, the system named by
the fields it has, one format with units for times, no column that no event fills."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

import sr_facts
from orthanc_rem import ingest, persistence
from orthanc_rem.config import Settings
from orthanc_rem.extraction import records
from orthanc_rem.extraction.dicom_file import read_dicom_file
from orthanc_rem.extraction.projection_report import read_projection_dose_report
from test_web import ct_report
from web_clients import dose_browser_client

BASE_URL = "http://orthanc.test/rem/"
DATETIME_STARTED = "111526"


@pytest.fixture
def client(tmp_path: Path, database_url: str, sessions: sessionmaker[Session]):  # type: ignore[no-untyped-def]
    settings = Settings(data_dir=tmp_path, database_url=database_url, queue_url="memory://", page_size=25)
    return dose_browser_client(settings, sessions)


def store(sessions: sessionmaker[Session], report: object) -> int:
    with sessions() as session:
        result = persistence.store_report(session, report)  # type: ignore[arg-type]
    assert result.study_id is not None, result
    return result.study_id


def page(client, path: str) -> str:  # type: ignore[no-untyped-def]
    response = client.get(path, base_url=BASE_URL)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_data(as_text=True)


def event_times(text: str) -> list[str]:
    return re.findall(r'<tr class="event">\s*<td class="nowrap">([0-9:]*)</td>', text)


def test_radiography_exposures_in_the_order_they_were_taken(client, sessions, corpus):  # type: ignore[no-untyped-def]
    name = "DX-RDSR-Carestream_DRXEvolution.dcm"  # lists its exposures out of time order
    study_id = store(sessions, read_projection_dose_report(read_dicom_file(corpus(name))))
    started = [str(sr_facts.find(e, DATETIME_STARTED)[0].DateTime) for e in sr_facts.projection_events(
        sr_facts.read(corpus(name)))]  # fmt: skip
    assert started != sorted(started)
    expected = [f"{t[8:10]}:{t[10:12]}:{t[12:14]}" for t in sorted(started)]
    assert event_times(page(client, f"/dx/{study_id}")) == expected


def test_images_stored_in_any_order_are_listed_by_time(client, sessions, corpus):  # type: ignore[no-untyped-def]
    names = ["DX-Im-GE_XR220-3.dcm", "DX-Im-GE_XR220-1.dcm", "DX-Im-GE_XR220-2.dcm"]
    for name in names:
        assert ingest.ingest_object(sessions, corpus(name), source=name).outcome == "imported"
    (study,) = client.get("/api/studies?modality=DX", base_url=BASE_URL).get_json()["studies"]
    study_id = study["id"]
    times = sorted(str(read_dicom_file(corpus(n)).AcquisitionTime)[:6] for n in names)
    assert event_times(page(client, f"/dx/{study_id}")) == [f"{t[:2]}:{t[2:4]}:{t[4:6]}" for t in times]


def test_system_is_named_by_the_fields_it_has(client, sessions):  # type: ignore[no-untyped-def]
    report = ct_report(1)
    report = replace(report, equipment=records.Equipment(manufacturer="SIEMENS", institution_name="Hospital A"))
    text = page(client, f"/ct/{store(sessions, report)}")
    assert "<dd>SIEMENS</dd>" in text
    assert "| |" not in text and "SIEMENS |" not in text


def test_fluoroscopy_times_in_one_format_and_no_empty_columns(client, sessions, corpus):  # type: ignore[no-untyped-def]
    name = "RF-RDSR-Siemens-Zee.dcm"
    study_id = store(sessions, read_projection_dose_report(read_dicom_file(corpus(name))))
    text = page(client, f"/rf/{study_id}")
    (events,) = re.findall(r'<table class="events">(.*?)</table>', text, re.DOTALL)
    headings = re.findall(r"<th[^>]*>(.*?)</th>", events)
    rows = [re.findall(r"<td[^>]*>(.*?)</td>", row, re.DOTALL) for row in re.findall(
        r'<tr class="event">(.*?)</tr>', events, re.DOTALL)]  # fmt: skip
    assert rows and all(len(row) == len(headings) for row in rows)
    for column in range(len(headings)):
        assert any(re.sub(r"<[^>]+>", "", row[column]).strip() for row in rows), headings[column]
    for heading in ("Duration (ms)", "Exposure time (ms)"):
        if heading in headings:
            cells = [row[headings.index(heading)] for row in rows]
            assert all(re.fullmatch(r"|[0-9]+\.[0-9]", cell) for cell in cells), (heading, cells)
