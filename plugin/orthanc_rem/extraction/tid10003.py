"""PS3.16 TID 10003 "Irradiation Event X-Ray Data" and the templates it includes.

TID 10003A (detector), 10003B (source, with its X-Ray Filters containers) and 10003C (mechanical, with
the CID 10008 dose-related distances) add their rows directly to the Irradiation Event X-Ray Data
container: they are read here from the same container, one function per template. Concept codes are
PS3.16's, checked against the DICOM code dictionary shipped with pydicom; SNOMED concepts are written
in their SCT form and match the SRT form of older reports (``sr.SRT_TO_SCT``).
"""

from __future__ import annotations

import re
from dataclasses import replace

from orthanc_rem.extraction import sr
from orthanc_rem.extraction.projection_records import (
    ProjectionIrradiationEvent,
    XRayDetector,
    XRayFilter,
    XRayMechanical,
    XRaySource,
)
from orthanc_rem.extraction.records import Code, ExtractionError
from orthanc_rem.extraction.sr import ContentItem, child_value, first_child, read_item

# TID 10003 Irradiation Event X-Ray Data
IRRADIATION_EVENT_XRAY_DATA = Code("113706", "DCM", "Irradiation Event X-Ray Data")
ACQUISITION_PLANE = Code("113764", "DCM", "Acquisition Plane")
IRRADIATION_EVENT_UID = Code("113769", "DCM", "Irradiation Event UID")
IRRADIATION_EVENT_LABEL = Code("113605", "DCM", "Irradiation Event Label")
DATETIME_STARTED = Code("111526", "DCM", "DateTime Started")
IRRADIATION_EVENT_TYPE = Code("113721", "DCM", "Irradiation Event Type")
ACQUISITION_PROTOCOL = Code("125203", "DCM", "Acquisition Protocol")
ANATOMICAL_STRUCTURE = Code("91723000", "SCT", "Anatomical Structure")
TARGET_REGION = Code("123014", "DCM", "Target Region")
LATERALITY = Code("272741003", "SCT", "Laterality")
IMAGE_VIEW = Code("111031", "DCM", "Image View")
IMAGE_VIEW_MODIFIER = Code("111032", "DCM", "Image View Modifier")
PROJECTION_EPONYMOUS_NAME = Code("113946", "DCM", "Projection Eponymous Name")
PATIENT_TABLE_RELATIONSHIP = Code("113745", "DCM", "Patient Table Relationship")
PATIENT_ORIENTATION = Code("113743", "DCM", "Patient Orientation")
PATIENT_ORIENTATION_MODIFIER = Code("113744", "DCM", "Patient Orientation Modifier")
DOSE_AREA_PRODUCT = Code("122130", "DCM", "Dose Area Product")
HALF_VALUE_LAYER = Code("111634", "DCM", "Half Value Layer")
PATIENT_EQUIVALENT_THICKNESS = Code("111638", "DCM", "Patient Equivalent Thickness")
ENTRANCE_EXPOSURE_AT_RP = Code("111636", "DCM", "Entrance Exposure at RP")
REFERENCE_POINT_DEFINITION = Code("113780", "DCM", "Reference Point Definition")
BREAST_COMPOSITION = Code("129715009", "SCT", "Breast composition")
PERCENT_FIBROGLANDULAR_TISSUE = Code("111046", "DCM", "Percent Fibroglandular Tissue")
COMMENT = Code("121106", "DCM", "Comment")
# CID 10002 Irradiation Event Types
FLUOROSCOPY = Code("44491008", "SCT", "Fluoroscopy")
# TID 10003A Irradiation Event X-Ray Detector Data
EXPOSURE_INDEX = Code("113845", "DCM", "Exposure Index")
TARGET_EXPOSURE_INDEX = Code("113846", "DCM", "Target Exposure Index")
DEVIATION_INDEX = Code("113847", "DCM", "Deviation Index")
# TID 10003B Irradiation Event X-Ray Source Data
DOSE_RP = Code("113738", "DCM", "Dose (RP)")
AVERAGE_GLANDULAR_DOSE = Code("111631", "DCM", "Average Glandular Dose")
FLUORO_MODE = Code("113732", "DCM", "Fluoro Mode")
PULSE_RATE = Code("113791", "DCM", "Pulse Rate")
NUMBER_OF_PULSES = Code("113768", "DCM", "Number of Pulses")
DERIVATION = Code("121401", "DCM", "Derivation")
IRRADIATION_DURATION = Code("113742", "DCM", "Irradiation Duration")
KVP = Code("113733", "DCM", "KVP")
XRAY_TUBE_CURRENT = Code("113734", "DCM", "X-Ray Tube Current")
AVERAGE_XRAY_TUBE_CURRENT = Code("113767", "DCM", "Average X-Ray Tube Current")
PULSE_WIDTH = Code("113793", "DCM", "Pulse Width")
EXPOSURE = Code("113736", "DCM", "Exposure")
EXPOSURE_TIME = Code("113824", "DCM", "Exposure Time")
EXPOSURE_TIME_RETIRED = Code("113735", "DCM", "Exposure Time")  # retired code, still sent by Siemens
FOCAL_SPOT_SIZE = Code("113766", "DCM", "Focal Spot Size")
ANODE_TARGET_MATERIAL = Code("111632", "DCM", "Anode Target Material")
#: Not a DCM code: some DBT reports write Anode Target Material under this concept name code.
ANODE_TARGET_MATERIAL_MISCODED = Code("113632", "DCM", "Anode Target Material")
XRAY_FILTERS = Code("113771", "DCM", "X-Ray Filters")
XRAY_FILTER_TYPE = Code("113772", "DCM", "X-Ray Filter Type")
XRAY_FILTER_MATERIAL = Code("113757", "DCM", "X-Ray Filter Material")
XRAY_FILTER_THICKNESS_MINIMUM = Code("113758", "DCM", "X-Ray Filter Thickness Minimum")
XRAY_FILTER_THICKNESS_MAXIMUM = Code("113773", "DCM", "X-Ray Filter Thickness Maximum")
XRAY_GRID = Code("111635", "DCM", "X-Ray Grid")
COLLIMATED_FIELD_AREA = Code("113790", "DCM", "Collimated Field Area")
COLLIMATED_FIELD_HEIGHT = Code("113788", "DCM", "Collimated Field Height")
COLLIMATED_FIELD_WIDTH = Code("113789", "DCM", "Collimated Field Width")
# TID 10003C Irradiation Event X-Ray Mechanical Data
CRDR_MECHANICAL_CONFIGURATION = Code("113956", "DCM", "CR/DR Mechanical Configuration")
POSITIONER_PRIMARY_ANGLE = Code("112011", "DCM", "Positioner Primary Angle")
POSITIONER_SECONDARY_ANGLE = Code("112012", "DCM", "Positioner Secondary Angle")
POSITIONER_PRIMARY_END_ANGLE = Code("113739", "DCM", "Positioner Primary End Angle")
POSITIONER_SECONDARY_END_ANGLE = Code("113740", "DCM", "Positioner Secondary End Angle")
COLUMN_ANGULATION = Code("113770", "DCM", "Column Angulation")
TABLE_HEAD_TILT_ANGLE = Code("113754", "DCM", "Table Head Tilt Angle")
TABLE_HORIZONTAL_ROTATION_ANGLE = Code("113755", "DCM", "Table Horizontal Rotation Angle")
TABLE_CRADLE_TILT_ANGLE = Code("113756", "DCM", "Table Cradle Tilt Angle")
COMPRESSION_THICKNESS = Code("111633", "DCM", "Compression Thickness")
COMPRESSION_FORCE = Code("111647", "DCM", "Compression Force")
# CID 10008 Dose Related Distance Measurements
DISTANCE_SOURCE_TO_ISOCENTER = Code("113748", "DCM", "Distance Source to Isocenter")
DISTANCE_SOURCE_TO_REFERENCE_POINT = Code("113737", "DCM", "Distance Source to Reference Point")
DISTANCE_SOURCE_TO_DETECTOR = Code("113750", "DCM", "Distance Source to Detector")
DISTANCE_SOURCE_TO_TABLE_PLANE = Code("113792", "DCM", "Distance Source to Table Plane")
TABLE_LONGITUDINAL_POSITION = Code("113751", "DCM", "Table Longitudinal Position")
TABLE_LATERAL_POSITION = Code("113752", "DCM", "Table Lateral Position")
TABLE_HEIGHT_POSITION = Code("113753", "DCM", "Table Height Position")
TABLE_LONGITUDINAL_END_POSITION = Code("113759", "DCM", "Table Longitudinal End Position")
TABLE_LATERAL_END_POSITION = Code("113760", "DCM", "Table Lateral End Position")
TABLE_HEIGHT_END_POSITION = Code("113761", "DCM", "Table Height End Position")
# Philips Allura Xper private rows (coding scheme 99PHI-IXR-XPER)
PHILIPS_WEDGES_AND_SHUTTERS = Code("005", "99PHI-IXR-XPER", "Wedges and Shutters")
PHILIPS_BOTTOM_SHUTTER = Code("006", "99PHI-IXR-XPER", "Bottom Shutter")
PHILIPS_LEFT_SHUTTER = Code("007", "99PHI-IXR-XPER", "Left Shutter")
PHILIPS_RIGHT_SHUTTER = Code("008", "99PHI-IXR-XPER", "Right Shutter")
PHILIPS_TOP_SHUTTER = Code("009", "99PHI-IXR-XPER", "Top Shutter")
PHILIPS_TABLE_HEIGHT_POSITION = Code("021", "99PHI-IXR-XPER", "Table Height Position")


def read_irradiation_event_xray_data(container: ContentItem, warnings: list[str]) -> ProjectionIrradiationEvent:
    """TID 10003: one exposure, fluoroscopy run or mammography view.

    A container without content items is a broken report; the other mandatory rows (acquisition
    plane, UID, event type), when missing, are warnings so that the dose that is reported is kept.
    """
    if not container.get("ContentSequence"):
        raise ExtractionError("Irradiation Event X-Ray Data has no content items")
    plane = child_value(container, ACQUISITION_PLANE, sr.code, warnings)
    uid = child_value(container, IRRADIATION_EVENT_UID, sr.uid, warnings)
    event_type = child_value(container, IRRADIATION_EVENT_TYPE, sr.code, warnings)
    for concept, value in (
        (ACQUISITION_PLANE, plane),
        (IRRADIATION_EVENT_UID, uid),
        (IRRADIATION_EVENT_TYPE, event_type),
    ):
        if value is None:
            warnings.append(f"no {concept.meaning} (mandatory)")
    image_view = first_child(container, IMAGE_VIEW, warnings)
    orientation = first_child(container, PATIENT_ORIENTATION, warnings)
    source = read_xray_source_data(container, warnings)
    return ProjectionIrradiationEvent(
        acquisition_plane=plane,
        irradiation_event_uid=uid,
        irradiation_event_label=child_value(container, IRRADIATION_EVENT_LABEL, sr.display, warnings),
        date_time_started=child_value(container, DATETIME_STARTED, sr.datetime_, warnings),
        irradiation_event_type=event_type,
        acquisition_protocol=child_value(container, ACQUISITION_PROTOCOL, sr.display, warnings),
        anatomical_structure=_code(sr.first_child(container, ANATOMICAL_STRUCTURE, warnings), warnings),
        laterality=_laterality(container, warnings),
        image_view=_code(image_view, warnings),
        image_view_modifiers=tuple(
            found
            for parent in (image_view, container)
            if parent is not None
            for found in (_code(item, warnings) for item in sr.children(parent, IMAGE_VIEW_MODIFIER))
            if found is not None
        ),
        projection_eponymous_name=_nested_code(image_view, container, PROJECTION_EPONYMOUS_NAME, warnings),
        patient_table_relationship=child_value(container, PATIENT_TABLE_RELATIONSHIP, sr.code, warnings),
        patient_orientation=_code(orientation, warnings),
        patient_orientation_modifier=_nested_code(orientation, container, PATIENT_ORIENTATION_MODIFIER, warnings),
        target_region=child_value(container, TARGET_REGION, sr.code, warnings),
        dose_area_product_gym2=sr.child_num(container, DOSE_AREA_PRODUCT, "Gy.m2", warnings),
        half_value_layer_mm=_technique(container, HALF_VALUE_LAYER, "mm", warnings),
        patient_equivalent_thickness_mm=_technique(container, PATIENT_EQUIVALENT_THICKNESS, "mm", warnings),
        entrance_exposure_at_rp_mgy=sr.child_num(
            container, ENTRANCE_EXPOSURE_AT_RP, "mGy", warnings, required=False
        ),
        reference_point_definition=source.reference_point_definition,
        breast_composition=_breast_composition(container, warnings),
        percent_fibroglandular_tissue=_percent_fibroglandular_tissue(container, warnings),
        comment=child_value(container, COMMENT, sr.text, warnings),
        source=source,
        detector=read_xray_detector_data(container, warnings),
        mechanical=read_xray_mechanical_data(container, warnings),
    )


def is_fluoroscopy(event: ProjectionIrradiationEvent) -> bool:
    """Irradiation Event Type (CID 10002) is Fluoroscopy, in its SCT or SRT (P5-06000) coding."""
    return sr.same_concept(event.irradiation_event_type, FLUOROSCOPY)


def read_xray_source_data(container: ContentItem, warnings: list[str]) -> XRaySource:
    """TID 10003B from the event container.

    kVp, tube current, pulse width and exposure may be given per pulse (VM 1-n): every value is kept,
    and the single number is what the manual exports (L5657): for kVp, tube current and pulse width the
    mean without the zeros of pulses that did not fire (Eurocolumbus Fly4 starts each run with one);
    for the exposure the total of the pulses, i.e. the event's current-time product.

    Two OpenREM 0.8.1 completions: the Average X-Ray Tube Current is the tube current when the report
    has no row 113767 (#371), and a pulsed event without Exposure Time gets pulse width x number of
    pulses (#379; manual L5124-5167: exposure time is the beam-on time, irradiation duration the pedal
    time, and both are shown). Exposure Time is row 113824; Siemens still sends the retired 113735.
    """
    kvp_values = sr.child_nums(container, KVP, "kV", warnings)
    current_values = sr.child_nums(container, XRAY_TUBE_CURRENT, "mA", warnings)
    pulse_width_values = sr.child_nums(container, PULSE_WIDTH, "ms", warnings)
    exposure_values = sr.child_nums(container, EXPOSURE, "uA.s", warnings)
    pulses = first_child(container, NUMBER_OF_PULSES, warnings)
    number_of_pulses = read_item(pulses, sr.dimensionless, warnings) if pulses is not None else None
    current = sr.mean_without_zeros(current_values)
    pulse_width = sr.mean_without_zeros(pulse_width_values)
    exposure_time = _technique(container, EXPOSURE_TIME, "ms", warnings)
    if exposure_time is None:
        exposure_time = _technique(container, EXPOSURE_TIME_RETIRED, "ms", warnings)
    if exposure_time is None and pulse_width is not None and number_of_pulses is not None:
        exposure_time = pulse_width * number_of_pulses
    average_current = _technique(container, AVERAGE_XRAY_TUBE_CURRENT, "mA", warnings)
    reference_point = first_child(container, REFERENCE_POINT_DEFINITION, warnings)
    height = _technique(container, COLLIMATED_FIELD_HEIGHT, "mm", warnings)
    width = _technique(container, COLLIMATED_FIELD_WIDTH, "mm", warnings)
    area = _technique(container, COLLIMATED_FIELD_AREA, "m2", warnings)
    if height is None and width is None and area is None:
        height, width, area = philips_collimated_field(container, warnings)
    return XRaySource(
        dose_rp_gy=sr.child_num(container, DOSE_RP, "Gy", warnings),
        reference_point_definition=read_item(reference_point, sr.display, warnings)
        if reference_point is not None
        else None,
        average_glandular_dose_mgy=sr.child_num(container, AVERAGE_GLANDULAR_DOSE, "mGy", warnings),
        fluoro_mode=child_value(container, FLUORO_MODE, sr.code, warnings),
        pulse_rate_per_s=_technique(container, PULSE_RATE, "{pulse}/s", warnings),
        number_of_pulses=number_of_pulses,
        derivation=child_value(pulses, DERIVATION, sr.code, warnings) if pulses is not None else None,
        irradiation_duration_s=_technique(container, IRRADIATION_DURATION, "s", warnings),
        kvp_kv=sr.mean_without_zeros(kvp_values),
        kvp_values_kv=kvp_values,
        xray_tube_current_ma=current,
        xray_tube_current_values_ma=current_values,
        average_xray_tube_current_ma=average_current if average_current is not None else current,
        pulse_width_ms=pulse_width,
        pulse_width_values_ms=pulse_width_values,
        exposure_uas=sum(exposure_values) if exposure_values else None,
        exposure_values_uas=exposure_values,
        exposure_time_ms=exposure_time,
        focal_spot_size_mm=_technique(container, FOCAL_SPOT_SIZE, "mm", warnings),
        anode_target_material=_anode_target_material(container, warnings),
        collimated_field_area_m2=area,
        collimated_field_height_mm=height,
        collimated_field_width_mm=width,
        ii_field_size_mm=_siemens_ii_diameter(container, warnings),
        grid=tuple(found for found in (_code(item, warnings) for item in sr.children(container, XRAY_GRID)) if found),
        filters=read_xray_filters(container, warnings),
    )


def philips_collimated_field(
    container: ContentItem, warnings: list[str]
) -> tuple[float | None, float | None, float | None]:
    """(height mm, width mm, area m²) of the collimated field from Philips Allura Xper's private
    "Wedges and Shutters" container, for events without the TID 10003B rows.

    Philips' conformance statement (as OpenREM quotes it): each shutter value is the "actual shutter
    distance from centerpoint of collimator specified in the plane at 1 meter", in mm, end of run.
    Scaled to the detector by the event's Distance Source to Detector (in m): height from the left
    and right shutters, width from the bottom and top ones, as OpenREM 0.8.1 derives them. Only when
    all four are non-zero and the distance is known: Philips writes the distance only when it
    changed, and a guess would put a wrong field size on the event."""
    shutters_item = first_child(container, PHILIPS_WEDGES_AND_SHUTTERS, warnings)
    if shutters_item is None:
        return None, None, None
    bottom, left, right, top = (
        _technique(shutters_item, concept, "mm", warnings)
        for concept in (PHILIPS_BOTTOM_SHUTTER, PHILIPS_LEFT_SHUTTER, PHILIPS_RIGHT_SHUTTER, PHILIPS_TOP_SHUTTER)
    )
    distance_mm = _technique(container, DISTANCE_SOURCE_TO_DETECTOR, "mm", warnings)
    if not (bottom and left and right and top):
        return None, None, None
    if not distance_mm:
        warnings.append("Philips shutter positions without Distance Source to Detector: no collimated field")
        return None, None, None
    height = (left + right) * distance_mm / 1000
    width = (bottom + top) * distance_mm / 1000
    return height, width, height * width * 1e-6


def _anode_target_material(container: ContentItem, warnings: list[str]) -> Code | None:
    """Anode Target Material (111632, CID 10016). Some tomosynthesis reports send the row under the
    concept name code 113632, which DCM does not define; when 111632 is absent it is read as what its
    meaning says, with the material code it carries, and a warning - never dropped."""
    found = child_value(container, ANODE_TARGET_MATERIAL, sr.code, warnings)
    if found is not None:
        return found
    item = first_child(container, ANODE_TARGET_MATERIAL_MISCODED, warnings)
    concept = sr.concept_of(item) if item is not None else None
    if item is None or concept is None or "anode" not in (concept.meaning or "anode").lower():
        return None
    found = read_item(item, sr.code, warnings)
    if found is not None:
        warnings.append("Anode Target Material sent with concept code 113632; read as 111632")
    return found


def read_xray_filters(container: ContentItem, warnings: list[str]) -> tuple[XRayFilter, ...]:
    """Every "X-Ray Filters" container of the event (Cu and Al are two), in document order."""
    filters = []
    for number, item in enumerate(sr.children(container, XRAY_FILTERS), start=1):
        with sr.within(f"X-Ray Filters #{number}"):
            filters.append(read_xray_filter(item, warnings))
    return tuple(filters)


def read_xray_filter(container: ContentItem, warnings: list[str]) -> XRayFilter:
    """One "X-Ray Filters" container. A minimum thicker than the maximum is swapped with a warning
    (OpenREM #453); a thickness of 0 is kept as 0 (#450)."""
    minimum = _technique(container, XRAY_FILTER_THICKNESS_MINIMUM, "mm", warnings)
    maximum = _technique(container, XRAY_FILTER_THICKNESS_MAXIMUM, "mm", warnings)
    material = child_value(container, XRAY_FILTER_MATERIAL, sr.code, warnings)
    if minimum is not None and maximum is not None and minimum > maximum:
        warnings.append(f"X-Ray Filter Thickness Minimum {minimum} mm > Maximum {maximum} mm ({material}); swapped")
        minimum, maximum = maximum, minimum
    return XRayFilter(
        filter_type=child_value(container, XRAY_FILTER_TYPE, sr.code, warnings),
        filter_material=material,
        thickness_minimum_mm=minimum,
        thickness_maximum_mm=maximum,
    )


def read_xray_detector_data(container: ContentItem, warnings: list[str]) -> XRayDetector | None:
    """TID 10003A: the IEC 62494-1 exposure index family (CP-1077); None when the report has none."""
    detector = XRayDetector(
        exposure_index=child_value(container, EXPOSURE_INDEX, sr.dimensionless, warnings),
        target_exposure_index=child_value(container, TARGET_EXPOSURE_INDEX, sr.dimensionless, warnings),
        deviation_index=child_value(container, DEVIATION_INDEX, sr.dimensionless, warnings),
    )
    return detector if detector != XRayDetector() else None


#: TID 10003C and CID 10008 rows by record field: (concept, unit).
_MECHANICAL: dict[str, tuple[Code, str]] = {
    "positioner_primary_angle_deg": (POSITIONER_PRIMARY_ANGLE, "deg"),
    "positioner_secondary_angle_deg": (POSITIONER_SECONDARY_ANGLE, "deg"),
    "positioner_primary_end_angle_deg": (POSITIONER_PRIMARY_END_ANGLE, "deg"),
    "positioner_secondary_end_angle_deg": (POSITIONER_SECONDARY_END_ANGLE, "deg"),
    "column_angulation_deg": (COLUMN_ANGULATION, "deg"),
    "table_head_tilt_angle_deg": (TABLE_HEAD_TILT_ANGLE, "deg"),
    "table_horizontal_rotation_angle_deg": (TABLE_HORIZONTAL_ROTATION_ANGLE, "deg"),
    "table_cradle_tilt_angle_deg": (TABLE_CRADLE_TILT_ANGLE, "deg"),
    "compression_thickness_mm": (COMPRESSION_THICKNESS, "mm"),
    "compression_force_n": (COMPRESSION_FORCE, "N"),
    "distance_source_to_isocenter_mm": (DISTANCE_SOURCE_TO_ISOCENTER, "mm"),
    "distance_source_to_reference_point_mm": (DISTANCE_SOURCE_TO_REFERENCE_POINT, "mm"),
    "distance_source_to_detector_mm": (DISTANCE_SOURCE_TO_DETECTOR, "mm"),
    "distance_source_to_table_plane_mm": (DISTANCE_SOURCE_TO_TABLE_PLANE, "mm"),
    "table_longitudinal_position_mm": (TABLE_LONGITUDINAL_POSITION, "mm"),
    "table_lateral_position_mm": (TABLE_LATERAL_POSITION, "mm"),
    "table_height_position_mm": (TABLE_HEIGHT_POSITION, "mm"),
    "table_longitudinal_end_position_mm": (TABLE_LONGITUDINAL_END_POSITION, "mm"),
    "table_lateral_end_position_mm": (TABLE_LATERAL_END_POSITION, "mm"),
    "table_height_end_position_mm": (TABLE_HEIGHT_END_POSITION, "mm"),
}


def read_xray_mechanical_data(container: ContentItem, warnings: list[str]) -> XRayMechanical | None:
    """TID 10003C with the CID 10008 distances; None when the report has none of its rows.

    End angles are only present for rotational runs; an empty measured value (GE Super-C sends all
    four angles empty) is None, not 0."""
    values = {name: _technique(container, concept, unit, warnings) for name, (concept, unit) in _MECHANICAL.items()}
    if values["table_height_position_mm"] is None:
        values["table_height_position_mm"] = philips_table_height_position(container, warnings)
    mechanical = XRayMechanical(
        crdr_mechanical_configuration=child_value(container, CRDR_MECHANICAL_CONFIGURATION, sr.code, warnings),
        **values,
    )
    return mechanical if mechanical != XRayMechanical() else None


def philips_table_height_position(container: ContentItem, warnings: list[str]) -> float | None:
    """Philips Allura Xper leaves out the standard Table Height Position row (113753) and writes the
    table height only as its private row 021 "Table Height Position" (99PHI-IXR-XPER; 905 mm in the
    corpus report, with a "Height of System" of 1065 mm in the accumulated data). Read for events
    without the standard row: it is the same concept in Philips' own frame, which is the frame
    PySkinDose's Allura conventions were measured in (its parser reads rows by meaning, so this is
    the value it uses for these systems); ``skin_dose.devices`` holds that frame's offset and sign."""
    return _technique(container, PHILIPS_TABLE_HEIGHT_POSITION, "mm", warnings)


def _technique(parent: ContentItem, concept: Code, unit: str, warnings: list[str]) -> float | None:
    """A NUM read leniently: an unknown unit is a warning and None (technique, not dose)."""
    return sr.child_num(parent, concept, unit, warnings, required=False)


def _code(item: ContentItem | None, warnings: list[str]) -> Code | None:
    """An optional CODE item's value; of another value type, a warning and None."""
    return read_item(item, sr.code, warnings) if item is not None else None


def _nested_code(parent: ContentItem | None, container: ContentItem, concept: Code, warnings: list[str]) -> Code | None:
    """A concept modifier PS3.16 nests under ``parent`` (orientation modifier, eponymous name), also
    accepted beside it in the event container."""
    for where in (parent, container):
        if where is not None:
            found = child_value(where, concept, sr.code, warnings)
            if found is not None:
                return found
    return None


def _laterality(container: ContentItem, warnings: list[str]) -> Code | None:
    """Laterality modifies Target Region in current PS3.16; Hologic and GE mammography put it under
    the older Anatomical Structure (T-D0005) row instead. Looked for in both, then in the event."""
    for parent in (
        first_child(container, TARGET_REGION, warnings),
        sr.first_child(container, ANATOMICAL_STRUCTURE, warnings),
        container,
    ):
        if parent is not None:
            item = sr.first_child(parent, LATERALITY, warnings)
            if item is not None:
                return _code(item, warnings)
    return None


def _breast_composition(container: ContentItem, warnings: list[str]) -> Code | None:
    """Breast composition (TID 4007 rows included in TID 10003): in the event or in a child container."""
    for parent in _event_and_its_containers(container):
        item = sr.first_child(parent, BREAST_COMPOSITION, warnings)
        if item is not None:
            return _code(item, warnings)
    return None


def _percent_fibroglandular_tissue(container: ContentItem, warnings: list[str]) -> float | None:
    for parent in _event_and_its_containers(container):
        value = _technique(parent, PERCENT_FIBROGLANDULAR_TISSUE, "%", warnings)
        if value is not None:
            return value
    return None


def _event_and_its_containers(container: ContentItem) -> list[ContentItem]:
    return [container] + [
        item
        for item in container.get("ContentSequence") or ()
        if sr.clean_text(item.get("ValueType")) == "CONTAINER"
        and not sr.same_concept(sr.concept_of(item), XRAY_FILTERS)
    ]


#: CID 21 Patient Equipment Relationship, CID 19 Patient Orientation, CID 20 Patient Orientation
#: Modifier, in the SNOMED-RT codes of the corpus reports (Philips Allura sends these three).
HEADFIRST = Code("F-10470", "SRT", "headfirst")
FEET_FIRST = Code("F-10480", "SRT", "feet-first")
RECUMBENT = Code("F-10450", "SRT", "recumbent")
SUPINE = Code("F-10340", "SRT", "supine")
PRONE = Code("F-10310", "SRT", "prone")
#: Patient Position (0018,5100) defined terms (PS3.3 C.7.3.1.1.2) that these codes can say.
_PATIENT_POSITIONS = {
    "HFS": (HEADFIRST, RECUMBENT, SUPINE),
    "HFP": (HEADFIRST, RECUMBENT, PRONE),
    "FFS": (FEET_FIRST, RECUMBENT, SUPINE),
    "FFP": (FEET_FIRST, RECUMBENT, PRONE),
}
_SIEMENS_POSITION = re.compile(r"<PatientPosition>\s*<Position\s+SRData\s*=\s*\"([^\"]*)\"")


def siemens_patient_position(report_comment: str | None, warnings: list[str]) -> tuple[Code, Code, Code] | None:
    """Siemens AXIOM-Artis / Artis zee write the patient position not as TID 10003 rows but in the XML
    of the report's top-level Comment: ``<PatientPosition><Position SRData="HFS "/>...``. Read as
    (table relationship, orientation, orientation modifier): head-first or feet-first, recumbent,
    supine or prone, as OpenREM does for these systems; None when the comment has no position."""
    match = _SIEMENS_POSITION.search(report_comment) if report_comment else None
    if match is None:
        return None
    position = match.group(1).strip().upper()
    codes = _PATIENT_POSITIONS.get(position)
    if codes is None:
        warnings.append(f"Siemens patient position {position!r} is not one this importer can code; ignored")
    return codes


def with_patient_position(
    event: ProjectionIrradiationEvent, position: tuple[Code, Code, Code]
) -> ProjectionIrradiationEvent:
    """The event with the report-level position, only when it has none of the three standard rows."""
    if event.patient_table_relationship or event.patient_orientation or event.patient_orientation_modifier:
        return event
    relationship, orientation, modifier = position
    return replace(
        event,
        patient_table_relationship=relationship,
        patient_orientation=orientation,
        patient_orientation_modifier=modifier,
    )


_II_DIAMETER = re.compile(r"<iiDiameter\s+SRData\s*=\s*\"\s*([0-9]+(?:\.[0-9]*)?)\s*\"")


def _siemens_ii_diameter(container: ContentItem, warnings: list[str]) -> float | None:
    """The image intensifier / detector field size is not a TID 10003 row. Siemens AXIOM-Artis writes
    it, in mm, into the event Comment's XML (``<iiDiameter SRData="220"/>``); OpenREM keeps it as
    the source's II field size (manual L6981-6996)."""
    comment = child_value(container, COMMENT, sr.text, warnings)
    match = _II_DIAMETER.search(comment) if comment else None
    return float(match.group(1)) if match else None
