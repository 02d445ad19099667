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
"""

from __future__ import annotations

import datetime as dt
import decimal
import functools
from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import Select, func, inspect, select
from sqlalchemy.orm import Mapper, Session, selectinload
from sqlalchemy.orm.interfaces import MANYTOONE, ONETOMANY, LoaderOption

from orthanc_rem import model

CODE_PARTS = ("_value", "_scheme", "_meaning")
DLP_UNIT: str = model.CtRadiationDose.__table__.c.dlp_total_mgycm.info["unit"]


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


def dose_report_dlp_mgycm(dose: model.CtRadiationDose) -> float | None:
    """The report's accumulated DLP; when the report has none (some ESRs), the sum of its events'."""
    if dose.dlp_total_mgycm is not None:
        return dose.dlp_total_mgycm
    known = [event.dlp_mgycm for event in dose.events if event.dlp_mgycm is not None]
    return sum(known) if known else None


def total_dlp_mgycm(study: model.Study) -> float | None:
    """Study DLP: the sum over its dose reports (a continued study has several)."""
    known = [v for v in map(dose_report_dlp_mgycm, study.ct_radiation_doses) if v is not None]
    return sum(known) if known else None


def number_of_events(study: model.Study) -> int:
    return sum(len(dose.events) for dose in study.ct_radiation_doses)


def study_summary(study: model.Study) -> dict[str, Any]:
    """One row of a study list (the manual's CT list columns), JSON-ready."""
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
        "number_of_events": number_of_events(study),
        "total_dlp": {"value": total_dlp_mgycm(study), "unit": DLP_UNIT},
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
    """What ``study_summary`` reads, and no more (lists show up to 400 studies per page)."""
    event = model.CtIrradiationEvent
    return [
        selectinload(model.Study.equipment),
        selectinload(model.Study.ct_radiation_doses)
        .selectinload(model.CtRadiationDose.events)
        .load_only(event.id, event.ct_radiation_dose_fk, event.dlp_mgycm),
    ]


def _filtered(
    query: Select[Any], modality: str | None, date_from: dt.date | None, date_until: dt.date | None
) -> Select[Any]:
    if modality:
        query = query.where(model.Study.modality == modality.upper())
    if date_from is not None:
        query = query.where(model.Study.study_date >= date_from)
    if date_until is not None:
        query = query.where(model.Study.study_date <= date_until)
    return query


def load_studies(
    session: Session,
    modality: str | None = None,
    date_from: dt.date | None = None,
    date_until: dt.date | None = None,
    page: int = 1,
    per_page: int = 25,
) -> tuple[list[model.Study], int]:
    """One page of studies, newest first, with what ``study_summary`` needs; and the total count.

    ``date_from`` and ``date_until`` are inclusive; either may be given alone.
    """
    total = session.scalar(_filtered(select(func.count(model.Study.id)), modality, date_from, date_until))
    query = (
        _filtered(select(model.Study), modality, date_from, date_until)
        .order_by(
            model.Study.study_date.desc().nulls_last(),
            model.Study.study_time.desc().nulls_last(),
            model.Study.id.desc(),
        )
        .offset((max(page, 1) - 1) * per_page)
        .limit(per_page)
        .options(*summary_loaders())
    )
    return list(session.scalars(query)), total or 0


def load_study(session: Session, study_id: int) -> model.Study | None:
    """One study with its whole tree, for the detail page and ``study_document``."""
    query = select(model.Study).where(model.Study.id == study_id).options(*tree_loaders())
    return session.scalars(query).one_or_none()


def load_rejected(
    session: Session, page: int = 1, per_page: int = 25
) -> tuple[list[model.RejectedObject], int]:
    """Objects that were not imported, most recent attempt first; and the total count."""
    rejected = model.RejectedObject
    total = session.scalar(select(func.count(rejected.id)))
    query = (
        select(rejected)
        .order_by(rejected.last_attempt_at.desc(), rejected.id.desc())
        .offset((max(page, 1) - 1) * per_page)
        .limit(per_page)
    )
    return list(session.scalars(query)), total or 0


def rejected_document(row: model.RejectedObject) -> dict[str, Any]:
    return row_fields(row, keep_id=True)


def modality_counts(session: Session) -> dict[str, int]:
    """Number of studies per modality, for the home page."""
    query = select(model.Study.modality, func.count(model.Study.id)).group_by(model.Study.modality)
    return {modality: count for modality, count in session.execute(query)}


def rejected_count(session: Session) -> int:
    return session.scalar(select(func.count(model.RejectedObject.id))) or 0
