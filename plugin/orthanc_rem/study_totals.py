"""Each study's totals (DLP, DAP, dose at the reference point) kept in ``study_totals``.

The lists filter and sort by these totals; they are the values the pages and the API show, computed
by the same functions (``orthanc_rem.study_document``), once when a study is written instead of on
every list request. ``refresh`` runs inside the transaction that stores or re-labels a study;
``fill_missing`` runs after every schema upgrade and computes the totals of studies stored before
the table existed (or by code that did not call ``refresh``).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from orthanc_rem import chart_events, model, study_document

#: Studies computed per transaction by ``fill_missing``.
BATCH = 500


def refresh(session: Session, study_ids: Iterable[int]) -> None:
    """Compute and store the totals of these studies from what the session holds (flushed)."""
    ids = list(study_ids)
    if not ids:
        return
    session.flush()
    query = (
        select(model.Study)
        .where(model.Study.id.in_(ids))
        .options(*study_document.summary_loaders())
        .execution_options(populate_existing=True)
    )
    for study in session.scalars(query):
        totals = session.get(model.StudyTotals, study.id) or model.StudyTotals(study_fk=study.id)
        totals.total_dlp_mgycm = study_document.total_dlp_mgycm(study)
        totals.total_dap_gym2 = study_document.total_dap_gym2(study)
        totals.total_dose_rp_gy = study_document.total_dose_rp_gy(study)
        session.add(totals)
    session.flush()
    chart_events.refresh(session, ids)  # the charts' copy of the CT events, kept with the totals


def fill_missing(session: Session) -> int:
    """Compute the totals of every study that has none; returns how many were computed."""
    computed = 0
    while True:
        missing = (
            select(model.Study.id)
            .where(~select(model.StudyTotals.study_fk).where(model.StudyTotals.study_fk == model.Study.id).exists())
            .limit(BATCH)
        )
        ids = list(session.scalars(missing))
        if not ids:
            return computed
        try:
            refresh(session, ids)
            session.commit()
        except IntegrityError:
            # Workers, plugin and CLI upgrade at start, together: another process wrote these.
            session.rollback()
            continue
        computed += len(ids)
