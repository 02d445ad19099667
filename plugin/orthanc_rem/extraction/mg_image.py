"""Mammography images read as projection X-ray dose reports: one image, one view, one event.

Mammography systems without RDSR put the whole exposure record in the image header, compressed
breast thickness included (manual L6208-6215, PS3.3 C.8.11.7 Mammography Image module). The manual's
``mam`` importer was built on GE Senographe DS images and also used with GE Senographe Essential,
Hologic Selenia and Siemens Inspiration (L3451-3461); it also reads Hologic's DBT projection objects,
which are Secondary Captures with Modality MG (manual #86, #125, #411).

The projection image header is read by :mod:`image_headers`; this module adds the mammography concepts
(TID 10003 with the mammography rows of 10003b/c): average glandular dose, compression, the breast
laterality that the per-breast accumulated AGD depends on, and the mammography views.
"""

from __future__ import annotations

import dataclasses
import struct

from pydicom.dataset import Dataset

from orthanc_rem.extraction.image_headers import (
    DGY_TO_MGY,
    STATIONARY_ACQUISITION,
    header_number,
    image_event,
    image_report,
    laterality_code,
    read_image_headers,
    view_from_position,
)
from orthanc_rem.extraction.projection_records import ProjectionDoseReport, XRayMechanical, XRaySource
from orthanc_rem.extraction.records import Code, Equipment, ExtractionError
from orthanc_rem.extraction.routing import SECONDARY_CAPTURE_IMAGE
from orthanc_rem.extraction.sr import dataset_text

MAMMOGRAPHY = Code("P5-40010", "SRT", "Mammography")
#: CID 10002: the Hologic RDSRs in the corpus code their tomosynthesis sweeps this way.
ROTATIONAL_ACQUISITION = Code("113613", "DCM", "Rotational Acquisition")
#: View Position (0018,5101) -> CID 4014 mammography views, for images without View Code Sequence.
_MG_VIEWS = {
    "CC": Code("R-10242", "SRT", "cranio-caudal"), "MLO": Code("R-10226", "SRT", "medio-lateral oblique"),
    "ML": Code("R-10224", "SRT", "medio-lateral"), "LM": Code("R-10228", "SRT", "latero-medial"),
    "LMO": Code("R-10230", "SRT", "latero-medial oblique"), "FB": Code("R-10244", "SRT", "caudo-cranial (from below)"),
    "XCCL": Code("R-1024A", "SRT", "cranio-caudal exaggerated laterally"),
}  # fmt: skip


def read_mg_image(ds: Dataset) -> ProjectionDoseReport:
    """One mammography image (or Hologic DBT projection) header as a report with one event.

    The acquisition protocol is Protocol Name, else Series Description; Acquisition Device
    Processing Description is not used here because GE fills it with an image processing code
    ("PROC_4"), not an exam name.
    """
    warnings: list[str] = []
    try:
        study, patient, equipment = read_image_headers(ds, warnings)
        protocol = dataset_text(ds, "ProtocolName") or dataset_text(ds, "SeriesDescription")
        event = image_event(ds, study, protocol, warnings)
        source = event.source or XRaySource()
        mechanical = event.mechanical or XRayMechanical()
        event = dataclasses.replace(
            event,
            irradiation_event_type=ROTATIONAL_ACQUISITION if is_dbt_projection(ds) else STATIONARY_ACQUISITION,
            laterality=event.laterality or hologic_laterality(protocol, equipment),
            image_view=event.image_view or view_from_position(ds, _MG_VIEWS),
            half_value_layer_mm=header_number(ds, "HalfValueLayer", warnings),
            source=dataclasses.replace(source, average_glandular_dose_mgy=average_glandular_dose(ds, warnings)),
            mechanical=dataclasses.replace(
                mechanical,
                compression_thickness_mm=header_number(ds, "BodyPartThickness", warnings),
                compression_force_n=compression_force(ds, warnings),
            ),
        )
        if event.laterality is None:
            warnings.append("no laterality (Image Laterality, Laterality or protocol): AGD not given to a breast")
    except (OSError, EOFError, struct.error) as exc:
        raise ExtractionError(f"image header cannot be decoded: {exc}") from exc
    return image_report(ds, study, patient, equipment, event, MAMMOGRAPHY, "MG", "mg_image", warnings)


def is_dbt_projection(ds: Dataset) -> bool:
    """Hologic's proprietary tomosynthesis projection object: a Secondary Capture with modality MG."""
    return dataset_text(ds, "SOPClassUID") == SECONDARY_CAPTURE_IMAGE


def average_glandular_dose(ds: Dataset, warnings: list[str]) -> float | None:
    """Organ Dose (0040,0316) is the AGD in a mammography header, in dGy (PS3.3 C.8.7.8)."""
    organ = (dataset_text(ds, "OrganExposed") or "BREAST").upper()
    dose = header_number(ds, "OrganDose", warnings)
    if dose is not None and organ != "BREAST":
        warnings.append(f"Organ Dose is for {organ}, not the breast; not used as AGD")
        return None
    return dose * DGY_TO_MGY if dose is not None else None


def compression_force(ds: Dataset, warnings: list[str]) -> float | None:
    """Compression Force (0018,11A2) in N, as the header gives it, for every model.

    OpenREM 0.6 divided the GE Senographe DS value by ten (manual L9719-9721); 0.7.0 changed that
    ("#135 GE Senographe DS now correctly records compression force in Newtons", manual L8810),
    and OpenREM's own test expects 50 N for the Senographe DS image whose header says 50."""
    return header_number(ds, "CompressionForce", warnings)


def hologic_laterality(protocol: str | None, equipment: Equipment) -> Code | None:
    """Hologic DBT projection objects have been imported without laterality, which left the
    per-breast AGD empty (manual L5880-5884); the manual's repair reads the side from the first
    letter of the acquisition protocol ("R CC", "L MLO"). Only for Hologic: elsewhere a protocol
    such as "ROUTINE" must not become a right breast."""
    if "HOLOGIC" not in (equipment.manufacturer or "").upper() or not protocol:
        return None
    first = protocol.strip()[:1].upper()
    return laterality_code(first) if first in ("R", "L") else None
