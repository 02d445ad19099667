"""Turning extracted dose reports into rows, one transaction per object.

This module owns the duplicate and update rules, so that every path into the database
(Orthanc workers, ``orthanc-rem import``, reprocessing) behaves the same:

* an object whose SOP Instance UID was already processed creates nothing (unique constraint);
* a study row is created once per Study Instance UID (``INSERT .. ON CONFLICT DO NOTHING``)
  and then locked for the rest of the transaction, so two workers handling reports of one study
  are serialised by the database, not by sleeps;
* a report is compared with the reports already stored for the study by Irradiation Event UID
  (manual, "updated RDSR import"): one that contains all events of an older report and more
  replaces it (cumulative RDSRs, e.g. Siemens CT after each exposure); one with no event in
  common is stored alongside (continued study); one whose events are all stored already adds
  nothing and is recorded as superseded.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from orthanc_rem import model
from orthanc_rem.extraction import records

Outcome = Literal["imported", "replaced", "duplicate", "superseded"]


@dataclass(frozen=True)
class IngestResult:
    outcome: Outcome
    study_id: int | None
    detail: str = ""


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def store_ct_report(
    session: Session, report: records.CtDoseReport, orthanc_id: str | None = None, source: str | None = None
) -> IngestResult:
    """Store one CT dose report and commit; see the module docstring for the rules.

    ``source`` names where the object came from; an earlier rejection of that source is removed
    in the same transaction, because the object is no longer a problem.
    """
    try:
        result = _store_ct_report(session, report, orthanc_id)
        if source is not None:
            session.execute(delete(model.RejectedObject).where(model.RejectedObject.source == source))
        session.commit()
        return result
    except IntegrityError:
        # Another worker committed the same SOP instance between our check and our insert.
        session.rollback()
        return IngestResult("duplicate", None, "already processed (concurrent import)")
    except BaseException:
        session.rollback()
        raise


def _store_ct_report(session: Session, report: records.CtDoseReport, orthanc_id: str | None) -> IngestResult:
    equipment_id = _equipment_id(session, report.equipment)
    study = _locked_study(session, report, equipment_id)
    known = session.scalar(
        select(model.ProcessedObject).where(model.ProcessedObject.sop_instance_uid == report.sop_instance_uid)
    )
    if known is not None:
        return IngestResult("duplicate", known.study_fk, "SOP Instance UID already processed")

    new_uids = {e.irradiation_event_uid for e in report.dose.events if e.irradiation_event_uid}
    replaced: list[model.CtRadiationDose] = []
    for existing in study.ct_radiation_doses:
        old_uids = {e.irradiation_event_uid for e in existing.events if e.irradiation_event_uid}
        if new_uids and new_uids <= old_uids:
            _mark_processed(session, study, report, orthanc_id)
            return IngestResult("superseded", study.id, f"all events already stored (report {existing.id})")
        if old_uids and old_uids < new_uids:
            replaced.append(existing)
    for existing in replaced:
        study.ct_radiation_doses.remove(existing)

    _update_study_header(study, report, equipment_id)
    _set_patient(study, report.patient)
    study.ct_radiation_doses.append(_ct_radiation_dose_row(report))
    _mark_processed(session, study, report, orthanc_id)
    session.flush()
    if replaced:
        return IngestResult("replaced", study.id, f"replaced {len(replaced)} older cumulative report(s)")
    return IngestResult("imported", study.id)


def _insert(session: Session, table: Any) -> Any:
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def equipment_identity_hash(equipment: records.Equipment) -> str:
    fields = (
        equipment.manufacturer,
        equipment.institution_name,
        equipment.station_name,
        equipment.institutional_department_name,
        equipment.manufacturer_model_name,
        equipment.device_serial_number,
        equipment.software_versions,
        equipment.gantry_id,
    )
    joined = "\x1f".join("\x00" if f is None else f for f in fields)
    return hashlib.sha256(joined.encode("utf-8")).hexdigest()


def default_display_name(equipment: records.Equipment) -> str:
    """The manual's default: institution name and station name (L2909)."""
    parts = [p for p in (equipment.institution_name, equipment.station_name) if p]
    return " ".join(parts) or equipment.manufacturer_model_name or equipment.manufacturer or "Unknown system"


def _equipment_id(session: Session, equipment: records.Equipment) -> int:
    identity = equipment_identity_hash(equipment)
    statement = _insert(session, model.Equipment).values(
        identity_hash=identity,
        manufacturer=equipment.manufacturer,
        institution_name=equipment.institution_name,
        station_name=equipment.station_name,
        institutional_department_name=equipment.institutional_department_name,
        manufacturer_model_name=equipment.manufacturer_model_name,
        device_serial_number=equipment.device_serial_number,
        software_versions=equipment.software_versions,
        gantry_id=equipment.gantry_id,
        display_name=default_display_name(equipment),
    )
    session.execute(statement.on_conflict_do_nothing(index_elements=["identity_hash"]))
    return session.scalars(select(model.Equipment.id).where(model.Equipment.identity_hash == identity)).one()


def _locked_study(session: Session, report: records.CtDoseReport, equipment_id: int) -> model.Study:
    timestamp = now()
    statement = _insert(session, model.Study).values(
        study_instance_uid=report.study.study_instance_uid,
        modality=report.modality,
        equipment_id=equipment_id,
        imported_at=timestamp,
        updated_at=timestamp,
    )
    session.execute(statement.on_conflict_do_nothing(index_elements=["study_instance_uid"]))
    query = select(model.Study).where(model.Study.study_instance_uid == report.study.study_instance_uid)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    return session.scalars(query.execution_options(populate_existing=True)).one()


def _code(prefix: str, code: records.Code | None, value_suffix: str = "_value") -> dict[str, str | None]:
    return {
        f"{prefix}{value_suffix}": code.value if code else None,
        f"{prefix}_scheme": code.scheme if code else None,
        f"{prefix}_meaning": code.meaning if code else None,
    }


def _update_study_header(study: model.Study, report: records.CtDoseReport, equipment_id: int) -> None:
    header = report.study
    study.modality = report.modality
    study.equipment_id = equipment_id
    study.study_date = header.study_date
    study.study_time = header.study_time
    study.accession_number = header.accession_number
    study.study_id = header.study_id
    study.study_description = header.study_description
    study.referring_physician_name = header.referring_physician_name
    study.performing_physician_name = header.performing_physician_name
    study.operator_name = header.operator_name
    study.requested_procedure_description = header.requested_procedure_description
    study.institution_address = report.equipment.institution_address
    for key, value in {
        **_code("procedure_code", header.procedure_code),
        **_code("requested_procedure_code", header.requested_procedure_code),
    }.items():
        setattr(study, key, value)
    study.updated_at = now()


def _set_patient(study: model.Study, patient: records.Patient) -> None:
    row = study.patient or model.Patient()
    row.sex = patient.sex
    row.age_string = patient.age_string
    row.age_years = patient.age_years
    row.size_m = patient.size_m
    row.weight_kg = patient.weight_kg
    study.patient = row


def _mark_processed(
    session: Session, study: model.Study, report: records.CtDoseReport, orthanc_id: str | None
) -> None:
    session.add(
        model.ProcessedObject(
            study=study,
            sop_instance_uid=report.sop_instance_uid,
            sop_class_uid=report.sop_class_uid,
            orthanc_id=orthanc_id,
            processed_at=now(),
        )
    )
    session.flush()


def _ct_radiation_dose_row(report: records.CtDoseReport) -> model.CtRadiationDose:
    dose = report.dose
    accumulated = dose.accumulated or records.CtAccumulatedDose()
    return model.CtRadiationDose(
        sop_instance_uid=report.sop_instance_uid,
        **_code("procedure_reported", dose.procedure_reported),
        **_code("has_intent", dose.has_intent),
        start_of_xray_irradiation=dose.start_of_xray_irradiation,
        end_of_xray_irradiation=dose.end_of_xray_irradiation,
        **_code("scope_of_accumulation", dose.scope_of_accumulation),
        scope_uid=dose.scope_uid,
        comment=dose.comment,
        source_of_dose_information="; ".join(str(c) for c in dose.sources_of_dose_information) or None,
        total_number_of_irradiation_events=accumulated.total_number_of_irradiation_events,
        dlp_total_mgycm=accumulated.dlp_total_mgycm,
        effective_dose_total_msv=accumulated.effective_dose_total_msv,
        accumulated_reference_authority=accumulated.reference_authority,
        accumulated_measurement_method=accumulated.measurement_method,
        accumulated_comment=accumulated.comment,
        events=[_ct_event_row(event) for event in dose.events],
    )


def _ct_event_row(event: records.CtIrradiationEvent) -> model.CtIrradiationEvent:
    length = event.scanning_length or records.ScanningLength()
    return model.CtIrradiationEvent(
        irradiation_event_uid=event.irradiation_event_uid,
        acquisition_protocol=event.acquisition_protocol,
        **_code("target_region", event.target_region),
        **_code("ct_acquisition_type", event.ct_acquisition_type),
        **_code("procedure_context", event.procedure_context),
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
        **_code("ctdiw_phantom_type", event.ctdiw_phantom_type),
        ctdifreeair_calculation_factor=event.ctdifreeair_calculation_factor,
        mean_ctdifreeair_mgy=event.mean_ctdifreeair_mgy,
        dlp_mgycm=event.dlp_mgycm,
        effective_dose_msv=event.effective_dose_msv,
        effective_dose_conversion_factor=event.effective_dose_conversion_factor,
        xray_modulation_type=event.xray_modulation_type,
        comment=event.comment,
        sources=[
            model.CtXRaySource(
                identification=s.identification,
                kvp_kv=s.kvp_kv,
                maximum_xray_tube_current_ma=s.maximum_xray_tube_current_ma,
                xray_tube_current_ma=s.xray_tube_current_ma,
                exposure_time_per_rotation_s=s.exposure_time_per_rotation_s,
                xray_filter_aluminum_equivalent_mm=s.xray_filter_aluminum_equivalent_mm,
            )
            for s in event.sources
        ],
        dose_check=_dose_check_row(event.dose_check),
    )


def _dose_check_row(check: records.CtDoseCheck | None) -> model.CtDoseCheck | None:
    if check is None:
        return None
    return model.CtDoseCheck(**{f: getattr(check, f) for f in records.CtDoseCheck.__dataclass_fields__})


def record_rejection(
    session: Session,
    *,
    source: str,
    outcome: str,
    reason: str,
    orthanc_id: str | None = None,
    sop_instance_uid: str | None = None,
    sop_class_uid: str | None = None,
) -> None:
    """Keep the reason an object was not imported; a re-run of the same object updates the row."""
    values = dict(
        source=source,
        orthanc_id=orthanc_id,
        sop_instance_uid=sop_instance_uid,
        sop_class_uid=sop_class_uid,
        outcome=outcome,
        reason=reason[:4000],
        attempts=1,
        last_attempt_at=now(),
    )
    statement = _insert(session, model.RejectedObject).values(**values)
    statement = statement.on_conflict_do_update(
        index_elements=["source"],
        set_={
            "outcome": statement.excluded.outcome,
            "reason": statement.excluded.reason,
            "sop_instance_uid": statement.excluded.sop_instance_uid,
            "sop_class_uid": statement.excluded.sop_class_uid,
            "attempts": model.RejectedObject.attempts + 1,
            "last_attempt_at": statement.excluded.last_attempt_at,
        },
    )
    session.execute(statement)
    session.commit()

