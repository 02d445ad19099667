"""From bytes to a CT dose report: reading the file, deciding what kind of object it is, extracting.

``read_dicom_file`` -> ``classify`` -> ``read_ct_dose_report`` is the whole public surface that
ingestion uses. An object that is not a CT dose report raises :class:`NotADoseReport` with the
reason recorded for the user; one that claims to be a dose report but cannot be read raises
:class:`ExtractionError` (and is quarantined for a re-run after a fix).
"""

from __future__ import annotations

import datetime as dt
import enum
import io
import os
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

from pydicom import dcmread
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.uid import UID, DeflatedExplicitVRLittleEndian

from orthanc_rem.extraction import sr
from orthanc_rem.extraction.fast_dataset import UnsupportedEncoding, read_fast
from orthanc_rem.extraction.headers import read_equipment, read_patient, read_study
from orthanc_rem.extraction.records import CtDoseReport, Equipment, ExtractionError, NotADoseReport, Patient, Study
from orthanc_rem.extraction.tid10011 import (
    CT_ACCUMULATED_DOSE_DATA,
    CT_ACQUISITION,
    X_RAY_RADIATION_DOSE_REPORT,
    read_ct_radiation_dose,
)

X_RAY_RADIATION_DOSE_SR = "1.2.840.10008.5.1.4.1.1.88.67"
ENHANCED_SR = "1.2.840.10008.5.1.4.1.1.88.22"  # GE CT (Optima, LightSpeed VCT) sends TID 10011 in it
RADIOPHARMACEUTICAL_RADIATION_DOSE_SR = "1.2.840.10008.5.1.4.1.1.88.68"
_SR_SOP_CLASS_PREFIX = "1.2.840.10008.5.1.4.1.1.88."

#: Root containers of TID 10001 Projection X-Ray Radiation Dose (Accumulated X-Ray Dose Data,
#: Irradiation Event X-Ray Data): how a projection report without template identifier is recognised.
_PROJECTION_CONTAINERS = ("113702", "113706")

D = TypeVar("D")


class ObjectKind(enum.StrEnum):
    """What an object is, as far as the dose report importers are concerned."""

    #: TID 10011 CT Radiation Dose.
    CT = "ct"
    #: TID 10001 Projection X-Ray Radiation Dose (RF, DX, MG).
    PROJECTION = "projection"
    #: Radiopharmaceutical Radiation Dose SR (TID 10021): not imported yet.
    RADIOPHARMACEUTICAL = "radiopharmaceutical"
    #: A structured report that is no radiation dose report (or of a class that carries none).
    OTHER_SR = "other_sr"
    #: Not a structured report at all.
    NOT_SR = "not_sr"
    #: A dose SR class whose content tree is missing or damaged: quarantined, never silently dropped.
    BROKEN_DOSE_REPORT = "broken_dose_report"


@dataclass(frozen=True)
class Classification:
    kind: ObjectKind
    reason: str
    template: str | None = None


#: The reader ``read_dicom_file`` uses unless told otherwise: "fast" (``fast_dataset``, with pydicom
#: for the encodings it leaves alone) or "pydicom" (``dcmread`` only).
READER = "fast"


def read_dicom_file(
    source: bytes | bytearray | str | os.PathLike[str], *, reader: str | None = None
) -> Dataset:
    """Parse a DICOM object up to (not including) pixel data.

    The fast reader takes Part 10 files in the encodings dose reports use and returns a
    :class:`~orthanc_rem.extraction.fast_dataset.FastDataset`, a pydicom Dataset whose values are
    read without pydicom's per-element machinery (extraction is 6-8x faster); everything else goes
    to ``dcmread``. There, ``force=True`` is used only for data that starts with a group 0002/0008
    tag: a data set written without the Part 10 preamble, which old archives and some gateways
    produce. A file cut short is detected by comparing declared element lengths with the bytes
    present (both readers), because pydicom reads a truncated sequence silently.
    """
    data = bytes(source) if isinstance(source, bytes | bytearray) else Path(source).read_bytes()
    reader = reader or READER
    if reader not in ("fast", "pydicom"):
        raise ValueError(f"reader must be 'fast' or 'pydicom', not {reader!r}")
    try:
        ds = read_fast(data) if reader == "fast" else _read_with_pydicom(data)
    except UnsupportedEncoding:
        ds = _read_with_pydicom(data)
    if sr.dataset_text(ds, "SOPClassUID") is None:
        raise ExtractionError("not a DICOM object: no SOP Class UID (0008,0016) (truncated or not DICOM)")
    return ds


def _read_with_pydicom(data: bytes) -> Dataset:
    try:
        ds = _parse(data, force=False)
    except InvalidDicomError as exc:
        if not _starts_like_a_data_set(data):
            raise ExtractionError(
                "not a DICOM file: no 'DICM' prefix and no DICOM data set at the start"
            ) from exc
        ds = _parse(data, force=True)
    _check_not_truncated(ds, _data_set_size(ds, data))
    return ds


def _data_set_size(ds: Dataset, data: bytes) -> int:
    """The size element offsets count in: for Deflated Explicit VR Little Endian (PS3.5 A.5) that is
    the inflated data set, which pydicom keeps as the buffer it read from."""
    file_meta = getattr(ds, "file_meta", None)
    if file_meta is not None and file_meta.get("TransferSyntaxUID") == DeflatedExplicitVRLittleEndian:
        return len(ds.buffer.getvalue())
    return len(data)


def classify(ds: Dataset) -> ObjectKind:
    """What kind of object this is."""
    return classification(ds).kind


def classification(ds: Dataset) -> Classification:
    """The kind of object and, for everything but CT, the reason it is not imported.

    A CT report is recognised by its template identifier 10011 or, when the Content Template
    Sequence is absent (PS3.3 makes it Type 1C; the GE OEC Elite RF report in the corpus omits it),
    by the root concept X-Ray Radiation Dose Report with CT containers under it.
    """
    sop_class = sr.dataset_text(ds, "SOPClassUID") or ""
    sop_name = _sop_class_name(sop_class)
    template = _template_identifier(ds)
    root_concept = sr.concept_of(ds)
    if not sop_class.startswith(_SR_SOP_CLASS_PREFIX):
        return Classification(ObjectKind.NOT_SR, f"not a structured report ({sop_name})", template)
    if sop_class in (X_RAY_RADIATION_DOSE_SR, ENHANCED_SR) and (
        root_concept is None or sr.clean_text(ds.get("ValueType")) != "CONTAINER"
    ):
        # Both classes can carry a dose report: a damaged one is quarantined, never silently dropped.
        return Classification(
            ObjectKind.BROKEN_DOSE_REPORT,
            f"{sop_name} without a root content container (truncated or damaged?)",
            template,
        )
    if sop_class == RADIOPHARMACEUTICAL_RADIATION_DOSE_SR or template == "10021":
        return Classification(
            ObjectKind.RADIOPHARMACEUTICAL, "radiopharmaceutical dose report: not imported yet", template
        )
    if sop_class not in (X_RAY_RADIATION_DOSE_SR, ENHANCED_SR):
        return Classification(
            ObjectKind.OTHER_SR, f"{sop_name} is not a SOP class that carries CT dose reports", template
        )
    containers = {c.value for c in (sr.concept_of(i) for i in ds.get("ContentSequence") or ()) if c}
    is_dose_root = sr.same_concept(root_concept, X_RAY_RADIATION_DOSE_REPORT)
    if template == "10011" or (
        is_dose_root and {CT_ACQUISITION.value, CT_ACCUMULATED_DOSE_DATA.value} & containers
    ):
        return Classification(ObjectKind.CT, "CT radiation dose report", template)
    if template == "10001" or (is_dose_root and set(_PROJECTION_CONTAINERS) & containers):
        return Classification(ObjectKind.PROJECTION, "projection X-ray dose report (TID 10001)", template)
    if is_dose_root:
        return Classification(
            ObjectKind.BROKEN_DOSE_REPORT,
            f"{sop_name} with neither CT nor projection X-ray content (truncated or damaged?)",
            template,
        )
    root = f"{root_concept.value} {root_concept.meaning!r}" if root_concept else "none"
    return Classification(
        ObjectKind.OTHER_SR,
        f"{sop_name} is not a radiation dose report (template {template or 'none'}, root concept {root})",
    )


@dataclass(frozen=True)
class ReportParts(Generic[D]):
    """What every dose report has, whatever its template: header records and the dose tree."""

    sop_instance_uid: str
    sop_class_uid: str
    study: Study
    patient: Patient
    equipment: Equipment
    dose: D
    warnings: tuple[str, ...]


def read_report_parts(
    ds: Dataset, wanted_kind: ObjectKind, template_name: str, read_dose: Callable[[Dataset, list[str]], D]
) -> ReportParts[D]:
    """Check the object is a report of ``wanted_kind``, then read its headers and its dose tree.

    Not that kind: :class:`NotADoseReport` with the reason. Broken: :class:`ExtractionError`.
    """
    found = classification(ds)
    if found.kind is ObjectKind.BROKEN_DOSE_REPORT:
        raise ExtractionError(found.reason)
    if found.kind is not wanted_kind:
        raise NotADoseReport(found.reason)
    sop_instance_uid = sr.dataset_text(ds, "SOPInstanceUID")
    if sop_instance_uid is None:
        raise ExtractionError("SOP Instance UID (0008,0018) is missing")
    warnings: list[str] = []
    if found.template is None:
        warnings.append(f"no Content Template Sequence; recognised as {template_name} by its content")
    try:
        study = read_study(ds)
        patient = read_patient(ds, study.study_date or _content_date(ds), warnings)
        equipment = read_equipment(ds)
        dose = read_dose(ds, warnings)
    except (OSError, EOFError, struct.error) as exc:
        # pydicom parses defined-length sequences lazily: damage deep in the tree surfaces here.
        raise ExtractionError(f"content tree cannot be decoded: {exc}") from exc
    return ReportParts(
        sop_instance_uid=sop_instance_uid,
        sop_class_uid=sr.dataset_text(ds, "SOPClassUID") or "",
        study=study,
        patient=patient,
        equipment=equipment,
        dose=dose,
        warnings=tuple(warnings),
    )


def read_ct_dose_report(ds: Dataset) -> CtDoseReport:
    """Headers plus the TID 10011 tree of one CT dose object."""
    parts = read_report_parts(ds, ObjectKind.CT, "TID 10011", read_ct_radiation_dose)
    return CtDoseReport(
        sop_instance_uid=parts.sop_instance_uid,
        sop_class_uid=parts.sop_class_uid,
        study=parts.study,
        patient=parts.patient,
        equipment=parts.equipment,
        dose=parts.dose,
        modality="CT",
        warnings=parts.warnings,
    )


def _parse(data: bytes, *, force: bool) -> Dataset:
    try:
        return dcmread(io.BytesIO(data), stop_before_pixels=True, force=force)
    except InvalidDicomError:
        if force:
            raise ExtractionError("not a DICOM file") from None
        raise
    except Exception as exc:  # any parser failure on untrusted bytes means "not readable DICOM"
        raise ExtractionError(f"not a DICOM file, or truncated: {type(exc).__name__}: {exc}") from exc


def _starts_like_a_data_set(data: bytes) -> bool:
    """Little-endian group 0002 or 0008 tag at offset 0: a data set without Part 10 preamble."""
    return len(data) >= 8 and struct.unpack("<H", data[:2])[0] in (0x0002, 0x0008)


def _check_not_truncated(ds: Dataset, size: int) -> None:
    for tag in list(ds.keys()):
        element = ds.get_item(tag)
        if not isinstance(element, RawDataElement) or element.length == 0xFFFFFFFF:
            continue
        end = element.value_tell + element.length
        if end > size:
            raise ExtractionError(
                f"truncated DICOM file: element {tag} declares {element.length} bytes "
                f"but the data ends {end - size} bytes early"
            )


def _template_identifier(ds: Dataset) -> str | None:
    sequence = ds.get("ContentTemplateSequence")
    return sr.dataset_text(sequence[0], "TemplateIdentifier") if sequence else None


def _sop_class_name(sop_class: str) -> str:
    if not sop_class:
        return "no SOP class"
    name = UID(sop_class).name
    return name if name != sop_class else f"SOP class {sop_class}"


def _content_date(ds: Dataset) -> dt.date | None:
    return sr.parse_da(sr.dataset_text(ds, "ContentDate") or sr.dataset_text(ds, "SeriesDate"))
