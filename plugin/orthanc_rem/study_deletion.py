"""Deleting studies from the dose database (manual, "Deleting studies", L3127-3220).

One study from a filtered list, or all the studies of one system (one modality at a time), with
or without the system's row in the display names table. Orthanc keeps its copies of the objects:
each one is recorded as "ignored, its study was deleted", so that the reconciliation run at each
start does not import it again behind the administrator's back; ``orthanc-rem reprocess
--rejected --include-not-dose-reports`` does not touch them either, and the "Not imported" page
says what happened to them.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from orthanc_rem import model, persistence
from orthanc_rem.outcome import Outcome

DELETED_REASON = "its study was deleted from the dose database by an administrator"


@dataclass(frozen=True)
class SystemDeletion:
    studies_deleted: int
    #: Studies of the system under another modality, kept (and the system row with them).
    studies_kept: int
    equipment_removed: bool


def _remember_objects(session: Session, study_ids: list[int]) -> None:
    """Record every Orthanc object of the studies as ignored, before the studies go."""
    objects = session.execute(
        select(
            model.ProcessedObject.orthanc_id,
            model.ProcessedObject.sop_instance_uid,
            model.ProcessedObject.sop_class_uid,
        ).where(model.ProcessedObject.study_fk.in_(study_ids), model.ProcessedObject.orthanc_id.is_not(None))
    ).all()
    for orthanc_id, sop_instance_uid, sop_class_uid in objects:
        statement = persistence._insert(session, model.RejectedObject).values(
            source=f"orthanc:{orthanc_id}",
            orthanc_id=orthanc_id,
            sop_instance_uid=sop_instance_uid,
            sop_class_uid=sop_class_uid,
            outcome=Outcome.IGNORED,
            reason=DELETED_REASON,
            attempts=1,
            last_attempt_at=persistence.now(),
        )
        session.execute(
            statement.on_conflict_do_update(
                index_elements=["source"],
                set_={"outcome": Outcome.IGNORED, "reason": DELETED_REASON, "last_attempt_at": persistence.now()},
            )
        )


def _delete_studies(session: Session, study_ids: list[int]) -> int:
    if not study_ids:
        return 0
    _remember_objects(session, study_ids)
    # Through the ORM, so that every dose tree goes with its study (cascade), on SQLite and PostgreSQL.
    for study in session.scalars(select(model.Study).where(model.Study.id.in_(study_ids))):
        session.delete(study)
    session.flush()
    return len(study_ids)


def delete_study(session: Session, study_id: int) -> bool:
    """Delete one study and everything read into it; False if there is no such study."""
    if session.get(model.Study, study_id) is None:
        return False
    _delete_studies(session, [study_id])
    session.commit()
    return True


def delete_system_studies(
    session: Session, equipment_id: int, modality: str, *, remove_equipment: bool = False
) -> SystemDeletion:
    """Delete the system's studies shown under ``modality``; with ``remove_equipment`` also its
    row, unless studies under another modality remain (those are neither deleted nor orphaned)."""
    equipment = session.get(model.Equipment, equipment_id)
    if equipment is None:
        raise ValueError(f"no equipment with id {equipment_id}")
    ids = list(
        session.scalars(
            select(model.Study.id).where(model.Study.equipment_id == equipment_id, model.Study.modality == modality)
        )
    )
    deleted = _delete_studies(session, ids)
    kept = session.scalar(select(func.count(model.Study.id)).where(model.Study.equipment_id == equipment_id)) or 0
    removed = False
    if remove_equipment and kept == 0:
        session.execute(delete(model.Equipment).where(model.Equipment.id == equipment_id))
        removed = True
    session.commit()
    return SystemDeletion(deleted, kept, removed)
