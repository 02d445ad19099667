"""CT dose extraction (TID 10011) from every CT dose object of the corpus, without a database.

Expected values are read from the objects themselves with plain pydicom (``sr_facts`` and the small
helpers below, independent of ``orthanc_rem.extraction``), or are literals read with dcmdump and
cited next to the assertion.
"""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pydicom
import pytest
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.tag import Tag

import sr_facts
from orthanc_rem.extraction import sr
from orthanc_rem.extraction.classification import ObjectKind, classify
from orthanc_rem.extraction.ct_report import read_ct_dose_report
from orthanc_rem.extraction.dicom_file import read_dicom_file
from orthanc_rem.extraction.headers import age_from_age_string
from orthanc_rem.extraction.records import Code, CtDoseReport, ExtractionError, NotADoseReport

CT_FILES = [
    "CT-ESR-GE_Optima.dcm",
    "CT-ESR-GE_VCT.dcm",
    "CT-RDSR-GEPixelMed.dcm",
    "CT-RDSR-Siemens-Continued-1.dcm",
    "CT-RDSR-Siemens-Continued-2.dcm",
    "CT-RDSR-Siemens-Multi-1.dcm",
    "CT-RDSR-Siemens-Multi-2.dcm",
    "CT-RDSR-Siemens-Multi-3.dcm",
    "CT-RDSR-Siemens_Flash-QA-DS.dcm",
    "CT-RDSR-Siemens_Flash-TAP-SS.dcm",
    "CT-RDSR-ToshibaPixelMed.dcm",
    "CT-RDSR-Toshiba_DoseCheck.dcm",
    "NM-CT-RDSR-Siemens.dcm",
]

# Units each concept is allowed to arrive in, with the factor to the record's unit. "mGycm" is the
# non-UCUM spelling Siemens and GE use for the DLP (see the dcmdump of any Siemens file).
MGY = {"mGy": 1.0}
MGYCM = {"mGy.cm": 1.0, "mGycm": 1.0}
MM = {"mm": 1.0}
SECONDS = {"s": 1.0}
MA = {"mA": 1.0}
KV = {"kV": 1.0}


# --- an independent reader: plain pydicom -----------------------------------------------------------


def first(node: Dataset, code: str) -> Dataset | None:
    found = sr_facts.find(node, code)
    return found[0] if found else None


def expected_number(node: Dataset, code: str, units: dict[str, float]) -> float | None:
    item = first(node, code)
    if item is None or not item.get("MeasuredValueSequence"):
        return None
    measured = item.MeasuredValueSequence[0]
    unit = measured.MeasurementUnitsCodeSequence[0].CodeValue
    assert unit in units, f"{code} arrives in {unit!r}, not one of {sorted(units)}"
    return float(measured.NumericValue) * units[unit]


def expected_text(node: Dataset, code: str) -> str | None:
    item = first(node, code)
    return str(item.TextValue) if item is not None else None


def expected_code_value(node: Dataset, code: str) -> str | None:
    item = first(node, code)
    return (
        item.ConceptCodeSequence[0].CodeValue
        if item is not None and item.get("ConceptCodeSequence")
        else None
    )


def expected_uid(node: Dataset, code: str) -> str | None:
    item = first(node, code)
    return str(item.UID) if item is not None else None


def dicom_datetime(text: str) -> dt.datetime:
    """Local wall-clock time: a UTC offset suffix (``+0000`` in the Flash TAP report) is dropped."""
    text = text.strip()
    if text[-5:-4] in ("+", "-"):
        text = text[:-5]
    whole, _, fraction = text.partition(".")
    parsed = dt.datetime.strptime(whole, "%Y%m%d%H%M%S")
    return parsed + dt.timedelta(microseconds=int(fraction.ljust(6, "0")) if fraction else 0)


def dicom_time(text: str) -> dt.time:
    whole, _, fraction = text.strip().partition(".")
    parsed = dt.datetime.strptime(whole, "%H%M%S")
    return (parsed + dt.timedelta(microseconds=int(fraction.ljust(6, "0")) if fraction else 0)).time()


def header(ds: Dataset, keyword: str) -> str | None:
    value = ds.get(keyword)
    if value is None:
        return None
    text = "\\".join(str(v) for v in value) if isinstance(value, MultiValue) else str(value)
    return text.strip() or None


def extract(path: Path) -> CtDoseReport:
    return read_ct_dose_report(read_dicom_file(path))


def approx(value: float | None) -> object:
    return None if value is None else pytest.approx(value)


# --- every CT corpus file against its own content ---------------------------------------------------


@pytest.mark.parametrize("name", CT_FILES)
def test_every_ct_acquisition_is_read_as_the_object_states(corpus, name):
    ds = sr_facts.read(corpus(name))
    report = extract(corpus(name))
    acquisitions = sr_facts.ct_acquisitions(ds)
    assert classify(ds) == ObjectKind.CT
    assert len(report.dose.events) == len(acquisitions) > 0
    for event, acquisition in zip(report.dose.events, acquisitions, strict=True):
        assert event.irradiation_event_uid == expected_uid(acquisition, "113769")
        assert event.acquisition_protocol == expected_text(acquisition, "125203")
        assert (
            event.ct_acquisition_type.value if event.ct_acquisition_type else None
        ) == expected_code_value(acquisition, "113820")
        assert event.mean_ctdivol_mgy == approx(expected_number(acquisition, "113830", MGY))
        assert event.dlp_mgycm == approx(expected_number(acquisition, "113838", MGYCM))
        assert event.exposure_time_s == approx(expected_number(acquisition, "113824", SECONDS))
        length = event.scanning_length.scanning_length_mm if event.scanning_length else None
        assert length == approx(expected_number(acquisition, "113825", MM))
        assert event.nominal_total_collimation_width_mm == approx(expected_number(acquisition, "113827", MM))
        sources = sr_facts.find(acquisition, "113831")
        assert len(event.sources) == len(sources)
        for source, item in zip(event.sources, sources, strict=True):
            assert source.identification == expected_text(item, "113832")
            assert source.kvp_kv == approx(expected_number(item, "113733", KV))
            assert source.xray_tube_current_ma == approx(expected_number(item, "113734", MA))
            assert source.maximum_xray_tube_current_ma == approx(expected_number(item, "113833", MA))
            assert source.exposure_time_per_rotation_s == approx(expected_number(item, "113834", SECONDS))


@pytest.mark.parametrize("name", CT_FILES)
def test_accumulated_dose_and_irradiation_times_match_the_object(corpus, name):
    ds = sr_facts.read(corpus(name))
    report = extract(corpus(name))
    accumulated = first(ds, "113811")
    assert report.dose.accumulated is not None
    assert report.dose.accumulated.dlp_total_mgycm == pytest.approx(
        expected_number(accumulated, "113813", MGYCM)
    )
    (events,) = sr_facts.numbers(accumulated, "113812")
    assert report.dose.accumulated.total_number_of_irradiation_events == int(events)
    assert report.dose.start_of_xray_irradiation == dicom_datetime(first(ds, "113809").DateTime)
    assert report.dose.end_of_xray_irradiation == dicom_datetime(first(ds, "113810").DateTime)
    assert report.dose.scope_uid == expected_uid(first(ds, "113705"), "110180")


@pytest.mark.parametrize("name", CT_FILES)
def test_header_records_match_the_object(corpus, name):
    ds = sr_facts.read(corpus(name))
    report = extract(corpus(name))
    equipment = report.equipment
    assert equipment.manufacturer == header(ds, "Manufacturer")
    assert equipment.manufacturer_model_name == header(ds, "ManufacturerModelName")
    assert equipment.station_name == header(ds, "StationName")
    assert equipment.device_serial_number == header(ds, "DeviceSerialNumber")
    assert equipment.software_versions == header(ds, "SoftwareVersions")
    assert equipment.institution_name == header(ds, "InstitutionName")
    assert equipment.institutional_department_name == header(ds, "InstitutionalDepartmentName")
    assert equipment.institution_address == header(ds, "InstitutionAddress")
    assert report.study.study_instance_uid == ds.StudyInstanceUID
    assert report.study.accession_number == header(ds, "AccessionNumber")
    assert report.study.study_date == dt.datetime.strptime(ds.StudyDate, "%Y%m%d").date()
    assert report.study.study_time == dicom_time(ds.StudyTime)
    assert report.patient.sex == header(ds, "PatientSex")
    assert report.sop_instance_uid == ds.SOPInstanceUID


@pytest.mark.parametrize("name", [n for n in CT_FILES if n != "NM-CT-RDSR-Siemens.dcm"])
def test_patient_age_is_years_from_birth_date_to_study_date(corpus, name):
    ds = sr_facts.read(corpus(name))
    born = dt.datetime.strptime(ds.PatientBirthDate, "%Y%m%d").date()
    studied = dt.datetime.strptime(ds.StudyDate, "%Y%m%d").date()
    assert extract(corpus(name)).patient.age_years == pytest.approx((studied - born).days / 365.25)


# --- vendor quirks, with values read by dcmdump -----------------------------------------------------


def test_dual_source_flash_reports_both_tubes(corpus):
    event = extract(corpus("CT-RDSR-Siemens_Flash-QA-DS.dcm")).dose.events[0]
    # dcmdump: (113823 Number of X-Ray Sources) (0040,a30a) DS [2]; sources (113832) UT [A] and UT [B]
    assert event.number_of_xray_sources == 2
    tube_a, tube_b = event.sources
    # dcmdump, source A: 113733 KVP DS [100]; 113833 DS [400]; 113734 DS [399]; 113834 DS [0.5]
    assert (tube_a.identification, tube_a.kvp_kv, tube_a.maximum_xray_tube_current_ma) == ("A", 100, 400)
    assert tube_a.xray_tube_current_ma == 399
    # dcmdump, source B: 113733 KVP DS [140]; 113833 DS [310]; 113734 DS [308]; 113834 DS [0.5]
    assert (tube_b.identification, tube_b.kvp_kv, tube_b.maximum_xray_tube_current_ma) == ("B", 140, 310)
    assert (tube_b.xray_tube_current_ma, tube_b.exposure_time_per_rotation_s) == (308, 0.5)
    # dcmdump: 113830 Mean CTDIvol DS [15.45] (mGy); 113838 DLP DS [29.67] (mGycm)
    assert (event.mean_ctdivol_mgy, event.dlp_mgycm) == (15.45, 29.67)


def test_toshiba_dose_check_alert_and_notification(corpus):
    first_event, second_event = extract(corpus("CT-RDSR-Toshiba_DoseCheck.dcm")).dose.events
    check = second_event.dose_check
    assert check is not None
    # dcmdump: 113901/113902 -> (R-0038D, SRT, "Yes"); 113909/113910 -> (R-00339, SRT, "No")
    assert (check.dlp_alert_value_configured, check.ctdivol_alert_value_configured) == (True, True)
    assert (check.dlp_notification_value_configured, check.ctdivol_notification_value_configured) == (
        False,
        False,
    )
    # dcmdump: 113903 DS [100.00] (mGy.cm); 113904 DS [10.00] (mGy); 113905 DS [502.40]; 113906 DS [10.60]
    assert (check.dlp_alert_value_mgycm, check.ctdivol_alert_value_mgy) == (100.0, 10.0)
    assert check.accumulated_dlp_forward_estimate_mgycm == 502.40
    assert check.accumulated_ctdivol_forward_estimate_mgy == 10.60
    # dcmdump: (0040,a123) PN [Luuk] under the alert container
    assert check.alert_person_name == "Luuk"
    assert check.dlp_notification_value_mgycm is None
    # dcmdump, first event: 113905 DS [251.20] and no 113906
    assert first_event.dose_check.accumulated_dlp_forward_estimate_mgycm == 251.20
    assert first_event.dose_check.accumulated_ctdivol_forward_estimate_mgy is None


def test_siemens_modulation_type_and_ctdivol_only_alert(corpus):
    event = extract(corpus("CT-RDSR-Siemens-Multi-1.dcm")).dose.events[0]
    # dcmdump: (113842 X-Ray Modulation Type) (0040,a160) UT [NONE], at CT Acquisition level
    assert event.xray_modulation_type == "NONE"
    # dcmdump: 113901 -> R-00339 "No"; 113902 -> R-0038D "Yes"; 113904 CTDIvol Alert Value DS [1000] mGy
    assert event.dose_check.dlp_alert_value_configured is False
    assert event.dose_check.ctdivol_alert_value_configured is True
    assert event.dose_check.ctdivol_alert_value_mgy == 1000


def test_ge_enhanced_sr_reports_are_read_as_ct_dose_reports(corpus):
    optima = extract(corpus("CT-ESR-GE_Optima.dcm"))
    vct = extract(corpus("CT-ESR-GE_VCT.dcm"))
    assert optima.sop_class_uid == vct.sop_class_uid == "1.2.840.10008.5.1.4.1.1.88.22"
    # dcmdump: 113812 Total Number of Irradiation Events DS [6] / DS [27]; 113813 DS [415.82] / [2002.39] mGycm
    assert (len(optima.dose.events), optima.dose.accumulated.dlp_total_mgycm) == (6, 415.82)
    assert (len(vct.dose.events), vct.dose.accumulated.dlp_total_mgycm) == (27, 2002.39)
    # dcmdump: Optima third acquisition: 113828 Pitch Factor DS [1.38]; 113830 DS [3.23]; 113838 DS [155.97]
    spiral = optima.dose.events[2]
    assert (spiral.pitch_factor, spiral.mean_ctdivol_mgy, spiral.dlp_mgycm) == (1.38, 3.23, 155.97)
    # dcmdump: (0018,1000) LO (no value available) -> empty strings become None
    assert optima.equipment.device_serial_number is None
    # dcmdump: (0010,1020) DS [1.64] PatientSize, (0010,1030) DS [78.2] PatientWeight
    assert (optima.patient.size_m, optima.patient.weight_kg) == (1.64, 78.2)


def test_ge_pixelmed_empty_target_region_is_a_warning_and_latin1_is_decoded(corpus):
    report = extract(corpus("CT-RDSR-GEPixelMed.dcm"))
    assert [e.target_region for e in report.dose.events] == [None, None]
    assert any("Target Region" in w for w in report.warnings)
    # dcmdump: (0008,0005) CS [ISO_IR 100]; (0008,0080) LO [OpenREM centre m\xe9dical] (Latin-1 byte E9)
    assert report.equipment.institution_name == "OpenREM centre médical"


def test_toshiba_localizer_has_no_ct_dose(corpus):
    localizer = extract(corpus("CT-RDSR-ToshibaPixelMed.dcm")).dose.events[0]
    # dcmdump: first 113820 CT Acquisition Type -> (113805, DCM, "Constant Angle Acquisition"), no 113829
    assert localizer.ct_acquisition_type.value == "113805"
    assert (localizer.mean_ctdivol_mgy, localizer.dlp_mgycm, localizer.scanning_length) == (None, None, None)


def test_placeholder_birth_date_falls_back_to_age_string(corpus):
    report = extract(corpus("NM-CT-RDSR-Siemens.dcm"))
    # dcmdump: (0010,0030) DA [99990101]; (0010,1010) AS [063Y]
    assert report.patient.age_string == "063Y"
    assert report.patient.age_years == 63.0
    assert any("Birth Date" in w for w in report.warnings)


def test_multi_valued_software_versions_keep_the_dicom_backslash(corpus):
    ds = read_dicom_file(corpus("CT-RDSR-Siemens-Multi-1.dcm"))
    ds.SoftwareVersions = ["syngo CT VA62A", "SOMARIS/7 VA62A"]
    assert read_ct_dose_report(ds).equipment.software_versions == "syngo CT VA62A\\SOMARIS/7 VA62A"


# --- objects that are not CT dose reports -----------------------------------------------------------


def test_enhanced_sr_without_dose_content_is_not_a_dose_report(corpus):
    with pytest.raises(NotADoseReport, match="not a radiation dose report"):
        extract(corpus("ESR_non-dose.dcm"))


def test_projection_rdsr_is_not_imported_yet(corpus):
    ds = read_dicom_file(corpus("RF-RDSR-Siemens-Zee.dcm"))
    assert classify(ds) == ObjectKind.PROJECTION
    with pytest.raises(NotADoseReport, match="projection"):
        read_ct_dose_report(ds)


def test_image_is_not_a_dose_report(corpus):
    ds = read_dicom_file(corpus("DX-Im-GE_XR220-1.dcm"))
    assert classify(ds) == ObjectKind.NOT_SR
    with pytest.raises(NotADoseReport, match="not a structured report"):
        read_ct_dose_report(ds)


def test_truncated_rdsr_is_an_extraction_error(corpus, tmp_path):
    truncated = tmp_path / "truncated.dcm"
    truncated.write_bytes(corpus("CT-RDSR-Siemens-Multi-2.dcm").read_bytes()[:2000])
    with pytest.raises(ExtractionError, match="truncated"):
        read_dicom_file(truncated)


@pytest.mark.parametrize("name", ["CT-RDSR-Siemens-Multi-2.dcm", "NM-CT-RDSR-Siemens.dcm"])
def test_rdsr_cut_anywhere_is_an_extraction_error(corpus, name):
    """pydicom reads a truncated sequence silently; every cut must still end as ExtractionError."""
    data = corpus(name).read_bytes()
    for size in range(0, len(data) - 1, 211):
        with pytest.raises(ExtractionError):
            read_ct_dose_report(read_dicom_file(data[:size]))


def test_data_set_without_part10_header_is_still_read(corpus):
    """Old archives hold bare data sets (no preamble, no 'DICM'): read with force, as DICOM allows."""
    ds = pydicom.dcmread(corpus("CT-RDSR-Siemens-Multi-1.dcm"))
    ds.preamble = None
    del ds.file_meta
    buffer = io.BytesIO()
    pydicom.dcmwrite(buffer, ds, implicit_vr=True, little_endian=True, enforce_file_format=False)
    assert not buffer.getvalue().startswith(b"\0" * 128)
    report = read_ct_dose_report(read_dicom_file(buffer.getvalue()))
    assert report.sop_instance_uid == ds.SOPInstanceUID


def test_text_file_is_an_extraction_error(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("Dose report: CTDIvol 12 mGy\n")
    with pytest.raises(ExtractionError, match="not a DICOM file"):
        read_dicom_file(text)


# --- broken content trees ---------------------------------------------------------------------------


def broken(corpus, name: str = "CT-RDSR-Toshiba_DoseCheck.dcm") -> tuple[Dataset, list[Dataset]]:
    ds = read_dicom_file(corpus(name))
    return ds, sr_facts.ct_acquisitions(ds)


def test_garbage_ctdivol_is_left_empty_with_a_warning_naming_the_item(corpus):
    """A dose value that is not a number is never stored, and never loses the report: CTDIvol is
    empty, the warning names the event and the item, and the event's DLP is still read."""
    ds, acquisitions = broken(corpus)
    measured = first(acquisitions[1], "113830").MeasuredValueSequence[0]
    measured[0x0040A30A] = RawDataElement(Tag(0x0040A30A), "DS", 8, b"garbage ", 0, False, True)
    report = read_ct_dose_report(ds)
    assert report.dose.events[1].mean_ctdivol_mgy is None
    assert report.dose.events[1].dlp_mgycm == expected_number(acquisitions[1], "113838", MGYCM)
    assert any(
        w.startswith("CT Acquisition #2: Mean CTDIvol (113830, DCM)") and "'garbage' is not a number" in w
        for w in report.warnings
    ), report.warnings


def test_acquisition_without_content_is_an_extraction_error(corpus):
    """A CT Acquisition container with no content items cannot be an irradiation event."""
    ds, acquisitions = broken(corpus)
    del acquisitions[0].ContentSequence
    with pytest.raises(ExtractionError, match=r"CT Acquisition #1 > .*no content"):
        read_ct_dose_report(ds)


def test_dlp_of_the_wrong_value_type_is_an_extraction_error(corpus):
    """DLP sent as TEXT instead of NUM is a wrong value type: ExtractionError naming DLP."""
    ds, acquisitions = broken(corpus)
    first(acquisitions[0], "113838").ValueType = "TEXT"
    with pytest.raises(ExtractionError, match=r"DLP \(113838, DCM\): expected value type NUM, found TEXT"):
        read_ct_dose_report(ds)


def test_dlp_in_an_unknown_unit_is_an_extraction_error(corpus):
    """A dose in a unit we cannot convert is rejected rather than stored as if it were mGy.cm."""
    ds, acquisitions = broken(corpus)
    first(acquisitions[0], "113838").MeasuredValueSequence[0].MeasurementUnitsCodeSequence[0].CodeValue = "mR"
    with pytest.raises(ExtractionError, match="unit 'mR'"):
        read_ct_dose_report(ds)


def test_technique_factor_without_value_or_known_unit_is_none_with_warning(corpus):
    """Graceful: an empty MeasuredValueSequence is legal (PS3.3 C.18.1) and gives None; a kVp in an
    unknown unit is a warning and None, because the dose values of the event are still good."""
    ds, acquisitions = broken(corpus)
    first(acquisitions[0], "113734").MeasuredValueSequence = []
    first(acquisitions[1], "113733").MeasuredValueSequence[0].MeasurementUnitsCodeSequence[
        0
    ].CodeValue = "kVp?"
    report = read_ct_dose_report(ds)
    assert report.dose.events[0].sources[0].xray_tube_current_ma is None
    assert report.dose.events[1].sources[0].kvp_kv is None
    assert report.dose.events[1].mean_ctdivol_mgy == expected_number(acquisitions[1], "113830", MGY)
    assert any("kVp?" in w for w in report.warnings)


# --- character sets ---------------------------------------------------------------------------------


def round_trip(ds: Dataset) -> CtDoseReport:
    buffer = io.BytesIO()
    pydicom.dcmwrite(buffer, ds)
    return read_ct_dose_report(read_dicom_file(buffer.getvalue()))


def test_utf8_institution_name_round_trips(corpus):
    ds = read_dicom_file(corpus("CT-RDSR-Siemens-Multi-1.dcm"))
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.InstitutionName = "北京协和医院"
    assert round_trip(ds).equipment.institution_name == "北京协和医院"


def test_bytes_that_do_not_match_the_character_set_do_not_crash(corpus):
    ds = read_dicom_file(corpus("CT-RDSR-Siemens-Multi-1.dcm"))
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds[0x00080080] = RawDataElement(Tag(0x00080080), "LO", 8, b"Caf\xe9 \xff\xfe ", 0, False, True)
    name = read_ct_dose_report(ds).equipment.institution_name
    assert name is not None and name.startswith("Caf")


# --- the generic SR reading -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "unit", "to", "expected"),
    [
        (1.0, "Gy.cm", "mGy.cm", 1000.0),
        (25.0, "mGy.mm", "mGy.cm", 2.5),
        (29.67, "mGycm", "mGy.cm", 29.67),
        (500.0, "uGy", "mGy", 0.5),
        (0.002, "Gy", "mGy", 2.0),
        (500.0, "ms", "s", 0.5),
        (1.2, "cm", "mm", 12.0),
        (0.5, "m", "mm", 500.0),
        (0.001, "Sv", "mSv", 1.0),
        (1.38, "1", "{ratio}", 1.38),
    ],
)
def test_unit_conversion(value, unit, to, expected):
    assert sr.convert(value, unit, to) == pytest.approx(expected)


@pytest.mark.parametrize(("unit", "to"), [("furlong", "mm"), ("mGy", "mGy.cm"), (None, "mGy")])
def test_unknown_or_mismatched_unit_raises(unit, to):
    with pytest.raises(sr.UnitError):
        sr.convert(1.0, unit, to)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("20130611140817.965005", dt.datetime(2013, 6, 11, 14, 8, 17, 965005)),
        ("20161206164636.4", dt.datetime(2016, 12, 6, 16, 46, 36, 400000)),
        ("20171115075319+0100", dt.datetime(2017, 11, 15, 7, 53, 19)),
        ("201711150753 ", dt.datetime(2017, 11, 15, 7, 53)),
        ("20171115075360", dt.datetime(2017, 11, 15, 7, 53, 59)),
        ("2017-11-15T07:53:19", dt.datetime(2017, 11, 15, 7, 53, 19)),
        ("20171315", None),
        ("garbage", None),
    ],
)
def test_dicom_datetimes_with_vendor_quirks(text, expected):
    assert sr.parse_dt(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("140419.468", dt.time(14, 4, 19, 468000)), ("0858", dt.time(8, 58)), ("08:58:44 ", dt.time(8, 58, 44))],
)
def test_dicom_times(text, expected):
    assert sr.parse_tm(text) == expected


@pytest.mark.parametrize(
    ("age_string", "years"),
    [("052Y", 52.0), ("006M", 0.5), ("010W", 70 / 365.25), ("003D", 3 / 365.25), ("52", 52.0), ("old", None)],
)
def test_age_string_in_decimal_years(age_string, years):
    """PS3.5 6.2 AS: nnnD, nnnW, nnnM or nnnY."""
    warnings: list[str] = []
    assert age_from_age_string(age_string, warnings) == approx(years)
    assert bool(warnings) == (years is None)


def test_srt_and_sct_codes_of_the_same_concept_match():
    assert sr.same_concept(Code("G-C32C", "SRT", "Procedure Context"), Code("408730004", "SCT", None))
    assert sr.same_concept(Code("R-0038D", "SRT", "Yes"), Code("373066001", "SCT", "Yes"))
    assert not sr.same_concept(Code("R-0038D", "SRT", "Yes"), Code("373067005", "SCT", "No"))
    assert not sr.same_concept(Code("113830", "DCM", None), Code("113830", "99PRIVATE", None))


def test_one_snomed_table_serves_ct_and_projection_concepts():
    """PS3.16 Annex O pairs: Mammography P5-40010 = 71651007, Fluoroscopy P5-06000 = 44491008,
    Laterality G-C171 = 272741003. The projection templates used to keep a table of their own."""
    assert sr.same_concept(Code("P5-40010", "SRT", "Mammography"), Code("71651007", "SCT", None))
    assert sr.same_concept(Code("P5-06000", "SRT", "Fluoroscopy"), Code("44491008", "SCT", None))
    assert sr.same_concept(Code("G-C171", "SRT", "Laterality"), Code("272741003", "SCT", None))
