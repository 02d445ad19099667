"""The openSkin CSV of one fluoroscopy study (manual 7.3; OpenREM's ``rfopenskin``).

Jonathan Cole's stand-alone openSkin reads one row per irradiation event, no header, 39 columns in
OpenREM's order and units (Gy, Gy.m2, degrees, mm, kV, mA, ms). Only a copper filter is written
(manual L5493: "only copper filters are considered in this export"); a comma inside a text value
becomes a semicolon, as OpenREM does, because openSkin splits on commas without quoting.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

from orthanc_rem import model
from orthanc_rem.skin_dose.inputs import event_kvp, fluoroscopy_events


def _text(value: Any) -> str:
    if value is None:
        return ""
    text = str(value)
    return text.replace(",", ";")


def _copper_filter(source: model.XRaySource | None) -> tuple[Any, Any, Any, Any]:
    if source is not None:
        for xray_filter in source.filters:
            if "copper" in (xray_filter.filter_material_meaning or "").casefold():
                return (
                    xray_filter.filter_type_meaning,
                    xray_filter.filter_material_meaning,
                    xray_filter.thickness_minimum_mm,
                    xray_filter.thickness_maximum_mm,
                )
    return None, None, None, None


def openskin_row(study: model.Study, event: model.ProjectionIrradiationEvent) -> list[str]:
    source, mechanical = event.source, event.mechanical
    s: Any = source
    m: Any = mechanical
    sex = study.patient.sex if study.patient else None
    return [
        _text(v)
        for v in (
            "Anon",
            sex,
            study.study_instance_uid,
            "",
            event.acquisition_plane_meaning,
            event.date_time_started,
            event.irradiation_event_type_meaning,
            event.acquisition_protocol,
            s and s.reference_point_definition,
            event.irradiation_event_uid,
            event.dose_area_product_gym2,
            s and s.dose_rp_gy,
            m and m.positioner_primary_angle_deg,
            m and m.positioner_secondary_angle_deg,
            m and m.positioner_primary_end_angle_deg,
            m and m.positioner_secondary_end_angle_deg,
            m and m.column_angulation_deg,
            *_copper_filter(source),
            s and s.fluoro_mode_meaning,
            s and s.pulse_rate_per_s,
            s and s.number_of_pulses,
            event_kvp(source),
            s and s.xray_tube_current_ma,
            s and s.exposure_time_ms,
            s and s.pulse_width_ms,
            s and s.exposure_uas,
            s and s.focal_spot_size_mm,
            s and s.irradiation_duration_s,
            s and s.average_xray_tube_current_ma,
            m and m.distance_source_to_detector_mm,
            m and m.distance_source_to_isocenter_mm,
            m and m.table_longitudinal_position_mm,
            m and m.table_lateral_position_mm,
            m and m.table_height_position_mm,
            event.target_region_meaning,
            event.comment,
        )
    ]


def openskin_csv(study: model.Study, events: Iterable[model.ProjectionIrradiationEvent] | None = None) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for event in fluoroscopy_events(study) if events is None else events:
        writer.writerow(openskin_row(study, event))
    return out.getvalue()
