"""Skin dose map of a fluoroscopy study: its JSON, the openSkin CSV and Plotly served locally.

The browser never computes: it reads the map the workers stored (``orthanc_rem.skin_dose.cache``).
When a study has no current map (never computed, or its height, mass or the engine changed since),
the request queues the computation on the workers' queue and answers ``pending`` (HTTP 202), as the
manual's "calculated in the background when a study is first viewed", with the progress the worker
reports (``queued``, or ``calculating`` with the events done) for the page to show.
"""

from __future__ import annotations

import functools
import threading
import time
from typing import Any

from flask import Blueprint, Response, abort

from orthanc_rem import model
from orthanc_rem.skin_dose import cache
from orthanc_rem.skin_dose.openskin import openskin_csv
from orthanc_rem.skin_dose.worker import calculation_progress
from orthanc_rem_web import permissions
from orthanc_rem_web.db import browser, dose_session
from orthanc_rem_web.query import STUDY_ID

blueprint = Blueprint("skin_dose", __name__)

#: The page asks again every few seconds while a map is pending; one task per study is enough.
#: (The dose browser runs in one process, Orthanc's, so a memory of what was queued suffices; a
#: study queued twice anyway costs a digest check, since the second task finds the map current.)
REQUEUE_AFTER_S = 300.0
_queued_at: dict[tuple[str, int], float] = {}
_queued_lock = threading.Lock()


@functools.cache
def _skin_dose_task(queue_url: str) -> Any:
    from orthanc_rem.skin_dose.worker import register_skin_dose_task
    from orthanc_rem.tasks import create_huey

    return register_skin_dose_task(create_huey(queue_url), browser().settings)


def _fluoroscopy_study(study_id: int) -> model.Study:
    study = dose_session().get(model.Study, study_id)
    if study is None:
        abort(404, description=f"There is no study with id {study_id}.")
    return study


@blueprint.get(f"/api/studies/{STUDY_ID}/skin-dose")
@permissions.require(permissions.VIEW)
def skin_dose(study_id: int) -> Any:
    study = _fluoroscopy_study(study_id)
    if not cache.is_fluoroscopy_with_report(study):
        return {"status": "not_applicable", "reason": "not a fluoroscopy study with a radiation dose report"}
    current = cache.current_map(dose_session(), study_id)
    if current is not None:
        return cache.skin_dose_document(current)
    queue_url = browser().settings.queue_url
    _queue_once(queue_url, study_id)
    stale = cache.stored_map(dose_session(), study_id)
    progress = calculation_progress(_skin_dose_task(queue_url).huey, study_id) or {"state": "queued"}
    reason = "being calculated by a worker" if progress["state"] == "calculating" else "queued for calculation"
    document: dict[str, Any] = {"status": "pending", "reason": reason, "progress": progress}
    if stale is not None:
        document["previous"] = cache.skin_dose_document(stale, with_grid=False)
    return document, 202


def _queue_once(queue_url: str, study_id: int) -> None:
    now = time.monotonic()
    with _queued_lock:
        last = _queued_at.get((queue_url, study_id))
        if last is not None and now - last < REQUEUE_AFTER_S:
            return
        _queued_at[(queue_url, study_id)] = now
    _skin_dose_task(queue_url)(study_id)


@blueprint.get(f"/rf/{STUDY_ID}/openskin.csv")
@permissions.require(permissions.EXPORT)
def openskin_export(study_id: int) -> Response:
    study = _fluoroscopy_study(study_id)
    return Response(
        openskin_csv(study),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="OpenSkinExport-study{study_id}.csv"'},
    )
