"""Philips CT "Dose Info" secondary captures read as CT dose reports (TID 10011 records).

Older Philips CT scanners (Brilliance, Gemini; manual L6227-6243) write no RDSR. Their dose summary
is a Secondary Capture with Series Description "Dose Info" whose header carries one item per
acquisition in Exposure Dose Sequence (0040,030E, retired from PS3.3 C.4.16): CTDIvol, kVp, tube
current in µA, exposure time, scan length, collimation, pitch, and the DLP in Philips' private
ELSCINT1 element (00E1,xx21), which the top-level data set also carries as the study total.

Mapping rules of the manual (L3469-3475): the study description is taken from Protocol Name;
the DICOM Study Description, the protocol file name (private 00E1,xx61) and the Comments on
Radiation Dose go into the study-level comment, as plain text (manual #520: no XML markup).
Time stamps are often empty in these objects (#500): the events are imported without them.
Sequences that arrive with VR UN (#302) are decoded by the reader; a value still in bytes here is
parsed as Implicit VR Little Endian, the encoding PS3.5 6.2.2 prescribes for UN sequences.
"""

from __future__ import annotations

import dataclasses
import io
import struct
from typing import Any

from pydicom.dataset import Dataset
from pydicom.filereader import read_sequence
from pydicom.sequence import Sequence

from orthanc_rem.extraction.headers import read_equipment, read_patient, read_study
from orthanc_rem.extraction.image_headers import COPIED_FROM_IMAGE_ATTRIBUTES, STUDY_SCOPE, header_number, header_text
from orthanc_rem.extraction.records import (
    Code,
    CtAccumulatedDose,
    CtDoseReport,
    CtIrradiationEvent,
    CtRadiationDose,
    CtXRaySource,
    ExtractionError,
    ScanningLength,
)
from orthanc_rem.extraction.sr import dataset_text, parse_dt

COMPUTED_TOMOGRAPHY_XRAY = Code("P5-08000", "SRT", "Computed Tomography X-Ray")
#: Acquisition Type (0018,9302) defined terms -> CID 10013 CT Acquisition Type. Spiral uses the
#: SNOMED-RT code the TID 10011 reports of the corpus use.
ACQUISITION_TYPES = {
    "SEQUENCED": Code("113804", "DCM", "Sequenced Acquisition"),
    "SPIRAL": Code("P5-08001", "SRT", "Spiral Acquisition"),
    "CONSTANT_ANGLE": Code("113805", "DCM", "Constant Angle Acquisition"),
    "STATIONARY": Code("113806", "DCM", "Stationary Acquisition"),
    "FREE": Code("113807", "DCM", "Free Acquisition"),
}
EXPOSURE_DOSE_SEQUENCE = 0x0040030E
PHILIPS_PRIVATE_CREATOR = "ELSCINT1"
#: Element offsets inside the ELSCINT1 block of group 00E1.
_DLP_OFFSET = 0x21
_PROTOCOL_FILE_NAME_OFFSET = 0x61


def read_philips_ct_dose_info(ds: Dataset) -> CtDoseReport:
    """Headers and acquisitions of one Philips "Dose Info" object as a CT dose report.

    Irradiation event UIDs stay empty: the object has none, and the SOP Instance UID already
    stops the same object from being imported twice.
    """
    sop_instance_uid = dataset_text(ds, "SOPInstanceUID")
    if sop_instance_uid is None:
        raise ExtractionError("SOP Instance UID (0008,0018) is missing")
    warnings: list[str] = []
    try:
        study = read_study(ds)
        study = dataclasses.replace(
            study, study_description=dataset_text(ds, "ProtocolName") or study.study_description
        )
        patient = read_patient(ds, study.study_date, warnings)
        items = exposure_dose_items(ds)
        if not items:
            warnings.append("Exposure Dose Sequence (0040,030E) is missing or empty: no acquisitions")
        events = tuple(read_philips_acquisition(item, warnings) for item in items)
        dose = CtRadiationDose(
            procedure_reported=COMPUTED_TOMOGRAPHY_XRAY,
            scope_of_accumulation=STUDY_SCOPE,
            scope_uid=study.study_instance_uid,
            comment=study_comment(ds),
            sources_of_dose_information=(COPIED_FROM_IMAGE_ATTRIBUTES,),
            accumulated=CtAccumulatedDose(
                total_number_of_irradiation_events=len(events),
                dlp_total_mgycm=_private_number(ds, _DLP_OFFSET, warnings, dose=True),
            ),
            events=events,
        )
    except (OSError, EOFError, struct.error) as exc:
        raise ExtractionError(f"header cannot be decoded: {exc}") from exc
    return CtDoseReport(
        sop_instance_uid=sop_instance_uid,
        sop_class_uid=dataset_text(ds, "SOPClassUID") or "",
        study=study,
        patient=patient,
        equipment=read_equipment(ds),
        dose=dose,
        modality="CT",
        warnings=tuple(warnings),
    )


def read_philips_acquisition(item: Dataset, warnings: list[str]) -> CtIrradiationEvent:
    """One Exposure Dose Sequence item: units as PS3.3 defines them for these attributes (ms, µA,
    mm, mGy) converted to the record's; the DLP comes from the item's private ELSCINT1 element.
    One X-ray source: the single-tube scanners that write this object have no other."""
    kind = (dataset_text(item, "AcquisitionType") or "").upper()
    exposure_time_ms = header_number(item, "ExposureTime", warnings)
    current_ua = header_number(item, "XRayTubeCurrentInuA", warnings)
    current_ma = current_ua / 1000 if current_ua is not None else header_number(item, "XRayTubeCurrent", warnings)
    scan_length = header_number(item, "ScanLength", warnings)
    return CtIrradiationEvent(
        acquisition_protocol=dataset_text(item, "SeriesDescription"),
        ct_acquisition_type=ACQUISITION_TYPES.get(kind) or (Code(kind, None, kind) if kind else None),
        date_time_started=parse_dt(dataset_text(item, "AcquisitionDateTime")),
        exposure_time_s=exposure_time_ms / 1000 if exposure_time_ms is not None else None,
        scanning_length=ScanningLength(scanning_length_mm=scan_length) if scan_length is not None else None,
        nominal_single_collimation_width_mm=header_number(item, "SingleCollimationWidth", warnings),
        nominal_total_collimation_width_mm=header_number(item, "TotalCollimationWidth", warnings),
        pitch_factor=header_number(item, "SpiralPitchFactor", warnings),
        number_of_xray_sources=1,
        mean_ctdivol_mgy=header_number(item, "CTDIvol", warnings),
        dlp_mgycm=_private_number(item, _DLP_OFFSET, warnings, dose=True),
        sources=(CtXRaySource(kvp_kv=header_number(item, "KVP", warnings), xray_tube_current_ma=current_ma),),
    )


def study_comment(ds: Dataset) -> str | None:
    """The manual's study-level comment: what Philips calls the study, its protocol file and the
    scanner's own dose comment, one per line."""
    parts = (
        ("Study description", dataset_text(ds, "StudyDescription")),
        ("Protocol file name", _private_text(ds, _PROTOCOL_FILE_NAME_OFFSET)),
        ("Comments on radiation dose", dataset_text(ds, "CommentsOnRadiationDose")),
    )
    lines = [f"{label}: {value}" for label, value in parts if value]
    return "\n".join(lines) or None


def exposure_dose_items(ds: Dataset) -> list[Dataset]:
    """The items of Exposure Dose Sequence, also when the value was left undecoded as UN bytes."""
    try:
        value: Any = ds.get(EXPOSURE_DOSE_SEQUENCE)
        value = getattr(value, "value", value)
    except Exception as exc:  # noqa: BLE001 - reported as a damaged object, with the cause
        raise ExtractionError(f"Exposure Dose Sequence cannot be read: {exc}") from exc
    if isinstance(value, bytes | bytearray):
        return list(_decode_un_sequence(bytes(value), dataset_text(ds, "SpecificCharacterSet")))
    return list(value) if isinstance(value, Sequence | list) else []


def _decode_un_sequence(data: bytes, character_set: str | None) -> Sequence:
    encoding = (character_set or "ISO_IR 6").split("\\")
    try:
        return read_sequence(io.BytesIO(data), True, True, len(data), encoding)
    except Exception as exc:  # noqa: BLE001 - any parser failure means the bytes are not a sequence
        raise ExtractionError(f"Exposure Dose Sequence in VR UN cannot be decoded: {exc}") from exc


def _private_tag(ds: Dataset, offset: int, group: int = 0x00E1) -> int | None:
    """The tag of ``offset`` in the ELSCINT1 block of ``group``, wherever that block was reserved
    (PS3.5 7.8.1: the creator element (gggg,00xx) reserves elements (gggg,xx00-xxFF))."""
    for block in range(0x10, 0x100):
        if (header_text(ds, (group << 16) | block) or "").upper() == PHILIPS_PRIVATE_CREATOR:
            return (group << 16) | (block << 8) | offset
    return None


def _private_number(ds: Dataset, offset: int, warnings: list[str], *, dose: bool = False) -> float | None:
    tag = _private_tag(ds, offset)
    return header_number(ds, tag, warnings, dose=dose) if tag is not None else None


def _private_text(ds: Dataset, offset: int) -> str | None:
    tag = _private_tag(ds, offset)
    return header_text(ds, tag) if tag is not None else None
