"""DICOM objects made for tests from corpus objects: damaged on purpose or given new UIDs."""

from __future__ import annotations

from pathlib import Path

import pydicom
from pydicom.uid import generate_uid

import sr_facts


def broken_dose_report(corpus, folder: Path) -> tuple[Path, str]:  # type: ignore[no-untyped-def]
    """A valid DICOM object whose dose report cannot be read: its Mean CTDIvol, a dose value TID 10013
    requires, is in a unit that does not exist. (A CTDIvol that is merely not a number is only a
    warning: the value is left empty and the report imported.)"""
    ds = pydicom.dcmread(corpus("CT-RDSR-Siemens-Multi-1.dcm"))
    ds.StudyInstanceUID = ds.SeriesInstanceUID = ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    (ctdivol,) = sr_facts.find(ds, sr_facts.MEAN_CTDIVOL)
    ctdivol.MeasuredValueSequence[0].MeasurementUnitsCodeSequence[0].CodeValue = "mGy?"
    path = folder / "broken.dcm"
    ds.save_as(path, enforce_file_format=True)
    return path, str(ds.SOPInstanceUID)
