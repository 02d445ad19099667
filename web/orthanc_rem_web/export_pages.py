"""The Exports page (manual L5659-5696) and the endpoints that start, follow, abort, download and
delete exports. The export runs in the workers (``orthanc_rem.export_tasks``); the page polls a
JSON endpoint for the progress every 2 s, as OpenREM's does.

A file is downloadable by its owner and by administrators only. Starting an export needs the
``export`` group; the patient identifiable variants need ``pid`` as well.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, jsonify, redirect, render_template, request, send_file, url_for
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from orthanc_rem import export_jobs, export_tasks, model
from orthanc_rem.export_jobs import ACTIVE, Status
from orthanc_rem.exports.columns import PatientData
from orthanc_rem.exports.runner import LAYOUTS, ZERO_STUDIES, ExportFormat, ExportRequest
from orthanc_rem.exports.selection import selected_studies
from orthanc_rem_web import permissions
from orthanc_rem_web.current_user import current_user_name
from orthanc_rem_web.db import browser, dose_session, writer_session
from orthanc_rem_web.query import BadParameter
from orthanc_rem_web.stopped_jobs import fail_stopped_jobs

blueprint = Blueprint("exports", __name__)


@blueprint.app_template_global()
def export_list_args() -> dict[str, str]:
    """The list's query string for its export buttons, less what the export URL itself names."""
    return {name: value for name, value in request.args.items() if name not in ("modality", "export_format")}

#: The patient identifiable variants a user in the pid group may ask for (form field ``pid``).
PATIENT_VARIANTS = {"": PatientData(), "names": PatientData(names=True), "ids": PatientData(ids=True),
                    "both": PatientData(names=True, ids=True)}  # fmt: skip


def _may_see(job: model.ExportJob) -> bool:
    return (
        permissions.may(permissions.ADMIN)
        or (job.owner is not None and job.owner == current_user_name())
        or (job.owner is None and current_user_name() is None)
    )


def _visible_jobs(session: Session) -> list[model.ExportJob]:
    return [job for job in export_jobs.list_jobs(session) if _may_see(job)]


def job_summary(job: model.ExportJob) -> dict[str, Any]:
    request_ = export_jobs.export_request(job)
    took = (job.finished_at - job.started_at).total_seconds() if job.finished_at and job.started_at else None
    return {
        "id": job.id,
        "status": job.status,
        "modality": job.modality,
        "type": request_.type_label,
        "owner": job.owner,
        "created_at": job.created_at.isoformat(),
        "studies_done": job.studies_done,
        "studies_total": job.studies_total,
        "rows": job.rows_written,
        "seconds": took,
        "file_name": job.file_name,
        "error": job.error,
        "filters": job.filters,
    }


@blueprint.get("/exports/")
@permissions.require(permissions.EXPORT)
def exports_page() -> str:
    fail_stopped_jobs()
    jobs = [job_summary(job) for job in _visible_jobs(dose_session())]
    return render_template(
        "exports.html",
        running=[j for j in jobs if j["status"] in ACTIVE],
        finished=[j for j in jobs if j["status"] == Status.FINISHED],
        failed=[j for j in jobs if j["status"] in (Status.FAILED, Status.ABORTED)],
    )


@blueprint.get("/exports/status.json")
@permissions.require(permissions.EXPORT)
def exports_status() -> Response:
    fail_stopped_jobs()
    return jsonify([job_summary(job) for job in _visible_jobs(dose_session())])


@blueprint.post("/exports/start/<modality>/<export_format>")
@permissions.require(permissions.EXPORT)
def start_export(modality: str, export_format: str) -> Response:
    """Start an export of the list ``modality`` shows for the query string."""
    modality = modality.upper()
    if modality not in LAYOUTS:
        abort(404, description=f"There is no {modality} study list.")
    variant = request.form.get("pid", "")
    if variant not in PATIENT_VARIANTS:
        raise BadParameter(f"pid must be one of names, ids, both, not {variant[:20]!r}.")
    patient = PATIENT_VARIANTS[variant]
    if patient.any and not permissions.may(permissions.PID):
        abort(403, description="Exports with patient names or IDs need the pid group.")
    try:
        export_request = ExportRequest(modality, ExportFormat(export_format.lower()), patient)
    except ValueError as exc:
        raise BadParameter(str(exc)) from None
    return _start(export_request, request.args.to_dict())


@blueprint.post("/exports/<int:job_id>/rerun")
@permissions.require(permissions.EXPORT)
def rerun_export(job_id: int) -> Response:
    """A failed or aborted export (its worker stopped, say) started again as a new export of the
    same list, by whoever asks; the old one stays listed with its reason until deleted."""
    job = _job(dose_session(), job_id)
    if job.status not in (Status.FAILED, Status.ABORTED):
        abort(409, description=f"Export {job_id} is {job.status}: only a failed or aborted export is run again.")
    export_request = export_jobs.export_request(job)
    if export_request.patient.any and not permissions.may(permissions.PID):
        abort(403, description="Exports with patient names or IDs need the pid group.")
    return _start(export_request, dict(job.filters))


def _start(export_request: ExportRequest, filters: dict[str, str]) -> Response:
    modality = export_request.modality
    selection = selected_studies(modality, filters, may_see_patient_data=permissions.may(permissions.PID))
    empty = dose_session().scalar(select(func.count()).select_from(selection.subquery())) == 0
    with writer_session() as session:
        job = export_jobs.create_job(session, owner=current_user_name(), request=export_request, filters=filters)
        if empty:
            export_jobs.fail(session, job, ZERO_STUDIES)
        job_id, queued = job.id, job.status == Status.QUEUED
    if queued:
        try:
            export_tasks.queue_export(browser().settings, job_id)
        except Exception as exc:  # noqa: BLE001 - the queue cannot be reached: say so on the job
            with writer_session() as session:
                unqueued = session.get(model.ExportJob, job_id)
                if unqueued is not None and unqueued.status == Status.QUEUED:
                    reason = f"the export could not be queued: {type(exc).__name__}: {exc}"
                    export_jobs.fail(session, unqueued, reason)
    return redirect(url_for("exports.exports_page"))


def _job(session: Session, job_id: int) -> model.ExportJob:
    job = session.get(model.ExportJob, job_id)
    if job is None or not _may_see(job):
        abort(404, description=f"There is no export {job_id}.")
    return job


@blueprint.post("/exports/<int:job_id>/abort")
@permissions.require(permissions.EXPORT)
def abort_export(job_id: int) -> Response:
    with writer_session() as session:
        _job(session, job_id)
        export_jobs.request_abort(session, job_id)
    return redirect(url_for("exports.exports_page"))


@blueprint.post("/exports/delete")
@permissions.require(permissions.EXPORT)
def delete_exports() -> Response:
    ids = [int(value) for value in request.form.getlist("job") if value.isascii() and value.isdigit()]
    with writer_session() as session:
        for job_id in ids:
            _job(session, job_id)
            export_jobs.delete_job(browser().settings, session, job_id)
    return redirect(url_for("exports.exports_page"))


@blueprint.get("/exports/<int:job_id>/download")
@permissions.require(permissions.EXPORT)
def download_export(job_id: int) -> Response:
    job = _job(dose_session(), job_id)
    path = export_jobs.file_path(browser().settings, job)
    if job.status != Status.FINISHED or path is None or not path.is_file():
        abort(404, description=f"Export {job_id} has no file to download.")
    return send_file(path, as_attachment=True, download_name=path.name)
