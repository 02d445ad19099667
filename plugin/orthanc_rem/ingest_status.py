"""What happened to the objects received, counted for the operator (home page, ``/api/status``).

An operator should see at a glance what needs a look: objects quarantined because their
extraction failed (kept in Orthanc, re-run with ``orthanc-rem reprocess --rejected``), objects
imported with warnings (values left empty, with the reason), and how many objects matched no
importer at all. The unmatched are counted but not listed with the objects not imported: a PACS
that forwards every image would bury the few that matter.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session

from orthanc_rem import model
from orthanc_rem.outcome import Outcome

#: Recorded outcomes (``rejected_object.outcome``) that are counted but not listed as "not imported".
NOT_LISTED = (Outcome.UNMATCHED,)


def ingest_status(session: Session) -> dict[str, Any]:
    rejected = model.RejectedObject
    query = select(rejected.outcome, func.count(rejected.id)).group_by(rejected.outcome)
    by_outcome: dict[str, int] = {outcome: count for outcome, count in session.execute(query)}
    processed = session.scalar(select(func.count(model.ProcessedObject.id))) or 0
    warned = session.scalar(select(func.count(distinct(model.ExtractionWarning.processed_object_fk)))) or 0
    return {
        "processed_objects": processed,
        "objects_with_warnings": warned,
        "failed_objects": by_outcome.get(Outcome.FAILED, 0),
        "not_imported_objects": sum(n for outcome, n in by_outcome.items() if outcome not in NOT_LISTED),
        "unmatched_objects": by_outcome.get(Outcome.UNMATCHED, 0),
        "not_imported_by_outcome": {o: n for o, n in sorted(by_outcome.items()) if o not in NOT_LISTED},
    }
