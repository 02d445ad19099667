"""``persistence.replace_study_content``: the one place a study's content is swapped (reprocessing)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from orthanc_rem import model, persistence
from test_web import ct_report, event


def test_a_study_that_gained_an_object_meanwhile_is_left_as_it_is(sessions):
    """Reprocessing extracted objects A and B; C arrived before the swap: replacing the study's
    content with A and B alone would drop C, so nothing is changed."""
    first = ct_report(1, study_uid="1.2.9")
    second = ct_report(2, study_uid="1.2.9", events=(event("1.2.3.2.1", "Chest", 10.0, 300.0),))
    with sessions() as session:
        study_id = persistence.store_report(session, first).study_id
        assert persistence.store_report(session, second).study_id == study_id
    assert study_id is not None
    with sessions() as session, pytest.raises(persistence.StudyChanged):
        persistence.replace_study_content(session, study_id, [(first, None, None)])
    with sessions() as session:
        study = session.get(model.Study, study_id)
        assert study is not None
        assert {o.sop_instance_uid for o in study.objects} == {first.sop_instance_uid, second.sop_instance_uid}
        assert len(study.ct_radiation_doses) == 2


def test_replacing_keeps_the_id_and_the_rows_of_other_studies(sessions):
    with sessions() as session:
        other = persistence.store_report(session, ct_report(1)).study_id
        study_id = persistence.store_report(session, ct_report(2)).study_id
    assert study_id is not None
    fixed = ct_report(2, dlp_total=123.0)
    with sessions() as session:
        (result,) = persistence.replace_study_content(session, study_id, [(fixed, "abc", "orthanc:abc")])
    assert (result.outcome, result.study_id) == ("imported", study_id)
    with sessions() as session:
        assert list(session.scalars(select(model.Study.id).order_by(model.Study.id))) == [other, study_id]
        (dose,) = session.scalars(select(model.CtRadiationDose).where(model.CtRadiationDose.study_fk == study_id))
        assert dose.dlp_total_mgycm == 123.0
        assert session.scalars(select(model.ProcessedObject.orthanc_id).where(
            model.ProcessedObject.study_fk == study_id)).all() == ["abc"]


def test_a_cumulative_series_rebuilt_in_one_transaction_keeps_only_the_longest_report(corpus, sessions):
    """Siemens Multi-1, -2, -3 are cumulative RDSRs of one study (each holds the events of the one
    before): stored one after the other inside the swap's single transaction, the updated-RDSR
    rule must still see the report stored a moment earlier and replace it."""
    import sr_facts
    from orthanc_rem.extraction.dicom_file import read_dicom_file
    from orthanc_rem.extraction.dispatch import extract

    names = [f"CT-RDSR-Siemens-Multi-{n}.dcm" for n in (1, 2, 3)]
    reports = [extract(read_dicom_file(corpus(name)))[1] for name in names]
    with sessions() as session:
        for report in reports:
            study_id = persistence.store_report(session, report).study_id
    assert study_id is not None
    with sessions() as session:
        results = persistence.replace_study_content(session, study_id, [(r, None, None) for r in reports])
    assert [r.outcome for r in results] == ["imported", "replaced", "replaced"]
    with sessions() as session:
        (dose,) = session.scalars(select(model.CtRadiationDose).where(model.CtRadiationDose.study_fk == study_id))
        stored = {event.irradiation_event_uid for event in dose.events}
    assert stored == sr_facts.event_uids(sr_facts.read(corpus(names[2])))
