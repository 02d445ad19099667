"""The narrow rows each chart aggregates: (study id, category, series, value), one per event or
per study of the filtered studies, with blank names as "Blank" and blank or zero values left out.

Every function takes the list filter's :class:`Selection` (its condition on ``study``,
``orthanc_rem.study_filters``; the study table is joined once, not once more for a subquery of
ids) and returns a ``Select`` that the statistics (``charts.statistics``) group in the database.
The CT acquisition charts read ``ct_chart_event`` (``orthanc_rem.model.chart_rows``) instead of
the dose tree: one narrow table, no join to the study when the filter is only modality and dates.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import ColumnElement, Float, Select, String, cast, func, literal, or_, select
from sqlalchemy.orm import Session

from orthanc_rem import chart_events, model
from orthanc_rem.charts.options import ChartOptions
from orthanc_rem.charts.statistics import dialect
from orthanc_rem.study_filters import DEFAULT_ORDER, StudyFilter, folded

BLANK = "Blank"
ALL_SYSTEMS = "All systems"
#: CT Acquisition Type (CID 10013) of localisers and topograms, left out of the acquisition and
#: study CTDIvol charts (OpenREM's ``exclude_constant_angle``): their dose says nothing about the scan.
CONSTANT_ANGLE = chart_events.CONSTANT_ANGLE

#: The requested procedure as the lists search it: the code meaning, else the description.
REQUESTED_PROCEDURE = func.coalesce(
    func.nullif(func.trim(model.Study.requested_procedure_code_meaning), ""),
    model.Study.requested_procedure_description,
)


@dataclass(frozen=True)
class Selection:
    """The studies a chart counts: the list filter and its condition on the ``study`` table."""

    study_filter: StudyFilter
    condition: Any

    @property
    def only_modality_and_dates(self) -> bool:
        """Whether the filter is no more than a modality and a date range (what ``ct_chart_event``
        holds itself, so that its rows need no join to the study)."""
        rest = replace(self.study_filter, modality=None, date_from=None, date_until=None, order_by=DEFAULT_ORDER)
        return rest == StudyFilter()


def category(column: Any, options: ChartOptions) -> ColumnElement[str]:
    """A name to group by: trimmed, lower-cased when categories are case-insensitive, "Blank" if empty."""
    text: Any = func.trim(column)
    if options.case_insensitive:
        text = folded(text)
    return func.coalesce(func.nullif(text, ""), BLANK)


def series(options: ChartOptions) -> ColumnElement[str]:
    """The system's display name when there is a series per system, else one series."""
    if options.series_per_system:
        return func.coalesce(model.Equipment.display_name, BLANK)
    return literal(ALL_SYSTEMS, String)


def _studies(query: Select[Any], filtered: Selection) -> Select[Any]:
    """The rows of the filtered studies with their system."""
    return query.where(filtered.condition).outerjoin(model.Equipment, model.Equipment.id == model.Study.equipment_id)


def _present(value: Any) -> ColumnElement[bool]:
    """Blank and zero doses are left out of averages and frequencies (manual, #494)."""
    return value > 0


def ct_chart_events(filtered: Selection, options: ChartOptions, value: Any) -> Select[Any]:
    """One row per CT irradiation event, localisers left out, with a non-zero ``value`` (a column
    of ``ct_chart_event``) of the filtered studies, categorised by acquisition protocol."""
    rows = model.CtChartEvent
    query = (
        select(rows.study_fk.label("study_id"), category(rows.acquisition_protocol, options).label("category"),
               series(options).label("series"), cast(value, Float).label("value"))
        .select_from(rows)
        .outerjoin(model.Equipment, model.Equipment.id == rows.equipment_id)
        .where(_present(value), rows.localiser.is_(False))
    )  # fmt: skip
    return narrowed_to(query, filtered)


def ct_chart_event_keys(filtered: Selection, options: ChartOptions, value: Any) -> Select[Any]:
    """The rows of :func:`ct_chart_events` as stored, not named: ``protocol`` (the stored text or
    NULL), ``system`` (the equipment id or NULL; only with a series per system) and ``value``.
    ``charts.named_groups`` groups these and names the few groups afterwards, so that no row is
    trimmed, lower-cased or joined to its system's name; the stored keys are also what the
    ``ct_chart_event`` value indexes start with (``charts.indexed_medians``)."""
    rows = model.CtChartEvent
    columns: list[Any] = [rows.acquisition_protocol.label("protocol")]
    if options.series_per_system:
        columns.append(rows.equipment_id.label("system"))
    return narrowed_to(select(*columns, cast(value, Float).label("value")).where(*_acquired(value)), filtered)


def _acquired(value: Any) -> list[ColumnElement[bool]]:
    """The ``ct_chart_event`` rows the acquisition charts count: a non-zero value, no localiser."""
    return [_present(value), model.CtChartEvent.localiser.is_(False)]


def ct_chart_event_values(filtered: Selection, value: Any) -> Select[Any]:
    """``value`` of the rows of :func:`ct_chart_event_keys`, without keys: what a median reads
    from the value index of one protocol and system (``charts.indexed_medians`` adds them)."""
    return narrowed_to(select(value.label("value")).where(*_acquired(value)), filtered)


def narrowed_to(query: Select[Any], filtered: Selection) -> Select[Any]:
    """A query of ``ct_chart_event`` narrowed to the filtered studies (modality and dates on the
    table itself; any other filter through the study)."""
    rows = model.CtChartEvent
    chosen = filtered.study_filter
    if not filtered.only_modality_and_dates:
        return query.where(rows.study_fk.in_(select(model.Study.id).where(filtered.condition)))
    if chosen.modality:
        query = query.where(rows.modality == chosen.modality)
    if chosen.date_from is not None:
        query = query.where(rows.study_date >= chosen.date_from)
    if chosen.date_until is not None:
        query = query.where(rows.study_date <= chosen.date_until)
    return query


def ct_events(filtered: Selection, options: ChartOptions, protocol_category: Any, value: Any,
              localisers: bool) -> Select[Any]:  # fmt: skip
    """One row per CT irradiation event with a non-zero ``value`` of the filtered studies."""
    event, dose = model.CtIrradiationEvent, model.CtRadiationDose
    query = (
        select(model.Study.id.label("study_id"), category(protocol_category, options).label("category"),
               series(options).label("series"), cast(value, Float).label("value"))
        .select_from(event)
        .join(dose, event.ct_radiation_dose_fk == dose.id)
        .join(model.Study, dose.study_fk == model.Study.id)
    )  # fmt: skip
    query = _studies(query, filtered).where(_present(value))
    if not localisers:
        meaning = event.ct_acquisition_type_meaning
        query = query.where(or_(meaning.is_(None), meaning != CONSTANT_ANGLE))
    return query


def projection_events(filtered: Selection, options: ChartOptions, value: Any, with_source: bool) -> Select[Any]:
    """One row per projection irradiation event (with its X-ray source when the value is on it)."""
    event, dose = model.ProjectionIrradiationEvent, model.ProjectionXRayRadiationDose
    query = (
        select(model.Study.id.label("study_id"), category(event.acquisition_protocol, options).label("category"),
               series(options).label("series"), value.label("value"))
        .select_from(event)
        .join(dose, event.radiation_dose_fk == dose.id)
        .join(model.Study, dose.study_fk == model.Study.id)
    )  # fmt: skip
    if with_source:
        query = query.join(model.XRaySource, model.XRaySource.event_fk == event.id)
    return _studies(query, filtered).where(_present(value))


def study_totals(filtered: Selection, options: ChartOptions, name: Any, value: Any) -> Select[Any]:
    """One row per study with a non-zero total (DLP, DAP), as the lists show it."""
    query = select(
        model.Study.id.label("study_id"), category(name, options).label("category"),
        series(options).label("series"), value.label("value"),
    ).join(model.StudyTotals, model.StudyTotals.study_fk == model.Study.id)  # fmt: skip
    return _studies(query, filtered).where(_present(value))


def events_per_study(filtered: Selection, options: ChartOptions, name: Any, projection: bool) -> Select[Any]:
    """One row per study with at least one event: the number of its irradiation events."""
    if projection:
        event, dose = model.ProjectionIrradiationEvent, model.ProjectionXRayRadiationDose
        event_join = event.radiation_dose_fk == dose.id
    else:
        event, dose = model.CtIrradiationEvent, model.CtRadiationDose  # type: ignore[assignment]
        event_join = model.CtIrradiationEvent.ct_radiation_dose_fk == dose.id
    # Counted per filtered study in one GROUP BY (a subquery counting every study's events first
    # read all 5M events of a million studies even for one year's chart).
    categorised = category(name, options).label("category")
    named_series = series(options).label("series")
    query = (
        select(model.Study.id.label("study_id"), categorised, named_series,
               cast(func.count(event.id), Float).label("value"))
        .select_from(model.Study)
        .join(dose, dose.study_fk == model.Study.id)
        .join(event, event_join)
    )  # fmt: skip
    # Grouped by the primary keys: the study's and system's columns depend on them (PostgreSQL
    # refuses the constant "All systems" in GROUP BY).
    return _studies(query, filtered).group_by(model.Study.id, model.Equipment.id)


def workload(session: Session, filtered: Selection) -> Select[Any]:
    """Every filtered study with a date (zero and blank doses included, as the manual says):
    its weekday (0 Sunday … 6 Saturday) and hour (blank when the time is not recorded)."""
    study = model.Study
    if dialect(session) == "postgresql":
        weekday: Any = func.extract("dow", study.study_date)
        hour: Any = func.extract("hour", study.study_time)
    else:
        weekday = func.strftime("%w", study.study_date)
        hour = func.strftime("%H", study.study_time)
    query = select(study.id.label("study_id"), weekday.label("weekday"), hour.label("hour"))
    return query.where(filtered.condition, study.study_date.is_not(None))


def period_start(session: Session, period: str) -> Any:
    """The first day of the study date's day, week (Monday), month or year, as yyyy-mm-dd text."""
    date = model.Study.study_date
    if dialect(session) == "postgresql":
        return func.to_char(func.date_trunc(period, date), "YYYY-MM-DD")
    if period == "day":
        return func.date(date)
    if period == "week":  # the next Sunday on or after the date, less six days
        return func.date(date, "weekday 0", "-6 days")
    return func.strftime("%Y-%m-01" if period == "month" else "%Y-01-01", date)


def mammography_points(filtered: Selection, options: ChartOptions, value: Any) -> Select[Any]:
    """One row per mammography event with a compressed breast thickness and a non-zero ``value``:
    the thickness (x), the value (y), the breast (laterality) and the series."""
    event, dose = model.ProjectionIrradiationEvent, model.ProjectionXRayRadiationDose
    thickness = model.XRayMechanical.compression_thickness_mm
    query = (
        select(model.Study.id.label("study_id"), series(options).label("series"),
               func.coalesce(event.laterality_meaning, BLANK).label("breast"),
               thickness.label("x"), value.label("y"))
        .select_from(event)
        .join(dose, event.radiation_dose_fk == dose.id)
        .join(model.Study, dose.study_fk == model.Study.id)
        .join(model.XRaySource, model.XRaySource.event_fk == event.id)
        .join(model.XRayMechanical, model.XRayMechanical.event_fk == event.id)
    )  # fmt: skip
    return _studies(query, filtered).where(_present(thickness), _present(value))
