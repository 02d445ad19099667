"""Typed records that extraction produces and persistence stores.

The records mirror DICOM: the header modules of PS3.3 (study, patient, equipment) and the
CT Radiation Dose template tree of PS3.16 (TID 10011 and the templates it includes).
Numbers that carry a unit have it in their name and are already normalised to that unit,
whatever UCUM unit the report used, so that readers never have to guess.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Code:
    """A coded concept as DICOM sends it: value, coding scheme designator, meaning."""

    value: str
    scheme: str | None
    meaning: str | None

    def __str__(self) -> str:
        return self.meaning or self.value


@dataclass(frozen=True)
class Equipment:
    """General Equipment Module (PS3.3 C.7.5.1).

    The eight identifying fields are the ones the OpenREM manual calls "unique equipment":
    a software upgrade makes a new row, on purpose.
    """

    manufacturer: str | None = None
    institution_name: str | None = None
    station_name: str | None = None
    institutional_department_name: str | None = None
    manufacturer_model_name: str | None = None
    device_serial_number: str | None = None
    software_versions: str | None = None
    gantry_id: str | None = None
    institution_address: str | None = None


@dataclass(frozen=True)
class Patient:
    """Patient and Patient Study modules.

    Name and ID are carried only as far as persistence, which applies the not-patient indicators
    and the patient identifiable data settings (store, hash or drop) before anything is written.
    """

    name: str | None = None
    patient_id: str | None = None
    sex: str | None = None
    birth_date: dt.date | None = None
    age_string: str | None = None
    age_years: float | None = None
    size_m: float | None = None
    weight_kg: float | None = None


@dataclass(frozen=True)
class Study:
    """General Study Module (PS3.3 C.7.2.1) plus the study-level SR header fields."""

    study_instance_uid: str
    study_date: dt.date | None = None
    study_time: dt.time | None = None
    accession_number: str | None = None
    study_id: str | None = None
    study_description: str | None = None
    referring_physician_name: str | None = None
    performing_physician_name: str | None = None
    operator_name: str | None = None
    requested_procedure_description: str | None = None
    procedure_code: Code | None = None
    requested_procedure_code: Code | None = None
    series_instance_uid: str | None = None
    series_description: str | None = None
    series_time: dt.time | None = None
    content_date_time: dt.datetime | None = None


@dataclass(frozen=True)
class ScanningLength:
    """TID 10014 Scanning Length; all lengths in mm."""

    scanning_length_mm: float | None = None
    length_of_reconstructable_volume_mm: float | None = None
    exposed_range_mm: float | None = None
    top_z_location_of_reconstructable_volume_mm: float | None = None
    bottom_z_location_of_reconstructable_volume_mm: float | None = None
    top_z_location_of_scanning_length_mm: float | None = None
    bottom_z_location_of_scanning_length_mm: float | None = None
    frame_of_reference_uid: str | None = None


@dataclass(frozen=True)
class CtXRaySource:
    """One "CT X-Ray Source Parameters" container (TID 10013); two of them on dual-source CT."""

    identification: str | None = None
    kvp_kv: float | None = None
    maximum_xray_tube_current_ma: float | None = None
    xray_tube_current_ma: float | None = None
    exposure_time_per_rotation_s: float | None = None
    xray_filter_aluminum_equivalent_mm: float | None = None


@dataclass(frozen=True)
class CtDoseCheck:
    """TID 10015 CT Dose Check Details (NEMA XR 25 alerts and notifications)."""

    dlp_alert_value_configured: bool | None = None
    ctdivol_alert_value_configured: bool | None = None
    dlp_alert_value_mgycm: float | None = None
    ctdivol_alert_value_mgy: float | None = None
    accumulated_dlp_forward_estimate_mgycm: float | None = None
    accumulated_ctdivol_forward_estimate_mgy: float | None = None
    alert_reason_for_proceeding: str | None = None
    alert_person_name: str | None = None
    dlp_notification_value_configured: bool | None = None
    ctdivol_notification_value_configured: bool | None = None
    dlp_notification_value_mgycm: float | None = None
    ctdivol_notification_value_mgy: float | None = None
    dlp_forward_estimate_mgycm: float | None = None
    ctdivol_forward_estimate_mgy: float | None = None
    notification_reason_for_proceeding: str | None = None
    notification_person_name: str | None = None


@dataclass(frozen=True)
class CtIrradiationEvent:
    """TID 10013 CT Irradiation Event Data: one acquisition."""

    irradiation_event_uid: str | None = None
    acquisition_protocol: str | None = None
    target_region: Code | None = None
    ct_acquisition_type: Code | None = None
    procedure_context: Code | None = None
    irradiation_event_label: str | None = None
    date_time_started: dt.datetime | None = None
    exposure_time_s: float | None = None
    scanning_length: ScanningLength | None = None
    nominal_single_collimation_width_mm: float | None = None
    nominal_total_collimation_width_mm: float | None = None
    pitch_factor: float | None = None
    number_of_xray_sources: int | None = None
    mean_ctdivol_mgy: float | None = None
    ctdiw_phantom_type: Code | None = None
    ctdifreeair_calculation_factor: float | None = None
    mean_ctdifreeair_mgy: float | None = None
    dlp_mgycm: float | None = None
    effective_dose_msv: float | None = None
    effective_dose_conversion_factor: float | None = None
    xray_modulation_type: str | None = None
    comment: str | None = None
    sources: tuple[CtXRaySource, ...] = ()
    dose_check: CtDoseCheck | None = None


@dataclass(frozen=True)
class CtAccumulatedDose:
    """TID 10012 CT Accumulated Dose Data."""

    total_number_of_irradiation_events: int | None = None
    dlp_total_mgycm: float | None = None
    effective_dose_total_msv: float | None = None
    reference_authority: str | None = None
    measurement_method: str | None = None
    comment: str | None = None


@dataclass(frozen=True)
class CtRadiationDose:
    """TID 10011 CT Radiation Dose: the root of a CT dose report."""

    procedure_reported: Code | None = None
    has_intent: Code | None = None
    start_of_xray_irradiation: dt.datetime | None = None
    end_of_xray_irradiation: dt.datetime | None = None
    scope_of_accumulation: Code | None = None
    scope_uid: str | None = None
    comment: str | None = None
    sources_of_dose_information: tuple[Code, ...] = ()
    accumulated: CtAccumulatedDose | None = None
    events: tuple[CtIrradiationEvent, ...] = ()


@dataclass(frozen=True)
class CtDoseReport:
    """Everything one CT dose object tells us: headers plus the TID 10011 tree."""

    sop_instance_uid: str
    sop_class_uid: str
    study: Study
    patient: Patient
    equipment: Equipment
    dose: CtRadiationDose
    modality: str = "CT"
    warnings: tuple[str, ...] = field(default=())


class NotADoseReport(Exception):
    """The object is valid DICOM but carries no dose report we import (recorded, not an error)."""


class ExtractionError(Exception):
    """The object claims to be a dose report but its content cannot be read."""
