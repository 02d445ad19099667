"""Patient size imports as background jobs: upload, column mapping, run in a worker, abort, log.

The manual's web flow (L3223-3349): a file is uploaded, its columns are chosen, the import runs in
the background with "Processing row N of M" shown and an abort button; the source file is
deleted when the import ends (aborted or not); the log stays downloadable until deleted. The
job's state lives in the dose database (``model.SizeImportJob``) so that the page, the Orthanc
process and any worker see the same progress. The import itself is ``patient_size_import``.
"""

from __future__ import annotations

import datetime as dt
import logging
import time

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from orthanc_rem import job_heartbeat, model
from orthanc_rem.patient_size_import import SizeColumns, SizeFileError, import_sizes, read_size_file, summary_line

log = logging.getLogger(__name__)

AWAITING_COLUMNS = "columns"
QUEUED = "queued"
RUNNING = "running"
FINISHED = "finished"
ABORTED = "aborted"
FAILED = "failed"
ENDED = (FINISHED, ABORTED, FAILED)
#: The largest file accepted (a year of a big department's sizes is a few MB).
MAX_FILE_BYTES = 20 * 1024 * 1024
#: Progress is written, and the abort flag read, every this many rows...
PROGRESS_EVERY = 20
#: ... but not more often than this. Each progress step commits an UPDATE of the job's row, and
#: SQLite rewrites a row whole, uploaded file included: with a step every 20 rows a 200,000-row
#: file (4 MB) took 132 s instead of 3 s for 20,000, its time growing with the square of its size.
PROGRESS_INTERVAL_S = 0.25


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def create_job(session: Session, filename: str, content: bytes) -> model.SizeImportJob:
    """Keep an uploaded file until its columns are chosen; refuses what cannot be read as CSV."""
    if len(content) > MAX_FILE_BYTES:
        raise SizeFileError(f"the file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
    table = read_size_file(content)
    if not table.rows:
        raise SizeFileError("the file has a header row but no data rows")
    job = model.SizeImportJob(
        filename=filename or "upload.csv",
        status=AWAITING_COLUMNS,
        created_at=_now(),
        csv_content=content,
        rows_total=len(table.rows),
        rows_done=0,
        height_unit="cm",
        log="",
    )
    session.add(job)
    session.commit()
    return job


def headers(job: model.SizeImportJob) -> tuple[str, ...]:
    return read_size_file(job.csv_content).headers if job.csv_content else ()


def choose_columns(session: Session, job_id: int, columns: SizeColumns) -> model.SizeImportJob:
    """Record the user's column choice and mark the job queued (the caller enqueues it)."""
    job = session.get(model.SizeImportJob, job_id)
    if job is None or job.status != AWAITING_COLUMNS:
        raise SizeFileError(f"import {job_id} is not waiting for its columns")
    columns.check(headers(job))
    job.identifier_column = columns.identifier
    job.identifier_type = columns.identifier_type
    job.height_column = columns.height
    job.weight_column = columns.weight
    job.height_unit = columns.height_unit
    job.status = QUEUED
    session.commit()
    return job


def request_abort(session: Session, job_id: int) -> bool:
    """Ask a queued or running job to stop; the worker notices at its next progress step."""
    result = session.execute(
        update(model.SizeImportJob)
        .where(model.SizeImportJob.id == job_id, model.SizeImportJob.status.in_((QUEUED, RUNNING)))
        .values(abort_requested=True)
    )
    session.commit()
    return bool(result.rowcount)  # type: ignore[attr-defined]


def delete_job(session: Session, job_id: int) -> bool:
    """Delete an ended job (its log), one still waiting for its columns (its file), or one asked
    to abort: a job whose worker was killed would otherwise stay "running" for ever (huey hands a
    task out once); a worker still running it just finds the row gone when it ends."""
    job = session.get(model.SizeImportJob, job_id)
    if job is None or not (job.status in (*ENDED, AWAITING_COLUMNS) or job.abort_requested):
        return False
    session.delete(job)
    session.commit()
    return True


def list_jobs(session: Session) -> list[model.SizeImportJob]:
    return list(session.scalars(select(model.SizeImportJob).order_by(model.SizeImportJob.id.desc())))


def progress(job: model.SizeImportJob) -> dict[str, object]:
    """What the page's progress bar polls."""
    return {
        "id": job.id,
        "filename": job.filename,
        "status": job.status,
        "rows_done": job.rows_done,
        "rows_total": job.rows_total,
        "abort_requested": job.abort_requested,
        "error": job.error,
        "started_at": job.started_at.isoformat() + "Z" if job.started_at else None,
        "finished_at": job.finished_at.isoformat() + "Z" if job.finished_at else None,
    }


def run_job(sessions: sessionmaker[Session], job_id: int, heartbeat_s: float = job_heartbeat.EVERY_S) -> str:
    """Run a queued job (in a worker); returns its final status. Progress and the abort flag go
    through their own short transactions so the page sees them while the import runs; the
    worker's heartbeat (``job_heartbeat``) through its own."""
    with sessions() as session:
        job = session.get(model.SizeImportJob, job_id)
        if job is None or job.status != QUEUED:
            return job.status if job is not None else "missing"
        if job.abort_requested:
            return _end(session, job, ABORTED, "Aborted before it started.")
        job.status, job.started_at = RUNNING, _now()
        job_heartbeat.claim(job)
        session.commit()
        lines = [f"Patient size import from {job.filename}"]
        columns = SizeColumns(
            identifier=job.identifier_column or "",
            identifier_type=job.identifier_type or "",
            height=job.height_column,
            weight=job.weight_column,
            height_unit=job.height_unit,
        )
        content = job.csv_content or b""
    aborted = False
    with job_heartbeat.heartbeat(sessions, model.SizeImportJob, job_id, (RUNNING,), heartbeat_s), sessions() as session:

        last_step = time.monotonic()

        def after_row(done: int) -> bool:
            """Commit the rows so far with the progress, then read the abort flag: one short
            write transaction at a time (SQLite has one writer)."""
            nonlocal aborted, last_step
            if done % PROGRESS_EVERY or time.monotonic() - last_step < PROGRESS_INTERVAL_S:
                return True
            last_step = time.monotonic()
            session.execute(update(model.SizeImportJob).where(model.SizeImportJob.id == job_id).values(rows_done=done))
            session.commit()
            aborted = bool(
                session.scalar(select(model.SizeImportJob.abort_requested).where(model.SizeImportJob.id == job_id))
            )
            session.commit()
            return not aborted

        try:
            summary = import_sizes(session, read_size_file(content), columns, log=lines.append, after_row=after_row)
        except Exception as exc:
            session.rollback()
            if not isinstance(exc, SizeFileError):
                log.exception("patient size import %s failed", job_id)
            error = str(exc) if isinstance(exc, SizeFileError) else f"{type(exc).__name__}: {exc}"
            lines.append(f"Import failed: {error}")
            return _end(session, session.get(model.SizeImportJob, job_id), FAILED, "\n".join(lines), error)
    lines.append(summary_line(summary))
    if aborted:
        lines.append(f"Aborted on request after row {summary.rows} of {len(read_size_file(content).rows)}.")
    with sessions() as session:
        job = session.get(model.SizeImportJob, job_id)
        if job is not None:
            job.rows_done = summary.rows
        return _end(session, job, ABORTED if aborted else FINISHED, "\n".join(lines))


def mark_stopped(job: model.SizeImportJob, reason: str) -> None:
    """End a job whose worker stopped mid-file (``job_liveness``): the rows up to its last
    progress step were committed; the file goes as at any end, to be uploaded again."""
    job.status, job.finished_at, job.csv_content, job.error = FAILED, _now(), None, reason
    job.log = (
        f"{job.log}Import failed: {reason}.\nThe first {job.rows_done} rows were processed; upload the file "
        "again for the rest (heights and weights already stored are never overwritten).\n"
    )


def _end(
    session: Session, job: model.SizeImportJob | None, status: str, text: str, error: str | None = None
) -> str:
    """The job's end: status, log, and the source file dropped (manual L3313)."""
    if job is None:
        return "missing"
    job.status, job.error = status, error
    job.finished_at = _now()
    job.csv_content = None
    job.log = text + "\n"
    session.commit()
    return status
