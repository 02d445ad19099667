"""Projection X-ray dose extraction (TID 10001: RF, DX and MG RDSRs) from every projection report of
the corpus, without a database.

Expected values are read from the objects themselves with plain pydicom (``sr_facts`` and the small
helpers below, independent of ``orthanc_rem.extraction``), or are literals read with dcmdump and cited
next to the assertion. Units are converted with the test's own factors, from the unit each value
arrives in.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import functools
from collections import Counter
from pathlib import Path

import pytest
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.tag import Tag

import sr_facts
from orthanc_rem.extraction.classification import ObjectKind, classify
from orthanc_rem.extraction.dicom_file import read_dicom_file
from orthanc_rem.extraction.projection_records import ProjectionDoseReport
from orthanc_rem.extraction.projection_report import projection_modality, read_projection_dose_report
from orthanc_rem.extraction.records import Code, ExtractionError, NotADoseReport

#: Every projection RDSR of the corpus and the modality its content describes (the reason in the comment
#: is what dcmdump shows: Irradiation Event Type 113721, TID 10004 fluoroscopy totals, procedure reported).
MODALITIES = {
    "RF-No-kVp-and-others.dcm": "RF",  # 20 events, all 113721 = (P5-06000, SRT, "Fluoroscopy")
    "RF-Pat-Orientation-Modifier-Missing.dcm": "RF",  # 247 fluoroscopy + 69 stationary acquisitions
    "RF-RDSR-Eurocolumbus.dcm": "RF",  # 4 fluoroscopy events
    "RF-RDSR-GE-OECEliteMiniView.dcm": "RF",  # 22 fluoroscopy events, no Content Template Sequence
    "RF-RDSR-GE.dcm": "RF",  # 8 fluoroscopy events
    "RF-RDSR-Philips_Allura.dcm": "RF",  # fluoroscopy + stationary acquisitions
    "RF-RDSR-Siemens-Zee.dcm": "RF",  # 8 fluoroscopy events
    "RF-RDSR-Siemens-Zee_adjusted.dcm": "RF",
    "Dual-RDSR-RF.dcm": "RF",  # Fluorospot: 2 fluoroscopy + 2 stationary, Total Fluoro Time DS [4]
    "Dual-RDSR-DX.dcm": "DX",  # Fluorospot: 1 stationary acquisition; fluoro totals all DS [0]
    "DX-RDSR-Canon_CXDI.dcm": "DX",  # 1 stationary acquisition, no fluoroscopy rows
    "DX-RDSR-Carestream_DRXEvolution.dcm": "DX",  # 5 stationary acquisitions, TID 10007 totals
    "MG-RDSR-GEPristina-2D.dcm": "MG",  # 121058 -> (P5-40010, SRT, "Mammography")
    "MG-RDSR-Hologic_2D.dcm": "MG",
    "MG-RDSR-Hologic_mix.dcm": "MG",  # 2D and tomosynthesis (Rotational Acquisition) views
}
PROJECTION_FILES = list(MODALITIES)
MG_FILES = [name for name, modality in MODALITIES.items() if modality == "MG"]

# Units each concept arrives in across the corpus, with the factor to the record's unit. "Gym2" and
# "uAs" are Siemens' (and Hologic's) non-UCUM spellings, "pulse/s" GE Super-C's (see dcmdump).
GYM2 = {"Gy.m2": 1.0, "Gym2": 1.0}
GY = {"Gy": 1.0}
MGY = {"mGy": 1.0}
SECONDS = {"s": 1.0}
MS = {"ms": 1.0}
MM = {"mm": 1.0}
DEG = {"deg": 1.0}
KV = {"kV": 1.0}
MA = {"mA": 1.0}
UAS = {"uA.s": 1.0, "uAs": 1.0}
M2 = {"m2": 1.0}
PER_S = {"{pulse}/s": 1.0, "pulse/s": 1.0}
ONE = {"1": 1.0}


# --- an independent reader: plain pydicom -----------------------------------------------------------


def all_values(node: Dataset | None, code: str, units: dict[str, float]) -> list[float]:
    """Every value of every direct child NUM ``code``, in the record's unit (pulse-level data)."""
    found: list[float] = []
    for item in sr_facts.children(node, code) if node is not None else []:
        values, unit = sr_facts.measured(item)
        if values:
            assert unit in units, f"{code} arrives in {unit!r}, not one of {sorted(units)}"
            found.extend(v * units[unit] for v in values)
    return found


def value(node: Dataset | None, code: str, units: dict[str, float]) -> float | None:
    """The first value of the first direct child NUM ``code``; None when absent or empty."""
    item = sr_facts.child(node, code)
    values, unit = sr_facts.measured(item)
    if not values:
        return None
    assert unit in units, f"{code} arrives in {unit!r}, not one of {sorted(units)}"
    return values[0] * units[unit]


def text(node: Dataset, code: str) -> str | None:
    item = sr_facts.child(node, code)
    return str(item.TextValue).strip() or None if item is not None and item.get("TextValue") else None


def code_of(node: Dataset | None, code: str) -> str | None:
    return sr_facts.code_value(sr_facts.child(node, code))


def dicom_datetime(raw: str) -> dt.datetime:
    whole, _, fraction = raw.strip().partition(".")
    parsed = dt.datetime.strptime(whole[:14], "%Y%m%d%H%M%S")
    return parsed + dt.timedelta(microseconds=int(fraction.ljust(6, "0")[:6]) if fraction else 0)


def mean_of_non_zero(values: list[float]) -> float | None:
    """The manual's pulse-level average (L5657): zeros excluded; all zeros average to 0."""
    if not values:
        return None
    non_zero = [v for v in values if v != 0]
    return sum(non_zero) / len(non_zero) if non_zero else 0.0


def header(ds: Dataset, keyword: str) -> str | None:
    raw = ds.get(keyword)
    if raw is None:
        return None
    text_value = "\\".join(str(v) for v in raw) if isinstance(raw, MultiValue) else str(raw)
    return text_value.strip() or None


def code_value(found: Code | None) -> str | None:
    return found.value if found is not None else None


def extract(path: Path) -> ProjectionDoseReport:
    return read_projection_dose_report(read_dicom_file(path))


@functools.cache
def facts(path: Path) -> Dataset:
    """The object read by plain pydicom, once per module: the 3 MB report takes seconds to read so.
    Only for tests that do not edit the data set."""
    return sr_facts.read(path)


@functools.cache
def extracted(path: Path) -> ProjectionDoseReport:
    """``extract`` once per module (records are frozen)."""
    return extract(path)


def approx(expected: object) -> object:
    if expected is None:
        return None
    if isinstance(expected, list | tuple):
        return pytest.approx(tuple(expected))
    return pytest.approx(expected)


# --- every projection corpus file against its own content -------------------------------------------


@pytest.mark.parametrize("name", PROJECTION_FILES)
def test_modality_is_decided_from_the_content(corpus, name):
    ds = read_dicom_file(corpus(name))
    assert classify(ds) == ObjectKind.PROJECTION
    report = read_projection_dose_report(ds)
    assert report.modality == MODALITIES[name]
    assert projection_modality(report.dose) == report.modality


def philips_shutter_field(item: Dataset) -> tuple[float | None, float | None, float | None]:
    """(height mm, width mm, area m2) from Philips' private shutter positions (mm at 1 m, 99PHI-IXR-XPER
    006-009) and the event's Distance Source to Detector: only when all five are there and non-zero."""
    containers = [i for i in item.ContentSequence if sr_facts.concept(i) == "005"]
    distance_mm = value(item, "113750", MM)
    if not containers or not distance_mm:
        return None, None, None
    shutters = {
        sr_facts.concept(i): float(i.MeasuredValueSequence[0].NumericValue) for i in containers[0].ContentSequence
    }
    bottom, left, right, top = (shutters.get(code) for code in ("006", "007", "008", "009"))
    if not (bottom and left and right and top):
        return None, None, None
    height, width = (left + right) * distance_mm / 1000, (bottom + top) * distance_mm / 1000
    return height, width, height * width / 1e6


@pytest.mark.parametrize("name", PROJECTION_FILES)
def test_every_irradiation_event_is_read_as_the_object_states(corpus, name):
    ds = facts(corpus(name))
    report = extracted(corpus(name))
    items = sr_facts.projection_events(ds)
    assert len(report.dose.events) == len(items) > 0
    assert Counter(code_value(e.acquisition_plane) for e in report.dose.events) == Counter(
        sr_facts.plane(item) for item in items
    )
    for event, item in zip(report.dose.events, items, strict=True):
        assert code_value(event.acquisition_plane) == sr_facts.plane(item)
        assert event.irradiation_event_uid == str(sr_facts.child(item, "113769").UID)
        assert code_value(event.irradiation_event_type) == code_of(item, "113721")
        assert event.acquisition_protocol == text(item, "125203")
        assert event.date_time_started == dicom_datetime(sr_facts.child(item, "111526").DateTime)
        assert code_value(event.target_region) == code_of(item, "123014")
        assert event.dose_area_product_gym2 == approx(value(item, "122130", GYM2))
        assert event.entrance_exposure_at_rp_mgy == approx(value(item, "111636", MGY))
        assert event.half_value_layer_mm == approx(value(item, "111634", MM))
        assert event.source.dose_rp_gy == approx(value(item, "113738", GY))
        assert event.source.average_glandular_dose_mgy == approx(value(item, "111631", MGY))
        assert event.source.irradiation_duration_s == approx(value(item, "113742", SECONDS))
        assert code_value(event.source.fluoro_mode) == code_of(item, "113732")
        assert event.source.pulse_rate_per_s == approx(value(item, "113791", PER_S))
        assert event.source.number_of_pulses == approx(value(item, "113768", ONE))
        assert event.source.focal_spot_size_mm == approx(value(item, "113766", MM))
        assert event.source.collimated_field_area_m2 == approx(
            value(item, "113790", M2) or philips_shutter_field(item)[2]
        )
        assert code_value(event.source.anode_target_material) == code_of(item, "111632")
        assert [g.value for g in event.source.grid] == [
            sr_facts.code_value(g) for g in sr_facts.children(item, "111635")
        ]


@pytest.mark.parametrize("name", PROJECTION_FILES)
def test_pulse_level_technique_keeps_every_value_and_averages_the_non_zero_ones(corpus, name):
    ds = facts(corpus(name))
    report = extracted(corpus(name))
    for event, item in zip(report.dose.events, sr_facts.projection_events(ds), strict=True):
        source = event.source
        kvp, current = all_values(item, "113733", KV), all_values(item, "113734", MA)
        pulse_width, exposure = all_values(item, "113793", MS), all_values(item, "113736", UAS)
        assert source.kvp_values_kv == approx(kvp)
        assert source.kvp_kv == approx(mean_of_non_zero(kvp))
        assert source.xray_tube_current_values_ma == approx(current)
        assert source.xray_tube_current_ma == approx(mean_of_non_zero(current))
        assert source.pulse_width_values_ms == approx(pulse_width)
        assert source.pulse_width_ms == approx(mean_of_non_zero(pulse_width))
        assert source.exposure_values_uas == approx(exposure)
        assert source.exposure_uas == approx(sum(exposure) if exposure else None)
        # Average X-Ray Tube Current: 113767 when reported, else the tube current (OpenREM #371)
        average = value(item, "113767", MA)
        assert source.average_xray_tube_current_ma == approx(
            average if average is not None else mean_of_non_zero(current)
        )
        # Exposure Time: 113824 (current code), else the retired 113735 (Siemens), else pulse width x
        # number of pulses (OpenREM #379).
        exposure_time = value(item, "113824", MS)
        if exposure_time is None:
            exposure_time = value(item, "113735", MS)
        pulses = value(item, "113768", ONE)
        if exposure_time is None and pulse_width and pulses is not None:
            exposure_time = mean_of_non_zero(pulse_width) * pulses
        assert source.exposure_time_ms == approx(exposure_time)


@pytest.mark.parametrize("name", PROJECTION_FILES)
def test_filters_are_read_one_container_each(corpus, name):
    ds = facts(corpus(name))
    report = extracted(corpus(name))
    for event, item in zip(report.dose.events, sr_facts.projection_events(ds), strict=True):
        expected = [
            (code_of(f, "113772"), code_of(f, "113757"), value(f, "113758", MM), value(f, "113773", MM))
            for f in sr_facts.children(item, "113771")
        ]
        got = [
            (
                code_value(f.filter_type),
                code_value(f.filter_material),
                f.thickness_minimum_mm,
                f.thickness_maximum_mm,
            )
            for f in event.source.filters
        ]
        assert got == expected


#: TID 10003C / CID 10008 / TID 10003A rows by record field: (code, units).
MECHANICAL = {
    "positioner_primary_angle_deg": ("112011", DEG),
    "positioner_secondary_angle_deg": ("112012", DEG),
    "positioner_primary_end_angle_deg": ("113739", DEG),
    "positioner_secondary_end_angle_deg": ("113740", DEG),
    "column_angulation_deg": ("113770", DEG),
    "table_head_tilt_angle_deg": ("113754", DEG),
    "table_horizontal_rotation_angle_deg": ("113755", DEG),
    "table_cradle_tilt_angle_deg": ("113756", DEG),
    "compression_thickness_mm": ("111633", MM),
    "distance_source_to_isocenter_mm": ("113748", MM),
    "distance_source_to_reference_point_mm": ("113737", MM),
    "distance_source_to_detector_mm": ("113750", MM),
    "table_longitudinal_position_mm": ("113751", MM),
    "table_lateral_position_mm": ("113752", MM),
    "table_height_position_mm": ("113753", MM),
}
DETECTOR = {"exposure_index": "113845", "target_exposure_index": "113846", "deviation_index": "113847"}


def philips_table_height_mm(event: Dataset) -> float | None:
    """Philips Allura Xper's private "Table Height Position" row (021, 99PHI-IXR-XPER), in mm."""
    for item in event.get("ContentSequence") or ():
        concept = item.ConceptNameCodeSequence[0]
        if (concept.CodeValue, concept.CodingSchemeDesignator) == ("021", "99PHI-IXR-XPER"):
            values, unit = sr_facts.measured(item)
            assert unit == "mm"
            return values[0]
    return None


@pytest.mark.parametrize("name", PROJECTION_FILES)
def test_mechanical_and_detector_data_match_the_object(corpus, name):
    ds = facts(corpus(name))
    report = extracted(corpus(name))
    for event, item in zip(report.dose.events, sr_facts.projection_events(ds), strict=True):
        expected = {field: value(item, code, units) for field, (code, units) in MECHANICAL.items()}
        if expected["table_height_position_mm"] is None:  # Philips Allura: only its private row
            expected["table_height_position_mm"] = philips_table_height_mm(item)
        got = {field: getattr(event.mechanical, field) if event.mechanical else None for field in MECHANICAL}
        assert got == {field: approx(v) for field, v in expected.items()}
        expected_detector = {field: value(item, code, ONE) for field, code in DETECTOR.items()}
        got_detector = {field: getattr(event.detector, field) if event.detector else None for field in DETECTOR}
        assert got_detector == {field: approx(v) for field, v in expected_detector.items()}


#: TID 10004 / 10007 rows of Accumulated X-Ray Dose Data by record field: (code, units).
ACCUMULATED = {
    "fluoro_dose_area_product_total_gym2": ("113726", GYM2),
    "fluoro_dose_rp_total_gy": ("113728", GY),
    "total_fluoro_time_s": ("113730", SECONDS),
    "acquisition_dose_area_product_total_gym2": ("113727", GYM2),
    "acquisition_dose_rp_total_gy": ("113729", GY),
    "total_acquisition_time_s": ("113855", SECONDS),
    "dose_area_product_total_gym2": ("113722", GYM2),
    "dose_rp_total_gy": ("113725", GY),
    "total_number_of_radiographic_frames": ("113731", ONE),
}


@pytest.mark.parametrize("name", PROJECTION_FILES)
def test_accumulated_dose_is_kept_per_plane_as_the_object_states(corpus, name):
    ds = facts(corpus(name))
    report = extracted(corpus(name))
    items = sr_facts.accumulations(ds)
    assert [code_value(a.acquisition_plane) for a in report.dose.accumulations] == [
        sr_facts.plane(item) for item in items
    ]
    for accumulation, item in zip(report.dose.accumulations, items, strict=True):
        expected = {field: value(item, code, units) for field, (code, units) in ACCUMULATED.items()}
        got = {field: getattr(accumulation, field) for field in ACCUMULATED}
        assert got == {field: approx(v) for field, v in expected.items()}
        assert len(accumulation.calibrations) == len(sr_facts.children(item, "122505"))


@pytest.mark.parametrize("name", PROJECTION_FILES)
def test_header_records_match_the_object(corpus, name):
    ds = facts(corpus(name))
    report = extracted(corpus(name))
    assert report.sop_instance_uid == ds.SOPInstanceUID
    assert report.sop_class_uid == ds.SOPClassUID
    assert report.study.study_instance_uid == ds.StudyInstanceUID
    assert report.study.accession_number == header(ds, "AccessionNumber")
    assert report.equipment.manufacturer == header(ds, "Manufacturer")
    assert report.equipment.manufacturer_model_name == header(ds, "ManufacturerModelName")
    assert report.equipment.station_name == header(ds, "StationName")
    assert report.equipment.device_serial_number == header(ds, "DeviceSerialNumber")
    assert report.patient.sex == header(ds, "PatientSex")
    assert report.source_kind == "rdsr"


# --- mammography ------------------------------------------------------------------------------------


def laterality_of(event_item: Dataset) -> str | None:
    """G-C171 Laterality under Target Region (PS3.16) or under Anatomical Structure T-D0005 (Hologic, GE)."""
    for parent_code in ("123014", "T-D0005"):
        found = code_of(sr_facts.child(event_item, parent_code), "G-C171")
        if found is not None:
            return found
    return None


@pytest.mark.parametrize("name", MG_FILES)
def test_mammography_keeps_agd_per_breast_and_per_view(corpus, name):
    ds = facts(corpus(name))
    report = extracted(corpus(name))
    (accumulation_item,) = sr_facts.accumulations(ds)
    (accumulation,) = report.dose.accumulations
    expected_breasts = []
    for item in sr_facts.children(accumulation_item, "111637"):
        (agd,), unit = sr_facts.measured(item)
        expected_breasts.append((code_of(item, "G-C171"), agd * MGY[unit]))
    assert len(expected_breasts) == 2
    got_breasts = [
        (code_value(m.laterality), m.accumulated_average_glandular_dose_mgy) for m in accumulation.mammography
    ]
    assert got_breasts == [(lat, pytest.approx(agd)) for lat, agd in expected_breasts]
    for event, item in zip(report.dose.events, sr_facts.projection_events(ds), strict=True):
        assert event.source.average_glandular_dose_mgy == approx(value(item, "111631", MGY))
        assert event.entrance_exposure_at_rp_mgy == approx(value(item, "111636", MGY))
        assert event.mechanical.compression_thickness_mm == approx(value(item, "111633", MM))
        assert event.mechanical.compression_force_n is None  # dcmdump: no 111647 in the corpus' MG RDSRs
        assert code_value(event.source.anode_target_material) == code_of(item, "111632")
        assert [code_value(f.filter_material) for f in event.source.filters] == [
            code_of(f, "113757") for f in sr_facts.children(item, "113771")
        ]
        assert laterality_of(item) is not None
        assert code_value(event.laterality) == laterality_of(item)
        assert code_value(event.image_view) == code_of(item, "111031")


def test_hologic_breast_dose_and_views_read_with_dcmdump(corpus):
    report = extract(corpus("MG-RDSR-Hologic_2D.dcm"))
    (accumulation,) = report.dose.accumulations
    # dcmdump: 111637 DS [1.30] mGy with G-C171 -> (T-04030, SRT, "Left breast"); DS [1.28] -> T-04020 right
    assert [(m.laterality.value, m.accumulated_average_glandular_dose_mgy) for m in accumulation.mammography] == [
        ("T-04030", 1.30),
        ("T-04020", 1.28),
    ]
    left_cc, right_cc = report.dose.events
    # dcmdump, first event: T-D0005 > G-C171 -> (G-A101, SRT, "Left"); 111031 -> (R-10242, SNM3, "cranio-caudal")
    assert (left_cc.laterality.value, left_cc.image_view.value) == ("G-A101", "R-10242")
    # dcmdump: 111631 DS [1.30]; 111636 DS [3.65]; 111633 DS [43.00]; 111632 -> C-164F9 "Tungsten ..."
    assert left_cc.source.average_glandular_dose_mgy == 1.30
    assert left_cc.entrance_exposure_at_rp_mgy == 3.65
    assert left_cc.mechanical.compression_thickness_mm == 43.0
    assert left_cc.source.anode_target_material.value == "C-164F9"
    # dcmdump: X-Ray Filters > 113757 -> (C-167F9, SRT, "Rhodium or Rhodium compound"), 0.05 mm
    (rhodium,) = left_cc.source.filters
    assert (rhodium.filter_material.value, rhodium.thickness_minimum_mm) == ("C-167F9", 0.05)
    assert right_cc.laterality.value == "G-A100"
    # dcmdump: root 113745 "X-Ray Detector Data Available" -> R-0038D "Yes" (113745 is Patient Table
    # Relationship in PS3.16): read as detector data available, with a warning.
    assert report.dose.xray_detector_data_available.value == "R-0038D"
    assert any("113745" in w for w in report.warnings)


def test_hologic_tomosynthesis_views_have_start_and_end_angles(corpus):
    tomo = extract(corpus("MG-RDSR-Hologic_mix.dcm")).dose.events[0]
    # dcmdump: 113721 -> (113613, DCM, "Rotational Acquisition"); 112011 DS [-7.40]; 113739 DS [7.60]
    assert tomo.irradiation_event_type.value == "113613"
    assert (tomo.mechanical.positioner_primary_angle_deg, tomo.mechanical.positioner_primary_end_angle_deg) == (
        -7.4,
        7.6,
    )


def test_ge_pristina_sends_one_kvp_per_pulse(corpus):
    source = extract(corpus("MG-RDSR-GEPristina-2D.dcm")).dose.events[0].source
    # dcmdump, first event: two 113733 NUMs DS [34.1], DS [33.99]; two 113734 DS [2], DS [30.48];
    # two 113793 DS [51.44], DS [558.06]; 113824 Exposure Time DS [609.5] ms
    assert source.kvp_values_kv == (34.1, 33.99)
    assert source.kvp_kv == pytest.approx((34.1 + 33.99) / 2)
    assert source.xray_tube_current_values_ma == (2.0, 30.48)
    assert source.pulse_width_values_ms == (51.44, 558.06)
    assert source.exposure_time_ms == 609.5
    # dcmdump: two X-Ray Filters containers, both (C-137F9, SRT, "Silver ...") without thickness
    assert [(f.filter_material.value, f.thickness_minimum_mm) for f in source.filters] == [
        ("C-137F9", None),
        ("C-137F9", None),
    ]


def test_compression_force_is_read_in_newtons(corpus):
    """TID 10003C Compression Force (111647) is in none of the corpus reports: added in memory, in
    decanewtons, to check the unit is read and not assumed."""
    ds = sr_facts.read(corpus("MG-RDSR-Hologic_2D.dcm"))
    event = sr_facts.projection_events(ds)[0]
    force = copy.deepcopy(sr_facts.child(event, "111633"))
    force.ConceptNameCodeSequence[0].CodeValue = "111647"
    force.ConceptNameCodeSequence[0].CodeMeaning = "Compression Force"
    force.MeasuredValueSequence[0].NumericValue = "8.5"
    force.MeasuredValueSequence[0].MeasurementUnitsCodeSequence[0].CodeValue = "daN"
    event.ContentSequence.append(force)
    assert read_projection_dose_report(ds).dose.events[0].mechanical.compression_force_n == pytest.approx(85.0)


# --- fluoroscopy and radiography vendor quirks, with values read by dcmdump -------------------------


def test_eurocolumbus_pulse_values_in_one_num_with_a_zero_first_pulse(corpus):
    """Fly4 packs every pulse into one Numeric Value (DS, VM 22); the first pulse is 0 and must not
    pull the mean down (manual L5657)."""
    source = extract(corpus("RF-RDSR-Eurocolumbus.dcm")).dose.events[0].source
    # dcmdump: 113733 KVP DS [0\85\85\68\68\59\59\54\54\52\52\51\51\51\51\50\50\50\50\50\50\50]
    kvp = [0, 85, 85, 68, 68, 59, 59, 54, 54, 52, 52, 51, 51, 51, 51, 50, 50, 50, 50, 50, 50, 50]
    assert source.kvp_values_kv == tuple(float(v) for v in kvp)
    assert source.kvp_kv == pytest.approx(sum(kvp) / 21)
    # dcmdump: 113734 DS [0\50\50...] (22 values); 113793 Pulse Width DS [0\8\8...] (22 values)
    assert (len(source.xray_tube_current_values_ma), source.xray_tube_current_ma) == (22, 50.0)
    assert (source.pulse_width_values_ms[0], source.pulse_width_ms) == (0.0, 8.0)
    # dcmdump: 113824 Exposure Time DS [168] ms; 113791 DS [12] {pulse}/s; 113768 DS [22]
    assert (source.exposure_time_ms, source.pulse_rate_per_s, source.number_of_pulses) == (168.0, 12.0, 22.0)


def test_philips_reports_copper_and_aluminium_filters_and_fractional_kvp(corpus):
    event = extract(corpus("RF-RDSR-Philips_Allura.dcm")).dose.events[0]
    # dcmdump: X-Ray Filters #1 -> C-127F9 "Copper ..." 0.4 / 0.4 mm; #2 -> C-120F9 "Aluminum ..." 1 / 1 mm
    assert [
        (f.filter_material.value, f.thickness_minimum_mm, f.thickness_maximum_mm) for f in event.source.filters
    ] == [
        ("C-127F9", 0.4, 0.4),
        ("C-120F9", 1.0, 1.0),
    ]
    # dcmdump: 113733 DS [69.3977142857142]; 113734 DS [51.5109443923040]; 113793 DS [4.05582655886454]
    assert event.source.kvp_kv == 69.3977142857142
    assert event.source.xray_tube_current_ma == 51.5109443923040
    assert event.source.pulse_width_ms == 4.05582655886454
    # dcmdump: 113742 Irradiation Duration DS [13.066] s (pedal time); no Exposure Time row:
    # 113793 x 113768 Number of Pulses DS [98] is the beam-on time (#379)
    assert event.source.irradiation_duration_s == 13.066
    assert event.source.exposure_time_ms == pytest.approx(4.05582655886454 * 98)
    # dcmdump: 113745 -> (F-10470, SRT, "headfirst"); 113743 -> F-10450 "recumbent" > 113744 -> F-10340
    assert event.patient_table_relationship.value == "F-10470"
    assert (event.patient_orientation.value, event.patient_orientation_modifier.value) == ("F-10450", "F-10340")


def test_veradius_without_kvp_and_with_minimum_thickness_only(corpus):
    event = extract(corpus("RF-No-kVp-and-others.dcm")).dose.events[0]
    # dcmdump: no 113733, 113734, 113793 in any event
    assert (event.source.kvp_kv, event.source.xray_tube_current_ma, event.source.pulse_width_ms) == (None,) * 3
    assert event.source.kvp_values_kv == ()
    # dcmdump: X-Ray Filters: C-120F9 with 113758 DS [3.0] only; C-127F9 with 113758 DS [0.1] only
    assert [
        (f.filter_material.value, f.thickness_minimum_mm, f.thickness_maximum_mm) for f in event.source.filters
    ] == [
        ("C-120F9", 3.0, None),
        ("C-127F9", 0.1, None),
    ]
    # dcmdump: 113790 Collimated Field Area DS [7.028064000e-02] m2; 111635 -> (111642, DCM, "Focused grid")
    assert event.source.collimated_field_area_m2 == pytest.approx(0.07028064)
    assert [g.value for g in event.source.grid] == ["111642"]


def test_siemens_zee_is_single_plane_with_retired_exposure_time_and_ii_size(corpus):
    report = extract(corpus("RF-RDSR-Siemens-Zee.dcm"))
    # dcmdump: one 113702 with 113764 -> (113622, DCM, "Single Plane"); every event Single Plane
    (accumulation,) = report.dose.accumulations
    assert accumulation.acquisition_plane.value == "113622"
    assert {e.acquisition_plane.value for e in report.dose.events} == {"113622"}
    # dcmdump: 113726 DS [1.6e-005] (Gym2); 113728 DS [0.00252] Gy; 113730 DS [28] s; 113727 DS [0]
    assert accumulation.fluoro_dose_area_product_total_gym2 == pytest.approx(1.6e-5)
    assert (accumulation.fluoro_dose_rp_total_gy, accumulation.total_fluoro_time_s) == (0.00252, 28.0)
    assert accumulation.acquisition_dose_area_product_total_gym2 == 0.0
    first = report.dose.events[0]
    # dcmdump: 113735 (retired) Exposure Time DS [100.8] ms; 113736 Exposure DS [9586] uAs
    assert (first.source.exposure_time_ms, first.source.exposure_uas) == (100.8, 9586.0)
    # dcmdump: 121106 Comment UT [<FluoroData>...<iiDiameter SRData="220"/>...]
    assert first.source.ii_field_size_mm == 220.0
    # dcmdump: 113758/113773 DS [0.6] with 113757 -> C-127F9 "Copper or Copper compound"
    assert [(f.filter_material.value, f.thickness_maximum_mm) for f in first.source.filters] == [("C-127F9", 0.6)]


def test_siemens_patient_position_is_read_from_the_report_comment(corpus):
    """Artis systems give no TID 10003 patient rows; the report's top-level Comment holds
    ``<PatientPosition><Position SRData="HFS "/>``: head first, recumbent, supine (CID 21/19/20)."""
    ds = facts(corpus("RF-RDSR-Siemens-Zee.dcm"))
    (comment,) = [i for i in ds.ContentSequence if sr_facts.concept(i) == "121106"]
    assert '<PatientPosition><Position SRData="HFS "/>' in comment.TextValue
    events = sr_facts.projection_events(ds)
    assert not any(sr_facts.child(e, code) for e in events for code in ("113743", "113744", "113745"))
    report = extract(corpus("RF-RDSR-Siemens-Zee.dcm"))
    assert len(report.dose.events) == len(events)
    for event in report.dose.events:
        assert event.patient_table_relationship == Code("F-10470", "SRT", "headfirst")
        assert event.patient_orientation == Code("F-10450", "SRT", "recumbent")
        assert event.patient_orientation_modifier == Code("F-10340", "SRT", "supine")


def test_siemens_feet_first_prone_and_standard_rows_first(corpus):
    ds = read_dicom_file(corpus("RF-RDSR-Siemens-Zee.dcm"))
    (comment,) = [i for i in ds.ContentSequence if sr_facts.concept(i) == "121106"]
    comment.TextValue = comment.TextValue.replace('SRData="HFS "', 'SRData="FFP"')
    allura = facts(corpus("RF-RDSR-Philips_Allura.dcm"))
    headfirst = copy.deepcopy(sr_facts.child(sr_facts.projection_events(allura)[0], "113745"))
    sr_facts.projection_events(ds)[0].ContentSequence.append(headfirst)  # F-10470, as the Allura sends it
    report = read_projection_dose_report(ds)
    assert report.dose.events[0].patient_table_relationship.value == "F-10470"
    assert report.dose.events[0].patient_orientation is None  # the event's own rows win, none added
    second = report.dose.events[1]
    relationship, modifier = second.patient_table_relationship, second.patient_orientation_modifier
    assert (relationship.value, modifier.value) == ("F-10480", "F-10310")  # feet-first, prone


def test_philips_collimated_field_from_private_shutter_positions(corpus):
    """Philips Allura Xper: no 113788/113789/113790 rows, but a private "Wedges and Shutters" container
    (99PHI-IXR-XPER 005) whose shutter positions are at 1 m from the focus (mm): scaled by the event's
    Distance Source to Detector, left + right give the height, bottom + top the width."""
    ds = facts(corpus("RF-RDSR-Philips_Allura.dcm"))
    report = extract(corpus("RF-RDSR-Philips_Allura.dcm"))
    items = sr_facts.projection_events(ds)
    assert not any(sr_facts.child(e, code) for e in items for code in ("113788", "113789", "113790"))
    for item, event in zip(items, report.dose.events, strict=True):
        height, width, area = philips_shutter_field(item)
        assert area is not None
        assert event.source.collimated_field_height_mm == pytest.approx(height)
        assert event.source.collimated_field_width_mm == pytest.approx(width)
        assert event.source.collimated_field_area_m2 == pytest.approx(area)
    # dcmdump, first event: shutters 131 / 164.5 / 164.5 / 131 mm, 113750 DS [1194] mm
    first = report.dose.events[0].source
    assert first.collimated_field_height_mm == pytest.approx(329 * 1.194)
    assert first.collimated_field_width_mm == pytest.approx(262 * 1.194)


def test_anode_target_material_under_code_113632_is_kept(corpus):
    """Some DBT reports write Anode Target Material with concept name code 113632 (not a DCM code):
    the material and its code are kept, with a warning, instead of being dropped."""
    ds = read_dicom_file(corpus("MG-RDSR-Hologic_mix.dcm"))
    item = sr_facts.child(sr_facts.projection_events(ds)[0], "111632")
    expected = (item.ConceptCodeSequence[0].CodeValue, item.ConceptCodeSequence[0].CodingSchemeDesignator)
    item.ConceptNameCodeSequence[0].CodeValue = "113632"
    report = read_projection_dose_report(ds)
    material = report.dose.events[0].source.anode_target_material
    assert (material.value, material.scheme) == expected  # C-164F9 SRT, tungsten (dcmdump)
    assert any("113632" in w for w in report.warnings)


def test_ge_super_c_empty_angles_text_scope_uid_and_pulse_rate_spelling(corpus):
    report = extract(corpus("RF-RDSR-GE.dcm"))
    # dcmdump: scope > 121126 PPS SOP Instance UID as TEXT [1.2.840.113619.8.329.10.2018486.1552764365.92....]
    assert report.dose.scope_uid == "1.2.840.113619.8.329.10.2018486.1552764365.92.20190316132605"
    first = report.dose.events[0]
    # dcmdump: 112011, 112012, 113739, 113740 with an empty Measured Value Sequence
    assert first.mechanical.positioner_primary_angle_deg is None
    assert first.mechanical.positioner_primary_end_angle_deg is None
    # dcmdump: X-Ray Filters > C-120F9 "Aluminium ..." 113758 DS [6.00], 113773 DS [7.20]
    (aluminium,) = first.source.filters
    assert (aluminium.thickness_minimum_mm, aluminium.thickness_maximum_mm) == (6.0, 7.2)
    # dcmdump: 113824 Exposure Time DS [7333.00] ms; 113742 DS [7.62599993] s; 113767 DS [2.74306011] mA
    assert (first.source.exposure_time_ms, first.source.irradiation_duration_s) == (7333.0, 7.62599993)
    assert first.source.average_xray_tube_current_ma == 2.74306011
    # dcmdump: a later event has 113791 Pulse Rate DS [8.00] in "pulse/s" (not UCUM "{pulse}/s")
    assert 8.0 in [e.source.pulse_rate_per_s for e in report.dose.events]


def test_oec_elite_without_template_identifier_is_recognised_by_its_containers(corpus):
    report = extract(corpus("RF-RDSR-GE-OECEliteMiniView.dcm"))
    assert any("Content Template Sequence" in w for w in report.warnings)
    # dcmdump: 122142 -> (113957, DCM, "Fluoroscopy-Guided Projection Radiography System")
    assert report.dose.acquisition_device_type.value == "113957"
    # dcmdump: first event 113605 Irradiation Event Label UT [1]; 113734 DS [0.0927] mA
    assert report.dose.events[0].irradiation_event_label == "1"
    assert report.dose.events[0].source.xray_tube_current_ma == 0.0927


def test_dx_rdsrs_report_exposure_index_and_integrated_totals(corpus):
    carestream = extract(corpus("DX-RDSR-Carestream_DRXEvolution.dcm"))
    # dcmdump: 113845 DS [662.18]; 113846 DS [226.22]; 113847 DS [4.66] (first event)
    detector = carestream.dose.events[0].detector
    assert (detector.exposure_index, detector.target_exposure_index, detector.deviation_index) == (
        662.18,
        226.22,
        4.66,
    )
    # dcmdump: TID 10007 rows 113722 DS [0.00000580999970] Gy.m2; 113731 DS [5]; no fluoroscopy rows
    (accumulation,) = carestream.dose.accumulations
    assert accumulation.dose_area_product_total_gym2 == pytest.approx(5.80999970e-6)
    assert accumulation.total_number_of_radiographic_frames == 5
    assert accumulation.total_fluoro_time_s is None
    canon = extract(corpus("DX-RDSR-Canon_CXDI.dcm")).dose.events[0]
    # dcmdump: 113738 Dose (RP) with an empty Measured Value Sequence; 113736 DS [800] uA.s
    assert (canon.source.dose_rp_gy, canon.source.exposure_uas) == (None, 800.0)


def test_dual_use_room_reports_radiography_and_fluoroscopy_separately(corpus):
    dx = extract(corpus("Dual-RDSR-DX.dcm"))
    rf = extract(corpus("Dual-RDSR-RF.dcm"))
    # dcmdump, DX: 113726 DS [0] Gym2, 113730 DS [0] s: the fluoroscopy rows are there, filled with zeros
    (dx_totals,) = dx.dose.accumulations
    assert (dx_totals.fluoro_dose_area_product_total_gym2, dx_totals.total_fluoro_time_s) == (0.0, 0.0)
    assert (dx.modality, rf.modality) == ("DX", "RF")
    # dcmdump, DX: 113845 DS [326]; 113846 DS [250]; 113847 DS [1.0]; X-Ray Filters > 113772 -> 111609 No Filter
    assert dx.dose.events[0].detector.exposure_index == 326
    assert [f.filter_type.value for f in dx.dose.events[0].source.filters] == ["111609"]


def test_siemens_arcadis_radiation_summary_is_not_a_dose_report(corpus):
    """An Enhanced SR with a private "Radiation Summary Report" root (C-10, 99SMS_RADSUM): no TID 10001,
    no X-Ray Radiation Dose Report root, so nothing the importer can read as projection dose."""
    ds = read_dicom_file(corpus("RF-ESR-Siemens-Varic.dcm"))
    assert classify(ds) == ObjectKind.OTHER_SR
    with pytest.raises(NotADoseReport, match="not a radiation dose report"):
        read_projection_dose_report(ds)


def test_ct_report_is_not_a_projection_report(corpus):
    with pytest.raises(NotADoseReport):
        extract(corpus("CT-RDSR-Siemens-Multi-1.dcm"))


# --- units, planes and the modality rule, on reports edited in memory -------------------------------


def set_num(item: Dataset, number: str, unit: str) -> None:
    item.MeasuredValueSequence[0].NumericValue = number
    item.MeasuredValueSequence[0].MeasurementUnitsCodeSequence[0].CodeValue = unit


@pytest.mark.parametrize(
    ("unit", "per_gym2"), [("dGy.cm2", 1e5), ("cGy.cm2", 1e6), ("mGy.cm2", 1e7), ("uGy.m2", 1e6), ("Gy.m2", 1)]
)
def test_dose_area_product_in_any_unit_is_stored_in_gym2(corpus, unit, per_gym2):
    ds = sr_facts.read(corpus("RF-RDSR-Philips_Allura.dcm"))
    event = sr_facts.projection_events(ds)[1]
    (accumulation,) = sr_facts.accumulations(ds)
    # dcmdump: event #2 122130 DS [6.4148712533E-05] Gy.m2; 113722 Dose Area Product Total DS [0.00015356864017]
    set_num(sr_facts.child(event, "122130"), f"{6.4148712533e-05 * per_gym2:.10g}", unit)
    set_num(sr_facts.child(accumulation, "113722"), f"{0.00015356864017 * per_gym2:.10g}", unit)
    # and the dose at the reference point in mGy (dcmdump: 113738 DS [0.00178446054343] Gy)
    set_num(sr_facts.child(event, "113738"), "1.78446054343", "mGy")
    report = read_projection_dose_report(ds)
    assert report.dose.events[1].dose_area_product_gym2 == pytest.approx(6.4148712533e-05)
    assert report.dose.accumulations[0].dose_area_product_total_gym2 == pytest.approx(0.00015356864017)
    assert report.dose.events[1].source.dose_rp_gy == pytest.approx(0.00178446054343)


def test_dose_area_product_in_an_unknown_unit_is_an_extraction_error(corpus):
    ds = sr_facts.read(corpus("RF-RDSR-Philips_Allura.dcm"))
    set_num(sr_facts.child(sr_facts.projection_events(ds)[2], "122130"), "1.5", "R.cm2")
    with pytest.raises(ExtractionError, match=r"Irradiation Event X-Ray Data #3 > Dose Area Product.*'R.cm2'"):
        read_projection_dose_report(ds)


def test_kvp_in_an_unknown_unit_is_none_with_a_warning(corpus):
    ds = sr_facts.read(corpus("RF-RDSR-Philips_Allura.dcm"))
    set_num(sr_facts.child(sr_facts.projection_events(ds)[0], "113733"), "70", "kVp")
    report = read_projection_dose_report(ds)
    assert (report.dose.events[0].source.kvp_kv, report.dose.events[0].source.kvp_values_kv) == (None, ())
    assert any("'kVp'" in w for w in report.warnings)


def test_filter_minimum_thicker_than_maximum_is_swapped_with_a_warning(corpus):
    ds = sr_facts.read(corpus("RF-RDSR-Philips_Allura.dcm"))
    copper = sr_facts.children(sr_facts.projection_events(ds)[0], "113771")[0]
    set_num(sr_facts.child(copper, "113758"), "0.9", "mm")  # dcmdump: maximum 113773 DS [0.4]
    report = read_projection_dose_report(ds)
    copper_filter = report.dose.events[0].source.filters[0]
    assert (copper_filter.thickness_minimum_mm, copper_filter.thickness_maximum_mm) == (0.4, 0.9)
    assert any("swapped" in w for w in report.warnings)


def test_biplane_events_and_accumulations_keep_their_plane(corpus):
    """No biplane report in the corpus: the Artis Zee report is turned into one in memory (four events
    on Plane B, an accumulation per plane), as TID 10001 records a biplane system."""
    ds = sr_facts.read(corpus("RF-RDSR-Siemens-Zee.dcm"))
    (plane_a,) = sr_facts.accumulations(ds)
    plane_b = copy.deepcopy(plane_a)
    ds.ContentSequence.append(plane_b)
    for node, code, meaning in [(plane_a, "113620", "Plane A"), (plane_b, "113621", "Plane B")]:
        sr_facts.child(node, "113764").ConceptCodeSequence[0].CodeValue = code
        sr_facts.child(node, "113764").ConceptCodeSequence[0].CodeMeaning = meaning
    set_num(sr_facts.child(plane_b, "113726"), "0.000004", "Gym2")
    set_num(sr_facts.child(plane_b, "113730"), "7", "s")
    events = sr_facts.projection_events(ds)
    for index, event in enumerate(events):
        sr_facts.child(event, "113764").ConceptCodeSequence[0].CodeValue = "113621" if index >= 4 else "113620"
    report = read_projection_dose_report(ds)
    by_plane = {a.acquisition_plane.value: a for a in report.dose.accumulations}
    assert by_plane["113620"].fluoro_dose_area_product_total_gym2 == pytest.approx(value(plane_a, "113726", GYM2))
    assert by_plane["113621"].fluoro_dose_area_product_total_gym2 == pytest.approx(4e-6)
    assert (by_plane["113620"].total_fluoro_time_s, by_plane["113621"].total_fluoro_time_s) == (28.0, 7.0)
    assert Counter(e.acquisition_plane.value for e in report.dose.events) == {"113620": 4, "113621": 4}
    assert report.modality == "RF"


def test_modality_rule_beyond_event_types(corpus):
    """Rules 3 and 4 of ``projection_modality``: non-zero fluoroscopy totals, or a fluoroscopy-guided
    device type, make an RF report even without fluoroscopy events; zeros do not."""
    dose = extract(corpus("Dual-RDSR-DX.dcm")).dose
    assert projection_modality(dose) == "DX"
    (totals,) = dose.accumulations
    with_fluoro_time = dataclasses.replace(dose, accumulations=(dataclasses.replace(totals, total_fluoro_time_s=4.0),))
    assert projection_modality(with_fluoro_time) == "RF"
    guided = Code("113957", "DCM", "Fluoroscopy-Guided Projection Radiography System")
    assert projection_modality(dataclasses.replace(dose, acquisition_device_type=guided)) == "RF"
    mammography = Code("71651007", "SCT", "Mammography")  # the SCT form of the corpus' P5-40010
    assert projection_modality(dataclasses.replace(dose, procedure_reported=mammography)) == "MG"


# --- broken content trees ---------------------------------------------------------------------------


def test_garbage_dose_area_product_is_left_empty_with_a_warning_naming_the_item(corpus):
    """Not a number: never stored, never a lost report; the event's dose at the RP is still read."""
    ds = read_dicom_file(corpus("RF-RDSR-Siemens-Zee.dcm"))
    event = sr_facts.projection_events(ds)[1]
    measured = sr_facts.child(event, "122130").MeasuredValueSequence[0]
    measured[0x0040A30A] = RawDataElement(Tag(0x0040A30A), "DS", 8, b"garbage ", 0, False, True)
    report = read_projection_dose_report(ds)
    assert report.dose.events[1].dose_area_product_gym2 is None
    assert report.dose.events[1].source.dose_rp_gy == approx(value(event, "113738", GY))
    assert any(
        w.startswith("Irradiation Event X-Ray Data #2: Dose Area Product (122130, DCM)") and "'garbage'" in w
        for w in report.warnings
    ), report.warnings


def test_event_without_content_is_an_extraction_error(corpus):
    ds = sr_facts.read(corpus("DX-RDSR-Carestream_DRXEvolution.dcm"))
    del sr_facts.projection_events(ds)[2].ContentSequence
    with pytest.raises(ExtractionError, match=r"Irradiation Event X-Ray Data #3 > .*no content"):
        read_projection_dose_report(ds)


def test_dose_rp_of_the_wrong_value_type_is_an_extraction_error(corpus):
    ds = sr_facts.read(corpus("Dual-RDSR-RF.dcm"))
    sr_facts.child(sr_facts.projection_events(ds)[0], "113738").ValueType = "TEXT"
    with pytest.raises(ExtractionError, match=r"Dose \(RP\) \(113738, DCM\): expected value type NUM, found TEXT"):
        read_projection_dose_report(ds)


def test_missing_event_uid_is_a_warning_not_an_error(corpus):
    ds = sr_facts.read(corpus("Dual-RDSR-RF.dcm"))
    event = sr_facts.projection_events(ds)[0]
    event.ContentSequence = [i for i in event.ContentSequence if sr_facts.concept(i) != "113769"]
    report = read_projection_dose_report(ds)
    assert report.dose.events[0].irradiation_event_uid is None
    assert any("#1: no Irradiation Event UID" in w for w in report.warnings)


# --- speed ------------------------------------------------------------------------------------------


def test_large_fluoroscopy_report_reads_every_event(corpus):
    """RF-Pat-Orientation-Modifier-Missing.dcm: 3.2 MB, 316 events (dcmdump: 316 x 113706).

    How fast it is read is measured in ``benchmarks/``, not asserted here.
    """
    data = corpus("RF-Pat-Orientation-Modifier-Missing.dcm").read_bytes()
    report = read_projection_dose_report(read_dicom_file(data))
    assert len(report.dose.events) == 316


DEVICE_OBSERVER = {
    "device_observer_name": "121013",
    "device_observer_manufacturer": "121014",
    "device_observer_model_name": "121015",
    "device_observer_serial_number": "121016",
}


@pytest.mark.parametrize("name", PROJECTION_FILES)
def test_device_observer_rows_are_kept(corpus, name):
    """TID 1004 at the report's root (images have none): the Allura report names its model only here."""
    ds = facts(corpus(name))
    dose = extracted(corpus(name)).dose
    uid = sr_facts.child(ds, "121012") if ds.get("ContentSequence") else None
    assert dose.device_observer_uid == (str(uid.get("UID") or "").strip() or None if uid is not None else None)
    for field, code in DEVICE_OBSERVER.items():
        expected = text(ds, code) if ds.get("ContentSequence") else None
        assert getattr(dose, field) == expected, field
