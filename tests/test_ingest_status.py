"""What an operator sees of the outcomes: failed, warned and unmatched objects are counted on the
home page and at ``/api/status``; unmatched objects are counted but not listed as "not imported"."""

from __future__ import annotations

from orthanc_rem import model
from test_web import api, client, ct_report, page, reject  # noqa: F401 - fixtures


def test_failed_warned_and_unmatched_objects_are_counted_where_an_operator_looks(client, store, sessions):  # noqa: F811
    first = store(ct_report(1))
    store(ct_report(2))
    with sessions() as session:
        processed = session.query(model.ProcessedObject).filter_by(study_fk=first).one()
        session.add_all([model.ExtractionWarning(processed_object_fk=processed.id, message=m) for m in "ab"])
        session.commit()
    reject(sessions, 1, "failed")
    reject(sessions, 2, "not_dose_report")
    reject(sessions, 3, "unmatched")
    reject(sessions, 4, "unmatched")

    status = api(client, "/api/status")
    assert status["processed_objects"] == 2
    assert status["objects_with_warnings"] == 1
    assert status["failed_objects"] == 1
    assert status["unmatched_objects"] == 2
    assert status["not_imported_objects"] == 2
    text = page(client, "/")
    assert "2 objects were not imported" in text
    assert "of which 1 failed" in text
    assert "1 imported objects have warnings" in text
    assert "2 objects matched no importer" in text
    listed = api(client, "/api/rejected")
    assert sorted(row["outcome"] for row in listed) == ["failed", "not_dose_report"]
