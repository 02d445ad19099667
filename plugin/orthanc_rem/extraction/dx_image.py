"""Radiography images (CR, DX) read as projection X-ray dose reports: one image, one event.

Radiography systems without RDSR record the exposure in the image header (PS3.3 C.8.7.8 X-Ray
Acquisition Dose, C.8.11 DX modules). The manual's ``dx`` importer reads CR and DX objects alike,
because most DR systems send the CR IOD (L6217-6225). Each image becomes one TID 10003 irradiation
event; persistence gathers the events of a study and computes its totals (TID 10007). The header
readers are shared with :mod:`mg_image` in :mod:`image_headers`.
"""

from __future__ import annotations

import dataclasses
import struct

from pydicom.dataset import Dataset

from orthanc_rem.extraction.image_headers import (
    PROJECTION_XRAY,
    image_event,
    image_report,
    read_image_headers,
    view_from_position,
)
from orthanc_rem.extraction.projection_records import ProjectionDoseReport
from orthanc_rem.extraction.records import Code, ExtractionError
from orthanc_rem.extraction.sr import dataset_text

#: View Position (0018,5101) -> CID 4010 DX View, for images without View Code Sequence.
_DX_VIEWS = {
    "AP": Code("R-10206", "SRT", "antero-posterior"), "PA": Code("R-10214", "SRT", "postero-anterior"),
    "LL": Code("R-10236", "SRT", "left lateral"), "RL": Code("R-10232", "SRT", "right lateral"),
}  # fmt: skip


def read_dx_image(ds: Dataset) -> ProjectionDoseReport:
    """One CR/DX image header as a projection report with one irradiation event (modality DX).

    The acquisition protocol is Acquisition Device Processing Description (0018,1400), where Fuji
    and Toshiba consoles put the exam menu name (manual #482), then Protocol Name, then Series
    Description (Carestream DRX-Revolution names the view there and has no protocol).
    """
    warnings: list[str] = []
    modality = dataset_text(ds, "Modality")
    if modality not in ("DX", "CR"):
        warnings.append(f"Modality {modality or 'missing'}: read as radiography because of its SOP class")
    try:
        study, patient, equipment = read_image_headers(ds, warnings)
        protocol = (
            dataset_text(ds, "AcquisitionDeviceProcessingDescription")
            or dataset_text(ds, "ProtocolName")
            or dataset_text(ds, "SeriesDescription")
        )
        event = image_event(ds, study, protocol, warnings)
        event = dataclasses.replace(event, image_view=event.image_view or view_from_position(ds, _DX_VIEWS))
    except (OSError, EOFError, struct.error) as exc:
        raise ExtractionError(f"image header cannot be decoded: {exc}") from exc
    return image_report(ds, study, patient, equipment, event, PROJECTION_XRAY, "DX", "dx_image", warnings)
