"""Every object handed to extraction leaves an outcome row, so that reconciliation can tell a lost
task from a finished one: unmatched objects and second copies of a processed SOP instance too."""

from __future__ import annotations

import pydicom
from sqlalchemy import select

from orthanc_rem import model
from orthanc_rem.ingest import ingest_object


def _rejected(sessions) -> dict[str, tuple[str, str | None]]:  # type: ignore[no-untyped-def]
    with sessions() as session:
        return {r.orthanc_id: (r.outcome, r.sop_class_uid) for r in session.scalars(select(model.RejectedObject))}


def test_an_unmatched_object_is_recorded_with_its_sop_class(sessions, corpus):
    path = corpus("NM-PetIm-GE.dcm")
    outcome = ingest_object(sessions, path, source="orthanc:pet", orthanc_id="pet")
    assert outcome.outcome == "unmatched"
    sop_class = str(pydicom.dcmread(path, stop_before_pixels=True).SOPClassUID)
    assert _rejected(sessions) == {"pet": ("unmatched", sop_class)}


def test_a_second_copy_of_a_processed_instance_is_recorded_the_same_copy_is_not(sessions, corpus):
    content = corpus("CT-RDSR-Siemens-Multi-1.dcm").read_bytes()
    assert ingest_object(sessions, content, source="orthanc:first", orthanc_id="first").outcome == "imported"
    assert ingest_object(sessions, content, source="orthanc:first", orthanc_id="first").outcome == "duplicate"
    assert _rejected(sessions) == {}  # the same Orthanc instance run twice: its processed row says enough
    assert ingest_object(sessions, content, source="orthanc:other", orthanc_id="other").outcome == "duplicate"
    assert [outcome for outcome, _ in _rejected(sessions).values()] == ["duplicate"]
    assert list(_rejected(sessions)) == ["other"]
