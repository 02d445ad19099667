"""A CT dose report (TID 10011) from a DICOM object: headers plus the CT Radiation Dose tree.

An object that is not a CT dose report raises :class:`NotADoseReport` with the reason recorded for
the user; one that claims to be a dose report but cannot be read raises :class:`ExtractionError`
(and is quarantined for a re-run after a fix).
"""

from __future__ import annotations

from pydicom.dataset import Dataset

from orthanc_rem.extraction.classification import Classification, ObjectKind, classification
from orthanc_rem.extraction.records import CtDoseReport
from orthanc_rem.extraction.report_parts import read_report_parts
from orthanc_rem.extraction.tid10011 import read_ct_radiation_dose


def read_ct_dose_report(ds: Dataset, found: Classification | None = None) -> CtDoseReport:
    """Headers plus the TID 10011 tree of one CT dose object.

    ``found`` is the object's classification when the caller made it already (``dispatch``):
    walking the content tree once is enough.
    """
    found = found or classification(ds)
    parts = read_report_parts(ds, found, ObjectKind.CT, "TID 10011", read_ct_radiation_dose)
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
