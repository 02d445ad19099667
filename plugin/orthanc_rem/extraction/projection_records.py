"""Typed records for projection X-ray dose: fluoroscopy, radiography and mammography.

They mirror PS3.16 TID 10001 "Projection X-Ray Radiation Dose" and the templates it includes
(TID 10002 accumulated dose per plane with TID 10004-10007, TID 10003 irradiation event with
10003a detector, 10003b source and 10003c mechanical data). DX/CR and MG *images* are turned into
the same records (one irradiation event per image), as the OpenREM data model does, so that every
reader sees one shape. Numbers carry their unit in their name and are normalised to it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from orthanc_rem.extraction.records import Code, Equipment, Patient, Study


@dataclass(frozen=True)
class XRayFilter:
    """One "X-Ray Filters" container (TID 10003b); several per event (e.g. Cu and Al)."""

    filter_type: Code | None = None
    filter_material: Code | None = None
    thickness_minimum_mm: float | None = None
    thickness_maximum_mm: float | None = None


@dataclass(frozen=True)
class XRaySource:
    """TID 10003b Irradiation Event X-Ray Source Data (and the same facts from image headers).

    Pulse-level values (one per pulse, PS3.16 allows them for kVp, tube current, pulse width and
    exposure) are kept in the ``*_values`` tuples; the single numbers are their mean without the
    zeros the manual says some systems record for pulses that did not fire, except the exposure,
    which is the total of its pulses (the event's current-time product).
    """

    dose_rp_gy: float | None = None
    reference_point_definition: str | None = None
    average_glandular_dose_mgy: float | None = None
    entrance_surface_dose_mgy: float | None = None
    fluoro_mode: Code | None = None
    pulse_rate_per_s: float | None = None
    number_of_pulses: float | None = None
    derivation: Code | None = None
    irradiation_duration_s: float | None = None
    kvp_kv: float | None = None
    kvp_values_kv: tuple[float, ...] = ()
    xray_tube_current_ma: float | None = None
    xray_tube_current_values_ma: tuple[float, ...] = ()
    average_xray_tube_current_ma: float | None = None
    pulse_width_ms: float | None = None
    pulse_width_values_ms: tuple[float, ...] = ()
    exposure_uas: float | None = None
    exposure_values_uas: tuple[float, ...] = ()
    exposure_time_ms: float | None = None
    focal_spot_size_mm: float | None = None
    anode_target_material: Code | None = None
    collimated_field_area_m2: float | None = None
    collimated_field_height_mm: float | None = None
    collimated_field_width_mm: float | None = None
    ii_field_size_mm: float | None = None
    exposure_control_mode: str | None = None
    #: Exposure Control Mode Description (0018,7062): GE Senographe's AOP mode and pre-exposure figures.
    exposure_control_mode_description: str | None = None
    grid: tuple[Code, ...] = ()
    filters: tuple[XRayFilter, ...] = ()


@dataclass(frozen=True)
class XRayDetector:
    """TID 10003a Irradiation Event X-Ray Detector Data (exposure index family, IEC 62494-1)."""

    exposure_index: float | None = None
    target_exposure_index: float | None = None
    deviation_index: float | None = None
    relative_xray_exposure: float | None = None
    relative_exposure_unit: str | None = None
    sensitivity: float | None = None


@dataclass(frozen=True)
class XRayMechanical:
    """TID 10003c Irradiation Event X-Ray Mechanical Data with the dose-related distances (CID 10008)."""

    crdr_mechanical_configuration: Code | None = None
    positioner_primary_angle_deg: float | None = None
    positioner_secondary_angle_deg: float | None = None
    positioner_primary_end_angle_deg: float | None = None
    positioner_secondary_end_angle_deg: float | None = None
    column_angulation_deg: float | None = None
    table_head_tilt_angle_deg: float | None = None
    table_horizontal_rotation_angle_deg: float | None = None
    table_cradle_tilt_angle_deg: float | None = None
    compression_thickness_mm: float | None = None
    compression_force_n: float | None = None
    magnification_factor: float | None = None
    distance_source_to_isocenter_mm: float | None = None
    distance_source_to_reference_point_mm: float | None = None
    distance_source_to_detector_mm: float | None = None
    #: Distance Source to Patient (0018,1111) of image headers (manual #242): source to the
    #: table/bucky side nearest the patient for DX (PS3.3 C.8.11.5), not a TID 10003c concept.
    distance_source_to_patient_mm: float | None = None
    distance_source_to_entrance_surface_mm: float | None = None
    distance_source_to_table_plane_mm: float | None = None
    table_longitudinal_position_mm: float | None = None
    table_lateral_position_mm: float | None = None
    table_height_position_mm: float | None = None
    table_longitudinal_end_position_mm: float | None = None
    table_lateral_end_position_mm: float | None = None
    table_height_end_position_mm: float | None = None
    radiological_thickness_mm: float | None = None


@dataclass(frozen=True)
class ProjectionIrradiationEvent:
    """TID 10003 Irradiation Event X-Ray Data: one exposure, fluoro run or mammography view."""

    acquisition_plane: Code | None = None
    irradiation_event_uid: str | None = None
    irradiation_event_label: str | None = None
    date_time_started: dt.datetime | None = None
    irradiation_event_type: Code | None = None
    acquisition_protocol: str | None = None
    anatomical_structure: Code | None = None
    laterality: Code | None = None
    image_view: Code | None = None
    image_view_modifiers: tuple[Code, ...] = ()
    projection_eponymous_name: Code | None = None
    patient_table_relationship: Code | None = None
    patient_orientation: Code | None = None
    patient_orientation_modifier: Code | None = None
    target_region: Code | None = None
    dose_area_product_gym2: float | None = None
    half_value_layer_mm: float | None = None
    patient_equivalent_thickness_mm: float | None = None
    entrance_exposure_at_rp_mgy: float | None = None
    reference_point_definition: str | None = None
    breast_composition: Code | None = None
    percent_fibroglandular_tissue: float | None = None
    comment: str | None = None
    source: XRaySource | None = None
    detector: XRayDetector | None = None
    mechanical: XRayMechanical | None = None


@dataclass(frozen=True)
class MammographyAccumulatedDose:
    """TID 10005: accumulated average glandular dose of one breast."""

    laterality: Code | None
    accumulated_average_glandular_dose_mgy: float | None


@dataclass(frozen=True)
class XRayCalibration:
    """The "Calibration" container of TID 10002: how the dose indicator of one plane was calibrated."""

    dose_measurement_device: Code | None = None
    calibration_date: dt.datetime | None = None
    calibration_factor: float | None = None
    calibration_uncertainty_percent: float | None = None
    calibration_responsible_party: str | None = None
    calibration_protocol: str | None = None


@dataclass(frozen=True)
class AccumulatedXRayDose:
    """TID 10002 Accumulated X-Ray Dose for one acquisition plane, with what TID 10004-10007 add.

    Fluoroscopy and acquisition totals (TID 10004) are kept apart, as the manual's fluoroscopy
    detail page shows them; radiography totals are TID 10007; mammography keeps one AGD per breast.
    """

    acquisition_plane: Code | None = None
    fluoro_dose_area_product_total_gym2: float | None = None
    fluoro_dose_rp_total_gy: float | None = None
    total_fluoro_time_s: float | None = None
    acquisition_dose_area_product_total_gym2: float | None = None
    acquisition_dose_rp_total_gy: float | None = None
    total_acquisition_time_s: float | None = None
    dose_area_product_total_gym2: float | None = None
    dose_rp_total_gy: float | None = None
    total_number_of_radiographic_frames: int | None = None
    reference_point_definition: str | None = None
    mammography: tuple[MammographyAccumulatedDose, ...] = ()
    detector_type: Code | None = None  # TID 10006 cassette-based systems
    calibrations: tuple[XRayCalibration, ...] = ()


@dataclass(frozen=True)
class ProjectionXRayRadiationDose:
    """TID 10001 Projection X-Ray Radiation Dose: the root of a fluoroscopy/radiography/mammography report."""

    procedure_reported: Code | None = None
    has_intent: Code | None = None
    acquisition_device_type: Code | None = None
    start_of_xray_irradiation: dt.datetime | None = None
    end_of_xray_irradiation: dt.datetime | None = None
    scope_of_accumulation: Code | None = None
    scope_uid: str | None = None
    xray_detector_data_available: Code | None = None
    xray_source_data_available: Code | None = None
    xray_mechanical_data_available: Code | None = None
    comment: str | None = None
    sources_of_dose_information: tuple[Code, ...] = ()
    #: TID 1004 rows (``tid1004``): the system as the report's observer context names it.
    device_observer_uid: str | None = None
    device_observer_name: str | None = None
    device_observer_manufacturer: str | None = None
    device_observer_model_name: str | None = None
    device_observer_serial_number: str | None = None
    accumulations: tuple[AccumulatedXRayDose, ...] = ()
    events: tuple[ProjectionIrradiationEvent, ...] = ()


@dataclass(frozen=True)
class ProjectionDoseReport:
    """Everything one projection X-ray dose object tells us (RDSR, or a DX/CR/MG image header).

    ``modality`` is what the content says (RF, DX or MG); a user-defined modality on the
    equipment may override it when the study is stored.
    """

    sop_instance_uid: str
    sop_class_uid: str
    study: Study
    patient: Patient
    equipment: Equipment
    dose: ProjectionXRayRadiationDose
    modality: str
    source_kind: str = "rdsr"  # rdsr | dx_image | mg_image
    warnings: tuple[str, ...] = field(default=())
