"""Patient size import pages (manual L3223-3349): upload, column mapping, progress, abort, logs.

Orthanc 1.10.1 swallows ``multipart/form-data`` posts to plugin routes (it answers an empty 200
itself), so the upload page's script sends the chosen file as the raw request body, with its name
in a header (POSTs reach plugins without a query string). The import runs in a worker
(``size_import_jobs.run_job`` through the ``import_patient_sizes`` task); the page polls a JSON
endpoint for its progress bar.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from flask import Blueprint, Response, abort, jsonify, redirect, render_template, request, url_for

from orthanc_rem import model, size_import_jobs
from orthanc_rem.patient_size_import import HEIGHT_UNITS, IDENTIFIER_TYPES, SizeColumns, SizeFileError
from orthanc_rem_web import permissions
from orthanc_rem_web.admin_pages import work_queue
from orthanc_rem_web.db import dose_session, writer_session
from orthanc_rem_web.stopped_jobs import fail_stopped_jobs

blueprint = Blueprint("sizes", __name__)

#: The header the upload script names the file in (percent-encoded UTF-8).
FILENAME_HEADER = "X-File-Name"


@blueprint.get("/sizes")
@permissions.require(permissions.IMPORT_SIZE)
def size_imports() -> str:
    fail_stopped_jobs()
    jobs = size_import_jobs.list_jobs(dose_session())
    return render_template(
        "admin/size_imports.html",
        waiting=[j for j in jobs if j.status == size_import_jobs.AWAITING_COLUMNS],
        active=[j for j in jobs if j.status in (size_import_jobs.QUEUED, size_import_jobs.RUNNING)],
        ended=[j for j in jobs if j.status in size_import_jobs.ENDED],
        max_megabytes=size_import_jobs.MAX_FILE_BYTES // (1024 * 1024),
    )


@blueprint.post("/sizes/upload")
@permissions.require(permissions.IMPORT_SIZE)
def upload() -> Any:
    """The raw CSV in the body; answers JSON with where to choose its columns, or the error."""
    filename = unquote(request.headers.get(FILENAME_HEADER, "")).strip()[:200] or "upload.csv"
    if (request.content_length or 0) > size_import_jobs.MAX_FILE_BYTES:
        return jsonify(error="the file is too large"), 413
    content = request.get_data(cache=False)
    with writer_session() as session:
        try:
            job = size_import_jobs.create_job(session, filename, content)
        except SizeFileError as exc:
            return jsonify(error=str(exc)), 400
        job_id = job.id
    return jsonify(id=job_id, columns_url=url_for("sizes.choose_columns", job_id=job_id)), 201


def _job(job_id: int) -> model.SizeImportJob:
    job = dose_session().get(model.SizeImportJob, job_id)
    if job is None:
        abort(404, description=f"There is no patient size import {job_id}.")
    return job


@blueprint.route("/sizes/<int:job_id>/columns", methods=["GET", "POST"])
@permissions.require(permissions.IMPORT_SIZE)
def choose_columns(job_id: int) -> Any:
    job = _job(job_id)
    if job.status != size_import_jobs.AWAITING_COLUMNS:
        return redirect(url_for("sizes.size_imports"), 303)
    headers = size_import_jobs.headers(job)
    error = None
    if request.method == "POST":
        columns = SizeColumns(
            identifier=request.form.get("identifier_column", ""),
            identifier_type=request.form.get("identifier_type", ""),
            height=request.form.get("height_column") or None,
            weight=request.form.get("weight_column") or None,
            height_unit=request.form.get("height_unit", "cm"),
        )
        try:
            with writer_session() as session:
                size_import_jobs.choose_columns(session, job_id, columns)
        except SizeFileError as exc:
            error = str(exc)
        else:
            work_queue().import_patient_sizes(job_id)
            return redirect(url_for("sizes.size_imports"), 303)
    return render_template(
        "admin/size_columns.html",
        job=job,
        headers=headers,
        identifier_types=IDENTIFIER_TYPES,
        height_units=HEIGHT_UNITS,
        error=error,
        form=request.form,
    ), (400 if error else 200)


@blueprint.get("/sizes/<int:job_id>/progress")
@permissions.require(permissions.IMPORT_SIZE)
def progress(job_id: int) -> Any:
    fail_stopped_jobs()
    return jsonify(size_import_jobs.progress(_job(job_id)))


@blueprint.post("/sizes/<int:job_id>/abort")
@permissions.require(permissions.IMPORT_SIZE)
def abort_import(job_id: int) -> Response:
    _job(job_id)
    with writer_session() as session:
        size_import_jobs.request_abort(session, job_id)
    return redirect(url_for("sizes.size_imports"), 303)  # type: ignore[return-value]


@blueprint.get("/sizes/<int:job_id>/log")
@permissions.require(permissions.IMPORT_SIZE)
def download_log(job_id: int) -> Response:
    job = _job(job_id)
    return Response(
        job.log,
        mimetype="text/plain",
        headers={"Content-Disposition": f'attachment; filename="patient-size-import-{job_id}.txt"'},
    )


@blueprint.post("/sizes/delete")
@permissions.require(permissions.IMPORT_SIZE)
def delete_jobs() -> Response:
    """Delete the ticked ended imports (their logs) or files still waiting for their columns."""
    try:
        ids = [int(value) for value in request.form.getlist("job")]
    except ValueError:
        abort(400, description="job must be whole numbers")
    with writer_session() as session:
        for job_id in ids:
            size_import_jobs.delete_job(session, job_id)
    return redirect(url_for("sizes.size_imports"), 303)  # type: ignore[return-value]
