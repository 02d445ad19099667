"""Geometry conventions of the X-ray systems the engine can model.

An RDSR gives table positions and positioner angles in the manufacturer's own frame: where the
table's zero is, which way each axis and angle counts. PySkinDose needs them in its frame, so a
system can only be modelled when its conventions are known. The values come from PySkinDose's
``normalization_settings.json`` (measured by its authors on a Siemens Artis zee, reporting
``AXIOM-Artis``, and a Philips Allura Clarity); the default distances are those systems' nominal
geometry, used only when an event lacks them (and then flagged). A system not listed here is
reported as "not modelled" with the reason: a map from guessed conventions would look exact and
be wrong.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DeviceGeometry:
    """How to read one system's table and positioner values in the engine's frame."""

    key: str
    name: str
    #: Device model as PySkinDose's measured table transmission table names it (k_tab lookup).
    engine_model: str
    translation_offset_cm: tuple[float, float, float]
    #: +1/-1 for the engine's x (from table longitudinal), y (table height), z (table lateral).
    translation_direction: tuple[int, int, int]
    primary_angle_direction: int
    secondary_angle_direction: int
    #: Tube inherent filtration (mm Al) for the HVL table; anode angle is implied by the table.
    inherent_filtration_mmal: float
    default_source_isocenter_cm: float
    default_source_detector_cm: float
    detector_side_length_cm: float
    #: Used when an event has no table height: the table top about 15 cm below the isocentre
    #: (engine Ty = 15 cm), i.e. the reference phantom's centre near the isocentre, as in a
    #: typical cardiac set-up. Flagged whenever it is used.
    default_table_height_mm: float
    note: str = ""


SIEMENS_ARTIS = DeviceGeometry(
    key="siemens-artis",
    name="Siemens Artis (AXIOM-Artis)",
    engine_model="AXIOM-Artis",
    translation_offset_cm=(0.0, 0.0, 0.0),
    translation_direction=(1, 1, 1),
    primary_angle_direction=1,
    secondary_angle_direction=1,
    inherent_filtration_mmal=3.1,
    default_source_isocenter_cm=78.5,
    default_source_detector_cm=120.0,
    detector_side_length_cm=40.0,
    default_table_height_mm=150.0,
)

PHILIPS_ALLURA = DeviceGeometry(
    key="philips-allura",
    name="Philips Allura",
    engine_model="AlluraClarity",
    translation_offset_cm=(-0.3, 105.5, -173.35),
    translation_direction=(1, -1, 1),
    primary_angle_direction=1,
    secondary_angle_direction=-1,
    inherent_filtration_mmal=3.1,
    default_source_isocenter_cm=81.0,
    default_source_detector_cm=119.4,
    detector_side_length_cm=40.0,
    # Allura Xper writes the table height only as its private row (99PHI-IXR-XPER "Table Height
    # Position", read by extraction); this default, the corpus report's 905 mm, serves events without it.
    default_table_height_mm=905.0,
    note="conventions measured on an Allura Clarity; Allura Xper is the same platform (not verified)",
)

#: Geometries a user may assign to a system whose header does not name it (by key).
GEOMETRIES: dict[str, DeviceGeometry] = {g.key: g for g in (SIEMENS_ARTIS, PHILIPS_ALLURA)}

#: (manufacturer prefix, model names) -> geometry; compared case-, space- and dash-insensitively.
_KNOWN_SYSTEMS: tuple[tuple[str, tuple[str, ...], DeviceGeometry], ...] = (
    ("siemens", ("axiomartis",), SIEMENS_ARTIS),
    ("philips", ("alluraclarity", "alluraxper"), PHILIPS_ALLURA),
)


def _folded(text: str | None) -> str:
    return "".join(ch for ch in (text or "").casefold() if ch.isalnum())


def find_device_geometry(manufacturer: str | None, model_name: str | None) -> DeviceGeometry | str:
    """The geometry of a known system, or the reason why the system cannot be modelled.

    A model name alone identifies the system when no manufacturer is given at all (the corpus's
    316-event Allura Xper report has an empty Manufacturer and no Device Observer Manufacturer):
    each model name listed belongs to one manufacturer. A manufacturer that is given must match.
    """
    if not _folded(manufacturer) and not _folded(model_name):
        return "the report's header names no manufacturer or model, so the table and positioner conventions are unknown"
    for prefix, models, geometry in _KNOWN_SYSTEMS:
        manufacturer_matches = not _folded(manufacturer) or _folded(manufacturer).startswith(prefix)
        if manufacturer_matches and _folded(model_name) in models:
            return geometry
    return (
        f"no geometry settings for {manufacturer or '(no manufacturer)'} {model_name or '(no model name)'}: "
        "its table and positioner conventions are not known to the engine"
    )
