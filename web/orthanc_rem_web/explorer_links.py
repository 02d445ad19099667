"""Where Orthanc Explorer's "Radiation dose" button on a study lands: the study's dose page.

Orthanc Explorer knows a study by Orthanc's id and its Study Instance UID; we know it by the UID
(``study.study_instance_uid``) and show it under its modality. A study Orthanc holds without dose
data (images only, not imported yet, failed) gets a page saying so rather than a bare 404.
"""

from __future__ import annotations

from flask import Blueprint, abort, redirect, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from orthanc_rem import model
from orthanc_rem_web import permissions
from orthanc_rem_web.db import dose_session

blueprint = Blueprint("explorer", __name__)

DETAIL_ENDPOINTS = {"CT": "pages.ct_detail", "RF": "pages.rf_detail", "DX": "pages.dx_detail", "MG": "pages.mg_detail"}


@blueprint.get("/study-by-uid/<path:study_instance_uid>")
@permissions.require(permissions.VIEW)
def study_by_uid(study_instance_uid: str) -> Response:
    found = dose_session().execute(
        select(model.Study.id, model.Study.modality).where(model.Study.study_instance_uid == study_instance_uid)
    ).first()
    if found is None or found.modality not in DETAIL_ENDPOINTS:
        abort(
            404,
            description="The dose database has no study with this Study Instance UID: it holds no dose report, "
            "or its objects were not imported (see the objects not imported).",
        )
    return redirect(url_for(DETAIL_ENDPOINTS[found.modality], study_id=found.id), 303)  # type: ignore[return-value]
