"""Each study's totals (DLP, DAP, dose at the reference point) kept in ``study_totals``.

The lists filter and sort by these totals; they are the values the pages and the API show, computed
by the same functions (``orthanc_rem.study_document``), once when a study is written instead of on
every list request. ``refresh`` runs inside the transaction that stores or re-labels a study;
``fill_missing`` runs after every schema upgrade and computes the totals of studies stored before
the table existed (or by code that did not call ``refresh``).

A new study's first report is the study's only one: ``insert_for_new_study`` computes its totals
from the report the worker holds (``of_new_report``) instead of reloading the study through the ORM
(``refresh``), which cost a quarter of a worker's CPU per CT object (``benchmarks/worker_cpu.py``).
Both apply ``study_document``'s rules; ``tests/test_study_totals.py`` holds them equal for every
corpus dose object.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from orthanc_rem import chart_events, model, study_document
from orthanc_rem.extraction import records

#: Studies computed per transaction by ``fill_missing``.
BATCH = 500


@dataclass(frozen=True)
class Totals:
    """The ``study_totals`` columns of one study."""

    total_dlp_mgycm: float | None
    total_dap_gym2: float | None
    total_dose_rp_gy: float | None


def of_study(study: model.Study) -> Totals:
    return Totals(
        study_document.total_dlp_mgycm(study),
        study_document.total_dap_gym2(study),
        study_document.total_dose_rp_gy(study),
    )


def of_new_report(report: Any, row: Any, modality: str) -> Totals:
    """The totals of a new study made of this one report: a CT report from its record
    (``records.CtDoseReport``), a projection report from its row as built for storing
    (``projection_rows``: transient ORM objects), shown under ``modality`` (the study's)."""
    if isinstance(report, records.CtDoseReport):
        accumulated = report.dose.accumulated
        dlp = study_document.report_dlp_mgycm(
            accumulated.dlp_total_mgycm if accumulated is not None else None,
            (event.dlp_mgycm for event in report.dose.events),
        )
        return Totals(dlp, None, None)
    doses = [row]
    return Totals(
        None, study_document.reports_dap_gym2(doses, modality), study_document.reports_dose_rp_gy(doses, modality)
    )


_INSERT = insert(model.StudyTotals.__table__)  # type: ignore[arg-type]


def insert_for_new_study(session: Session, study_id: int, totals: Totals) -> None:
    """Write the totals of a study created in this transaction (no row of it exists yet)."""
    session.execute(_INSERT, {"study_fk": study_id, **asdict(totals)})


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
        row = session.get(model.StudyTotals, study.id) or model.StudyTotals(study_fk=study.id)
        for column, value in asdict(of_study(study)).items():
            setattr(row, column, value)
        session.add(row)
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
