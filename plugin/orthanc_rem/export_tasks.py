"""The background export: a huey task on the extraction queue, run by the same worker processes.

``register`` is called by ``tasks.build_queue`` so that every consumer knows the task;
``queue_export`` is how the dose browser hands a job to the workers.
"""

from __future__ import annotations

import threading

from huey import Huey, MemoryHuey
from huey.api import TaskWrapper

from orthanc_rem.config import Settings

TASK_NAME = "run_export_job"
_tasks: dict[int, TaskWrapper] = {}
_queues: dict[str, Huey] = {}
_lock = threading.Lock()


def register(huey: Huey, settings: Settings) -> TaskWrapper:
    @huey.task(name=TASK_NAME)
    def run_export_job(job_id: int) -> str:
        from orthanc_rem.export_jobs import run_job

        # The list filters live with the dose browser; see orthanc_rem_web.export_selection.
        from orthanc_rem.exports.selection import selected_studies

        return str(run_job(settings, job_id, selected_studies).status)

    _tasks[id(huey)] = run_export_job
    return run_export_job


def queue_for(settings: Settings) -> Huey:
    """The extraction queue of ``settings`` (built once per process), with the export task."""
    from orthanc_rem.tasks import build_queue

    if settings.queue_url.startswith("memory:"):
        # No queue (tests, a dose browser without workers): the export runs in the request.
        huey = MemoryHuey(immediate=True)
        register(huey, settings)
        return huey
    with _lock:
        huey = _queues.get(settings.queue_url)
        if huey is None:
            huey = _queues[settings.queue_url] = build_queue(settings).huey
        return huey


def queue_export(settings: Settings, job_id: int) -> None:
    huey = queue_for(settings)
    _tasks[id(huey)](job_id)
