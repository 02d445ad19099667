"""Projection X-ray events (TID 10003 with its source, detector and mechanical data) read for a batch
of studies in one joined query, plus their filters: what the DX, MG and RF layouts share."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from orthanc_rem import model
from orthanc_rem.exports.batch_keys import keys_in
from orthanc_rem.exports.layout import StudyIds

_dose, _event = model.ProjectionXRayRadiationDose, model.ProjectionIrradiationEvent
_source, _detector, _mechanical = model.XRaySource, model.XRayDetector, model.XRayMechanical
_filter, _accumulated = model.XRayFilter, model.AccumulatedXRayDose

#: Filter and anode materials as OpenREM abbreviates them (#458), by the first word of the code
#: meaning (CID 10006 and 10016 say "Aluminum or Aluminum compound").
FILTER_ABBREVIATIONS = {
    "aluminum": "Al", "aluminium": "Al", "copper": "Cu", "tantalum": "Ta", "molybdenum": "Mo",
    "rhodium": "Rh", "silver": "Ag", "niobium": "Nb", "europium": "Eu", "lead": "Pb", "tungsten": "W",
}  # fmt: skip

_EVENT_QUERY = (
    select(
        _dose.study_fk, _dose.comment.label("dose_comment"),
        _event.id, _event.date_time_started, _event.irradiation_event_type_meaning, _event.acquisition_protocol,
        _event.acquisition_plane_meaning, _event.anatomical_structure_meaning, _event.laterality_value,
        _event.laterality_meaning, _event.image_view_value, _event.image_view_meaning,
        _event.dose_area_product_gym2, _event.entrance_exposure_at_rp_mgy, _event.percent_fibroglandular_tissue,
        _event.comment,
        _source.id.label("source_id"), _source.dose_rp_gy, _source.average_glandular_dose_mgy,
        _source.entrance_surface_dose_mgy, _source.pulse_rate_per_s, _source.number_of_pulses,
        _source.irradiation_duration_s, _source.kvp_kv, _source.xray_tube_current_ma,
        _source.average_xray_tube_current_ma, _source.pulse_width_ms, _source.exposure_uas, _source.exposure_time_ms,
        _source.focal_spot_size_mm, _source.anode_target_material_meaning, _source.collimated_field_area_m2,
        _source.ii_field_size_mm, _source.exposure_control_mode, _source.exposure_control_mode_description,
        _detector.exposure_index, _detector.target_exposure_index, _detector.deviation_index,
        _detector.relative_xray_exposure,
        _mechanical.positioner_primary_angle_deg, _mechanical.positioner_secondary_angle_deg,
        _mechanical.compression_thickness_mm, _mechanical.compression_force_n, _mechanical.magnification_factor,
        _mechanical.distance_source_to_detector_mm, _mechanical.distance_source_to_patient_mm,
        _mechanical.distance_source_to_isocenter_mm, _mechanical.table_height_position_mm,
        _mechanical.radiological_thickness_mm,
    )
    .select_from(_event)
    .join(_dose, _dose.id == _event.radiation_dose_fk)
    .outerjoin(_source, _source.event_fk == _event.id)
    .outerjoin(_detector, _detector.event_fk == _event.id)
    .outerjoin(_mechanical, _mechanical.event_fk == _event.id)
)  # fmt: skip


@dataclass(frozen=True)
class Filters:
    """A source's filters as OpenREM writes them: materials and mean thicknesses joined by " | "."""

    materials: str | None
    thicknesses: str | None


def read_events(session: Session, study_ids: Sequence[int]) -> dict[int, list[Any]]:
    """Events per study id, in the order they were stored (the report's order)."""
    per_study: dict[int, list[Any]] = defaultdict(list)
    for row in session.connection().execute(_EVENT_QUERY.where(keys_in(_dose.study_fk, study_ids)).order_by(_event.id)):
        per_study[row.study_fk].append(row)
    return per_study


def read_filters(session: Session, study_ids: Sequence[int]) -> dict[int, Filters]:
    """Filters per source id."""
    found: dict[int, list[Any]] = defaultdict(list)
    query = (
        select(_filter.source_fk, _filter.filter_material_meaning, _filter.thickness_minimum_mm,
               _filter.thickness_maximum_mm)
        .join(_source, _source.id == _filter.source_fk)
        .join(_event, _event.id == _source.event_fk)
        .join(_dose, _dose.id == _event.radiation_dose_fk)
        .where(keys_in(_dose.study_fk, study_ids))
        .order_by(_filter.id)
    )  # fmt: skip
    for row in session.connection().execute(query):
        found[row.source_fk].append(row)
    return {source_id: _filters(rows) for source_id, rows in found.items()}


def _filters(rows: list[Any]) -> Filters:
    materials = [filter_abbreviation(r.filter_material_meaning) for r in rows]
    thicknesses = [mean_thickness(r.thickness_minimum_mm, r.thickness_maximum_mm) for r in rows]
    return Filters(
        " | ".join(m or "" for m in materials) or None,
        " | ".join("" if t is None else f"{t:g}" for t in thicknesses) if any(t is not None for t in thicknesses)
        else None,
    )  # fmt: skip


def filter_abbreviation(meaning: str | None) -> str | None:
    if not meaning:
        return None
    words = meaning.strip().lower().split()
    return FILTER_ABBREVIATIONS.get(words[0], meaning) if words else None


def mean_thickness(minimum: float | None, maximum: float | None) -> float | None:
    """The mean of the thickness range, rounded to 4 decimal places (OpenREM #454)."""
    known = [v for v in (minimum, maximum) if v is not None]
    return round(sum(known) / len(known), 4) if known else None


def read_accumulations(session: Session, study_ids: Sequence[int]) -> dict[int, list[Any]]:
    """Accumulated dose per plane (TID 10002/10004/10007) per study id."""
    per_study: dict[int, list[Any]] = defaultdict(list)
    query = (
        select(_dose.study_fk, _accumulated.acquisition_plane_value, _accumulated.acquisition_plane_meaning,
               _accumulated.fluoro_dose_area_product_total_gym2, _accumulated.fluoro_dose_rp_total_gy,
               _accumulated.total_fluoro_time_s, _accumulated.acquisition_dose_area_product_total_gym2,
               _accumulated.acquisition_dose_rp_total_gy, _accumulated.total_acquisition_time_s,
               _accumulated.dose_area_product_total_gym2, _accumulated.dose_rp_total_gy,
               _accumulated.total_number_of_radiographic_frames)
        .join(_dose, _dose.id == _accumulated.radiation_dose_fk)
        .where(keys_in(_dose.study_fk, study_ids))
        .order_by(_accumulated.id)
    )  # fmt: skip
    for row in session.connection().execute(query):
        per_study[row.study_fk].append(row)
    return per_study


def dose_comments(events: list[Any]) -> str | None:
    seen: list[str] = []
    for event in events:
        if event.dose_comment and event.dose_comment not in seen:
            seen.append(event.dose_comment)
    return "; ".join(seen) or None


def projection_protocols(session: Session, study_ids: StudyIds) -> list[str | None]:
    query = (
        select(_event.acquisition_protocol)
        .join(_dose, _dose.id == _event.radiation_dose_fk)
        .where(_dose.study_fk.in_(study_ids))
        .distinct()
    )
    return list(session.scalars(query))


def projection_most_events(session: Session, study_ids: StudyIds) -> int:
    per_study = (
        select(func.count(_event.id).label("n"))
        .join(_dose, _dose.id == _event.radiation_dose_fk)
        .where(_dose.study_fk.in_(study_ids))
        .group_by(_dose.study_fk)
        .subquery()
    )
    return int(session.scalar(select(func.max(per_study.c.n))) or 0)


def gym2_in_cgycm2(value: float | None) -> float | None:
    """DAP as OpenREM's radiography and fluoroscopy event columns give it (cGy.cm2)."""
    return None if value is None else value * 1e6


def uas_in_mas(value: float | None) -> float | None:
    return None if value is None else value / 1e3
