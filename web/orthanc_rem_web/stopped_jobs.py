"""Pages that show background jobs fail those whose worker stopped before showing them.

The workers do the same at start and every minute (``orthanc_rem.job_liveness``); the pages do it
too so that a job does not show "running" when no worker is left to run the check (all of them
killed, or on another host that is down).
"""

from __future__ import annotations

from orthanc_rem import job_liveness
from orthanc_rem_web.db import browser, dose_session, writer_session


def fail_stopped_jobs() -> None:
    """A read on each job table's status index; a write only when a job's worker stopped."""
    settings = browser().settings
    stopped = job_liveness.find_stopped(dose_session(), settings.job_heartbeat_s)
    if stopped:
        with writer_session() as session:
            job_liveness.fail_stopped(settings, session, stopped)
