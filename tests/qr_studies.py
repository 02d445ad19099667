"""Whole studies for a PACS: corpus dose objects plus the images a modality sends with them.

The corpus holds dose objects alone; a hospital PACS holds them with the study's images. The
images made here share the dose object's Study Instance UID, patient and date, in a series of
their own, with a few pixels: what the QR logic has to leave behind.
"""

from __future__ import annotations

from pathlib import Path

import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

IMAGE_CLASSES = {
    "CT": "1.2.840.10008.5.1.4.1.1.2",  # CT Image Storage
    "RF": "1.2.840.10008.5.1.4.1.1.12.2",  # X-Ray Radiofluoroscopic Image Storage
    "DX": "1.2.840.10008.5.1.4.1.1.1.1",  # Digital X-Ray Image Storage - For Presentation
}


def images_for(dose_object: Path, modality: str, count: int, folder: Path, description: str) -> list[Path]:
    """``count`` images of ``modality`` in the study of ``dose_object``, in one new series."""
    source = pydicom.dcmread(dose_object, stop_before_pixels=True)
    series_uid = generate_uid()
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for number in range(1, count + 1):
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.MediaStorageSOPClassUID = IMAGE_CLASSES[modality]
        ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.SOPClassUID = IMAGE_CLASSES[modality]
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
        for keyword in (
            "SpecificCharacterSet",
            "PatientID",
            "PatientName",
            "StudyInstanceUID",
            "StudyDate",
            "StudyTime",
            "AccessionNumber",
            "StudyDescription",
            "StationName",
            "Manufacturer",
        ):
            if keyword in source:
                setattr(ds, keyword, source.data_element(keyword).value)
        ds.Modality = modality
        ds.SeriesInstanceUID = series_uid
        ds.SeriesNumber = 2
        ds.SeriesDescription = description
        ds.InstanceNumber = number
        ds.Rows = ds.Columns = 8
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated = ds.BitsStored = 16
        ds.HighBit = 15
        ds.PixelRepresentation = 0
        ds.PixelData = bytes([number % 256, 0]) * 64  # 8 x 8 little-endian 16-bit pixels
        path = folder / f"{modality}-{series_uid[-12:]}-{number}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def newer_cumulative_report(earlier: Path, later: Path, folder: Path) -> Path:
    """A newer cumulative RDSR of the study of ``earlier``, in its series, with a new SOP Instance
    UID: the content of ``later`` (a real later report of the same study, with more events)."""
    first = pydicom.dcmread(earlier)
    ds = pydicom.dcmread(later)
    ds.StudyInstanceUID = first.StudyInstanceUID
    ds.SeriesInstanceUID = first.SeriesInstanceUID
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "newer-cumulative-rdsr.dcm"
    ds.save_as(path)
    return path
