"""Malformed optional items, unreadable and impossible values: left empty with a warning, never
stored, never the reason a whole report is lost (issue 6, sections 2 and 3).

Each test edits a corpus object in memory the way a modality gets it wrong, then checks that the
value is empty, that a warning names the item, and that the values around it are still read from
the object as it states them (plain pydicom, ``sr_facts``).
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from pathlib import Path

import pydicom
import pytest
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.tag import Tag

import sr_facts
from orthanc_rem.extraction.ct_report import read_ct_dose_report
from orthanc_rem.extraction.dicom_file import read_dicom_file
from orthanc_rem.extraction.dx_image import read_dx_image
from orthanc_rem.extraction.mg_image import read_mg_image
from orthanc_rem.extraction.projection_report import read_projection_dose_report
from orthanc_rem.extraction.records import ExtractionError

Corpus = Callable[[str], Path]
NUMERIC_VALUE = 0x0040A30A
TOSHIBA = "CT-RDSR-Toshiba_DoseCheck.dcm"
ZEE = "RF-RDSR-Siemens-Zee.dcm"


def numeric_value(item: Dataset) -> float:
    return float(item.MeasuredValueSequence[0].NumericValue)


def set_numeric_text(item: Dataset, text: bytes) -> None:
    """Numeric Value (DS) bytes as a modality could send them, even ones pydicom would refuse."""
    if len(text) % 2:
        text += b" "
    measured = item.MeasuredValueSequence[0]
    measured[NUMERIC_VALUE] = RawDataElement(Tag(NUMERIC_VALUE), "DS", len(text), text, 0, False, True)


def warned(warnings: tuple[str, ...], *parts: str) -> bool:
    return any(all(part in warning for part in parts) for warning in warnings)


# --- malformed optional items: a warning, not a rejected report -------------------------------------


def test_person_name_of_the_wrong_value_type_does_not_reject_the_ct_report(corpus: Corpus) -> None:
    """The held-out report of the issue: Dose Check Alert Details' Person Name (113870) written with
    ValueType "PERSON NAME" instead of "PNAME" (PS3.3 C.17.3.2.1). The person is optional (TID 1020
    in TID 10015): the report imports, the name is empty, the alert values are still read."""
    ds = read_dicom_file(corpus(TOSHIBA))
    acquisitions = sr_facts.ct_acquisitions(ds)
    number = next(n for n, a in enumerate(acquisitions) if sr_facts.find(a, "113900"))
    alert = sr_facts.find(acquisitions[number], "113900")[0]
    person = sr_facts.child(alert, "113870")
    assert person is not None and person.ValueType == "PNAME"
    person.ValueType = "PERSON NAME"

    report = read_ct_dose_report(ds)

    check = report.dose.events[number].dose_check
    assert check is not None and check.alert_person_name is None
    dlp_alert = sr_facts.child(alert, "113903")
    if dlp_alert is not None:
        assert check.dlp_alert_value_mgycm == pytest.approx(numeric_value(dlp_alert))
    assert report.dose.events[number].dlp_mgycm == pytest.approx(
        numeric_value(sr_facts.find(acquisitions[number], "113838")[0])
    )
    assert warned(
        report.warnings, f"CT Acquisition #{number + 1}:", "Person Name (113870, DCM)", "PNAME", "PERSON NAME"
    ), report.warnings


@pytest.mark.parametrize(
    ("concept", "value_type", "field"),
    [
        ("125203", "CODE", "acquisition_protocol"),  # Acquisition Protocol is TEXT
        ("113835", "TEXT", "ctdiw_phantom_type"),  # CTDIw Phantom Type is CODE
        ("123014", "TEXT", "target_region"),  # Target Region is CODE
    ],
)
def test_optional_ct_event_items_of_the_wrong_value_type_are_warnings(
    corpus: Corpus, concept: str, value_type: str, field: str
) -> None:
    ds = read_dicom_file(corpus(TOSHIBA))
    acquisition = sr_facts.ct_acquisitions(ds)[1]
    sr_facts.find(acquisition, concept)[0].ValueType = value_type
    report = read_ct_dose_report(ds)
    event = report.dose.events[1]
    assert getattr(event, field) is None
    assert event.mean_ctdivol_mgy == pytest.approx(numeric_value(sr_facts.find(acquisition, "113830")[0]))
    assert warned(report.warnings, "CT Acquisition #2:", f"({concept}, DCM)", f"found {value_type}")


@pytest.mark.parametrize(
    ("concept", "value_type", "read"),
    [
        ("113732", "TEXT", lambda event: event.source.fluoro_mode),  # Fluoro Mode is CODE
        ("125203", "NUM", lambda event: event.acquisition_protocol),  # Acquisition Protocol is TEXT
        ("113780", "NUM", lambda event: event.source.reference_point_definition),  # TEXT or CODE
    ],
)
def test_optional_projection_event_items_of_the_wrong_value_type_are_warnings(
    corpus: Corpus, concept: str, value_type: str, read: Callable[[object], object]
) -> None:
    ds = read_dicom_file(corpus(ZEE))
    event_item = sr_facts.projection_events(ds)[0]
    sr_facts.child(event_item, concept).ValueType = value_type  # type: ignore[union-attr]
    report = read_projection_dose_report(ds)
    event = report.dose.events[0]
    assert read(event) is None
    assert event.dose_area_product_gym2 is not None
    assert warned(report.warnings, "Irradiation Event X-Ray Data #1:", f"({concept}, DCM)", f"found {value_type}")


def test_required_dose_values_of_the_wrong_value_type_still_reject(corpus: Corpus) -> None:
    """The counterpart: an event's DAP that is not a NUM is a dose we cannot interpret."""
    ds = read_dicom_file(corpus(ZEE))
    sr_facts.child(sr_facts.projection_events(ds)[0], "122130").ValueType = "TEXT"  # type: ignore[union-attr]
    with pytest.raises(ExtractionError, match=r"Dose Area Product \(122130, DCM\): expected value type NUM"):
        read_projection_dose_report(ds)


# --- non-finite and negative values -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "reason"),
    [(b"NaN", "not a finite number"), (b"Infinity", "not a finite number"), (b"-12.5", "negative")],
)
def test_non_finite_or_negative_ct_doses_are_never_stored(corpus: Corpus, text: bytes, reason: str) -> None:
    ds = read_dicom_file(corpus(TOSHIBA))
    acquisition = sr_facts.ct_acquisitions(ds)[1]
    set_numeric_text(sr_facts.find(acquisition, "113838")[0], text)  # DLP
    set_numeric_text(sr_facts.find(acquisition, "113830")[0], text)  # Mean CTDIvol
    report = read_ct_dose_report(ds)
    event = report.dose.events[1]
    assert event.dlp_mgycm is None and event.mean_ctdivol_mgy is None
    assert warned(report.warnings, "DLP (113838, DCM)", reason)
    assert warned(report.warnings, "Mean CTDIvol (113830, DCM)", reason)


def test_floating_point_infinity_is_never_stored(corpus: Corpus) -> None:
    """Floating Point Value (0040,A161, FD) is preferred over the DS when present: an infinite one
    is refused like the text "Infinity"."""
    ds = read_dicom_file(corpus(TOSHIBA))
    total = sr_facts.find(ds, "113813")[0]  # CT Dose Length Product Total
    total.MeasuredValueSequence[0].FloatingPointValue = math.inf
    report = read_ct_dose_report(ds)
    assert report.dose.accumulated is not None and report.dose.accumulated.dlp_total_mgycm is None
    assert warned(report.warnings, "CT Dose Length Product Total", "not a finite number")


def test_negative_projection_doses_are_invalid_but_positions_may_be_negative(corpus: Corpus) -> None:
    ds = read_dicom_file(corpus(ZEE))
    event_item = sr_facts.projection_events(ds)[0]
    set_numeric_text(sr_facts.child(event_item, "122130"), b"-0.5")  # Dose Area Product
    set_numeric_text(sr_facts.child(event_item, "113738"), b"-1")  # Dose (RP)
    set_numeric_text(sr_facts.child(event_item, "113751"), b"-100")  # Table Longitudinal Position
    accumulation = sr_facts.accumulations(ds)[0]
    set_numeric_text(sr_facts.child(accumulation, "113726"), b"-Infinity")  # Fluoro DAP Total
    report = read_projection_dose_report(ds)
    event = report.dose.events[0]
    assert event.dose_area_product_gym2 is None
    assert event.source is not None and event.source.dose_rp_gy is None
    assert event.mechanical is not None and event.mechanical.table_longitudinal_position_mm == -100.0
    assert report.dose.accumulations[0].fluoro_dose_area_product_total_gym2 is None
    assert warned(report.warnings, "#1: Dose Area Product (122130, DCM)", "negative")
    assert warned(report.warnings, "Dose (RP) (113738, DCM)", "negative")
    assert warned(report.warnings, "Fluoro Dose Area Product Total", "not a finite number")


def test_negative_average_glandular_dose_is_invalid(corpus: Corpus) -> None:
    ds = read_dicom_file(corpus("MG-RDSR-Hologic_2D.dcm"))
    event_item = sr_facts.projection_events(ds)[0]
    set_numeric_text(sr_facts.child(event_item, "111631"), b"-1.2")  # Average Glandular Dose
    report = read_projection_dose_report(ds)
    assert report.dose.events[0].source is not None
    assert report.dose.events[0].source.average_glandular_dose_mgy is None
    assert warned(report.warnings, "Average Glandular Dose (111631, DCM)", "negative")


# --- image headers: the same rule through the header number reader ---------------------------------


def image_variant(path: Path, tag: int, vr: str, value: bytes) -> Dataset:
    """The corpus image with one attribute's bytes replaced, written and read back."""
    ds = pydicom.dcmread(path, stop_before_pixels=True)
    if len(value) % 2:
        value += b" "
    ds[tag] = RawDataElement(Tag(tag), vr, len(value), value, 0, False, True)
    buffer = io.BytesIO()
    ds.save_as(buffer)
    return read_dicom_file(buffer.getvalue())


@pytest.mark.parametrize(
    ("text", "reason"),
    [(b"1/2", "not a number"), (b"NaN", "not a finite number"), (b"-3.5", "negative")],
)
def test_image_dap_that_cannot_be_read_is_a_warning(corpus: Corpus, text: bytes, reason: str) -> None:
    """ImageAndFluoroscopyAreaDoseProduct (0018,115E): the held-out image whose DAP reads "1/2"
    imported with DAP empty and no warning anywhere."""
    path = corpus("DX-Im-GE_XR220-1.dcm")
    assert pydicom.dcmread(path).get("ImageAndFluoroscopyAreaDoseProduct") is not None
    report = read_dx_image(image_variant(path, 0x0018115E, "DS", text))
    (event,) = report.dose.events
    assert event.dose_area_product_gym2 is None
    assert warned(report.warnings, "ImageAndFluoroscopyAreaDoseProduct", reason), report.warnings


def test_image_organ_dose_below_zero_is_no_agd(corpus: Corpus) -> None:
    report = read_mg_image(image_variant(corpus("MG-Im-GE-SenDS-scaled.dcm"), 0x00400316, "DS", b"-0.1"))
    (event,) = report.dose.events
    assert event.source is not None and event.source.average_glandular_dose_mgy is None
    assert warned(report.warnings, "OrganDose", "negative")


def test_image_kvp_infinity_is_a_warning(corpus: Corpus) -> None:
    report = read_dx_image(image_variant(corpus("DX-Im-GE_XR220-1.dcm"), 0x00180060, "DS", b"Infinity"))
    (event,) = report.dose.events
    assert event.source is not None and event.source.kvp_kv is None
    assert event.dose_area_product_gym2 is not None
    assert warned(report.warnings, "KVP", "not a finite number")


def test_patient_weight_nan_is_not_stored(corpus: Corpus) -> None:
    """Patient's Weight (0010,1030) "NaN" passed the plausibility comparisons and was stored."""
    report = read_dx_image(image_variant(corpus("DX-Im-GE_XR220-1.dcm"), 0x00101030, "DS", b"NaN"))
    assert report.patient.weight_kg is None
    assert warned(report.warnings, "PatientWeight", "not a finite number")
