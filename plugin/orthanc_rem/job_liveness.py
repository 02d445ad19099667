"""Background jobs whose worker stopped: found by their heartbeat and marked failed with the reason.

huey hands a task out once. A worker killed mid-job (SIGKILL, the out-of-memory killer, its
container stopped) ends nothing itself, so its export, patient size import or query-retrieve query
stayed "running" for ever. Every running job therefore records its worker (host and process id,
``model.job.BackgroundJob``) and a heartbeat that a thread of that worker renews every
``Settings.job_heartbeat_s`` while the job runs: a single C-FIND or C-MOVE step may take minutes
(``qr.orthanc_dicom.MOVE_TIMEOUT_S``), so the job's own progress steps could not serve as the beat.

A job is taken for stopped when its heartbeat is older than :data:`STOPPED_AFTER_BEATS` beats,
wherever the check runs; on the worker's own host, when its process is gone and the heartbeat is
older than :data:`GONE_AFTER_BEATS` beats (the two beats' wait keeps a worker in another process
namespace that happens to share the host name, a container on the host's network, from being
judged by a process id that is not its own). The check runs when a worker pool starts, every
minute in the workers (a huey periodic task) and when a page shows a job.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from huey import Huey, crontab
from sqlalchemy import select
from sqlalchemy.orm import Session

from orthanc_rem import database, export_jobs, model, size_import_jobs
from orthanc_rem.config import Settings
from orthanc_rem.job_heartbeat import now, this_host
from orthanc_rem.model.job import BackgroundJob
from orthanc_rem.qr import store

log = logging.getLogger(__name__)

#: A heartbeat this many beats old means the worker stopped, on any host. Generous: on SQLite a
#: beat may wait for the write lock (busy timeout 60 s) while the worker is well.
STOPPED_AFTER_BEATS = 12
#: On the worker's own host, with its process gone: stopped once the heartbeat is this many beats old.
GONE_AFTER_BEATS = 2


@dataclass(frozen=True)
class JobKind:
    """One table of jobs: which statuses mean a worker is at it, and how such a job is failed."""

    name: str
    table: type[BackgroundJob]
    running: tuple[str, ...]
    fail: Callable[[Settings, Session, Any, str], None]


def _fail_export(settings: Settings, session: Session, job: model.ExportJob, reason: str) -> None:
    path = export_jobs.file_path(settings, job)
    if path is not None:
        path.unlink(missing_ok=True)  # the part written before the worker stopped
    job.file_name = None
    export_jobs.fail(session, job, reason)


KINDS = (
    JobKind("export", model.ExportJob, (export_jobs.Status.RUNNING,), _fail_export),
    JobKind("patient size import", model.SizeImportJob, (size_import_jobs.RUNNING,),
            lambda _settings, _session, job, reason: size_import_jobs.mark_stopped(job, reason)),
    JobKind("query", model.QrQuery, (store.QUERYING, store.RETRIEVING),
            lambda _settings, session, job, reason: store.mark_failed(session, job, reason)),
)  # fmt: skip


def stopped_reason(job: BackgroundJob, every_s: float, at: dt.datetime, host: str) -> str | None:
    """Why ``job`` (running) is taken for stopped at ``at``, seen from ``host``; None while its worker lives."""
    if job.heartbeat_at is None and job.worker_pid is None:
        return None  # waiting in the queue for a worker (``job_heartbeat.release``)
    last_seen = job.heartbeat_at or getattr(job, "started_at", None) or job.created_at
    age = (at - last_seen).total_seconds()
    where = f"{job.worker_host or 'an unknown host'}, process {job.worker_pid or '?'}"
    reason = f"worker stopped (last seen {last_seen:%Y-%m-%d %H:%M:%S} UTC on {where})"
    if age > STOPPED_AFTER_BEATS * every_s:
        return reason
    gone = job.worker_host == host and job.worker_pid is not None and not _alive(job.worker_pid)
    if gone and age > GONE_AFTER_BEATS * every_s:
        return reason
    return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass(frozen=True)
class StoppedJob:
    kind: str
    job_id: int
    reason: str


def find_stopped(
    session: Session, every_s: float, at: dt.datetime | None = None, host: str | None = None
) -> list[StoppedJob]:
    """The running jobs whose worker stopped (a read: one query on each table's status index)."""
    at, host = at or now(), host or this_host()
    found = []
    for kind in KINDS:
        column: Any = kind.table
        for job in session.scalars(select(column).where(column.status.in_(kind.running))):
            reason = stopped_reason(job, every_s, at, host)
            if reason is not None:
                found.append(StoppedJob(kind.name, job.id, reason))
    return found


def fail_stopped(
    settings: Settings, session: Session, stopped: Sequence[StoppedJob], at: dt.datetime | None = None,
    host: str | None = None,
) -> list[StoppedJob]:
    """Mark ``stopped`` failed with their reasons, each judged again here, in the writing
    transaction: its worker may have beaten or finished since the job was read."""
    at, host = at or now(), host or this_host()
    failed = []
    for found in stopped:
        kind = next(k for k in KINDS if k.name == found.kind)
        job: Any = session.get(kind.table, found.job_id, populate_existing=True)
        if job is None or job.status not in kind.running:
            continue
        reason = stopped_reason(job, settings.job_heartbeat_s, at, host)
        if reason is None:
            continue
        kind.fail(settings, session, job, reason)
        log.warning("%s %s failed: %s", kind.name, found.job_id, reason)
        failed.append(StoppedJob(kind.name, found.job_id, reason))
    return failed


def fail_stopped_jobs(settings: Settings, at: dt.datetime | None = None, host: str | None = None) -> list[StoppedJob]:
    """Find and fail, for the workers (at start, every minute)."""
    sessions = database.session_factory(settings.database_url)
    with sessions() as session:
        stopped = find_stopped(session, settings.job_heartbeat_s, at, host)
    if not stopped:
        return []
    with sessions.begin() as session:
        return fail_stopped(settings, session, stopped, at, host)


def register(huey: Huey, settings: Settings) -> None:
    """The check every minute in the workers (one consumer runs huey's periodic tasks)."""

    @huey.periodic_task(crontab(minute="*"), name="fail_stopped_jobs")
    def fail_stopped_jobs_task() -> int:
        return len(fail_stopped_jobs(settings))
