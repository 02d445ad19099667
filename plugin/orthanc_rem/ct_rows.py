"""CT records (TID 10011 tree) to database rows.

The rows are ``bulk_rows.NewRow``s, not ORM objects: a new report's tree is only ever inserted
whole by ``bulk_rows.insert_rows`` (see there why that is cheaper).
"""

from __future__ import annotations

from orthanc_rem import model
from orthanc_rem.bulk_rows import NewRow
from orthanc_rem.extraction import records
from orthanc_rem.model.common import code_fields


def radiation_dose_row(report: records.CtDoseReport) -> NewRow:
    dose = report.dose
    accumulated = dose.accumulated or records.CtAccumulatedDose()
    values = dict(
        sop_instance_uid=report.sop_instance_uid,
        **code_fields("procedure_reported", dose.procedure_reported),
        **code_fields("has_intent", dose.has_intent),
        start_of_xray_irradiation=dose.start_of_xray_irradiation,
        end_of_xray_irradiation=dose.end_of_xray_irradiation,
        **code_fields("scope_of_accumulation", dose.scope_of_accumulation),
        scope_uid=dose.scope_uid,
        comment=dose.comment,
        source_of_dose_information="; ".join(str(c) for c in dose.sources_of_dose_information) or None,
        total_number_of_irradiation_events=accumulated.total_number_of_irradiation_events,
        dlp_total_mgycm=accumulated.dlp_total_mgycm,
        effective_dose_total_msv=accumulated.effective_dose_total_msv,
        accumulated_reference_authority=accumulated.reference_authority,
        accumulated_measurement_method=accumulated.measurement_method,
        accumulated_comment=accumulated.comment,
    )
    return NewRow(model.CtRadiationDose, values, {"events": [event_row(event) for event in dose.events]})


def event_row(event: records.CtIrradiationEvent) -> NewRow:
    length = event.scanning_length or records.ScanningLength()
    values = dict(
        irradiation_event_uid=event.irradiation_event_uid,
        acquisition_protocol=event.acquisition_protocol,
        **code_fields("target_region", event.target_region),
        **code_fields("ct_acquisition_type", event.ct_acquisition_type),
        **code_fields("procedure_context", event.procedure_context),
        irradiation_event_label=event.irradiation_event_label,
        date_time_started=event.date_time_started,
        exposure_time_s=event.exposure_time_s,
        scanning_length_mm=length.scanning_length_mm,
        length_of_reconstructable_volume_mm=length.length_of_reconstructable_volume_mm,
        exposed_range_mm=length.exposed_range_mm,
        top_z_location_of_reconstructable_volume_mm=length.top_z_location_of_reconstructable_volume_mm,
        bottom_z_location_of_reconstructable_volume_mm=length.bottom_z_location_of_reconstructable_volume_mm,
        top_z_location_of_scanning_length_mm=length.top_z_location_of_scanning_length_mm,
        bottom_z_location_of_scanning_length_mm=length.bottom_z_location_of_scanning_length_mm,
        frame_of_reference_uid=length.frame_of_reference_uid,
        nominal_single_collimation_width_mm=event.nominal_single_collimation_width_mm,
        nominal_total_collimation_width_mm=event.nominal_total_collimation_width_mm,
        pitch_factor=event.pitch_factor,
        number_of_xray_sources=event.number_of_xray_sources,
        mean_ctdivol_mgy=event.mean_ctdivol_mgy,
        **code_fields("ctdiw_phantom_type", event.ctdiw_phantom_type),
        ctdifreeair_calculation_factor=event.ctdifreeair_calculation_factor,
        mean_ctdifreeair_mgy=event.mean_ctdifreeair_mgy,
        dlp_mgycm=event.dlp_mgycm,
        effective_dose_msv=event.effective_dose_msv,
        effective_dose_conversion_factor=event.effective_dose_conversion_factor,
        xray_modulation_type=event.xray_modulation_type,
        comment=event.comment,
    )
    children = {
        "sources": [
            NewRow(
                model.CtXRaySource,
                dict(
                    identification=s.identification,
                    kvp_kv=s.kvp_kv,
                    maximum_xray_tube_current_ma=s.maximum_xray_tube_current_ma,
                    xray_tube_current_ma=s.xray_tube_current_ma,
                    exposure_time_per_rotation_s=s.exposure_time_per_rotation_s,
                    xray_filter_aluminum_equivalent_mm=s.xray_filter_aluminum_equivalent_mm,
                ),
            )
            for s in event.sources
        ],
        "dose_check": dose_check_row(event.dose_check),
    }
    return NewRow(model.CtIrradiationEvent, values, children)


def dose_check_row(check: records.CtDoseCheck | None) -> NewRow | None:
    if check is None:
        return None
    return NewRow(model.CtDoseCheck, {f: getattr(check, f) for f in records.CtDoseCheck.__dataclass_fields__})


