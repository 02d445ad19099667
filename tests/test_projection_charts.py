"""Radiography, fluoroscopy and mammography chart data for corpus RDSRs, against values read with
pydicom (TID 10003 concepts of PS3.16), on SQLite and PostgreSQL."""

from __future__ import annotations

import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

import sr_facts
from conftest import corpus_dir
from orthanc_rem import charts
from orthanc_rem.config import Settings
from orthanc_rem.ingest import ingest_object
from web_clients import dose_browser_client

BASE_URL = "http://orthanc.test/rem/"
DX_FILES = ("DX-RDSR-Canon_CXDI.dcm", "DX-RDSR-Carestream_DRXEvolution.dcm")
RF_FILES = ("RF-RDSR-Siemens-Zee.dcm", "RF-RDSR-Philips_Allura.dcm", "RF-RDSR-GE.dcm")
MG_FILES = ("MG-RDSR-Hologic_2D.dcm", "MG-RDSR-GEPristina-2D.dcm")
IRRADIATION_EVENT = "113706"
ACQUISITION_PROTOCOL = "125203"
DAP = "122130"  # Gy.m2
KVP = "113733"
EXPOSURE = "113736"  # uA.s
AGD = "111631"  # mGy
COMPRESSION_THICKNESS = "111633"  # mm
LATERALITY = "G-C171"  # Laterality, a modifier of the anatomical structure
CGYCM2_PER_GYM2 = 1e6


@pytest.fixture
def client(tmp_path: Path, database_url: str, sessions: sessionmaker[Session]):  # type: ignore[no-untyped-def]
    for name in DX_FILES + RF_FILES + MG_FILES:
        outcome = ingest_object(sessions, corpus_dir() / name, source=f"file:{name}")
        assert outcome.extracted, (name, outcome.reason)
    settings = Settings(data_dir=tmp_path, database_url=database_url, queue_url="memory://", page_size=25)
    return dose_browser_client(settings, sessions)


def get_chart(client: Any, path: str) -> dict[str, Any]:
    response = client.get(f"/api/charts/{path}", base_url=BASE_URL)
    assert response.status_code == 200, response.get_data(as_text=True)
    document: dict[str, Any] = response.get_json()
    return document


def events(file_name: str) -> list[Any]:
    return sr_facts.find(sr_facts.read(corpus_dir() / file_name), IRRADIATION_EVENT)


def protocol(event: Any) -> str:
    found = sr_facts.find(event, ACQUISITION_PROTOCOL)
    text = str(found[0].TextValue).strip() if found and found[0].get("TextValue") is not None else ""
    return text or "Blank"


def first(event: Any, code: str) -> float | None:
    values = sr_facts.numbers(event, code)
    return values[0] if values else None


def expected_statistics(pairs: list[tuple[str, float | None]]) -> dict[str, tuple[int, Any, Any]]:
    values: dict[str, list[float]] = defaultdict(list)
    for category, value in pairs:
        if value is not None and value > 0:
            values[category].append(value)
    return {c: (len(v), pytest.approx(statistics.mean(v)), pytest.approx(statistics.median(v)))
            for c, v in values.items()}  # fmt: skip


def chart_statistics(document: dict[str, Any]) -> dict[str, tuple[int, float, float]]:
    return {item["category"]: (item["n"], item["mean"], item["median"]) for item in document["data"]}


def test_radiography_dap_kvp_and_mas_per_acquisition_protocol(client):  # type: ignore[no-untyped-def]
    all_events = [e for name in DX_FILES for e in events(name)]
    dap = [(protocol(e), (first(e, DAP) or 0) * CGYCM2_PER_GYM2) for e in all_events]
    kvp = [(protocol(e), first(e, KVP)) for e in all_events]
    mas = [(protocol(e), (first(e, EXPOSURE) or 0) / 1000) for e in all_events]
    assert expected_statistics(dap) and expected_statistics(kvp)
    one = "series_per_system=no&average=both"
    assert chart_statistics(get_chart(client, f"dx/dap-per-acquisition-protocol?{one}")) == expected_statistics(dap)
    assert chart_statistics(get_chart(client, f"dx/kvp-per-acquisition-protocol?{one}")) == expected_statistics(kvp)
    assert chart_statistics(get_chart(client, f"dx/mas-per-acquisition-protocol?{one}")) == expected_statistics(mas)
    events_chart = get_chart(client, f"dx/events-per-study-description?{one}")
    assert sum(item["n"] for item in events_chart["data"]) == len(DX_FILES)
    assert sum(item["mean"] * item["n"] for item in events_chart["data"]) == len(all_events)


def test_mammography_scatter_points_are_the_exposures(client):  # type: ignore[no-untyped-def]
    expected = sorted(
        (first(e, COMPRESSION_THICKNESS), first(e, AGD)) for name in MG_FILES for e in events(name)
        if (first(e, COMPRESSION_THICKNESS) or 0) > 0 and (first(e, AGD) or 0) > 0
    )  # fmt: skip
    assert expected
    document = get_chart(client, "mg/agd-vs-thickness")
    points = sorted((p["x"], p["y"]) for p in document["data"])
    assert [x for x, _ in points] == pytest.approx([x for x, _ in expected])
    assert [y for _, y in points] == pytest.approx([y for _, y in expected])
    breasts = {str(item.ConceptCodeSequence[0].CodeMeaning) for name in MG_FILES for e in events(name)
               for item in sr_facts.find(e, LATERALITY)}  # fmt: skip
    assert {p["breast"] for p in document["data"]} == breasts


def test_every_projection_chart_answers_with_its_kind(client):  # type: ignore[no-untyped-def]
    for modality in ("DX", "RF", "MG"):
        for chart in charts.charts_of(modality):
            document = get_chart(client, f"{modality.lower()}/{chart.name}?histogram=yes")
            assert document["kind"] == chart.kind and isinstance(document["data"], list), chart.name
    workload = get_chart(client, "rf/workload")
    assert sum(day["n"] for day in workload["data"]) == len(RF_FILES)
