"""The date format of XLSX exports is a setting (default dd/mm/yyyy, manual L5557): changed on the
admin page or with ``orthanc-rem settings``, read by every export job when it starts."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import openpyxl
import pydicom
import pytest

from orthanc_rem import export_settings
from orthanc_rem.cli import main
from orthanc_rem.config import Settings
from orthanc_rem.ingest import ingest_object
from web_clients import dose_browser_client

BASE_URL = "http://orthanc.test/rem/"
CT_FILE = "CT-RDSR-Siemens_Flash-TAP-SS.dcm"


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url=database_url, queue_url="memory://", page_size=25)


@pytest.fixture
def client(settings: Settings, sessions: Any, corpus: Any) -> Any:
    assert ingest_object(sessions, corpus(CT_FILE), source=f"file:{CT_FILE}").extracted
    return dose_browser_client(settings, sessions)


def _date_format(sessions: Any) -> str:
    with sessions() as session:
        return export_settings.date_format(session)


def test_the_default_is_the_manuals(sessions):
    assert _date_format(sessions) == "dd/mm/yyyy"


def test_an_export_shows_dates_in_the_format_set_on_the_admin_page(client, settings, sessions, corpus):
    response = client.post("/admin/export-settings", data={"export_date_format": "yyyy-mm-dd"}, base_url=BASE_URL)
    assert response.status_code == 303
    assert 'value="yyyy-mm-dd"' in client.get("/admin/export-settings", base_url=BASE_URL).get_data(as_text=True)
    client.post("/exports/start/ct/xlsx", base_url=BASE_URL)
    (job,) = client.get("/exports/status.json", base_url=BASE_URL).json
    assert job["status"] == "finished"
    workbook = openpyxl.load_workbook(settings.data_dir / "exports" / job["file_name"])
    header, row = list(workbook["All data"].iter_rows())[:2]
    cell = row[[c.value for c in header].index("Study date")]
    ds = pydicom.dcmread(corpus(CT_FILE), stop_before_pixels=True)
    assert cell.value == dt.datetime.strptime(ds.StudyDate, "%Y%m%d")  # still a date, shown another way
    assert cell.number_format == "yyyy-mm-dd"


@pytest.mark.parametrize("bad", ["", "dd/mm/yyyy hh", "0.00", "yyyy;mm", '"dd"'])
def test_a_format_that_is_not_a_date_format_is_refused_and_the_setting_kept(client, sessions, bad):
    response = client.post("/admin/export-settings", data={"export_date_format": bad}, base_url=BASE_URL)
    assert response.status_code == 400
    assert "is not a date format" in response.get_data(as_text=True)
    assert _date_format(sessions) == "dd/mm/yyyy"


def test_the_configuration_page_links_to_it(client):
    assert "/admin/export-settings" in client.get("/admin/config", base_url=BASE_URL).get_data(as_text=True)


def test_command_line_sets_and_shows_it(database_url, sessions, capsys):
    assert main(["settings", "--database", database_url, "--set", "export_date_format=mm/dd/yy"]) == 0
    assert json.loads(capsys.readouterr().out)["export_date_format"] == "mm/dd/yy"
    assert _date_format(sessions) == "mm/dd/yy"
    assert main(["settings", "--database", database_url, "--set", "export_date_format=banana"]) == 2
    assert "is not a date format" in capsys.readouterr().err
    assert _date_format(sessions) == "mm/dd/yy"
