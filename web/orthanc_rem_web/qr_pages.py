"""Query-retrieve pages (manual: "Query remote server", "DICOM networking"): the nodes with their
C-ECHO status (admin), the query form, live progress, studies per type with a Retrieve button,
retrieve progress and the QR log.

Unlike the dose browser, these pages write (nodes, queries) and hand work to the workers through
the queue: the DICOM conversation itself runs in a worker, never in Orthanc's HTTP thread. Forms
are plain HTML posts; a post from another site is refused (its ``Origin`` is not ours), since a
browser holding Orthanc's credentials would otherwise send them along.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from orthanc_rem import job_heartbeat, model
from orthanc_rem.qr import schedules, store
from orthanc_rem.qr.options import CHOICES, InvalidQuery, QueryOptions, parse_date, parse_hhmm, split_terms
from orthanc_rem.qr.worker_tasks import OWN_STORE_ECHO, QrTasks
from orthanc_rem_web import permissions
from orthanc_rem_web.db import browser, dose_session, writer_session
from orthanc_rem_web.stopped_jobs import fail_stopped_jobs

blueprint = Blueprint("qr", __name__, url_prefix="/qr")

MODALITY_LABELS = {"CT": "CT", "MG": "Mammography", "FL": "Fluoroscopy", "DX": "Radiography (DX, CR)"}


def _tasks() -> QrTasks:
    tasks = current_app.extensions.get("orthanc_rem_qr_tasks")
    if tasks is None:
        from orthanc_rem.tasks import build_queue

        tasks = build_queue(browser().settings).qr
        current_app.extensions["orthanc_rem_qr_tasks"] = tasks
    assert tasks is not None
    return tasks


@blueprint.before_request
def _same_origin_posts() -> None:
    if request.method != "POST":
        return
    origin = request.headers.get("Origin") or request.headers.get("Referer")
    if origin and urlsplit(origin).netloc != request.host:
        abort(403, "A form of this site must be posted from this site.")


# --- query page --------------------------------------------------------------------------------------


@blueprint.get("/")
@permissions.require(permissions.IMPORT_QR)
def query_page() -> str:
    _tasks().echo_all()
    fail_stopped_jobs()
    return _query_form(request.args, error=None)


def _query_form(form: Any, error: str | None) -> str:
    """The query form with the nodes, our own store's echo and the recent queries; ``form`` fills
    it again (the link's arguments, or a refused submission with its ``error``)."""
    session = dose_session()
    return render_template(
        "qr_query.html",
        nodes=store.nodes(session),
        own_store=_own_store_echo(session),
        queries=store.recent_queries(session),
        labels=MODALITY_LABELS,
        form=form,
        yesterday=(dt.date.today() - dt.timedelta(days=1)).isoformat(),
        error=error,
    )


def options_from_form(form: Any) -> QueryOptions:
    """The form's choices as query options, validated with the command line's rules."""

    def day(name: str) -> dt.date | None:
        return parse_date(form[name]) if form.get(name) else None

    def clock(name: str) -> dt.time | None:
        return parse_hhmm(form[name]) if form.get(name) else None

    return QueryOptions(
        modalities=tuple(m for m in CHOICES if form.get(f"modality_{m}")),
        sr_only=bool(form.get("sr_only")),
        date_from=day("date_from"),
        date_until=day("date_until"),
        single_date=day("single_date"),
        time_from=clock("time_from"),
        time_until=clock("time_until"),
        desc_include=split_terms(form.get("desc_include")),
        desc_exclude=split_terms(form.get("desc_exclude")),
        station_include=split_terms(form.get("station_include")),
        station_exclude=split_terms(form.get("station_exclude")),
        toshiba=bool(form.get("toshiba")),
        remove_duplicates=bool(form.get("remove_duplicates")),
    ).validate()


@blueprint.post("/")
@permissions.require(permissions.IMPORT_QR)
def submit_query() -> Any:
    try:
        options = options_from_form(request.form)
        with writer_session() as session:
            node = _node(session, request.form.get("node"))
            if node is None:
                raise InvalidQuery("choose a remote node")
            query_id = store.create_query(session, node, options, retrieve=False, created_by=_user()).id
    except InvalidQuery as exc:
        return _query_form(request.form, error=str(exc)), 400
    _tasks().query(query_id)
    return redirect(url_for("qr.query_detail", query_id=query_id), 303)


@blueprint.get("/queries/<int:query_id>")
@permissions.require(permissions.IMPORT_QR)
def query_detail(query_id: int) -> str:
    fail_stopped_jobs()
    session = dose_session()
    query = session.get(model.QrQuery, query_id) or abort(404)
    return render_template("qr_detail.html", query=query, state=_query_state(session, query))


@blueprint.post("/queries/<int:query_id>/retrieve")
@permissions.require(permissions.IMPORT_QR)
def retrieve(query_id: int) -> Response:
    with writer_session() as session:
        query = session.get(model.QrQuery, query_id) or abort(404)
        if query.status != store.QUERIED:
            abort(409, f"Query {query_id} is {query.status}: only a completed query can be retrieved.")
        query.retrieve = True
        query.status = store.RETRIEVING
        query.stage = "Waiting for a worker to retrieve"
        job_heartbeat.release(query)  # the worker of the query is not this retrieve's
    _tasks().retrieve(query_id)
    return redirect(url_for("qr.query_detail", query_id=query_id), 303)


@blueprint.post("/queries/<int:query_id>/rerun")
@permissions.require(permissions.IMPORT_QR)
def rerun(query_id: int) -> Response:
    """A failed query (its worker stopped, the node did not answer) asked again, as a new query
    with the same node and options; the failed one keeps its QR log."""
    with writer_session() as session:
        query = session.get(model.QrQuery, query_id) or abort(404)
        if query.status != store.FAILED:
            abort(409, f"Query {query_id} is {query.status}: only a failed query is run again.")
        node = session.get(model.QrNode, query.node_fk) if query.node_fk is not None else None
        if node is None:
            abort(409, f"The node of query {query_id} ({query.node_name}) was removed.")
        options = QueryOptions.from_json(json.loads(query.options))
        new_id = store.create_query(session, node, options, retrieve=query.retrieve, created_by=_user()).id
    _tasks().query(new_id)
    return redirect(url_for("qr.query_detail", query_id=new_id), 303)


@blueprint.get("/api/queries/<int:query_id>")
@permissions.require(permissions.IMPORT_QR)
def query_state(query_id: int) -> dict[str, Any]:
    fail_stopped_jobs()
    session = dose_session()
    query = session.get(model.QrQuery, query_id) or abort(404)
    return _query_state(session, query, after=_int(request.args.get("after")) or 0)


def _query_state(session: Session, query: model.QrQuery, after: int = 0) -> dict[str, Any]:
    extraction = store.extraction_progress(session, query.id)
    return {
        "id": query.id,
        "node": query.node_name,
        "status": query.status,
        "stage": query.stage,
        "reason": query.reason,
        "counts": json.loads(query.counts) if query.counts else None,
        "studies": query.study_count,
        "objects": query.object_count,
        "retrieve": {"series_moved": query.moved_series, "series_total": query.total_series},
        "extraction": {
            "received": extraction.received,
            "extracted": extraction.extracted,
            "not_received": extraction.not_received,
        },
        "options": json.loads(query.options),
        "log": [
            {"id": line.id, "at": line.at.isoformat(timespec="seconds"), "line": line.line}
            for line in store.log_lines(session, query.id, after)
        ],
    }


@blueprint.get("/api/echo")
@permissions.require(permissions.IMPORT_QR)
def echo_state() -> dict[str, Any]:
    session = dose_session()
    return {
        "own_store": _own_store_echo(session),
        "nodes": [
            {
                "name": node.name,
                "ok": node.echo_ok,
                "message": node.echo_message,
                "at": node.echo_at.isoformat(timespec="seconds") if node.echo_at else None,
            }
            for node in store.nodes(session)
        ],
    }


def _own_store_echo(session: Session) -> dict[str, Any] | None:
    state = session.get(model.IngestState, OWN_STORE_ECHO)
    return json.loads(state.value) if state is not None else None


# --- nodes (admin) -------------------------------------------------------------------------------------


@blueprint.get("/nodes")
@permissions.require(permissions.ADMIN)
def nodes_page(error: str | None = None, status: int = 200) -> Any:
    _tasks().echo_all()
    session = dose_session()
    page = render_template(
        "qr_nodes.html",
        nodes=store.nodes(session),
        own_store=_own_store_echo(session),
        schedules=list(session.scalars(select(model.QrSchedule).order_by(model.QrSchedule.name))),
        node_names={n.id: n.name for n in store.nodes(session)},
        labels=MODALITY_LABELS,
        error=error,
    )
    return page, status


@blueprint.post("/nodes")
@permissions.require(permissions.ADMIN)
def add_node() -> Any:
    form = request.form
    try:
        with writer_session() as session:
            store.add_node(
                session,
                form.get("name", "").strip(),
                form.get("aet", "").strip(),
                form.get("host", "").strip(),
                _int(form.get("port")) or 0,
                form.get("calling_aet", "").strip() or None,
                bool(form.get("use_modality_tag")),
            )
    except store.InvalidNode as exc:
        return nodes_page(str(exc), 400)
    return redirect(url_for("qr.nodes_page"), 303)


@blueprint.post("/nodes/<int:node_id>")
@permissions.require(permissions.ADMIN)
def edit_node(node_id: int) -> Any:
    form = request.form
    try:
        with writer_session() as session:
            node = session.get(model.QrNode, node_id) or abort(404)
            store.edit_node(
                session,
                node,
                aet=form.get("aet", "").strip(),
                host=form.get("host", "").strip(),
                port=_int(form.get("port")) or 0,
                calling_aet=form.get("calling_aet", "").strip() or None,
                use_modality_tag=bool(form.get("use_modality_tag")),
            )
    except store.InvalidNode as exc:
        return nodes_page(str(exc), 400)
    return redirect(url_for("qr.nodes_page"), 303)


@blueprint.post("/nodes/<int:node_id>/remove")
@permissions.require(permissions.ADMIN)
def remove_node(node_id: int) -> Response:
    with writer_session() as session:
        node = session.get(model.QrNode, node_id) or abort(404)
        name = node.name
        session.delete(node)
    _tasks().forget_node(name)
    return redirect(url_for("qr.nodes_page"), 303)


@blueprint.post("/schedules")
@permissions.require(permissions.ADMIN)
def add_schedule() -> Any:
    form = request.form
    try:
        options = QueryOptions(
            modalities=tuple(m for m in CHOICES if form.get(f"modality_{m}")),
            sr_only=bool(form.get("sr_only")),
            desc_exclude=split_terms(form.get("desc_exclude")),
            desc_include=split_terms(form.get("desc_include")),
            station_exclude=split_terms(form.get("station_exclude")),
            station_include=split_terms(form.get("station_include")),
        )
        with writer_session() as session:
            node = _node(session, form.get("node"))
            if node is None:
                raise InvalidQuery("choose a remote node")
            schedules.add_schedule(
                session,
                form.get("name", "").strip() or "schedule",
                node,
                options,
                _int(form.get("every_minutes")) or 0,
                _int(form.get("look_back_minutes")) or 0,
                retrieve=bool(form.get("retrieve")),
                created_by=_user(),
            )
    except (InvalidQuery, ValueError) as exc:
        return nodes_page(str(exc), 400)
    return redirect(url_for("qr.nodes_page"), 303)


@blueprint.post("/schedules/<int:schedule_id>/remove")
@permissions.require(permissions.ADMIN)
def remove_schedule(schedule_id: int) -> Response:
    with writer_session() as session:
        schedule = session.get(model.QrSchedule, schedule_id) or abort(404)
        session.delete(schedule)
    return redirect(url_for("qr.nodes_page"), 303)


def _node(session: Session, value: str | None) -> model.QrNode | None:
    """The node a form chose; None when it chose none (not a lookup of a NULL key)."""
    node_id = _int(value)
    return session.get(model.QrNode, node_id) if node_id is not None else None


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None  # type: ignore[arg-type]
    except ValueError:
        return None


def _user() -> str | None:
    from orthanc_rem.worker_access import basic_user

    return basic_user({"authorization": request.headers.get("Authorization", "")})
