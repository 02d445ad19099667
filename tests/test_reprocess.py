"""Re-extraction from Orthanc's copies: history fixed after an extractor upgrade, quarantine re-run.

Uses a real Orthanc (without our plugin) as the store of objects.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

import sr_facts
from orthanc_harness import running_orthanc
from orthanc_rem import model, persistence, reprocess
from orthanc_rem.extraction.records import ExtractionError
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


def study_ids(sessions) -> list[int]:  # type: ignore[no-untyped-def]
    with sessions() as session:
        return list(session.scalars(select(model.Study.id).order_by(model.Study.id)))


def test_reprocess_keeps_the_study_id(orthanc, corpus, sessions):
    """Links to /rem/ct/<id> and /rem/api/studies/<id> must survive an extractor upgrade."""
    client = OrthancClient(orthanc.url())
    for name in ("CT-RDSR-Siemens-Multi-1.dcm", "CT-RDSR-Siemens-Multi-3.dcm", "CT-RDSR-GEPixelMed.dcm"):
        orthanc_id = upload(orthanc, corpus(name))
        assert ingest_object(sessions, client.instance_file(orthanc_id), source=name, orthanc_id=orthanc_id).ok
    before = study_ids(sessions)
    multi = sr_facts.read(corpus("CT-RDSR-Siemens-Multi-3.dcm"))
    with sessions() as session:
        siemens = session.scalars(
            select(model.Study).where(model.Study.study_instance_uid == multi.StudyInstanceUID)
        ).one()
        siemens_id, imported_at = siemens.id, siemens.imported_at

    results = list(reprocess_studies(sessions, client, [siemens_id]))
    assert [r.outcome for r in results] == ["imported", "replaced"]  # the cumulative rule, in arrival order
    assert study_ids(sessions) == before
    with sessions() as session:
        study = session.get(model.Study, siemens_id)
        assert study is not None and study.imported_at == imported_at
        (dose,) = study.ct_radiation_doses
        assert {e.irradiation_event_uid for e in dose.events} == sr_facts.event_uids(multi)
        assert len(study.objects) == 2


def test_a_failure_during_extraction_leaves_the_study_as_it_was(orthanc, corpus, sessions, monkeypatch):
    client = OrthancClient(orthanc.url())
    first, second = corpus("CT-RDSR-Siemens-Multi-1.dcm"), corpus("CT-RDSR-Siemens-Multi-3.dcm")
    for path in (first, second):
        orthanc_id = upload(orthanc, path)
        assert ingest_object(sessions, client.instance_file(orthanc_id), source=path.name, orthanc_id=orthanc_id).ok
    (study_id,) = study_ids(sessions)
    failing_uid = sr_facts.read(second).SOPInstanceUID
    real_extract = reprocess.extract

    def extract_failing_on_the_second(ds):  # type: ignore[no-untyped-def]
        if ds.SOPInstanceUID == failing_uid:
            raise ExtractionError("an extractor bug")
        return real_extract(ds)

    monkeypatch.setattr(reprocess, "extract", extract_failing_on_the_second)
    results = list(reprocess_studies(sessions, client))
    assert [getattr(r, "outcome", "skipped") for r in results] == ["failed", "skipped"]
    assert study_ids(sessions) == [study_id]
    with sessions() as session:
        study = session.get(model.Study, study_id)
        assert study is not None
        assert {o.sop_instance_uid for o in study.objects} == {sr_facts.read(first).SOPInstanceUID, failing_uid}
        (dose,) = study.ct_radiation_doses
        assert {e.irradiation_event_uid for e in dose.events} == sr_facts.event_uids(sr_facts.read(second))
        assert session.scalars(select(model.RejectedObject)).all() == []


def test_objects_listed_as_not_a_dose_report_are_run_again_on_request(orthanc, corpus, sessions):
    """E.g. objects that arrived before the importer for their kind existed."""
    orthanc_id = upload(orthanc, corpus("CT-RDSR-ToshibaPixelMed.dcm"))
    with sessions() as session:
        persistence.record_rejection(
            session,
            source=f"orthanc:{orthanc_id}",
            outcome="not_dose_report",
            reason="no importer yet",
            orthanc_id=orthanc_id,
        )
    client = OrthancClient(orthanc.url())
    assert list(retry_rejected(sessions, client)) == []
    results = list(retry_rejected(sessions, client, reprocess.REJECTED_OUTCOMES))
    assert [r.outcome for r in results] == ["imported"]
    assert len(study_ids(sessions)) == 1
