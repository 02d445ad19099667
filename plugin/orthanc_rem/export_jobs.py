"""Export jobs: start one, run it (in a worker or from the command line), follow it, abort it,
delete it. The export itself is ``exports.runner.run_export``; this module keeps its record.

Which studies a job takes is given by a *selection* function (the study lists' filters applied to
the job's stored query string), passed in by the caller so that the core does not import the web
layer that owns the list filters.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Callable, Mapping
from enum import StrEnum
from pathlib import Path
from typing import Any

from sqlalchemy import Select, select, update
from sqlalchemy.orm import Session

from orthanc_rem import database, export_settings, job_heartbeat, model
from orthanc_rem.config import Settings
from orthanc_rem.exports.columns import PatientData
from orthanc_rem.exports.runner import ExportAborted, ExportFormat, ExportRequest, NoStudies, run_export

log = logging.getLogger(__name__)

EXPORTS_FOLDER = "exports"
Selection = Callable[[str, Mapping[str, str]], Select[Any]]


class Status(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"
    ABORTED = "aborted"


ACTIVE = (Status.QUEUED, Status.RUNNING)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def exports_dir(settings: Settings) -> Path:
    return settings.data_dir / EXPORTS_FOLDER


def create_job(
    session: Session, *, owner: str | None, request: ExportRequest, filters: Mapping[str, str]
) -> model.ExportJob:
    job = model.ExportJob(
        owner=owner,
        export_format=str(request.format),
        modality=request.modality,
        with_names=request.patient.names,
        with_ids=request.patient.ids,
        byte_order_mark=request.byte_order_mark,
        filters=dict(filters),
        status=Status.QUEUED,
        studies_done=0,
        created_at=_now(),
    )
    session.add(job)
    session.flush()
    return job


def export_request(job: model.ExportJob) -> ExportRequest:
    return ExportRequest(
        job.modality,
        ExportFormat(job.export_format),
        PatientData(job.with_names, job.with_ids),
        byte_order_mark=job.byte_order_mark,
    )


def file_path(settings: Settings, job: model.ExportJob) -> Path | None:
    return exports_dir(settings) / job.file_name if job.file_name else None


def fail(session: Session, job: model.ExportJob, reason: str) -> None:
    job.status, job.error, job.finished_at = Status.FAILED, reason, _now()


def run_job(
    settings: Settings,
    job_id: int,
    selection: Selection,
    progress: Callable[[int, int], None] | None = None,
    output: Path | None = None,
) -> model.ExportJob:
    """Run a queued job to its end: finished, failed (with the reason) or aborted (file removed).

    The file goes under the data folder's ``exports`` (downloadable from the Exports page), or to
    ``output`` when the command line names one.
    """
    writer = database.session_factory(settings.database_url)
    reader = database.session_factory(settings.database_url, writer=False)
    with writer() as session:
        job = session.get(model.ExportJob, job_id)
        if job is None:
            raise LookupError(f"no export job {job_id}")
        if job.status != Status.QUEUED:  # aborted while it waited, or already run
            return job
        # The date format in force when the export starts (the setting, not the request).
        request = dataclasses.replace(export_request(job), date_format=export_settings.date_format(session))
        started = _now()
        job.status, job.started_at = Status.RUNNING, started
        job_heartbeat.claim(job)
        job.file_name = None if output is not None else request.file_name(started)
        filters = dict(job.filters)
        session.commit()
    if output is None:
        output = exports_dir(settings) / request.file_name(started)
    output.parent.mkdir(parents=True, exist_ok=True)

    def record_progress(done: int, total: int) -> None:
        with writer.begin() as progress_session:
            progress_session.execute(
                update(model.ExportJob)
                .where(model.ExportJob.id == job_id)
                .values(studies_done=done, studies_total=total)
            )
        if progress is not None:
            progress(done, total)

    def abort_requested() -> bool:
        with reader() as check:
            return bool(check.scalar(select(model.ExportJob.abort_requested).where(model.ExportJob.id == job_id)))

    outcome: dict[str, Any]
    beating = job_heartbeat.heartbeat(writer, model.ExportJob, job_id, (Status.RUNNING,), settings.job_heartbeat_s)
    try:
        with beating:
            result = run_export(
                reader, request, selection(job.modality, filters), output, record_progress, abort_requested
            )
        outcome = {"status": Status.FINISHED, "rows_written": result.rows, "studies_total": result.studies}
        if result.missing:
            outcome["error"] = (
                f"{result.missing} studies were deleted or replaced during the export (noted in the file)"
            )
    except ExportAborted:
        outcome = {"status": Status.ABORTED, "file_name": None}
    except NoStudies as exc:
        outcome = {"status": Status.FAILED, "error": str(exc), "file_name": None, "studies_total": 0}
    except Exception as exc:  # noqa: BLE001 - any failure is the job's, recorded for the user
        log.warning("export job %d failed: %s", job_id, exc, exc_info=log.isEnabledFor(logging.DEBUG))
        output.unlink(missing_ok=True)
        outcome = {"status": Status.FAILED, "error": f"{type(exc).__name__}: {exc}", "file_name": None}
    with writer() as session:
        job = session.get(model.ExportJob, job_id)  # type: ignore[assignment]
        assert job is not None
        for name, value in outcome.items():
            setattr(job, name, value)
        job.finished_at = _now()
        session.commit()
        log.info("export job %d: %s", job_id, job.status)
        return job


def request_abort(session: Session, job_id: int) -> bool:
    """Ask a queued or running job to stop; True when it was still active."""
    job = session.get(model.ExportJob, job_id)
    if job is None or job.status not in ACTIVE:
        return False
    job.abort_requested = True
    if job.status == Status.QUEUED:
        job.status, job.finished_at = Status.ABORTED, _now()
    return True


def delete_job(settings: Settings, session: Session, job_id: int) -> bool:
    """Remove a finished, failed or aborted job and its file (a running job is aborted first)."""
    job = session.get(model.ExportJob, job_id)
    if job is None or job.status in ACTIVE:
        return False
    path = file_path(settings, job)
    if path is not None:
        path.unlink(missing_ok=True)
    session.delete(job)
    return True


def list_jobs(session: Session, owner: str | None = None, everyone: bool = True) -> list[model.ExportJob]:
    query = select(model.ExportJob).order_by(model.ExportJob.created_at.desc(), model.ExportJob.id.desc())
    if not everyone:
        query = query.where(model.ExportJob.owner == owner)
    return list(session.scalars(query))
