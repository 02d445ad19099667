"""Projection X-ray records (TID 10001 tree) to database rows.

Record fields and table columns share their names, so the mapping is generic: a :class:`Code`
fills the ``_value``/``_scheme``/``_meaning`` columns of its name, a tuple of numbers (pulse-level
values) fills a JSON column, nested records become their own rows.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from typing import Any

from orthanc_rem import model
from orthanc_rem.extraction import projection_records as records
from orthanc_rem.extraction.records import Code
from orthanc_rem.model.common import code_fields


def plain_fields(record: Any, table: type[model.Base], skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """Column values for every field of ``record`` that ``table`` stores under the same name."""
    columns = set(table.__table__.columns.keys())  # type: ignore[attr-defined]
    values: dict[str, Any] = {}
    for item in dataclasses.fields(record):
        if item.name in skip:
            continue
        value = getattr(record, item.name)
        if isinstance(value, Code) or (value is None and f"{item.name}_value" in columns):
            values.update(code_fields(item.name, value))
        elif item.name in columns:
            values[item.name] = list(value) if isinstance(value, tuple) else value
    return values


def radiation_dose_row(report: records.ProjectionDoseReport) -> model.ProjectionXRayRadiationDose:
    dose = report.dose
    row = model.ProjectionXRayRadiationDose(
        sop_instance_uid=report.sop_instance_uid,
        source_kind=report.source_kind,
        source_of_dose_information="; ".join(str(c) for c in dose.sources_of_dose_information) or None,
        **plain_fields(dose, model.ProjectionXRayRadiationDose, skip=("sources_of_dose_information",)),
    )
    row.accumulations = [accumulation_row(a) for a in dose.accumulations]
    row.events = [event_row(e) for e in dose.events]
    return row


def accumulation_row(accumulation: records.AccumulatedXRayDose) -> model.AccumulatedXRayDose:
    nested = ("mammography", "calibrations")
    row = model.AccumulatedXRayDose(**plain_fields(accumulation, model.AccumulatedXRayDose, skip=nested))
    row.mammography = [
        model.AccumulatedMammographyDose(**plain_fields(m, model.AccumulatedMammographyDose))
        for m in accumulation.mammography
    ]
    row.calibrations = [
        model.XRayCalibration(**plain_fields(c, model.XRayCalibration)) for c in accumulation.calibrations
    ]
    return row


def event_row(event: records.ProjectionIrradiationEvent) -> model.ProjectionIrradiationEvent:
    nested = ("image_view_modifiers", "source", "detector", "mechanical")
    row = model.ProjectionIrradiationEvent(**plain_fields(event, model.ProjectionIrradiationEvent, skip=nested))
    row.image_view_modifiers = [
        model.ImageViewModifier(**code_fields("modifier", m)) for m in event.image_view_modifiers
    ]
    if event.source is not None:
        source = model.XRaySource(**plain_fields(event.source, model.XRaySource, skip=("filters", "grid")))
        source.filters = [model.XRayFilter(**plain_fields(f, model.XRayFilter)) for f in event.source.filters]
        source.grids = [model.XRayGrid(**code_fields("grid", g)) for g in event.source.grid]
        row.source = source
    if event.detector is not None:
        row.detector = model.XRayDetector(**plain_fields(event.detector, model.XRayDetector))
    if event.mechanical is not None:
        row.mechanical = model.XRayMechanical(**plain_fields(event.mechanical, model.XRayMechanical))
    return row


def recompute_image_accumulation(dose: model.ProjectionXRayRadiationDose) -> None:
    """Totals of a study built from images, one event per image (images carry no accumulated data).

    Radiography: DAP and dose at the reference point summed, frames counted (TID 10007 meaning).
    Mammography: average glandular dose summed per breast (TID 10005), as the manual's per-breast
    accumulated AGD.
    """
    by_plane: dict[tuple[str | None, str | None], list[model.ProjectionIrradiationEvent]] = defaultdict(list)
    for event in dose.events:
        by_plane[(event.acquisition_plane_value, event.acquisition_plane_meaning)].append(event)
    accumulations = []
    for (plane_value, plane_meaning), events in by_plane.items():
        first = events[0]
        row = model.AccumulatedXRayDose(
            acquisition_plane_value=plane_value,
            acquisition_plane_scheme=first.acquisition_plane_scheme,
            acquisition_plane_meaning=plane_meaning,
            dose_area_product_total_gym2=_sum(e.dose_area_product_gym2 for e in events),
            dose_rp_total_gy=_sum(e.source.dose_rp_gy if e.source else None for e in events),
            total_number_of_radiographic_frames=len(events),
        )
        agd_by_breast: dict[tuple[str | None, str | None, str | None], list[float | None]] = defaultdict(list)
        for event in events:
            if event.source is not None and event.source.average_glandular_dose_mgy is not None:
                key = (event.laterality_value, event.laterality_scheme, event.laterality_meaning)
                agd_by_breast[key].append(event.source.average_glandular_dose_mgy)
        row.mammography = [
            model.AccumulatedMammographyDose(
                laterality_value=value,
                laterality_scheme=scheme,
                laterality_meaning=meaning,
                accumulated_average_glandular_dose_mgy=_sum(doses),
            )
            for (value, scheme, meaning), doses in agd_by_breast.items()
        ]
        accumulations.append(row)
    dose.accumulations = accumulations


def _sum(values: Any) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) if present else None
