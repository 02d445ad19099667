"""The fluoroscopy, radiography and mammography pages and the API on real RDSRs from the corpus.

Each object goes through extraction and ``persistence.store_report`` as in production. Expected
numbers are read from the same object with plain pydicom (``sr_facts``), converted with the
manual's display units (DAP Gy.m2 -> cGy.cm2 x 1e6, dose at RP Gy -> mGy x 1e3, exposure uAs ->
mAs / 1e3), and compared with what the page prints to its precision.
"""

from __future__ import annotations

import html
import re
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from pydicom.dataset import Dataset
from sqlalchemy import event, inspect
from sqlalchemy.orm import Session, sessionmaker

import sr_facts
from orthanc_rem import import_settings, model, persistence
from orthanc_rem.config import Settings
from orthanc_rem.extraction.dicom_file import read_dicom_file
from orthanc_rem.extraction.projection_report import read_projection_dose_report
from web_clients import dose_browser_client

BASE_URL = "http://orthanc.test/rem/"
SIEMENS_ZEE = "RF-RDSR-Siemens-Zee.dcm"
PHILIPS_ALLURA = "RF-RDSR-Philips_Allura.dcm"
CARESTREAM = "DX-RDSR-Carestream_DRXEvolution.dcm"
HOLOGIC = "MG-RDSR-Hologic_2D.dcm"
ALL_FILES = (SIEMENS_ZEE, PHILIPS_ALLURA, CARESTREAM, HOLOGIC)

# PS3.16 concept codes (DCM) of the values the pages show.
DAP_TOTAL, DOSE_RP_TOTAL = "113722", "113725"
FLUORO_DAP_TOTAL, ACQUISITION_DAP_TOTAL = "113726", "113727"
FLUORO_DOSE_RP_TOTAL, ACQUISITION_DOSE_RP_TOTAL = "113728", "113729"
TOTAL_FLUORO_TIME = "113730"
ACCUMULATED_AGD, LATERALITY = "111637", "G-C171"
IRRADIATION_EVENT_TYPE = "113721"
DAP, DOSE_RP, AGD, KVP, EXPOSURE = "122130", "113738", "111631", "113733", "113736"
IRRADIATION_DURATION, EXPOSURE_TIME, EXPOSURE_TIME_RETIRED = "113742", "113824", "113735"
PULSE_WIDTH, NUMBER_OF_PULSES = "113793", "113768"
EXPOSURE_INDEX, TARGET_EXPOSURE_INDEX, DEVIATION_INDEX = "113845", "113846", "113847"
XRAY_FILTERS, FILTER_MATERIAL, FILTER_THICKNESS_MIN = "113771", "113757", "113758"

#: The units each value arrives in across these files ("Gym2" and "uAs" are vendor spellings).
UNITS = {
    DAP: {"Gy.m2", "Gym2"},
    DOSE_RP: {"Gy"},
    AGD: {"mGy"},
    KVP: {"kV"},
    EXPOSURE: {"uA.s", "uAs"},
    IRRADIATION_DURATION: {"s"},
    EXPOSURE_TIME: {"ms"},
    EXPOSURE_TIME_RETIRED: {"ms"},
    PULSE_WIDTH: {"ms"},
    TOTAL_FLUORO_TIME: {"s"},
}
for _total, _of in (
    (DAP_TOTAL, DAP), (FLUORO_DAP_TOTAL, DAP), (ACQUISITION_DAP_TOTAL, DAP),
    (DOSE_RP_TOTAL, DOSE_RP), (FLUORO_DOSE_RP_TOTAL, DOSE_RP), (ACQUISITION_DOSE_RP_TOTAL, DOSE_RP),
    (ACCUMULATED_AGD, AGD),
):  # fmt: skip
    UNITS[_total] = UNITS[_of]


# --- facts from the DICOM object ---------------------------------------------------------------------


def value(node: Dataset | None, code: str) -> float | None:
    """The direct child NUM ``code`` of ``node`` (its first value), in the unit the file uses.

    Source, detector and mechanical data (TID 10003a-c) sit directly under the event in these files."""
    item = sr_facts.child(node, code)
    values, unit = sr_facts.measured(item)
    if not values:
        return None
    if code in UNITS:
        assert unit in UNITS[code], f"{code} arrives in {unit!r}"
    return values[0]


def added(*values: float | None) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) if known else None


def exposure_time_ms(event: Dataset) -> float | None:
    """Exposure Time, in the retired row Siemens still sends, or for pulsed fluoroscopy without it the
    pulse width times the number of pulses (beam-on time, OpenREM 0.8.1 #379)."""
    for code in (EXPOSURE_TIME, EXPOSURE_TIME_RETIRED):
        if (found := value(event, code)) is not None:
            return found
    pulse_width, pulses = value(event, PULSE_WIDTH), value(event, NUMBER_OF_PULSES)
    return pulse_width * pulses if pulse_width is not None and pulses is not None else None


def meaning(item: Dataset | None) -> str | None:
    if item is None or not item.get("ConceptCodeSequence"):
        return None
    return str(item.ConceptCodeSequence[0].CodeMeaning)


# --- fixtures -----------------------------------------------------------------------------------------


@pytest.fixture
def ingest(corpus, sessions):  # type: ignore[no-untyped-def]
    """``ingest(name)`` stores that corpus file and returns its study id."""

    def store(name: str) -> int:
        report = read_projection_dose_report(read_dicom_file(corpus(name)))
        with sessions() as session:
            result = persistence.store_report(session, report, orthanc_id=f"orthanc-{name}")
        assert result.outcome == "imported", result
        assert result.study_id is not None
        return result.study_id

    return store


@pytest.fixture
def client(tmp_path: Path, database_url: str, sessions: sessionmaker[Session]):  # type: ignore[no-untyped-def]
    settings = Settings(data_dir=tmp_path, database_url=database_url, queue_url="memory://", page_size=25)
    return dose_browser_client(settings, sessions)


def page(client, path: str, status: int = 200) -> str:  # type: ignore[no-untyped-def]
    response = client.get(path, base_url=BASE_URL)
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "text/html"
    return response.get_data(as_text=True)


def api(client, path: str, status: int = 200) -> Any:  # type: ignore[no-untyped-def]
    response = client.get(path, base_url=BASE_URL)
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    return response.get_json()


# --- reading the pages ----------------------------------------------------------------------------------


def text_of(fragment: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def table_rows(text: str, table_class: str, row_class: str | None = None) -> list[list[str]]:
    """The body rows (as cell texts) of the table with ``table_class``, optionally of one row class."""
    (table,) = re.findall(rf'<table class="{table_class}"[^>]*>(.*?)</table>', text, flags=re.DOTALL)
    body = table.split("<tbody>", 1)[1]
    rows = re.findall(r'<tr(?: class="([^"]*)")?>(.*?)</tr>', body, flags=re.DOTALL)
    return [
        [text_of(cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, flags=re.DOTALL)]
        for css, row in rows
        if row_class is None or css == row_class
    ]


def columns(text: str, table_class: str, row_class: str | None = None) -> list[dict[str, str]]:
    """Body rows as {column heading: cell text}: detail tables leave out columns no row fills, so a
    cell is found by its heading (sub-headings left out), and a left-out column reads as empty."""
    (table,) = re.findall(rf'<table class="{table_class}"[^>]*>(.*?)</table>', text, flags=re.DOTALL)
    head = table.split("<tbody>", 1)[0]
    names = [
        text_of(re.sub(r'<span class="sub">.*?</span>', "", th)) for th in re.findall(r"<th[^>]*>(.*?)</th>", head)
    ]
    return [defaultdict(str, zip(names, row, strict=True)) for row in table_rows(text, table_class, row_class)]


def header(text: str) -> dict[str, str]:
    (block,) = re.findall(r'<dl class="header">(.*?)</dl>', text, flags=re.DOTALL)
    return dict(
        zip(
            [text_of(t) for t in re.findall(r"<dt>(.*?)</dt>", block, flags=re.DOTALL)],
            [text_of(d) for d in re.findall(r"<dd>(.*?)</dd>", block, flags=re.DOTALL)],
            strict=True,
        )
    )


def shown(cell: str, expected: float | None, places: int = 2) -> None:
    """The cell prints ``expected`` to ``places`` decimals (or is empty when nothing was recorded)."""
    if expected is None:
        assert cell == ""
    else:
        assert float(cell.split()[0]) == pytest.approx(expected, abs=0.5 * 10**-places + 1e-9), cell


def list_row(text: str, accession_number: str) -> list[str]:
    (row,) = [r for r in table_rows(text, "studies", "study") if accession_number in r[3]]
    return row


# --- fluoroscopy -----------------------------------------------------------------------------------------


def rf_totals(ds: Dataset) -> tuple[float | None, float | None, float | None]:
    """Total DAP, dose at RP and fluoro time: fluoroscopy plus acquisition totals (TID 10004), all planes."""
    planes = sr_facts.accumulations(ds)
    dap = added(*(added(value(a, FLUORO_DAP_TOTAL), value(a, ACQUISITION_DAP_TOTAL)) for a in planes))
    dose_rp = added(*(added(value(a, FLUORO_DOSE_RP_TOTAL), value(a, ACQUISITION_DOSE_RP_TOTAL)) for a in planes))
    fluoro_time = added(*(value(a, TOTAL_FLUORO_TIME) for a in planes))
    return dap, dose_rp, fluoro_time


@pytest.mark.parametrize("name", [SIEMENS_ZEE, PHILIPS_ALLURA])
def test_rf_list_shows_the_accumulated_totals(client, ingest, corpus, name):  # type: ignore[no-untyped-def]
    for other in ALL_FILES:
        ingest(other)
    ds = sr_facts.read(corpus(name))
    dap_gym2, dose_rp_gy, fluoro_time_s = rf_totals(ds)
    assert dap_gym2 is not None and dose_rp_gy is not None

    text = page(client, "/rf/")
    assert "There are 2 studies in this list." in text
    row = list_row(text, str(ds.AccessionNumber))
    shown(row[4], len(sr_facts.projection_events(ds)), 0)
    shown(row[5], dap_gym2 * 1e6)  # cGy.cm2
    shown(row[6], dose_rp_gy * 1e3)  # mGy
    shown(row[7], fluoro_time_s, 1)

    (summary,) = [
        s for s in api(client, "/api/studies?modality=RF")["studies"] if s["accession_number"] == ds.AccessionNumber
    ]
    assert summary["number_of_events"] == len(sr_facts.projection_events(ds))
    assert summary["total_dap"] == {"value": pytest.approx(dap_gym2), "unit": "Gy.m2"}
    assert summary["total_dose_rp"] == {"value": pytest.approx(dose_rp_gy), "unit": "Gy"}
    assert summary["total_fluoro_time"] == {"value": pytest.approx(fluoro_time_s), "unit": "s"}


def test_rf_totals_agree_with_the_reported_dap_total(corpus):  # type: ignore[no-untyped-def]
    """Philips writes both the TID 10004 split and the TID 10007 total: they agree, so adding the split
    (what the list shows) is the reported total."""
    ds = sr_facts.read(corpus(PHILIPS_ALLURA))
    (plane,) = sr_facts.accumulations(ds)
    assert rf_totals(ds)[0] == pytest.approx(value(plane, DAP_TOTAL))


@pytest.mark.parametrize("name", [SIEMENS_ZEE, PHILIPS_ALLURA])
def test_rf_detail_lists_every_event(client, ingest, corpus, name):  # type: ignore[no-untyped-def]
    study_id = ingest(name)
    ds = sr_facts.read(corpus(name))
    events = sr_facts.projection_events(ds)
    text = page(client, f"/rf/{study_id}")

    rows = columns(text, "events", "event")
    assert len(rows) == len(events)
    for row, item in zip(rows, events, strict=True):
        assert row["Type"] == meaning(sr_facts.child(item, IRRADIATION_EVENT_TYPE))
        assert row["Plane"] == meaning(sr_facts.child(item, sr_facts.ACQUISITION_PLANE))
        shown(row["DAP (cGy.cm²)"], value(item, DAP) * 1e6)
        rp = value(item, DOSE_RP)
        shown(row["Dose at RP (mGy)"], None if rp is None else rp * 1e3)
        shown(row["kVp"], value(item, KVP), 1)
        duration = value(item, IRRADIATION_DURATION)
        shown(row["Duration (ms)"], None if duration is None else duration * 1e3, 1)
        shown(row["Exposure time (ms)"], exposure_time_ms(item), 1)

    header_fields = header(text)
    dap_gym2, dose_rp_gy, _ = rf_totals(ds)
    shown(header_fields["Total DAP"], dap_gym2 * 1e6)
    shown(header_fields["Total dose at RP"], dose_rp_gy * 1e3)
    assert header_fields["Number of events"] == str(len(events))


def filters_from_file(event: Dataset) -> str:
    symbols = {"Copper": "Cu", "Aluminum": "Al"}
    written = []
    for container in sr_facts.children(event, XRAY_FILTERS):
        material = meaning(sr_facts.child(container, FILTER_MATERIAL)) or ""
        thickness = value(container, FILTER_THICKNESS_MIN)
        written.append(f"{symbols[material.split()[0]]} {thickness:.1f} mm")
    return ", ".join(written)


def test_rf_detail_writes_filters_and_irradiation_type_totals(client, ingest, corpus):  # type: ignore[no-untyped-def]
    study_id = ingest(PHILIPS_ALLURA)
    events = sr_facts.projection_events(sr_facts.read(corpus(PHILIPS_ALLURA)))
    text = page(client, f"/rf/{study_id}")

    rows = columns(text, "events", "event")
    assert [row["Filters"] for row in rows] == [filters_from_file(e) for e in events]
    assert rows[0]["Filters"] == "Cu 0.4 mm, Al 1.0 mm"  # dcmdump: copper 0.4 mm and aluminium 1 mm strip filters

    expected: dict[str, list[float]] = defaultdict(list)
    for item in events:
        expected[meaning(sr_facts.child(item, IRRADIATION_EVENT_TYPE)) or ""].append(value(item, DAP) or 0.0)
    summary = table_rows(text, "irradiation-types")
    by_type = {row[1]: row for row in summary}
    assert set(by_type) == {*expected, "Total"}
    for kind, daps in expected.items():
        assert by_type[kind][2] == str(len(daps))
        shown(by_type[kind][3], sum(daps) * 1e6)
    assert by_type["Total"][2] == str(len(events))
    shown(by_type["Total"][3], sum(sum(d) for d in expected.values()) * 1e6)

    (plane,) = table_rows(text, "accumulations")
    (accumulated,) = sr_facts.accumulations(sr_facts.read(corpus(PHILIPS_ALLURA)))
    shown(plane[1], value(accumulated, FLUORO_DAP_TOTAL) * 1e6)
    shown(plane[4], value(accumulated, ACQUISITION_DAP_TOTAL) * 1e6)
    shown(plane[3], value(accumulated, TOTAL_FLUORO_TIME), 1)


# --- radiography ------------------------------------------------------------------------------------------


def test_dx_list_and_detail(client, ingest, corpus):  # type: ignore[no-untyped-def]
    study_id = ingest(CARESTREAM)
    ds = sr_facts.read(corpus(CARESTREAM))
    events = sr_facts.projection_events(ds)
    (plane,) = sr_facts.accumulations(ds)  # TID 10007 only: no fluoroscopy/acquisition split

    row = list_row(page(client, "/dx/"), str(ds.AccessionNumber))
    shown(row[4], len(events), 0)
    shown(row[5], value(plane, DAP_TOTAL) * 1e6)
    shown(row[6], value(plane, DOSE_RP_TOTAL) * 1e3)

    text = page(client, f"/dx/{study_id}")
    assert header(text)["Number of exposures"] == str(len(events))
    rows = columns(text, "events", "event")
    assert len(rows) == len(events)
    # the page lists the exposures in the order they were taken (DateTime Started, 111526); this
    # report lists them otherwise
    in_time_order = sorted(events, key=lambda e: str(sr_facts.find(e, "111526")[0].DateTime))
    for row, item in zip(rows, in_time_order, strict=True):
        shown(row["kVp"], value(item, KVP), 1)
        shown(row["mAs"], value(item, EXPOSURE) / 1e3, 2)
        shown(row["Exposure time (ms)"], value(item, EXPOSURE_TIME), 1)
        shown(row["DAP (cGy.cm²)"], value(item, DAP) * 1e6)
        shown(row["Dose at RP (mGy)"], value(item, DOSE_RP) * 1e3, 3)
        shown(row["Exposure index"], value(item, EXPOSURE_INDEX), 1)
        shown(row["Target exposure index"], value(item, TARGET_EXPOSURE_INDEX), 1)
        shown(row["Deviation index"], value(item, DEVIATION_INDEX), 2)


# --- mammography -------------------------------------------------------------------------------------------


def accumulated_agd_per_breast(ds: Dataset) -> dict[str, float]:
    """Accumulated AGD (111637) per breast, named by its Laterality child ("Left breast")."""
    per_breast: dict[str, float] = {}
    for plane in sr_facts.accumulations(ds):
        for item in sr_facts.children(plane, ACCUMULATED_AGD):
            side = (meaning(sr_facts.child(item, LATERALITY)) or "").split()[0].lower()
            values, unit = sr_facts.measured(item)
            assert unit == "mGy"
            per_breast[side] = per_breast.get(side, 0.0) + values[0]
    return per_breast


def test_mg_shows_the_accumulated_agd_per_breast(client, ingest, corpus):  # type: ignore[no-untyped-def]
    study_id = ingest(HOLOGIC)
    ds = sr_facts.read(corpus(HOLOGIC))
    agd = accumulated_agd_per_breast(ds)
    assert set(agd) == {"left", "right"}

    text = page(client, f"/mg/{study_id}")
    fields = header(text)
    shown(fields["Accumulated AGD, left breast"], agd["left"])
    shown(fields["Accumulated AGD, right breast"], agd["right"])

    row = list_row(page(client, "/mg/"), str(ds.AccessionNumber))
    shown(row[5], agd["left"])
    shown(row[6], agd["right"])
    (summary,) = api(client, "/api/studies?modality=MG")["studies"]
    assert summary["accumulated_agd"] == {
        "left": {"value": pytest.approx(agd["left"]), "unit": "mGy"},
        "right": {"value": pytest.approx(agd["right"]), "unit": "mGy"},
    }


def test_mg_detail_lists_every_view(client, ingest, corpus):  # type: ignore[no-untyped-def]
    study_id = ingest(HOLOGIC)
    events = sr_facts.projection_events(sr_facts.read(corpus(HOLOGIC)))
    rows = columns(page(client, f"/mg/{study_id}"), "events", "event")
    assert len(rows) == len(events)
    for row, item in zip(rows, events, strict=True):
        (anatomy,) = sr_facts.find(item, LATERALITY)  # under Anatomical structure
        assert row["Laterality"] == meaning(anatomy)
        assert row["View"] == meaning(sr_facts.child(item, "111031"))  # Image View
        assert row["Target/filter"] == "W/Rh"  # dcmdump: anode Tungsten, filter Rhodium 0.05 mm
        shown(row["kVp"], value(item, KVP), 1)
        shown(row["mAs"], value(item, EXPOSURE) / 1e3, 1)
        shown(row["Compression thickness (mm)"], value(item, "111633"), 1)
        shown(row["ESD (mGy)"], value(item, "111636"))  # Entrance Exposure at RP
        shown(row["AGD (mGy)"], value(item, AGD))


# --- filters, home, settings ---------------------------------------------------------------------------------


def test_modality_filter_and_unknown_modality(client, ingest):  # type: ignore[no-untyped-def]
    for name in ALL_FILES:
        ingest(name)
    totals = {m: api(client, f"/api/studies?modality={m}")["total"] for m in ("CT", "RF", "DX", "MG", "rf")}
    assert totals == {"CT": 0, "RF": 2, "DX": 1, "MG": 1, "rf": 2}
    assert api(client, "/api/studies")["total"] == 4
    assert {s["modality"] for s in api(client, "/api/studies?modality=RF")["studies"]} == {"RF"}
    assert api(client, "/api/studies?modality=XA", status=400) == {
        "error": "modality must be one of CT, RF, DX, MG, not 'XA'.",
        "status": 400,
    }
    assert "There are 1 studies in this list." in page(client, "/dx/")
    assert "There are 0 studies in this list." in page(client, "/ct/")


def test_a_detail_page_of_another_modality_is_404(client, ingest):  # type: ignore[no-untyped-def]
    dx_study = ingest(CARESTREAM)
    assert f"There is no Fluoroscopy study with id {dx_study}." in page(client, f"/rf/{dx_study}", status=404)
    assert "There is no Mammography study" in page(client, f"/mg/{dx_study}", status=404)
    assert "There is no CT study" in page(client, f"/ct/{dx_study}", status=404)


def test_system_filter_is_an_exact_match_of_the_display_name(client, ingest, corpus):  # type: ignore[no-untyped-def]
    for name in ALL_FILES:
        ingest(name)
    (summary,) = [s for s in api(client, "/api/studies?modality=RF")["studies"] if s["station_name"] == "CCL Lab A"]
    display_name = summary["display_name"]
    listing = api(client, f"/api/studies?system={quote(display_name)}")
    assert listing["total"] == 1
    assert listing["studies"][0]["study_instance_uid"] == sr_facts.read(corpus(PHILIPS_ALLURA)).StudyInstanceUID
    assert api(client, f"/api/studies?system={quote(display_name[:-1])}")["total"] == 0
    # display_name is the manual's filter: a case-insensitive part of the name
    assert api(client, f"/api/studies?display_name={quote(display_name[:-1].lower())}")["total"] == 1
    assert api(client, f"/api/studies?modality=DX&system={quote(display_name)}")["total"] == 0

    text = page(client, f"/rf/?system={quote(display_name)}")
    assert "There are 1 studies in this list." in text
    assert f'value="{display_name}"' in text


def test_home_has_a_summary_table_per_modality(client, ingest, corpus):  # type: ignore[no-untyped-def]
    for name in ALL_FILES:
        ingest(name)
    text = page(client, "/")
    assert "There are 4 studies in this database." in text
    for label, count in (("Fluoroscopy", 2), ("Radiography", 1), ("Mammography", 1)):
        assert re.search(rf">{label}</a></td>\s*<td class=\"num\">{count}</td>", text), label
    assert 'id="systems-ct"' not in text  # modalities without studies are hidden
    assert 'id="systems-ct"' not in text  # no CT study, no CT table

    for name, modality in ((SIEMENS_ZEE, "rf"), (PHILIPS_ALLURA, "rf"), (CARESTREAM, "dx"), (HOLOGIC, "mg")):
        ds = sr_facts.read(corpus(name))
        study_date = f"{ds.StudyDate[:4]}-{ds.StudyDate[4:6]}-{ds.StudyDate[6:]}"
        (table,) = re.findall(rf'<table class="systems" id="systems-{modality}">(.*?)</table>', text, re.DOTALL)
        matching = [r for r in re.findall(r"<tr>(.*?)</tr>", table, re.DOTALL) if study_date in r]
        (row,) = matching
        (href,) = re.findall(r'href="([^"]*)"', row)
        cells = [text_of(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.DOTALL)]
        assert cells[1] == "1" and study_date in row and cells[2].endswith(" ago")
        listing = page(client, html.unescape(href).removeprefix("/rem"))
        assert "There are 1 studies in this list." in listing
        assert str(ds.AccessionNumber) in listing


def test_non_ascii_text_is_shown(client, ingest, corpus):  # type: ignore[no-untyped-def]
    zee = ingest(SIEMENS_ZEE)
    philips = ingest(PHILIPS_ALLURA)
    institution = str(sr_facts.read(corpus(SIEMENS_ZEE)).InstitutionName)
    physician = str(sr_facts.read(corpus(PHILIPS_ALLURA)).PerformingPhysicianName)
    assert not institution.isascii() and not physician.isascii()

    response = client.get("/rf/", base_url=BASE_URL)
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert institution in response.get_data(as_text=True)
    assert institution in page(client, f"/rf/{zee}")
    assert institution in page(client, "/")
    assert physician in page(client, f"/rf/{philips}")
    assert api(client, f"/api/studies/{zee}")["equipment"]["institution_name"] == institution
    display_name = api(client, f"/api/studies/{zee}")["equipment"]["display_name"]
    assert api(client, f"/api/studies?display_name={quote(display_name)}")["total"] == 1


def test_settings_page_and_api(client, sessions):  # type: ignore[no-untyped-def]
    text = page(client, "/settings")
    assert "orthanc-rem settings" in text
    assert "No patterns" in text
    with sessions() as session:
        assert session.get(model.ImportSettings, 1) is None  # showing the defaults stored nothing
        defaults = import_settings.describe(session)
        session.rollback()
    assert api(client, "/api/settings") == defaults

    with sessions() as session:
        import_settings.change(session, store_patient_id=True, delete_rdsr=True)
        import_settings.add_not_patient_pattern(session, "name", "*phantom*")
        import_settings.add_not_patient_pattern(session, "id", "QA-*")
    settings = api(client, "/api/settings")
    assert settings["store_patient_id"] is True and settings["delete_rdsr"] is True
    assert settings["not_patient_name_patterns"] == ["*phantom*"]
    assert settings["not_patient_id_patterns"] == ["QA-*"]
    rows = {row[0]: row[1:] for row in table_rows(page(client, "/settings"), "settings")}
    assert rows["Store patient ID"] == ["yes", "store_patient_id"]
    assert rows["Store patient name"] == ["no", "store_patient_name"]
    assert table_rows(page(client, "/settings"), "patterns") == [["Patient name", "*phantom*"], ["Patient ID", "QA-*"]]


def test_detail_header_shows_the_test_patient_indicator(client, ingest, corpus, sessions):  # type: ignore[no-untyped-def]
    patient_id = str(sr_facts.read(corpus(PHILIPS_ALLURA)).PatientID)
    with sessions() as session:
        import_settings.add_not_patient_pattern(session, "id", patient_id[:3] + "*")
    study_id = ingest(PHILIPS_ALLURA)
    fields = header(page(client, f"/rf/{study_id}"))
    assert patient_id[:3] + "*" in fields["Test patient indicators?"]
    assert patient_id not in page(client, f"/rf/{study_id}")  # the ID itself is not stored


# --- the JSON document and the queries behind the pages ---------------------------------------------------------


def test_study_document_has_the_projection_tree(client, ingest, corpus):  # type: ignore[no-untyped-def]
    study_id = ingest(PHILIPS_ALLURA)
    first = sr_facts.projection_events(sr_facts.read(corpus(PHILIPS_ALLURA)))[0]
    document = api(client, f"/api/studies/{study_id}")
    (dose,) = document["projection_xray_radiation_doses"]
    event_document = dose["events"][0]
    assert event_document["dose_area_product_gym2"] == {"value": pytest.approx(value(first, DAP)), "unit": "Gy.m2"}
    kind = sr_facts.child(first, IRRADIATION_EVENT_TYPE).ConceptCodeSequence[0]
    assert event_document["irradiation_event_type"] == {
        "value": kind.CodeValue,
        "scheme": kind.CodingSchemeDesignator,
        "meaning": kind.CodeMeaning,
    }
    kvp_values, _ = sr_facts.measured(sr_facts.child(first, KVP))
    assert event_document["source"]["kvp_values_kv"] == {"value": pytest.approx(kvp_values), "unit": "kV"}
    assert isinstance(event_document["source"]["kvp_values_kv"]["value"], list)
    assert [f["filter_material"]["meaning"] for f in event_document["source"]["filters"]] == [
        meaning(sr_facts.child(c, FILTER_MATERIAL)) for c in sr_facts.children(first, XRAY_FILTERS)
    ]

    sections = {
        model.ProjectionXRayRadiationDose: dose,
        model.AccumulatedXRayDose: dose["accumulations"][0],
        model.ProjectionIrradiationEvent: event_document,
        model.XRaySource: event_document["source"],
        model.XRayFilter: event_document["source"]["filters"][0],
        model.XRayMechanical: event_document["mechanical"],
    }
    for entity, section in sections.items():
        for column in inspect(entity).columns:
            if column.foreign_keys or column.primary_key:
                continue
            name = column.key
            for part in ("_value", "_scheme", "_meaning"):
                if name.endswith(part) and name.removesuffix(part) in section:
                    name = name.removesuffix(part)
            assert name in section, f"{entity.__name__}.{column.key} missing from the document"
            if column.info.get("unit"):
                assert section[name]["unit"] == column.info["unit"]


@pytest.fixture
def statements(sessions):  # type: ignore[no-untyped-def]
    """The SQL statements run while the ``with`` block of ``statements()`` is open, counted."""
    engine = sessions.kw["bind"]

    class Counted:
        def __init__(self) -> None:
            self.count = 0

        def __enter__(self) -> Counted:
            event.listen(engine, "before_cursor_execute", self._seen)
            return self

        def __exit__(self, *_exc: object) -> None:
            event.remove(engine, "before_cursor_execute", self._seen)

        def _seen(self, *_args: object) -> None:
            self.count += 1

    return Counted


def test_query_counts_do_not_grow_with_the_studies(client, ingest, statements):  # type: ignore[no-untyped-def]
    ingest(SIEMENS_ZEE)
    paths = ("/api/studies", "/rf/", "/")
    with_one: Counter[str] = Counter()
    for path in paths:
        with statements() as counted:
            assert client.get(path, base_url=BASE_URL).status_code == 200
        with_one[path] = counted.count
    for name in ALL_FILES[1:]:
        ingest(name)
    for path in paths:
        with statements() as counted:
            assert client.get(path, base_url=BASE_URL).status_code == 200
        assert counted.count == with_one[path], path


def test_detail_query_count_does_not_grow_with_the_events(client, ingest, corpus, statements):  # type: ignore[no-untyped-def]
    few, many = ingest(PHILIPS_ALLURA), ingest(SIEMENS_ZEE)
    assert len(sr_facts.projection_events(sr_facts.read(corpus(SIEMENS_ZEE)))) > len(
        sr_facts.projection_events(sr_facts.read(corpus(PHILIPS_ALLURA)))
    )
    counts = []
    for study_id in (few, many):
        with statements() as counted:
            page(client, f"/rf/{study_id}")
        counts.append(counted.count)
    assert counts[0] == counts[1]


def test_sessions_are_closed_after_each_request(client, ingest, sessions):  # type: ignore[no-untyped-def]
    ids = {name: ingest(name) for name in ALL_FILES}
    for path in (
        "/",
        "/rf/",
        "/dx/",
        "/mg/",
        f"/rf/{ids[SIEMENS_ZEE]}",
        f"/dx/{ids[CARESTREAM]}",
        f"/mg/{ids[HOLOGIC]}",
        "/settings",
        "/api/settings",
        "/api/studies?modality=XA",
    ):
        client.get(path, base_url=BASE_URL)
        assert sessions.kw["bind"].pool.checkedout() == 0, path
