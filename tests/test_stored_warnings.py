"""What extraction could not read is stored with the object and shown (page and API); every
processed object keeps its Series Instance UID; no outcome leaves an empty study behind.

Objects are corpus files, some edited in memory the way a modality gets them wrong; expected
values are read from the objects with plain pydicom.
"""

from __future__ import annotations

import html
import io
from collections.abc import Callable
from pathlib import Path

import pydicom
import pytest
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.tag import Tag
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

import sr_facts
from conftest import corpus_files
from made_objects import broken_dose_report
from orthanc_rem import model
from orthanc_rem.config import Settings
from orthanc_rem.ingest import ingest_object
from web_clients import dose_browser_client

Corpus = Callable[[str], Path]
BASE_URL = "http://orthanc.test/rem/"


def edited(path: Path, edit: Callable[[Dataset], None]) -> bytes:
    ds = pydicom.dcmread(path)
    edit(ds)
    buffer = io.BytesIO()
    ds.save_as(buffer)
    return buffer.getvalue()


def person_name_as_wrong_value_type(ds: Dataset) -> None:
    """Dose Check Alert Details > Person Name with ValueType "PERSON NAME" instead of "PNAME"."""
    for alert in sr_facts.find(ds, "113900"):
        person = sr_facts.child(alert, "113870")
        assert person is not None
        person.ValueType = "PERSON NAME"


def dap_one_half(ds: Dataset) -> None:
    """ImageAndFluoroscopyAreaDoseProduct (0018,115E) reading "1/2": not a DS."""
    ds[0x0018115E] = RawDataElement(Tag(0x0018115E), "DS", 4, b"1/2 ", 0, False, True)


@pytest.fixture
def client(tmp_path: Path, database_url: str, sessions: sessionmaker[Session]):  # type: ignore[no-untyped-def]
    settings = Settings(data_dir=tmp_path, database_url=database_url, queue_url="memory://", page_size=25)
    return dose_browser_client(settings, sessions)


def stored_objects(sessions: sessionmaker[Session]) -> list[tuple[str, str | None, list[str]]]:
    with sessions() as session:
        return [
            (o.sop_instance_uid, o.series_instance_uid, [w.message for w in o.warnings])
            for o in session.scalars(select(model.ProcessedObject).order_by(model.ProcessedObject.id))
        ]


# --- warnings are stored, shown on the page and in the API --------------------------------------------


def test_ct_report_with_a_malformed_optional_item_is_imported_with_its_warning(corpus, sessions, client):
    path = corpus("CT-RDSR-Toshiba_DoseCheck.dcm")
    outcome = ingest_object(sessions, edited(path, person_name_as_wrong_value_type), source="file:edited")
    assert outcome.outcome == "imported", outcome.reason

    ds = pydicom.dcmread(path)
    ((sop_instance_uid, series_instance_uid, warnings),) = stored_objects(sessions)
    assert sop_instance_uid == ds.SOPInstanceUID
    assert series_instance_uid == ds.SeriesInstanceUID
    person_warnings = [w for w in warnings if "Person Name (113870, DCM)" in w and "PERSON NAME" in w]
    assert len(person_warnings) == len(sr_facts.find(ds, "113900"))

    document = client.get(f"/api/studies/{outcome.study_id}", base_url=BASE_URL).get_json()
    (stored,) = document["objects"]
    assert stored["series_instance_uid"] == ds.SeriesInstanceUID
    assert [w["message"] for w in stored["warnings"]] == warnings

    page = html.unescape(client.get(f"/ct/{outcome.study_id}", base_url=BASE_URL).get_data(as_text=True))
    assert ds.SeriesInstanceUID in page
    for warning in person_warnings:
        assert warning in page


def test_image_dap_that_cannot_be_read_is_a_stored_warning(corpus, sessions, client):
    """The held-out image whose DAP reads "1/2" imported with DAP empty and no warning anywhere."""
    path = corpus("DX-Im-GE_XR220-1.dcm")
    outcome = ingest_object(sessions, edited(path, dap_one_half), source="file:dap")
    assert outcome.outcome == "imported", outcome.reason

    document = client.get(f"/api/studies/{outcome.study_id}", base_url=BASE_URL).get_json()
    (dose,) = document["projection_xray_radiation_doses"]
    assert dose["events"][0]["dose_area_product_gym2"]["value"] is None
    (stored,) = document["objects"]
    messages = [w["message"] for w in stored["warnings"]]
    assert any("ImageAndFluoroscopyAreaDoseProduct" in m and "'1/2'" in m for m in messages), messages
    page = html.unescape(client.get(f"/dx/{outcome.study_id}", base_url=BASE_URL).get_data(as_text=True))
    assert "ImageAndFluoroscopyAreaDoseProduct: numeric value '1/2' is not a number" in page


def test_object_without_warnings_shows_none(corpus, sessions, client):
    path = corpus("CT-RDSR-Siemens-Multi-1.dcm")
    outcome = ingest_object(sessions, path, source="file:clean")
    document = client.get(f"/api/studies/{outcome.study_id}", base_url=BASE_URL).get_json()
    (stored,) = document["objects"]
    assert stored["series_instance_uid"] == pydicom.dcmread(path).SeriesInstanceUID
    assert stored["warnings"] == [{"message": w} for w in stored_objects(sessions)[0][2]]


# --- no empty study -----------------------------------------------------------------------------------


def empty_studies(sessions: sessionmaker[Session]) -> list[str]:
    """Studies without a processed object or without any dose report (nothing to list or count)."""
    study = model.Study
    with_objects = select(model.ProcessedObject.study_fk)
    with_ct = select(model.CtRadiationDose.study_fk)
    with_projection = select(model.ProjectionXRayRadiationDose.study_fk)
    query = select(study.study_instance_uid).where(
        study.id.not_in(with_objects) | (study.id.not_in(with_ct) & study.id.not_in(with_projection))
    )
    with sessions() as session:
        return list(session.scalars(query))


def test_reused_sop_instance_uid_under_another_study_is_a_duplicate_without_a_study(corpus, sessions):
    first, second = corpus("RF-RDSR-Siemens-Zee.dcm"), corpus("RF-RDSR-Siemens-Zee_adjusted.dcm")
    a, b = pydicom.dcmread(first, stop_before_pixels=True), pydicom.dcmread(second, stop_before_pixels=True)
    assert a.SOPInstanceUID == b.SOPInstanceUID and a.StudyInstanceUID != b.StudyInstanceUID

    assert ingest_object(sessions, first, source="file:1").outcome == "imported"
    assert ingest_object(sessions, second, source="file:2").outcome == "duplicate"
    with sessions() as session:
        assert list(session.scalars(select(model.Study.study_instance_uid))) == [a.StudyInstanceUID]
    assert empty_studies(sessions) == []


@pytest.mark.parametrize("order", ["forward", "reverse"])
def test_no_outcome_of_the_whole_corpus_leaves_an_empty_study(corpus, sessions, tmp_path, order):
    """Every path through storage (imported, replaced, duplicate, superseded, not a dose report,
    unmatched, failed), in two orders and with every object sent twice."""
    broken, _uid = broken_dose_report(corpus, tmp_path)
    files = [*corpus_files(), broken]
    if order == "reverse":
        files.reverse()
    outcomes = set()
    for path in files + files:
        outcomes.add(ingest_object(sessions, path, source=f"file:{path.name}").outcome)
    expected = {"imported", "duplicate", "superseded", "not_dose_report", "unmatched", "failed"}
    assert expected | ({"replaced"} if order == "forward" else set()) <= outcomes  # Multi-1, -2, -3 grow
    assert empty_studies(sessions) == []
    with sessions() as session:
        assert session.scalar(select(func.count(model.Study.id))) > 0
