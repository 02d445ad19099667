"""Chart data (``GET /api/charts/<modality>/<chart>``) for corpus studies, against means, medians
and counts computed here from values read with pydicom (``sr_facts``), on SQLite and PostgreSQL;
and drill-down: the list filter a category links to lists exactly the chart's studies.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

import sr_facts
from conftest import corpus_dir
from orthanc_rem.config import Settings
from orthanc_rem.ingest import ingest_object
from web_clients import dose_browser_client

BASE_URL = "http://orthanc.test/rem/"
#: Single-report CT studies of the corpus, from four makers (no continued or cumulative reports, so
#: that each file is one study with exactly the events it holds).
CT_FILES = ("CT-RDSR-Siemens_Flash-TAP-SS.dcm", "CT-RDSR-ToshibaPixelMed.dcm", "CT-RDSR-GEPixelMed.dcm",
            "CT-ESR-GE_VCT.dcm", "CT-RDSR-Toshiba_DoseCheck.dcm", "CT-ESR-GE_Optima.dcm")  # fmt: skip
ACQUISITION_PROTOCOL = "125203"
CT_ACQUISITION_TYPE = "113820"
CONSTANT_ANGLE = "Constant Angle Acquisition"


@pytest.fixture
def client(tmp_path: Path, database_url: str, sessions: sessionmaker[Session]):  # type: ignore[no-untyped-def]
    for name in CT_FILES:
        outcome = ingest_object(sessions, corpus_dir() / name, source=f"file:{name}")
        assert outcome.extracted, (name, outcome.reason)
    settings = Settings(data_dir=tmp_path, database_url=database_url, queue_url="memory://", page_size=25)
    return dose_browser_client(settings, sessions)


def get_chart(client: Any, path: str) -> dict[str, Any]:
    response = client.get(f"/api/charts/{path}", base_url=BASE_URL)
    assert response.status_code == 200, response.get_data(as_text=True)
    document: dict[str, Any] = response.get_json()
    return document


# --- values read from the objects ---------------------------------------------------------------------


def text_of(node: Any, code: str) -> str | None:
    found = sr_facts.find(node, code)
    return str(found[0].TextValue) if found and found[0].get("TextValue") is not None else None


def code_meaning_of(node: Any, code: str) -> str | None:
    found = sr_facts.find(node, code)
    return str(found[0].ConceptCodeSequence[0].CodeMeaning) if found and found[0].get("ConceptCodeSequence") else None


def name(text: str | None) -> str:
    """The chart's category of a name: trimmed, "Blank" when empty."""
    return (text or "").strip() or "Blank"


def acquisitions() -> list[dict[str, Any]]:
    """Every CT acquisition of the files: protocol, type, CTDIvol, DLP (read with pydicom)."""
    found = []
    for file_name in CT_FILES:
        ds = sr_facts.read(corpus_dir() / file_name)
        for acquisition in sr_facts.ct_acquisitions(ds):
            ctdivol = sr_facts.numbers(acquisition, sr_facts.MEAN_CTDIVOL)
            dlp = sr_facts.numbers(acquisition, sr_facts.DLP)
            found.append({
                "file": file_name, "description": name(ds.get("StudyDescription")),
                "protocol": name(text_of(acquisition, ACQUISITION_PROTOCOL)),
                "type": code_meaning_of(acquisition, CT_ACQUISITION_TYPE),
                "ctdivol": ctdivol[0] if ctdivol else None, "dlp": dlp[0] if dlp else None,
            })  # fmt: skip
    return found


def studies() -> list[dict[str, Any]]:
    found = []
    for file_name in CT_FILES:
        ds = sr_facts.read(corpus_dir() / file_name)
        total = sr_facts.numbers(ds, sr_facts.DLP_TOTAL)
        found.append({
            "file": file_name, "uid": str(ds.StudyInstanceUID), "description": name(ds.get("StudyDescription")),
            "dlp": total[0] if total else None, "events": len(sr_facts.ct_acquisitions(ds)),
            "date": ds.get("StudyDate"), "time": ds.get("StudyTime"),
        })  # fmt: skip
    return found


def expected_statistics(pairs: list[tuple[str, float | None]]) -> dict[str, dict[str, float]]:
    """n, mean and median per category of the non-blank, non-zero values."""
    values: dict[str, list[float]] = defaultdict(list)
    for category, value in pairs:
        if value is not None and value > 0:
            values[category].append(value)
    return {c: {"n": len(v), "mean": statistics.mean(v), "median": statistics.median(v)} for c, v in values.items()}


def chart_statistics(document: dict[str, Any]) -> dict[str, dict[str, float]]:
    return {item["category"]: {"n": item["n"], "mean": pytest.approx(item["mean"]),
                               "median": pytest.approx(item["median"])} for item in document["data"]}  # fmt: skip


ONE_SERIES = "series_per_system=no&average=both"  # both: these tests check medians too


# --- CT charts ------------------------------------------------------------------------------------------


def test_dlp_per_acquisition_protocol_leaves_out_localisers_and_zero_doses(client):  # type: ignore[no-untyped-def]
    rows = [(a["protocol"], a["dlp"]) for a in acquisitions() if a["type"] != CONSTANT_ANGLE]
    document = get_chart(client, f"ct/dlp-per-acquisition-protocol?{ONE_SERIES}")
    assert document["unit"] == "mGy.cm"
    assert chart_statistics(document) == expected_statistics(rows)
    frequency = get_chart(client, f"ct/acquisition-frequency?{ONE_SERIES}")
    assert {item["category"]: item["n"] for item in frequency["data"]} == {
        c: s["n"] for c, s in expected_statistics(rows).items()
    }


def test_ctdivol_per_acquisition_protocol_and_per_study_description(client):  # type: ignore[no-untyped-def]
    scans = [a for a in acquisitions() if a["type"] != CONSTANT_ANGLE]
    assert any(a["type"] == CONSTANT_ANGLE for a in acquisitions())  # the corpus has localisers to leave out
    document = get_chart(client, f"ct/ctdivol-per-acquisition-protocol?{ONE_SERIES}")
    assert chart_statistics(document) == expected_statistics([(a["protocol"], a["ctdivol"]) for a in scans])
    document = get_chart(client, f"ct/ctdivol-per-study-description?{ONE_SERIES}")
    assert chart_statistics(document) == expected_statistics([(a["description"], a["ctdivol"]) for a in scans])


def test_study_dlp_frequency_and_events_per_study_description(client):  # type: ignore[no-untyped-def]
    found = studies()
    document = get_chart(client, f"ct/dlp-per-study-description?{ONE_SERIES}")
    assert chart_statistics(document) == expected_statistics([(s["description"], s["dlp"]) for s in found])
    frequency = get_chart(client, f"ct/study-frequency?{ONE_SERIES}")
    assert sum(item["n"] for item in frequency["data"]) == len([s for s in found if s["dlp"]])
    events = get_chart(client, f"ct/events-per-study-description?{ONE_SERIES}")
    assert chart_statistics(events) == expected_statistics([(s["description"], s["events"]) for s in found])


def test_workload_counts_every_study_per_weekday_and_hour(client):  # type: ignore[no-untyped-def]
    expected: dict[str, list[int]] = defaultdict(lambda: [0] * 24)
    for study in studies():
        when = dt.datetime.strptime(study["date"] + study["time"][:2], "%Y%m%d%H")
        expected[when.strftime("%A")][when.hour] += 1
    document = get_chart(client, "ct/workload")
    assert {day["weekday"]: day["hours"] for day in document["data"] if day["n"]} == dict(expected)


def test_a_study_description_drills_down_to_exactly_its_studies(client):  # type: ignore[no-untyped-def]
    found = studies()
    document = get_chart(client, "ct/study-frequency?series_per_system=no")
    assert document["data"]
    for item in document["data"]:
        if item["category"] == "Blank":
            continue
        response = client.get("/api/studies", query_string={"modality": "CT", **item["filter"]}, base_url=BASE_URL)
        listed = {study["study_instance_uid"] for study in response.get_json()["studies"]}
        expected = {s["uid"] for s in found if s["dlp"] and item["category"].lower() in s["description"].lower()}
        assert listed == expected
        assert item["url"].startswith("/rem/ct/?")
