"""Distinct dose objects for the benchmarks: copies of corpus files with new UIDs.

Every copy has its own study, series, SOP instance and irradiation event UIDs, so that none is a
duplicate of another and each is stored as a new study, as objects from several modalities would be.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pydicom
from pydicom.uid import generate_uid

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "tests" / "corpus" / "dicom"
#: Corpus objects each kind of benchmark copies (round robin) with new UIDs.
TEMPLATES = {
    "ct": [
        "CT-RDSR-Siemens_Flash-TAP-SS.dcm",
        "CT-RDSR-GEPixelMed.dcm",
        "CT-RDSR-ToshibaPixelMed.dcm",
        "CT-RDSR-Siemens-Multi-2.dcm",
        "CT-ESR-GE_Optima.dcm",
        "CT-RDSR-Toshiba_DoseCheck.dcm",
    ],
    "rf": [
        "RF-RDSR-Siemens-Zee.dcm",
        "RF-RDSR-Philips_Allura.dcm",
        "RF-RDSR-GE.dcm",
        "RF-RDSR-Eurocolumbus.dcm",
        "RF-No-kVp-and-others.dcm",
        "RF-Pat-Orientation-Modifier-Missing.dcm",  # 3 MB, 316 events
    ],
    "dx": [
        "DX-Im-Carestream_DR7500-1.dcm",
        "DX-Im-Carestream_DRX.dcm",
        "DX-Im-GE_XR220-1.dcm",
        "DX-RDSR-Carestream_DRXEvolution.dcm",
        "DX-RDSR-Canon_CXDI.dcm",
    ],
    "mg": [
        "MG-Im-GE_Seno_1_ForProcessing.dcm",
        "MG-Im-Hologic-PropProj.dcm",
        "MG-RDSR-Hologic_2D.dcm",
        "MG-RDSR-GEPristina-2D.dcm",
    ],
}
IRRADIATION_EVENT_UID = "113769"


def _renew_event_uids(node: pydicom.Dataset) -> None:
    for item in getattr(node, "ContentSequence", []):
        names = item.get("ConceptNameCodeSequence")
        if names and names[0].CodeValue == IRRADIATION_EVENT_UID:
            item.UID = generate_uid()
        _renew_event_uids(item)


def make_reports(count: int, folder: Path, kind: str = "ct") -> list[Path]:
    """``count`` distinct dose objects made from the corpus templates of ``kind``, round robin."""
    templates = [pydicom.dcmread(CORPUS / name) for name in TEMPLATES[kind]]
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        ds = copy.deepcopy(templates[index % len(templates)])
        ds.StudyInstanceUID = generate_uid()
        ds.SeriesInstanceUID = generate_uid()
        ds.SOPInstanceUID = generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.AccessionNumber = f"BENCH{index:06d}"
        if "IrradiationEventUID" in ds:
            ds.IrradiationEventUID = generate_uid()
        _renew_event_uids(ds)
        path = folder / f"{kind}-{index:06d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


