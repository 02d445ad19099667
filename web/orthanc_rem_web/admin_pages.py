"""Configuration pages (the manual's Config menu): display names and user-defined modality,
not-patient indicators, patient identifiable data, DICOM object deletion, study deletion, and the
failed imports with their retry.

Every change goes through the same domain functions as ``orthanc-rem settings`` and
``orthanc-rem equipment``. The dose browser's own session is read-only, so changes are written
through a writer session of their own (``db.writer_session``). Forms are plain urlencoded POSTs: Orthanc
1.10.1 passes those to plugins intact, but gives POSTs no query string, so whatever a POST needs
(where to return to) travels in the form body. Several systems are chosen by POSTing checkboxes:
Orthanc keeps only the last of repeated GET parameters.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from sqlalchemy import func, select
from werkzeug.wrappers import Response

from orthanc_rem import (
    equipment_admin,
    equipment_review,
    export_settings,
    import_settings,
    model,
    study_deletion,
    study_document,
)
from orthanc_rem.enqueue import enqueue_many
from orthanc_rem.identifiable_data import DEFAULTS_074
from orthanc_rem.outcome import Outcome
from orthanc_rem_web import permissions
from orthanc_rem_web.db import browser, dose_session, writer_session
from orthanc_rem_web.explorer_links import DETAIL_ENDPOINTS
from orthanc_rem_web.query import STUDY_ID, page_arguments, per_page_choices

blueprint = Blueprint("admin", __name__)

#: Where the plugin (or a test) puts its extraction queue: retries and size imports go to the workers.
QUEUE_EXTENSION = "orthanc_rem_queue"

PATIENT_ID_SETTINGS = {
    "store_patient_name": "Store patient name",
    "hash_patient_name": "If stored, store patient name as a one-way hash",
    "store_patient_id": "Store patient ID",
    "hash_patient_id": "If stored, store patient ID as a one-way hash",
    "store_birth_date": "Store patient date of birth",
    "hash_accession_number": "Store accession number as a one-way hash",
}
DELETION_SETTINGS = {
    "delete_unmatched": "Delete objects that don't match any import functions",
    "delete_rdsr": "Delete radiation dose structured reports after processing",
    "delete_mg_images": "Delete mammography images after processing",
    "delete_dx_images": "Delete radiography images after processing",
    "delete_philips_ct": "Delete Philips CT dose info images after processing",
}
USER_DEFINED_CHOICES = {
    "": "[Leave unchanged]",
    "DX": "DX (planar x-ray)",
    "RF": "RF (fluoroscopy)",
    "Dual": "Dual (planar x-ray and fluoroscopy)",
    "none": "None (as the dose reports say)",
}
LIST_ENDPOINTS = {"CT": "pages.ct_list", "RF": "pages.rf_list", "DX": "pages.dx_list", "MG": "pages.mg_list"}


@blueprint.record_once
def _register_template_globals(state: Any) -> None:
    globals_ = state.app.jinja_env.globals
    globals_.setdefault("detail_endpoints", DETAIL_ENDPOINTS)


def work_queue() -> Any:
    """The extraction queue (``tasks.ExtractionQueue``), built once from the settings if the
    plugin did not hand its own over."""
    queue = current_app.extensions.get(QUEUE_EXTENSION)
    if queue is None:
        from orthanc_rem.tasks import build_queue

        queue = current_app.extensions[QUEUE_EXTENSION] = build_queue(browser().settings)
    return queue


def _checked(names: dict[str, str]) -> dict[str, bool]:
    return {name: request.form.get(name) == "on" for name in names}


def _ids(name: str) -> list[int]:
    try:
        return [int(value) for value in request.form.getlist(name)]
    except ValueError:
        abort(400, description=f"{name} must be whole numbers")


@blueprint.get("/config")
@permissions.require(permissions.VIEW)
def config() -> str:
    return render_template("admin/config.html")


# --- display names and user-defined modality ---------------------------------------------------------


@blueprint.get("/display-names")
@permissions.require(permissions.VIEW)
def display_names() -> str:
    return render_template(
        "admin/display_names.html",
        tables=equipment_review.systems_by_table(dose_session()),
        table_names=equipment_review.SYSTEM_TABLES,
    )


@blueprint.post("/display-names/edit")
@permissions.require(permissions.ADMIN)
def edit_display_names() -> str:
    ids = _ids("equipment")
    if not ids:
        abort(400, description="Choose one or more systems first.")
    rows = list(dose_session().scalars(select(model.Equipment).where(model.Equipment.id.in_(ids))))
    if len(rows) != len(set(ids)):
        abort(404, description="One of the systems chosen no longer exists.")
    return render_template("admin/edit_display_names.html", systems=rows, choices=USER_DEFINED_CHOICES)


@blueprint.post("/display-names/update")
@permissions.require(permissions.ADMIN)
def update_display_names() -> Response:
    ids = _ids("equipment")
    name = request.form.get("display_name", "").strip()
    modality = request.form.get("user_defined_modality", "")
    if modality not in USER_DEFINED_CHOICES:
        abort(400, description="Unknown user-defined modality.")
    with writer_session() as session:
        try:
            if name:
                equipment_admin.set_display_name(session, ids, name)
            if modality:
                equipment_admin.set_user_defined_modality(session, ids, None if modality == "none" else modality)
        except ValueError as exc:
            abort(400, description=str(exc))
    return redirect(url_for("admin.display_names"), 303)


@blueprint.post("/equipment/<int:equipment_id>/dual-reprocess")
@permissions.require(permissions.ADMIN)
def dual_reprocess(equipment_id: int) -> Response:
    """The manual's "Dual: reprocess": sort the system's studies into DX and RF by content again."""
    _equipment(equipment_id)
    with writer_session() as session:
        equipment_admin.set_user_defined_modality(session, [equipment_id], "Dual")
    return redirect(url_for("admin.display_names"), 303)


def _equipment(equipment_id: int) -> model.Equipment:
    equipment = dose_session().get(model.Equipment, equipment_id)
    if equipment is None:
        abort(404, description=f"There is no system with id {equipment_id}.")
    return equipment


def _modality_argument(values: Any) -> str:
    modality = values.get("modality", "")
    if modality not in study_document.MODALITIES:
        abort(400, description=f"modality must be one of {', '.join(study_document.MODALITIES)}")
    return str(modality)


@blueprint.get("/equipment/<int:equipment_id>/review")
@permissions.require(permissions.ADMIN)
def review_system(equipment_id: int) -> str:
    equipment = _equipment(equipment_id)
    modality = _modality_argument(request.args)
    default = browser().settings.page_size
    page, per_page = page_arguments(request.args, default, per_page_choices(default))
    session = dose_session()
    total, shown = equipment_review.system_study_counts(session, equipment_id, modality)
    studies = equipment_review.system_studies(session, equipment_id, modality, page, per_page)
    return render_template(
        "admin/review_system.html",
        equipment=equipment,
        modality=modality,
        total=total,
        shown=shown,
        studies=[(s, study_document.study_summary(s)) for s in studies],
        page=page,
        pages=max(1, -(-shown // per_page)),
        args={"modality": modality} | ({"per_page": per_page} if per_page != default else {}),
    )


@blueprint.route("/equipment/<int:equipment_id>/delete-studies", methods=["GET", "POST"])
@permissions.require(permissions.ADMIN)
def delete_system_studies(equipment_id: int) -> Any:
    equipment = _equipment(equipment_id)
    values = request.form if request.method == "POST" else request.args
    modality = _modality_argument(values)
    remove_equipment = values.get("remove_equipment") == "1"
    if request.method == "GET":
        total, shown = equipment_review.system_study_counts(dose_session(), equipment_id, modality)
        return render_template(
            "admin/confirm_system_deletion.html",
            equipment=equipment,
            modality=modality,
            total=total,
            shown=shown,
            remove_equipment=remove_equipment,
        )
    name = equipment.display_name
    with writer_session() as session:
        result = study_deletion.delete_system_studies(
            session, equipment_id, modality, remove_equipment=remove_equipment
        )
    return render_template("admin/system_deleted.html", result=result, modality=modality, name=name)


# --- one study ------------------------------------------------------------------------------------


def _return_path(value: str | None, fallback: str) -> str:
    """Where to go after deleting: a path of this application only (no other site, no scheme)."""
    if value:
        parts = urlsplit(value)
        if not parts.scheme and not parts.netloc and parts.path.startswith(request.script_root + "/"):
            return value
    return fallback


@blueprint.route(f"/study/{STUDY_ID}/delete", methods=["GET", "POST"])
@permissions.require(permissions.ADMIN)
def delete_study(study_id: int) -> Any:
    study = study_document.load_study(dose_session(), study_id)
    if study is None:
        abort(404, description=f"There is no study with id {study_id}.")
    fallback = url_for(LIST_ENDPOINTS.get(study.modality, "pages.home"))
    if request.method == "GET":
        return render_template(
            "admin/confirm_study_deletion.html",
            study=study,
            summary=study_document.study_summary(study),
            return_to=_return_path(request.args.get("next"), fallback),
        )
    return_to = _return_path(request.form.get("next"), fallback)
    with writer_session() as session:
        study_deletion.delete_study(session, study_id)
    return redirect(return_to, 303)


# --- not-patient indicators ------------------------------------------------------------------------


@blueprint.get("/not-patient-indicators")
@permissions.require(permissions.ADMIN)
def not_patient_indicators() -> str:
    patterns = import_settings.not_patient_patterns(dose_session())
    return render_template(
        "admin/not_patient.html",
        name_patterns=[p for p in patterns if p.applies_to == "name"],
        id_patterns=[p for p in patterns if p.applies_to == "id"],
        defaults=DEFAULTS_074,
    )


@blueprint.post("/not-patient-indicators/add")
@permissions.require(permissions.ADMIN)
def add_not_patient_pattern() -> Response:
    with writer_session() as session:
        try:
            import_settings.add_not_patient_pattern(
                session, request.form.get("applies_to", ""), request.form.get("pattern", "").strip()
            )
        except ValueError as exc:
            abort(400, description=str(exc))
    return redirect(url_for("admin.not_patient_indicators"), 303)


@blueprint.post("/not-patient-indicators/add-074-defaults")
@permissions.require(permissions.ADMIN)
def add_074_defaults() -> Response:
    with writer_session() as session:
        import_settings.add_074_defaults(session)
    return redirect(url_for("admin.not_patient_indicators"), 303)


def _pattern(pattern_id: int) -> model.NotPatientPattern:
    row = dose_session().get(model.NotPatientPattern, pattern_id)
    if row is None:
        abort(404, description=f"There is no not-patient pattern with id {pattern_id}.")
    return row


@blueprint.route("/not-patient-indicators/<int:pattern_id>/modify", methods=["GET", "POST"])
@permissions.require(permissions.ADMIN)
def modify_not_patient_pattern(pattern_id: int) -> Any:
    row = _pattern(pattern_id)
    if request.method == "GET":
        return render_template("admin/modify_pattern.html", pattern=row, defaults=DEFAULTS_074)
    with writer_session() as session:
        try:
            import_settings.replace_not_patient_pattern(session, pattern_id, request.form.get("pattern", "").strip())
        except ValueError as exc:
            abort(400, description=str(exc))
    return redirect(url_for("admin.not_patient_indicators"), 303)


@blueprint.route("/not-patient-indicators/<int:pattern_id>/delete", methods=["GET", "POST"])
@permissions.require(permissions.ADMIN)
def delete_not_patient_pattern(pattern_id: int) -> Any:
    row = _pattern(pattern_id)
    if request.method == "GET":
        return render_template("admin/delete_pattern.html", pattern=row)
    applies_to, pattern = row.applies_to, row.pattern
    with writer_session() as session:
        import_settings.remove_not_patient_pattern(session, applies_to, pattern)
    return redirect(url_for("admin.not_patient_indicators"), 303)


# --- patient identifiable data and object deletion --------------------------------------------------


def _settings_page(template: str, labels: dict[str, str]) -> Any:
    if request.method == "POST":
        with writer_session() as session:
            import_settings.change(session, **_checked(labels))
        return redirect(url_for(request.endpoint or "admin.config", saved=1), 303)
    values = import_settings.describe(dose_session())
    return render_template(
        template, settings=[(n, label, values[n]) for n, label in labels.items()], saved="saved" in request.args
    )


@blueprint.route("/patient-id-settings", methods=["GET", "POST"])
@permissions.require(permissions.ADMIN)
def patient_id_settings() -> Any:
    return _settings_page("admin/patient_id_settings.html", PATIENT_ID_SETTINGS)


@blueprint.route("/dicom-deletion-settings", methods=["GET", "POST"])
@permissions.require(permissions.ADMIN)
def deletion_settings() -> Any:
    return _settings_page("admin/deletion_settings.html", DELETION_SETTINGS)


@blueprint.route("/export-settings", methods=["GET", "POST"])
@permissions.require(permissions.ADMIN)
def export_settings_page() -> Any:
    """The date format of XLSX exports (``orthanc_rem.export_settings``)."""
    error = None
    if request.method == "POST":
        with writer_session() as session:
            try:
                export_settings.change_date_format(session, request.form.get("export_date_format", ""))
            except ValueError as exc:
                error = str(exc)
            else:
                session.commit()
                return redirect(url_for("admin.export_settings_page", saved=1), 303)
    date_format = request.form.get("export_date_format") if error else export_settings.date_format(dose_session())
    return render_template(
        "admin/export_settings.html", date_format=date_format, error=error, saved="saved" in request.args
    ), (400 if error else 200)


# --- failed imports (quarantine) ------------------------------------------------------------------


def _failed_objects() -> Any:
    return select(model.RejectedObject).where(model.RejectedObject.outcome == Outcome.FAILED)


@blueprint.get("/failed-imports")
@permissions.require(permissions.ADMIN)
def failed_imports() -> str:
    default = browser().settings.page_size
    page, per_page = page_arguments(request.args, default, per_page_choices(default))
    session = dose_session()
    rows = list(
        session.scalars(
            _failed_objects()
            .order_by(model.RejectedObject.last_attempt_at.desc(), model.RejectedObject.id.desc())
            .offset((page - 1) * per_page)
            .limit(per_page)
        )
    )
    total = session.scalar(_failed_objects().with_only_columns(func.count(model.RejectedObject.id))) or 0
    return render_template(
        "admin/failed_imports.html",
        rows=rows,
        total=total,
        page=page,
        pages=max(1, -(-total // per_page)),
        args={"per_page": per_page} if per_page != default else {},
        queued=request.args.get("queued"),
    )


def _queue_again(orthanc_ids: list[str]) -> int:
    """Hand the objects to the workers: extraction never runs in Orthanc's own process."""
    queue = work_queue()
    enqueue_many(queue.huey, [queue.ingest_orthanc_instance.s(orthanc_id) for orthanc_id in orthanc_ids])
    return len(orthanc_ids)


@blueprint.post("/failed-imports/<int:rejected_id>/retry")
@permissions.require(permissions.ADMIN)
def retry_failed_import(rejected_id: int) -> Response:
    row = dose_session().get(model.RejectedObject, rejected_id)
    if row is None or row.outcome != Outcome.FAILED:
        abort(404, description=f"There is no failed import with id {rejected_id}.")
    if row.orthanc_id is None:
        abort(400, description="This object was imported from a file: import the file again with 'orthanc-rem import'.")
    return redirect(url_for("admin.failed_imports", queued=_queue_again([row.orthanc_id])), 303)


@blueprint.post("/failed-imports/retry-all")
@permissions.require(permissions.ADMIN)
def retry_all_failed_imports() -> Response:
    session = dose_session()
    ids = [i for i in session.scalars(_failed_objects().with_only_columns(model.RejectedObject.orthanc_id)) if i]
    return redirect(url_for("admin.failed_imports", queued=_queue_again(ids)), 303)


def register(app: Any) -> None:
    """Mount the configuration pages and the patient size import pages under ``/admin``."""
    from orthanc_rem_web import explorer_links, size_import_pages

    app.register_blueprint(blueprint, url_prefix="/admin")
    app.register_blueprint(size_import_pages.blueprint, url_prefix="/admin")
    app.register_blueprint(explorer_links.blueprint)
