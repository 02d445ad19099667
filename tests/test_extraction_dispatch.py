"""The store dispatch reads a structured report's content tree to classify it once, then hands
that classification to the report reader (a 3 MB fluoroscopy report is not walked twice)."""

from __future__ import annotations

import pytest
from pydicom.dataset import Dataset

from orthanc_rem.extraction import classification, ct_report, projection_report
from orthanc_rem.extraction.classification import Classification, ObjectKind
from orthanc_rem.extraction.ct_report import read_ct_dose_report
from orthanc_rem.extraction.dicom_file import read_dicom_file
from orthanc_rem.extraction.dispatch import extract
from orthanc_rem.extraction.records import NotADoseReport


@pytest.mark.parametrize("name", ["CT-RDSR-Siemens-Multi-1.dcm", "RF-RDSR-Siemens-Zee.dcm"])
def test_extract_classifies_a_structured_report_once(corpus, monkeypatch, name):
    classified: list[Dataset] = []
    real = classification.classification

    def counting(ds: Dataset) -> Classification:
        classified.append(ds)
        return real(ds)

    for module in (classification, ct_report, projection_report):
        monkeypatch.setattr(module, "classification", counting)
    extract(read_dicom_file(corpus(name)))
    assert len(classified) == 1


def test_the_report_reader_decides_by_the_classification_it_is_handed(corpus):
    ds = read_dicom_file(corpus("CT-RDSR-Siemens-Multi-1.dcm"))
    with pytest.raises(NotADoseReport, match="handed a projection report"):
        read_ct_dose_report(ds, Classification(ObjectKind.PROJECTION, "handed a projection report"))
