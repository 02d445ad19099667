"""The HTML pages: home, a study list and a study detail page per modality, objects not imported,
import settings.

Columns and header fields follow the OpenREM 0.8.1 manual ("Viewing study details") so that users
moving from OpenREM find what they know; everything else is plain server-rendered HTML that works
without JavaScript.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, abort, render_template, request

from orthanc_rem import import_settings, ingest_status, model, study_document, study_filters, system_summaries
from orthanc_rem.skin_dose import listing as skin_dose_listing
from orthanc_rem_web import permissions
from orthanc_rem_web.db import browser, dose_session, settings_description
from orthanc_rem_web.query import STUDY_ID, list_query, page_arguments, per_page_choices

blueprint = Blueprint("pages", __name__)

#: The manual's names for the modalities, in its navigation bar's order.
MODALITY_NAMES = {"CT": "CT", "RF": "Fluoroscopy", "DX": "Radiography", "MG": "Mammography"}


@blueprint.app_context_processor
def _modalities() -> dict[str, Any]:
    return {"modality_names": MODALITY_NAMES}


def _pages(total: int, per_page: int) -> int:
    return max(1, -(-total // per_page))


@blueprint.get("/")
@permissions.require(permissions.VIEW)
def home() -> str:
    session = dose_session()
    stored = system_summaries.modality_counts(session)  # modalities without studies are hidden
    counts = {m: stored[m] for m in MODALITY_NAMES if m in stored} | stored
    return render_template(
        "home.html",
        counts=counts,
        total=sum(counts.values()),
        systems=system_summaries.systems_by_modality(session),
        now=dt.datetime.now(dt.UTC),
        time_since=system_summaries.time_since,
        rejected=study_document.rejected_count(session),
        status=ingest_status.ingest_status(session),
    )


def _study_list(modality: str) -> str:
    default = browser().settings.page_size
    may_see_patient_data = permissions.may(permissions.PID)
    allowed = list_page_sizes(default)
    query = list_query(request.args, default, allowed, modality=modality, may_see_patient_data=may_see_patient_data)
    choices = tuple(sorted({*per_page_choices(default), query.per_page}))  # a typed size stays chosen
    found = study_filters.page_of_studies(
        dose_session(), query.study_filter, query.page, query.per_page, after=query.after, before=query.before
    )
    return render_template(
        "study_list.html",
        modality=modality,
        list_endpoint=f"pages.{modality.lower()}_list",
        detail_endpoint=f"pages.{modality.lower()}_detail",
        studies=skin_dose_listing.add_peak_skin_dose(dose_session(), map(study_document.study_summary, found.studies)),
        count=found.count,
        query=query,
        pages=list_pages(found, query.page, query.per_page),
        next_cursor=found.next_cursor.text() if found.next_cursor else None,
        previous_cursor=found.previous_cursor.text() if found.previous_cursor else None,
        default_per_page=default,
        per_page_choices=choices,
        order_choices=study_filters.order_choices(modality),
        may_see_patient_data=may_see_patient_data,
    )


def list_page_sizes(default: int) -> range:
    """Items per page a list takes: 10 to 400 (the form offers a few), and the configured default."""
    return range(min(10, default), max(400, default) + 1)


def list_pages(found: study_filters.StudyPage, page: int, per_page: int) -> int:
    """The last page to offer: the last one when the count is exact; past a bounded count, the
    pages the bound covers or the next one when this page is not the last."""
    counted = _pages(found.count.studies, per_page)
    if found.count.exact:
        return counted
    return max(counted, page + 1 if found.has_next else page)


@blueprint.get("/ct/")
@permissions.require(permissions.VIEW)
def ct_list() -> str:
    return _study_list("CT")


@blueprint.get("/rf/")
@permissions.require(permissions.VIEW)
def rf_list() -> str:
    return _study_list("RF")


@blueprint.get("/dx/")
@permissions.require(permissions.VIEW)
def dx_list() -> str:
    return _study_list("DX")


@blueprint.get("/mg/")
@permissions.require(permissions.VIEW)
def mg_list() -> str:
    return _study_list("MG")


def _study(study_id: int, modality: str) -> model.Study:
    study = study_document.load_study(dose_session(), study_id)
    if study is None or study.modality != modality:
        abort(404, description=f"There is no {MODALITY_NAMES[modality]} study with id {study_id}.")
    return study


@blueprint.get(f"/ct/{STUDY_ID}")
@permissions.require(permissions.VIEW)
def ct_detail(study_id: int) -> str:
    study = _study(study_id, "CT")
    return render_template(
        "ct_detail.html",
        study=study,
        report_dlp=study_document.dose_report_dlp_mgycm,
        total_dlp=study_document.total_dlp_mgycm(study),
        number_of_events=study_document.number_of_events(study),
    )


def _projection_detail(study_id: int, modality: str) -> str:
    study = _study(study_id, modality)
    return render_template(
        f"{modality.lower()}_detail.html",
        study=study,
        number_of_events=study_document.number_of_projection_events(study),
        total_dap=study_document.total_dap_gym2(study),
        total_dose_rp=study_document.total_dose_rp_gy(study),
        total_fluoro_time=study_document.total_fluoro_time_s(study),
        accumulated_agd=study_document.accumulated_agd_mgy(study),
        plane_dap=study_document.plane_dap_gym2,
        plane_dose_rp=study_document.plane_dose_rp_gy,
    )


@blueprint.get(f"/rf/{STUDY_ID}")
@permissions.require(permissions.VIEW)
def rf_detail(study_id: int) -> str:
    return _projection_detail(study_id, "RF")


@blueprint.get(f"/dx/{STUDY_ID}")
@permissions.require(permissions.VIEW)
def dx_detail(study_id: int) -> str:
    return _projection_detail(study_id, "DX")


@blueprint.get(f"/mg/{STUDY_ID}")
@permissions.require(permissions.VIEW)
def mg_detail(study_id: int) -> str:
    return _projection_detail(study_id, "MG")


@blueprint.get("/rejected")
@permissions.require(permissions.ADMIN)
def rejected() -> str:
    default = browser().settings.page_size
    choices = per_page_choices(default)
    page, per_page = page_arguments(request.args, default, choices)
    rows, total = study_document.load_rejected(dose_session(), page, per_page)
    return render_template(
        "rejected.html",
        rows=rows,
        total=total,
        page=page,
        per_page=per_page,
        pages=_pages(total, per_page),
        default_per_page=default,
    )


#: What each import setting means, in the manual's words (Config -> Patient ID, DICOM object deletion).
SETTING_LABELS = {
    "store_patient_name": "Store patient name",
    "hash_patient_name": "Store patient name as a one-way hash",
    "store_patient_id": "Store patient ID",
    "hash_patient_id": "Store patient ID as a one-way hash",
    "store_birth_date": "Store date of birth (for the age at the study)",
    "hash_accession_number": "Store accession number as a one-way hash",
    "delete_unmatched": "Delete objects that are not dose objects we import",
    "delete_rdsr": "Delete radiation dose structured reports after import",
    "delete_mg_images": "Delete mammography images after import",
    "delete_dx_images": "Delete radiography images after import",
    "delete_philips_ct": "Delete Philips CT dose info images after import",
}


@blueprint.get("/settings")
@permissions.require(permissions.ADMIN)
def settings() -> str:
    description = settings_description(dose_session())
    return render_template(
        "settings.html",
        settings=[
            (name, SETTING_LABELS.get(name, name.replace("_", " ")), description[name])
            for name in import_settings.SETTING_NAMES
        ],
        name_patterns=description["not_patient_name_patterns"],
        id_patterns=description["not_patient_id_patterns"],
    )
