"""Re-extraction from Orthanc's copies: history fixed after an extractor upgrade, quarantine re-run.

Uses a real Orthanc (without our plugin) as the store of objects.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

import sr_facts
from orthanc_harness import running_orthanc
from orthanc_rem import model, persistence
from orthanc_rem.ingest import ingest_object
from orthanc_rem.orthanc_client import OrthancClient
from orthanc_rem.reprocess import StudySkipped, reprocess_studies, retry_rejected

pytestmark = pytest.mark.orthanc


@pytest.fixture
def orthanc(tmp_path):
    with running_orthanc(tmp_path / "orthanc") as process:
        yield process


def upload(orthanc, path) -> str:  # type: ignore[no-untyped-def]
    answer = json.loads(orthanc.request("POST", "/instances", path.read_bytes()))
    return answer["ID"]


def test_reprocess_rebuilds_a_study_from_orthanc(orthanc, corpus, sessions):
    path = corpus("CT-RDSR-Siemens_Flash-TAP-SS.dcm")
    orthanc_id = upload(orthanc, path)
    client = OrthancClient(orthanc.url())
    assert ingest_object(sessions, client.instance_file(orthanc_id), source="x", orthanc_id=orthanc_id).ok
    with sessions() as session:
        dose = session.scalars(select(model.CtRadiationDose)).one()
        dose.dlp_total_mgycm = -1.0  # what an older, wrong extractor might have stored
        session.commit()

    results = list(reprocess_studies(sessions, client))
    assert [r.outcome for r in results] == ["imported"]
    with sessions() as session:
        dose = session.scalars(select(model.CtRadiationDose)).one()
        assert dose.dlp_total_mgycm == pytest.approx(sr_facts.total_dlp(sr_facts.read(path)))
        assert session.scalars(select(model.ProcessedObject.orthanc_id)).all() == [orthanc_id]


def test_a_study_imported_from_files_is_left_alone(orthanc, corpus, sessions):
    assert ingest_object(sessions, corpus("CT-RDSR-GEPixelMed.dcm"), source="file").ok
    (result,) = reprocess_studies(sessions, OrthancClient(orthanc.url()))
    assert isinstance(result, StudySkipped)
    with sessions() as session:
        assert len(session.scalars(select(model.Study)).all()) == 1


def test_quarantined_objects_are_run_again(orthanc, corpus, sessions):
    orthanc_id = upload(orthanc, corpus("CT-RDSR-ToshibaPixelMed.dcm"))
    with sessions() as session:
        persistence.record_rejection(
            session, source=f"orthanc:{orthanc_id}", outcome="failed", reason="old bug", orthanc_id=orthanc_id
        )
    results = list(retry_rejected(sessions, OrthancClient(orthanc.url())))
    assert [r.outcome for r in results] == ["imported"]
    with sessions() as session:
        assert session.scalars(select(model.RejectedObject)).all() == []
        assert len(session.scalars(select(model.Study)).all()) == 1
