"""Query-retrieve rows: nodes, queries, their QR log, results and retrieved objects.

Every write is its own short transaction, so that the page and the command line see a query's
stage and log while the worker is still at it, and a worker that dies leaves what it had done.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from orthanc_rem import job_heartbeat, model
from orthanc_rem.qr.options import QueryOptions
from orthanc_rem.qr.orthanc_dicom import NODE_NAME, RemoteNode
from orthanc_rem.qr.query_run import QueryResult
from orthanc_rem.qr.responses import ImageResponse, SeriesResponse, StudyResponse

log = logging.getLogger("orthanc_rem.qr")

#: AE titles: 1 to 16 characters of the default character repertoire, no backslash (PS3.5 6.2).
AE_TITLE = re.compile(r"[\x20-\x5b\x5d-\x7e]{1,16}")

QUEUED = "queued"
QUERYING = "querying"
QUERIED = "queried"
RETRIEVING = "retrieving"
RETRIEVED = "retrieved"
FAILED = "failed"
FINISHED = (QUERIED, RETRIEVED, FAILED)


class InvalidNode(ValueError):
    """A node that Orthanc could not use; the message names the field."""


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


# --- nodes ---------------------------------------------------------------------------------------------


def check_node(name: str, aet: str, host: str, port: int, calling_aet: str | None) -> None:
    if not NODE_NAME.fullmatch(name or ""):
        raise InvalidNode(f"node name {name!r}: letters, digits, '.', '_' or '-', starting with a letter or digit")
    for label, value in (("remote AE title", aet), ("calling AE title", calling_aet)):
        if value is not None and (not AE_TITLE.fullmatch(value) or not value.strip()):
            raise InvalidNode(f"{label} {value!r}: 1 to 16 characters, no backslash")
    if not host or any(c.isspace() for c in host):
        raise InvalidNode(f"host {host!r}: a host name or IP address")
    if not 1 <= int(port) <= 65535:
        raise InvalidNode(f"port {port}: 1 to 65535")


def add_node(
    session: Session,
    name: str,
    aet: str,
    host: str,
    port: int,
    calling_aet: str | None = None,
    use_modality_tag: bool = False,
) -> model.QrNode:
    calling_aet = calling_aet or None
    check_node(name, aet, host, port, calling_aet)
    if session.scalar(select(model.QrNode).where(model.QrNode.name == name)) is not None:
        raise InvalidNode(f"a node named {name!r} exists already")
    node = model.QrNode(
        name=name,
        aet=aet.strip(),
        host=host,
        port=int(port),
        calling_aet=calling_aet.strip() if calling_aet else None,
        use_modality_tag=use_modality_tag,
        created_at=now(),
    )
    session.add(node)
    session.flush()
    return node


def edit_node(session: Session, node: model.QrNode, **changes: object) -> model.QrNode:
    merged = {
        "aet": node.aet,
        "host": node.host,
        "port": node.port,
        "calling_aet": node.calling_aet,
        **{k: v for k, v in changes.items() if k in ("aet", "host", "port", "calling_aet")},
    }
    merged["calling_aet"] = merged["calling_aet"] or None
    check_node(node.name, str(merged["aet"]), str(merged["host"]), int(merged["port"]), merged["calling_aet"])  # type: ignore[arg-type, call-overload]
    for key, value in merged.items():
        setattr(node, key, value)
    if "use_modality_tag" in changes:
        node.use_modality_tag = bool(changes["use_modality_tag"])
    return node


def node_named(session: Session, name: str) -> model.QrNode | None:
    return session.scalar(select(model.QrNode).where(model.QrNode.name == name))


def nodes(session: Session) -> list[model.QrNode]:
    return list(session.scalars(select(model.QrNode).order_by(model.QrNode.name)))


def remote(node: model.QrNode) -> RemoteNode:
    return RemoteNode(node.name, node.aet, node.host, node.port, node.calling_aet)


def record_echo(session: Session, node: model.QrNode, ok: bool, message: str) -> None:
    node.echo_ok, node.echo_message, node.echo_at = ok, message, now()


# --- queries -------------------------------------------------------------------------------------------


def create_query(
    session: Session,
    node: model.QrNode,
    options: QueryOptions,
    retrieve: bool,
    created_by: str | None = None,
    schedule_id: int | None = None,
) -> model.QrQuery:
    options.validate()
    query = model.QrQuery(
        node_fk=node.id,
        node_name=node.name,
        options=json.dumps(options.to_json()),
        retrieve=retrieve,
        status=QUEUED,
        stage="Waiting for a worker",
        created_by=created_by,
        schedule_fk=schedule_id,
        created_at=now(),
        moved_series=0,
        total_series=0,
    )
    session.add(query)
    session.flush()
    return query


@dataclass
class QueryProgress:
    """The ``Progress`` of a running query: its stage and QR log lines in the database, and the
    same lines in the service log (``orthanc_rem.qr``)."""

    sessions: sessionmaker[Session]
    query_id: int

    def stage(self, text: str) -> None:
        with self.sessions.begin() as session:
            query = session.get(model.QrQuery, self.query_id)
            if query is not None:
                query.stage = text

    def log(self, line: str) -> None:
        log.info("qr query %s: %s", self.query_id, line)
        with self.sessions.begin() as session:
            session.add(model.QrLogLine(query_fk=self.query_id, at=now(), line=line))

    def log_many(self, lines: list[str]) -> None:
        """Several lines in one transaction (the retrieve's line per series of a batch)."""
        for line in lines:
            log.info("qr query %s: %s", self.query_id, line)
        with self.sessions.begin() as session:
            at = now()
            session.add_all(model.QrLogLine(query_fk=self.query_id, at=at, line=line) for line in lines)

    def status(self, status: str, reason: str | None = None, stage: str | None = None) -> None:
        with self.sessions.begin() as session:
            query = session.get(model.QrQuery, self.query_id)
            if query is None:
                return
            query.status = status
            if status in (QUERYING, RETRIEVING):
                job_heartbeat.claim(query)
            if reason is not None:
                query.reason = reason
            if stage is not None:
                query.stage = stage
            if status in FINISHED:
                query.finished_at = now()


def mark_failed(session: Session, query: model.QrQuery, reason: str) -> None:
    """End a query as failed with the reason, on its page and in its QR log."""
    query.reason = reason
    query.status = FAILED
    query.stage = f"Failed: {reason}"
    query.finished_at = now()
    session.add(model.QrLogLine(query_fk=query.id, at=now(), line=query.stage))


def save_results(sessions: sessionmaker[Session], query_id: int, result: QueryResult) -> None:
    with sessions.begin() as session:
        session.execute(delete(model.QrResult).where(model.QrResult.query_fk == query_id))
        for study in result.studies:
            session.add(
                model.QrResult(
                    query_fk=query_id,
                    study_instance_uid=study.study_instance_uid,
                    modality_type=study.modality_type,
                    study_description=study.study_description,
                    study_date=study.study_date,
                    series=json.dumps([_series_json(s) for s in study.series]),
                    object_count=study.object_count(),
                    retrieved=False,
                )
            )
        query = session.get(model.QrQuery, query_id)
        assert query is not None
        query.counts = json.dumps(result.counts_by_type())
        query.study_count = len(result.studies)
        query.object_count = result.object_count()
        query.total_series = sum(len(s.series) for s in result.studies)


def _series_json(series: SeriesResponse) -> dict[str, object]:
    return {
        "series_instance_uid": series.series_instance_uid,
        "modality": series.modality,
        "series_description": series.series_description,
        "number_of_instances": series.number_of_instances,
        "image_level_move": series.image_level_move,
        "first_image_only": series.first_image_only,
        "images": None
        if series.images is None
        else [{"sop_instance_uid": i.sop_instance_uid, "sop_class_uid": i.sop_class_uid} for i in series.images],
    }


def study_of(row: model.QrResult) -> StudyResponse:
    """A stored result back as a response, for the retrieve."""
    study = StudyResponse(row.study_instance_uid, row.study_description, study_date=row.study_date)
    study.modality_type = row.modality_type
    for item in json.loads(row.series):
        images = item.get("images")
        study.series.append(
            SeriesResponse(
                series_instance_uid=item["series_instance_uid"],
                modality=item["modality"],
                series_description=item.get("series_description"),
                number_of_instances=item.get("number_of_instances"),
                image_level_move=bool(item.get("image_level_move")),
                first_image_only=bool(item.get("first_image_only")),
                images=None
                if images is None
                else [ImageResponse(i["sop_instance_uid"], i.get("sop_class_uid")) for i in images],
            )
        )
    return study


def processed_uids_lookup(sessions: sessionmaker[Session]):  # type: ignore[no-untyped-def]
    """Study Instance UID -> SOP Instance UIDs processed for it (the manual's ObjectUIDsProcessed),
    None when the study is not in the database."""

    def processed_uids_of(study_instance_uid: str) -> set[str] | None:
        with sessions() as session:
            study_id = session.scalar(
                select(model.Study.id).where(model.Study.study_instance_uid == study_instance_uid)
            )
            if study_id is None:
                return None
            return set(
                session.scalars(
                    select(model.ProcessedObject.sop_instance_uid).where(model.ProcessedObject.study_fk == study_id)
                )
            )

    return processed_uids_of


def record_moves(
    sessions: sessionmaker[Session],
    query_id: int,
    series: list[tuple[str, str, list[tuple[str, str | None]]]],
    moved_series: int,
    stage: str,
    finished_results: list[int],
) -> None:
    """One transaction per batch of moves: the objects asked for (with their Orthanc ID once they
    arrived), the progress, and the studies whose every series was moved."""
    with sessions.begin() as session:
        for study, series_uid, objects in series:
            session.add_all(
                model.QrRetrievedObject(
                    query_fk=query_id,
                    study_instance_uid=study,
                    series_instance_uid=series_uid,
                    sop_instance_uid=sop_instance_uid,
                    orthanc_id=orthanc_id,
                )
                for sop_instance_uid, orthanc_id in objects
            )
        query = session.get(model.QrQuery, query_id)
        if query is not None:
            query.moved_series = moved_series
            query.stage = stage
        for result_id in finished_results:
            result = session.get(model.QrResult, result_id)
            if result is not None:
                result.retrieved = True


@dataclass(frozen=True)
class ExtractionProgress:
    received: int
    extracted: int
    not_received: int

    @property
    def done(self) -> bool:
        return self.extracted >= self.received


def extraction_progress(session: Session, query_id: int) -> ExtractionProgress:
    """How many retrieved objects have an outcome (processed, or not imported with a reason)."""
    rows = session.execute(
        select(model.QrRetrievedObject.sop_instance_uid, model.QrRetrievedObject.orthanc_id).where(
            model.QrRetrievedObject.query_fk == query_id
        )
    ).all()
    received = [(uid, oid) for uid, oid in rows if oid is not None]
    uids = {uid for uid, _ in received}
    ids = {oid for _, oid in received}
    done: set[str] = set()
    for chunk in _chunks(sorted(uids)):
        done.update(
            session.scalars(
                select(model.ProcessedObject.sop_instance_uid).where(model.ProcessedObject.sop_instance_uid.in_(chunk))
            )
        )
    for chunk in _chunks(sorted(ids)):
        for uid, oid in session.execute(
            select(model.RejectedObject.sop_instance_uid, model.RejectedObject.orthanc_id).where(
                or_(model.RejectedObject.orthanc_id.in_(chunk), model.RejectedObject.sop_instance_uid.in_(chunk))
            )
        ):
            done.update(u for u, o in received if o == oid or u == uid)
    extracted = sum(1 for uid, _ in received if uid in done)
    return ExtractionProgress(len(received), extracted, len(rows) - len(received))


def _chunks(values: list[str], size: int = 500) -> Iterable[list[str]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def log_lines(session: Session, query_id: int, after_id: int = 0) -> list[model.QrLogLine]:
    return list(
        session.scalars(
            select(model.QrLogLine)
            .where(model.QrLogLine.query_fk == query_id, model.QrLogLine.id > after_id)
            .order_by(model.QrLogLine.id)
        )
    )


def recent_queries(session: Session, limit: int = 20) -> list[model.QrQuery]:
    return list(session.scalars(select(model.QrQuery).order_by(model.QrQuery.id.desc()).limit(limit)))


def query_count(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(model.QrQuery)) or 0)
