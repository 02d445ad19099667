"""Projection X-ray dose tables: PS3.16 TID 10001 and the templates it includes.

Fluoroscopy, radiography and mammography share this tree, from RDSRs and from image headers
alike. Source, detector and mechanical data (TID 10003a-c) are 1:1 tables of the irradiation
event, as in the standard; pulse-level values (one number per pulse) are JSON arrays on the source
row next to their non-zero mean, since nobody queries a single pulse but a long fluoroscopy run
can have thousands.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from orthanc_rem.model.common import Base, Study, measured, text_column


def pulse_values(unit: str) -> Mapped[list[float] | None]:
    return mapped_column(JSON, nullable=True, info={"unit": unit})


class ProjectionXRayRadiationDose(Base):
    """TID 10001 Projection X-Ray Radiation Dose; one per dose object (image or RDSR)."""

    __tablename__ = "projection_xray_radiation_dose"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_fk: Mapped[int] = mapped_column(ForeignKey("study.id", ondelete="CASCADE"), index=True)
    sop_instance_uid: Mapped[str] = mapped_column(String(64))
    source_kind: Mapped[str] = mapped_column(String(16), info={"doc": "rdsr, dx_image or mg_image"})
    procedure_reported_value: Mapped[str | None] = text_column()
    procedure_reported_scheme: Mapped[str | None] = text_column()
    procedure_reported_meaning: Mapped[str | None] = text_column()
    has_intent_value: Mapped[str | None] = text_column()
    has_intent_scheme: Mapped[str | None] = text_column()
    has_intent_meaning: Mapped[str | None] = text_column()
    acquisition_device_type_value: Mapped[str | None] = text_column()
    acquisition_device_type_scheme: Mapped[str | None] = text_column()
    acquisition_device_type_meaning: Mapped[str | None] = text_column()
    start_of_xray_irradiation: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    end_of_xray_irradiation: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    scope_of_accumulation_value: Mapped[str | None] = text_column()
    scope_of_accumulation_scheme: Mapped[str | None] = text_column()
    scope_of_accumulation_meaning: Mapped[str | None] = text_column()
    scope_uid: Mapped[str | None] = text_column()
    xray_detector_data_available_value: Mapped[str | None] = text_column()
    xray_detector_data_available_scheme: Mapped[str | None] = text_column()
    xray_detector_data_available_meaning: Mapped[str | None] = text_column()
    xray_source_data_available_value: Mapped[str | None] = text_column()
    xray_source_data_available_scheme: Mapped[str | None] = text_column()
    xray_source_data_available_meaning: Mapped[str | None] = text_column()
    xray_mechanical_data_available_value: Mapped[str | None] = text_column()
    xray_mechanical_data_available_scheme: Mapped[str | None] = text_column()
    xray_mechanical_data_available_meaning: Mapped[str | None] = text_column()
    comment: Mapped[str | None] = text_column()
    source_of_dose_information: Mapped[str | None] = text_column()
    #: TID 1004 Device Observer rows; the model name identifies systems whose header has none.
    device_observer_uid: Mapped[str | None] = text_column()
    device_observer_name: Mapped[str | None] = text_column()
    device_observer_manufacturer: Mapped[str | None] = text_column()
    device_observer_model_name: Mapped[str | None] = text_column()
    device_observer_serial_number: Mapped[str | None] = text_column()

    study: Mapped[Study] = relationship(back_populates="projection_xray_radiation_doses")
    accumulations: Mapped[list[AccumulatedXRayDose]] = relationship(
        back_populates="radiation_dose", cascade="all, delete-orphan", order_by="AccumulatedXRayDose.id"
    )
    events: Mapped[list[ProjectionIrradiationEvent]] = relationship(
        back_populates="radiation_dose", cascade="all, delete-orphan", order_by="ProjectionIrradiationEvent.id"
    )


class AccumulatedXRayDose(Base):
    """TID 10002 per acquisition plane, with the totals of TID 10004 (fluoro/acquisition) and 10007."""

    __tablename__ = "accumulated_xray_dose"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    radiation_dose_fk: Mapped[int] = mapped_column(
        ForeignKey("projection_xray_radiation_dose.id", ondelete="CASCADE"), index=True
    )
    acquisition_plane_value: Mapped[str | None] = text_column()
    acquisition_plane_scheme: Mapped[str | None] = text_column()
    acquisition_plane_meaning: Mapped[str | None] = text_column()
    fluoro_dose_area_product_total_gym2: Mapped[float | None] = measured("Gy.m2")
    fluoro_dose_rp_total_gy: Mapped[float | None] = measured("Gy")
    total_fluoro_time_s: Mapped[float | None] = measured("s")
    acquisition_dose_area_product_total_gym2: Mapped[float | None] = measured("Gy.m2")
    acquisition_dose_rp_total_gy: Mapped[float | None] = measured("Gy")
    total_acquisition_time_s: Mapped[float | None] = measured("s")
    dose_area_product_total_gym2: Mapped[float | None] = measured("Gy.m2")
    dose_rp_total_gy: Mapped[float | None] = measured("Gy")
    total_number_of_radiographic_frames: Mapped[int | None] = mapped_column(Integer, nullable=True)
    reference_point_definition: Mapped[str | None] = text_column()
    detector_type_value: Mapped[str | None] = text_column()
    detector_type_scheme: Mapped[str | None] = text_column()
    detector_type_meaning: Mapped[str | None] = text_column()

    radiation_dose: Mapped[ProjectionXRayRadiationDose] = relationship(back_populates="accumulations")
    mammography: Mapped[list[AccumulatedMammographyDose]] = relationship(
        back_populates="accumulation", cascade="all, delete-orphan", order_by="AccumulatedMammographyDose.id"
    )
    calibrations: Mapped[list[XRayCalibration]] = relationship(
        back_populates="accumulation", cascade="all, delete-orphan", order_by="XRayCalibration.id"
    )


class XRayCalibration(Base):
    """The Calibration container of TID 10002: how one plane's dose indicator was calibrated."""

    __tablename__ = "xray_calibration"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    accumulation_fk: Mapped[int] = mapped_column(ForeignKey("accumulated_xray_dose.id", ondelete="CASCADE"), index=True)
    dose_measurement_device_value: Mapped[str | None] = text_column()
    dose_measurement_device_scheme: Mapped[str | None] = text_column()
    dose_measurement_device_meaning: Mapped[str | None] = text_column()
    calibration_date: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    calibration_factor: Mapped[float | None] = measured("1")
    calibration_uncertainty_percent: Mapped[float | None] = measured("%")
    calibration_responsible_party: Mapped[str | None] = text_column()
    calibration_protocol: Mapped[str | None] = text_column()

    accumulation: Mapped[AccumulatedXRayDose] = relationship(back_populates="calibrations")


class AccumulatedMammographyDose(Base):
    """TID 10005: accumulated average glandular dose, one row per breast."""

    __tablename__ = "accumulated_mammography_dose"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    accumulation_fk: Mapped[int] = mapped_column(ForeignKey("accumulated_xray_dose.id", ondelete="CASCADE"), index=True)
    laterality_value: Mapped[str | None] = text_column()
    laterality_scheme: Mapped[str | None] = text_column()
    laterality_meaning: Mapped[str | None] = text_column()
    accumulated_average_glandular_dose_mgy: Mapped[float | None] = measured("mGy")

    accumulation: Mapped[AccumulatedXRayDose] = relationship(back_populates="mammography")


class ProjectionIrradiationEvent(Base):
    """TID 10003 Irradiation Event X-Ray Data."""

    __tablename__ = "projection_irradiation_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    radiation_dose_fk: Mapped[int] = mapped_column(
        ForeignKey("projection_xray_radiation_dose.id", ondelete="CASCADE"), index=True
    )
    acquisition_plane_value: Mapped[str | None] = text_column()
    acquisition_plane_scheme: Mapped[str | None] = text_column()
    acquisition_plane_meaning: Mapped[str | None] = text_column()
    irradiation_event_uid: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    irradiation_event_label: Mapped[str | None] = text_column()
    date_time_started: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    irradiation_event_type_value: Mapped[str | None] = text_column()
    irradiation_event_type_scheme: Mapped[str | None] = text_column()
    irradiation_event_type_meaning: Mapped[str | None] = text_column()
    acquisition_protocol: Mapped[str | None] = text_column()
    anatomical_structure_value: Mapped[str | None] = text_column()
    anatomical_structure_scheme: Mapped[str | None] = text_column()
    anatomical_structure_meaning: Mapped[str | None] = text_column()
    laterality_value: Mapped[str | None] = text_column()
    laterality_scheme: Mapped[str | None] = text_column()
    laterality_meaning: Mapped[str | None] = text_column()
    image_view_value: Mapped[str | None] = text_column()
    image_view_scheme: Mapped[str | None] = text_column()
    image_view_meaning: Mapped[str | None] = text_column()
    projection_eponymous_name_value: Mapped[str | None] = text_column()
    projection_eponymous_name_scheme: Mapped[str | None] = text_column()
    projection_eponymous_name_meaning: Mapped[str | None] = text_column()
    patient_table_relationship_value: Mapped[str | None] = text_column()
    patient_table_relationship_scheme: Mapped[str | None] = text_column()
    patient_table_relationship_meaning: Mapped[str | None] = text_column()
    patient_orientation_value: Mapped[str | None] = text_column()
    patient_orientation_scheme: Mapped[str | None] = text_column()
    patient_orientation_meaning: Mapped[str | None] = text_column()
    patient_orientation_modifier_value: Mapped[str | None] = text_column()
    patient_orientation_modifier_scheme: Mapped[str | None] = text_column()
    patient_orientation_modifier_meaning: Mapped[str | None] = text_column()
    target_region_value: Mapped[str | None] = text_column()
    target_region_scheme: Mapped[str | None] = text_column()
    target_region_meaning: Mapped[str | None] = text_column()
    dose_area_product_gym2: Mapped[float | None] = measured("Gy.m2")
    half_value_layer_mm: Mapped[float | None] = measured("mm")
    patient_equivalent_thickness_mm: Mapped[float | None] = measured("mm")
    entrance_exposure_at_rp_mgy: Mapped[float | None] = measured("mGy")
    reference_point_definition: Mapped[str | None] = text_column()
    breast_composition_value: Mapped[str | None] = text_column()
    breast_composition_scheme: Mapped[str | None] = text_column()
    breast_composition_meaning: Mapped[str | None] = text_column()
    percent_fibroglandular_tissue: Mapped[float | None] = measured("%")
    comment: Mapped[str | None] = text_column()

    radiation_dose: Mapped[ProjectionXRayRadiationDose] = relationship(back_populates="events")
    image_view_modifiers: Mapped[list[ImageViewModifier]] = relationship(
        back_populates="event", cascade="all, delete-orphan", order_by="ImageViewModifier.id"
    )
    source: Mapped[XRaySource | None] = relationship(
        back_populates="event", cascade="all, delete-orphan", uselist=False
    )
    detector: Mapped[XRayDetector | None] = relationship(
        back_populates="event", cascade="all, delete-orphan", uselist=False
    )
    mechanical: Mapped[XRayMechanical | None] = relationship(
        back_populates="event", cascade="all, delete-orphan", uselist=False
    )


class ImageViewModifier(Base):
    """Image View Modifier (111032) of a mammography event, e.g. "cleavage" or "magnification"."""

    __tablename__ = "image_view_modifier"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_fk: Mapped[int] = mapped_column(
        ForeignKey("projection_irradiation_event.id", ondelete="CASCADE"), index=True
    )
    modifier_value: Mapped[str | None] = text_column()
    modifier_scheme: Mapped[str | None] = text_column()
    modifier_meaning: Mapped[str | None] = text_column()

    event: Mapped[ProjectionIrradiationEvent] = relationship(back_populates="image_view_modifiers")


class XRaySource(Base):
    """TID 10003b Irradiation Event X-Ray Source Data."""

    __tablename__ = "xray_source"
    __table_args__ = (UniqueConstraint("event_fk"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_fk: Mapped[int] = mapped_column(ForeignKey("projection_irradiation_event.id", ondelete="CASCADE"))
    dose_rp_gy: Mapped[float | None] = measured("Gy")
    reference_point_definition: Mapped[str | None] = text_column()
    average_glandular_dose_mgy: Mapped[float | None] = measured("mGy")
    entrance_surface_dose_mgy: Mapped[float | None] = measured("mGy")
    fluoro_mode_value: Mapped[str | None] = text_column()
    fluoro_mode_scheme: Mapped[str | None] = text_column()
    fluoro_mode_meaning: Mapped[str | None] = text_column()
    pulse_rate_per_s: Mapped[float | None] = measured("{pulse}/s")
    number_of_pulses: Mapped[float | None] = measured("{pulses}")
    derivation_value: Mapped[str | None] = text_column()
    derivation_scheme: Mapped[str | None] = text_column()
    derivation_meaning: Mapped[str | None] = text_column()
    irradiation_duration_s: Mapped[float | None] = measured("s")
    kvp_kv: Mapped[float | None] = measured("kV")
    kvp_values_kv: Mapped[list[float] | None] = pulse_values("kV")
    xray_tube_current_ma: Mapped[float | None] = measured("mA")
    xray_tube_current_values_ma: Mapped[list[float] | None] = pulse_values("mA")
    average_xray_tube_current_ma: Mapped[float | None] = measured("mA")
    pulse_width_ms: Mapped[float | None] = measured("ms")
    pulse_width_values_ms: Mapped[list[float] | None] = pulse_values("ms")
    exposure_uas: Mapped[float | None] = measured("uA.s")
    exposure_values_uas: Mapped[list[float] | None] = pulse_values("uA.s")
    exposure_time_ms: Mapped[float | None] = measured("ms")
    focal_spot_size_mm: Mapped[float | None] = measured("mm")
    anode_target_material_value: Mapped[str | None] = text_column()
    anode_target_material_scheme: Mapped[str | None] = text_column()
    anode_target_material_meaning: Mapped[str | None] = text_column()
    collimated_field_area_m2: Mapped[float | None] = measured("m2")
    collimated_field_height_mm: Mapped[float | None] = measured("mm")
    collimated_field_width_mm: Mapped[float | None] = measured("mm")
    ii_field_size_mm: Mapped[float | None] = measured("mm")
    exposure_control_mode: Mapped[str | None] = text_column()
    #: Image headers only (0018,7062); the mammography export's "Exposure mode description".
    exposure_control_mode_description: Mapped[str | None] = text_column()

    event: Mapped[ProjectionIrradiationEvent] = relationship(back_populates="source")
    filters: Mapped[list[XRayFilter]] = relationship(
        back_populates="source", cascade="all, delete-orphan", order_by="XRayFilter.id"
    )
    grids: Mapped[list[XRayGrid]] = relationship(
        back_populates="source", cascade="all, delete-orphan", order_by="XRayGrid.id"
    )


class XRayFilter(Base):
    """X-Ray Filters container (113771): type, material and thickness range; several per source."""

    __tablename__ = "xray_filter"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_fk: Mapped[int] = mapped_column(ForeignKey("xray_source.id", ondelete="CASCADE"), index=True)
    filter_type_value: Mapped[str | None] = text_column()
    filter_type_scheme: Mapped[str | None] = text_column()
    filter_type_meaning: Mapped[str | None] = text_column()
    filter_material_value: Mapped[str | None] = text_column()
    filter_material_scheme: Mapped[str | None] = text_column()
    filter_material_meaning: Mapped[str | None] = text_column()
    thickness_minimum_mm: Mapped[float | None] = measured("mm")
    thickness_maximum_mm: Mapped[float | None] = measured("mm")

    source: Mapped[XRaySource] = relationship(back_populates="filters")


class XRayGrid(Base):
    """X-Ray Grid (111635, CID 10017): fixed, focused, reciprocating… several per source."""

    __tablename__ = "xray_grid"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_fk: Mapped[int] = mapped_column(ForeignKey("xray_source.id", ondelete="CASCADE"), index=True)
    grid_value: Mapped[str | None] = text_column()
    grid_scheme: Mapped[str | None] = text_column()
    grid_meaning: Mapped[str | None] = text_column()

    source: Mapped[XRaySource] = relationship(back_populates="grids")


class XRayDetector(Base):
    """TID 10003a Irradiation Event X-Ray Detector Data (exposure index, target EI, deviation index)."""

    __tablename__ = "xray_detector"
    __table_args__ = (UniqueConstraint("event_fk"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_fk: Mapped[int] = mapped_column(ForeignKey("projection_irradiation_event.id", ondelete="CASCADE"))
    exposure_index: Mapped[float | None] = measured("1")
    target_exposure_index: Mapped[float | None] = measured("1")
    deviation_index: Mapped[float | None] = measured("1")
    relative_xray_exposure: Mapped[float | None] = measured("1")
    relative_exposure_unit: Mapped[str | None] = text_column()
    sensitivity: Mapped[float | None] = measured("1")

    event: Mapped[ProjectionIrradiationEvent] = relationship(back_populates="detector")


class XRayMechanical(Base):
    """TID 10003c Irradiation Event X-Ray Mechanical Data with the dose-related distances (CID 10008)."""

    __tablename__ = "xray_mechanical"
    __table_args__ = (UniqueConstraint("event_fk"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_fk: Mapped[int] = mapped_column(ForeignKey("projection_irradiation_event.id", ondelete="CASCADE"))
    crdr_mechanical_configuration_value: Mapped[str | None] = text_column()
    crdr_mechanical_configuration_scheme: Mapped[str | None] = text_column()
    crdr_mechanical_configuration_meaning: Mapped[str | None] = text_column()
    positioner_primary_angle_deg: Mapped[float | None] = measured("deg")
    positioner_secondary_angle_deg: Mapped[float | None] = measured("deg")
    positioner_primary_end_angle_deg: Mapped[float | None] = measured("deg")
    positioner_secondary_end_angle_deg: Mapped[float | None] = measured("deg")
    column_angulation_deg: Mapped[float | None] = measured("deg")
    table_head_tilt_angle_deg: Mapped[float | None] = measured("deg")
    table_horizontal_rotation_angle_deg: Mapped[float | None] = measured("deg")
    table_cradle_tilt_angle_deg: Mapped[float | None] = measured("deg")
    compression_thickness_mm: Mapped[float | None] = measured("mm")
    compression_force_n: Mapped[float | None] = measured("N")
    magnification_factor: Mapped[float | None] = measured("1")
    distance_source_to_isocenter_mm: Mapped[float | None] = measured("mm")
    distance_source_to_reference_point_mm: Mapped[float | None] = measured("mm")
    distance_source_to_detector_mm: Mapped[float | None] = measured("mm")
    distance_source_to_patient_mm: Mapped[float | None] = measured("mm")
    distance_source_to_entrance_surface_mm: Mapped[float | None] = measured("mm")
    distance_source_to_table_plane_mm: Mapped[float | None] = measured("mm")
    table_longitudinal_position_mm: Mapped[float | None] = measured("mm")
    table_lateral_position_mm: Mapped[float | None] = measured("mm")
    table_height_position_mm: Mapped[float | None] = measured("mm")
    table_longitudinal_end_position_mm: Mapped[float | None] = measured("mm")
    table_lateral_end_position_mm: Mapped[float | None] = measured("mm")
    table_height_end_position_mm: Mapped[float | None] = measured("mm")
    radiological_thickness_mm: Mapped[float | None] = measured("mm")

    event: Mapped[ProjectionIrradiationEvent] = relationship(back_populates="mechanical")


