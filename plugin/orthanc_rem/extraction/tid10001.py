"""PS3.16 TID 10001 "Projection X-Ray Radiation Dose" and its accumulated dose templates.

``read_projection_xray_radiation_dose`` reads the root (TID 10001), ``read_accumulated_xray_dose``
one "Accumulated X-Ray Dose Data" container per acquisition plane (TID 10002) with the rows that
TID 10004 (projection: fluoroscopy and acquisition totals), TID 10005 (mammography: AGD per breast),
TID 10006 (cassette-based radiography) and TID 10007 (integrated radiography) add to it. Irradiation
events (TID 10003) are read by :mod:`tid10003`. Concept codes are PS3.16's, checked against the DICOM
code dictionary shipped with pydicom.

TID 10001: "A Biplane irradiation event will be recorded as two individual events, one for each
plane. Accumulated values will be kept separate for each plane." Every event and accumulation keeps
its Acquisition Plane (CID 10003: Plane A, Plane B, Single Plane) and nothing is summed across planes.
"""

from __future__ import annotations

import dataclasses
from collections import Counter

from orthanc_rem.extraction import sr
from orthanc_rem.extraction.projection_records import (
    AccumulatedXRayDose,
    MammographyAccumulatedDose,
    ProjectionIrradiationEvent,
    ProjectionXRayRadiationDose,
    XRayCalibration,
)
from orthanc_rem.extraction.records import Code, ExtractionError
from orthanc_rem.extraction.sr import ContentItem, child_value, first_child, read_item
from orthanc_rem.extraction.tid1004 import read_device_observer
from orthanc_rem.extraction.tid10003 import (
    ACQUISITION_PLANE,
    COMMENT,
    IRRADIATION_EVENT_XRAY_DATA,
    LATERALITY,
    PATIENT_TABLE_RELATIONSHIP,
    REFERENCE_POINT_DEFINITION,
    read_irradiation_event_xray_data,
    siemens_patient_position,
    with_patient_position,
)

# TID 10001 Projection X-Ray Radiation Dose
X_RAY_RADIATION_DOSE_REPORT = Code("113701", "DCM", "X-Ray Radiation Dose Report")
PROCEDURE_REPORTED = Code("121058", "DCM", "Procedure reported")
HAS_INTENT = Code("363703001", "SCT", "Has Intent")
ACQUISITION_DEVICE_TYPE = Code("122142", "DCM", "Acquisition Device Type")
START_OF_XRAY_IRRADIATION = Code("113809", "DCM", "Start of X-Ray Irradiation")
END_OF_XRAY_IRRADIATION = Code("113810", "DCM", "End of X-Ray Irradiation")
SCOPE_OF_ACCUMULATION = Code("113705", "DCM", "Scope of Accumulation")
XRAY_DETECTOR_DATA_AVAILABLE = Code("113945", "DCM", "X-Ray Detector Data Available")
XRAY_SOURCE_DATA_AVAILABLE = Code("113943", "DCM", "X-Ray Source Data Available")
XRAY_MECHANICAL_DATA_AVAILABLE = Code("113944", "DCM", "X-Ray Mechanical Data Available")
SOURCE_OF_DOSE_INFORMATION = Code("113854", "DCM", "Source of Dose Information")
PROJECTION_XRAY = Code("113704", "DCM", "Projection X-Ray")
MAMMOGRAPHY = Code("71651007", "SCT", "Mammography")
# CID 10003 Equipment Plane Identification
PLANE_A = Code("113620", "DCM", "Plane A")
PLANE_B = Code("113621", "DCM", "Plane B")
SINGLE_PLANE = Code("113622", "DCM", "Single Plane")
# CID 10032 Projection X-Ray Acquisition Device Types
FLUOROSCOPY_GUIDED_SYSTEM = Code("113957", "DCM", "Fluoroscopy-Guided Projection Radiography System")
# TID 10002 Accumulated X-Ray Dose
ACCUMULATED_XRAY_DOSE_DATA = Code("113702", "DCM", "Accumulated X-Ray Dose Data")
CALIBRATION = Code("122505", "DCM", "Calibration")
DOSE_MEASUREMENT_DEVICE = Code("113794", "DCM", "Dose Measurement Device")
CALIBRATION_DATE = Code("113723", "DCM", "Calibration Date")
CALIBRATION_FACTOR = Code("122322", "DCM", "Calibration Factor")
CALIBRATION_UNCERTAINTY = Code("113763", "DCM", "Calibration Uncertainty")
CALIBRATION_RESPONSIBLE_PARTY = Code("113724", "DCM", "Calibration Responsible Party")
CALIBRATION_PROTOCOL = Code("113720", "DCM", "Calibration Protocol")
# TID 10004 Accumulated Fluoroscopy and Acquisition Projection X-Ray Dose; TID 10007 Integrated
DOSE_AREA_PRODUCT_TOTAL = Code("113722", "DCM", "Dose Area Product Total")
DOSE_RP_TOTAL = Code("113725", "DCM", "Dose (RP) Total")
FLUORO_DOSE_AREA_PRODUCT_TOTAL = Code("113726", "DCM", "Fluoro Dose Area Product Total")
FLUORO_DOSE_RP_TOTAL = Code("113728", "DCM", "Fluoro Dose (RP) Total")
TOTAL_FLUORO_TIME = Code("113730", "DCM", "Total Fluoro Time")
ACQUISITION_DOSE_AREA_PRODUCT_TOTAL = Code("113727", "DCM", "Acquisition Dose Area Product Total")
ACQUISITION_DOSE_RP_TOTAL = Code("113729", "DCM", "Acquisition Dose (RP) Total")
TOTAL_ACQUISITION_TIME = Code("113855", "DCM", "Total Acquisition Time")
TOTAL_NUMBER_OF_RADIOGRAPHIC_FRAMES = Code("113731", "DCM", "Total Number of Radiographic Frames")
# TID 10005 Accumulated Mammography X-Ray Dose
ACCUMULATED_AVERAGE_GLANDULAR_DOSE = Code("111637", "DCM", "Accumulated Average Glandular Dose")
# TID 10006 Accumulated Cassette-based Projection Radiography Dose
DETECTOR_TYPE = Code("113947", "DCM", "Detector Type")
# CID 230 Yes-No
YES = Code("373066001", "SCT", "Yes")
NO = Code("373067005", "SCT", "No")


def read_projection_xray_radiation_dose(root: ContentItem, warnings: list[str]) -> ProjectionXRayRadiationDose:
    """TID 10001 from the document root. The order of the root's children is not relied upon
    (Eurocolumbus puts Source of Dose Information before the events)."""
    accumulations = []
    for number, item in enumerate(sr.children(root, ACCUMULATED_XRAY_DOSE_DATA), start=1):
        with sr.within(f"Accumulated X-Ray Dose Data #{number}"):
            accumulations.append(read_accumulated_xray_dose(item, warnings))
    events = []
    for number, item in enumerate(sr.children(root, IRRADIATION_EVENT_XRAY_DATA), start=1):
        event_warnings: list[str] = []
        with sr.within(f"Irradiation Event X-Ray Data #{number}"):
            events.append(read_irradiation_event_xray_data(item, event_warnings))
        warnings.extend(f"Irradiation Event X-Ray Data #{number}: {w}" for w in event_warnings)
    if not events and not accumulations:
        raise ExtractionError(
            "Projection X-Ray Radiation Dose has neither Irradiation Event X-Ray Data nor Accumulated X-Ray Dose Data"
        )
    if not accumulations:
        warnings.append("no Accumulated X-Ray Dose Data (TID 10002, mandatory)")
    if not events:
        warnings.append("no Irradiation Event X-Ray Data (TID 10003, mandatory)")
    _check_planes(accumulations, events, warnings)
    procedure = first_child(root, PROCEDURE_REPORTED, warnings)
    scope = first_child(root, SCOPE_OF_ACCUMULATION, warnings)
    comment = child_value(root, COMMENT, sr.text, warnings)
    position = siemens_patient_position(comment, warnings)
    if position is not None:
        events = [with_patient_position(event, position) for event in events]
    return ProjectionXRayRadiationDose(
        procedure_reported=read_item(procedure, sr.code, warnings) if procedure is not None else None,
        has_intent=child_value(procedure, HAS_INTENT, sr.code, warnings) if procedure is not None else None,
        acquisition_device_type=child_value(root, ACQUISITION_DEVICE_TYPE, sr.code, warnings),
        start_of_xray_irradiation=child_value(root, START_OF_XRAY_IRRADIATION, sr.datetime_, warnings),
        end_of_xray_irradiation=child_value(root, END_OF_XRAY_IRRADIATION, sr.datetime_, warnings),
        scope_of_accumulation=read_item(scope, sr.code, warnings) if scope is not None else None,
        scope_uid=_scope_uid(scope),
        xray_detector_data_available=_detector_data_available(root, warnings),
        xray_source_data_available=child_value(root, XRAY_SOURCE_DATA_AVAILABLE, sr.code, warnings),
        xray_mechanical_data_available=child_value(root, XRAY_MECHANICAL_DATA_AVAILABLE, sr.code, warnings),
        comment=comment,
        sources_of_dose_information=tuple(
            c
            for c in (read_item(i, sr.code, warnings) for i in sr.children(root, SOURCE_OF_DOSE_INFORMATION))
            if c is not None
        ),
        **dataclasses.asdict(read_device_observer(root, warnings)),
        accumulations=tuple(accumulations),
        events=tuple(events),
    )


def read_accumulated_xray_dose(container: ContentItem, warnings: list[str]) -> AccumulatedXRayDose:
    """TID 10002 for one acquisition plane, with the rows of TID 10004/10005/10006/10007.

    Doses are required (M/MC: a wrong value type or unknown unit rejects the report), times, counts
    and the rest optional (malformed: a warning). The manual's fluoroscopy detail keeps fluoroscopy
    and acquisition totals apart (L5124-5167): so do we.
    """
    plane = child_value(container, ACQUISITION_PLANE, sr.code, warnings)
    if plane is None:
        warnings.append("Accumulated X-Ray Dose Data without Acquisition Plane (mandatory)")
    frames = first_child(container, TOTAL_NUMBER_OF_RADIOGRAPHIC_FRAMES, warnings)
    reference_point = first_child(container, REFERENCE_POINT_DEFINITION, warnings)
    calibrations = []
    for number, item in enumerate(sr.children(container, CALIBRATION), start=1):
        with sr.within(f"Calibration #{number}"):
            calibrations.append(read_calibration(item, warnings))
    return AccumulatedXRayDose(
        acquisition_plane=plane,
        fluoro_dose_area_product_total_gym2=_dose(container, FLUORO_DOSE_AREA_PRODUCT_TOTAL, "Gy.m2", warnings),
        fluoro_dose_rp_total_gy=_dose(container, FLUORO_DOSE_RP_TOTAL, "Gy", warnings),
        total_fluoro_time_s=_technique(container, TOTAL_FLUORO_TIME, "s", warnings),
        acquisition_dose_area_product_total_gym2=_dose(
            container, ACQUISITION_DOSE_AREA_PRODUCT_TOTAL, "Gy.m2", warnings
        ),
        acquisition_dose_rp_total_gy=_dose(container, ACQUISITION_DOSE_RP_TOTAL, "Gy", warnings),
        total_acquisition_time_s=_technique(container, TOTAL_ACQUISITION_TIME, "s", warnings),
        dose_area_product_total_gym2=_dose(container, DOSE_AREA_PRODUCT_TOTAL, "Gy.m2", warnings),
        dose_rp_total_gy=_dose(container, DOSE_RP_TOTAL, "Gy", warnings),
        total_number_of_radiographic_frames=_frames(frames, warnings),
        reference_point_definition=read_item(reference_point, sr.display, warnings)
        if reference_point is not None
        else None,
        mammography=read_accumulated_mammography_xray_dose(container, warnings),
        detector_type=child_value(container, DETECTOR_TYPE, sr.code, warnings),
        calibrations=tuple(calibrations),
    )


def read_accumulated_mammography_xray_dose(
    container: ContentItem, warnings: list[str]
) -> tuple[MammographyAccumulatedDose, ...]:
    """TID 10005: one Accumulated Average Glandular Dose per breast (VM 1-2), each with its Laterality
    (CID 6022: right breast, left breast, both breasts). PS3.16 once fixed the unit at dGy; today's
    reports send mGy: the unit of each value is read, never assumed."""
    doses = []
    for number, item in enumerate(sr.children(container, ACCUMULATED_AVERAGE_GLANDULAR_DOSE), start=1):
        with sr.within(f"Accumulated Average Glandular Dose #{number}"):
            values = read_item(item, lambda found: sr.values_in(found, "mGy"), warnings, required=True) or ()
            laterality = sr.first_child(item, LATERALITY, warnings)
        if laterality is None:
            warnings.append(f"Accumulated Average Glandular Dose #{number} without Laterality (mandatory)")
        doses.append(
            MammographyAccumulatedDose(
                laterality=read_item(laterality, sr.code, warnings) if laterality is not None else None,
                accumulated_average_glandular_dose_mgy=values[0] if values else None,
            )
        )
    return tuple(doses)


def read_calibration(container: ContentItem, warnings: list[str]) -> XRayCalibration:
    """The "Calibration" container of TID 10002 (dose indicator calibration of the equipment)."""
    factor = first_child(container, CALIBRATION_FACTOR, warnings)
    return XRayCalibration(
        dose_measurement_device=child_value(container, DOSE_MEASUREMENT_DEVICE, sr.code, warnings),
        calibration_date=child_value(container, CALIBRATION_DATE, sr.datetime_, warnings),
        calibration_factor=read_item(factor, sr.dimensionless, warnings) if factor is not None else None,
        calibration_uncertainty_percent=_technique(container, CALIBRATION_UNCERTAINTY, "%", warnings),
        calibration_responsible_party=child_value(container, CALIBRATION_RESPONSIBLE_PARTY, sr.display, warnings),
        calibration_protocol=child_value(container, CALIBRATION_PROTOCOL, sr.display, warnings),
    )


def plane_key(plane: Code | None) -> str | None:
    """How planes are told apart: the CID 10003 code value (113620 A, 113621 B, 113622 single)."""
    return plane.value if plane is not None else None


def _check_planes(
    accumulations: list[AccumulatedXRayDose], events: list[ProjectionIrradiationEvent], warnings: list[str]
) -> None:
    """Warnings only: one accumulation per plane, and every plane with events has one."""
    counts = Counter(plane_key(a.acquisition_plane) for a in accumulations)
    for plane, count in counts.items():
        if count > 1:
            warnings.append(f"{count} Accumulated X-Ray Dose Data for acquisition plane {plane}; kept apart")
    for plane in sorted({plane_key(e.acquisition_plane) for e in events} - set(counts), key=str):
        warnings.append(f"events of acquisition plane {plane} have no Accumulated X-Ray Dose Data")


def _detector_data_available(root: ContentItem, warnings: list[str]) -> Code | None:
    """X-Ray Detector Data Available (113945). Hologic Selenia Dimensions sends it under code 113745
    (which PS3.16 defines as Patient Table Relationship, a row TID 10001 does not have at its root)
    with the meaning "X-Ray Detector Data Available" and a Yes/No value: read as what it says."""
    found = child_value(root, XRAY_DETECTOR_DATA_AVAILABLE, sr.code, warnings)
    if found is None:
        misplaced = child_value(root, PATIENT_TABLE_RELATIONSHIP, sr.code, warnings)
        if misplaced is not None and (sr.same_concept(misplaced, YES) or sr.same_concept(misplaced, NO)):
            warnings.append("X-Ray Detector Data Available sent with code 113745; read as 113945")
            found = misplaced
    return found


def _scope_uid(scope: ContentItem | None) -> str | None:
    """The Study, Series or Performed Procedure Step UID that qualifies Scope of Accumulation
    (CID 10001). GE Super-C sends the PPS UID as TEXT instead of UIDREF: accepted."""
    if scope is None:
        return None
    for item in scope.get("ContentSequence") or ():
        if sr.clean_text(item.get("ValueType")) in ("UIDREF", "TEXT"):
            return sr.display(item)
    return None


def _frames(item: ContentItem | None, warnings: list[str]) -> int | None:
    """Total Number of Radiographic Frames; GE Super-C writes it as "0.00". May be absent (#556)."""
    value = read_item(item, sr.dimensionless, warnings) if item is not None else None
    if value is None:
        return None
    if value != int(value):
        warnings.append(f"Total Number of Radiographic Frames {value} is not a whole number; ignored")
        return None
    return int(value)


def _dose(parent: ContentItem, concept: Code, unit: str, warnings: list[str]) -> float | None:
    return sr.child_num(parent, concept, unit, warnings)


def _technique(parent: ContentItem, concept: Code, unit: str, warnings: list[str]) -> float | None:
    return sr.child_num(parent, concept, unit, warnings, required=False)
