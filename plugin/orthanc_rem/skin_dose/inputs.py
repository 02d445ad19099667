"""Stored projection events (TID 10003) -> the per-event values the skin dose engine needs.

Pure: model rows in, frozen records out, no session and no engine. Every value that had to be
defaulted is counted in :class:`Assumptions`, so the page can say "assumed" next to it as the
manual does for height and mass; a map is never silently built on guesses.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from orthanc_rem import model
from orthanc_rem.skin_dose.devices import DeviceGeometry, find_device_geometry

#: The manual's defaults (openSkin's reference patient) when the study has no patient size/weight.
DEFAULT_HEIGHT_M = 1.786
DEFAULT_MASS_KG = 73.2
#: Used only when no event of the study reports a kVp at all.
DEFAULT_KVP_KV = 80.0
#: Copper (mm) and aluminium (mm) added filtration the engine's HVL table holds.
ENGINE_COPPER_MM = (0.0, 0.1, 0.2, 0.3, 0.4, 0.6, 0.9)
ENGINE_ALUMINIUM_MM = (0.0, 1.0)

#: Why plane B events are in the map and what is not known about them (shown on the page).
#: PySkinDose computes every event from its own angles, distances and field about one isocentre, the
#: frame in which PS3.3 defines the positioner angles for either plane, and looks up the table and pad
#: transmission per plane (measured for Allura Clarity Plane A and B; else its estimate, flagged). What
#: it cannot know is whether a system reports its lateral C-arm in that frame: its conventions were
#: measured on one C-arm, and no biplane report in our corpus verifies them.
PLANE_B_NOTE = (
    "{count} plane B event(s) modelled from their own reported angles, distances and field about the "
    "common isocentre, as the engine models every event; the {system} table and angle conventions "
    "were measured on a single C-arm and are not verified for plane B"
)

HEAD_FIRST_SUPINE = "head_first_supine"
FEET_FIRST_SUPINE = "feet_first_supine"


@dataclass(frozen=True)
class EventInput:
    """One irradiation event in the engine's units (cm, degrees, kV, mGy)."""

    event_uid: str | None
    acquisition_plane: str
    event_type: str
    air_kerma_rp_mgy: float
    kvp_kv: float
    copper_mm: float
    aluminium_mm: float
    primary_angle_deg: float
    secondary_angle_deg: float
    table_longitudinal_mm: float
    table_lateral_mm: float
    table_height_mm: float
    source_isocenter_cm: float
    source_detector_cm: float
    source_reference_point_cm: float
    field_lateral_cm: float
    field_longitudinal_cm: float


@dataclass
class Assumptions:
    """What was not in the report and was defaulted, per quantity: count of events."""

    events_defaulted: Counter[str] = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)

    def count(self, quantity: str) -> None:
        self.events_defaulted[quantity] += 1

    def describe(self) -> list[str]:
        lines = [f"{quantity}: default used in {n} event(s)" for quantity, n in sorted(self.events_defaulted.items())]
        return lines + self.notes


@dataclass(frozen=True)
class PatientSize:
    height_m: float
    height_assumed: bool
    mass_kg: float
    mass_assumed: bool


@dataclass(frozen=True)
class SkinDoseInputs:
    """Everything a map depends on; its ``digest`` decides whether a cached map is stale."""

    device: DeviceGeometry
    patient: PatientSize
    orientation: str
    orientation_assumed: bool
    events: tuple[EventInput, ...]
    assumptions: tuple[str, ...]


@dataclass(frozen=True)
class NotModelled:
    reason: str


def patient_size(patient: model.Patient | None) -> PatientSize:
    """Height and mass of the study, or the manual's defaults (flagged) when absent or implausible."""
    height = patient.size_m if patient else None
    mass = patient.weight_kg if patient else None
    height_ok = height is not None and 0.3 <= height <= 2.5
    mass_ok = mass is not None and 1.0 <= mass <= 400.0
    return PatientSize(
        height_m=float(height) if height_ok else DEFAULT_HEIGHT_M,  # type: ignore[arg-type]
        height_assumed=not height_ok,
        mass_kg=float(mass) if mass_ok else DEFAULT_MASS_KG,  # type: ignore[arg-type]
        mass_assumed=not mass_ok,
    )


def fluoroscopy_events(study: model.Study) -> list[model.ProjectionIrradiationEvent]:
    """Events of the study's RDSRs (image headers carry no geometry), in report order."""
    return [
        event for dose in study.projection_xray_radiation_doses if dose.source_kind == "rdsr" for event in dose.events
    ]


def orientation_of(events: Sequence[model.ProjectionIrradiationEvent]) -> tuple[str, bool] | NotModelled:
    """Head/feet first supine from Patient Table Relationship and Orientation Modifier (CID 21/20).

    The engine models supine patients only; a prone or standing patient is "not modelled" rather
    than mapped onto the wrong side of the body.
    """
    for event in events:
        relationship = (event.patient_table_relationship_meaning or "").casefold().replace("-", "").replace(" ", "")
        modifier = (event.patient_orientation_modifier_meaning or "").casefold()
        orientation = (event.patient_orientation_meaning or "").casefold()
        if "prone" in modifier or "decubitus" in modifier or "erect" in orientation:
            return NotModelled(
                f"patient orientation {orientation} {modifier} is not supported by the engine (supine only)"
            )
        if relationship or modifier:
            if "feetfirst" in relationship:
                return FEET_FIRST_SUPINE, not modifier
            if "headfirst" in relationship:
                return HEAD_FIRST_SUPINE, not modifier
    return HEAD_FIRST_SUPINE, True


def nearest(value: float, allowed: Iterable[float]) -> float:
    return min(allowed, key=lambda candidate: abs(candidate - value))


def _filter_thickness(source: model.XRaySource | None, material: str) -> float | None:
    """Mean of min/max thickness of the filters of one material (as openSkin and PySkinDose do)."""
    if source is None:
        return None
    total = None
    for xray_filter in source.filters:
        if material not in (xray_filter.filter_material_meaning or "").casefold():
            continue
        values = [v for v in (xray_filter.thickness_minimum_mm, xray_filter.thickness_maximum_mm) if v is not None]
        if values:
            total = (total or 0.0) + sum(values) / len(values)
    return total


def event_kvp(source: model.XRaySource | None) -> float | None:
    """The event's kVp: the stored value, else the mean of its non-zero pulse values (manual)."""
    if source is None:
        return None
    if source.kvp_kv:
        return float(source.kvp_kv)
    pulses = [v for v in (source.kvp_values_kv or []) if v]
    return sum(pulses) / len(pulses) if pulses else None


def _air_kerma_mgy(event: model.ProjectionIrradiationEvent, field_area_rp_m2: float | None) -> float | None:
    source = event.source
    if source is not None and source.dose_rp_gy is not None:
        return source.dose_rp_gy * 1000.0
    if event.dose_area_product_gym2 and field_area_rp_m2:
        return event.dose_area_product_gym2 / field_area_rp_m2 * 1000.0
    return None


def _field_at_detector_cm(
    source: model.XRaySource | None, device: DeviceGeometry, notes: Assumptions
) -> tuple[float, float]:
    """Field side lengths at the detector plane, from the best the event reports."""
    if source is not None and source.collimated_field_width_mm and source.collimated_field_height_mm:
        return source.collimated_field_width_mm / 10.0, source.collimated_field_height_mm / 10.0
    if source is not None and source.collimated_field_area_m2:
        side = math.sqrt(source.collimated_field_area_m2) * 100.0
        return side, side
    if source is not None and source.ii_field_size_mm:
        notes.count("field size (image receptor field size used as a square field)")
        return source.ii_field_size_mm / 10.0, source.ii_field_size_mm / 10.0
    notes.count("field size (detector side length)")
    return device.detector_side_length_cm, device.detector_side_length_cm


def _mechanical(mechanical: model.XRayMechanical | None, name: str) -> float | None:
    value = getattr(mechanical, name) if mechanical is not None else None
    return float(value) if value is not None else None


def _value_or_default(value: float | None, default: float, quantity: str, notes: Assumptions) -> float:
    if value is None or not math.isfinite(value):
        notes.count(quantity)
        return default
    return float(value)


def event_input(
    event: model.ProjectionIrradiationEvent, device: DeviceGeometry, study_kvp_kv: float, notes: Assumptions
) -> EventInput:
    source, mechanical = event.source, event.mechanical
    m = mechanical
    isocenter_cm = _value_or_default(
        m.distance_source_to_isocenter_mm / 10.0 if m and m.distance_source_to_isocenter_mm else None,
        device.default_source_isocenter_cm,
        "distance source to isocentre",
        notes,
    )
    detector_cm = _value_or_default(
        m.distance_source_to_detector_mm / 10.0 if m and m.distance_source_to_detector_mm else None,
        device.default_source_detector_cm,
        "distance source to detector",
        notes,
    )
    # IEC 60601-2-43: the interventional reference point is 15 cm from the isocentre towards the source.
    reference_cm = (
        m.distance_source_to_reference_point_mm / 10.0
        if m and m.distance_source_to_reference_point_mm
        else isocenter_cm - 15.0
    )
    field_lateral_cm, field_longitudinal_cm = _field_at_detector_cm(source, device, notes)
    field_area_rp_m2 = field_lateral_cm * field_longitudinal_cm * (reference_cm / detector_cm) ** 2 / 1e4
    kerma = _air_kerma_mgy(event, field_area_rp_m2)
    if kerma is None:
        notes.count("dose at the reference point (event counted as zero)")
    elif source is None or source.dose_rp_gy is None:
        notes.count("dose at the reference point (from DAP / field area at the reference point)")
    kvp = event_kvp(source)
    copper = _filter_thickness(source, "copper")
    aluminium = _filter_thickness(source, "alumin")
    if copper is not None and nearest(copper, ENGINE_COPPER_MM) != copper:
        notes.count("copper filter (rounded to the engine's HVL table)")
    if aluminium is not None and nearest(aluminium, ENGINE_ALUMINIUM_MM) != aluminium:
        notes.count("aluminium filter (rounded to the engine's HVL table)")
    return EventInput(
        event_uid=event.irradiation_event_uid,
        acquisition_plane=event.acquisition_plane_meaning or "Single Plane",
        event_type=event.irradiation_event_type_meaning or "",
        air_kerma_rp_mgy=kerma or 0.0,
        kvp_kv=_value_or_default(kvp, study_kvp_kv, "kVp", notes),
        copper_mm=nearest(copper or 0.0, ENGINE_COPPER_MM),
        aluminium_mm=nearest(aluminium or 0.0, ENGINE_ALUMINIUM_MM),
        primary_angle_deg=_value_or_default(
            _mechanical(m, "positioner_primary_angle_deg"), 0.0, "positioner primary angle", notes
        ),
        secondary_angle_deg=_value_or_default(
            _mechanical(m, "positioner_secondary_angle_deg"), 0.0, "positioner secondary angle", notes
        ),
        table_longitudinal_mm=_value_or_default(
            _mechanical(m, "table_longitudinal_position_mm"), 0.0, "table longitudinal position", notes
        ),
        table_lateral_mm=_value_or_default(
            _mechanical(m, "table_lateral_position_mm"), 0.0, "table lateral position", notes
        ),
        table_height_mm=_value_or_default(
            _mechanical(m, "table_height_position_mm"), device.default_table_height_mm, "table height position", notes
        ),
        source_isocenter_cm=isocenter_cm,
        source_detector_cm=detector_cm,
        source_reference_point_cm=reference_cm,
        field_lateral_cm=field_lateral_cm,
        field_longitudinal_cm=field_longitudinal_cm,
    )


def _table_rotation_reported(events: Sequence[model.ProjectionIrradiationEvent]) -> bool:
    return any(
        e.mechanical is not None
        and any(
            v
            for v in (
                e.mechanical.table_head_tilt_angle_deg,
                e.mechanical.table_horizontal_rotation_angle_deg,
                e.mechanical.table_cradle_tilt_angle_deg,
            )
        )
        for e in events
    )


def skin_dose_inputs(study: model.Study, device: DeviceGeometry | None = None) -> SkinDoseInputs | NotModelled:
    """The engine's inputs for a study, or why it cannot be modelled.

    ``device`` overrides the identification from the header: the geometry a user assigned to the
    system (``cache.assigned_geometry``) or chose for one run (``orthanc-rem skin-dose --device``).
    """
    events = fluoroscopy_events(study)
    if not events:
        return NotModelled("the study has no irradiation events from a radiation dose structured report")
    if device is None:
        identified = identify_system(study)
        if isinstance(identified, NotModelled):
            return NotModelled(identified.reason + _missing_geometry(events))
        device, chosen_note = identified
    else:
        chosen_note = f"system geometry {device.name} chosen by a user, not read from the report's header"
    orientation = orientation_of(events)
    if isinstance(orientation, NotModelled):
        return orientation
    notes = Assumptions()
    reported_kvp = [kvp for kvp in (event_kvp(e.source) for e in events) if kvp]
    study_kvp = sum(reported_kvp) / len(reported_kvp) if reported_kvp else DEFAULT_KVP_KV
    if not reported_kvp:
        notes.notes.append(f"no event reports a kVp: {DEFAULT_KVP_KV:g} kV assumed")
    event_inputs = tuple(event_input(e, device, study_kvp, notes) for e in events)
    if _table_rotation_reported(events):
        notes.notes.append(
            "table tilt, rotation or cradle angles are reported but not modelled (the engine sets them to 0)"
        )
    plane_b = sum(1 for e in event_inputs if e.acquisition_plane.casefold() == "plane b")
    if plane_b:
        notes.notes.append(PLANE_B_NOTE.format(count=plane_b, system=device.name))
    if chosen_note:
        notes.notes.append(chosen_note)
    if device.note:
        notes.notes.append(device.note)
    if not any(e.air_kerma_rp_mgy > 0 for e in event_inputs):
        return NotModelled("no event reports a dose at the reference point (or DAP and field size to derive it)")
    return SkinDoseInputs(
        device=device,
        patient=patient_size(study.patient),
        orientation=orientation[0],
        orientation_assumed=orientation[1],
        events=event_inputs,
        assumptions=tuple(notes.describe()),
    )


def identify_system(study: model.Study) -> tuple[DeviceGeometry, str] | NotModelled:
    """The system's geometry from the header's Manufacturer and Manufacturer's Model Name, else from
    the RDSR's Device Observer Manufacturer / Model Name (TID 1004), with a note saying so.

    The header is the equipment's own statement and wins; the observer rows are the report's, and
    are what Philips Allura Xper reports carry instead of (0008,1090).
    """
    equipment = study.equipment
    manufacturer = equipment.manufacturer if equipment else None
    found = find_device_geometry(manufacturer, equipment.manufacturer_model_name if equipment else None)
    if not isinstance(found, str):
        return found, ""
    for dose in study.projection_xray_radiation_doses:
        if dose.source_kind != "rdsr" or not dose.device_observer_model_name:
            continue
        observed_manufacturer = dose.device_observer_manufacturer or manufacturer
        observed = find_device_geometry(observed_manufacturer, dose.device_observer_model_name)
        if not isinstance(observed, str):
            unnamed = "" if (observed_manufacturer or "").strip() else "; the report names no manufacturer"
            return observed, (
                f"system identified as {observed.name} from the report's Device Observer Model Name "
                f"'{dose.device_observer_model_name}' (the header's Manufacturer's Model Name does not name it"
                f"{unnamed})"
            )
    return NotModelled(found)


def _missing_geometry(events: Sequence[model.ProjectionIrradiationEvent]) -> str:
    """Say also what the report lacks, e.g. a mobile C-arm that reports no table at all."""
    has_table = any(
        e.mechanical is not None
        and any(
            v is not None
            for v in (
                e.mechanical.table_longitudinal_position_mm,
                e.mechanical.table_lateral_position_mm,
                e.mechanical.table_height_position_mm,
            )
        )
        for e in events
    )
    has_angles = any(e.mechanical is not None and e.mechanical.positioner_primary_angle_deg is not None for e in events)
    missing = [
        text for present, text in ((has_table, "table positions"), (has_angles, "positioner angles")) if not present
    ]
    return f"; the report also gives no {' and no '.join(missing)}" if missing else ""
