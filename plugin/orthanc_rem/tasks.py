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
from huey.storage import SqliteStorage
from sqlalchemy.orm import Session, sessionmaker

from orthanc_rem import database, persistence
from orthanc_rem.config import Settings
from orthanc_rem.extraction.routing import SECONDARY_CAPTURE_IMAGE, RouteKind, route_from_orthanc
from orthanc_rem.identifiable_data import deletion_policy_cache
from orthanc_rem.ingest import ObjectOutcome, ingest_object
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
        return SqliteHuey(QUEUE_NAME, filename=path, results=False, timeout=60, storage_class=_SqliteQueueStorage)
    if parsed.scheme in ("redis", "rediss"):
        return RedisHuey(QUEUE_NAME, url=queue_url, results=False)
    raise ValueError(f"unsupported queue URL {queue_url!r}: use sqlite:///path or redis://host:port/db")


class _SqliteQueueStorage(SqliteStorage):
    """huey's SQLite queue with ``synchronous=NORMAL`` instead of SQLite's default FULL.

    In WAL mode FULL syncs the disk at every commit: 4 ms for each enqueue and each dequeue on our
    machines, with the queue locked meanwhile, so the workers waited for each other's dequeues. NORMAL
    is still safe against a crash of any process; a power cut may lose the last tasks, which the
    catch-up of Orthanc's changes on start finds again (Orthanc keeps the instances).
    """

    def _create_connection(self):  # type: ignore[no-untyped-def]
        connection = super()._create_connection()
        connection.execute("PRAGMA synchronous=NORMAL")
        return connection


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
    """Route, extract and store one instance Orthanc received; then apply the deletion policy."""
    sessions = database.session_factory(settings.database_url)
    source = f"orthanc:{orthanc_id}"
    try:
        sop_class_uid = client.sop_class_uid(orthanc_id)
        if sop_class_uid is not None and sop_class_uid != SECONDARY_CAPTURE_IMAGE:
            # Decided from Orthanc's metadata: objects no importer reads are not even downloaded.
            # (A secondary capture needs its header: Philips dose info or Hologic projection?)
            taken = route_from_orthanc(sop_class_uid, None, None, None, None)
            if not taken.matched:
                outcome = ObjectOutcome(source, "unmatched", taken.reason, route=RouteKind.UNMATCHED)
                _apply_deletion_policy(sessions, client, orthanc_id, outcome)
                return outcome
        content = client.instance_file(orthanc_id)
    except OrthancHttpError as exc:
        if exc.status == 404:
            log.info("instance %s was deleted before it could be processed", orthanc_id)
            return ObjectOutcome(source, "ignored", "deleted from Orthanc before processing")
        raise OrthancUnavailable(str(exc)) from exc
    outcome = ingest_object(sessions, content, source=source, orthanc_id=orthanc_id)
    log.info("%s: %s %s", source, outcome.outcome, outcome.reason)
    _apply_deletion_policy(sessions, client, orthanc_id, outcome)
    return outcome


def _apply_deletion_policy(
    sessions: sessionmaker[Session], client: OrthancClient, orthanc_id: str, outcome: ObjectOutcome
) -> None:
    """Delete from Orthanc what the settings say, and only what was extracted (or matched nothing):
    an object that failed, or was judged "not a dose report", is always kept for a re-run."""
    if not (outcome.extracted or outcome.outcome == "unmatched"):
        return
    with sessions() as session:
        policy = deletion_policy_cache.get(session)
    if policy.deletes(outcome.route):
        try:
            client.delete(f"/instances/{orthanc_id}")
            log.info("orthanc:%s deleted from Orthanc after processing (%s)", orthanc_id, outcome.route)
        except (OrthancHttpError, OrthancUnavailable) as exc:
            log.warning("orthanc:%s could not be deleted after processing: %s", orthanc_id, exc)
