"""The extraction queue: huey tasks that turn objects stored in Orthanc into dose rows.

The queue is built from settings rather than at import time, because the producer (the plugin,
configured by ``orthanc.json``) and the consumers (worker processes, configured by the
environment the plugin hands them) learn their settings differently but must agree on them.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from urllib.parse import parse_qs, urlencode, urlparse, urlunparse

from huey import Huey
from huey.api import TaskWrapper
from huey.exceptions import RetryTask
from huey.storage import SqliteStorage
from sqlalchemy.orm import Session, sessionmaker

from orthanc_rem import database, export_tasks, instance_claim, job_liveness, recovery
from orthanc_rem.config import Settings
from orthanc_rem.extraction.routing import SECONDARY_CAPTURE_IMAGE, RouteKind, route_from_orthanc
from orthanc_rem.identifiable_data import deletion_policy_cache
from orthanc_rem.ingest import DATABASE_UNAVAILABLE, ObjectOutcome, ingest_object, record_outcome
from orthanc_rem.orthanc_client import OrthancClient, OrthancHttpError, OrthancUnavailable
from orthanc_rem.outcome import Outcome
from orthanc_rem.qr import worker_tasks as qr_tasks
from orthanc_rem.qr.worker_tasks import QrTasks
from orthanc_rem.queue_huey import RedisQueue, SqliteQueue
from orthanc_rem.skin_dose.worker import queue_maps_with_new_sizes, queue_skin_dose, register_skin_dose_task
from orthanc_rem.toshiba_ct.worker import register_toshiba_ct_task

log = logging.getLogger(__name__)

QUEUE_NAME = "orthanc-rem"
#: An object postponed because Orthanc or the database could not be used is tried again this
#: much later, for as long as it takes: giving up would lose it or blame it.
RETRY_DELAY_S = 10
#: Failures of the moment, not of the object.
POSTPONING: tuple[type[Exception], ...] = (OrthancUnavailable, *DATABASE_UNAVAILABLE)
#: A new or replacing report changes a study's events: its skin dose map is (re)computed.
SKIN_DOSE_OUTCOMES = frozenset({Outcome.IMPORTED, Outcome.REPLACED})
#: At most one log line per worker this often while Orthanc or the database stays unavailable.
UNAVAILABLE_LOG_INTERVAL_S = 60.0


def create_huey(queue_url: str) -> Huey:
    """``sqlite:///path`` (embedded default) or ``redis://host:port/db[?queue=NAME]``.

    ``queue`` names the queue inside Redis (default ``orthanc-rem``): sites (or test runs) that
    share one Redis server keep their tasks apart with a name each.
    """
    parsed = urlparse(queue_url)
    if parsed.scheme == "sqlite":
        path = queue_url[len("sqlite:///") :] if queue_url.startswith("sqlite:///") else parsed.path
        # results=False: nobody reads task results, and storing them would grow the queue file.
        return SqliteQueue(QUEUE_NAME, filename=path, results=False, timeout=60, storage_class=_SqliteQueueStorage)
    if parsed.scheme in ("redis", "rediss"):
        query = parse_qs(parsed.query)
        name = (query.pop("queue", None) or [QUEUE_NAME])[0]
        url = urlunparse(parsed._replace(query=urlencode(query, doseq=True)))
        return RedisQueue(name, url=url, results=False)
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
    #: Catch-up then reconciliation (``recovery``), queued by the plugin when Orthanc starts.
    recover_missed_instances: TaskWrapper
    #: Stores the change sequence number of an instance already queued (``recovery.checkpoint``).
    record_change_checkpoint: TaskWrapper
    #: Runs a patient size import job (``size_import_jobs.run_job``) queued from the pages.
    import_patient_sizes: TaskWrapper | None = None
    #: Query-retrieve: query, retrieve, echo, scheduled queries (``orthanc_rem.qr.worker_tasks``).
    qr: QrTasks | None = None
    #: Skin dose map of one study (``skin_dose.worker``), queued after a fluoroscopy RDSR import.
    compute_skin_dose: TaskWrapper | None = None
    #: A stable study of a legacy CT system: its dose screen read into an RDSR (``toshiba_ct``).
    toshiba_ct_study: TaskWrapper | None = None

    def queued_instance_ids(self) -> set[str]:
        """Orthanc IDs waiting in the queue or scheduled for a retry: late, not lost."""
        waiting: set[str] = set()
        for task in [*self.huey.pending(), *self.huey.scheduled()]:
            if task.name != self.ingest_orthanc_instance.name:
                continue
            for argument in task.args[:1]:  # the Orthanc ID (then, from the plugin, its SOP Class UID)
                if isinstance(argument, str):
                    waiting.add(argument)
                elif isinstance(argument, list | tuple):
                    waiting.update(a for a in argument if isinstance(a, str))
        return waiting

    def recover(self, sessions: sessionmaker[Session], client: OrthancClient, catch_up: bool = True) -> str:
        """Queue what the workers never got (catch-up) or lost (reconciliation)."""
        queued = self.queued_instance_ids()
        replayed = (
            recovery.catch_up(
                sessions, client, self.ingest_orthanc_instance, queued, stable_study=self.toshiba_ct_study
            )
            if catch_up
            else None
        )
        reconciled = recovery.reconcile(sessions, client, self.ingest_orthanc_instance, queued)
        summary = f"{reconciled.examined} instances in Orthanc, {reconciled.queued} queued again"
        if replayed is not None:
            summary = f"{replayed.examined} changes replayed, {replayed.queued} instances queued; " + summary
        return summary


def build_queue(settings: Settings) -> ExtractionQueue:
    huey = create_huey(settings.queue_url)
    worker_state: dict[str, object] = {}

    def client() -> OrthancClient:
        if "client" not in worker_state:
            worker_state["client"] = OrthancClient(settings.orthanc_url, settings.orthanc_authorization)
        return worker_state["client"]  # type: ignore[return-value]

    @huey.task(name="ingest_orthanc_instance")
    def ingest_orthanc_instance(orthanc_id: str, sop_class_uid: str | None = None) -> str:
        """Postponed (not failed) while Orthanc or the database cannot be used; bad objects are
        quarantined by ``ingest_object``, never retried. ``sop_class_uid``: Orthanc's, when the
        plugin read it at enqueue (the catch-up and reconciliation leave it to the worker)."""
        try:
            with instance_claim.claim(settings.database_url, orthanc_id) as not_now:
                if not_now is not None:  # queued twice (a catch-up replayed it): extracted once
                    log.info("orthanc:%s skipped: %s", orthanc_id, not_now)
                    return Outcome.IGNORED
                outcome = process_orthanc_instance(settings, client(), orthanc_id, sop_class_uid)
        except POSTPONING as exc:
            _report_unavailable(worker_state, orthanc_id, exc)
            # RetryTask does not count down huey's retries: the object waits as long as the outage.
            raise RetryTask(delay=RETRY_DELAY_S) from exc
        log_outcome(outcome)
        if settings.skin_dose_on_import and wants_skin_dose(outcome):
            queue_skin_dose(queue, outcome.study_id)
        return outcome.outcome

    @huey.task(name="recover_missed_instances")
    def recover_missed_instances() -> str:
        try:
            summary = queue.recover(database.session_factory(settings.database_url, retried=True), client())
        except POSTPONING as exc:
            _report_unavailable(worker_state, "*", exc)
            raise RetryTask(delay=RETRY_DELAY_S) from exc
        log.info("recovery at start: %s", summary)
        return summary

    @huey.task(name="record_change_checkpoint")
    def record_change_checkpoint(orthanc_id: str) -> None:
        try:
            recovery.checkpoint(database.session_factory(settings.database_url, retried=True), client(), orthanc_id)
        except POSTPONING as exc:  # the next checkpoint will do; the catch-up replays a little more
            log.info("change checkpoint at %s skipped: %s", orthanc_id, exc)

    @huey.task(name="import_patient_sizes")
    def import_patient_sizes(job_id: int) -> str:
        from orthanc_rem.size_import_jobs import run_job

        sessions = database.session_factory(settings.database_url)
        status = run_job(sessions, job_id, settings.job_heartbeat_s)
        if settings.skin_dose_on_import:  # else maps are computed when viewed, which sees them stale
            queue_maps_with_new_sizes(queue, sessions)  # maps that assumed a size now known
        return status

    queue = ExtractionQueue(
        huey, ingest_orthanc_instance, recover_missed_instances, record_change_checkpoint, import_patient_sizes
    )
    export_tasks.register(huey, settings)
    job_liveness.register(huey, settings)
    queue.qr = qr_tasks.register(huey, settings, client)
    queue.compute_skin_dose = register_skin_dose_task(huey, settings)
    if settings.toshiba_ct:
        queue.toshiba_ct_study = register_toshiba_ct_task(huey, settings, client)
    return queue


def wants_skin_dose(outcome: ObjectOutcome) -> bool:
    """A new or replacing fluoroscopy RDSR: CT, radiography and mammography reports have no skin dose
    map, so they queue nothing (a CT import used to queue a task that only found that out)."""
    return outcome.outcome in SKIN_DOSE_OUTCOMES and outcome.route == RouteKind.RDSR and outcome.report_modality == "RF"


def log_outcome(outcome: ObjectOutcome) -> None:
    """The one line per object an operator reads (and greps: ``orthanc:<id>: <outcome>``)."""
    level = logging.WARNING if outcome.outcome == Outcome.FAILED else logging.INFO
    study = f" (study {outcome.study_id})" if outcome.study_id is not None else ""
    reason = f" {outcome.reason}" if outcome.reason else ""
    log.log(level, "%s: %s%s%s", outcome.source, outcome.outcome, study, reason)


def _report_unavailable(worker_state: dict[str, object], orthanc_id: str, exc: Exception) -> None:
    """One warning line (no traceback) per outage and interval, not one per object and attempt:
    a 50 s PostgreSQL restart once gave 623 tracebacks."""
    now = time.monotonic()
    last = worker_state.get("unavailable_logged_at")
    postponed = int(worker_state.get("postponed", 0)) + 1  # type: ignore[call-overload]
    worker_state["postponed"] = postponed
    if isinstance(last, float) and now - last < UNAVAILABLE_LOG_INTERVAL_S:
        return
    worker_state["unavailable_logged_at"] = now
    worker_state["postponed"] = 0
    reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    log.warning(
        "orthanc:%s postponed, retried every %d s (%d postponed since the last line): %s",
        orthanc_id,
        RETRY_DELAY_S,
        postponed,
        reason,
    )


def process_orthanc_instance(
    settings: Settings, client: OrthancClient, orthanc_id: str, sop_class_uid: str | None = None
) -> ObjectOutcome:
    """Route, extract and store one instance Orthanc received; then apply the deletion policy.

    ``sop_class_uid`` is Orthanc's metadata of the instance if the caller has it (else asked for)."""
    # retried: a lost database connection raises OperationalError, which postpones the object.
    sessions = database.session_factory(settings.database_url, retried=True)
    source = f"orthanc:{orthanc_id}"
    try:
        if sop_class_uid is None:
            sop_class_uid = client.sop_class_uid(orthanc_id)
        if sop_class_uid is not None and sop_class_uid != SECONDARY_CAPTURE_IMAGE:
            # Decided from Orthanc's metadata: objects no importer reads are not even downloaded.
            # (A secondary capture needs its header: Philips dose info or Hologic projection?)
            taken = route_from_orthanc(sop_class_uid, None, None, None, None)
            if not taken.matched:
                outcome = record_outcome(
                    sessions, source, Outcome.UNMATCHED, taken.reason, orthanc_id, None, sop_class_uid
                )
                outcome = replace(outcome, route=RouteKind.UNMATCHED)
                _apply_deletion_policy(sessions, client, orthanc_id, outcome)
                return outcome
        content = client.instance_file(orthanc_id)
    except OrthancHttpError as exc:
        if exc.status == 404:
            return ObjectOutcome(source, Outcome.IGNORED, "deleted from Orthanc before processing")
        raise OrthancUnavailable(str(exc)) from exc
    outcome = ingest_object(sessions, content, source=source, orthanc_id=orthanc_id)
    _apply_deletion_policy(sessions, client, orthanc_id, outcome)
    return outcome


def _apply_deletion_policy(
    sessions: sessionmaker[Session], client: OrthancClient, orthanc_id: str, outcome: ObjectOutcome
) -> None:
    """Delete from Orthanc what the settings say, and only what was extracted (or matched nothing):
    an object that failed, or was judged "not a dose report", is always kept for a re-run."""
    if not (outcome.extracted or outcome.outcome == Outcome.UNMATCHED):
        return
    with sessions() as session:
        policy = deletion_policy_cache.get(session)
    if policy.deletes(outcome.route):
        try:
            client.delete(f"/instances/{orthanc_id}")
            log.info("orthanc:%s deleted from Orthanc after processing (%s)", orthanc_id, outcome.route)
        except (OrthancHttpError, OrthancUnavailable) as exc:
            log.warning("orthanc:%s could not be deleted after processing: %s", orthanc_id, exc)
