"""Which importer an arriving object goes to: the store dispatch of the OpenREM manual.

The decision uses only the SOP Class UID and four header attributes (Modality, Manufacturer,
Series Description, Image Type), all of which Orthanc keeps as instance metadata or main DICOM tags.
That is deliberate: :func:`route_from_orthanc` takes the same decision from Orthanc's index, so a
worker can skip the objects that match no importer (NM and PET images, radiopharmaceutical reports,
CT slices …) without downloading them. :func:`route` is the same decision for a parsed data set.

Routing looks at the SOP class, never at the content tree: an Enhanced SR that is not a dose report
(e.g. ``ESR_non-dose.dcm``) is routed to the RDSR importer, which records why it is not imported,
exactly as the manual's dispatch sends every ESR to ``rdsr`` and lets it decide.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from pydicom.dataset import Dataset
from pydicom.uid import UID

from orthanc_rem.extraction.classification import ENHANCED_SR, X_RAY_RADIATION_DOSE_SR
from orthanc_rem.extraction.sr import clean_text, dataset_text

COMPUTED_RADIOGRAPHY_IMAGE = "1.2.840.10008.5.1.4.1.1.1"
DIGITAL_XRAY_IMAGE_FOR_PRESENTATION = "1.2.840.10008.5.1.4.1.1.1.1"
DIGITAL_XRAY_IMAGE_FOR_PROCESSING = "1.2.840.10008.5.1.4.1.1.1.1.1"
DIGITAL_MAMMOGRAPHY_IMAGE_FOR_PRESENTATION = "1.2.840.10008.5.1.4.1.1.1.2"
DIGITAL_MAMMOGRAPHY_IMAGE_FOR_PROCESSING = "1.2.840.10008.5.1.4.1.1.1.2.1"
SECONDARY_CAPTURE_IMAGE = "1.2.840.10008.5.1.4.1.1.7"

#: Most DR systems send the CR IOD, so CR and both DX classes go to the radiography importer
#: (manual L6217-6225).
_RADIOGRAPHY_CLASSES = frozenset(
    {COMPUTED_RADIOGRAPHY_IMAGE, DIGITAL_XRAY_IMAGE_FOR_PRESENTATION, DIGITAL_XRAY_IMAGE_FOR_PROCESSING}
)
_MAMMOGRAPHY_CLASSES = frozenset({DIGITAL_MAMMOGRAPHY_IMAGE_FOR_PRESENTATION, DIGITAL_MAMMOGRAPHY_IMAGE_FOR_PROCESSING})
_DOSE_SR_CLASSES = frozenset({X_RAY_RADIATION_DOSE_SR, ENHANCED_SR})

#: The series description Philips CT gives its dose summary secondary capture (manual L3469-3475).
PHILIPS_DOSE_INFO_SERIES = "dose info"


class RouteKind(enum.StrEnum):
    """The importers of the store dispatch; the values are the names the queue and logs use."""

    RDSR = "rdsr"
    DX_IMAGE = "dx_image"
    MG_IMAGE = "mg_image"
    PHILIPS_CT_DOSE_INFO = "philips_ct_dose_info"
    UNMATCHED = "unmatched"


@dataclass(frozen=True)
class Route:
    """Where an object goes and why, in words a user reading the import log understands."""

    kind: RouteKind
    reason: str

    @property
    def matched(self) -> bool:
        return self.kind is not RouteKind.UNMATCHED


def route(ds: Dataset) -> Route:
    """The importer for a parsed object (pixel data need not be present)."""
    return route_from_orthanc(
        sop_class_uid=dataset_text(ds, "SOPClassUID"),
        modality=dataset_text(ds, "Modality"),
        manufacturer=dataset_text(ds, "Manufacturer"),
        series_description=dataset_text(ds, "SeriesDescription"),
        image_type=dataset_text(ds, "ImageType"),
    )


def route_from_orthanc(
    sop_class_uid: str | None,
    modality: str | None,
    manufacturer: str | None,
    series_description: str | None,
    image_type: str | Iterable[str] | None,
) -> Route:
    """The importer for an object known only by what Orthanc indexes.

    ``image_type`` may be the backslash-separated string Orthanc returns for a multi-valued tag
    or a sequence of values. Comparisons ignore case and surrounding spaces: "Dose Info" arrives as
    "DOSE INFO" from some PACS, and a Manufacturer may be "Philips Medical Systems".
    A Secondary Capture without Manufacturer (manual #308) is simply not a Philips object.
    """
    sop_class = (clean_text(sop_class_uid) or "").strip()
    modality_text = (clean_text(modality) or "").strip().upper()
    if not sop_class:
        return Route(RouteKind.UNMATCHED, f"no SOP Class UID; modality {modality_text or 'none'}")
    name = _sop_class_name(sop_class)
    if sop_class in _DOSE_SR_CLASSES:
        return Route(RouteKind.RDSR, f"{name}: may carry a radiation dose structured report")
    if sop_class in _RADIOGRAPHY_CLASSES:
        return Route(RouteKind.DX_IMAGE, f"{name} (modality {modality_text or 'none'}): radiography image header")
    if sop_class in _MAMMOGRAPHY_CLASSES:
        return Route(RouteKind.MG_IMAGE, f"{name}: mammography image header")
    if sop_class == SECONDARY_CAPTURE_IMAGE:
        return _route_secondary_capture(name, modality_text, manufacturer, series_description, image_type)
    return Route(
        RouteKind.UNMATCHED,
        f"{name}, modality {modality_text or 'none'}: not an object any dose importer reads",
    )


def _route_secondary_capture(
    name: str,
    modality: str,
    manufacturer: str | None,
    series_description: str | None,
    image_type: str | Iterable[str] | None,
) -> Route:
    """Two vendors put dose data into Secondary Capture objects: Hologic's DBT projection images
    (Modality MG, Image Type ORIGINAL, manual #86/#125/#411) and Philips CT's "Dose Info" summary
    for scanners without RDSR (manual L6227-6243)."""
    if modality == "MG" and "ORIGINAL" in _image_type_values(image_type):
        return Route(RouteKind.MG_IMAGE, f"{name} with modality MG and image type ORIGINAL: Hologic DBT projection")
    maker = (clean_text(manufacturer) or "").lower()
    series = (clean_text(series_description) or "").lower()
    if "philips" in maker and series == PHILIPS_DOSE_INFO_SERIES:
        return Route(RouteKind.PHILIPS_CT_DOSE_INFO, f"{name} from Philips with series 'Dose Info'")
    return Route(
        RouteKind.UNMATCHED,
        f"{name}, modality {modality or 'none'}, manufacturer {clean_text(manufacturer) or 'none'}, "
        f"series {clean_text(series_description) or 'none'}: neither a Hologic DBT projection "
        "nor a Philips CT dose summary",
    )


def _image_type_values(image_type: str | Iterable[str] | None) -> set[str]:
    if image_type is None:
        return set()
    parts = image_type.split("\\") if isinstance(image_type, str) else list(image_type)
    return {(clean_text(part) or "").upper() for part in parts}


def _sop_class_name(sop_class: str) -> str:
    name = UID(sop_class).name
    return f"{name} ({sop_class})" if name != sop_class else f"SOP class {sop_class}"
