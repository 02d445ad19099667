"""DICOM objects made for tests from corpus objects: damaged on purpose or given new UIDs."""

from __future__ import annotations

from pathlib import Path

import pydicom
from pydicom.dataelem import RawDataElement
from pydicom.tag import Tag
from pydicom.uid import generate_uid

import sr_facts


def broken_dose_report(corpus, folder: Path) -> tuple[Path, str]:  # type: ignore[no-untyped-def]
    """A valid DICOM object whose dose report tree is broken: a CTDIvol that is not a number."""
    ds = pydicom.dcmread(corpus("CT-RDSR-Siemens-Multi-1.dcm"))
    ds.StudyInstanceUID = ds.SeriesInstanceUID = ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    (ctdivol,) = sr_facts.find(ds, sr_facts.MEAN_CTDIVOL)
    path = folder / "broken.dcm"
    numeric_value = Tag(0x0040, 0xA30A)
    # A raw element is written as it is: pydicom would refuse to make this DS value itself.
    ctdivol.MeasuredValueSequence[0]._dict[numeric_value] = RawDataElement(
        numeric_value, "DS", 6, b"12.5x ", 0, False, True
    )
    ds.save_as(path, enforce_file_format=True)
    return path, str(ds.SOPInstanceUID)
