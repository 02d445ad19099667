"""A projection X-ray dose report (RF, DX or MG RDSR) from a DICOM object.

``read_projection_dose_report`` is to projection reports what ``ct_report.read_ct_dose_report`` is
to CT: it recognises the object with ``classification.classification`` (TID 10001 template identifier,
or the root containers when the Content Template Sequence is absent, as in the GE OEC Elite report),
reads the header modules with ``headers`` and the content tree with ``tid10001``, and decides which
modality the content describes with ``projection_modality``.
"""

from __future__ import annotations

from pydicom.dataset import Dataset

from orthanc_rem.extraction import sr
from orthanc_rem.extraction.classification import Classification, ObjectKind, classification
from orthanc_rem.extraction.projection_records import ProjectionDoseReport, ProjectionXRayRadiationDose
from orthanc_rem.extraction.report_parts import read_report_parts
from orthanc_rem.extraction.tid10001 import (
    FLUOROSCOPY_GUIDED_SYSTEM,
    MAMMOGRAPHY,
    PLANE_A,
    PLANE_B,
    read_projection_xray_radiation_dose,
)
from orthanc_rem.extraction.tid10003 import is_fluoroscopy

RF, DX, MG = "RF", "DX", "MG"


def read_projection_dose_report(ds: Dataset, found: Classification | None = None) -> ProjectionDoseReport:
    """Headers plus the TID 10001 tree of one projection X-ray dose report.

    Not a projection report (CT, image, other SR such as the Siemens Arcadis "Radiation Summary
    Report" Enhanced SR): :class:`NotADoseReport`. A report whose tree cannot be read:
    :class:`ExtractionError` naming the item. ``found``: the object's classification, when the
    caller made it already.
    """
    found = found or classification(ds)
    parts = read_report_parts(ds, found, ObjectKind.PROJECTION, "TID 10001", read_projection_xray_radiation_dose)
    return ProjectionDoseReport(
        sop_instance_uid=parts.sop_instance_uid,
        sop_class_uid=parts.sop_class_uid,
        study=parts.study,
        patient=parts.patient,
        equipment=parts.equipment,
        dose=parts.dose,
        modality=projection_modality(parts.dose),
        source_kind="rdsr",
        warnings=parts.warnings,
    )


def projection_modality(dose: ProjectionXRayRadiationDose) -> str:
    """MG, RF or DX, from what the report contains, first rule that applies:

    1. **MG** when the Procedure Reported is Mammography (TID 10001 row 2, (71651007, SCT) or
       (P5-40010, SRT)), or any accumulation carries TID 10005 accumulated AGD, or any event an
       Average Glandular Dose: PS3.16 includes TID 10005 "IFF TID 10001 Row 2 = Mammography", and
       AGD is the mammography dose quantity.
    2. **RF** when any irradiation event is of type Fluoroscopy (CID 10002).
    3. **RF** when any accumulation has a *non-zero* fluoroscopy DAP, dose at RP or fluoroscopy time:
       TID 10004 requires these rows only "IFF ... Fluoroscopy for at least one irradiation event",
       so a value above zero means fluoroscopy happened even if the events were not reported. Zeros
       do not count: radiography rooms that fill the fluoroscopy template with zeros (the Siemens
       Fluorospot DX report of the corpus) are what the manual means by "vendors use templates meant
       for RF also for DX systems" (L2914).
    4. **RF** when the Acquisition Device Type (CID 10032) is a Fluoroscopy-Guided Projection
       Radiography System, or the events come from Plane A/Plane B: only angiography (C-arm) systems
       are biplane.
    5. **DX** otherwise: integrated or cassette-based radiography, including a dual-use room's
       radiography-only report (#580).

    The user-defined modality of the equipment overrides this decision when the study is stored
    (manual L2914-2991, "Dual" systems); that is persistence's business, not extraction's.
    """
    if (
        sr.same_concept(dose.procedure_reported, MAMMOGRAPHY)
        or any(a.mammography for a in dose.accumulations)
        or any(e.source is not None and e.source.average_glandular_dose_mgy is not None for e in dose.events)
    ):
        return MG
    if any(is_fluoroscopy(e) for e in dose.events):
        return RF
    for accumulation in dose.accumulations:
        totals = (
            accumulation.fluoro_dose_area_product_total_gym2,
            accumulation.fluoro_dose_rp_total_gy,
            accumulation.total_fluoro_time_s,
        )
        if any(value for value in totals):
            return RF
    planes = [e.acquisition_plane for e in dose.events] + [a.acquisition_plane for a in dose.accumulations]
    if sr.same_concept(dose.acquisition_device_type, FLUOROSCOPY_GUIDED_SYSTEM) or any(
        sr.same_concept(plane, PLANE_A) or sr.same_concept(plane, PLANE_B) for plane in planes
    ):
        return RF
    return DX

