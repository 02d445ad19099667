"""What happened to one object received: the outcomes ingestion, re-processing and the workers report.

A :class:`enum.StrEnum`, so a misspelt outcome is an ``AttributeError`` at import rather than a row
that no count ever finds, while the stored ``rejected_object.outcome`` values, the log lines
(``orthanc:<id>: failed``) and the JSON of ``/api/status`` stay the plain strings they always were
(a StrEnum member *is* its value: it compares, hashes and formats as that string).
"""

from __future__ import annotations

import enum


class Outcome(enum.StrEnum):
    #: Stored as a new dose report (``processed_object``).
    IMPORTED = "imported"
    #: Stored, replacing older cumulative reports of the same study (the manual's "update" rule).
    REPLACED = "replaced"
    #: The SOP Instance UID was processed already.
    DUPLICATE = "duplicate"
    #: A cumulative report whose events are all stored already: nothing new.
    SUPERSEDED = "superseded"
    #: Read, but not a dose report an importer takes (image, other SR...): kept in ``rejected_object``.
    NOT_DOSE_REPORT = "not_dose_report"
    #: No importer handles this kind of object at all: counted, not listed.
    UNMATCHED = "unmatched"
    #: Nothing to do (the instance was deleted from Orthanc before a worker reached it).
    IGNORED = "ignored"
    #: Extraction or storage failed: quarantined with the reason, re-run after a fix.
    FAILED = "failed"


#: The outcomes after which the object's content is in the database (now or from an earlier copy).
EXTRACTED = frozenset({Outcome.IMPORTED, Outcome.REPLACED, Outcome.DUPLICATE, Outcome.SUPERSEDED})
