"""Facts read straight from DICOM SR objects with plain pydicom, for expected values in tests.

Deliberately independent of orthanc_rem.extraction: a test must not compute its expectation
with the code under test. Concept codes are PS3.16's (DCM scheme).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pydicom
from pydicom.dataset import Dataset

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
