"""Fluoroscopy exports: OpenREM 0.8.1's ``rf_export`` columns.

The CSV holds study-level totals per plane (A and B) only; "All data" adds the groups of
exposures (``fluoro_groups``); the protocol sheets list every exposure (manual L5633-5657).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from orthanc_rem.exports.columns import Column, Kind, number, text
from orthanc_rem.exports.fluoro_groups import SUMMARISED, Exposure, group_exposures, group_values
from orthanc_rem.exports.layout import Layout
from orthanc_rem.exports.projection_events import (
    Filters,
    dose_comments,
    gym2_in_cgycm2,
    projection_protocols,
    read_accumulations,
    read_events,
    read_filters,
)
from orthanc_rem.exports.study_header import StudyDose

PLANES = ("A", "B")
#: Acquisition plane codes (CID 10003): single plane and plane A are OpenREM's "A".
PLANE_OF_CODE = {"113622": "A", "113620": "A", "113621": "B"}

PLANE_COLUMNS: tuple[str, ...] = (
    "DAP total (Gy.m^2)",
    "Dose RP total (Gy)",
    "Fluoro DAP total (Gy.m^2)",
    "Fluoro dose RP total (Gy)",
    "Fluoro duration total (s)",
    "Acq. DAP total (Gy.m^2)",
    "Acq. dose RP total (Gy)",
    "Acq. duration total (s)",
    "Number of events",
)
STUDY_COLUMNS = tuple(number(f"{plane} {header}") for plane in PLANES for header in PLANE_COLUMNS)

GROUP_COLUMNS: tuple[Column, ...] = (
    text("Type"),
    text("Protocol"),
    number("No. exposures"),
    text("Plane"),
    number("Pulse rate"),
    number("Field size"),
    text("Filter material"),
    text("Mean filter thickness"),
    *(number(f"{name} {statistic}") for name, _ in SUMMARISED for statistic in ("min", "max", "mean")),
)

EVENT_COLUMNS: tuple[Column, ...] = (
    Column("Time", Kind.DATETIME),
    text("Type"),
    text("Protocol"),
    text("Plane"),
    number("Field size"),
    text("Filter material"),
    text("Mean filter thickness (mm)"),
    number("kVp"),
    number("mA"),
    number("Pulse width (ms)"),
    number("Pulse rate"),
    number("Number of pulses"),
    number("Exposure time (ms)"),
    number("Exposure duration (s)"),
    number("DAP (cGy.cm^2)"),
    number("Ref point dose (Gy)"),
    number("Primary angle"),
    number("Secondary angle"),
)

NO_FILTERS = Filters(None, None)


def plane_letter(code_value: str | None, meaning: str | None) -> str:
    if code_value in PLANE_OF_CODE:
        return PLANE_OF_CODE[code_value]
    return "B" if (meaning or "").strip().lower().endswith("b") else "A"


def read_rf(session: Session, study_ids: Sequence[int]) -> dict[int, StudyDose]:
    events = read_events(session, study_ids)
    filters = read_filters(session, study_ids)
    accumulations = read_accumulations(session, study_ids)
    studies: dict[int, StudyDose] = {}
    for study_id in {*events, *accumulations}:
        study_events = events.get(study_id, [])
        study = studies[study_id] = StudyDose(comment=dose_comments(study_events), number_of_events=len(study_events))
        study.values = _plane_totals(accumulations.get(study_id, []), study_events)
        exposures = []
        for event in study_events:
            event_filters = filters.get(event.source_id, NO_FILTERS)
            exposure = _exposure(event, event_filters)
            exposures.append(exposure)
            study.events.append((event.acquisition_protocol, _event_values(event, exposure)))
        study.blocks = [group_values(group) for group in group_exposures(exposures)]
    return studies


def _plane_totals(planes: list[Any], events: list[Any]) -> list[Any]:
    values: list[Any] = []
    for letter in PLANES:
        mine = [a for a in planes if plane_letter(a.acquisition_plane_value, a.acquisition_plane_meaning) == letter]
        count = sum(1 for e in events if _event_plane(e) == letter)
        if not mine:
            values += [None] * (len(PLANE_COLUMNS) - 1) + [count or None]
            continue
        values += [
            _sum(a.dose_area_product_total_gym2 for a in mine),
            _sum(a.dose_rp_total_gy for a in mine),
            _sum(a.fluoro_dose_area_product_total_gym2 for a in mine),
            _sum(a.fluoro_dose_rp_total_gy for a in mine),
            _sum(a.total_fluoro_time_s for a in mine),
            _sum(a.acquisition_dose_area_product_total_gym2 for a in mine),
            _sum(a.acquisition_dose_rp_total_gy for a in mine),
            _sum(a.total_acquisition_time_s for a in mine),
            count,
        ]
    return values


def _event_plane(event: Any) -> str | None:
    if event.acquisition_plane_meaning is None:
        return None
    return plane_letter(None, event.acquisition_plane_meaning)


def _sum(values: Any) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) if known else None


def _exposure(event: Any, filters: Filters) -> Exposure:
    return Exposure(
        plane=event.acquisition_plane_meaning,
        protocol=event.acquisition_protocol,
        field_size_mm=event.ii_field_size_mm,
        pulse_rate_per_s=event.pulse_rate_per_s,
        filter_material=filters.materials,
        filter_thickness=filters.thicknesses,
        event_type=event.irradiation_event_type_meaning,
        primary_angle_deg=event.positioner_primary_angle_deg,
        secondary_angle_deg=event.positioner_secondary_angle_deg,
        kvp_kv=event.kvp_kv,
        tube_current_ma=event.xray_tube_current_ma
        if event.xray_tube_current_ma is not None
        else event.average_xray_tube_current_ma,
        pulse_width_ms=event.pulse_width_ms,
        exposure_time_ms=event.exposure_time_ms,
        dap_gym2=event.dose_area_product_gym2,
        dose_rp_gy=event.dose_rp_gy,
    )


def _event_values(event: Any, exposure: Exposure) -> list[Any]:
    return [
        event.date_time_started,
        exposure.event_type,
        exposure.protocol,
        exposure.plane,
        exposure.field_size_mm,
        exposure.filter_material,
        exposure.filter_thickness,
        exposure.kvp_kv,
        exposure.tube_current_ma,
        exposure.pulse_width_ms,
        exposure.pulse_rate_per_s,
        event.number_of_pulses,
        exposure.exposure_time_ms,
        event.irradiation_duration_s,
        gym2_in_cgycm2(exposure.dap_gym2),
        exposure.dose_rp_gy,
        exposure.primary_angle_deg,
        exposure.secondary_angle_deg,
    ]


RF = Layout(
    modality="RF",
    study_columns=STUDY_COLUMNS,
    block_prefix="G",
    block_columns=GROUP_COLUMNS,
    event_columns=EVENT_COLUMNS,
    csv_has_blocks=False,
    read=read_rf,
    protocols=projection_protocols,
    most_blocks=None,
)
