"""Routing of every corpus object, and dose extraction from DX/CR/MG image headers and the Philips CT
"Dose Info" secondary capture, without a database.

Expected values are read from the objects with plain pydicom (``header(...)`` below) and converted
with the units PS3.3 gives for each attribute, written out in the assertion, or are dcmdump values
cited next to the assertion. In-memory variants of corpus files cover the vendor quirks the corpus
has no file for.
"""

from __future__ import annotations

import datetime as dt
import io
import math
from collections.abc import Callable
from pathlib import Path

import pydicom
import pytest
from pydicom.datadict import keyword_for_tag
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset
from pydicom.tag import Tag

from conftest import corpus_dir
from orthanc_rem.extraction.dicom_file import read_dicom_file
from orthanc_rem.extraction.dx_image import read_dx_image
from orthanc_rem.extraction.mg_image import read_mg_image
from orthanc_rem.extraction.philips_ct import read_philips_ct_dose_info
from orthanc_rem.extraction.projection_records import ProjectionDoseReport, ProjectionIrradiationEvent
from orthanc_rem.extraction.records import Code
from orthanc_rem.extraction.routing import RouteKind, route, route_from_orthanc

Corpus = Callable[[str], Path]

#: The store dispatch for every corpus object, decided by SOP class (and for Secondary Captures by
#: modality, image type, manufacturer and series description). PX-Im-NewTom_Go is a dental
#: panoramic image in the Digital X-Ray IOD: the dispatch reads it as radiography (it carries a DAP).
EXPECTED_ROUTES = {
    "CT-ESR-GE_Optima.dcm": RouteKind.RDSR,
    "CT-ESR-GE_VCT.dcm": RouteKind.RDSR,
    "CT-RDSR-GEPixelMed.dcm": RouteKind.RDSR,
    "CT-RDSR-Siemens-Continued-1.dcm": RouteKind.RDSR,
    "CT-RDSR-Siemens-Continued-2.dcm": RouteKind.RDSR,
    "CT-RDSR-Siemens-Multi-1.dcm": RouteKind.RDSR,
    "CT-RDSR-Siemens-Multi-2.dcm": RouteKind.RDSR,
    "CT-RDSR-Siemens-Multi-3.dcm": RouteKind.RDSR,
    "CT-RDSR-Siemens_Flash-QA-DS.dcm": RouteKind.RDSR,
    "CT-RDSR-Siemens_Flash-TAP-SS.dcm": RouteKind.RDSR,
    "CT-RDSR-ToshibaPixelMed.dcm": RouteKind.RDSR,
    "CT-RDSR-Toshiba_DoseCheck.dcm": RouteKind.RDSR,
    "CT-SC-Philips_Brilliance16P.dcm": RouteKind.PHILIPS_CT_DOSE_INFO,
    "DX-Im-Carestream_DR7500-1.dcm": RouteKind.DX_IMAGE,
    "DX-Im-Carestream_DR7500-2.dcm": RouteKind.DX_IMAGE,
    "DX-Im-Carestream_DRX.dcm": RouteKind.DX_IMAGE,
    "DX-Im-Date-Missing.dcm": RouteKind.DX_IMAGE,
    "DX-Im-GE_XR220-1.dcm": RouteKind.DX_IMAGE,
    "DX-Im-GE_XR220-2.dcm": RouteKind.DX_IMAGE,
    "DX-Im-GE_XR220-3.dcm": RouteKind.DX_IMAGE,
    "DX-RDSR-Canon_CXDI.dcm": RouteKind.RDSR,
    "DX-RDSR-Carestream_DRXEvolution.dcm": RouteKind.RDSR,
    "Dual-RDSR-DX.dcm": RouteKind.RDSR,
    "Dual-RDSR-RF.dcm": RouteKind.RDSR,
    "ESR_non-dose.dcm": RouteKind.RDSR,  # the RDSR importer records why it is no dose report
    "MG-Im-GE-SenDS-scaled.dcm": RouteKind.MG_IMAGE,
    "MG-Im-GE_Seno_1_ForPresentation.dcm": RouteKind.MG_IMAGE,
    "MG-Im-GE_Seno_1_ForProcessing.dcm": RouteKind.MG_IMAGE,
    "MG-Im-Hologic-PropProj.dcm": RouteKind.MG_IMAGE,
    "MG-RDSR-GEPristina-2D.dcm": RouteKind.RDSR,
    "MG-RDSR-Hologic_2D.dcm": RouteKind.RDSR,
    "MG-RDSR-Hologic_mix.dcm": RouteKind.RDSR,
    "NM-CT-RDSR-Siemens.dcm": RouteKind.RDSR,
    "NM-NmIm-Siemens-s1-1.dcm": RouteKind.UNMATCHED,
    "NM-NmIm-Siemens-s1-2.dcm": RouteKind.UNMATCHED,
    "NM-NmIm-Siemens.dcm": RouteKind.UNMATCHED,
    "NM-PetIm-GE.dcm": RouteKind.UNMATCHED,
    "NM-PetIm-Siemens-2.dcm": RouteKind.UNMATCHED,
    "NM-PetIm-Siemens-3-sameseries.dcm": RouteKind.UNMATCHED,
    "NM-PetIm-Siemens-3.dcm": RouteKind.UNMATCHED,
    "NM-PetIm-Siemens.dcm": RouteKind.UNMATCHED,
    "NM-RRDSR-Siemens.dcm": RouteKind.UNMATCHED,  # Radiopharmaceutical Radiation Dose SR (88.68)
    "PX-Im-NewTom_Go.dcm": RouteKind.DX_IMAGE,
    "RF-ESR-Siemens-Varic.dcm": RouteKind.RDSR,
    "RF-No-kVp-and-others.dcm": RouteKind.RDSR,
    "RF-Pat-Orientation-Modifier-Missing.dcm": RouteKind.RDSR,
    "RF-RDSR-Eurocolumbus.dcm": RouteKind.RDSR,
    "RF-RDSR-GE-OECEliteMiniView.dcm": RouteKind.RDSR,
    "RF-RDSR-GE.dcm": RouteKind.RDSR,
    "RF-RDSR-Philips_Allura.dcm": RouteKind.RDSR,
    "RF-RDSR-Siemens-Zee.dcm": RouteKind.RDSR,
    "RF-RDSR-Siemens-Zee_adjusted.dcm": RouteKind.RDSR,
}
DX_FILES = sorted(name for name, kind in EXPECTED_ROUTES.items() if kind is RouteKind.DX_IMAGE)
MG_FILES = sorted(name for name, kind in EXPECTED_ROUTES.items() if kind is RouteKind.MG_IMAGE)
PHILIPS = "CT-SC-Philips_Brilliance16P.dcm"

DGYCM2_IN_GYM2 = 0.1 * 1e-4  # PS3.3 C.8.7.8: Image and Fluoroscopy Area Dose Product is in dGy·cm²
DGY_IN_MGY = 100.0  # PS3.3 C.8.7.8 / C.4.16: Organ Dose and Entrance Dose are in dGy
ALUMINUM = Code("C-120F9", "SRT", "Aluminum or Aluminum compound")
COPPER = Code("C-127F9", "SRT", "Copper or Copper compound")


# --- helpers: an independent view of the object (plain pydicom) and in-memory variants ---------------


def header(path: Path) -> Dataset:
    return pydicom.dcmread(path, stop_before_pixels=True)


def number(value: object) -> float:
    return float(value.decode() if isinstance(value, bytes) else value)  # type: ignore[arg-type]


def private(ds: Dataset, group: int, creator: str, offset: int) -> object:
    return ds.private_block(group, creator)[offset].value


def variant(path: Path, edit: Callable[[Dataset], None]) -> Dataset:
    """The corpus object edited in memory, written and read back through the importer's reader."""
    ds = pydicom.dcmread(path, stop_before_pixels=True)
    edit(ds)
    buffer = io.BytesIO()
    ds.save_as(buffer)
    return read_dicom_file(buffer.getvalue())


def raw(ds: Dataset, tag: int, vr: str, value: bytes) -> None:
    """Put bytes on the wire as a modality would, even when pydicom would refuse them as a value."""
    if len(value) % 2:
        value += b" "
    ds[tag] = RawDataElement(Tag(tag), vr, len(value), value, 0, False, True)


def only_event(report: ProjectionDoseReport) -> ProjectionIrradiationEvent:
    assert len(report.dose.events) == 1
    return report.dose.events[0]


def dx(corpus: Corpus, name: str) -> ProjectionIrradiationEvent:
    return only_event(read_dx_image(read_dicom_file(corpus(name))))


# --- routing ----------------------------------------------------------------------------------------


def test_every_corpus_file_has_an_expected_route() -> None:
    assert sorted(p.name for p in corpus_dir().glob("*.dcm")) == sorted(EXPECTED_ROUTES)
    assert len(EXPECTED_ROUTES) == 52


@pytest.mark.parametrize("name", sorted(EXPECTED_ROUTES))
def test_route_of_every_corpus_file(corpus: Corpus, name: str) -> None:
    found = route(read_dicom_file(corpus(name)))
    assert found.kind is EXPECTED_ROUTES[name], found.reason
    if found.kind is RouteKind.UNMATCHED:
        ds = header(corpus(name))
        assert ds.SOPClassUID in found.reason and f"modality {ds.Modality}" in found.reason


@pytest.mark.parametrize("name", sorted(EXPECTED_ROUTES))
def test_orthanc_metadata_takes_the_same_decision(corpus: Corpus, name: str) -> None:
    """What a worker can know without downloading: Orthanc's SOP class metadata and main tags."""
    ds = header(corpus(name))
    found = route_from_orthanc(
        sop_class_uid=ds.SOPClassUID,
        modality=ds.get("Modality"),
        manufacturer=ds.get("Manufacturer"),
        series_description=ds.get("SeriesDescription"),
        image_type=list(ds.get("ImageType") or []),
    )
    assert found == route(read_dicom_file(corpus(name)))


def test_secondary_capture_rules() -> None:
    sc = "1.2.840.10008.5.1.4.1.1.7"
    assert route_from_orthanc(sc, "MG", "HOLOGIC, Inc.", "x", "ORIGINAL\\PRIMARY").kind is RouteKind.MG_IMAGE
    assert route_from_orthanc(sc, "MG", "HOLOGIC, Inc.", "x", "DERIVED\\SECONDARY").kind is RouteKind.UNMATCHED
    philips = route_from_orthanc(sc, "CT", "Philips Medical Systems", " DOSE INFO ", ["DERIVED"])
    assert philips.kind is RouteKind.PHILIPS_CT_DOSE_INFO
    # Manual #308: a Secondary Capture without Manufacturer is no Philips object, and no crash.
    assert route_from_orthanc(sc, "CT", None, "Dose Info", None).kind is RouteKind.UNMATCHED
    assert route_from_orthanc(sc, "CT", "Philips", "Patient Protocol", None).kind is RouteKind.UNMATCHED
    assert route_from_orthanc(None, "CT", None, None, None).kind is RouteKind.UNMATCHED


# --- radiography images --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", DX_FILES)
def test_dx_image_is_one_event_copied_from_the_header(corpus: Corpus, name: str) -> None:
    ds = header(corpus(name))
    report = read_dx_image(read_dicom_file(corpus(name)))
    event = only_event(report)
    assert (report.modality, report.source_kind) == ("DX", "dx_image")
    assert report.sop_instance_uid == ds.SOPInstanceUID
    assert report.study.study_instance_uid == ds.StudyInstanceUID
    assert report.dose.sources_of_dose_information == (Code("113866", "DCM", "Copied From Image Attributes"),)
    assert event.dose_area_product_gym2 == pytest.approx(float(ds.ImageAndFluoroscopyAreaDoseProduct) * DGYCM2_IN_GYM2)
    assert event.source is not None and event.source.kvp_kv == pytest.approx(float(ds.KVP))
    assert event.source.exposure_time_ms == pytest.approx(float(ds.ExposureTime))  # IS, in ms
    assert event.source.xray_tube_current_ma == pytest.approx(float(ds.XRayTubeCurrent))  # IS, in mA
    if "ExposureInuAs" in ds:
        assert event.source.exposure_uas == pytest.approx(float(ds.ExposureInuAs))
    elif "Exposure" in ds:
        assert event.source.exposure_uas == pytest.approx(float(ds.Exposure) * 1000)  # IS, in mAs
    else:
        assert event.source.exposure_uas is None  # PX-Im-NewTom_Go: no exposure attribute at all
    assert event.acquisition_plane == Code("113622", "DCM", "Single Plane")


@pytest.mark.parametrize("name", DX_FILES + MG_FILES)
def test_fast_and_pydicom_readers_give_the_same_image_report(corpus: Corpus, name: str) -> None:
    read = read_dx_image if name in DX_FILES else read_mg_image
    fast = read(read_dicom_file(corpus(name), reader="fast"))
    assert fast == read(read_dicom_file(corpus(name), reader="pydicom"))


def test_images_of_one_study_are_distinct_events(corpus: Corpus) -> None:
    names = ["DX-Im-GE_XR220-1.dcm", "DX-Im-GE_XR220-2.dcm", "DX-Im-GE_XR220-3.dcm"]
    headers = [header(corpus(n)) for n in names]
    events = [dx(corpus, n) for n in names]
    assert len({h.StudyInstanceUID for h in headers}) == 1
    # No Irradiation Event UID, no source image: the SOP Instance UID stands for the exposure.
    assert [e.irradiation_event_uid for e in events] == [h.SOPInstanceUID for h in headers]
    for h, event in zip(headers, events, strict=True):
        assert event.date_time_started == dt.datetime.strptime(h.AcquisitionDateTime, "%Y%m%d%H%M%S.%f")
        assert event.source is not None and event.source.exposure_uas == float(h.ExposureInuAs)
        assert event.detector is not None
        assert event.detector.exposure_index == pytest.approx(float(h.ExposureIndex))
        assert event.detector.target_exposure_index == pytest.approx(float(h.TargetExposureIndex))
        assert event.detector.deviation_index == pytest.approx(float(h.DeviationIndex))
        assert event.detector.sensitivity == pytest.approx(float(h.Sensitivity))


def test_ge_xr220_header_details(corpus: Corpus) -> None:
    ds = header(corpus("DX-Im-GE_XR220-1.dcm"))
    report = read_dx_image(read_dicom_file(corpus("DX-Im-GE_XR220-1.dcm")))
    event = only_event(report)
    assert event.acquisition_protocol == ds.ProtocolName  # "ABD_1_VIEW"
    assert event.image_view == Code("R-10206", "SNM3", "antero-posterior")  # View Code Sequence
    assert event.anatomical_structure == Code("T-D4000", "SNM3", "Abdomen")  # Anatomic Region Sequence
    assert ds.ImageLaterality == "U" and event.laterality is None  # U = unpaired body part
    assert event.source is not None and event.source.exposure_control_mode == ds.ExposureControlMode
    assert event.source.grid == (Code("111646", "DCM", "No grid"),)  # Grid NONE
    assert event.source.focal_spot_size_mm == pytest.approx(float(ds.FocalSpots))
    assert event.source.filters == ()
    # Field of View Dimensions IS [402\402] mm, no shape: a rectangle.
    assert event.source.collimated_field_area_m2 == pytest.approx(0.402 * 0.402)
    assert report.patient.age_string == ds.PatientAge
    # Study Description is empty; the performed procedure step description names the study.
    assert report.study.study_description == ds.PerformedProcedureStepDescription
    assert report.equipment.institution_address == ds.InstitutionAddress


def test_carestream_dr7500_filter_minimum_above_maximum_is_swapped(corpus: Corpus) -> None:
    report = read_dx_image(read_dicom_file(corpus("DX-Im-Carestream_DR7500-1.dcm")))
    event = only_event(report)
    # dcmdump: (0018,7050) CS [ALUMINUM] (0018,7052) DS [1.06] (0018,7054) DS [0.94] (0018,1160) SH [WEDGE]
    assert event.source is not None
    (only,) = event.source.filters
    assert (only.filter_material, only.thickness_minimum_mm, only.thickness_maximum_mm) == (ALUMINUM, 0.94, 1.06)
    assert only.filter_type == Code("113651", "DCM", "Wedge filter")
    assert any("swapped" in w for w in report.warnings)
    # dcmdump: (0018,1166) CS [RECIPROCATING\FO]; FO starts only FOCUSED.
    assert event.source.grid == (Code("111643", "DCM", "Reciprocating grid"), Code("111642", "DCM", "Focused grid"))
    ds = header(corpus("DX-Im-Carestream_DR7500-1.dcm"))
    assert event.mechanical is not None
    assert event.mechanical.distance_source_to_detector_mm == float(ds.DistanceSourceToDetector)
    assert event.detector is not None and event.detector.relative_xray_exposure == float(ds.RelativeXRayExposure)
    assert event.acquisition_protocol == ds.ProtocolName
    assert event.irradiation_event_uid == ds.SourceImageSequence[0].SOPInstanceUID  # a "Scaled image"


def test_carestream_dr7500_comma_separated_filters(corpus: Corpus) -> None:
    event = dx(corpus, "DX-Im-Carestream_DR7500-2.dcm")
    # dcmdump: (0018,7050) CS [ALUMINUM,COPPER] (0018,7052) DS [1.06,0.206] (0018,7054) DS [0.94,0.194]
    assert event.source is not None
    assert [(f.filter_material, f.thickness_minimum_mm, f.thickness_maximum_mm) for f in event.source.filters] == [
        (ALUMINUM, 0.94, 1.06),
        (COPPER, 0.194, 0.206),
    ]


def test_carestream_drx_revolution(corpus: Corpus) -> None:
    ds = header(corpus("DX-Im-Carestream_DRX.dcm"))
    report = read_dx_image(read_dicom_file(corpus("DX-Im-Carestream_DRX.dcm")))
    event = only_event(report)
    assert event.irradiation_event_uid == ds.IrradiationEventUID  # (0008,3010) written by the modality
    # No requested procedure in the object: the study description names it (manual #482).
    assert "RequestedProcedureDescription" not in ds
    assert report.study.requested_procedure_description == ds.StudyDescription
    assert event.acquisition_protocol == ds.SeriesDescription  # no protocol name: the series ("AP")
    assert event.image_view == Code("R-10206", "SRT", "antero-posterior")  # from View Position AP
    assert event.anatomical_structure == Code("T-D3000", "SNM3", "CHEST")
    assert event.source is not None
    assert event.source.exposure_uas == float(ds.ExposureInuAs) == float(ds.ExposureInmAs) * 1000


def test_dx_image_without_study_date(corpus: Corpus) -> None:
    ds = header(corpus("DX-Im-Date-Missing.dcm"))
    assert not ds.StudyDate and not ds.SeriesDate and not ds.AcquisitionDate and not ds.ContentDate
    report = read_dx_image(read_dicom_file(corpus("DX-Im-Date-Missing.dcm")))
    pps_date = dt.datetime.strptime(ds.PerformedProcedureStepStartDate, "%Y%m%d").date()
    assert report.study.study_date == pps_date
    assert report.study.study_time == dt.datetime.strptime(ds.StudyTime, "%H%M%S").time()
    assert only_event(report).date_time_started == dt.datetime.combine(
        pps_date, dt.datetime.strptime(ds.AcquisitionTime, "%H%M%S").time()
    )
    assert any("PerformedProcedureStepStartDate" in w for w in report.warnings)


def test_dental_panoramic_image_is_read_as_radiography(corpus: Corpus) -> None:
    ds = header(corpus("PX-Im-NewTom_Go.dcm"))
    report = read_dx_image(read_dicom_file(corpus("PX-Im-NewTom_Go.dcm")))
    assert ds.Modality == "PX" and report.modality == "DX"
    assert any("Modality PX" in w for w in report.warnings)
    event = only_event(report)
    assert event.acquisition_protocol == ds.ProtocolName
    assert event.laterality == Code("G-A102", "SRT", "Right and left")  # Image Laterality B
    assert event.anatomical_structure == Code("T-D1213", "SRT", "Jaw region")


# --- radiography quirks on in-memory variants -----------------------------------------------------------


def test_kodak_comma_thicknesses_and_aluminium_spelling(corpus: Corpus) -> None:
    def edit(ds: Dataset) -> None:
        raw(ds, 0x00187050, "CS", b"COPPER,ALUMINIUM")
        raw(ds, 0x00187052, "DS", b"0.1,0.2")
        raw(ds, 0x00187054, "DS", b"0.1,0.2")

    event = only_event(read_dx_image(variant(corpus("DX-Im-Carestream_DR7500-1.dcm"), edit)))
    assert event.source is not None
    assert [(f.filter_material, f.thickness_minimum_mm) for f in event.source.filters] == [
        (COPPER, 0.1),
        (ALUMINUM, 0.2),
    ]


def test_text_in_a_thickness_field_is_a_warning(corpus: Corpus) -> None:
    def edit(ds: Dataset) -> None:
        raw(ds, 0x00187052, "DS", b"N/A")

    report = read_dx_image(variant(corpus("DX-Im-Carestream_DR7500-1.dcm"), edit))
    (only,) = only_event(report).source.filters  # type: ignore[union-attr]
    assert only.filter_material == ALUMINUM and only.thickness_minimum_mm is None
    assert only.thickness_maximum_mm == 0.94  # dcmdump: (0018,7054) DS [0.94]
    assert any("'N/A' is not a number" in w for w in report.warnings)


def test_multivalued_copper_and_aluminum_with_zero_thickness(corpus: Corpus) -> None:
    def edit(ds: Dataset) -> None:
        ds.FilterMaterial = ["COPPER", "ALUMINUM"]
        ds.FilterThicknessMinimum = ["0.00", "1.0"]
        ds.FilterThicknessMaximum = ["0.00", "1.0"]

    event = only_event(read_dx_image(variant(corpus("DX-Im-Carestream_DR7500-1.dcm"), edit)))
    assert event.source is not None
    copper, aluminum = event.source.filters
    assert (copper.filter_material, copper.thickness_minimum_mm, copper.thickness_maximum_mm) == (COPPER, 0.0, 0.0)
    assert (aluminum.filter_material, aluminum.thickness_minimum_mm) == (ALUMINUM, 1.0)


def test_unknown_material_and_no_filter(corpus: Corpus) -> None:
    def unknown(ds: Dataset) -> None:
        ds.FilterMaterial = "TEFLON"

    report = read_dx_image(variant(corpus("DX-Im-Carestream_DR7500-1.dcm"), unknown))
    assert only_event(report).source.filters[0].filter_material == Code("TEFLON", None, "TEFLON")  # type: ignore[union-attr]
    assert any("TEFLON" in w for w in report.warnings)

    def none(ds: Dataset) -> None:
        for keyword in ("FilterMaterial", "FilterThicknessMinimum", "FilterThicknessMaximum"):
            del ds[keyword]
        ds.FilterType = "NONE"

    event = only_event(read_dx_image(variant(corpus("DX-Im-Carestream_DR7500-1.dcm"), none)))
    assert event.source is not None
    assert [f.filter_type for f in event.source.filters] == [Code("111609", "DCM", "No Filter")]


@pytest.mark.parametrize(("filter_type", "mm"), [("CU_0.1_MM", 0.1), ("CU_0.2_MM", 0.2), ("CU_0.3_MM", 0.3)])
def test_siemens_filter_type_names_material_and_thickness(corpus: Corpus, filter_type: str, mm: float) -> None:
    """Siemens Multix and others write the copper pre-filter only as Filter Type (0018,1160), e.g.
    ``CU_0.1_MM``: copper (CID 10006) of 0.1 mm, a flat filter (CID 10007), not raw text."""
    path = corpus("DX-Im-GE_XR220-1.dcm")
    assert "FilterType" not in header(path) and "FilterMaterial" not in header(path)

    def siemens(ds: Dataset) -> None:
        ds.FilterType = filter_type

    report = read_dx_image(variant(path, siemens))
    (only,) = only_event(report).source.filters  # type: ignore[union-attr]
    assert only.filter_type == Code("113653", "DCM", "Flat filter")
    assert only.filter_material == COPPER
    assert (only.thickness_minimum_mm, only.thickness_maximum_mm) == (mm, mm)
    assert not any(filter_type in w for w in report.warnings)


def test_siemens_filter_type_leaves_stated_material_and_thickness_alone(corpus: Corpus) -> None:
    def both(ds: Dataset) -> None:
        ds.FilterType = "CU_0.2_MM"  # with Filter Material ALUMINUM 1.06/0.94 mm (dcmdump) kept

    (only,) = only_event(read_dx_image(variant(corpus("DX-Im-Carestream_DR7500-1.dcm"), both))).source.filters  # type: ignore[union-attr]
    assert (only.filter_material, only.thickness_minimum_mm, only.thickness_maximum_mm) == (ALUMINUM, 0.94, 1.06)


def test_text_where_a_number_belongs_never_rejects_the_image(corpus: Corpus) -> None:
    def edit(ds: Dataset) -> None:
        raw(ds, 0x00180060, "DS", b"unknown")  # KVP

    report = read_dx_image(variant(corpus("DX-Im-Carestream_DR7500-1.dcm"), edit))
    event = only_event(report)
    assert event.source is not None and event.source.kvp_kv is None
    assert event.dose_area_product_gym2 is not None
    assert any("KVP" in w for w in report.warnings)


@pytest.mark.parametrize(
    ("charset", "institution", "encoded"),
    [
        ("ISO_IR 100", "Hôpital Saint-Éloi", "Hôpital Saint-Éloi".encode("latin-1")),
        ("ISO_IR 192", "Klinikum Düsseldorf – Röntgen", "Klinikum Düsseldorf – Röntgen".encode()),
    ],
)
def test_non_ascii_institution(corpus: Corpus, charset: str, institution: str, encoded: bytes) -> None:
    def edit(ds: Dataset) -> None:
        ds.SpecificCharacterSet = charset
        ds.InstitutionName = institution

    ds = pydicom.dcmread(corpus("DX-Im-GE_XR220-1.dcm"), stop_before_pixels=True)
    edit(ds)
    buffer = io.BytesIO()
    ds.save_as(buffer)
    assert encoded in buffer.getvalue()  # the bytes really are in that character set
    report = read_dx_image(read_dicom_file(buffer.getvalue()))
    assert report.equipment.institution_name == institution


def test_unknown_private_and_public_tags_are_ignored(corpus: Corpus) -> None:
    unknown_public = 0x00189FF0
    assert keyword_for_tag(unknown_public) == ""

    def edit(ds: Dataset) -> None:
        ds.private_block(0x0099, "ACME RADIOLOGY 1.0", create=True).add_new(0x01, "UN", b"\x01\x02\xff\x00")
        ds.add(DataElement(unknown_public, "UN", b"whatever"))

    base = read_dx_image(read_dicom_file(corpus("DX-Im-GE_XR220-1.dcm")))
    assert read_dx_image(variant(corpus("DX-Im-GE_XR220-1.dcm"), edit)).dose == base.dose


def test_no_date_at_all_is_a_warning_not_a_failure(corpus: Corpus) -> None:
    def edit(ds: Dataset) -> None:
        for keyword in ("StudyDate", "SeriesDate", "AcquisitionDate", "ContentDate", "PerformedProcedureStepStartDate"):
            if keyword in ds:
                del ds[keyword]

    report = read_dx_image(variant(corpus("DX-Im-Carestream_DR7500-1.dcm"), edit))
    assert report.study.study_date is None and only_event(report).date_time_started is None
    assert any("no date" in w for w in report.warnings)


# --- mammography images ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", MG_FILES)
def test_mg_image_is_one_event_copied_from_the_header(corpus: Corpus, name: str) -> None:
    ds = header(corpus(name))
    report = read_mg_image(read_dicom_file(corpus(name)))
    event = only_event(report)
    assert (report.modality, report.source_kind) == ("MG", "mg_image")
    assert report.dose.procedure_reported == Code("P5-40010", "SRT", "Mammography")
    assert event.source is not None and event.mechanical is not None
    assert event.source.average_glandular_dose_mgy == pytest.approx(float(ds.OrganDose) * DGY_IN_MGY)
    assert event.source.entrance_surface_dose_mgy == pytest.approx(float(ds.EntranceDoseInmGy))
    assert event.source.kvp_kv == pytest.approx(float(ds.KVP))
    assert event.source.exposure_uas == pytest.approx(float(ds.ExposureInuAs))
    assert event.source.exposure_control_mode == ds.ExposureControlMode
    assert event.source.exposure_control_mode_description == ds.get("ExposureControlModeDescription")
    assert event.mechanical.compression_thickness_mm == pytest.approx(float(ds.BodyPartThickness))
    assert event.image_view == Code("R-10242", "SNM3", "cranio-caudal")  # every corpus image is a CC
    assert event.laterality is not None
    side = ds.get("ImageLaterality") or ds.get("Laterality")
    assert event.laterality.meaning == {"L": "Left", "R": "Right"}[side]
    if "ExposureTimeInuS" in ds:
        assert event.source.exposure_time_ms == pytest.approx(float(ds.ExposureTimeInuS) / 1000)
    else:
        assert event.source.exposure_time_ms == pytest.approx(float(ds.ExposureTime))


def test_ge_senographe_ds_compression_force_is_stored_in_newtons_as_the_header_gives_it(corpus: Corpus) -> None:
    """OpenREM 0.7.0 #135 (manual L8810): no division by ten; OpenREM's test expects 50 N here."""
    ds = header(corpus("MG-Im-GE-SenDS-scaled.dcm"))
    assert "senograph ds" in ds.ManufacturerModelName.lower()
    assert float(ds.CompressionForce) == 50.0  # dcmdump: (0018,11a2) DS [50]
    event = only_event(read_mg_image(read_dicom_file(corpus("MG-Im-GE-SenDS-scaled.dcm"))))
    assert event.mechanical is not None
    assert event.mechanical.compression_force_n == 50.0

    def essential(ds: Dataset) -> None:
        ds.ManufacturerModelName = "Senographe Essential"

    other = only_event(read_mg_image(variant(corpus("MG-Im-GE-SenDS-scaled.dcm"), essential)))
    assert other.mechanical is not None and other.mechanical.compression_force_n == float(ds.CompressionForce)

    def text(ds: Dataset) -> None:
        raw(ds, 0x001811A2, "DS", b"n/a")  # manual #525

    report = read_mg_image(variant(corpus("MG-Im-GE-SenDS-scaled.dcm"), text))
    assert only_event(report).mechanical.compression_force_n is None  # type: ignore[union-attr]


def test_ge_scaled_image_details(corpus: Corpus) -> None:
    ds = header(corpus("MG-Im-GE-SenDS-scaled.dcm"))
    report = read_mg_image(read_dicom_file(corpus("MG-Im-GE-SenDS-scaled.dcm")))
    event = only_event(report)
    assert ds.SpecificCharacterSet == "ISO_IR 192"
    assert report.equipment.institution_name == ds.InstitutionName  # "中心医院"
    assert report.equipment.institution_address == ds.InstitutionAddress  # "Москва"
    assert event.source is not None
    assert event.source.anode_target_material == Code("C-167F9", "SRT", "Rhodium or Rhodium compound")
    assert [(f.filter_type, f.filter_material) for f in event.source.filters] == [
        (Code("113650", "DCM", "Strip filter"), Code("C-167F9", "SRT", "Rhodium or Rhodium compound"))
    ]
    assert event.mechanical is not None
    assert event.mechanical.distance_source_to_entrance_surface_mm == float(ds.DistanceSourceToEntrance)
    assert event.mechanical.distance_source_to_patient_mm == float(ds.DistanceSourceToPatient)
    assert event.comment == ds.CommentsOnRadiationDose
    # The anonymiser wrote SOPInstanceUID, not ReferencedSOPInstanceUID, in Source Image Sequence.
    assert event.irradiation_event_uid == ds.SourceImageSequence[0].SOPInstanceUID


def test_for_presentation_and_for_processing_images_are_one_exposure(corpus: Corpus) -> None:
    processing = header(corpus("MG-Im-GE_Seno_1_ForProcessing.dcm"))
    presentation = header(corpus("MG-Im-GE_Seno_1_ForPresentation.dcm"))
    assert presentation.SourceImageSequence[0].ReferencedSOPInstanceUID == processing.SOPInstanceUID
    events = [
        only_event(read_mg_image(read_dicom_file(corpus(n))))
        for n in ("MG-Im-GE_Seno_1_ForProcessing.dcm", "MG-Im-GE_Seno_1_ForPresentation.dcm")
    ]
    assert events[0].irradiation_event_uid == events[1].irradiation_event_uid == processing.SOPInstanceUID
    # GE puts an image processing code in Acquisition Device Processing Description: not a protocol.
    assert presentation.AcquisitionDeviceProcessingDescription == "PROC_4"
    assert events[1].acquisition_protocol == presentation.ProtocolName == "STEREO"


def test_hologic_dbt_projection(corpus: Corpus) -> None:
    ds = header(corpus("MG-Im-Hologic-PropProj.dcm"))
    report = read_mg_image(read_dicom_file(corpus("MG-Im-Hologic-PropProj.dcm")))
    event = only_event(report)
    assert event.irradiation_event_type == Code("113613", "DCM", "Rotational Acquisition")
    assert "ImageLaterality" not in ds and event.laterality == Code("G-A100", "SRT", "Right")  # Laterality R
    assert event.irradiation_event_uid == ds.SOPInstanceUID  # projections share a time stamp (#125)
    assert event.half_value_layer_mm == pytest.approx(float(ds.HalfValueLayer))
    assert event.source is not None and event.mechanical is not None
    assert event.source.anode_target_material == Code("C-164F9", "SRT", "Tungsten or Tungsten compound")
    (only,) = event.source.filters
    assert (only.filter_material, only.thickness_minimum_mm) == (ALUMINUM, float(ds.FilterThicknessMinimum))
    assert event.mechanical.compression_force_n == float(ds.CompressionForce)  # not a Senograph DS
    assert event.mechanical.magnification_factor == pytest.approx(float(ds.EstimatedRadiographicMagnificationFactor))


@pytest.mark.parametrize(("protocol", "meaning"), [("L CC", "Left"), ("R MLO", "Right"), ("Flat Field Tomo", None)])
def test_hologic_laterality_from_the_protocol(corpus: Corpus, protocol: str, meaning: str | None) -> None:
    def edit(ds: Dataset) -> None:
        del ds.Laterality
        ds.ProtocolName = protocol

    report = read_mg_image(variant(corpus("MG-Im-Hologic-PropProj.dcm"), edit))
    laterality = only_event(report).laterality
    assert (laterality.meaning if laterality else None) == meaning


def test_protocol_letter_is_not_a_side_for_other_vendors(corpus: Corpus) -> None:
    def edit(ds: Dataset) -> None:
        del ds.ImageLaterality
        ds.ProtocolName = "ROUTINE"

    report = read_mg_image(variant(corpus("MG-Im-GE-SenDS-scaled.dcm"), edit))
    assert only_event(report).laterality is None
    assert any("laterality" in w for w in report.warnings)


# --- Philips CT "Dose Info" ----------------------------------------------------------------------------


def _elscint_dlp(item: Dataset) -> float:
    return number(private(item, 0x00E1, "ELSCINT1", 0x21))


def test_philips_dose_info_study_mapping(corpus: Corpus) -> None:
    ds = header(corpus(PHILIPS))
    report = read_philips_ct_dose_info(read_dicom_file(corpus(PHILIPS)))
    assert report.modality == "CT" and report.sop_instance_uid == ds.SOPInstanceUID
    assert report.study.study_description == ds.ProtocolName  # manual L3473
    comment = report.dose.comment or ""
    protocol_file = private(ds, 0x00E1, "ELSCINT1", 0x61)
    protocol_file = protocol_file.decode().strip() if isinstance(protocol_file, bytes) else protocol_file
    for expected in (ds.StudyDescription, protocol_file, ds.CommentsOnRadiationDose):
        assert expected in comment
    assert "<" not in comment  # manual #520: no XML styling
    assert report.dose.accumulated is not None
    assert report.dose.accumulated.dlp_total_mgycm == pytest.approx(_elscint_dlp(ds))
    assert report.dose.accumulated.total_number_of_irradiation_events == ds[0x00400301].value  # 4


def test_philips_dose_info_acquisitions(corpus: Corpus) -> None:
    ds = header(corpus(PHILIPS))
    events = read_philips_ct_dose_info(read_dicom_file(corpus(PHILIPS))).dose.events
    items = ds[0x0040030E].value
    assert len(events) == len(items) == 4
    kinds = {"CONSTANT_ANGLE": "113805", "SPIRAL": "P5-08001"}
    for item, event in zip(items, events, strict=True):
        assert event.acquisition_protocol == (item.SeriesDescription or None)
        assert event.mean_ctdivol_mgy == pytest.approx(item.CTDIvol)  # FD, mGy
        assert event.dlp_mgycm == pytest.approx(_elscint_dlp(item))
        assert event.ct_acquisition_type is not None
        assert event.ct_acquisition_type.value == kinds[item.AcquisitionType]
        assert event.scanning_length is not None
        assert event.scanning_length.scanning_length_mm == float(item.ScanLength)
        assert event.nominal_single_collimation_width_mm == item.SingleCollimationWidth
        assert event.nominal_total_collimation_width_mm == item.TotalCollimationWidth
        assert event.pitch_factor == item.get("SpiralPitchFactor")
        (source,) = event.sources
        assert source.kvp_kv == float(item.KVP)
        assert source.xray_tube_current_ma == pytest.approx(float(item.XRayTubeCurrentInuA) / 1000)  # µA
        if "ExposureTime" in item:
            assert event.exposure_time_s == pytest.approx(float(item.ExposureTime) / 1000)  # ms
        else:
            assert event.exposure_time_s is None
        assert not item.AcquisitionDateTime and event.date_time_started is None  # manual #500


def test_philips_dose_info_sequence_in_vr_un(corpus: Corpus, monkeypatch: pytest.MonkeyPatch) -> None:
    """Manual #302: a PACS that does not know the retired sequence stores it as UN (implicit VR)."""

    def edit(ds: Dataset) -> None:
        encoded = DicomBytesIO()
        encoded.is_little_endian, encoded.is_implicit_VR = True, True
        for item in ds[0x0040030E].value:
            body = DicomBytesIO()
            body.is_little_endian, body.is_implicit_VR = True, True
            write_dataset(body, item)
            encoded.write_tag(Tag(0xFFFEE000))
            encoded.write_UL(len(body.getvalue()))
            encoded.write(body.getvalue())
        del ds[0x0040030E]
        raw(ds, 0x0040030E, "UN", encoded.getvalue())

    original = read_philips_ct_dose_info(read_dicom_file(corpus(PHILIPS)))
    assert read_philips_ct_dose_info(variant(corpus(PHILIPS), edit)).dose == original.dose
    # A reader configured not to decode UN leaves the bytes: the importer decodes them itself.
    monkeypatch.setattr(pydicom.config, "replace_un_with_known_vr", False)
    undecoded = variant(corpus(PHILIPS), edit)
    assert isinstance(undecoded[0x0040030E].value, bytes)
    assert read_philips_ct_dose_info(undecoded).dose == original.dose


def test_philips_dose_info_without_time_stamps_or_sequence(corpus: Corpus) -> None:
    def no_times(ds: Dataset) -> None:
        for keyword in ("StudyTime", "AcquisitionTime", "ContentTime", "InstanceCreationTime"):
            del ds[keyword]

    report = read_philips_ct_dose_info(variant(corpus(PHILIPS), no_times))
    assert report.study.study_time is None and len(report.dose.events) == 4

    def no_sequence(ds: Dataset) -> None:
        del ds[0x0040030E]

    empty = read_philips_ct_dose_info(variant(corpus(PHILIPS), no_sequence))
    assert empty.dose.events == () and any("Exposure Dose Sequence" in w for w in empty.warnings)
    assert empty.dose.accumulated is not None and not math.isnan(empty.dose.accumulated.dlp_total_mgycm or 0)
