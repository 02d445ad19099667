"""The JSON API: the same studies as the pages, with every stored field and its unit.

``/api/studies`` lists summaries of every modality (newest first, filtered by ``modality``, dates
and ``display_name``, paged like the lists); ``/api/studies/<id>`` is the whole study document
(``orthanc_rem.study_document``); ``/api/rejected`` lists the objects that were not imported and
why; ``/api/status`` counts outcomes (failed, with warnings, unmatched); ``/api/settings`` shows
the import settings (changed with ``orthanc-rem settings``).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, request

from orthanc_rem import ingest_status, study_document
from orthanc_rem.skin_dose import listing as skin_dose_listing
from orthanc_rem_web.db import browser, dose_session, settings_description
from orthanc_rem_web.query import API_PER_PAGE, STUDY_ID, list_query, modality_argument, page_arguments

blueprint = Blueprint("api", __name__)


@blueprint.get("/studies")
def studies() -> dict[str, Any]:
    query = list_query(request.args, browser().settings.page_size, API_PER_PAGE)
    rows, total = study_document.load_studies(
        dose_session(),
        modality=modality_argument(request.args),
        date_from=query.date_from,
        date_until=query.date_until,
        display_name=query.display_name,
        page=query.page,
        per_page=query.per_page,
        conditions=skin_dose_listing.psd_conditions(query.psd_from, query.psd_until),
    )
    return {
        "total": total,
        "page": query.page,
        "per_page": query.per_page,
        "studies": skin_dose_listing.add_peak_skin_dose(dose_session(), map(study_document.study_summary, rows)),
    }


@blueprint.get(f"/studies/{STUDY_ID}")
def study(study_id: int) -> dict[str, Any]:
    row = study_document.load_study(dose_session(), study_id)
    if row is None:
        abort(404, description=f"There is no study with id {study_id}.")
    return study_document.study_document(row)


@blueprint.get("/rejected")
def rejected() -> Any:
    """A plain list, most recent first; ``page``/``per_page`` (up to 1000, the default) page through it."""
    page, per_page = page_arguments(request.args, API_PER_PAGE.stop - 1, API_PER_PAGE)
    rows, total = study_document.load_rejected(dose_session(), page, per_page)
    return [study_document.rejected_document(row) for row in rows], 200, {"X-Total-Count": str(total)}


@blueprint.get("/status")
def status() -> dict[str, Any]:
    return ingest_status.ingest_status(dose_session())


@blueprint.get("/settings")
def settings() -> dict[str, Any]:
    return settings_description(dose_session())
