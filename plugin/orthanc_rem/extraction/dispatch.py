"""One entry point from a parsed object to its dose report, following the store dispatch.

The route (by SOP class, modality, manufacturer and series description) picks the importer;
for structured reports the content then decides CT (TID 10011) or projection X-ray (TID 10001).
"""

from __future__ import annotations

from pydicom.dataset import Dataset

from orthanc_rem.extraction import classification
from orthanc_rem.extraction.classification import ObjectKind
from orthanc_rem.extraction.ct_report import read_ct_dose_report
from orthanc_rem.extraction.dx_image import read_dx_image
from orthanc_rem.extraction.mg_image import read_mg_image
from orthanc_rem.extraction.philips_ct import read_philips_ct_dose_info
from orthanc_rem.extraction.projection_records import ProjectionDoseReport
from orthanc_rem.extraction.projection_report import read_projection_dose_report
from orthanc_rem.extraction.records import CtDoseReport, ExtractionError, NotADoseReport
from orthanc_rem.extraction.routing import Route, RouteKind, route

DoseReport = CtDoseReport | ProjectionDoseReport


class UnmatchedObject(NotADoseReport):
    """No importer reads this kind of object (NM images, presentation states, ...)."""


def extract(ds: Dataset) -> tuple[Route, DoseReport]:
    """The route taken and the report read; NotADoseReport / UnmatchedObject / ExtractionError otherwise."""
    taken = route(ds)
    if taken.kind is RouteKind.RDSR:
        found = classification.classification(ds)  # once: the report readers are handed the result
        if found.kind is ObjectKind.CT:
            return taken, read_ct_dose_report(ds, found)
        if found.kind is ObjectKind.PROJECTION:
            return taken, read_projection_dose_report(ds, found)
        if found.kind is ObjectKind.BROKEN_DOSE_REPORT:
            raise ExtractionError(found.reason)
        raise NotADoseReport(found.reason)
    if taken.kind is RouteKind.DX_IMAGE:
        return taken, read_dx_image(ds)
    if taken.kind is RouteKind.MG_IMAGE:
        return taken, read_mg_image(ds)
    if taken.kind is RouteKind.PHILIPS_CT_DOSE_INFO:
        return taken, read_philips_ct_dose_info(ds)
    raise UnmatchedObject(taken.reason)
