"""What every dose report has, whatever its template: header records and the dose tree.

The CT (``ct_report``) and projection X-ray (``projection_report``) readers differ only in the
template they read and the record they build; checking the classification, the SOP Instance UID,
the header modules and the decoding errors of the tree is shared here.
"""

from __future__ import annotations

import datetime as dt
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from pydicom.dataset import Dataset

from orthanc_rem.extraction import sr
from orthanc_rem.extraction.classification import Classification, ObjectKind
from orthanc_rem.extraction.headers import read_equipment, read_patient, read_study
from orthanc_rem.extraction.records import Equipment, ExtractionError, NotADoseReport, Patient, Study

D = TypeVar("D")


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
    ds: Dataset,
    found: Classification,
    wanted_kind: ObjectKind,
    template_name: str,
    read_dose: Callable[[Dataset, list[str]], D],
) -> ReportParts[D]:
    """Check the object, classified as ``found``, is a report of ``wanted_kind``, then read its
    headers and its dose tree.

    Not that kind: :class:`NotADoseReport` with the reason. Broken: :class:`ExtractionError`.
    """
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


def _content_date(ds: Dataset) -> dt.date | None:
    return sr.parse_da(sr.dataset_text(ds, "ContentDate") or sr.dataset_text(ds, "SeriesDate"))
