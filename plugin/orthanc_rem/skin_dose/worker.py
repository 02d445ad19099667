"""The huey task that computes a study's skin dose map apart from ingest.

A 316-event report takes seconds in the engine; ingest must not wait for it, so the import task
only queues this one after a fluoroscopy report (``tasks.build_queue``), a patient size import
queues the maps that assumed a size the study now has, and the dose pages queue it on demand when
a study has no current map.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from typing import TYPE_CHECKING, Any

from huey import Huey
from huey.api import TaskWrapper
from huey.exceptions import RetryTask
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session, sessionmaker

from orthanc_rem import database, model
from orthanc_rem.config import Settings
from orthanc_rem.ingest import DATABASE_UNAVAILABLE
from orthanc_rem.skin_dose.cache import refresh_skin_dose
from orthanc_rem.skin_dose.engine import Progress

if TYPE_CHECKING:
    from orthanc_rem.tasks import ExtractionQueue

log = logging.getLogger(__name__)
RETRY_DELAY_S = 10


#: Where a running calculation leaves its progress in the queue's key-value store (huey ``put``),
#: for the page that waits for it; removed when the task ends.
PROGRESS_KEY = "skin-dose-progress:{study_id}"
PROGRESS_EVERY_S = 1.0


def register_skin_dose_task(huey: Huey, settings: Settings) -> TaskWrapper:
    @huey.task(name="compute_skin_dose")
    def compute_skin_dose(study_id: int) -> str:
        key = PROGRESS_KEY.format(study_id=study_id)
        try:
            row = refresh_skin_dose(
                database.session_factory(settings.database_url), study_id, progress=progress_writer(huey, key)
            )
        except DATABASE_UNAVAILABLE as exc:
            raise RetryTask(delay=RETRY_DELAY_S) from exc
        finally:
            huey.get(key)  # a read without peek removes the entry
        if row is None:
            return "not fluoroscopy"
        psd = f" PSD {row.peak_skin_dose_gy:.3f} Gy" if row.peak_skin_dose_gy is not None else ""
        log.info("study %s: skin dose %s%s %s", study_id, row.status, psd, row.reason or "")
        return row.status

    return compute_skin_dose


def progress_writer(huey: Huey, key: str) -> Progress:
    """Events done of the running calculation, written at most once a second (and at start and end):
    a 316-event report runs for seconds, a write per event would only load the queue."""
    started = dt.datetime.now(dt.UTC).replace(tzinfo=None).isoformat(timespec="seconds")
    last_write = [0.0]

    def write(done: int, total: int) -> None:
        now = time.monotonic()
        if 0 < done < total and now - last_write[0] < PROGRESS_EVERY_S:
            return
        last_write[0] = now
        huey.put(key, {"state": "calculating", "events_done": done, "events": total, "started_at": started})

    return write


def calculation_progress(huey: Huey, study_id: int) -> dict[str, Any] | None:
    """What the worker computing the study's map last said, or None when none is running."""
    found = huey.get(PROGRESS_KEY.format(study_id=study_id), peek=True)
    return found if isinstance(found, dict) else None


def queue_skin_dose(queue: ExtractionQueue, study_id: int | None) -> None:
    if study_id is not None and queue.compute_skin_dose is not None:
        queue.compute_skin_dose(study_id)


def queue_maps_with_new_sizes(queue: ExtractionQueue, sessions: sessionmaker[Session]) -> int:
    """After a patient size import: queue every stored map that assumed a height or mass the study now
    has, so the list's PSD is recomputed without waiting for someone to open the page.

    A size import only fills sizes that were missing, so an assumed value is what it can change; the
    task recomputes only if the inputs really changed (an implausible size stays assumed)."""
    sdm, patient = model.SkinDoseMap, model.Patient
    with sessions() as session:
        study_ids = session.scalars(
            select(sdm.study_fk)
            .join(patient, patient.study_fk == sdm.study_fk)
            .where(
                or_(
                    and_(sdm.height_assumed.is_(True), patient.size_m.is_not(None)),
                    and_(sdm.mass_assumed.is_(True), patient.weight_kg.is_not(None)),
                )
            )
            .order_by(sdm.study_fk)
        ).all()
    for study_id in study_ids:
        queue_skin_dose(queue, study_id)
    return len(study_ids)
