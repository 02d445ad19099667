"""CT dose tables: the CT Radiation Dose template tree of PS3.16 (TID 10011 and its sub-templates)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from orthanc_rem.model.common import Base, Study, measured, text_column


class CtRadiationDose(Base):
    """TID 10011 CT Radiation Dose; a study holds one per dose report (continued studies hold several)."""

    __tablename__ = "ct_radiation_dose"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_fk: Mapped[int] = mapped_column(ForeignKey("study.id", ondelete="CASCADE"), index=True)
    sop_instance_uid: Mapped[str] = mapped_column(String(64))
    procedure_reported_value: Mapped[str | None] = text_column()
    procedure_reported_scheme: Mapped[str | None] = text_column()
    procedure_reported_meaning: Mapped[str | None] = text_column()
    has_intent_value: Mapped[str | None] = text_column()
    has_intent_scheme: Mapped[str | None] = text_column()
    has_intent_meaning: Mapped[str | None] = text_column()
    start_of_xray_irradiation: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    end_of_xray_irradiation: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    scope_of_accumulation_value: Mapped[str | None] = text_column()
    scope_of_accumulation_scheme: Mapped[str | None] = text_column()
    scope_of_accumulation_meaning: Mapped[str | None] = text_column()
    scope_uid: Mapped[str | None] = text_column()
    comment: Mapped[str | None] = text_column()
    source_of_dose_information: Mapped[str | None] = mapped_column(
        Text, nullable=True, info={"doc": "CID 10021 meanings, '; '-separated (the template allows 1-n)"}
    )
    total_number_of_irradiation_events: Mapped[int | None] = mapped_column(Integer, nullable=True)
    dlp_total_mgycm: Mapped[float | None] = measured("mGy.cm")
    effective_dose_total_msv: Mapped[float | None] = measured("mSv")
    accumulated_reference_authority: Mapped[str | None] = text_column()
    accumulated_measurement_method: Mapped[str | None] = text_column()
    accumulated_comment: Mapped[str | None] = text_column()

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
    acquisition_protocol: Mapped[str | None] = text_column()
    target_region_value: Mapped[str | None] = text_column()
    target_region_scheme: Mapped[str | None] = text_column()
    target_region_meaning: Mapped[str | None] = text_column()
    ct_acquisition_type_value: Mapped[str | None] = text_column()
    ct_acquisition_type_scheme: Mapped[str | None] = text_column()
    ct_acquisition_type_meaning: Mapped[str | None] = text_column()
    procedure_context_value: Mapped[str | None] = text_column()
    procedure_context_scheme: Mapped[str | None] = text_column()
    procedure_context_meaning: Mapped[str | None] = text_column()
    irradiation_event_label: Mapped[str | None] = text_column()
    date_time_started: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    exposure_time_s: Mapped[float | None] = measured("s")
    scanning_length_mm: Mapped[float | None] = measured("mm")
    length_of_reconstructable_volume_mm: Mapped[float | None] = measured("mm")
    exposed_range_mm: Mapped[float | None] = measured("mm")
    top_z_location_of_reconstructable_volume_mm: Mapped[float | None] = measured("mm")
    bottom_z_location_of_reconstructable_volume_mm: Mapped[float | None] = measured("mm")
    top_z_location_of_scanning_length_mm: Mapped[float | None] = measured("mm")
    bottom_z_location_of_scanning_length_mm: Mapped[float | None] = measured("mm")
    frame_of_reference_uid: Mapped[str | None] = text_column()
    nominal_single_collimation_width_mm: Mapped[float | None] = measured("mm")
    nominal_total_collimation_width_mm: Mapped[float | None] = measured("mm")
    pitch_factor: Mapped[float | None] = measured("{ratio}")
    number_of_xray_sources: Mapped[int | None] = mapped_column(Integer, nullable=True)
    mean_ctdivol_mgy: Mapped[float | None] = measured("mGy")
    ctdiw_phantom_type_value: Mapped[str | None] = text_column()
    ctdiw_phantom_type_scheme: Mapped[str | None] = text_column()
    ctdiw_phantom_type_meaning: Mapped[str | None] = text_column()
    ctdifreeair_calculation_factor: Mapped[float | None] = measured("mGy/mAs")
    mean_ctdifreeair_mgy: Mapped[float | None] = measured("mGy")
    dlp_mgycm: Mapped[float | None] = measured("mGy.cm")
    effective_dose_msv: Mapped[float | None] = measured("mSv")
    effective_dose_conversion_factor: Mapped[float | None] = measured("mSv/(mGy.cm)")
    xray_modulation_type: Mapped[str | None] = text_column()
    comment: Mapped[str | None] = text_column()

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
    identification: Mapped[str | None] = text_column()
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
    alert_reason_for_proceeding: Mapped[str | None] = text_column()
    alert_person_name: Mapped[str | None] = text_column()
    dlp_notification_value_configured: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    ctdivol_notification_value_configured: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    dlp_notification_value_mgycm: Mapped[float | None] = measured("mGy.cm")
    ctdivol_notification_value_mgy: Mapped[float | None] = measured("mGy")
    dlp_forward_estimate_mgycm: Mapped[float | None] = measured("mGy.cm")
    ctdivol_forward_estimate_mgy: Mapped[float | None] = measured("mGy")
    notification_reason_for_proceeding: Mapped[str | None] = text_column()
    notification_person_name: Mapped[str | None] = text_column()

    event: Mapped[CtIrradiationEvent] = relationship(back_populates="dose_check")
