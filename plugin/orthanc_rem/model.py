"""The dose database: SQLAlchemy 2 typed models.

Tables follow DICOM: header modules of PS3.3 (study, patient, equipment) and the CT Radiation
Dose template tree of PS3.16 (TID 10011 and its sub-templates). A measured value lives in a
column whose name ends with its unit and whose ``info["unit"]`` holds the UCUM unit, so that
the JSON API can report every number with its unit without a second table of metadata.
Coded values keep code value, coding scheme and meaning (three columns made by ``code_columns``).

Schema changes go through Alembic (``orthanc_rem/migrations``), never ``create_all`` on a
user's database.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    Time,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    pass


def measured(unit: str) -> Mapped[float | None]:
    """A nullable float column that knows its UCUM unit."""
    return mapped_column(Float, nullable=True, info={"unit": unit})


def _text() -> Mapped[str | None]:
    return mapped_column(Text, nullable=True)


class Equipment(Base):
    """One "unique equipment": a distinct combination of the 8 identifying header fields.

    ``identity_hash`` is the SHA-256 of the 8 fields; a unique index on it (instead of on the
    8 columns) works the same on SQLite and PostgreSQL although SQL treats NULLs as distinct.
    """

    __tablename__ = "equipment"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    identity_hash: Mapped[str] = mapped_column(String(64), unique=True)
    manufacturer: Mapped[str | None] = _text()
    institution_name: Mapped[str | None] = _text()
    station_name: Mapped[str | None] = _text()
    institutional_department_name: Mapped[str | None] = _text()
    manufacturer_model_name: Mapped[str | None] = _text()
    device_serial_number: Mapped[str | None] = _text()
    software_versions: Mapped[str | None] = _text()
    gantry_id: Mapped[str | None] = _text()
    display_name: Mapped[str] = mapped_column(Text)
    user_defined_modality: Mapped[str | None] = mapped_column(String(8), nullable=True)

    studies: Mapped[list[Study]] = relationship(back_populates="equipment")


class Study(Base):
    """General Study Module (PS3.3 C.7.2.1); one row per Study Instance UID."""

    __tablename__ = "study"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_instance_uid: Mapped[str] = mapped_column(String(64), unique=True)
    modality: Mapped[str] = mapped_column(String(8), index=True)
    study_date: Mapped[dt.date | None] = mapped_column(Date, nullable=True, index=True)
    study_time: Mapped[dt.time | None] = mapped_column(Time, nullable=True)
    accession_number: Mapped[str | None] = _text()
    study_id: Mapped[str | None] = _text()
    study_description: Mapped[str | None] = _text()
    referring_physician_name: Mapped[str | None] = _text()
    performing_physician_name: Mapped[str | None] = _text()
    operator_name: Mapped[str | None] = _text()
    requested_procedure_description: Mapped[str | None] = _text()
    procedure_code_value: Mapped[str | None] = _text()
    procedure_code_scheme: Mapped[str | None] = _text()
    procedure_code_meaning: Mapped[str | None] = _text()
    requested_procedure_code_value: Mapped[str | None] = _text()
    requested_procedure_code_scheme: Mapped[str | None] = _text()
    requested_procedure_code_meaning: Mapped[str | None] = _text()
    institution_address: Mapped[str | None] = _text()
    equipment_id: Mapped[int | None] = mapped_column(ForeignKey("equipment.id"), nullable=True, index=True)
    imported_at: Mapped[dt.datetime] = mapped_column(DateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime)

    equipment: Mapped[Equipment | None] = relationship(back_populates="studies")
    patient: Mapped[Patient | None] = relationship(
        back_populates="study", cascade="all, delete-orphan", uselist=False
    )
    objects: Mapped[list[ProcessedObject]] = relationship(
        back_populates="study", cascade="all, delete-orphan", order_by="ProcessedObject.id"
    )
    ct_radiation_doses: Mapped[list[CtRadiationDose]] = relationship(
        back_populates="study", cascade="all, delete-orphan", order_by="CtRadiationDose.id"
    )


class Patient(Base):
    """Patient and Patient Study modules for one study; name and ID are not stored."""

    __tablename__ = "patient"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_fk: Mapped[int] = mapped_column(ForeignKey("study.id", ondelete="CASCADE"), unique=True)
    sex: Mapped[str | None] = mapped_column(String(16), nullable=True)
    age_string: Mapped[str | None] = mapped_column(String(16), nullable=True)
    age_years: Mapped[float | None] = measured("a")
    size_m: Mapped[float | None] = measured("m")
    weight_kg: Mapped[float | None] = measured("kg")

    study: Mapped[Study] = relationship(back_populates="patient")


class ProcessedObject(Base):
    """Every SOP instance whose content was stored against a study (manual: ObjectUIDsProcessed)."""

    __tablename__ = "processed_object"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_fk: Mapped[int] = mapped_column(ForeignKey("study.id", ondelete="CASCADE"), index=True)
    sop_instance_uid: Mapped[str] = mapped_column(String(64), unique=True)
    sop_class_uid: Mapped[str | None] = mapped_column(String(64), nullable=True)
    orthanc_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    processed_at: Mapped[dt.datetime] = mapped_column(DateTime)

    study: Mapped[Study] = relationship(back_populates="objects")


class RejectedObject(Base):
    """An object that was not imported, kept with the reason so nothing is lost silently.

    ``outcome`` is ``failed`` (extraction or storage error, to be re-run after a fix) or
    ``not_dose_report`` / ``unsupported`` (valid DICOM that we deliberately skip).
    """

    __tablename__ = "rejected_object"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(Text, unique=True)
    orthanc_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    sop_instance_uid: Mapped[str | None] = mapped_column(String(64), nullable=True)
    sop_class_uid: Mapped[str | None] = mapped_column(String(64), nullable=True)
    outcome: Mapped[str] = mapped_column(String(32), index=True)
    reason: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    last_attempt_at: Mapped[dt.datetime] = mapped_column(DateTime)


class CtRadiationDose(Base):
    """TID 10011 CT Radiation Dose; a study holds one per dose report (continued studies hold several)."""

    __tablename__ = "ct_radiation_dose"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_fk: Mapped[int] = mapped_column(ForeignKey("study.id", ondelete="CASCADE"), index=True)
    sop_instance_uid: Mapped[str] = mapped_column(String(64))
    procedure_reported_value: Mapped[str | None] = _text()
    procedure_reported_scheme: Mapped[str | None] = _text()
    procedure_reported_meaning: Mapped[str | None] = _text()
    has_intent_value: Mapped[str | None] = _text()
    has_intent_scheme: Mapped[str | None] = _text()
    has_intent_meaning: Mapped[str | None] = _text()
    start_of_xray_irradiation: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    end_of_xray_irradiation: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    scope_of_accumulation_value: Mapped[str | None] = _text()
    scope_of_accumulation_scheme: Mapped[str | None] = _text()
    scope_of_accumulation_meaning: Mapped[str | None] = _text()
    scope_uid: Mapped[str | None] = _text()
    comment: Mapped[str | None] = _text()
    source_of_dose_information: Mapped[str | None] = mapped_column(
        Text, nullable=True, info={"doc": "CID 10021 meanings, '; '-separated (the template allows 1-n)"}
    )
    total_number_of_irradiation_events: Mapped[int | None] = mapped_column(Integer, nullable=True)
    dlp_total_mgycm: Mapped[float | None] = measured("mGy.cm")
    effective_dose_total_msv: Mapped[float | None] = measured("mSv")
    accumulated_reference_authority: Mapped[str | None] = _text()
    accumulated_measurement_method: Mapped[str | None] = _text()
    accumulated_comment: Mapped[str | None] = _text()

    study: Mapped[Study] = relationship(back_populates="ct_radiation_doses")
    events: Mapped[list[CtIrradiationEvent]] = relationship(
        back_populates="ct_radiation_dose", cascade="all, delete-orphan", order_by="CtIrradiationEvent.id"
    )


class CtIrradiationEvent(Base):
    """TID 10013 CT Irradiation Event Data with its TID 10014 scanning length block."""

    __tablename__ = "ct_irradiation_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ct_radiation_dose_fk: Mapped[int] = mapped_column(
        ForeignKey("ct_radiation_dose.id", ondelete="CASCADE"), index=True
    )
    irradiation_event_uid: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    acquisition_protocol: Mapped[str | None] = _text()
    target_region_value: Mapped[str | None] = _text()
    target_region_scheme: Mapped[str | None] = _text()
    target_region_meaning: Mapped[str | None] = _text()
    ct_acquisition_type_value: Mapped[str | None] = _text()
    ct_acquisition_type_scheme: Mapped[str | None] = _text()
    ct_acquisition_type_meaning: Mapped[str | None] = _text()
    procedure_context_value: Mapped[str | None] = _text()
    procedure_context_scheme: Mapped[str | None] = _text()
    procedure_context_meaning: Mapped[str | None] = _text()
    irradiation_event_label: Mapped[str | None] = _text()
    date_time_started: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    exposure_time_s: Mapped[float | None] = measured("s")
    scanning_length_mm: Mapped[float | None] = measured("mm")
    length_of_reconstructable_volume_mm: Mapped[float | None] = measured("mm")
    exposed_range_mm: Mapped[float | None] = measured("mm")
    top_z_location_of_reconstructable_volume_mm: Mapped[float | None] = measured("mm")
    bottom_z_location_of_reconstructable_volume_mm: Mapped[float | None] = measured("mm")
    top_z_location_of_scanning_length_mm: Mapped[float | None] = measured("mm")
    bottom_z_location_of_scanning_length_mm: Mapped[float | None] = measured("mm")
    frame_of_reference_uid: Mapped[str | None] = _text()
    nominal_single_collimation_width_mm: Mapped[float | None] = measured("mm")
    nominal_total_collimation_width_mm: Mapped[float | None] = measured("mm")
    pitch_factor: Mapped[float | None] = measured("{ratio}")
    number_of_xray_sources: Mapped[int | None] = mapped_column(Integer, nullable=True)
    mean_ctdivol_mgy: Mapped[float | None] = measured("mGy")
    ctdiw_phantom_type_value: Mapped[str | None] = _text()
    ctdiw_phantom_type_scheme: Mapped[str | None] = _text()
    ctdiw_phantom_type_meaning: Mapped[str | None] = _text()
    ctdifreeair_calculation_factor: Mapped[float | None] = measured("mGy/mAs")
    mean_ctdifreeair_mgy: Mapped[float | None] = measured("mGy")
    dlp_mgycm: Mapped[float | None] = measured("mGy.cm")
    effective_dose_msv: Mapped[float | None] = measured("mSv")
    effective_dose_conversion_factor: Mapped[float | None] = measured("mSv/(mGy.cm)")
    xray_modulation_type: Mapped[str | None] = _text()
    comment: Mapped[str | None] = _text()

    ct_radiation_dose: Mapped[CtRadiationDose] = relationship(back_populates="events")
    sources: Mapped[list[CtXRaySource]] = relationship(
        back_populates="event", cascade="all, delete-orphan", order_by="CtXRaySource.id"
    )
    dose_check: Mapped[CtDoseCheck | None] = relationship(
        back_populates="event", cascade="all, delete-orphan", uselist=False
    )


class CtXRaySource(Base):
    """CT X-Ray Source Parameters (TID 10013): one row per tube, two on dual-source scanners."""

    __tablename__ = "ct_xray_source"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_fk: Mapped[int] = mapped_column(ForeignKey("ct_irradiation_event.id", ondelete="CASCADE"), index=True)
    identification: Mapped[str | None] = _text()
    kvp_kv: Mapped[float | None] = measured("kV")
    maximum_xray_tube_current_ma: Mapped[float | None] = measured("mA")
    xray_tube_current_ma: Mapped[float | None] = measured("mA")
    exposure_time_per_rotation_s: Mapped[float | None] = measured("s")
    xray_filter_aluminum_equivalent_mm: Mapped[float | None] = measured("mm")

    event: Mapped[CtIrradiationEvent] = relationship(back_populates="sources")


class CtDoseCheck(Base):
    """TID 10015 CT Dose Check Details (NEMA XR 25 alert and notification values)."""

    __tablename__ = "ct_dose_check"
    __table_args__ = (UniqueConstraint("event_fk"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_fk: Mapped[int] = mapped_column(ForeignKey("ct_irradiation_event.id", ondelete="CASCADE"))
    dlp_alert_value_configured: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    ctdivol_alert_value_configured: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    dlp_alert_value_mgycm: Mapped[float | None] = measured("mGy.cm")
    ctdivol_alert_value_mgy: Mapped[float | None] = measured("mGy")
    accumulated_dlp_forward_estimate_mgycm: Mapped[float | None] = measured("mGy.cm")
    accumulated_ctdivol_forward_estimate_mgy: Mapped[float | None] = measured("mGy")
    alert_reason_for_proceeding: Mapped[str | None] = _text()
    alert_person_name: Mapped[str | None] = _text()
    dlp_notification_value_configured: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    ctdivol_notification_value_configured: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    dlp_notification_value_mgycm: Mapped[float | None] = measured("mGy.cm")
    ctdivol_notification_value_mgy: Mapped[float | None] = measured("mGy")
    dlp_forward_estimate_mgycm: Mapped[float | None] = measured("mGy.cm")
    ctdivol_forward_estimate_mgy: Mapped[float | None] = measured("mGy")
    notification_reason_for_proceeding: Mapped[str | None] = _text()
    notification_person_name: Mapped[str | None] = _text()

    event: Mapped[CtIrradiationEvent] = relationship(back_populates="dose_check")
