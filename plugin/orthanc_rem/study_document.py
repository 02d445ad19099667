"""A study as a JSON-ready document, and the queries the readers (web pages, API, dump) share.

The document is derived from the SQLAlchemy mappers, not from a list of field names, so that a
column or a dose-report table added to ``model`` appears in the API without a change here:

* a column whose ``info`` holds a ``unit`` (``model.measured``) becomes ``{"value": x, "unit": u}``;
* three columns ``<x>_value``, ``<x>_scheme``, ``<x>_meaning`` become one coded concept
  ``x: {"value", "scheme", "meaning"}`` (null when all three are empty), the DICOM code triplet;
* dates and times become ISO 8601 strings;
* primary and foreign keys are row bookkeeping and are left out, except the study ``id`` that
  the API's URLs use;
* the tree is walked along one-to-many relationships (study -> dose reports -> events -> sources),
  plus the study's own many-to-one references (its equipment) without walking further.

The study lists' summaries (``study_summary``) follow the manual's list columns per modality: total
DLP for CT; total DAP, dose at the reference point and fluoroscopy time for fluoroscopy (RF);
DAP and dose at the reference point for radiography (DX); accumulated AGD per breast for mammography
(MG). Values stay in the stored units (Gy.m2, Gy, s, mGy); the pages convert for display.
"""

from __future__ import annotations

import datetime as dt
import decimal
import functools
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy import func, inspect, select
from sqlalchemy.orm import Mapper, Session, selectinload
from sqlalchemy.orm.interfaces import MANYTOONE, ONETOMANY, LoaderOption

from orthanc_rem import model

CODE_PARTS = ("_value", "_scheme", "_meaning")
#: The modalities a study is sorted into (``Study.modality``), in the navigation bar's order.
MODALITIES = ("CT", "RF", "DX", "MG")
DLP_UNIT: str = model.CtRadiationDose.__table__.c.dlp_total_mgycm.info["unit"]
_ACCUMULATED = model.AccumulatedXRayDose.__table__.c
DAP_UNIT: str = _ACCUMULATED.dose_area_product_total_gym2.info["unit"]
DOSE_RP_UNIT: str = _ACCUMULATED.dose_rp_total_gy.info["unit"]
FLUORO_TIME_UNIT: str = _ACCUMULATED.total_fluoro_time_s.info["unit"]
AGD_UNIT: str = model.AccumulatedMammographyDose.__table__.c.accumulated_average_glandular_dose_mgy.info["unit"]


def json_value(value: Any) -> Any:
    """A column value as JSON can carry it (ISO 8601 for dates and times)."""
    if isinstance(value, (dt.date, dt.time)):  # dt.datetime is a dt.date
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    return value


def _coded_prefixes(keys: Sequence[str]) -> set[str]:
    present = set(keys)
    return {
        key.removesuffix("_value")
        for key in keys
        if key.endswith("_value") and all(key.removesuffix("_value") + part in present for part in CODE_PARTS)
    }


def row_fields(row: Any, *, keep_id: bool = False) -> dict[str, Any]:
    """Every stored column of ``row`` (no relationships), measured values and codes grouped."""
    fields: dict[str, Any] = {}
    mapped_class: type = type(row)
    for name, unit, is_code in _layout(mapped_class, keep_id):
        if is_code:
            fields[name] = _code(row, name)
        elif unit:
            fields[name] = {"value": json_value(getattr(row, name)), "unit": unit}
        else:
            fields[name] = json_value(getattr(row, name))
    return fields


@functools.cache
def _layout(entity: type, keep_id: bool) -> tuple[tuple[str, str | None, bool], ...]:
    """(name, unit, is_code) per document field of ``entity``, in column order; computed once per class."""
    mapper: Mapper[Any] = inspect(entity)
    attributes = [a for a in mapper.column_attrs if _is_content(a.columns[0], keep_id)]
    coded = _coded_prefixes([a.key for a in attributes])
    layout: list[tuple[str, str | None, bool]] = []
    for attribute in attributes:
        prefix = next((p for p in coded if attribute.key in {p + part for part in CODE_PARTS}), None)
        if prefix is None:
            layout.append((attribute.key, attribute.columns[0].info.get("unit"), False))
        elif (prefix, None, True) not in layout:
            layout.append((prefix, None, True))
    return tuple(layout)


def _is_content(column: Any, keep_id: bool) -> bool:
    if column.foreign_keys:
        return False
    return keep_id or not column.primary_key


def _code(row: Any, prefix: str) -> dict[str, Any] | None:
    value, scheme, meaning = (getattr(row, prefix + part) for part in CODE_PARTS)
    if value is None and scheme is None and meaning is None:
        return None
    return {"value": value, "scheme": scheme, "meaning": meaning}


def _children(mapper: Mapper[Any]) -> Iterator[Any]:
    return (r for r in mapper.relationships if r.direction is ONETOMANY)


def _with_children(document: dict[str, Any], row: Any) -> dict[str, Any]:
    for relationship in _children(inspect(type(row))):
        value = getattr(row, relationship.key)
        if relationship.uselist:
            document[relationship.key] = [_with_children(row_fields(child), child) for child in value]
        else:
            document[relationship.key] = None if value is None else _with_children(row_fields(value), value)
    return document


def study_document(study: model.Study) -> dict[str, Any]:
    """Everything stored for one study: header, patient, equipment, objects and dose reports."""
    document = row_fields(study, keep_id=True)
    for relationship in inspect(model.Study).relationships:
        if relationship.direction is MANYTOONE:
            reference = getattr(study, relationship.key)
            document[relationship.key] = None if reference is None else row_fields(reference)
    return _with_children(document, study)


def report_dlp_mgycm(dlp_total_mgycm: float | None, event_dlps_mgycm: Iterable[float | None]) -> float | None:
    """A CT report's accumulated DLP; when the report has none (some ESRs), the sum of its events'.

    Given the values rather than the row, so that storing a new report computes its study's total
    from the extracted record (``study_totals.of_new_report``) by the same rule as from rows.
    """
    if dlp_total_mgycm is not None:
        return dlp_total_mgycm
    known = [dlp for dlp in event_dlps_mgycm if dlp is not None]
    return sum(known) if known else None


def dose_report_dlp_mgycm(dose: model.CtRadiationDose) -> float | None:
    return report_dlp_mgycm(dose.dlp_total_mgycm, (event.dlp_mgycm for event in dose.events))


def total_dlp_mgycm(study: model.Study) -> float | None:
    """Study DLP: the sum over its dose reports (a continued study has several)."""
    known = [v for v in map(dose_report_dlp_mgycm, study.ct_radiation_doses) if v is not None]
    return sum(known) if known else None


def number_of_events(study: model.Study) -> int:
    return sum(len(dose.events) for dose in study.ct_radiation_doses)


# --- projection X-ray totals (RF, DX, MG) -------------------------------------------------------------


def _sum_known(values: Iterable[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) if known else None


def _plane_total(
    modality: str, fluoro: float | None, acquisition: float | None, integrated: float | None
) -> float | None:
    """Fluoroscopy studies add TID 10004's fluoroscopy and acquisition totals (the manual's RF list);
    radiography and mammography take TID 10007's integrated total. Each falls back on the other, as
    vendors fill one or the other (Siemens writes zero acquisition totals, Carestream only TID 10007)."""
    split = _sum_known((fluoro, acquisition))
    if modality == "RF":
        return split if split is not None else integrated
    return integrated if integrated is not None else split


def plane_dap_gym2(accumulation: model.AccumulatedXRayDose, modality: str) -> float | None:
    return _plane_total(
        modality,
        accumulation.fluoro_dose_area_product_total_gym2,
        accumulation.acquisition_dose_area_product_total_gym2,
        accumulation.dose_area_product_total_gym2,
    )


def plane_dose_rp_gy(accumulation: model.AccumulatedXRayDose, modality: str) -> float | None:
    return _plane_total(
        modality,
        accumulation.fluoro_dose_rp_total_gy,
        accumulation.acquisition_dose_rp_total_gy,
        accumulation.dose_rp_total_gy,
    )


def event_dose_rp_gy(event: model.ProjectionIrradiationEvent) -> float | None:
    return event.source.dose_rp_gy if event.source is not None else None


def _reports_total(
    doses: Iterable[model.ProjectionXRayRadiationDose],
    modality: str,
    plane_total: Callable[[model.AccumulatedXRayDose, str], float | None],
    event_value: Callable[[model.ProjectionIrradiationEvent], float | None],
) -> float | None:
    """Summed over a study's dose reports; a report without accumulated totals counts its events."""
    totals = []
    for dose in doses:
        total = _sum_known(plane_total(a, modality) for a in dose.accumulations)
        totals.append(total if total is not None else _sum_known(map(event_value, dose.events)))
    return _sum_known(totals)


def reports_dap_gym2(doses: Iterable[model.ProjectionXRayRadiationDose], modality: str) -> float | None:
    """Total DAP of these projection reports in a study shown as ``modality`` (a new study's
    only report is not yet in a loaded ``Study``: ``study_totals.of_new_report``)."""
    return _reports_total(doses, modality, plane_dap_gym2, lambda event: event.dose_area_product_gym2)


def reports_dose_rp_gy(doses: Iterable[model.ProjectionXRayRadiationDose], modality: str) -> float | None:
    return _reports_total(doses, modality, plane_dose_rp_gy, event_dose_rp_gy)


def total_dap_gym2(study: model.Study) -> float | None:
    return reports_dap_gym2(study.projection_xray_radiation_doses, study.modality)


def total_dose_rp_gy(study: model.Study) -> float | None:
    return reports_dose_rp_gy(study.projection_xray_radiation_doses, study.modality)


def total_fluoro_time_s(study: model.Study) -> float | None:
    """The planes' Total Fluoro Time added up (for a biplane system, both tubes' pedal time)."""
    return _sum_known(
        a.total_fluoro_time_s for dose in study.projection_xray_radiation_doses for a in dose.accumulations
    )


#: Laterality codes to breasts: TID 10005 uses the breast codes (T-04030 left breast...), events and
#: image headers CID 244's G-A101 Left, G-A100 Right, G-A102 Right and left.
BREASTS = {
    "T-04030": "left", "G-A101": "left", "T-04020": "right", "G-A100": "right",
    "T-04080": "both", "G-A102": "both",
}  # fmt: skip


def breast(code_value: str | None, meaning: str | None) -> str | None:
    """The breast a laterality code names ("left", "right", "both"); by its meaning for other codes."""
    if code_value in BREASTS:
        return BREASTS[code_value]
    words = set((meaning or "").lower().replace(",", " ").split())
    if {"left", "right"} <= words or "both" in words or "bilateral" in words:
        return "both"
    return next((side for side in ("left", "right") if side in words), None)


def accumulated_agd_mgy(study: model.Study) -> dict[str, float]:
    """Accumulated average glandular dose per breast (TID 10005), summed over the study's reports;
    a report that gives none counts its events' AGD by their laterality."""
    per_breast: dict[str, float] = {}
    for dose in study.projection_xray_radiation_doses:
        reported = [
            (breast(m.laterality_value, m.laterality_meaning), m.accumulated_average_glandular_dose_mgy)
            for accumulation in dose.accumulations
            for m in accumulation.mammography
        ]
        if not any(agd is not None for _, agd in reported):
            reported = [
                (breast(e.laterality_value, e.laterality_meaning), e.source.average_glandular_dose_mgy)
                for e in dose.events
                if e.source is not None
            ]
        for side, agd in reported:
            if side is not None and agd is not None:
                per_breast[side] = per_breast.get(side, 0.0) + agd
    return per_breast


def number_of_projection_events(study: model.Study) -> int:
    return sum(len(dose.events) for dose in study.projection_xray_radiation_doses)


def _measured(value: float | None, unit: str) -> dict[str, Any]:
    return {"value": value, "unit": unit}


def _dose_fields(study: model.Study) -> dict[str, Any]:
    """The list columns that differ per modality."""
    if study.modality == "CT":
        return {
            "number_of_events": number_of_events(study),
            "total_dlp": _measured(total_dlp_mgycm(study), DLP_UNIT),
        }
    fields: dict[str, Any] = {
        "number_of_events": number_of_projection_events(study),
        "total_dap": _measured(total_dap_gym2(study), DAP_UNIT),
        "total_dose_rp": _measured(total_dose_rp_gy(study), DOSE_RP_UNIT),
    }
    if study.modality == "RF":
        fields["total_fluoro_time"] = _measured(total_fluoro_time_s(study), FLUORO_TIME_UNIT)
        fields["planes"] = [
            {
                "acquisition_plane": _code(a, "acquisition_plane"),
                "total_dap": _measured(plane_dap_gym2(a, "RF"), DAP_UNIT),
                "total_dose_rp": _measured(plane_dose_rp_gy(a, "RF"), DOSE_RP_UNIT),
                "total_fluoro_time": _measured(a.total_fluoro_time_s, FLUORO_TIME_UNIT),
            }
            for dose in study.projection_xray_radiation_doses
            for a in dose.accumulations
        ]
    if study.modality == "MG":
        fields["accumulated_agd"] = {
            side: _measured(agd, AGD_UNIT) for side, agd in sorted(accumulated_agd_mgy(study).items())
        }
    return fields


def study_summary(study: model.Study) -> dict[str, Any]:
    """One row of a study list (the manual's list columns for the study's modality), JSON-ready."""
    equipment = study.equipment
    return {
        "id": study.id,
        "study_instance_uid": study.study_instance_uid,
        "modality": study.modality,
        "study_date": json_value(study.study_date),
        "study_time": json_value(study.study_time),
        "accession_number": study.accession_number,
        "study_description": study.study_description,
        "procedure_code": _code(study, "procedure_code"),
        "requested_procedure_description": study.requested_procedure_description,
        "requested_procedure_code": _code(study, "requested_procedure_code"),
        "display_name": equipment.display_name if equipment else None,
        "institution_name": equipment.institution_name if equipment else None,
        "manufacturer": equipment.manufacturer if equipment else None,
        "manufacturer_model_name": equipment.manufacturer_model_name if equipment else None,
        "station_name": equipment.station_name if equipment else None,
        **_dose_fields(study),
    }


def _tree_loaders(mapper: Mapper[Any], parent: Any = None) -> Iterator[LoaderOption]:
    for relationship in _children(mapper):
        attribute = relationship.class_attribute
        loader = selectinload(attribute) if parent is None else parent.selectinload(attribute)
        yield loader
        yield from _tree_loaders(relationship.mapper, loader)


def tree_loaders() -> list[LoaderOption]:
    """Loader options that fetch a whole study tree in one query per table, not one per row."""
    return [selectinload(model.Study.equipment), *_tree_loaders(inspect(model.Study))]


def summary_loaders() -> list[LoaderOption]:
    """What ``study_summary`` reads, and no more (lists show up to 400 studies per page).

    One query per table whatever the page holds; a table no study of the page uses costs nothing.
    """
    ct_event = model.CtIrradiationEvent
    dose, event, source = model.ProjectionXRayRadiationDose, model.ProjectionIrradiationEvent, model.XRaySource
    projection = selectinload(model.Study.projection_xray_radiation_doses).load_only(dose.id, dose.study_fk)
    return [
        selectinload(model.Study.equipment),
        selectinload(model.Study.ct_radiation_doses)
        .selectinload(model.CtRadiationDose.events)
        .load_only(ct_event.id, ct_event.ct_radiation_dose_fk, ct_event.dlp_mgycm),
        projection.selectinload(dose.accumulations).selectinload(model.AccumulatedXRayDose.mammography),
        projection.selectinload(dose.events)
        .load_only(
            event.id, event.radiation_dose_fk, event.dose_area_product_gym2, event.laterality_value,
            event.laterality_meaning,
        )
        .selectinload(event.source)
        .load_only(source.id, source.event_fk, source.dose_rp_gy, source.average_glandular_dose_mgy),
    ]  # fmt: skip


def load_studies(
    session: Session,
    modality: str | None = None,
    date_from: dt.date | None = None,
    date_until: dt.date | None = None,
    page: int = 1,
    per_page: int = 25,
    display_name: str | None = None,
) -> tuple[list[model.Study], int]:
    """One page of studies, newest first, with what ``study_summary`` needs; and the total count
    (at most ``study_filters.COUNT_BOUND`` when dates are given). ``display_name`` is one system's
    exact name. Every other filter: ``orthanc_rem.study_filters``."""
    from orthanc_rem import study_filters

    study_filter = study_filters.StudyFilter(
        modality=modality.upper() if modality else None, date_from=date_from, date_until=date_until, system=display_name
    )
    found = study_filters.page_of_studies(session, study_filter, page, per_page)
    return found.studies, found.count.studies


def load_study(session: Session, study_id: int) -> model.Study | None:
    """One study with its whole tree, for the detail page and ``study_document``."""
    query = select(model.Study).where(model.Study.id == study_id).options(*tree_loaders())
    return session.scalars(query).one_or_none()


def load_rejected(session: Session, page: int = 1, per_page: int = 25) -> tuple[list[model.RejectedObject], int]:
    """Objects that were not imported, most recent attempt first; and the total count."""
    from orthanc_rem.ingest_status import NOT_LISTED

    rejected = model.RejectedObject
    total = session.scalar(select(func.count(rejected.id)).where(rejected.outcome.not_in(NOT_LISTED)))
    query = (
        select(rejected)
        .where(rejected.outcome.not_in(NOT_LISTED))
        .order_by(rejected.last_attempt_at.desc(), rejected.id.desc())
        .offset((max(page, 1) - 1) * per_page)
        .limit(per_page)
    )
    return list(session.scalars(query)), total or 0


def rejected_document(row: model.RejectedObject) -> dict[str, Any]:
    return row_fields(row, keep_id=True)


def modality_counts(session: Session) -> dict[str, int]:
    """Number of studies per modality, for the home page (``orthanc_rem.system_summaries``)."""
    from orthanc_rem import system_summaries

    return system_summaries.modality_counts(session)


def systems_by_modality(session: Session) -> dict[str, list[dict[str, Any]]]:
    """The home page's summary tables (``orthanc_rem.system_summaries``)."""
    from orthanc_rem import system_summaries

    return system_summaries.systems_by_modality(session)


def rejected_count(session: Session) -> int:
    from orthanc_rem.ingest_status import NOT_LISTED

    rejected = model.RejectedObject
    return session.scalar(select(func.count(rejected.id)).where(rejected.outcome.not_in(NOT_LISTED))) or 0
