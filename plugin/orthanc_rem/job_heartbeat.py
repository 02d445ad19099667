"""The worker's side of ``job_liveness``: record which process runs a job, and beat while it does.

Kept apart from ``job_liveness`` (which knows every kind of job and how each is failed) so that
the job modules themselves can use it without importing one another.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from orthanc_rem.model.job import BackgroundJob

log = logging.getLogger(__name__)

#: Seconds between two beats when the caller has no settings at hand (``Settings.job_heartbeat_s``).
EVERY_S = 10.0


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def this_host() -> str:
    return socket.gethostname()


def claim(job: BackgroundJob) -> None:
    """Record this process as the job's worker; called in the transaction that marks it running."""
    job.worker_host, job.worker_pid, job.heartbeat_at = this_host(), os.getpid(), now()


def release(job: BackgroundJob) -> None:
    """The job is back in the queue, waiting for a worker (a retrieve asked for after its query):
    no worker is to be judged until one claims it."""
    job.worker_host, job.worker_pid, job.heartbeat_at = None, None, None


@contextmanager
def heartbeat(
    sessions: sessionmaker[Session],
    table: type[BackgroundJob],
    job_id: int,
    running: tuple[str, ...],
    every_s: float,
) -> Iterator[None]:
    """Renew the job's heartbeat every ``every_s`` from a thread of its own while the block runs.

    A thread, not the job's progress steps: one step (a C-MOVE) may take minutes. Each beat is
    one short transaction, and only while the job is still ``running``: a job failed in the
    meantime (its worker judged stopped) is not brought back by a late beat.
    """
    stop = threading.Event()
    column: Any = table

    def beat() -> None:
        while not stop.wait(every_s):
            try:
                with sessions.begin() as session:
                    session.execute(
                        update(column)
                        .where(column.id == job_id, column.status.in_(running))
                        .values(heartbeat_at=now())
                    )
            except Exception as exc:  # noqa: BLE001 - the job goes on; a later beat may get through
                log.warning("%s %s: heartbeat not recorded: %s", column.__tablename__, job_id, exc)

    thread = threading.Thread(target=beat, name=f"heartbeat-{column.__tablename__}-{job_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
