"""The extraction queue: huey tasks that turn objects stored in Orthanc into dose rows.

The queue is built from settings rather than at import time, because the producer (the plugin,
configured by ``orthanc.json``) and the consumers (worker processes, configured by the
environment the plugin hands them) learn their settings differently but must agree on them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from huey import Huey, RedisHuey, SqliteHuey
from huey.api import TaskWrapper

from orthanc_rem import database, persistence
from orthanc_rem.config import Settings
from orthanc_rem.ingest import DOSE_REPORT_SOP_CLASSES, ObjectOutcome, ingest_object
from orthanc_rem.orthanc_client import OrthancClient, OrthancHttpError, OrthancUnavailable

log = logging.getLogger(__name__)

QUEUE_NAME = "orthanc-rem"
#: How long a worker keeps trying to read an object while Orthanc does not answer (20 x 3 s).
ORTHANC_RETRIES = 20
ORTHANC_RETRY_DELAY_S = 3


def create_huey(queue_url: str) -> Huey:
    """``sqlite:///path`` (embedded default) or ``redis://host:port/db``."""
    parsed = urlparse(queue_url)
    if parsed.scheme == "sqlite":
        path = queue_url[len("sqlite:///") :] if queue_url.startswith("sqlite:///") else parsed.path
        # results=False: nobody reads task results, and storing them would grow the queue file.
        return SqliteHuey(QUEUE_NAME, filename=path, results=False, timeout=60)
    if parsed.scheme in ("redis", "rediss"):
        return RedisHuey(QUEUE_NAME, url=queue_url, results=False)
    raise ValueError(f"unsupported queue URL {queue_url!r}: use sqlite:///path or redis://host:port/db")


@dataclass
class ExtractionQueue:
    huey: Huey
    ingest_orthanc_instance: TaskWrapper


def build_queue(settings: Settings) -> ExtractionQueue:
    huey = create_huey(settings.queue_url)
    worker_state: dict[str, object] = {}

    def client() -> OrthancClient:
        if "client" not in worker_state:
            worker_state["client"] = OrthancClient(settings.orthanc_url, settings.orthanc_authorization)
        return worker_state["client"]  # type: ignore[return-value]

    @huey.task(retries=ORTHANC_RETRIES, retry_delay=ORTHANC_RETRY_DELAY_S, name="ingest_orthanc_instance", context=True)
    def ingest_orthanc_instance(orthanc_id: str, task: Any = None) -> str:
        """Retried only when Orthanc cannot be reached; bad objects are quarantined, not retried.

        When the last retry fails too, the instance is listed as failed so that it can be re-run
        once Orthanc answers again, instead of vanishing from the queue unnoticed.
        """
        try:
            return process_orthanc_instance(settings, client(), orthanc_id).outcome
        except OrthancUnavailable as exc:
            if task is not None and task.retries > 0:
                raise
            with database.session_factory(settings.database_url)() as session:
                persistence.record_rejection(
                    session,
                    source=f"orthanc:{orthanc_id}",
                    outcome="failed",
                    reason=f"Orthanc could not be read after {ORTHANC_RETRIES} retries: {exc}",
                    orthanc_id=orthanc_id,
                )
            return "failed"

    return ExtractionQueue(huey, ingest_orthanc_instance)


def process_orthanc_instance(settings: Settings, client: OrthancClient, orthanc_id: str) -> ObjectOutcome:
    sessions = database.session_factory(settings.database_url)
    source = f"orthanc:{orthanc_id}"
    try:
        sop_class_uid = client.sop_class_uid(orthanc_id)
        if sop_class_uid is not None and sop_class_uid not in DOSE_REPORT_SOP_CLASSES:
            # Decided from Orthanc's metadata: images are not downloaded at all.
            return ObjectOutcome(source, "ignored", f"SOP class {sop_class_uid} is not a dose report")
        content = client.instance_file(orthanc_id)
    except OrthancHttpError as exc:
        if exc.status == 404:
            log.info("instance %s was deleted before it could be processed", orthanc_id)
            return ObjectOutcome(source, "ignored", "deleted from Orthanc before processing")
        raise OrthancUnavailable(str(exc)) from exc
    outcome = ingest_object(sessions, content, source=source, orthanc_id=orthanc_id)
    log.info("%s: %s %s", source, outcome.outcome, outcome.reason)
    return outcome
