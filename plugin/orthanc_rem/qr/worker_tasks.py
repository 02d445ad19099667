"""Query, retrieve and echo as worker (huey) tasks: Orthanc's DICOM client over HTTP, progress
and the QR log in the database. Never inside an Orthanc callback: a C-FIND or C-MOVE may take
minutes, and the workers already talk to Orthanc over loopback (``orthanc_client``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass

from huey import Huey, crontab
from huey.api import TaskWrapper
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from orthanc_rem import database, model
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

    @huey.task(name="qr_query")
    def query_task(query_id: int) -> str:
        status = query_and_maybe_retrieve(sessions(), client(), query_id)
        return status

    @huey.task(name="qr_retrieve")
    def retrieve_task(query_id: int) -> str:
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
    moved_series = 0
    try:
        orthanc_dicom.declare(client, store.remote(node))
        target = orthanc_dicom.own_aet(client)
        finder = orthanc_dicom.OrthancFinder(client, node.name)
        for number, (row_id, study) in enumerate(studies, 1):
            for series_number, series in enumerate(study.series, 1):
                images = _images_to_move(finder, study, series)
                progress.log(
                    f"Requesting move: modality {study.modality_type}, study {number} (of {len(studies)}) "
                    f"series {series_number} (of {len(study.series)}). Series contains {len(images)} objects"
                )
                progress.stage(
                    f"Retrieving study {number} of {len(studies)}, series {series_number} of {len(study.series)}"
                )
                try:
                    _move_series(client, node.name, target, study, series, images)
                except OrthancHttpError as exc:
                    failures.append(orthanc_dicom.problem(exc))
                    progress.log(f"Move failed: {orthanc_dicom.problem(exc)}")
                arrived = [
                    (i.sop_instance_uid, orthanc_dicom.orthanc_id_of(client, i.sop_instance_uid)) for i in images
                ]
                missing = sum(1 for _, orthanc_id in arrived if orthanc_id is None)
                not_received += missing
                if missing:
                    progress.log(f"{missing} of {len(images)} objects did not arrive")
                store.record_retrieved(
                    sessions, query_id, study.study_instance_uid, series.series_instance_uid, arrived
                )
                moved_series += 1
                _count_moved(sessions, query_id, moved_series)
            with sessions.begin() as session:
                row = session.get(model.QrResult, row_id)
                if row is not None:
                    row.retrieved = True
    except (OrthancHttpError, OrthancUnavailable) as exc:
        return _fail(progress, f"retrieve failed: {orthanc_dicom.problem(exc)}")
    if failures or not_received:
        reason = f"{len(failures)} move requests failed, {not_received} objects not received"
        if failures:
            reason += f" (first: {failures[0]})"
        return _fail(progress, reason)
    progress.log(f"Move complete: {moved_series} series of {len(studies)} studies")
    progress.status(store.RETRIEVED, stage=f"Retrieve complete: {len(studies)} studies, {moved_series} series")
    return store.RETRIEVED


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


def _move_series(
    client: OrthancClient,
    node_name: str,
    target: str,
    study: StudyResponse,
    series: SeriesResponse,
    images: list[ImageResponse],
) -> None:
    if series.image_level_move:
        resources = [
            {
                "StudyInstanceUID": study.study_instance_uid,
                "SeriesInstanceUID": series.series_instance_uid,
                "SOPInstanceUID": image.sop_instance_uid,
            }
            for image in images
        ]
        if resources:
            orthanc_dicom.move(client, node_name, "Instance", resources, target)
        return
    resource = {"StudyInstanceUID": study.study_instance_uid, "SeriesInstanceUID": series.series_instance_uid}
    orthanc_dicom.move(client, node_name, "Series", [resource], target)


def _count_moved(sessions: sessionmaker[Session], query_id: int, moved: int) -> None:
    with sessions.begin() as session:
        query = session.get(model.QrQuery, query_id)
        if query is not None:
            query.moved_series = moved


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
