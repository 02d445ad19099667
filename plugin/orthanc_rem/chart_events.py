"""Each study's CT irradiation events as the charts read them, kept in ``ct_chart_event``
(``orthanc_rem.model.chart_rows`` says why the table exists).

``refresh`` runs wherever a study's totals are refreshed (``study_totals.refresh``: import,
replacement, reprocessing, a change of user-defined modality), in the same transaction, so the
rows always describe what is stored. It deletes the study's rows and copies them again from the
events with one INSERT ... SELECT: two statements per study, built once per dialect. Deleting a
study or an event removes its rows through the foreign keys (``ON DELETE CASCADE``); renaming a
system changes nothing here (the rows keep the equipment id, the charts join the display name).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Select, bindparam, delete, false, func, insert, select
from sqlalchemy.orm import Session

from orthanc_rem import model
from orthanc_rem.bulk_rows import NewRow
from orthanc_rem.store_statements import table

#: CT Acquisition Type (CID 10013) of localisers and topograms.
CONSTANT_ANGLE = "Constant Angle Acquisition"

_COLUMNS = (
    "event_fk",
    "study_fk",
    "modality",
    "study_date",
    "equipment_id",
    "acquisition_protocol",
    "localiser",
    "dlp_mgycm",
    "mean_ctdivol_mgy",
)
_built: dict[str, tuple[Any, Any]] = {}


def _copied() -> Select[Any]:
    """Every CT event's row for ``ct_chart_event``, read from the event, its report and its study."""
    event, dose, study = (table(m) for m in (model.CtIrradiationEvent, model.CtRadiationDose, model.Study))
    localiser = func.coalesce(event.c.ct_acquisition_type_meaning == CONSTANT_ANGLE, false())
    return (
        select(event.c.id, study.c.id, study.c.modality, study.c.study_date, study.c.equipment_id,
               event.c.acquisition_protocol, localiser, event.c.dlp_mgycm, event.c.mean_ctdivol_mgy)
        .select_from(event)
        .join(dose, dose.c.id == event.c.ct_radiation_dose_fk)
        .join(study, study.c.id == dose.c.study_fk)
    )  # fmt: skip


def _statements(dialect: str) -> tuple[Any, Any]:
    """(delete, insert) of the rows of the studies in the expanding parameter ``ids``."""
    built = _built.get(dialect)
    if built is None:
        rows = table(model.CtChartEvent)
        ids: Any = bindparam("ids", expanding=True)
        copy = insert(rows).from_select(_COLUMNS, _copied().where(table(model.Study).c.id.in_(ids)))
        built = _built[dialect] = (delete(rows).where(rows.c.study_fk.in_(ids)), copy)
    return built


def refresh(session: Session, study_ids: Iterable[int]) -> None:
    """Copy these studies' CT events into ``ct_chart_event`` again (the session is flushed)."""
    ids = list(study_ids)
    if not ids:
        return
    remove, copy = _statements(session.get_bind().dialect.name)
    session.execute(remove, {"ids": ids})
    session.execute(copy, {"ids": ids})


def insert_for_new_study(session: Session, study: dict[str, Any], dose: NewRow) -> None:
    """Write the rows of a study created in this transaction (it has none yet) from the values
    just inserted: ``study`` holds the study's ``id``, ``modality``, ``study_date`` and
    ``equipment_id``; ``dose`` is its CT radiation dose as ``bulk_rows.insert_rows`` inserted it
    (the events carry their new ids). The new-study path's counterpart of ``refresh``, as
    ``study_totals.insert_for_new_study`` is.

    A plain multi-row INSERT of values the worker holds, not ``refresh``'s INSERT ... SELECT that
    reads them back through a three-table join: on PostgreSQL that join was the second most
    expensive statement of storing a CT object for the server (0.6 ms of its CPU, issue 6 §5).
    The values are those the SELECT would read (the same Python values were just written);
    ``tests/test_ct_chart_events.py`` holds the rows equal to the stored events.
    """
    rows = [
        {
            "event_fk": event.id,
            "study_fk": study["id"],
            "modality": study["modality"],
            "study_date": study["study_date"],
            "equipment_id": study["equipment_id"],
            "acquisition_protocol": event.values.get("acquisition_protocol"),
            "localiser": event.values.get("ct_acquisition_type_meaning") == CONSTANT_ANGLE,
            "dlp_mgycm": event.values.get("dlp_mgycm"),
            "mean_ctdivol_mgy": event.values.get("mean_ctdivol_mgy"),
        }
        for event in dose.children.get("events") or []
    ]
    if rows:
        session.execute(_INSERT, rows)


_INSERT = insert(table(model.CtChartEvent))


def copy_all(session: Session) -> None:
    """Copy every study's CT events again, in one statement: after a bulk load that bypassed
    ``refresh`` (the benchmarks' loader). Migration 0016b runs the same copy."""
    rows = table(model.CtChartEvent)
    session.execute(delete(rows))
    session.execute(insert(rows).from_select(_COLUMNS, _copied()))
