"""Every object of the corpus goes through the same import path as in production and ends up
imported, or skipped for a stated reason; nothing raises and nothing is lost.

What each file should become is decided here from the file itself and the manual's store
dispatch (SOP class, modality, root concept), independently of our routing code.
"""

from __future__ import annotations

from sqlalchemy import func, select

import sr_facts
from conftest import corpus_dir, corpus_files
from orthanc_rem import model
from orthanc_rem.ingest import ingest_object

RDSR_CLASSES = {"1.2.840.10008.5.1.4.1.1.88.67", "1.2.840.10008.5.1.4.1.1.88.22"}
IMAGE_CLASSES = {
    "1.2.840.10008.5.1.4.1.1.1",  # CR
    "1.2.840.10008.5.1.4.1.1.1.1",  # DX for presentation
    "1.2.840.10008.5.1.4.1.1.1.1.1",  # DX for processing
    "1.2.840.10008.5.1.4.1.1.1.2",  # MG for presentation
    "1.2.840.10008.5.1.4.1.1.1.2.1",  # MG for processing
}
SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"
X_RAY_RADIATION_DOSE_REPORT = "113701"


def expected_kind(path) -> str:  # type: ignore[no-untyped-def]
    ds = sr_facts.read(path)
    sop_class = str(ds.SOPClassUID)
    if sop_class in RDSR_CLASSES:
        root = ds.ConceptNameCodeSequence[0].CodeValue if "ConceptNameCodeSequence" in ds else None
        return "dose" if root == X_RAY_RADIATION_DOSE_REPORT else "not_dose_report"
    if sop_class in IMAGE_CLASSES:
        return "dose"
    if sop_class == SECONDARY_CAPTURE:
        philips = "philips" in str(ds.get("Manufacturer", "")).lower()
        if philips and str(ds.get("SeriesDescription", "")).strip().lower() == "dose info":
            return "dose"
        if ds.get("Modality") == "MG" and "ORIGINAL" in list(ds.get("ImageType", [])):
            return "dose"
    return "unmatched"


def test_the_whole_corpus(sessions):
    assert len(list(corpus_dir().glob("*.dcm"))) == 52
    files = corpus_files()
    wrong = {}
    for path in files:
        outcome = ingest_object(sessions, path, source=f"file:{path.name}")
        expected = expected_kind(path)
        got = "dose" if outcome.extracted else outcome.outcome
        if expected == "not_dose_report" and outcome.outcome == "not_dose_report":
            assert outcome.reason, path.name
        if got != expected:
            wrong[path.name] = (expected, outcome.outcome, outcome.reason)
    assert wrong == {}
    with sessions() as session:
        failed = session.scalar(
            select(func.count()).select_from(model.RejectedObject).where(model.RejectedObject.outcome == "failed")
        )
        modalities = set(session.scalars(select(model.Study.modality)))
    assert failed == 0
    assert modalities == {"CT", "RF", "DX", "MG"}
