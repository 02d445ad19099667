"""Turning extracted dose reports into rows, one transaction per object.

This module owns the duplicate and update rules, so that every path into the database
(Orthanc workers, ``orthanc-rem import``, reprocessing) behaves the same:

* an object whose SOP Instance UID was already processed creates nothing (unique constraint), not
  even a study: a report that re-uses a SOP Instance UID under another Study Instance UID (the
  corpus' ``RF-RDSR-Siemens-Zee_adjusted.dcm``) is a duplicate and leaves no empty study behind;
* a study row is created once per Study Instance UID (``INSERT .. ON CONFLICT DO NOTHING``)
  and then locked for the rest of the transaction, so two workers handling reports of one study
  are serialised by the database, not by sleeps;
* a report is compared with the reports already stored for the study by Irradiation Event UID
  (manual, "updated RDSR import"): one that contains all events of an older report and more
  replaces it (cumulative RDSRs, e.g. Siemens CT after each exposure); one with no event in
  common is stored alongside (continued study); one whose events are all stored already adds
  nothing and is recorded as superseded;
* a CT report read off a dose screen (legacy Toshiba, ``toshiba_ct``) is replaced by a scanner's
  RDSR of the same study or by a newer screen report, and is not stored beside a scanner's.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, object_session

from orthanc_rem import (
    bulk_rows,
    chart_events,
    ct_rows,
    identifiable_data,
    model,
    projection_rows,
    store_statements,
    study_totals,
)
from orthanc_rem.extraction import projection_records, records
from orthanc_rem.model.common import code_fields
from orthanc_rem.outcome import Outcome


@dataclass(frozen=True)
class IngestResult:
    outcome: Outcome
    study_id: int | None
    detail: str = ""


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


DoseReport = records.CtDoseReport | projection_records.ProjectionDoseReport


def store_report(
    session: Session, report: DoseReport, orthanc_id: str | None = None, source: str | None = None
) -> IngestResult:
    """Store one dose report and commit; see the module docstring for the rules.

    ``source`` names where the object came from; an earlier rejection of that source is removed
    in the same transaction, because the object is no longer a problem.
    """
    try:
        result = _store_report(session, report, orthanc_id, source)
        session.commit()
        return result
    except IntegrityError:
        # Another worker committed the same SOP instance between our check and our insert.
        session.rollback()
        return IngestResult(Outcome.DUPLICATE, None, "already processed (concurrent import)")
    except BaseException:
        session.rollback()
        raise


#: The CT-only name the first version used.
store_ct_report = store_report


def _store_report(
    session: Session, report: DoseReport, orthanc_id: str | None, source: str | None = None
) -> IngestResult:
    """Store one report in the caller's transaction; an earlier rejection of ``source`` (if
    given) is removed, whatever the outcome (a duplicate is no problem of the object either)."""
    # The report's rows are built before the first statement: on SQLite that statement takes the
    # database's write lock (BEGIN IMMEDIATE), which every other worker then waits for.
    row = _dose_report_row(report)
    identity = equipment_identity_hash(report.equipment)
    known_study, equipment_id, user_defined_modality, rejected = session.execute(
        store_statements.statement(session, "object_lookup"),
        {"uid": report.sop_instance_uid, "identity": identity, "source": source},
    ).one()
    if rejected:
        session.execute(store_statements.statement(session, "forget_rejection"), {"source": source})
    # Before any row is written: a duplicate must not create the study (or equipment) of its header.
    if known_study is not None:
        return IngestResult(Outcome.DUPLICATE, known_study, "SOP Instance UID already processed")
    if equipment_id is not None:
        equipment = _EquipmentKey(equipment_id, user_defined_modality)
    else:
        equipment = _equipment(session, report.equipment, identity)
    policy = identifiable_data.policy_cache.get(session)
    modality = effective_modality(report.modality, equipment.user_defined_modality)
    study_id, header_rows_written = _new_study(session, report, equipment, policy, row, modality)
    if study_id is not None:
        result = _add_to_new_study(
            session, study_id, row, report, policy, modality, equipment.id, header_rows_written
        )
    else:
        result = _add_to_stored_study(session, row, report, equipment, policy)
    _mark_processed(session, result.study_id, report, orthanc_id)  # type: ignore[arg-type]
    return result


def _add_to_new_study(
    session: Session,
    study_id: int,
    row: Any,
    report: DoseReport,
    policy: identifiable_data.IdentifiableDataPolicy,
    modality: str,
    equipment_id: int,
    header_rows_written: bool,
) -> IngestResult:
    """The first report of a study: nothing to compare it with, so it is imported, with Core
    inserts only (the study's header went in with its INSERT; no ORM object is loaded), and
    the study's totals are this report's (the lists filter and sort on them).

    ``header_rows_written``: the study's INSERT wrote its patient and totals rows too (see
    ``_new_study``)."""
    if row is None:  # an image: the study's image report starts with it
        row = projection_rows.radiation_dose_row(report)  # type: ignore[arg-type]
        projection_rows.recompute_image_accumulation(row)
    bulk_rows.insert_rows(session, [row], study_fk=study_id)
    if not header_rows_written:
        patient = {"study_fk": study_id, **_patient_values(report, policy)}
        session.execute(store_statements.statement(session, "new_patient"), patient)
        study_totals.insert_for_new_study(session, study_id, study_totals.of_new_report(report, row, modality))
    if isinstance(report, records.CtDoseReport):  # the charts' copy of its CT events
        study = {
            "id": study_id,
            "modality": modality,
            "study_date": report.study.study_date,
            "equipment_id": equipment_id,
        }
        chart_events.insert_for_new_study(session, study, row)
    return IngestResult(Outcome.IMPORTED, study_id)


def _add_to_stored_study(
    session: Session,
    row: Any,
    report: DoseReport,
    equipment: _EquipmentKey,
    policy: identifiable_data.IdentifiableDataPolicy,
) -> IngestResult:
    """A report of a study already stored: the updated-RDSR and image rules decide, on the
    study loaded (and, on PostgreSQL, locked) through the ORM."""
    study = _locked_study(session, report)
    if isinstance(report, records.CtDoseReport):
        result = _add_dose_report(study, study.ct_radiation_doses, row, report)
    elif row is not None:
        collection = study.projection_xray_radiation_doses
        result = _add_dose_report(study, collection, row, report, lambda dose: dose.source_kind == "rdsr")
    else:
        result = _add_image(study, report)
    if result.outcome in (Outcome.IMPORTED, Outcome.REPLACED):
        _update_study_header(study, report, equipment, policy)
        _set_patient(study, report, policy)
    elif not (study.ct_radiation_doses or study.projection_xray_radiation_doses):
        # Imported and replaced reports were just written; every other outcome above leaves the
        # study with the dose report it had. This keeps it so for any outcome added later.
        raise EmptyStudyError(f"storing {report.sop_instance_uid} would leave study {study.id} without dose data")
    session.flush()
    if result.outcome in (Outcome.IMPORTED, Outcome.REPLACED):
        study_totals.refresh(session, [study.id])
    return result


def _dose_report_row(report: DoseReport) -> Any:
    """The radiation dose row of a CT or projection RDSR; None for an image (``_add_image`` gathers those)."""
    if isinstance(report, records.CtDoseReport):
        return ct_rows.radiation_dose_row(report)
    if report.source_kind == "rdsr":
        return projection_rows.radiation_dose_row(report)
    return None


class EmptyStudyError(RuntimeError):
    """A store that would leave a study without any dose report: rolled back, the object is failed."""


def _add_dose_report(
    study: model.Study,
    collection: list[Any],
    row: Any,
    report: DoseReport,
    same_kind: Callable[[Any], bool] = lambda _dose: True,
) -> IngestResult:
    """The updated-RDSR rule on Irradiation Event UIDs, for CT and projection RDSRs alike.

    ``collection`` is the study's relationship list; only its reports of the same kind are
    compared. Older cumulative reports are removed from it and the new one appended.
    """
    new_uids = {e.irradiation_event_uid for e in report.dose.events if e.irradiation_event_uid}
    replaced = []
    if isinstance(report, records.CtDoseReport):  # a dose screen's OCR report yields to the scanner's
        if _from_screen(report) and any(not _stored_from_screen(d) for d in collection):
            return IngestResult(Outcome.SUPERSEDED, study.id, "read off a dose screen; the scanner's RDSR is stored")
        # The newest screen report wins too: a re-run after a fix, or two workers on one study.
        replaced = [d for d in collection if _stored_from_screen(d)]
    for existing in [dose for dose in collection if same_kind(dose) and dose not in replaced]:
        old_uids = {e.irradiation_event_uid for e in existing.events if e.irradiation_event_uid}
        if new_uids and new_uids <= old_uids:
            return IngestResult(Outcome.SUPERSEDED, study.id, f"all events already stored (report {existing.id})")
        if old_uids and old_uids < new_uids:
            replaced.append(existing)
    for existing in replaced:
        collection.remove(existing)
    # The new report's tree goes in with one INSERT per table (bulk_rows), not through the ORM's
    # unit of work, not through ``collection``. A later report of this study in the same
    # transaction (reprocess stores a study's objects one after the other) still sees it:
    # ``_locked_study`` reloads the study with ``populate_existing``.
    bulk_rows.insert_rows(object_session(study), [row], study_fk=study.id)  # type: ignore[arg-type]
    if replaced:
        return IngestResult(Outcome.REPLACED, study.id, f"replaced {len(replaced)} older cumulative report(s)")
    return IngestResult(Outcome.IMPORTED, study.id)


#: DCM 113868 "Derived From Human-Readable Reports": how PixelMed marks an RDSR it made by OCR of a
#: dose screen (orthanc_rem.toshiba_ct). Such a report stands in for the scanner's RDSR only while
#: the study has none: a scanner RDSR arriving later replaces it (its event UIDs cannot match).
_HUMAN_READABLE_SOURCE = "Derived From Human-Readable Reports"


def _from_screen(report: records.CtDoseReport) -> bool:
    return any(c.value == "113868" for c in report.dose.sources_of_dose_information)


def _stored_from_screen(dose: Any) -> bool:
    return _HUMAN_READABLE_SOURCE in (getattr(dose, "source_of_dose_information", None) or "")


def _add_image(study: model.Study, report: projection_records.ProjectionDoseReport) -> IngestResult:
    """DX/CR and MG images: one irradiation event per image, gathered into one report per study.

    An image whose event is already stored (the same image sent again under a new SOP Instance
    UID, e.g. by a second route) adds nothing; the totals are recomputed from the events.
    """
    dose = next((d for d in study.projection_xray_radiation_doses if d.source_kind == report.source_kind), None)
    if dose is None:
        dose = projection_rows.radiation_dose_row(report)
        study.projection_xray_radiation_doses.append(dose)
        projection_rows.recompute_image_accumulation(dose)
        return IngestResult(Outcome.IMPORTED, study.id)
    stored = {e.irradiation_event_uid for e in dose.events if e.irradiation_event_uid}
    new_events = [e for e in report.dose.events if not e.irradiation_event_uid or e.irradiation_event_uid not in stored]
    if not new_events:
        return IngestResult(Outcome.SUPERSEDED, study.id, "this exposure is already stored")
    dose.events.extend(projection_rows.event_row(e) for e in new_events)
    projection_rows.recompute_image_accumulation(dose)
    return IngestResult(Outcome.IMPORTED, study.id)


def effective_modality(content_modality: str, user_defined_modality: str | None) -> str:
    """The manual's user-defined modality: DX or RF on the equipment overrides what the content
    says for projection studies (vendors use RF templates for DX rooms); "Dual" and unset leave the
    content's decision (for "Dual" the content sorts each study into DX or RF)."""
    if user_defined_modality in ("DX", "RF") and content_modality in ("DX", "RF"):
        return user_defined_modality
    return content_modality


def _insert(session: Session, model_class: type[model.Base]) -> Any:
    return store_statements.dialect_insert(session.get_bind().dialect.name, model_class)


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


@dataclass(frozen=True)
class _EquipmentKey:
    """What storing needs of an equipment row (a Core row, not an ORM object: cheaper to load)."""

    id: int
    user_defined_modality: str | None


def _equipment(session: Session, equipment: records.Equipment, identity_hash: str) -> _EquipmentKey:
    """The equipment row for these 8 fields (``identity_hash``), which ``object_lookup`` did not
    find: created on first sight (race-safe by its unique hash), or the row another worker has
    just created."""
    identity = {"identity": identity_hash}
    lookup = store_statements.statement(session, "equipment_key")
    values = dict(
        identity_hash=identity_hash,
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
    session.execute(store_statements.statement(session, "new_equipment"), values)
    return _EquipmentKey(*session.execute(lookup, identity).one())


def _new_study(
    session: Session,
    report: DoseReport,
    equipment: _EquipmentKey,
    policy: identifiable_data.IdentifiableDataPolicy,
    row: Any,
    modality: str,
) -> tuple[int | None, bool]:
    """Insert the report's study with its header and return its id (None if the study exists),
    and whether its patient and totals rows went in with it.

    ``INSERT .. ON CONFLICT DO NOTHING``: of two workers inserting one study, one creates it and
    the other waits for that transaction, then finds the study stored (and loads it below).
    On PostgreSQL, a dose report's study takes its patient and totals rows along in the same
    statement (``store_statements.new_study_with_patient_and_totals``): two round trips fewer.
    """
    timestamp = now()
    values = dict(
        study_instance_uid=report.study.study_instance_uid,
        imported_at=timestamp,
        updated_at=timestamp,
        **_study_header_values(report, equipment, policy),
    )
    # A dose report's totals are known before it is stored; an image's come with its image report.
    if row is None or session.get_bind().dialect.name != "postgresql":
        statement = store_statements.statement(session, "new_study")
        return session.execute(statement, values).scalar_one_or_none(), False
    patient = _patient_values(report, policy)
    totals_values = asdict(study_totals.of_new_report(report, row, modality))
    statement = store_statements.new_study_with_patient_and_totals(tuple(values), tuple(patient), tuple(totals_values))
    values.update({f"patient_{name}": value for name, value in patient.items()})
    values.update({f"totals_{name}": value for name, value in totals_values.items()})
    return session.execute(statement, values).scalar_one_or_none(), True


def _locked_study(session: Session, report: DoseReport) -> model.Study:
    """A stored study, locked for the rest of the transaction on PostgreSQL (SQLite's BEGIN
    IMMEDIATE holds the database's write lock already), reloaded so that its collections show
    what this transaction wrote (the rows of an earlier report of the study, Core-inserted)."""
    query = select(model.Study).where(model.Study.study_instance_uid == report.study.study_instance_uid)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    return session.scalars(query.execution_options(populate_existing=True)).one()


def _study_header_values(
    report: DoseReport, equipment: _EquipmentKey, policy: identifiable_data.IdentifiableDataPolicy
) -> dict[str, Any]:
    """The study columns a report's header gives (the latest imported report's header wins)."""
    header = report.study
    accession_number, accession_number_hashed = identifiable_data.protected(
        header.accession_number, True, policy.hash_accession_number
    )
    return {
        "content_modality": report.modality,
        "modality": effective_modality(report.modality, equipment.user_defined_modality),
        "equipment_id": equipment.id,
        "study_date": header.study_date,
        "study_time": header.study_time,
        "accession_number": accession_number,
        "accession_number_hashed": accession_number_hashed,
        "study_id": header.study_id,
        "study_description": header.study_description,
        "referring_physician_name": header.referring_physician_name,
        "performing_physician_name": header.performing_physician_name,
        "operator_name": header.operator_name,
        "requested_procedure_description": header.requested_procedure_description,
        "institution_address": report.equipment.institution_address,
        **code_fields("procedure_code", header.procedure_code),
        **code_fields("requested_procedure_code", header.requested_procedure_code),
    }


def _update_study_header(
    study: model.Study,
    report: DoseReport,
    equipment: _EquipmentKey,
    policy: identifiable_data.IdentifiableDataPolicy,
) -> None:
    for key, value in _study_header_values(report, equipment, policy).items():
        setattr(study, key, value)
    study.updated_at = now()


def _patient_values(report: DoseReport, policy: identifiable_data.IdentifiableDataPolicy) -> dict[str, Any]:
    """The patient columns, with what the identifiable-data settings say to drop or hash applied."""
    patient = report.patient
    name, name_hashed = identifiable_data.protected(patient.name, policy.store_patient_name, policy.hash_patient_name)
    patient_id, patient_id_hashed = identifiable_data.protected(
        patient.patient_id, policy.store_patient_id, policy.hash_patient_id
    )
    return {
        "not_patient_indicator": identifiable_data.not_patient_indicator(patient.name, patient.patient_id, policy),
        "name": name,
        "name_hashed": name_hashed,
        "patient_id": patient_id,
        "patient_id_hashed": patient_id_hashed,
        "birth_date": patient.birth_date if policy.store_birth_date else None,
        "sex": patient.sex,
        "age_string": patient.age_string,
        # The study date of this report's header: the one the study now carries.
        "age_years": identifiable_data.stored_age_years(
            patient.age_years, patient.birth_date, report.study.study_date, policy
        ),
        "size_m": patient.size_m,
        "weight_kg": patient.weight_kg,
    }


def _set_patient(study: model.Study, report: DoseReport, policy: identifiable_data.IdentifiableDataPolicy) -> None:
    row = study.patient or model.Patient()
    for key, value in _patient_values(report, policy).items():
        setattr(row, key, value)
    study.patient = row


def _mark_processed(session: Session, study_id: int, report: DoseReport, orthanc_id: str | None) -> None:
    """The object is remembered with its series and with every warning extraction gave (values
    that were malformed or could not be read and were left empty): nothing is dropped silently.

    Written with Core inserts, not through the ORM's unit of work (a quarter of the time of
    storing a CT report); ``study.objects`` in this session does not see the row until the study
    is loaded again, as ``_locked_study`` does for the next report of a study.
    """
    values = dict(
        study_fk=study_id,
        sop_instance_uid=report.sop_instance_uid,
        sop_class_uid=report.sop_class_uid,
        series_instance_uid=report.study.series_instance_uid,
        orthanc_id=orthanc_id,
        processed_at=now(),
    )
    processed_id = session.execute(store_statements.statement(session, "new_processed_object"), values).scalar_one()
    if report.warnings:
        session.execute(
            store_statements.statement(session, "new_warning"),
            [{"processed_object_fk": processed_id, "message": warning} for warning in report.warnings],
        )


def record_rejection(
    session: Session,
    *,
    source: str,
    outcome: Outcome,
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


# --- rewriting stored studies: reprocessing and the user-defined modality -------------------------


class StudyChanged(Exception):
    """The study is no longer made of the objects that were re-extracted (one arrived or was
    removed meanwhile); nothing was changed, and reprocessing it again picks up the new state."""


def replace_study_content(
    session: Session, study_id: int, reports: list[tuple[DoseReport, str | None, str | None]]
) -> list[IngestResult]:
    """Rebuild a study from fresh extractions of its own objects, in one transaction, keeping its id.

    ``reports`` holds (report, Orthanc id, source) for every object of the study, in the order
    they first arrived, so that the updated-RDSR rule sees cumulative reports as it did then. The
    study row stays (links to ``/rem/studies/<id>`` and the API keep working); its dose reports,
    patient and processed objects are replaced; an error anywhere rolls everything back.
    """
    try:
        results = _replace_study_content(session, study_id, reports)
        session.commit()
        return results
    except BaseException:
        session.rollback()
        raise


def _replace_study_content(
    session: Session, study_id: int, reports: list[tuple[DoseReport, str | None, str | None]]
) -> list[IngestResult]:
    lock = select(model.Study.id).where(model.Study.id == study_id)
    if session.get_bind().dialect.name == "postgresql":
        lock = lock.with_for_update()  # SQLite's BEGIN IMMEDIATE already holds the write lock
    if session.scalar(lock) is None:
        raise StudyChanged(f"study {study_id} is no longer stored")
    stored = set(
        session.scalars(
            select(model.ProcessedObject.sop_instance_uid).where(model.ProcessedObject.study_fk == study_id)
        )
    )
    extracted = {report.sop_instance_uid for report, _orthanc_id, _source in reports}
    if stored != extracted:
        raise StudyChanged(f"study {study_id} has other objects than those re-extracted")
    for table in (model.CtRadiationDose, model.ProjectionXRayRadiationDose, model.Patient, model.ProcessedObject):
        session.execute(delete(table).where(table.study_fk == study_id))
    results = []
    for report, orthanc_id, source in reports:
        results.append(_store_report(session, report, orthanc_id, source))
    remaining = select(model.ProcessedObject.id).where(model.ProcessedObject.study_fk == study_id).limit(1)
    if session.scalar(remaining) is None:
        # Every object now belongs to another study (its Study Instance UID reads differently):
        # no study may stay behind empty.
        session.execute(delete(model.Study).where(model.Study.id == study_id))
    return results


def apply_user_defined_modality(equipment: model.Equipment) -> int:
    """Show the system's studies under its (new) user-defined modality; returns how many changed.

    The content modality is kept on each study, so clearing the override or choosing "Dual"
    sorts each study by what its own reports say again.
    """
    changed = 0
    relabelled: list[int] = []
    for study in equipment.studies:
        shown = effective_modality(study.content_modality or study.modality, equipment.user_defined_modality)
        if shown != study.modality:
            study.modality = shown
            changed += 1
            relabelled.append(study.id)
    session = object_session(equipment)
    if session is not None:
        study_totals.refresh(session, relabelled)  # RF and DX totals are summed differently
    return changed
