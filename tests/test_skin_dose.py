"""Skin dose maps (issue 12): every fluoroscopy RDSR of the corpus gets a map or a stated reason,
and a map's peak skin dose is the engine's own answer for the values in the report.

Expected values are read from the DICOM objects with plain pydicom (``sr_facts``) or from the
engine's published tables (PySkinDose's CSV files), never from our own output.
"""

from __future__ import annotations

import csv
import io
import json
import re
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

import sr_facts
from conftest import corpus_files
from orthanc_rem import model, persistence
from orthanc_rem.config import Settings
from orthanc_rem.extraction.dicom_file import read_dicom_file
from orthanc_rem.extraction.dispatch import extract
from orthanc_rem.skin_dose import cache, engine
from orthanc_rem.skin_dose.inputs import (
    DEFAULT_HEIGHT_M,
    DEFAULT_MASS_KG,
    NotModelled,
    SkinDoseInputs,
    event_kvp,
    skin_dose_inputs,
)
from web_clients import dose_browser_client

pyskindose = pytest.importorskip("pyskindose", reason="the skin dose engine is the optional extra 'skin'")

SIEMENS_ZEE = "RF-RDSR-Siemens-Zee.dcm"
EUROCOLUMBUS = "RF-RDSR-Eurocolumbus.dcm"
PHILIPS_ALLURA = "RF-RDSR-Philips_Allura.dcm"
BASE_URL = "http://orthanc.test/rem/"

# PS3.16 concept codes read from the reports.
DOSE_RP, KVP = "113738", "113733"
PRIMARY_ANGLE, SECONDARY_ANGLE = "112011", "112012"
SOURCE_DETECTOR, SOURCE_ISOCENTER = "113750", "113748"
TABLE_LONGITUDINAL, TABLE_LATERAL, TABLE_HEIGHT = "113751", "113752", "113753"
FILTER_MATERIAL, FILTER_MIN, FILTER_MAX = "113757", "113758", "113773"
COMMENT = "121106"

ENGINE_TABLES = Path(pyskindose.__file__).parent / "table_data"


def store(sessions: sessionmaker[Session], path: Path) -> int | None:
    _, report = extract(read_dicom_file(path))
    with sessions() as session:
        result = persistence.store_report(session, report, orthanc_id=f"orthanc-{path.name}")
    return result.study_id


def fluoroscopy_rdsrs() -> list[Path]:
    """Every corpus X-Ray Radiation Dose SR whose events are fluoroscopy (RF) studies."""
    found = []
    for path in corpus_files():
        ds = sr_facts.read(path)
        if ds.SOPClassUID != "1.2.840.10008.5.1.4.1.1.88.67":
            continue
        kinds = {sr_facts.code_value(sr_facts.child(e, "113721")) for e in sr_facts.projection_events(ds)}
        if "P5-06000" in kinds or any(sr_facts.numbers(ds, "113728")):  # fluoroscopy events or dose totals
            found.append(path)
    return found


@pytest.fixture
def loaded(corpus, sessions):  # type: ignore[no-untyped-def]
    def load(name: str) -> int:
        study_id = store(sessions, corpus(name))
        assert study_id is not None
        return study_id

    return load


def test_every_fluoroscopy_rdsr_gets_a_map_or_a_stated_reason(sessions):  # type: ignore[no-untyped-def]
    files = fluoroscopy_rdsrs()
    assert any(p.name == SIEMENS_ZEE for p in files)
    for path in files:
        study_id = store(sessions, path)
        if study_id is None:  # a duplicate of a report stored already (the "_adjusted" copy)
            continue
        row = cache.refresh_skin_dose(sessions, study_id)
        assert row is not None, path.name
        assert row.status in (cache.COMPUTED, cache.NOT_MODELLED), (path.name, row.reason)
        if row.status == cache.COMPUTED:
            assert row.peak_skin_dose_gy is not None and row.peak_skin_dose_gy > 0, path.name
            assert row.grid_mgy_float32 is not None
        else:
            assert row.reason and row.peak_skin_dose_gy is None and row.grid_mgy_float32 is None, path.name


def test_systems_without_known_geometry_say_why(loaded, sessions):  # type: ignore[no-untyped-def]
    study_id = loaded(EUROCOLUMBUS)
    row = cache.refresh_skin_dose(sessions, study_id)
    ds = sr_facts.read(Path(__file__).parent / "corpus" / "dicom" / EUROCOLUMBUS)
    assert row is not None and row.status == cache.NOT_MODELLED
    assert str(ds.ManufacturerModelName) in (row.reason or "")
    assert not any(sr_facts.find(ds, TABLE_LONGITUDINAL)) and "no table positions" in (row.reason or "")


def _siemens_zee_engine_table(path: Path):  # type: ignore[no-untyped-def]
    """The engine's normalised events built here straight from the report (Artis conventions:
    PySkinDose's normalization_settings.json, all offsets 0 and directions +)."""
    import pandas as pd

    rows = []
    for event in sr_facts.projection_events(sr_facts.read(path)):
        (ii_diameter,) = re.findall(r'iiDiameter SRData="([0-9.]+)"', sr_facts.find(event, COMMENT)[0].TextValue)
        materials = [item.ConceptCodeSequence[0].CodeMeaning for item in sr_facts.find(event, FILTER_MATERIAL)]
        thickness = [
            (lo + hi) / 2
            for lo, hi in zip(sr_facts.numbers(event, FILTER_MIN), sr_facts.numbers(event, FILTER_MAX), strict=True)
        ]
        copper = sum(t for m, t in zip(materials, thickness, strict=True) if "Copper" in m)
        (dsd,), (dsi,) = sr_facts.numbers(event, SOURCE_DETECTOR), sr_facts.numbers(event, SOURCE_ISOCENTER)
        rows.append(
            {
                "model": "AXIOM-Artis",
                "DSD": dsd / 10,
                "DSI": dsi / 10,
                "DID": (dsd - dsi) / 10,
                "DSIRP": dsi / 10 - 15,
                "acquisition_type": "",
                "acquisition_plane": "Single Plane",
                "Tx": sr_facts.numbers(event, TABLE_LONGITUDINAL)[0] / 10,
                "Ty": sr_facts.numbers(event, TABLE_HEIGHT)[0] / 10,
                "Tz": sr_facts.numbers(event, TABLE_LATERAL)[0] / 10,
                "At1": 0.0,
                "At2": 0.0,
                "At3": 0.0,
                "filter_thickness_Cu": copper,
                "filter_thickness_Al": 0.0,
                "Ap1": sr_facts.numbers(event, PRIMARY_ANGLE)[0],
                "Ap2": sr_facts.numbers(event, SECONDARY_ANGLE)[0],
                "Ap3": 0.0,
                "DSL": 40,
                "FS_lat": float(ii_diameter) / 10,
                "FS_long": float(ii_diameter) / 10,
                "kVp": sr_facts.numbers(event, KVP)[0],
                "K_IRP": sr_facts.numbers(event, DOSE_RP)[0] * 1000,
            }
        )
    return pd.DataFrame(rows)


def test_siemens_zee_peak_skin_dose_is_the_engines_answer_for_the_report(loaded, sessions, corpus):  # type: ignore[no-untyped-def]
    study_id = loaded(SIEMENS_ZEE)
    row = cache.refresh_skin_dose(sessions, study_id)
    assert row is not None and row.status == cache.COMPUTED, row and row.reason
    settings = json.loads((Path(pyskindose.__file__).parent / "settings_example.json").read_text())
    settings |= {"mode": "calculate_dose", "estimate_k_tab": False, "inherent_filtration": 3.1}
    settings["corrections_db_path"] = str(engine.corrections_database())
    settings["plot"]["notebook_mode"] = False
    settings["phantom"]["dimension"] |= {"cylinder_length": 150, "cylinder_radii_a": 20, "cylinder_radii_b": 10}
    direct = engine.run_engine(_siemens_zee_engine_table(corpus(SIEMENS_ZEE)), settings)
    assert row.peak_skin_dose_gy == pytest.approx(direct["psd"] / 1000, rel=1e-6)
    # No height or mass in the report: the manual's defaults, flagged as assumed.
    ds = sr_facts.read(corpus(SIEMENS_ZEE))
    assert "PatientSize" not in ds or not ds.PatientSize
    assert (row.patient_height_m, row.height_assumed) == (DEFAULT_HEIGHT_M, True)
    assert (row.patient_mass_kg, row.mass_assumed) == (DEFAULT_MASS_KG, True)


def test_peak_skin_dose_is_bounded_by_the_dose_at_the_reference_point(loaded, sessions, corpus):  # type: ignore[no-untyped-def]
    """PSD <= total dose at the RP x largest backscatter x largest mu_en ratio of the engine's
    tables x the largest inverse-square gain any event can give (skin nearer than the RP)."""
    study_id = loaded(SIEMENS_ZEE)
    row = cache.refresh_skin_dose(sessions, study_id)
    assert row is not None and row.peak_skin_dose_gy is not None
    ds = sr_facts.read(corpus(SIEMENS_ZEE))
    total_rp_gy = sum(sum(sr_facts.numbers(e, DOSE_RP)) for e in sr_facts.projection_events(ds))
    with open(ENGINE_TABLES / "correction_medium_and_backscatter.csv") as table:
        rows = list(csv.DictReader(table))
    largest_backscatter = max(float(r["backscatter"]) for r in rows)
    largest_medium = max(float(r["mu_en_quotient"]) for r in rows)
    # The phantom (40 cm wide at the defaults) cannot reach closer to the source than the RP
    # (15 cm before the isocentre) by more than its half-width minus those 15 cm.
    nearest_skin_cm = min(sr_facts.numbers(ds, SOURCE_ISOCENTER)) / 10 - 20
    inverse_square = max(1.0, ((min(sr_facts.numbers(ds, SOURCE_ISOCENTER)) / 10 - 15) / nearest_skin_cm) ** 2)
    assert 0 < row.peak_skin_dose_gy <= total_rp_gy * largest_backscatter * largest_medium * inverse_square


def test_a_study_with_no_events_is_not_modelled():
    study = model.Study(modality="RF", study_instance_uid="1.2.3")
    result = skin_dose_inputs(study)
    assert isinstance(result, NotModelled) and "no irradiation events" in result.reason


def test_several_kvp_values_give_their_mean_without_zeros(loaded, sessions, corpus):  # type: ignore[no-untyped-def]
    study_id = loaded(EUROCOLUMBUS)
    ds = sr_facts.read(corpus(EUROCOLUMBUS))
    with sessions() as session:
        study = session.get(model.Study, study_id)
        events = [e for d in study.projection_xray_radiation_doses for e in d.events]
        for stored, item in zip(events, sr_facts.projection_events(ds), strict=True):
            values, _ = sr_facts.measured(sr_facts.find(item, KVP)[0])
            assert len(values) > 1
            non_zero = [v for v in values if v]
            assert event_kvp(stored.source) == pytest.approx(sum(non_zero) / len(non_zero))
        # the zero-free mean is what the engine gets, even when only pulse values are stored
        stored_source = events[0].source
        stored_source.kvp_kv = None
        values, _ = sr_facts.measured(sr_facts.find(sr_facts.projection_events(ds)[0], KVP)[0])
        assert event_kvp(stored_source) == pytest.approx(np.mean([v for v in values if v]))
        session.rollback()


def test_missing_kv_dose_table_and_tube_positions_use_defaults_and_are_flagged(loaded, sessions):  # type: ignore[no-untyped-def]
    study_id = loaded(SIEMENS_ZEE)
    with sessions() as session:
        study = session.get(model.Study, study_id)
        event = study.projection_xray_radiation_doses[0].events[0]
        event.source.kvp_kv = None
        event.source.kvp_values_kv = None
        event.source.dose_rp_gy = None
        event.mechanical.table_height_position_mm = None
        event.mechanical.table_longitudinal_position_mm = None
        event.mechanical.positioner_primary_angle_deg = None
        event.mechanical.distance_source_to_isocenter_mm = None
        inputs = skin_dose_inputs(study)
        session.rollback()
    assert isinstance(inputs, SkinDoseInputs)
    text = "\n".join(inputs.assumptions)
    for quantity in (
        "kVp",
        "dose at the reference point",
        "table height position",
        "table longitudinal position",
        "positioner primary angle",
        "distance source to isocentre",
    ):
        assert f"{quantity}" in text, quantity
    first = inputs.events[0]
    others = [e.kvp_kv for e in inputs.events[1:]]
    assert first.kvp_kv == pytest.approx(sum(others) / len(others))  # the study's mean kVp
    assert first.primary_angle_deg == 0.0 and first.source_isocenter_cm == inputs.device.default_source_isocenter_cm
    assert first.air_kerma_rp_mgy > 0  # derived from the event's DAP and field at the reference point


def test_height_change_makes_the_map_stale_and_it_is_recomputed(loaded, sessions):  # type: ignore[no-untyped-def]
    study_id = loaded(SIEMENS_ZEE)
    first = cache.refresh_skin_dose(sessions, study_id)
    with sessions() as session:
        assert cache.current_map(session, study_id) is not None
        patient = session.scalar(select(model.Patient).where(model.Patient.study_fk == study_id))
        if patient is None:
            patient = model.Patient(study_fk=study_id)
            session.add(patient)
        patient.size_m, patient.weight_kg = 1.62, 95.0
        session.commit()
        assert cache.current_map(session, study_id) is None
    second = cache.refresh_skin_dose(sessions, study_id)
    assert first is not None and second is not None
    assert (second.patient_height_m, second.height_assumed, second.patient_mass_kg) == (1.62, False, 95.0)
    assert second.inputs_hash != first.inputs_hash


def test_api_gives_the_map_the_reason_or_queues_it(loaded, sessions, database_url, tmp_path):  # type: ignore[no-untyped-def]
    settings = Settings(data_dir=tmp_path, database_url=database_url, queue_url=f"sqlite:///{tmp_path / 'q.sqlite'}")
    client = dose_browser_client(settings, sessions)
    zee = loaded(SIEMENS_ZEE)
    pending = client.get(f"/api/studies/{zee}/skin-dose", base_url=BASE_URL)
    assert pending.status_code == 202 and pending.get_json()["status"] == "pending"
    assert client.get(f"/api/studies/{zee}/skin-dose", base_url=BASE_URL).status_code == 202  # the page polls
    from orthanc_rem.skin_dose.worker import register_skin_dose_task
    from orthanc_rem.tasks import create_huey

    reader = create_huey(settings.queue_url)
    register_skin_dose_task(reader, settings)
    queued = [t for t in reader.pending() if t.name == "compute_skin_dose"]
    assert [t.args for t in queued] == [(zee,)]  # queued once, however often the page asks
    cache.refresh_skin_dose(sessions, zee)
    document = client.get(f"/api/studies/{zee}/skin-dose", base_url=BASE_URL).get_json()
    assert document["status"] == "computed" and document["engine"]["name"] == "PySkinDose"
    grid = np.array(document["grid"]["dose_mgy"])
    assert grid.shape == (document["grid"]["rows"], document["grid"]["columns"])
    assert grid.max() / 1000 == pytest.approx(document["peak_skin_dose_gy"], rel=1e-4)
    assert document["height_assumed"] and document["mass_assumed"]
    other = loaded(EUROCOLUMBUS)
    cache.refresh_skin_dose(sessions, other)
    reason = client.get(f"/api/studies/{other}/skin-dose", base_url=BASE_URL).get_json()
    assert reason["status"] == "not_modelled" and reason["reason"]
    assert client.get("/api/studies/999999/skin-dose", base_url=BASE_URL).status_code == 404
    page = client.get(f"/rf/{zee}", base_url=BASE_URL).get_data(as_text=True)
    assert "skin-dose" in page and "plotly.min.js" in page and "openskin.csv" in page
    script = client.get("/charts/plotly.min.js", base_url=BASE_URL)
    assert script.status_code == 200 and b"plotly" in script.get_data()[:2000].lower()


def test_openskin_csv_has_one_row_per_event_and_copper_filters_only(loaded, sessions, corpus, tmp_path, database_url):  # type: ignore[no-untyped-def]
    settings = Settings(data_dir=tmp_path, database_url=database_url, queue_url=f"sqlite:///{tmp_path / 'q.sqlite'}")
    client = dose_browser_client(settings, sessions)
    study_id = loaded(PHILIPS_ALLURA)
    response = client.get(f"/rf/{study_id}/openskin.csv", base_url=BASE_URL)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    ds = sr_facts.read(corpus(PHILIPS_ALLURA))
    events = sr_facts.projection_events(ds)
    assert len(rows) == len(events) and all(len(r) == 39 for r in rows)
    for row, event in zip(rows, events, strict=True):
        assert row[9] == sr_facts.uids(event, "113769")[0]
        assert float(row[11]) == pytest.approx(sr_facts.numbers(event, DOSE_RP)[0])
        materials = [i.ConceptCodeSequence[0].CodeMeaning for i in sr_facts.find(event, FILTER_MATERIAL)]
        assert any("Alumin" in m for m in materials)  # the report has aluminium too, the export does not
        assert "Copper" in row[18] and "Alumin" not in ",".join(row)


def test_fluoroscopy_list_and_api_carry_the_psd_and_filter_on_it(loaded, sessions, database_url, tmp_path):  # type: ignore[no-untyped-def]
    settings = Settings(data_dir=tmp_path, database_url=database_url, queue_url=f"sqlite:///{tmp_path / 'q.sqlite'}")
    client = dose_browser_client(settings, sessions)
    zee, other = loaded(SIEMENS_ZEE), loaded(EUROCOLUMBUS)
    computed = cache.refresh_skin_dose(sessions, zee)
    cache.refresh_skin_dose(sessions, other)
    assert computed is not None and computed.peak_skin_dose_gy is not None
    psd = computed.peak_skin_dose_gy
    listed = {s["id"]: s for s in client.get("/api/studies?modality=RF", base_url=BASE_URL).get_json()["studies"]}
    assert listed[zee]["peak_skin_dose"] == {"value": psd, "unit": "Gy", "status": "computed"}
    assert listed[other]["peak_skin_dose"]["status"] == "not_modelled"
    assert listed[other]["peak_skin_dose"]["value"] is None

    def ids(query: str) -> set[int]:
        response = client.get(f"/api/studies?modality=RF&{query}", base_url=BASE_URL)
        assert response.status_code == 200, response.get_data(as_text=True)
        return {s["id"] for s in response.get_json()["studies"]}

    assert ids("psd_from=0") == {zee}  # a study without a computed map has no PSD to match
    assert ids(f"psd_until={psd / 2:.6f}") == set()
    assert ids(f"psd_from={psd / 2:.6f}&psd_until={psd * 2:.6f}") == {zee}
    for bad in ("psd_from=nan", "psd_from=-1", "psd_from=1e3", "psd_from=2&psd_until=1"):
        assert client.get(f"/api/studies?{bad}", base_url=BASE_URL).status_code == 400, bad
    page = client.get("/rf/?psd_from=0", base_url=BASE_URL).get_data(as_text=True)
    assert "Peak skin dose (Gy)" in page and f"{psd:.3f}" in page and 'name="psd_from"' in page


def test_worker_queues_and_runs_the_skin_dose_task(loaded, sessions, database_url, tmp_path):  # type: ignore[no-untyped-def]
    from orthanc_rem.config import load_settings
    from orthanc_rem.skin_dose.worker import queue_skin_dose
    from orthanc_rem.tasks import build_queue

    assert load_settings(environ={}).skin_dose_on_import is True
    assert load_settings({"OrthancRem": {"SkinDoseOnImport": False}}, environ={}).skin_dose_on_import is False
    assert load_settings(environ={"ORTHANC_REM_SKIN_DOSE_ON_IMPORT": "0"}).skin_dose_on_import is False
    settings = Settings(data_dir=tmp_path, database_url=database_url, queue_url=f"sqlite:///{tmp_path / 'q.sqlite'}")
    queue = build_queue(settings)
    study_id = loaded(SIEMENS_ZEE)
    queue_skin_dose(queue, study_id)
    pending = queue.huey.pending()
    assert [(task.name, task.args) for task in pending] == [("compute_skin_dose", (study_id,))]
    assert queue.compute_skin_dose is not None
    assert queue.compute_skin_dose.call_local(study_id) == cache.COMPUTED
    with sessions() as session:
        assert cache.current_map(session, study_id) is not None


def test_detail_page_draws_the_map_in_chromium(loaded, sessions, database_url, tmp_path):  # type: ignore[no-untyped-def]
    """The real page in headless Chromium: PSD, assumed flags and Plotly's drawing, with plotly.js
    from our own route (the test's Flask server is the only host Chromium can reach)."""
    import subprocess

    import browser
    from web_clients import served_dose_browser

    if "sqlite" not in database_url:
        pytest.skip("one database is enough for the page")
    if browser.CHROMIUM is None:
        pytest.fail("chromium is not installed: scripts/bootstrap --with-test-tools installs it")
    study_id = loaded(SIEMENS_ZEE)
    row = cache.refresh_skin_dose(sessions, study_id)
    assert row is not None and row.peak_skin_dose_gy is not None
    settings = Settings(data_dir=tmp_path, database_url=database_url, queue_url=f"sqlite:///{tmp_path / 'q.sqlite'}")
    with served_dose_browser(settings, sessions) as base, tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        result = subprocess.run(
            [
                browser.CHROMIUM,
                *browser.FLAGS,
                f"--user-data-dir={profile}",
                "--virtual-time-budget=20000",
                "--dump-dom",
                f"{base}/rf/{study_id}",
            ],
            capture_output=True,
            timeout=120,
            check=False,
        )
    dom = result.stdout.decode("utf-8", errors="replace")
    assert f"{row.peak_skin_dose_gy:.3f} Gy" in dom, dom[-3000:]
    assert "1.786 m (assumed)" in dom and "73.2 kg (assumed)" in dom
    assert 'class="main-svg"' in dom  # Plotly drew the map
    assert "posterior" in dom and "superior (head)" in dom  # region overlay
    # the 3D view's orientation figure: the phantom's sides named, and the head/left/anterior triad
    for side in ("HEAD", "FEET", "LEFT", "RIGHT", "ANTERIOR", "POSTERIOR"):
        assert side in dom, side


def test_allura_is_identified_by_its_device_observer_and_modelled_without_a_user(loaded, sessions, corpus):  # type: ignore[no-untyped-def]
    """The Allura report names its system only as the SR's Device Observer Model Name (121015)."""
    ds = sr_facts.read(corpus(PHILIPS_ALLURA))
    assert not ds.get("ManufacturerModelName")
    (observer_model,) = [item.TextValue for item in sr_facts.children(ds, "121015")]
    (observer_manufacturer,) = [item.TextValue for item in sr_facts.children(ds, "121014")]
    study_id = loaded(PHILIPS_ALLURA)
    with sessions() as session:
        (dose,) = session.get(model.Study, study_id).projection_xray_radiation_doses
        assert (dose.device_observer_manufacturer, dose.device_observer_model_name) == (
            observer_manufacturer,
            observer_model,
        )
        assert session.scalar(select(model.SkinDoseDevice)) is None  # nobody assigned a geometry
    row = cache.refresh_skin_dose(sessions, study_id)
    assert row is not None and row.status == cache.COMPUTED, row and row.reason
    assert row.device_geometry == "Philips Allura"
    assert any(f"Device Observer Model Name '{observer_model}'" in text for text in row.assumptions or [])
    assert not any("chosen by a user" in text for text in row.assumptions or [])
    total_rp_gy = sum(sum(sr_facts.numbers(e, DOSE_RP)) for e in sr_facts.projection_events(ds))
    with open(ENGINE_TABLES / "correction_medium_and_backscatter.csv") as table:
        rows = list(csv.DictReader(table))
    largest = max(float(r["backscatter"]) for r in rows) * max(float(r["mu_en_quotient"]) for r in rows)
    # skin at most one phantom half-width (the phantom used) before the isocentre, the RP 15 cm before it
    source_isocenter_cm = min(sr_facts.numbers(ds, SOURCE_ISOCENTER)) / 10
    half_width_cm = (row.inputs_used or {})["phantom_dimensions_cm"]["radius_a"]
    inverse_square = max(1.0, ((source_isocenter_cm - 15) / (source_isocenter_cm - half_width_cm)) ** 2)
    assert 0 < (row.peak_skin_dose_gy or 0) <= total_rp_gy * largest * inverse_square
    # the patient's weight is in the report (Patient's Weight), so mass is not assumed
    assert row.patient_mass_kg == pytest.approx(float(ds.PatientWeight)) and not row.mass_assumed


def test_a_system_named_nowhere_is_modelled_once_a_user_assigns_a_geometry(loaded, sessions):  # type: ignore[no-untyped-def]
    """A report without a model name in its header or its observer rows (here the Allura report with
    its observer rows blanked) says why; a geometry assigned to the system models it, and says so."""
    import datetime as dt

    study_id = loaded(PHILIPS_ALLURA)
    with sessions() as session:
        study = session.get(model.Study, study_id)
        for dose in study.projection_xray_radiation_doses:
            dose.device_observer_model_name = None
        session.commit()
    before = cache.refresh_skin_dose(sessions, study_id)
    assert before is not None and before.status == cache.NOT_MODELLED
    assert "no geometry settings" in (before.reason or "")
    with sessions() as session:
        study = session.get(model.Study, study_id)
        session.add(
            model.SkinDoseDevice(
                equipment_fk=study.equipment_id, geometry="philips-allura", assigned_at=dt.datetime(2026, 12, 2)
            )
        )
        session.commit()
        assert cache.current_map(session, study_id) is None  # the assignment makes the stored result stale
    after = cache.refresh_skin_dose(sessions, study_id)
    assert after is not None and after.status == cache.COMPUTED, after and after.reason
    assert after.device_geometry == "Philips Allura"
    assert any("chosen by a user" in text for text in after.assumptions or [])


def test_a_failing_engine_is_recorded_with_its_reason(loaded, sessions, monkeypatch):  # type: ignore[no-untyped-def]
    study_id = loaded(SIEMENS_ZEE)

    def broken(inputs: SkinDoseInputs, progress: Any = None) -> None:
        raise ValueError("HVL table has no row for 151 kV")

    monkeypatch.setattr(engine, "compute_skin_dose", broken)
    row = cache.refresh_skin_dose(sessions, study_id)
    assert row is not None and row.status == cache.FAILED
    assert row.reason == "ValueError: HVL table has no row for 151 kV" and row.peak_skin_dose_gy is None
    assert row.height_assumed and row.device_geometry  # the inputs used are kept with the failure


def test_without_the_engine_installed_the_status_says_so(loaded, sessions, monkeypatch):  # type: ignore[no-untyped-def]
    from importlib import metadata

    study_id = loaded(SIEMENS_ZEE)

    def missing(name: str) -> str:
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "version", missing)
    row = cache.refresh_skin_dose(sessions, study_id)
    assert row is not None and row.status == cache.FAILED and "not installed" in (row.reason or "")


def test_command_line_writes_json_and_png_and_assigns_a_geometry(corpus, tmp_path):  # type: ignore[no-untyped-def]
    import subprocess
    import sys

    from PIL import Image

    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "orthanc_rem.cli", "--database", url, *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)

    imported = run("import", str(corpus(SIEMENS_ZEE)), str(corpus(PHILIPS_ALLURA)))
    assert imported.returncode == 0, imported.stderr
    dump = json.loads(run("dump").stdout)
    ids = {d["study_instance_uid"]: d["id"] for d in dump}
    zee = ids[sr_facts.read(corpus(SIEMENS_ZEE)).StudyInstanceUID]
    result = run("skin-dose", str(zee), "--json", str(tmp_path / "map.json"), "--png", str(tmp_path / "map.png"))
    assert result.returncode == 0, result.stderr
    document = json.loads((tmp_path / "map.json").read_text())
    assert document["status"] == "computed" and f"{document['peak_skin_dose_gy']:.4f} Gy" in result.stdout
    with Image.open(tmp_path / "map.png") as image:
        assert image.format == "PNG"
        assert image.size == (document["grid"]["columns"] * 4, document["grid"]["rows"] * 4)
    allura = ids[sr_facts.read(corpus(PHILIPS_ALLURA)).StudyInstanceUID]
    assert "peak skin dose" in run("skin-dose", str(allura)).stdout  # identified by its device observer
    ds = sr_facts.read(corpus(PHILIPS_ALLURA))
    listing = run("skin-dose-device").stdout.splitlines()
    (line,) = [line for line in listing if str(ds.Manufacturer) in line]
    assert "report: philips-allura" in line and "header: -" in line
    equipment_id = int(line.split()[0])
    assigned = run("skin-dose-device", "--equipment", str(equipment_id), "--geometry", "philips-allura")
    assert assigned.returncode == 0 and "assigned: philips-allura" in assigned.stdout
    assert "peak skin dose" in run("skin-dose", str(allura)).stdout


def _engine_conventions(model_name: str) -> dict[str, Any]:
    """The engine's own normalisation entry for a model (its normalization_settings.json)."""
    settings = json.loads((Path(pyskindose.__file__).parent / "normalization_settings.json").read_text())
    (entry,) = [e for e in settings["normalization_settings"] if model_name in e["models"]]
    return entry


def test_allura_peak_skin_dose_is_the_engines_answer_with_its_own_philips_conventions(loaded, sessions, corpus):  # type: ignore[no-untyped-def]
    """The map made on import, with no user involved, against the engine run here directly on values
    read from the report: translation offsets, axis and angle directions straight from PySkinDose's
    Allura Clarity entry; field size from the shutters as the engine's "ASD" mode computes it; table
    height from Philips' private row (the standard row is absent), as the engine's own parser reads it."""
    import pandas as pd

    study_id = loaded(PHILIPS_ALLURA)
    row = cache.refresh_skin_dose(sessions, study_id)
    assert row is not None and row.status == cache.COMPUTED, row and row.reason
    assert not any("table height position" in a for a in row.assumptions or [])  # read, not defaulted
    conventions = _engine_conventions("Allura Clarity")
    offset, sign = conventions["translation_offset"], {"+": 1, "-": -1}
    direction = {k: sign[v] for k, v in conventions["translation_direction"].items()}
    rotation = {k: sign[v] for k, v in conventions["rotation_direction"].items()}
    ds = sr_facts.read(corpus(PHILIPS_ALLURA))
    rows = []
    for event in sr_facts.projection_events(ds):
        materials = [item.ConceptCodeSequence[0].CodeMeaning for item in sr_facts.find(event, FILTER_MATERIAL)]
        thickness = [
            (lo + hi) / 2
            for lo, hi in zip(sr_facts.numbers(event, FILTER_MIN), sr_facts.numbers(event, FILTER_MAX), strict=True)
        ]
        copper = sum(t for m, t in zip(materials, thickness, strict=True) if "Copper" in m)
        aluminium = sum(t for m, t in zip(materials, thickness, strict=True) if "Alumin" in m)
        (dsd,), (dsi,) = sr_facts.numbers(event, SOURCE_DETECTOR), sr_facts.numbers(event, SOURCE_ISOCENTER)
        assert not sr_facts.numbers(event, TABLE_HEIGHT)

        def private(meaning: str, event: Any = event) -> float:
            (value,) = [
                float(item.MeasuredValueSequence[0].NumericValue)
                for item in sr_facts.items(event)
                if item.get("MeasuredValueSequence") and item.ConceptNameCodeSequence[0].CodeMeaning == meaning
            ]
            return value

        rows.append(
            {
                "model": "AlluraClarity",
                "DSD": dsd / 10,
                "DSI": dsi / 10,
                "DID": (dsd - dsi) / 10,
                "DSIRP": dsi / 10 - 15,
                "acquisition_type": "",
                "acquisition_plane": "Single Plane",
                "Tx": offset["x"] + direction["x"] * sr_facts.numbers(event, TABLE_LONGITUDINAL)[0] / 10,
                "Ty": offset["y"] + direction["y"] * private("Table Height Position") / 10,
                "Tz": offset["z"] + direction["z"] * sr_facts.numbers(event, TABLE_LATERAL)[0] / 10,
                "At1": 0.0,
                "At2": 0.0,
                "At3": 0.0,
                "filter_thickness_Cu": copper,
                "filter_thickness_Al": aluminium,
                "Ap1": rotation["Ap1"] * sr_facts.numbers(event, PRIMARY_ANGLE)[0],
                "Ap2": rotation["Ap2"] * sr_facts.numbers(event, SECONDARY_ANGLE)[0],
                "Ap3": 0.0,
                "DSL": conventions["detector_side_length"],
                "FS_lat": (private("Top Shutter") + private("Bottom Shutter")) / 10 * dsd / 1000,
                "FS_long": (private("Left Shutter") + private("Right Shutter")) / 10 * dsd / 1000,
                "kVp": sr_facts.numbers(event, KVP)[0],
                "K_IRP": sr_facts.numbers(event, DOSE_RP)[0] * 1000,
            }
        )
    dims = (row.inputs_used or {})["phantom_dimensions_cm"]
    settings = json.loads((Path(pyskindose.__file__).parent / "settings_example.json").read_text())
    settings |= {"mode": "calculate_dose", "estimate_k_tab": False, "inherent_filtration": 3.1}
    settings["corrections_db_path"] = str(engine.corrections_database())
    settings["plot"]["notebook_mode"] = False
    settings["phantom"]["dimension"] |= {
        "cylinder_length": int(dims["length"]),
        "cylinder_radii_a": dims["radius_a"],
        "cylinder_radii_b": dims["radius_b"],
    }
    try:
        direct = engine.run_engine(pd.DataFrame(rows), settings)
    except TypeError:  # the engine's measured table has no row for these beams: its estimate, as ours
        direct = engine.run_engine(pd.DataFrame(rows), settings | {"estimate_k_tab": True, "k_tab_val": 0.8})
    assert row.peak_skin_dose_gy == pytest.approx(direct["psd"] / 1000, rel=1e-6)


def test_only_fluoroscopy_reports_queue_a_skin_dose_task_on_import(sessions, database_url, tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    """The import task itself (huey's ``call_local``), with the instance read from the corpus instead of
    Orthanc: every CT, radiography and mammography RDSR queues nothing, every fluoroscopy one its
    study's map. Which report is which is read from the objects (``fluoroscopy_rdsrs``)."""
    from orthanc_rem import ingest, tasks

    settings = Settings(data_dir=tmp_path, database_url=database_url, queue_url=f"sqlite:///{tmp_path / 'q.sqlite'}")
    queue = tasks.build_queue(settings)
    fluoroscopy = {p.name for p in fluoroscopy_rdsrs()}
    reports = [p for p in corpus_files() if sr_facts.read(p).SOPClassUID.startswith("1.2.840.10008.5.1.4.1.1.88.")]
    assert fluoroscopy and any(p.name.startswith("CT-RDSR") for p in reports)
    by_id = {f"orthanc-{path.name}": path for path in reports}

    def from_corpus(
        settings: Settings, client: Any, orthanc_id: str, sop_class_uid: str | None = None
    ) -> ingest.ObjectOutcome:
        return ingest.ingest_object(sessions, by_id[orthanc_id], source=f"orthanc:{orthanc_id}", orthanc_id=orthanc_id)

    monkeypatch.setattr(tasks, "process_orthanc_instance", from_corpus)
    queued_for = []
    for orthanc_id, path in by_id.items():
        queue.huey.flush()
        outcome = queue.ingest_orthanc_instance.call_local(orthanc_id)
        queued = [task for task in queue.huey.pending() if task.name == "compute_skin_dose"]
        if path.name in fluoroscopy and outcome in tasks.SKIN_DOSE_OUTCOMES:
            assert len(queued) == 1, path.name
            queued_for.append(path.name)
        else:
            assert queued == [], (path.name, outcome)
    assert SIEMENS_ZEE in queued_for and PHILIPS_ALLURA in queued_for


def test_plane_b_events_are_modelled_per_event_and_flagged(loaded, sessions):  # type: ignore[no-untyped-def]
    """A biplane report's plane B events keep their plane (the engine's table transmission is per
    plane) and the map says what is not verified; the events are not dropped."""
    study_id = loaded(SIEMENS_ZEE)
    with sessions() as session:
        study = session.get(model.Study, study_id)
        events = study.projection_xray_radiation_doses[0].events
        events[0].acquisition_plane_meaning = "Plane B"
        inputs = skin_dose_inputs(study)
        session.rollback()
    assert isinstance(inputs, SkinDoseInputs)
    assert len(inputs.events) == len(events)
    assert inputs.events[0].acquisition_plane == "Plane B"
    assert any("1 plane B event(s) modelled" in text and "not verified" in text for text in inputs.assumptions)
    # the engine's measured table transmission has no Artis plane B row: its estimate is used
    with open(ENGINE_TABLES / "correction_table_and_pad_attenuation.csv") as table:
        planes = {r["acquisition_plane"] for r in csv.DictReader(table) if r["device_model"] == "AXIOM-Artis"}
    assert "Plane B" not in planes and not engine.measured_table_transmission_available(inputs)


def test_a_size_import_queues_the_maps_that_assumed_a_size(loaded, sessions, corpus, database_url, tmp_path):  # type: ignore[no-untyped-def]
    """The import job as the workers run it (huey's ``call_local``): the Artis Zee map assumed height
    and mass (the report has neither); a CSV gives the study both, and its map is queued again and,
    when the task runs, recomputed with them."""
    from orthanc_rem import size_import_jobs
    from orthanc_rem.patient_size_import import STUDY_INSTANCE_UID, SizeColumns
    from orthanc_rem.tasks import build_queue

    settings = Settings(data_dir=tmp_path, database_url=database_url, queue_url=f"sqlite:///{tmp_path / 'q.sqlite'}")
    queue = build_queue(settings)
    zee, allura = loaded(SIEMENS_ZEE), loaded(PHILIPS_ALLURA)
    for study_id in (zee, allura):
        cache.refresh_skin_dose(sessions, study_id)
    uid = str(sr_facts.read(corpus(SIEMENS_ZEE)).StudyInstanceUID)
    content = f"uid,height_cm,weight_kg\n{uid},162,95\n".encode()
    with sessions() as session:
        job = size_import_jobs.create_job(session, "sizes.csv", content)
        size_import_jobs.choose_columns(
            session, job.id, SizeColumns("uid", STUDY_INSTANCE_UID, "height_cm", "weight_kg", "cm")
        )
        job_id = job.id
    queue.huey.flush()
    assert queue.import_patient_sizes is not None
    assert queue.import_patient_sizes.call_local(job_id) == size_import_jobs.FINISHED
    queued = [task.args for task in queue.huey.pending() if task.name == "compute_skin_dose"]
    assert queued == [(zee,)]  # the Allura study, not in the file, keeps its map
    assert queue.compute_skin_dose is not None
    queue.compute_skin_dose.call_local(zee)
    with sessions() as session:
        recomputed = cache.current_map(session, zee)
        assert recomputed is not None
        assert (recomputed.patient_height_m, recomputed.height_assumed) == (pytest.approx(1.62), False)
        assert (recomputed.patient_mass_kg, recomputed.mass_assumed) == (pytest.approx(95.0), False)


def test_a_model_name_alone_identifies_the_system_when_no_manufacturer_is_given(corpus):  # type: ignore[no-untyped-def]
    """The 316-event report: empty Manufacturer, no Device Observer Manufacturer, observer model
    "Allura Xper". A manufacturer that is given must still match the model's."""
    from orthanc_rem.skin_dose.devices import PHILIPS_ALLURA, find_device_geometry

    ds = sr_facts.read(corpus("RF-Pat-Orientation-Modifier-Missing.dcm"))
    assert not str(ds.get("Manufacturer") or "").strip() and not sr_facts.children(ds, "121014")
    (observer_model,) = [item.TextValue for item in sr_facts.children(ds, "121015")]
    assert find_device_geometry(ds.get("Manufacturer"), observer_model) is PHILIPS_ALLURA
    assert isinstance(find_device_geometry("Siemens", observer_model), str)


def test_a_calculation_reports_its_progress_to_the_waiting_page(loaded, sessions, corpus, database_url, tmp_path):  # type: ignore[no-untyped-def]
    """The worker's task writes (events done, events) while the engine runs, from 0 to every event of
    the report, and removes it at the end; the API's pending answer carries what it last wrote."""
    from orthanc_rem.skin_dose.worker import PROGRESS_KEY, calculation_progress
    from orthanc_rem.tasks import build_queue, create_huey

    settings = Settings(data_dir=tmp_path, database_url=database_url, queue_url=f"sqlite:///{tmp_path / 'q.sqlite'}")
    queue = build_queue(settings)
    study_id = loaded(SIEMENS_ZEE)
    events = len(sr_facts.projection_events(sr_facts.read(corpus(SIEMENS_ZEE))))
    written: list[tuple[int, int]] = []
    put = queue.huey.put

    def recording_put(key: str, value: Any) -> Any:
        assert key == PROGRESS_KEY.format(study_id=study_id)
        written.append((value["events_done"], value["events"]))
        return put(key, value)

    queue.huey.put = recording_put  # type: ignore[method-assign]
    assert queue.compute_skin_dose is not None
    assert queue.compute_skin_dose.call_local(study_id) == cache.COMPUTED
    assert written[0] == (0, events) and written[-1] == (events, events)
    assert [done for done, _ in written] == sorted(done for done, _ in written)
    assert calculation_progress(queue.huey, study_id) is None  # removed when the task ended

    other = loaded(PHILIPS_ALLURA)  # never computed: the page's request finds it pending
    create_huey(settings.queue_url).put(
        PROGRESS_KEY.format(study_id=other),
        {"state": "calculating", "events_done": 1, "events": 3, "started_at": "2026-12-02T06:00:00"},
    )
    client = dose_browser_client(settings, sessions)
    response = client.get(f"/api/studies/{other}/skin-dose", base_url=BASE_URL)
    assert response.status_code == 202
    document = response.get_json()
    assert document["progress"] == {
        "state": "calculating",
        "events_done": 1,
        "events": 3,
        "started_at": "2026-12-02T06:00:00",
    }
    assert document["reason"] == "being calculated by a worker"
