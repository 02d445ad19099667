"""One object in, one outcome out: the path shared by Orthanc workers and ``orthanc-rem import``.

Whatever happens to an object is written down: imported objects in ``processed_object``,
objects that are not dose reports or could not be read in ``rejected_object`` with the reason.
Objects no importer handles at all ("unmatched": NM images, presentation states...) are recorded
there too but only counted, not listed, so that a PACS forwarding everything does not flood the
list; the record is what tells reconciliation the object was not lost. Bad input never raises
out of here, so a batch (or a worker) goes on with the next object; a database that cannot be
reached does raise (``DATABASE_UNAVAILABLE``): that is not the object's fault.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from orthanc_rem import model, persistence
from orthanc_rem.extraction.dicom_file import read_dicom_file
from orthanc_rem.extraction.dispatch import UnmatchedObject, extract
from orthanc_rem.extraction.records import ExtractionError, NotADoseReport
from orthanc_rem.extraction.routing import RouteKind
from orthanc_rem.extraction.sr import clean_text
from orthanc_rem.outcome import EXTRACTED, Outcome

log = logging.getLogger(__name__)

#: The database could not be used at all (server down or starting up, connection lost, SQLite
#: locked past its timeout): a fault of the moment, never of the object; the caller retries later.
DATABASE_UNAVAILABLE: tuple[type[Exception], ...] = (OperationalError, InterfaceError)


@dataclass(frozen=True)
class ObjectOutcome:
    source: str
    outcome: Outcome
    reason: str = ""
    study_id: int | None = None
    sop_instance_uid: str | None = None
    route: str | None = None  # the importer (RouteKind value), when one was chosen
    #: What the report's content says it is (CT, RF, DX, MG), when one was read: decides follow-up
    #: work such as the skin dose map (fluoroscopy only) without reading the study back.
    report_modality: str | None = None

    @property
    def ok(self) -> bool:
        return self.outcome != Outcome.FAILED

    @property
    def extracted(self) -> bool:
        """The object's content is in the database (now or from an earlier copy)."""
        return self.outcome in EXTRACTED


def ingest_object(
    sessions: sessionmaker[Session],
    content: bytes | Path,
    *,
    source: str,
    orthanc_id: str | None = None,
) -> ObjectOutcome:
    """Extract and store one DICOM object given as bytes or a file path."""
    sop_instance_uid = sop_class_uid = None
    route: RouteKind | None = None
    try:
        dataset = read_dicom_file(content)
        sop_instance_uid = clean_text(dataset.get("SOPInstanceUID"))
        sop_class_uid = clean_text(dataset.get("SOPClassUID"))
        taken, report = extract(dataset)
        route = taken.kind
        with sessions() as session:
            result = persistence.store_report(session, report, orthanc_id, source)
        if result.outcome == Outcome.DUPLICATE and orthanc_id is not None:
            _record_duplicate(sessions, source, result.detail, orthanc_id, sop_instance_uid, sop_class_uid)
        return ObjectOutcome(
            source, result.outcome, result.detail, result.study_id, sop_instance_uid, route, report.modality
        )
    except DATABASE_UNAVAILABLE:
        raise
    except UnmatchedObject as exc:
        outcome = record_outcome(
            sessions, source, Outcome.UNMATCHED, str(exc), orthanc_id, sop_instance_uid, sop_class_uid
        )
        return replace(outcome, route=RouteKind.UNMATCHED)
    except NotADoseReport as exc:
        return record_outcome(
            sessions, source, Outcome.NOT_DOSE_REPORT, str(exc), orthanc_id, sop_instance_uid, sop_class_uid
        )
    except ExtractionError as exc:
        return record_outcome(sessions, source, Outcome.FAILED, str(exc), orthanc_id, sop_instance_uid, sop_class_uid)
    except Exception as exc:  # noqa: BLE001 - any other failure is kept with its reason, never lost
        log.debug("import of %s failed", source, exc_info=True)  # the reason is kept; the stack for debugging
        reason = f"{type(exc).__name__}: {exc}"
        return record_outcome(sessions, source, Outcome.FAILED, reason, orthanc_id, sop_instance_uid, sop_class_uid)


def _record_duplicate(
    sessions: sessionmaker[Session],
    source: str,
    reason: str,
    orthanc_id: str,
    sop_instance_uid: str | None,
    sop_class_uid: str | None,
) -> None:
    """A second Orthanc instance carrying a SOP Instance UID already processed (e.g. the same
    report re-sent under another Study Instance UID) gets an outcome of its own, so that
    reconciliation does not take it for lost; the same instance processed twice needs none."""
    with sessions() as session:
        processed = model.ProcessedObject.orthanc_id
        if session.scalar(select(processed).where(processed == orthanc_id).limit(1)) is not None:
            return
    record_outcome(sessions, source, Outcome.DUPLICATE, reason, orthanc_id, sop_instance_uid, sop_class_uid)


def record_outcome(
    sessions: sessionmaker[Session],
    source: str,
    outcome: Outcome,
    reason: str,
    orthanc_id: str | None,
    sop_instance_uid: str | None,
    sop_class_uid: str | None,
) -> ObjectOutcome:
    """Store the outcome of an object that was not imported (``rejected_object``), in a
    transaction of its own, and return it."""
    with sessions() as session:
        persistence.record_rejection(
            session,
            source=source,
            outcome=outcome,
            reason=reason,
            orthanc_id=orthanc_id,
            sop_instance_uid=sop_instance_uid,
            sop_class_uid=sop_class_uid,
        )
    return ObjectOutcome(source, outcome, reason, None, sop_instance_uid)
