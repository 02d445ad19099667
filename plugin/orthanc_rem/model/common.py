"""Tables every modality shares: equipment, study, patient, processed and rejected objects.

Header modules of PS3.3: General Study (C.7.2.1), Patient and Patient Study (C.7.1.1, C.7.2.2),
General Equipment (C.7.5.1). A measured value lives in a column whose name ends with its unit and
whose ``info["unit"]`` holds the UCUM unit, so that the JSON API reports every number with its unit
without a second table of metadata.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import Boolean, Date, DateTime, Float, ForeignKey, Integer, String, Text, Time, false
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

if TYPE_CHECKING:
    from orthanc_rem.model.ct import CtRadiationDose
    from orthanc_rem.model.projection import ProjectionXRayRadiationDose


class Base(DeclarativeBase):
    pass


def measured(unit: str) -> Mapped[float | None]:
    """A nullable float column that knows its UCUM unit."""
    return mapped_column(Float, nullable=True, info={"unit": unit})


def code_fields(prefix: str, code: Any) -> dict[str, str | None]:
    """Column values for a coded concept stored as ``<prefix>_value/_scheme/_meaning``."""
    return {
        f"{prefix}_value": code.value if code else None,
        f"{prefix}_scheme": code.scheme if code else None,
        f"{prefix}_meaning": code.meaning if code else None,
    }


def text_column() -> Mapped[str | None]:
    return mapped_column(Text, nullable=True)


class Equipment(Base):
    """One "unique equipment": a distinct combination of the 8 identifying header fields.

    ``identity_hash`` is the SHA-256 of the 8 fields; a unique index on it (instead of on the
    8 columns) works the same on SQLite and PostgreSQL although SQL treats NULLs as distinct.
    """

    __tablename__ = "equipment"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    identity_hash: Mapped[str] = mapped_column(String(64), unique=True)
    manufacturer: Mapped[str | None] = text_column()
    institution_name: Mapped[str | None] = text_column()
    station_name: Mapped[str | None] = text_column()
    institutional_department_name: Mapped[str | None] = text_column()
    manufacturer_model_name: Mapped[str | None] = text_column()
    device_serial_number: Mapped[str | None] = text_column()
    software_versions: Mapped[str | None] = text_column()
    gantry_id: Mapped[str | None] = text_column()
    display_name: Mapped[str] = mapped_column(Text)
    user_defined_modality: Mapped[str | None] = mapped_column(String(8), nullable=True)

    studies: Mapped[list[Study]] = relationship(back_populates="equipment")


class Study(Base):
    """General Study Module (PS3.3 C.7.2.1); one row per Study Instance UID."""

    __tablename__ = "study"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_instance_uid: Mapped[str] = mapped_column(String(64), unique=True)
    modality: Mapped[str] = mapped_column(
        String(8), index=True, info={"doc": "what the study is shown as: content_modality or the user-defined one"}
    )
    content_modality: Mapped[str | None] = mapped_column(
        String(8), nullable=True, info={"doc": "what the dose objects themselves say (CT, RF, DX, MG)"}
    )
    study_date: Mapped[dt.date | None] = mapped_column(Date, nullable=True, index=True)
    study_time: Mapped[dt.time | None] = mapped_column(Time, nullable=True)
    accession_number: Mapped[str | None] = text_column()
    accession_number_hashed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    study_id: Mapped[str | None] = text_column()
    study_description: Mapped[str | None] = text_column()
    referring_physician_name: Mapped[str | None] = text_column()
    performing_physician_name: Mapped[str | None] = text_column()
    operator_name: Mapped[str | None] = text_column()
    requested_procedure_description: Mapped[str | None] = text_column()
    procedure_code_value: Mapped[str | None] = text_column()
    procedure_code_scheme: Mapped[str | None] = text_column()
    procedure_code_meaning: Mapped[str | None] = text_column()
    requested_procedure_code_value: Mapped[str | None] = text_column()
    requested_procedure_code_scheme: Mapped[str | None] = text_column()
    requested_procedure_code_meaning: Mapped[str | None] = text_column()
    institution_address: Mapped[str | None] = text_column()
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
    projection_xray_radiation_doses: Mapped[list[ProjectionXRayRadiationDose]] = relationship(
        back_populates="study", cascade="all, delete-orphan", order_by="ProjectionXRayRadiationDose.id"
    )


class Patient(Base):
    """Patient and Patient Study modules for one study; name and ID are not stored."""

    __tablename__ = "patient"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_fk: Mapped[int] = mapped_column(ForeignKey("study.id", ondelete="CASCADE"), unique=True)
    name: Mapped[str | None] = mapped_column(
        Text, nullable=True, info={"doc": "only if the settings say to store it; SHA-256 hex if hashed"}
    )
    name_hashed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    patient_id: Mapped[str | None] = mapped_column(
        Text, nullable=True, info={"doc": "only if the settings say to store it; SHA-256 hex if hashed"}
    )
    patient_id_hashed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    birth_date: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    not_patient_indicator: Mapped[str | None] = mapped_column(
        Text, nullable=True, info={"doc": "the not-patient patterns that matched, recorded before name/ID are dropped"}
    )
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
    series_instance_uid: Mapped[str | None] = mapped_column(String(64), nullable=True)
    orthanc_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    processed_at: Mapped[dt.datetime] = mapped_column(DateTime)

    study: Mapped[Study] = relationship(back_populates="objects")
    warnings: Mapped[list[ExtractionWarning]] = relationship(
        back_populates="processed_object", cascade="all, delete-orphan", order_by="ExtractionWarning.id"
    )


class ExtractionWarning(Base):
    """A value of an imported object that could not be read and was left empty, with the reason.

    Nothing is dropped without a word: a malformed optional item, a non-numeric or non-finite
    number, a negative dose... becomes one row here, shown on the study's page and in the API.
    """

    __tablename__ = "extraction_warning"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    processed_object_fk: Mapped[int] = mapped_column(
        ForeignKey("processed_object.id", ondelete="CASCADE"), index=True
    )
    message: Mapped[str] = mapped_column(Text)

    processed_object: Mapped[ProcessedObject] = relationship(back_populates="warnings")


class IngestState(Base):
    """Small named values the service keeps between runs, e.g. the last Orthanc change sequence
    number whose instance has been handed to the workers (catch-up after a stop or a crash)."""

    __tablename__ = "ingest_state"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class RejectedObject(Base):
    """An object that was not imported, kept with the reason so nothing is lost silently.

    ``outcome`` is ``failed`` (extraction or storage error, to be re-run after a fix),
    ``not_dose_report`` / ``unsupported`` (valid DICOM that we deliberately skip), ``duplicate``
    (a SOP Instance UID already processed from another Orthanc instance) or ``unmatched`` (no
    importer reads it: counted, not listed). Every Orthanc instance thus has a row here or in
    ``processed_object``, which is how ``orthanc-rem reconcile`` finds a lost task.
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


