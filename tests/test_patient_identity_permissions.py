"""Patient names and IDs, and the links to Orthanc Explorer (which shows them in full), only for
the pid group (or, for the links, Orthanc's administrators in our admin group): issue 7."""

from __future__ import annotations

from pathlib import Path

import pydicom
import pytest
from sqlalchemy import update

from orthanc_rem import model
from orthanc_rem.cli import main
from orthanc_rem.config import Settings
from web_clients import client_with_groups

REPORT = "CT-RDSR-Siemens-Multi-1.dcm"


@pytest.fixture
def imported(corpus, database_url: str, capsys) -> pydicom.Dataset:  # type: ignore[no-untyped-def]
    settings = ("--set", "store_patient_name=true", "--set", "hash_patient_name=false")
    assert main(["--database", database_url, "settings", *settings]) == 0
    assert main(["--database", database_url, "import", str(corpus(REPORT))]) == 0
    capsys.readouterr()
    return pydicom.dcmread(corpus(REPORT), stop_before_pixels=True)


def test_api_shows_the_patient_name_only_to_pid(imported, tmp_path: Path, database_url: str, sessions) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(data_dir=tmp_path, database_url=database_url, queue_url="memory://")
    name = str(imported.PatientName)
    assert name
    with_pid = client_with_groups(settings, sessions, ["view", "pid"])
    (row,) = with_pid.get("/api/studies").get_json()["studies"]
    assert with_pid.get(f"/api/studies/{row['id']}").get_json()["patient"]["name"] == name
    without = client_with_groups(settings, sessions, ["view"])
    patient = without.get(f"/api/studies/{row['id']}").get_json()["patient"]
    assert "name" not in patient and "patient_id" not in patient and "birth_date" not in patient
    assert name not in without.get(f"/api/studies/{row['id']}").get_data(as_text=True)


def test_explorer_links_only_for_pid_or_admin(imported, tmp_path: Path, database_url: str, sessions) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(data_dir=tmp_path, database_url=database_url, queue_url="memory://")
    with sessions() as session:  # as if it had come through Orthanc (the CLI import has no Orthanc id)
        session.execute(update(model.ProcessedObject).values(orthanc_id="0a1b2c3d-orthanc-id"))
        session.commit()
    view_only = client_with_groups(settings, sessions, ["view"])
    (row,) = view_only.get("/api/studies").get_json()["studies"]
    assert "explorer.html" not in view_only.get(f"/ct/{row['id']}").get_data(as_text=True)
    for groups in (["view", "pid"], ["view", "admin"]):
        client = client_with_groups(settings, sessions, groups)
        assert "explorer.html" in client.get(f"/ct/{row['id']}").get_data(as_text=True), groups
