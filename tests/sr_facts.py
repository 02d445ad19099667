"""Facts read straight from DICOM SR objects with plain pydicom, for expected values in tests.

Deliberately independent of orthanc_rem.extraction: a test must not compute its expectation
with the code under test. Concept codes are PS3.16's (DCM scheme).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pydicom
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

CT_ACQUISITION = "113819"
IRRADIATION_EVENT_UID = "113769"
MEAN_CTDIVOL = "113830"
DLP = "113838"
DLP_TOTAL = "113813"


def read(path: Path) -> Dataset:
    return pydicom.dcmread(path, stop_before_pixels=True)


def items(node: Dataset) -> Iterator[Dataset]:
    """Every content item below ``node``, depth first."""
    for item in getattr(node, "ContentSequence", []):
        yield item
        yield from items(item)


def concept(item: Dataset) -> str | None:
    names = getattr(item, "ConceptNameCodeSequence", None)
    return names[0].CodeValue if names else None


def find(node: Dataset, code: str) -> list[Dataset]:
    return [item for item in items(node) if concept(item) == code]


def numbers(node: Dataset, code: str) -> list[float]:
    return [
        float(i.MeasuredValueSequence[0].NumericValue)
        for i in find(node, code)
        if i.get("MeasuredValueSequence")
    ]


def uids(node: Dataset, code: str) -> list[str]:
    return [str(i.UID) for i in find(node, code)]


def ct_acquisitions(ds: Dataset) -> list[Dataset]:
    return find(ds, CT_ACQUISITION)


def event_uids(ds: Dataset) -> set[str]:
    return {uid for acquisition in ct_acquisitions(ds) for uid in uids(acquisition, IRRADIATION_EVENT_UID)}


def total_dlp(ds: Dataset) -> float:
    (value,) = numbers(ds, DLP_TOTAL)
    return value


# --- projection X-ray (TID 10001): direct children only, so that an event's rows are not confused
# with the rows of the containers nested in it (X-Ray Filters, Calibration, vendor containers). -------

IRRADIATION_EVENT_XRAY_DATA = "113706"
ACCUMULATED_XRAY_DOSE_DATA = "113702"
ACQUISITION_PLANE = "113764"


def children(node: Dataset, code: str) -> list[Dataset]:
    """The direct children of ``node`` with concept ``code``, in document order."""
    return [item for item in getattr(node, "ContentSequence", []) if concept(item) == code]


def child(node: Dataset | None, code: str) -> Dataset | None:
    found = children(node, code) if node is not None else []
    return found[0] if found else None


def projection_events(ds: Dataset) -> list[Dataset]:
    return children(ds, IRRADIATION_EVENT_XRAY_DATA)


def accumulations(ds: Dataset) -> list[Dataset]:
    return children(ds, ACCUMULATED_XRAY_DOSE_DATA)


def code_value(item: Dataset | None) -> str | None:
    """The value of a CODE item (its Concept Code Sequence), None when absent."""
    if item is None or not item.get("ConceptCodeSequence"):
        return None
    return str(item.ConceptCodeSequence[0].CodeValue)


def plane(node: Dataset) -> str | None:
    """The Acquisition Plane code value (113620 A, 113621 B, 113622 single) of an event or accumulation."""
    return code_value(child(node, ACQUISITION_PLANE))


def measured(item: Dataset | None) -> tuple[list[float], str | None]:
    """Every value of a NUM item (Numeric Value may hold several, one per pulse) and its unit code."""
    if item is None or not item.get("MeasuredValueSequence"):
        return [], None
    value = item.MeasuredValueSequence[0]
    raw = value.NumericValue
    values = [float(v) for v in raw] if isinstance(raw, MultiValue) else [float(raw)]
    return values, str(value.MeasurementUnitsCodeSequence[0].CodeValue)
