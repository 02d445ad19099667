"""Re-extracting stored studies and quarantined objects from what Orthanc still holds.

After an extractor upgrade (or a fix for a quarantined object) history can be corrected: every
object of a study is read again from Orthanc and imported afresh. A study is only taken apart
once all of its objects could be read, so a study whose objects are gone stays as it is.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from orthanc_rem import model
from orthanc_rem.ingest import ObjectOutcome, ingest_object
from orthanc_rem.orthanc_client import OrthancClient, OrthancHttpError, OrthancUnavailable


@dataclass(frozen=True)
class StudySkipped:
    study_id: int
    reason: str


def reprocess_studies(
    sessions: sessionmaker[Session], client: OrthancClient, study_ids: Iterable[int] | None = None
) -> Iterator[ObjectOutcome | StudySkipped]:
    """Re-import the given studies (all when ``study_ids`` is None) from Orthanc's copies."""
    with sessions() as session:
        query = select(model.Study.id).order_by(model.Study.id)
        if study_ids is not None:
            query = query.where(model.Study.id.in_(list(study_ids)))
        ids = list(session.scalars(query))
    for study_id in ids:
        yield from _reprocess_study(sessions, client, study_id)


def _reprocess_study(
    sessions: sessionmaker[Session], client: OrthancClient, study_id: int
) -> Iterator[ObjectOutcome | StudySkipped]:
    with sessions() as session:
        objects = list(
            session.execute(
                select(model.ProcessedObject.orthanc_id, model.ProcessedObject.sop_instance_uid).where(
                    model.ProcessedObject.study_fk == study_id
                )
            )
        )
    orthanc_ids = [(orthanc_id, uid) for orthanc_id, uid in objects if orthanc_id is not None]
    if len(orthanc_ids) < len(objects):
        yield StudySkipped(study_id, "imported from files, not from Orthanc: re-import them with 'orthanc-rem import'")
        return
    contents: list[tuple[str, bytes]] = []
    for orthanc_id, sop_instance_uid in orthanc_ids:
        try:
            contents.append((orthanc_id, client.instance_file(orthanc_id)))
        except (OrthancHttpError, OrthancUnavailable) as exc:
            yield StudySkipped(study_id, f"object {sop_instance_uid} cannot be read from Orthanc ({exc}); kept as is")
            return
    with sessions() as session:
        session.execute(delete(model.Study).where(model.Study.id == study_id))
        session.commit()
    for orthanc_id, content in contents:
        yield ingest_object(sessions, content, source=f"orthanc:{orthanc_id}", orthanc_id=orthanc_id)


def retry_rejected(
    sessions: sessionmaker[Session], client: OrthancClient, outcomes: tuple[str, ...] = ("failed",)
) -> Iterator[ObjectOutcome | StudySkipped]:
    """Run the quarantined objects Orthanc still holds through extraction again."""
    with sessions() as session:
        rows = list(
            session.execute(
                select(model.RejectedObject.source, model.RejectedObject.orthanc_id).where(
                    model.RejectedObject.outcome.in_(outcomes), model.RejectedObject.orthanc_id.is_not(None)
                )
            )
        )
    for source, orthanc_id in rows:
        if orthanc_id is None:
            continue
        try:
            content = client.instance_file(orthanc_id)
        except (OrthancHttpError, OrthancUnavailable) as exc:
            yield ObjectOutcome(source, "failed", f"cannot be read from Orthanc: {exc}")
            continue
        yield ingest_object(sessions, content, source=source, orthanc_id=orthanc_id)
