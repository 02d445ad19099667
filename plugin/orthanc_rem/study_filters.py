"""Which studies a list shows, in which order: the manual's filters and orderings, one definition
for the pages, the JSON API, exports and charts.

Three steps, none of which needs Flask:

1. ``parse_study_filter(parameters)`` reads a mapping of query parameters (``request.args``, a
   dict, a CLI's options) and checks every value: a bad one raises :class:`BadParameter`, whose
   message says what is expected; nothing unchecked reaches SQL.
2. The :class:`StudyFilter` it returns is a frozen value that can be kept, compared and turned back
   into parameters (``parameters()``), so a filtered view is a URL that can be shared.
3. ``select_studies(study_filter)`` is a SQLAlchemy ``select`` of :class:`model.Study` in the
   filter's order (a stable one: the study id breaks ties), to page, count or stream.

The filters are the manual's (OpenREM 0.8.1 ``mod_filters.py``): text filters are case-insensitive
"contains" searches (non-ASCII letters too: ``é`` finds ``É``), ages are strict bounds in years,
dose ranges inclusive, the accession number and patient name and ID are hash-aware (a value stored
as a SHA-256 hash is found by the hash of exactly what was typed). Patient name and ID can only be
searched by a user who may see patient data.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from sqlalchemy import ColumnElement, Select, Text, and_, func, or_, select, true
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.functions import FunctionElement

from orthanc_rem import model
from orthanc_rem.identifiable_data import sha256_hex
from orthanc_rem.request_parameters import (
    MODALITIES,
    BadParameter,
    decimal_number,
    free_text,
    iso_date,
    modality,
    whole_number,
    yes_or_no,
)
from orthanc_rem.skin_dose import listing as skin_dose_listing
from orthanc_rem.study_keyset import Cursor, SortKeys, keyset_page, rows_with_cursors

__all__ = ["BadParameter", "StudyFilter", "parse_study_filter", "select_studies", "whole_number"]

#: Counting every match of a filter scans every match; a list needs to know there are "more than
#: 10,000" and no more. Unfiltered lists (and per system) are counted exactly from the summaries.
COUNT_BOUND = 10_000

#: cGy.cm2 (what the pages show and the manual's DAP filters take) in the stored Gy.m2.
_CGYCM2_PER_GYM2 = 1e6


# --- case-insensitive "contains", the same on SQLite and PostgreSQL --------------------------------


class folded(FunctionElement[str]):
    """Lower-cased text for a case-insensitive match of any script.

    PostgreSQL's ``lower`` follows the database's Unicode locale; SQLite's ``lower`` and ``LIKE``
    know ASCII letters only, so SQLite calls Python's ``str.lower`` (``rem_lower``, registered on
    every connection by ``orthanc_rem.database``).
    """

    type = Text()
    name = "folded"
    inherit_cache = True


@compiles(folded)
def _folded_default(element: folded, compiler: Any, **kw: Any) -> str:
    return f"lower({compiler.process(element.clauses, **kw)})"


@compiles(folded, "sqlite")
def _folded_sqlite(element: folded, compiler: Any, **kw: Any) -> str:
    return f"rem_lower({compiler.process(element.clauses, **kw)})"


def contains(column: Any, text: str) -> ColumnElement[bool]:
    """Case-insensitive substring match; ``%`` and ``_`` typed by the user are plain characters.

    The pattern is one value (not ``'%' || value || '%'``), so that PostgreSQL's planner sees a
    constant and estimates from the statistics how many rows match (a frequent word: walk the date
    index; a rare one: the trigram index).
    """
    escaped = text.lower().replace("/", "//").replace("%", "/%").replace("_", "/_")
    return folded(column).like(f"%{escaped}%", escape="/")


def hash_aware(column: Any, hashed: Any, text: str) -> ColumnElement[bool]:
    """The manual's rule for values that may be stored as a one-way hash: such a value matches the
    hash of exactly what was typed; a value kept in clear matches by substring."""
    return or_(and_(hashed == true(), column == sha256_hex(text)), and_(hashed != true(), contains(column, text)))


# --- the filter ----------------------------------------------------------------------------------------

#: Text filters on the study row (parameter -> columns, any of which may contain the text).
_STUDY_TEXT: dict[str, tuple[str, ...]] = {
    "study_description": ("study_description",),
    "procedure": ("procedure_code_meaning",),
    "requested_procedure": ("requested_procedure_description", "requested_procedure_code_meaning"),
    "performing_physician": ("performing_physician_name",),  # the manual's fluoroscopy "Physician"
}
#: Text filters on the system (equipment) that made the study.
_EQUIPMENT_TEXT: dict[str, str] = {
    "hospital": "institution_name",
    "manufacturer": "manufacturer",
    "model": "manufacturer_model_name",
    "station": "station_name",
    "display_name": "display_name",
}


@dataclass(frozen=True)
class Ordering:
    """One choice of the "order by" list: keys (column, descending) after a join the keys need."""

    label: str
    keys: Callable[[], tuple[Any, ...]]
    modalities: tuple[str, ...] = MODALITIES
    join: Callable[[Select[Any]], Select[Any]] = lambda query: query
    #: The study id that breaks ties, from the table whose index gives the order: for totals their
    #: ``study_fk`` (equal to the study's id), so that SQLite too reads the totals index in order.
    tie_break: Callable[[], Any] = lambda: model.Study.id


def _join_totals(query: Select[Any]) -> Select[Any]:
    # Inner join: every study has its totals row (written in the transaction that stores the
    # study); PostgreSQL then walks the totals index in order.
    return query.join(model.StudyTotals, model.StudyTotals.study_fk == model.Study.id)


def _join_equipment(query: Select[Any]) -> Select[Any]:
    return query.outerjoin(model.Equipment, model.Equipment.id == model.Study.equipment_id)


def _study_column(name: str) -> Callable[[], tuple[Any, ...]]:
    # Text sorts without regard to case ("alpha" before "Beta"), whatever the database's collation.
    return lambda: (folded(getattr(model.Study, name)),)


def _equipment_column(name: str) -> Callable[[], tuple[Any, ...]]:
    return lambda: (folded(getattr(model.Equipment, name)),)


def _totals_study() -> Any:
    return model.StudyTotals.study_fk


def _totals_column(name: str) -> Callable[[], tuple[Any, ...]]:
    return lambda: (getattr(model.StudyTotals, name),)


_ORDERINGS: dict[str, Ordering] = {
    "study_date": Ordering("Study date", lambda: (model.Study.study_date, model.Study.study_time)),
    "study_description": Ordering("Study description", _study_column("study_description")),
    "procedure": Ordering("Procedure", _study_column("procedure_code_meaning")),
    "hospital": Ordering("Hospital", _equipment_column("institution_name"), join=_join_equipment),
    "manufacturer": Ordering("Make", _equipment_column("manufacturer"), join=_join_equipment),
    "model": Ordering("Model", _equipment_column("manufacturer_model_name"), join=_join_equipment),
    "station": Ordering("Station name", _equipment_column("station_name"), join=_join_equipment),
    "display_name": Ordering("Display name", _equipment_column("display_name"), join=_join_equipment),
    "total_dlp": Ordering("Total DLP", _totals_column("total_dlp_mgycm"), ("CT",), _join_totals, _totals_study),
    "total_dap": Ordering(
        "Total DAP", _totals_column("total_dap_gym2"), ("RF", "DX", "MG"), _join_totals, _totals_study
    ),
    "total_dose_rp": Ordering(
        "Total dose at RP", _totals_column("total_dose_rp_gy"), ("RF", "DX"), _join_totals, _totals_study
    ),
}
DEFAULT_ORDER = "-study_date"


def order_choices(for_modality: str | None) -> list[tuple[str, str]]:
    """(value, label) of every ordering that applies to a modality, each direction."""
    choices = []
    for name, ordering in _ORDERINGS.items():
        if for_modality is None or for_modality in ordering.modalities:
            choices += [(f"-{name}", f"{ordering.label} ↓"), (name, f"{ordering.label} ↑")]
    return choices


@dataclass(frozen=True)
class StudyFilter:
    """What a list shows. Text is matched as the module docstring says; doses in the units shown."""

    modality: str | None = None
    date_from: dt.date | None = None
    date_until: dt.date | None = None
    study_description: str | None = None
    procedure: str | None = None
    requested_procedure: str | None = None
    performing_physician: str | None = None
    acquisition_protocol: str | None = None
    age_from: float | None = None
    age_until: float | None = None
    hospital: str | None = None
    manufacturer: str | None = None
    model: str | None = None
    station: str | None = None
    display_name: str | None = None
    #: The exact display name of one system (the home page's links), not a search.
    system: str | None = None
    accession: str | None = None
    dlp_from: float | None = None  # mGy.cm
    dlp_until: float | None = None
    dap_from: float | None = None  # cGy.cm2, as the pages show DAP
    dap_until: float | None = None
    #: Peak skin dose range in Gy (fluoroscopy), from the studies' computed skin dose maps.
    psd_from: float | None = None
    psd_until: float | None = None
    test_data: bool = True
    patient_name: str | None = None
    patient_id: str | None = None
    order_by: str = DEFAULT_ORDER

    def parameters(self) -> dict[str, str]:
        """The query parameters that give this filter back (defaults left out)."""
        result: dict[str, str] = {}
        for field in fields(self):
            value = getattr(self, field.name)
            if value is None or value == field.default:
                continue
            if isinstance(value, bool):
                result[field.name] = "yes" if value else "no"
            elif isinstance(value, float):
                result[field.name] = repr(value).removesuffix(".0")
            else:
                result[field.name] = str(value)
        return result

    def counts_from_summaries(self) -> bool:
        """Whether only modality and system are set (and the order): then the per-system study
        counts give the exact total without reading any study."""
        unset = replace(self, modality=None, system=None, order_by=DEFAULT_ORDER)
        return unset == StudyFilter()


def parse_study_filter(
    parameters: Mapping[str, str], *, for_modality: str | None = None, may_see_patient_data: bool = False
) -> StudyFilter:
    """Check every filter parameter; ``for_modality`` is the list's own (the API reads ``modality``).

    Raises :class:`BadParameter` for a bad value, for a dose range of another modality (DLP for
    fluoroscopy), and for a patient name or ID from a user who may not see patient data.
    """
    chosen = for_modality or modality(parameters)
    values: dict[str, Any] = {"modality": chosen}
    values["date_from"], values["date_until"] = iso_date(parameters, "date_from"), iso_date(parameters, "date_until")
    for name in (*_STUDY_TEXT, *_EQUIPMENT_TEXT, "acquisition_protocol", "system", "accession"):
        values[name] = free_text(parameters, name)
    for name in ("age_from", "age_until", "dlp_from", "dlp_until", "dap_from", "dap_until", "psd_from", "psd_until"):
        values[name] = decimal_number(parameters, name)
    values["test_data"] = yes_or_no(parameters, "test_data", True)
    for name in ("patient_name", "patient_id"):
        values[name] = free_text(parameters, name)
        if values[name] is not None and not may_see_patient_data:
            raise BadParameter(f"{name} can only be searched by users who may see patient data.")
    values["order_by"] = _order_by(parameters, chosen)
    study_filter = StudyFilter(**values)
    _check_ranges(study_filter)
    return study_filter


def _order_by(parameters: Mapping[str, str], chosen: str | None) -> str:
    text = (parameters.get("order_by") or "").strip() or DEFAULT_ORDER
    ordering = _ORDERINGS.get(text.removeprefix("-"))
    if ordering is None:
        names = ", ".join(_ORDERINGS)
        raise BadParameter(f"order_by must be one of {names} (with '-' for descending), not {text[:40]!r}.")
    if chosen is not None and chosen not in ordering.modalities:
        raise BadParameter(f"{chosen} studies cannot be ordered by {text.removeprefix('-')}.")
    return text


def _check_ranges(f: StudyFilter) -> None:
    for low, high in (("date_from", "date_until"), ("age_from", "age_until"), ("dlp_from", "dlp_until"),
                      ("dap_from", "dap_until"), ("psd_from", "psd_until")):  # fmt: skip
        low_value, high_value = getattr(f, low), getattr(f, high)
        if low_value is not None and high_value is not None and low_value > high_value:
            raise BadParameter(f"{low} ({low_value}) is after {high} ({high_value}).")
    if f.modality in ("RF", "DX", "MG") and (f.dlp_from is not None or f.dlp_until is not None):
        raise BadParameter(f"{f.modality} studies have no DLP; use dap_from and dap_until.")
    if f.modality == "CT" and (f.dap_from is not None or f.dap_until is not None):
        raise BadParameter("CT studies have no DAP; use dlp_from and dlp_until.")


# --- the query -----------------------------------------------------------------------------------------


def _conditions(f: StudyFilter) -> list[ColumnElement[bool]]:
    study = model.Study
    conditions: list[ColumnElement[bool]] = []
    if f.modality:
        conditions.append(study.modality == f.modality)
    if f.date_from is not None:
        conditions.append(study.study_date >= f.date_from)
    if f.date_until is not None:
        conditions.append(study.study_date <= f.date_until)
    for name, columns in _STUDY_TEXT.items():
        text = getattr(f, name)
        if text is not None:
            conditions.append(or_(*(contains(getattr(study, column), text) for column in columns)))
    if f.accession is not None:
        conditions.append(hash_aware(study.accession_number, study.accession_number_hashed, f.accession))
    conditions += _equipment_conditions(f)
    if f.acquisition_protocol is not None:
        conditions.append(_has_protocol(f.acquisition_protocol))
    conditions += _patient_conditions(f)
    conditions += _total_conditions(f)
    conditions += skin_dose_listing.psd_conditions(f.psd_from, f.psd_until)
    return conditions


def _equipment_conditions(f: StudyFilter) -> list[ColumnElement[bool]]:
    equipment = model.Equipment
    matches = [contains(getattr(equipment, column), getattr(f, name))
               for name, column in _EQUIPMENT_TEXT.items() if getattr(f, name) is not None]  # fmt: skip
    if f.system is not None:
        matches.append(equipment.display_name == f.system)
    if not matches:
        return []
    return [model.Study.equipment_id.in_(select(equipment.id).where(*matches))]


def _has_protocol(text: str) -> ColumnElement[bool]:
    """The study has an irradiation event whose acquisition protocol contains ``text`` (CT or projection).

    Two correlated EXISTS, not ``id IN (union)``: PostgreSQL then either checks the few events of
    each study it walks in date order (a frequent protocol fills a page after a few studies) or
    hashes the studies the trigram index finds (a rare one); the IN form hashed every matching
    event's study first, 600,000 of them for a frequent protocol.
    """
    study = model.Study
    ct_dose, ct_event = model.CtRadiationDose, model.CtIrradiationEvent
    dose, event = model.ProjectionXRayRadiationDose, model.ProjectionIrradiationEvent
    in_ct = (
        select(ct_event.id)
        .join(ct_dose, ct_event.ct_radiation_dose_fk == ct_dose.id)
        .where(ct_dose.study_fk == study.id, contains(ct_event.acquisition_protocol, text))
    )
    in_projection = (
        select(event.id)
        .join(dose, event.radiation_dose_fk == dose.id)
        .where(dose.study_fk == study.id, contains(event.acquisition_protocol, text))
    )
    return or_(in_ct.exists(), in_projection.exists())


def _patient_conditions(f: StudyFilter) -> list[ColumnElement[bool]]:
    patient, study = model.Patient, model.Study
    matches: list[ColumnElement[bool]] = []
    if f.age_from is not None:  # the manual's strict bounds
        matches.append(patient.age_years > f.age_from)
    if f.age_until is not None:
        matches.append(patient.age_years < f.age_until)
    if f.patient_name is not None:
        matches.append(hash_aware(patient.name, patient.name_hashed, f.patient_name))
    if f.patient_id is not None:
        matches.append(hash_aware(patient.patient_id, patient.patient_id_hashed, f.patient_id))
    conditions: list[ColumnElement[bool]] = [study.id.in_(select(patient.study_fk).where(*matches))] if matches else []
    if not f.test_data:
        # "Include possible test data: No" leaves out studies a not-patient pattern matched.
        flagged = select(patient.study_fk).where(patient.not_patient_indicator.is_not(None))
        conditions.append(study.id.not_in(flagged))
    return conditions


def _total_conditions(f: StudyFilter) -> list[ColumnElement[bool]]:
    totals = model.StudyTotals
    matches: list[ColumnElement[bool]] = []
    if f.dlp_from is not None:
        matches.append(totals.total_dlp_mgycm >= f.dlp_from)
    if f.dlp_until is not None:
        matches.append(totals.total_dlp_mgycm <= f.dlp_until)
    if f.dap_from is not None:
        matches.append(totals.total_dap_gym2 >= f.dap_from / _CGYCM2_PER_GYM2)
    if f.dap_until is not None:
        matches.append(totals.total_dap_gym2 <= f.dap_until / _CGYCM2_PER_GYM2)
    return [model.Study.id.in_(select(totals.study_fk).where(*matches))] if matches else []


def sort_keys(f: StudyFilter) -> SortKeys:
    """The filter's order for keyset pages (``orthanc_rem.study_keyset``): keys, tie-break, direction,
    and the filtered ``select`` without its ``ORDER BY``."""
    ordering = _ORDERINGS[f.order_by.removeprefix("-")]
    query = ordering.join(select(model.Study)).where(*_conditions(f))
    return SortKeys(f.order_by, ordering.keys(), ordering.tie_break(), f.order_by.startswith("-"), query)


def _order_clauses(order: SortKeys) -> list[Any]:
    direction = "desc" if order.descending else "asc"
    keys = [getattr(key, direction)().nulls_last() for key in order.keys]
    return [*keys, getattr(order.tie_break, direction)()]


def select_studies(f: StudyFilter) -> Select[Any]:
    """Every study the filter selects, in its order; the study id breaks ties in the same direction."""
    order = sort_keys(f)
    return order.query.order_by(*_order_clauses(order))


def _unordered_ids(f: StudyFilter) -> tuple[SortKeys, Select[Any]]:
    ordering, order = _ORDERINGS[f.order_by.removeprefix("-")], sort_keys(f)
    return order, ordering.join(select(order.tie_break).select_from(model.Study)).where(*_conditions(f))


def select_study_ids(f: StudyFilter) -> Select[Any]:
    """The ids of the studies ``select_studies`` gives, in the same order, and nothing else.

    What an OFFSET page steps over is read from here ("deferred join", ``page_of_studies``): with
    only the order's keys and the id to read, PostgreSQL walks the index in the list's order
    without visiting the table (an index-only scan of ``ix_study_modality_newest`` for the date
    order, of ``ix_study_totals_*`` for the totals), and where no index gives the order, it sorts
    ids instead of whole rows.
    """
    order, query = _unordered_ids(f)
    return query.order_by(*_order_clauses(order))


def _ascending_ids(session: Session, f: StudyFilter, offset: int, limit: int) -> list[Any]:
    """``select_study_ids`` of an ascending order, read as two segments of its first key.

    Ascending with empty values last is not the order of the date index read backwards (that
    puts them first), so PostgreSQL read every row in date order from the table (619 ms for page
    2000 of a million studies). Among the rows that have the first key, "empty first" and "empty
    last" are the same order, and the backward index-only scan gives it (55 ms); the rows without
    it follow, and are only read when the page reaches past the others.
    """
    order, query = _unordered_ids(f)
    first, rest = order.keys[0], [key.asc().nulls_last() for key in order.keys[1:]]
    with_value = query.where(first.is_not(None))
    ordered = with_value.order_by(first.asc().nulls_first(), *rest, order.tie_break.asc())
    ids = list(session.scalars(ordered.offset(offset).limit(limit)))
    if len(ids) < limit:
        # Past the rows with a value: this many of the rows without one are stepped over.
        skipped = 0 if ids else offset - (session.scalar(select(func.count()).select_from(with_value.subquery())) or 0)
        without = query.where(first.is_(None)).order_by(*rest, order.tie_break.asc())
        ids += session.scalars(without.offset(max(skipped, 0)).limit(limit - len(ids)))
    return ids


def _offset_page(session: Session, f: StudyFilter, page: int, per_page: int) -> Select[Any]:
    """Page ``page`` and the first row of the next, by OFFSET: the ids of the page are found over
    the narrowest rows (``select_study_ids``), then only those studies are read in full.

    Reading whole rows to step over them made page 2000 of a million CT studies cost 103–113 ms of
    database time (318/440 ms p50/p95 under load; the API's 100 per page 1.5 s, issue 7): every
    row stepped over was fetched from the table and carried through the sort.
    """
    offset, limit = (max(page, 1) - 1) * per_page, per_page + 1
    ordering, order = _ORDERINGS[f.order_by.removeprefix("-")], sort_keys(f)
    ids: Any
    if order.descending:
        # Not correlated: ``ids`` reads its own ``study`` with the filter's conditions, the outer
        # query only the page's studies by primary key.
        ids = select_study_ids(f).offset(offset).limit(limit).correlate(None)
    else:
        ids = _ascending_ids(session, f, offset, limit)
    page_rows = ordering.join(select(model.Study)).where(order.tie_break.in_(ids))
    return page_rows.order_by(*_order_clauses(order))


@dataclass(frozen=True)
class StudyCount:
    """How many studies a filter selects: exact, or at least ``studies`` (``exact`` False)."""

    studies: int
    exact: bool


def count_studies(session: Session, f: StudyFilter, bound: int = COUNT_BOUND) -> StudyCount:
    """The exact count from the per-system summaries when only modality and system are chosen;
    otherwise matches are counted up to ``bound`` (past it the count is "at least ``bound``")."""
    if f.counts_from_summaries():
        counts = model.SystemStudyCount
        query = select(func.coalesce(func.sum(counts.studies), 0))
        if f.modality:
            query = query.where(counts.modality == f.modality)
        if f.system is not None:
            systems = select(model.Equipment.id).where(model.Equipment.display_name == f.system)
            query = query.where(counts.equipment_id.in_(systems))
        return StudyCount(int(session.scalar(query) or 0), True)
    matches = select(model.Study.id).where(*_conditions(f)).limit(bound + 1).subquery()
    found = session.scalar(select(func.count()).select_from(matches)) or 0
    return StudyCount(min(found, bound), found <= bound)


@dataclass(frozen=True)
class StudyPage:
    studies: list[model.Study]
    count: StudyCount
    has_next: bool
    #: Keyset positions of the page's last and first rows, for "next" and "previous" links that
    #: need no OFFSET (None when there is no such page).
    next_cursor: Cursor | None = None
    previous_cursor: Cursor | None = None


def page_of_studies(
    session: Session,
    f: StudyFilter,
    page: int,
    per_page: int,
    *,
    after: str | None = None,
    before: str | None = None,
) -> StudyPage:
    """One page of studies with what the list rows show (``study_document.summary_loaders``).

    ``after`` / ``before`` (cursor text of a previous page's links) read the page beyond that row
    (keyset, ``orthanc_rem.study_keyset``); without them ``page`` is read with OFFSET.
    """
    from orthanc_rem.study_document import summary_loaders

    order = sort_keys(f)
    if after is not None or before is not None:
        forward = after is not None
        cursor = order.parse(after, "after") if after is not None else order.parse(before or "", "before")
        found = keyset_page(session, order, cursor, per_page, forward=forward, loaders=summary_loaders())
        rows = found.rows
        has_next, has_previous = (found.more, True) if forward else (True, found.more)
    else:
        rows = rows_with_cursors(session, _offset_page(session, f, page, per_page), order, summary_loaders())
        has_next, has_previous = len(rows) > per_page, page > 1
        rows = rows[:per_page]
    next_cursor = rows[-1][1] if has_next and rows else None
    previous_cursor = rows[0][1] if has_previous and rows else None
    studies = [study for study, _ in rows]
    return StudyPage(studies, count_studies(session, f), has_next, next_cursor, previous_cursor)
