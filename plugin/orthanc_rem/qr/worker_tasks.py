"""Query, retrieve and echo as worker (huey) tasks: Orthanc's DICOM client over HTTP, progress
and the QR log in the database. Never inside an Orthanc callback: a C-FIND or C-MOVE may take
minutes, and the workers already talk to Orthanc over loopback (``orthanc_client``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass

from huey import Huey, crontab
from huey.api import TaskWrapper
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from orthanc_rem import database, job_heartbeat, model
from orthanc_rem.config import Settings
from orthanc_rem.orthanc_client import OrthancClient, OrthancHttpError, OrthancUnavailable
from orthanc_rem.qr import orthanc_dicom, store
from orthanc_rem.qr.options import QueryOptions
from orthanc_rem.qr.queries import image_query
from orthanc_rem.qr.query_run import run_query
from orthanc_rem.qr.responses import ImageResponse, SeriesResponse, StudyResponse

log = logging.getLogger("orthanc_rem.qr")
#: ``ingest_state`` name of the last C-ECHO of our own store (JSON: ok, message, at).
OWN_STORE_ECHO = "qr_own_store_echo"


@dataclass
class QrTasks:
    """The QR tasks on the extraction queue; call ``.query(query_id)`` to enqueue."""

    query: TaskWrapper
    retrieve: TaskWrapper
    echo_all: TaskWrapper
    #: DELETE the Orthanc modality of a removed node (by name).
    forget_node: TaskWrapper


def register(huey: Huey, settings: Settings, client: Callable[[], OrthancClient]) -> QrTasks:
    def sessions() -> sessionmaker[Session]:
        return database.session_factory(settings.database_url)

    def beating(query_id: int) -> AbstractContextManager[None]:
        running = (store.QUERYING, store.RETRIEVING)
        return job_heartbeat.heartbeat(sessions(), model.QrQuery, query_id, running, settings.job_heartbeat_s)

    @huey.task(name="qr_query")
    def query_task(query_id: int) -> str:
        with beating(query_id):
            return query_and_maybe_retrieve(sessions(), client(), query_id)

    @huey.task(name="qr_retrieve")
    def retrieve_task(query_id: int) -> str:
        with beating(query_id):
            return retrieve(sessions(), client(), query_id)

    @huey.task(name="qr_echo_all")
    def echo_all_task() -> None:
        echo_all(sessions(), client())

    @huey.task(name="qr_forget_node")
    def forget_node_task(node_name: str) -> None:
        try:
            orthanc_dicom.forget(client(), node_name)
        except (OrthancHttpError, OrthancUnavailable) as exc:  # gone at Orthanc's next restart anyway
            log.info("qr: Orthanc modality of removed node %s not deleted: %s", node_name, exc)

    @huey.periodic_task(crontab(minute="*"), name="qr_run_schedules")
    def run_schedules_task() -> None:
        from orthanc_rem.qr import schedules

        for query_id in schedules.due_queries(sessions(), store.now()):
            query_task(query_id)

    return QrTasks(query_task, retrieve_task, echo_all_task, forget_node_task)


def _node(sessions: sessionmaker[Session], query_id: int) -> tuple[model.QrQuery, model.QrNode | None]:
    with sessions() as session:
        query = session.get(model.QrQuery, query_id)
        if query is None:
            raise LookupError(f"no query {query_id}")
        node = session.get(model.QrNode, query.node_fk) if query.node_fk is not None else None
        return query, node


def query_and_maybe_retrieve(sessions: sessionmaker[Session], client: OrthancClient, query_id: int) -> str:
    try:
        query, node = _node(sessions, query_id)
    except LookupError as exc:
        log.warning("qr: %s", exc)  # an invalid id fails gracefully (OpenREM #632)
        return store.FAILED
    progress = store.QueryProgress(sessions, query_id)
    if node is None:
        progress.status(store.FAILED, "the node was removed", "Failed: the node was removed")
        return store.FAILED
    progress.status(store.QUERYING, stage="Starting")
    progress.log(f"Query {query_id} on node {node.name} ({node.aet} at {node.host}:{node.port})")
    try:
        orthanc_dicom.declare(client, store.remote(node))
        ok, message = orthanc_dicom.echo(client, node.name)
        progress.log(f"DICOM echo: {message}")
        if not ok:
            raise _Failed(f"{node.name} does not answer C-ECHO: {message}")
        options = QueryOptions.from_json(json.loads(query.options))
        result = run_query(
            orthanc_dicom.OrthancFinder(client, node.name),
            options,
            progress,
            store.processed_uids_lookup(sessions),
            use_modality_tag=node.use_modality_tag,
        )
        store.save_results(sessions, query_id, result)
    except _Failed as exc:
        return _fail(progress, str(exc))
    except (OrthancHttpError, OrthancUnavailable) as exc:
        return _fail(progress, f"query failed: {orthanc_dicom.problem(exc)}")
    counts = ", ".join(f"{n} {kind}" for kind, n in result.counts_by_type().items()) or "no study"
    progress.status(store.QUERIED, stage=f"Query complete: {len(result.studies)} studies to move ({counts})")
    if query.retrieve:
        return retrieve(sessions, client, query_id)
    return store.QUERIED


class _Failed(Exception):
    pass


def _fail(progress: store.QueryProgress, reason: str) -> str:
    progress.log(f"Failed: {reason}")
    progress.status(store.FAILED, reason, f"Failed: {reason}")
    return store.FAILED


#: Series (or images) asked for in one C-MOVE request through Orthanc: Orthanc moves them on one
#: association, which saves an association per series (and the QR log still has a line per series).
MOVE_BATCH = 20


@dataclass
class _SeriesMove:
    study_number: int
    result_id: int
    study: StudyResponse
    series_number: int
    series: SeriesResponse
    images: list[ImageResponse]


def retrieve(sessions: sessionmaker[Session], client: OrthancClient, query_id: int) -> str:
    """C-MOVE of every series (or image, where ``image_level_move``) left after the filtering,
    to Orthanc's own AE; each object asked for is recorded with its Orthanc ID once it arrived."""
    try:
        query, node = _node(sessions, query_id)
    except LookupError as exc:
        log.warning("qr: %s", exc)
        return store.FAILED
    progress = store.QueryProgress(sessions, query_id)
    if node is None:
        return _fail(progress, "the node was removed")
    with sessions() as session:
        rows = list(session.scalars(select(model.QrResult).where(model.QrResult.query_fk == query_id)))
        studies = [(row.id, store.study_of(row)) for row in rows]
    progress.status(store.RETRIEVING, stage="Preparing to start move request")
    progress.log(f"Preparing to start move request: requesting move of {len(studies)} studies")
    failures: list[str] = []
    not_received = 0
    moved = 0
    try:
        orthanc_dicom.declare(client, store.remote(node))
        target = orthanc_dicom.own_aet(client)
        finder = orthanc_dicom.OrthancFinder(client, node.name)
        pending: list[_SeriesMove] = []
        for number, (row_id, study) in enumerate(studies, 1):
            for series_number, series in enumerate(study.series, 1):
                pending.append(
                    _SeriesMove(number, row_id, study, series_number, series, _images_to_move(finder, study, series))
                )
                last = number == len(studies) and series_number == len(study.series)
                if len(pending) < MOVE_BATCH and not last:
                    continue
                lines = [
                    f"Requesting move: modality {m.study.modality_type}, study {m.study_number} (of {len(studies)}) "
                    f"series {m.series_number} (of {len(m.study.series)}). Series contains {len(m.images)} objects"
                    for m in pending
                ]
                failure = _move_batch(client, node.name, target, pending)
                if failure:
                    failures.append(failure)
                    lines.append(f"Move failed: {failure}")
                arrived = {
                    m.series.series_instance_uid: [
                        (i.sop_instance_uid, orthanc_dicom.orthanc_id_of(client, i.sop_instance_uid)) for i in m.images
                    ]
                    for m in pending
                }
                missing = sum(1 for objects in arrived.values() for _, orthanc_id in objects if orthanc_id is None)
                if missing:
                    lines.append(f"{missing} objects did not arrive")
                not_received += missing
                moved += len(pending)
                progress.log_many(lines)
                store.record_moves(
                    sessions,
                    query_id,
                    [
                        (
                            m.study.study_instance_uid,
                            m.series.series_instance_uid,
                            arrived[m.series.series_instance_uid],
                        )
                        for m in pending
                    ],
                    moved,
                    f"Retrieving study {number} of {len(studies)}",
                    [m.result_id for m in pending if m.series_number == len(m.study.series)],
                )
                pending = []
    except (OrthancHttpError, OrthancUnavailable) as exc:
        return _fail(progress, f"retrieve failed: {orthanc_dicom.problem(exc)}")
    if failures or not_received:
        reason = f"{len(failures)} move requests failed, {not_received} objects not received"
        if failures:
            reason += f" (first: {failures[0]})"
        return _fail(progress, reason)
    progress.log(f"Move complete: {moved} series of {len(studies)} studies")
    progress.status(store.RETRIEVED, stage=f"Retrieve complete: {len(studies)} studies, {moved} series")
    return store.RETRIEVED


def _move_batch(client: OrthancClient, node_name: str, target: str, moves: list[_SeriesMove]) -> str | None:
    """One C-MOVE request per level for the batch; Orthanc's explanation when one failed."""
    series_level: list[dict[str, str]] = []
    image_level: list[dict[str, str]] = []
    for m in moves:
        study_uid, series_uid = m.study.study_instance_uid, m.series.series_instance_uid
        if m.series.image_level_move:
            image_level.extend(
                {"StudyInstanceUID": study_uid, "SeriesInstanceUID": series_uid, "SOPInstanceUID": i.sop_instance_uid}
                for i in m.images
            )
        else:
            series_level.append({"StudyInstanceUID": study_uid, "SeriesInstanceUID": series_uid})
    failure = None
    for level, resources in (("Series", series_level), ("Instance", image_level)):
        if resources:
            try:
                orthanc_dicom.move(client, node_name, level, resources, target)
            except OrthancHttpError as exc:
                failure = orthanc_dicom.problem(exc)
    return failure


def _images_to_move(
    finder: orthanc_dicom.OrthancFinder, study: StudyResponse, series: SeriesResponse
) -> list[ImageResponse]:
    """The objects a move will bring: known from the filtering (the SR check and the duplicates step
    ask for whole series), else asked at image level, so that the command line can wait until each
    one is extracted."""
    if series.images is not None and (series.image_level_move or not series.first_image_only):
        return series.images
    answers = finder.find("Instance", image_query(study.study_instance_uid, series.series_instance_uid))
    return [i for i in map(ImageResponse.from_answer, answers) if i is not None]


def echo_all(sessions: sessionmaker[Session], client: OrthancClient) -> None:
    """C-ECHO every node and our own store, and record the answers (the QR page shows them, as the
    manual's page does)."""
    ok, message = echo_own_store(client)
    with sessions.begin() as session:
        state = session.get(model.IngestState, OWN_STORE_ECHO) or model.IngestState(name=OWN_STORE_ECHO, value="")
        state.value = json.dumps({"ok": ok, "message": message, "at": store.now().isoformat(timespec="seconds")})
        session.add(state)
        for node in store.nodes(session):
            try:
                orthanc_dicom.declare(client, store.remote(node))
                ok, message = orthanc_dicom.echo(client, node.name)
            except (OrthancHttpError, OrthancUnavailable) as exc:
                ok, message = False, orthanc_dicom.problem(exc)
            store.record_echo(session, node, ok, message)


def echo_own_store(client: OrthancClient) -> tuple[bool, str]:
    try:
        orthanc_dicom.declare(client, orthanc_dicom.own_store(client))
        return orthanc_dicom.echo(client, orthanc_dicom.OWN_STORE)
    except (OrthancHttpError, OrthancUnavailable) as exc:
        return False, orthanc_dicom.problem(exc)
