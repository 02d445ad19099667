"""The JSON API: the same studies as the pages, with every stored field and its unit.

``/api/studies`` lists summaries of every modality (filtered and ordered by the lists' parameters,
``orthanc_rem.study_filters``, paged like the lists); ``/api/studies/<id>`` is the whole study document
(``orthanc_rem.study_document``); ``/api/rejected`` lists the objects that were not imported and
why; ``/api/status`` counts outcomes (failed, with warnings, unmatched); ``/api/settings`` shows
the import settings (changed with ``orthanc-rem settings``).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, request

from orthanc_rem import ingest_status, study_document, study_filters
from orthanc_rem.skin_dose import listing as skin_dose_listing
from orthanc_rem_web import permissions
from orthanc_rem_web.db import browser, dose_session, settings_description
from orthanc_rem_web.query import API_PER_PAGE, STUDY_ID, list_query, page_arguments

blueprint = Blueprint("api", __name__)


@blueprint.get("/studies")
@permissions.require(permissions.VIEW)
def studies() -> dict[str, Any]:
    """One page of studies; every filter and ordering of the lists is a parameter (README, "Study lists")."""
    query = list_query(
        request.args, browser().settings.page_size, API_PER_PAGE, may_see_patient_data=permissions.may(permissions.PID)
    )
    found = study_filters.page_of_studies(
        dose_session(), query.study_filter, query.page, query.per_page, after=query.after, before=query.before
    )
    return {
        "total": found.count.studies,
        "total_exact": found.count.exact,
        "page": query.page,
        "per_page": query.per_page,
        "has_next": found.has_next,
        # Keyset cursors: pass as after= (before=) for the next (previous) page without OFFSET.
        "next": found.next_cursor.text() if found.next_cursor else None,
        "previous": found.previous_cursor.text() if found.previous_cursor else None,
        "studies": skin_dose_listing.add_peak_skin_dose(
            dose_session(), map(study_document.study_summary, found.studies)
        ),
    }


@blueprint.get(f"/studies/{STUDY_ID}")
@permissions.require(permissions.VIEW)
def study(study_id: int) -> dict[str, Any]:
    row = study_document.load_study(dose_session(), study_id)
    if row is None:
        abort(404, description=f"There is no study with id {study_id}.")
    document = study_document.study_document(row)
    if not permissions.may(permissions.PID) and document.get("patient"):
        # Patient name, ID and birth date only for the pid group (manual, "Users and groups").
        document["patient"] = {k: v for k, v in document["patient"].items() if k not in PATIENT_IDENTITY}
    return document


#: The patient fields that identify the patient (stored only if the import settings say so).
PATIENT_IDENTITY = frozenset({"name", "name_hashed", "patient_id", "patient_id_hashed", "birth_date"})


@blueprint.get("/rejected")
@permissions.require(permissions.ADMIN)
def rejected() -> Any:
    """A plain list, most recent first; ``page``/``per_page`` (up to 1000, the default) page through it."""
    page, per_page = page_arguments(request.args, API_PER_PAGE.stop - 1, API_PER_PAGE)
    rows, total = study_document.load_rejected(dose_session(), page, per_page)
    return [study_document.rejected_document(row) for row in rows], 200, {"X-Total-Count": str(total)}


@blueprint.get("/status")
@permissions.require(permissions.VIEW)
def status() -> dict[str, Any]:
    return ingest_status.ingest_status(dose_session())


@blueprint.get("/settings")
@permissions.require(permissions.ADMIN)
def settings() -> dict[str, Any]:
    return settings_description(dose_session())
