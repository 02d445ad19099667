"""Radiography (DX and CR) and mammography exports: OpenREM 0.8.1's ``dx_export`` and ``mg_export``
columns, one block per irradiation event."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from orthanc_rem.exports.columns import Column, number, text
from orthanc_rem.exports.layout import Layout
from orthanc_rem.exports.projection_events import (
    Filters,
    dose_comments,
    filter_abbreviation,
    gym2_in_cgycm2,
    projection_most_events,
    projection_protocols,
    read_accumulations,
    read_events,
    read_filters,
    uas_in_mas,
)
from orthanc_rem.exports.study_header import StudyDose
from orthanc_rem.study_document import plane_dap_gym2

DX_EVENT_COLUMNS: tuple[Column, ...] = (
    text("Protocol"),
    text("Anatomy"),
    text("Image view"),
    text("Exposure control mode"),
    number("kVp"),
    number("mAs"),
    number("mA"),
    number("Exposure time (ms)"),
    text("Filters"),
    text("Filter thicknesses (mm)"),
    number("Exposure index"),
    number("Target exposure index"),
    number("Deviation index"),
    number("Relative x-ray exposure"),
    number("DAP (cGy.cm^2)"),
    number("Entrance Exposure at RP (mGy)"),
    number("SDD Detector Dist"),
    number("SPD Patient Dist"),
    number("SIsoD Isocentre Dist"),
    number("Table Height"),
    text("Comment"),
)

MG_EVENT_COLUMNS: tuple[Column, ...] = (
    text("View"),
    text("Laterality"),
    text("Acquisition"),
    number("Thickness"),
    number("Radiological thickness"),
    number("Force"),
    number("Mag"),
    number("Area"),
    text("Mode"),
    text("Target"),
    text("Filter"),
    text("Filter thickness"),
    number("Focal spot size"),
    number("kVp"),
    number("mA"),
    number("ms"),
    number("uAs"),
    number("ESD"),
    number("AGD"),
    number("% Fibroglandular tissue"),
    text("Exposure mode description"),
)

NO_FILTERS = Filters(None, None)


def read_dx(session: Session, study_ids: Sequence[int]) -> dict[int, StudyDose]:
    events = read_events(session, study_ids)
    filters = read_filters(session, study_ids)
    accumulations = read_accumulations(session, study_ids)
    studies: dict[int, StudyDose] = {}
    for study_id, study_events in events.items():
        study = studies[study_id] = StudyDose(comment=dose_comments(study_events))
        for event in study_events:
            values = _dx_event(event, filters.get(event.source_id, NO_FILTERS))
            study.blocks.append(values)
            study.events.append((event.acquisition_protocol, values))
        planes = accumulations.get(study_id, [])
        study.values = [gym2_in_cgycm2(_total_dap_gym2(planes, study_events))]
        frames = [a.total_number_of_radiographic_frames for a in planes]
        # OpenREM counts TID 10007's radiographic frames; images and some RDSRs do not give them.
        known_frames = bool(frames) and all(f is not None for f in frames)
        study.number_of_events = sum(frames) if known_frames else len(study_events)  # type: ignore[arg-type]
    return studies


def _total_dap_gym2(planes: list[Any], events: list[Any]) -> float | None:
    """The study list's rule (``study_document.plane_dap_gym2``): accumulated totals, else events."""
    known = [v for v in (plane_dap_gym2(a, "DX") for a in planes) if v is not None]
    if known:
        return sum(known)
    event_daps = [e.dose_area_product_gym2 for e in events if e.dose_area_product_gym2 is not None]
    return sum(event_daps) if event_daps else None


def _dx_event(event: Any, filters: Filters) -> list[Any]:
    return [
        event.acquisition_protocol,
        event.anatomical_structure_meaning,
        event.image_view_meaning,
        event.exposure_control_mode,
        event.kvp_kv,
        uas_in_mas(event.exposure_uas),
        event.xray_tube_current_ma if event.xray_tube_current_ma is not None else event.average_xray_tube_current_ma,
        event.exposure_time_ms,
        filters.materials,
        filters.thicknesses,
        event.exposure_index,
        event.target_exposure_index,
        event.deviation_index,
        event.relative_xray_exposure,
        gym2_in_cgycm2(event.dose_area_product_gym2),
        event.entrance_exposure_at_rp_mgy,
        event.distance_source_to_detector_mm,
        event.distance_source_to_patient_mm,
        event.distance_source_to_isocenter_mm,
        event.table_height_position_mm,
        event.comment,
    ]


def read_mg(session: Session, study_ids: Sequence[int]) -> dict[int, StudyDose]:
    events = read_events(session, study_ids)
    filters = read_filters(session, study_ids)
    studies: dict[int, StudyDose] = {}
    for study_id, study_events in events.items():
        study = studies[study_id] = StudyDose(comment=dose_comments(study_events), number_of_events=len(study_events))
        for event in study_events:
            values = mg_event(event, filters.get(event.source_id, NO_FILTERS))
            study.blocks.append(values)
            study.events.append((event.acquisition_protocol, values))
    return studies


def mg_event(event: Any, filters: Filters) -> list[Any]:
    return [
        event.image_view_meaning,
        event.laterality_meaning,
        event.acquisition_protocol,
        event.compression_thickness_mm,
        event.radiological_thickness_mm,
        event.compression_force_n,
        event.magnification_factor,
        event.collimated_field_area_m2,
        event.exposure_control_mode,
        filter_abbreviation(event.anode_target_material_meaning),
        filters.materials,
        filters.thicknesses,
        event.focal_spot_size_mm,
        event.kvp_kv,
        event.xray_tube_current_ma if event.xray_tube_current_ma is not None else event.average_xray_tube_current_ma,
        event.exposure_time_ms,
        event.exposure_uas,
        event.entrance_surface_dose_mgy,
        event.average_glandular_dose_mgy,
        event.percent_fibroglandular_tissue,
        exposure_mode_description(event),
    ]


def exposure_mode_description(event: Any) -> str | None:
    """OpenREM's "Exposure mode description" is its event comment, which its mammography image
    import fills with Exposure Control Mode Description (0018,7062) and its RDSR import with the
    irradiation event's Comment (TID 10003, 121106): we keep the two apart and export either."""
    if event.exposure_control_mode_description is not None:
        return event.exposure_control_mode_description  # type: ignore[no-any-return]
    return event.comment  # type: ignore[no-any-return]


DX = Layout(
    modality="DX",
    study_columns=(number("DAP total (cGy.cm^2)"),),
    block_prefix="E",
    block_columns=DX_EVENT_COLUMNS,
    event_columns=DX_EVENT_COLUMNS,
    csv_has_blocks=True,
    read=read_dx,
    protocols=projection_protocols,
    most_blocks=projection_most_events,
    studies_per_batch=5000,
)

MG = Layout(
    modality="MG",
    study_columns=(),
    block_prefix="E",
    block_columns=MG_EVENT_COLUMNS,
    event_columns=MG_EVENT_COLUMNS,
    csv_has_blocks=True,
    read=read_mg,
    protocols=projection_protocols,
    most_blocks=projection_most_events,
    studies_per_batch=5000,
)
