"""PS3.16 TID 10011 "CT Radiation Dose" and the templates it includes.

One function per concept: TID 10011 (``read_ct_radiation_dose``), TID 10012 CT Accumulated Dose Data,
TID 10013 CT Irradiation Event Data (``read_ct_acquisition`` and its containers), TID 10014 Scanning
Length and TID 10015 CT Dose Check Details. Concept codes are those of PS3.16 (checked against the
DICOM code dictionary shipped with pydicom); SNOMED concepts are written in their current SCT form and
also match the SRT form older scanners send (see ``sr.SRT_TO_SCT``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, fields, replace
from typing import Any

from orthanc_rem.extraction import sr
from orthanc_rem.extraction.records import (
    Code,
    CtAccumulatedDose,
    CtDoseCheck,
    CtIrradiationEvent,
    CtRadiationDose,
    CtXRaySource,
    ExtractionError,
    ScanningLength,
)
from orthanc_rem.extraction.sr import ContentItem, child_num, child_value, first_child, read_item

# TID 10011 CT Radiation Dose
X_RAY_RADIATION_DOSE_REPORT = Code("113701", "DCM", "X-Ray Radiation Dose Report")
PROCEDURE_REPORTED = Code("121058", "DCM", "Procedure reported")
HAS_INTENT = Code("363703001", "SCT", "Has Intent")
START_OF_XRAY_IRRADIATION = Code("113809", "DCM", "Start of X-Ray Irradiation")
END_OF_XRAY_IRRADIATION = Code("113810", "DCM", "End of X-Ray Irradiation")
SCOPE_OF_ACCUMULATION = Code("113705", "DCM", "Scope of Accumulation")
COMMENT = Code("121106", "DCM", "Comment")
SOURCE_OF_DOSE_INFORMATION = Code("113854", "DCM", "Source of Dose Information")
# TID 10012 CT Accumulated Dose Data
CT_ACCUMULATED_DOSE_DATA = Code("113811", "DCM", "CT Accumulated Dose Data")
TOTAL_NUMBER_OF_IRRADIATION_EVENTS = Code("113812", "DCM", "Total Number of Irradiation Events")
CT_DOSE_LENGTH_PRODUCT_TOTAL = Code("113813", "DCM", "CT Dose Length Product Total")
CT_EFFECTIVE_DOSE_TOTAL = Code("113814", "DCM", "CT Effective Dose Total")
REFERENCE_AUTHORITY = Code("121406", "DCM", "Reference Authority")
MEASUREMENT_METHOD = Code("370129005", "SCT", "Measurement Method")
# TID 10013 CT Irradiation Event Data
CT_ACQUISITION = Code("113819", "DCM", "CT Acquisition")
ACQUISITION_PROTOCOL = Code("125203", "DCM", "Acquisition Protocol")
TARGET_REGION = Code("123014", "DCM", "Target Region")
CT_ACQUISITION_TYPE = Code("113820", "DCM", "CT Acquisition Type")
PROCEDURE_CONTEXT = Code("408730004", "SCT", "Procedure Context")
IRRADIATION_EVENT_UID = Code("113769", "DCM", "Irradiation Event UID")
IRRADIATION_EVENT_LABEL = Code("113605", "DCM", "Irradiation Event Label")
DATETIME_STARTED = Code("111526", "DCM", "DateTime Started")
CT_ACQUISITION_PARAMETERS = Code("113822", "DCM", "CT Acquisition Parameters")
EXPOSURE_TIME = Code("113824", "DCM", "Exposure Time")
NOMINAL_SINGLE_COLLIMATION_WIDTH = Code("113826", "DCM", "Nominal Single Collimation Width")
NOMINAL_TOTAL_COLLIMATION_WIDTH = Code("113827", "DCM", "Nominal Total Collimation Width")
PITCH_FACTOR = Code("113828", "DCM", "Pitch Factor")
NUMBER_OF_XRAY_SOURCES = Code("113823", "DCM", "Number of X-Ray Sources")
CT_XRAY_SOURCE_PARAMETERS = Code("113831", "DCM", "CT X-Ray Source Parameters")
IDENTIFICATION_OF_THE_XRAY_SOURCE = Code("113832", "DCM", "Identification of the X-Ray Source")
KVP = Code("113733", "DCM", "KVP")
MAXIMUM_XRAY_TUBE_CURRENT = Code("113833", "DCM", "Maximum X-Ray Tube Current")
XRAY_TUBE_CURRENT = Code("113734", "DCM", "X-Ray Tube Current")
EXPOSURE_TIME_PER_ROTATION = Code("113834", "DCM", "Exposure Time per Rotation")
XRAY_FILTER_ALUMINUM_EQUIVALENT = Code("113821", "DCM", "X-Ray Filter Aluminum Equivalent")
CT_DOSE = Code("113829", "DCM", "CT Dose")
MEAN_CTDIVOL = Code("113830", "DCM", "Mean CTDIvol")
CTDIW_PHANTOM_TYPE = Code("113835", "DCM", "CTDIw Phantom Type")
CTDIFREEAIR_CALCULATION_FACTOR = Code("113836", "DCM", "CTDIfreeair Calculation Factor")
MEAN_CTDIFREEAIR = Code("113837", "DCM", "Mean CTDIfreeair")
DLP = Code("113838", "DCM", "DLP")
EFFECTIVE_DOSE = Code("113839", "DCM", "Effective Dose")
EFFECTIVE_DOSE_CONVERSION_FACTOR = Code("113840", "DCM", "Effective Dose Conversion Factor")
XRAY_MODULATION_TYPE = Code("113842", "DCM", "X-Ray Modulation Type")
CONSTANT_ANGLE_ACQUISITION = Code("113805", "DCM", "Constant Angle Acquisition")
# TID 10014 Scanning Length
SCANNING_LENGTH = Code("113825", "DCM", "Scanning Length")
LENGTH_OF_RECONSTRUCTABLE_VOLUME = Code("113893", "DCM", "Length of Reconstructable Volume")
EXPOSED_RANGE = Code("113899", "DCM", "Exposed Range")
TOP_Z_LOCATION_OF_RECONSTRUCTABLE_VOLUME = Code("113895", "DCM", "Top Z Location of Reconstructable Volume")
BOTTOM_Z_LOCATION_OF_RECONSTRUCTABLE_VOLUME = Code(
    "113896", "DCM", "Bottom Z Location of Reconstructable Volume"
)
TOP_Z_LOCATION_OF_SCANNING_LENGTH = Code("113897", "DCM", "Top Z Location of Scanning Length")
BOTTOM_Z_LOCATION_OF_SCANNING_LENGTH = Code("113898", "DCM", "Bottom Z Location of Scanning Length")
FRAME_OF_REFERENCE_UID = Code("112227", "DCM", "Frame of Reference UID")
# TID 10015 CT Dose Check Details
DOSE_CHECK_ALERT_DETAILS = Code("113900", "DCM", "Dose Check Alert Details")
DLP_ALERT_VALUE_CONFIGURED = Code("113901", "DCM", "DLP Alert Value Configured")
CTDIVOL_ALERT_VALUE_CONFIGURED = Code("113902", "DCM", "CTDIvol Alert Value Configured")
DLP_ALERT_VALUE = Code("113903", "DCM", "DLP Alert Value")
CTDIVOL_ALERT_VALUE = Code("113904", "DCM", "CTDIvol Alert Value")
ACCUMULATED_DLP_FORWARD_ESTIMATE = Code("113905", "DCM", "Accumulated DLP Forward Estimate")
ACCUMULATED_CTDIVOL_FORWARD_ESTIMATE = Code("113906", "DCM", "Accumulated CTDIvol Forward Estimate")
REASON_FOR_PROCEEDING = Code("113907", "DCM", "Reason for Proceeding")
PERSON_NAME = Code("113870", "DCM", "Person Name")
DOSE_CHECK_NOTIFICATION_DETAILS = Code("113908", "DCM", "Dose Check Notification Details")
DLP_NOTIFICATION_VALUE_CONFIGURED = Code("113909", "DCM", "DLP Notification Value Configured")
CTDIVOL_NOTIFICATION_VALUE_CONFIGURED = Code("113910", "DCM", "CTDIvol Notification Value Configured")
DLP_NOTIFICATION_VALUE = Code("113911", "DCM", "DLP Notification Value")
CTDIVOL_NOTIFICATION_VALUE = Code("113912", "DCM", "CTDIvol Notification Value")
DLP_FORWARD_ESTIMATE = Code("113913", "DCM", "DLP Forward Estimate")
CTDIVOL_FORWARD_ESTIMATE = Code("113914", "DCM", "CTDIvol Forward Estimate")
YES = Code("373066001", "SCT", "Yes")
NO = Code("373067005", "SCT", "No")


def read_ct_radiation_dose(root: ContentItem, warnings: list[str]) -> CtRadiationDose:
    """TID 10011 from the document root. The order of the root's children is not relied upon:
    PixelMed-converted GE and Toshiba reports put Scope of Accumulation after the acquisitions."""
    procedure = first_child(root, PROCEDURE_REPORTED, warnings)
    scope = first_child(root, SCOPE_OF_ACCUMULATION, warnings)
    accumulated_item = first_child(root, CT_ACCUMULATED_DOSE_DATA, warnings)
    accumulated = None
    if accumulated_item is not None:
        with sr.within("CT Accumulated Dose Data"):
            accumulated = read_ct_accumulated_dose_data(accumulated_item, warnings)
    else:
        warnings.append("no CT Accumulated Dose Data (TID 10012, mandatory)")
    events = []
    for number, item in enumerate(sr.children(root, CT_ACQUISITION), start=1):
        event_warnings: list[str] = []
        with sr.within(f"CT Acquisition #{number}"):
            events.append(read_ct_acquisition(item, event_warnings))
        warnings.extend(f"CT Acquisition #{number}: {w}" for w in event_warnings)
    if not events and accumulated is None:
        raise ExtractionError("CT Radiation Dose has neither CT Acquisition nor CT Accumulated Dose Data")
    total = accumulated.total_number_of_irradiation_events if accumulated else None
    if total is not None and total != len(events):
        warnings.append(
            f"Total Number of Irradiation Events is {total} but {len(events)} CT Acquisitions are present"
        )
    return CtRadiationDose(
        procedure_reported=read_item(procedure, sr.code, warnings) if procedure is not None else None,
        has_intent=child_value(procedure, HAS_INTENT, sr.code, warnings) if procedure is not None else None,
        start_of_xray_irradiation=_datetime(root, START_OF_XRAY_IRRADIATION, warnings),
        end_of_xray_irradiation=_datetime(root, END_OF_XRAY_IRRADIATION, warnings),
        scope_of_accumulation=read_item(scope, sr.code, warnings) if scope is not None else None,
        scope_uid=_scope_uid(scope),
        comment=child_value(root, COMMENT, sr.text, warnings),
        sources_of_dose_information=tuple(
            c
            for c in (read_item(i, sr.code, warnings) for i in sr.children(root, SOURCE_OF_DOSE_INFORMATION))
            if c is not None
        ),
        accumulated=accumulated,
        events=tuple(events),
    )


def read_ct_accumulated_dose_data(container: ContentItem, warnings: list[str]) -> CtAccumulatedDose:
    """TID 10012. Reference Authority and Measurement Method qualify the CT Effective Dose Total.

    The DLP total is required (M); the effective dose total is optional (U): a malformed one is a
    warning, not a rejected report."""
    effective_dose = first_child(container, CT_EFFECTIVE_DOSE_TOTAL, warnings)
    return CtAccumulatedDose(
        total_number_of_irradiation_events=child_value(
            container, TOTAL_NUMBER_OF_IRRADIATION_EVENTS, sr.count, warnings
        ),
        dlp_total_mgycm=child_num(container, CT_DOSE_LENGTH_PRODUCT_TOTAL, "mGy.cm", warnings),
        effective_dose_total_msv=_effective_dose(effective_dose, warnings),
        reference_authority=_qualifier(effective_dose, container, REFERENCE_AUTHORITY, warnings),
        measurement_method=_qualifier(effective_dose, container, MEASUREMENT_METHOD, warnings),
        comment=child_value(container, COMMENT, sr.text, warnings),
    )


def read_ct_acquisition(container: ContentItem, warnings: list[str]) -> CtIrradiationEvent:
    """TID 10013 CT Irradiation Event Data: one "CT Acquisition" container.

    An acquisition without any content item is a broken report (Irradiation Event UID, Target Region,
    CT Acquisition Type and the parameters are mandatory); the other mandatory items, when missing,
    are warnings so that the dose that *is* reported still reaches the database.
    """
    if not container.get("ContentSequence"):
        raise ExtractionError("CT Acquisition has no content items")
    uid = child_value(container, IRRADIATION_EVENT_UID, sr.uid, warnings)
    if uid is None:
        warnings.append("no Irradiation Event UID")
    acquisition_type = child_value(container, CT_ACQUISITION_TYPE, sr.code, warnings)
    target_region = child_value(container, TARGET_REGION, sr.code, warnings)
    if target_region is None:
        warnings.append("Target Region is missing or has no code")  # GE LightSpeed via PixelMed: empty code
    parameters_item = first_child(container, CT_ACQUISITION_PARAMETERS, warnings)
    parameters = CtAcquisitionParameters()
    if parameters_item is not None:
        with sr.within("CT Acquisition Parameters"):
            parameters = read_ct_acquisition_parameters(parameters_item, warnings)
    else:
        warnings.append("no CT Acquisition Parameters")
    dose_item = first_child(container, CT_DOSE, warnings)
    dose = CtDose()
    if dose_item is not None:
        with sr.within("CT Dose"):
            dose = read_ct_dose(dose_item, warnings)
    elif not sr.same_concept(acquisition_type, CONSTANT_ANGLE_ACQUISITION):
        warnings.append("no CT Dose although the acquisition is not a constant angle (localizer) one")
    if dose.dose_check is None and sr.children(container, DOSE_CHECK_ALERT_DETAILS):
        warnings.append("Dose Check Details found beside, not inside, CT Dose")
        dose = replace(dose, dose_check=read_ct_dose_check_details(container, warnings))
    return CtIrradiationEvent(
        irradiation_event_uid=uid,
        acquisition_protocol=child_value(container, ACQUISITION_PROTOCOL, sr.text, warnings),
        target_region=target_region,
        ct_acquisition_type=acquisition_type,
        procedure_context=child_value(container, PROCEDURE_CONTEXT, sr.code, warnings),
        irradiation_event_label=child_value(container, IRRADIATION_EVENT_LABEL, _display, warnings),
        date_time_started=_datetime(container, DATETIME_STARTED, warnings),
        xray_modulation_type=_xray_modulation_type(container, parameters_item, warnings),
        comment=child_value(container, COMMENT, sr.text, warnings),
        **_shallow(parameters),
        **_shallow(dose),
    )


@dataclass(frozen=True)
class CtAcquisitionParameters:
    """The "CT Acquisition Parameters" container of TID 10013, flattened into the event record."""

    exposure_time_s: float | None = None
    scanning_length: ScanningLength | None = None
    nominal_single_collimation_width_mm: float | None = None
    nominal_total_collimation_width_mm: float | None = None
    pitch_factor: float | None = None
    number_of_xray_sources: int | None = None
    sources: tuple[CtXRaySource, ...] = field(default=())


@dataclass(frozen=True)
class CtDose:
    """The "CT Dose" container of TID 10013, flattened into the event record."""

    mean_ctdivol_mgy: float | None = None
    ctdiw_phantom_type: Code | None = None
    ctdifreeair_calculation_factor: float | None = None
    mean_ctdifreeair_mgy: float | None = None
    dlp_mgycm: float | None = None
    effective_dose_msv: float | None = None
    effective_dose_conversion_factor: float | None = None
    dose_check: CtDoseCheck | None = None


def read_ct_acquisition_parameters(container: ContentItem, warnings: list[str]) -> CtAcquisitionParameters:
    """Technique factors are read leniently (unknown unit -> warning); TID 10014 is included here."""
    sources = []
    for number, item in enumerate(sr.children(container, CT_XRAY_SOURCE_PARAMETERS), start=1):
        with sr.within(f"CT X-Ray Source Parameters #{number}"):
            sources.append(read_ct_xray_source_parameters(item, warnings))
    number_of_sources = child_value(container, NUMBER_OF_XRAY_SOURCES, sr.count, warnings)
    if number_of_sources is not None and number_of_sources != len(sources):
        warnings.append(
            f"Number of X-Ray Sources is {number_of_sources} but {len(sources)} source containers are present"
        )
    return CtAcquisitionParameters(
        exposure_time_s=_technique(container, EXPOSURE_TIME, "s", warnings),
        scanning_length=read_scanning_length(container, warnings),
        nominal_single_collimation_width_mm=_technique(
            container, NOMINAL_SINGLE_COLLIMATION_WIDTH, "mm", warnings
        ),
        nominal_total_collimation_width_mm=_technique(
            container, NOMINAL_TOTAL_COLLIMATION_WIDTH, "mm", warnings
        ),
        pitch_factor=_technique(container, PITCH_FACTOR, "{ratio}", warnings),
        number_of_xray_sources=number_of_sources,
        sources=tuple(sources),
    )


def read_ct_xray_source_parameters(container: ContentItem, warnings: list[str]) -> CtXRaySource:
    """One "CT X-Ray Source Parameters" container; dual-source scanners (Siemens Definition Flash)
    send two per acquisition, identified "A" and "B"."""
    return CtXRaySource(
        identification=child_value(container, IDENTIFICATION_OF_THE_XRAY_SOURCE, _display, warnings),
        kvp_kv=_technique(container, KVP, "kV", warnings),
        maximum_xray_tube_current_ma=_technique(container, MAXIMUM_XRAY_TUBE_CURRENT, "mA", warnings),
        xray_tube_current_ma=_technique(container, XRAY_TUBE_CURRENT, "mA", warnings),
        exposure_time_per_rotation_s=_technique(container, EXPOSURE_TIME_PER_ROTATION, "s", warnings),
        xray_filter_aluminum_equivalent_mm=_technique(
            container, XRAY_FILTER_ALUMINUM_EQUIVALENT, "mm", warnings
        ),
    )


#: TID 10014 rows that are lengths or z positions, by record field (all NUM in mm).
_SCANNING_LENGTH_MM = {
    "scanning_length_mm": SCANNING_LENGTH,
    "length_of_reconstructable_volume_mm": LENGTH_OF_RECONSTRUCTABLE_VOLUME,
    "exposed_range_mm": EXPOSED_RANGE,
    "top_z_location_of_reconstructable_volume_mm": TOP_Z_LOCATION_OF_RECONSTRUCTABLE_VOLUME,
    "bottom_z_location_of_reconstructable_volume_mm": BOTTOM_Z_LOCATION_OF_RECONSTRUCTABLE_VOLUME,
    "top_z_location_of_scanning_length_mm": TOP_Z_LOCATION_OF_SCANNING_LENGTH,
    "bottom_z_location_of_scanning_length_mm": BOTTOM_Z_LOCATION_OF_SCANNING_LENGTH,
}


def read_scanning_length(container: ContentItem, warnings: list[str]) -> ScanningLength | None:
    """TID 10014, included in CT Acquisition Parameters; None when the report has none of its items."""
    length = ScanningLength(
        **{
            name: _technique(container, concept, "mm", warnings)
            for name, concept in _SCANNING_LENGTH_MM.items()
        },
        frame_of_reference_uid=child_value(container, FRAME_OF_REFERENCE_UID, sr.uid, warnings),
    )
    return length if length != ScanningLength() else None


def read_ct_dose(container: ContentItem, warnings: list[str]) -> CtDose:
    """The "CT Dose" container. Mean CTDIvol and DLP are required (M in TID 10013): one of the wrong
    value type or in a unit we do not know rejects the report rather than storing a wrong number.
    CTDIfreeair, effective dose and the dose check are optional (U/MC): malformed, they are warnings."""
    effective_dose = first_child(container, EFFECTIVE_DOSE, warnings)
    conversion_factor = None
    for parent in (effective_dose, container):  # PS3.16 nests it under Effective Dose; some put it beside
        if parent is not None and conversion_factor is None:
            conversion_factor = child_num(
                parent, EFFECTIVE_DOSE_CONVERSION_FACTOR, "mSv/(mGy.cm)", warnings, required=False
            )
    dose_check = None
    if sr.children(container, DOSE_CHECK_ALERT_DETAILS) or sr.children(
        container, DOSE_CHECK_NOTIFICATION_DETAILS
    ):
        dose_check = read_ct_dose_check_details(container, warnings)
    return CtDose(
        mean_ctdivol_mgy=child_num(container, MEAN_CTDIVOL, "mGy", warnings),
        ctdiw_phantom_type=child_value(container, CTDIW_PHANTOM_TYPE, sr.code, warnings),
        ctdifreeair_calculation_factor=child_num(
            container, CTDIFREEAIR_CALCULATION_FACTOR, "mGy/(mA.s)", warnings, required=False
        ),
        mean_ctdifreeair_mgy=child_num(container, MEAN_CTDIFREEAIR, "mGy", warnings, required=False),
        dlp_mgycm=child_num(container, DLP, "mGy.cm", warnings),
        effective_dose_msv=_effective_dose(effective_dose, warnings),
        effective_dose_conversion_factor=conversion_factor,
        dose_check=dose_check,
    )


#: TID 10015 rows by record field: (concept, unit), unit None for the Yes/No "configured" codes.
_DOSE_CHECK_ALERT: dict[str, tuple[Code, str | None]] = {
    "dlp_alert_value_configured": (DLP_ALERT_VALUE_CONFIGURED, None),
    "ctdivol_alert_value_configured": (CTDIVOL_ALERT_VALUE_CONFIGURED, None),
    "dlp_alert_value_mgycm": (DLP_ALERT_VALUE, "mGy.cm"),
    "ctdivol_alert_value_mgy": (CTDIVOL_ALERT_VALUE, "mGy"),
    "accumulated_dlp_forward_estimate_mgycm": (ACCUMULATED_DLP_FORWARD_ESTIMATE, "mGy.cm"),
    "accumulated_ctdivol_forward_estimate_mgy": (ACCUMULATED_CTDIVOL_FORWARD_ESTIMATE, "mGy"),
}
_DOSE_CHECK_NOTIFICATION: dict[str, tuple[Code, str | None]] = {
    "dlp_notification_value_configured": (DLP_NOTIFICATION_VALUE_CONFIGURED, None),
    "ctdivol_notification_value_configured": (CTDIVOL_NOTIFICATION_VALUE_CONFIGURED, None),
    "dlp_notification_value_mgycm": (DLP_NOTIFICATION_VALUE, "mGy.cm"),
    "ctdivol_notification_value_mgy": (CTDIVOL_NOTIFICATION_VALUE, "mGy"),
    "dlp_forward_estimate_mgycm": (DLP_FORWARD_ESTIMATE, "mGy.cm"),
    "ctdivol_forward_estimate_mgy": (CTDIVOL_FORWARD_ESTIMATE, "mGy"),
}


def read_ct_dose_check_details(parent: ContentItem, warnings: list[str]) -> CtDoseCheck:
    """TID 10015 (NEMA XR 25 Dose Check): the alert and notification containers inside CT Dose.
    Each container also carries a Reason for Proceeding and the person who proceeded (TID 1020)."""
    values: dict[str, Any] = {}
    for prefix, concept, rows in (
        ("alert", DOSE_CHECK_ALERT_DETAILS, _DOSE_CHECK_ALERT),
        ("notification", DOSE_CHECK_NOTIFICATION_DETAILS, _DOSE_CHECK_NOTIFICATION),
    ):
        container = first_child(parent, concept, warnings)
        if container is None:
            continue
        with sr.within(str(concept.meaning)):
            for name, (row, unit) in rows.items():
                if unit is None:
                    values[name] = _yes_no(container, row, warnings)
                else:
                    values[name] = _technique(container, row, unit, warnings)
            values[f"{prefix}_reason_for_proceeding"] = child_value(
                container, REASON_FOR_PROCEEDING, sr.text, warnings
            )
            values[f"{prefix}_person_name"] = child_value(container, PERSON_NAME, sr.person_name, warnings)
    return CtDoseCheck(**values)


def _technique(parent: ContentItem, concept: Code, unit: str, warnings: list[str]) -> float | None:
    """A NUM read leniently: an unknown unit is a warning and None (see ``sr.child_num``)."""
    return child_num(parent, concept, unit, warnings, required=False)


def _effective_dose(item: ContentItem | None, warnings: list[str]) -> float | None:
    """Effective dose (U in TID 10012 and 10013): optional, so a malformed one is a warning."""
    return read_item(item, lambda found: sr.num(found, "mSv"), warnings) if item is not None else None


def _yes_no(parent: ContentItem, concept: Code, warnings: list[str]) -> bool | None:
    """CID 230 Yes-No, in its SRT (R-0038D/R-00339) or SCT (373066001/373067005) coding."""
    answer = child_value(parent, concept, sr.code, warnings)
    if answer is None:
        return None
    if sr.same_concept(answer, YES):
        return True
    if sr.same_concept(answer, NO):
        return False
    warnings.append(f"{concept.meaning} is {answer.value} ({answer.meaning}), neither Yes nor No; ignored")
    return None


def _display(item: ContentItem) -> str | None:
    """Items PS3.16 defines as TEXT that some implementations send as CODE or NUM (the source
    identification is a NUM in the newer TID 10054): their value as text."""
    value_type = sr.clean_text(item.get("ValueType"))
    if value_type == "CODE":
        found = sr.code(item)
        return str(found) if found else None
    if value_type == "NUM":  # the number as written: an identifier, not a measurement
        measured = item.get("MeasuredValueSequence")
        return sr.clean_text(measured[0].get("NumericValue")) if measured else None
    return sr.text(item)


def _qualifier(
    effective_dose: ContentItem | None, container: ContentItem, concept: Code, warnings: list[str]
) -> str | None:
    """Reference Authority / Measurement Method: a modifier of the effective dose, TEXT or CODE."""
    for parent in (effective_dose, container):
        if parent is not None:
            found = child_value(parent, concept, _display, warnings)
            if found is not None:
                return found
    return None


def _xray_modulation_type(
    acquisition: ContentItem, parameters: ContentItem | None, warnings: list[str]
) -> str | None:
    """TEXT in the CT Acquisition container (Siemens syngo CT puts it there, as PS3.16 does); looked
    for in CT Acquisition Parameters too."""
    found = child_value(acquisition, XRAY_MODULATION_TYPE, _display, warnings)
    if found is None and parameters is not None:
        found = child_value(parameters, XRAY_MODULATION_TYPE, _display, warnings)
    return found


def _datetime(parent: ContentItem, concept: Code, warnings: list[str]) -> dt.datetime | None:
    item = first_child(parent, concept, warnings)
    if item is None:
        return None
    value = read_item(item, sr.datetime_, warnings)
    if value is None and sr.clean_text(item.get("ValueType")) == "DATETIME" and sr.dataset_text(item, "DateTime"):
        warnings.append(f"{concept.meaning} {sr.dataset_text(item, 'DateTime')!r} is not a DICOM DT; ignored")
    return value


def _scope_uid(scope: ContentItem | None) -> str | None:
    """The UID that qualifies Scope of Accumulation: Study, Series or Performed Procedure Step
    Instance UID (CID 10001), whichever the report uses."""
    if scope is None:
        return None
    for item in scope.get("ContentSequence") or ():
        if sr.clean_text(item.get("ValueType")) == "UIDREF":
            return sr.uid(item)
    return None


def _shallow(record: object) -> dict[str, Any]:
    return {f.name: getattr(record, f.name) for f in fields(record)}  # type: ignore[arg-type]
