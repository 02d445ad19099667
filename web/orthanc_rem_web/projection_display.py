"""How the fluoroscopy, radiography and mammography pages print a projection X-ray dose report.

Filters are written as the manual's tables write them ("Cu 0.1 mm, Al 1.0 mm", target/filter "W/Rh"),
with the element symbol taken from the material's code meaning (CID 10006 "Copper or Copper
compound"); the fluoroscopy summary adds the events up per plane and irradiation type, as the
manual's fluoroscopy detail page does above its list of events.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Flask

from orthanc_rem import model
from orthanc_rem.study_document import event_dose_rp_gy

#: First word of a CID 10006 / 10016 material meaning -> chemical symbol.
ELEMENTS = {
    "aluminum": "Al", "aluminium": "Al", "copper": "Cu", "molybdenum": "Mo", "rhodium": "Rh",
    "silver": "Ag", "tungsten": "W", "lead": "Pb", "tin": "Sn", "niobium": "Nb", "tantalum": "Ta",
    "titanium": "Ti", "gadolinium": "Gd", "erbium": "Er", "yttrium": "Y", "europium": "Eu",
}  # fmt: skip


def register(app: Flask) -> None:
    for function in (meaning, filters_text, target_filter, field_size, angles):
        app.add_template_filter(function)
    app.add_template_global(irradiation_type_totals)


def meaning(row: Any, prefix: str) -> str:
    """A coded column group of a row as people read it: the code meaning, else the code value."""
    return getattr(row, f"{prefix}_meaning", None) or getattr(row, f"{prefix}_value", None) or ""


def element(material_meaning: str | None, material_value: str | None = None) -> str:
    words = (material_meaning or "").split()
    if words and words[0].lower() in ELEMENTS:
        return ELEMENTS[words[0].lower()]
    return material_meaning or material_value or "?"


def _millimetres(value: float) -> str:
    text = f"{value:.3f}".rstrip("0")
    return text + "0" if text.endswith(".") else text


def _thickness(minimum: float | None, maximum: float | None) -> str:
    if minimum is None or maximum is None or minimum == maximum:
        single = maximum if maximum is not None else minimum
        return "" if single is None else f" {_millimetres(single)} mm"
    return f" {_millimetres(minimum)}–{_millimetres(maximum)} mm"


def filters_text(source: model.XRaySource | None) -> str:
    """The source's filters in their order, e.g. "Cu 0.4 mm, Al 1.0 mm" (a wedge's range as min–max)."""
    if source is None:
        return ""
    return ", ".join(
        element(f.filter_material_meaning, f.filter_material_value)
        + _thickness(f.thickness_minimum_mm, f.thickness_maximum_mm)
        for f in source.filters
    )


def target_filter(source: model.XRaySource | None) -> str:
    """Mammography's anode target and filter, e.g. "W/Rh"."""
    if source is None:
        return ""
    target_meaning, target_value = source.anode_target_material_meaning, source.anode_target_material_value
    target = element(target_meaning, target_value) if target_meaning or target_value else ""
    materials = [element(f.filter_material_meaning, f.filter_material_value) for f in source.filters]
    return "/".join([target, *materials]) if target or materials else ""


def field_size(source: model.XRaySource | None) -> str:
    """Collimated field (height × width, else area) and the image intensifier field size."""
    if source is None:
        return ""
    parts = []
    if source.collimated_field_height_mm is not None and source.collimated_field_width_mm is not None:
        parts.append(f"{_number(source.collimated_field_height_mm)} × {_number(source.collimated_field_width_mm)} mm")
    elif source.collimated_field_area_m2 is not None:
        parts.append(f"{_number(source.collimated_field_area_m2 * 1e4)} cm²")
    if source.ii_field_size_mm is not None:
        parts.append(f"II {_number(source.ii_field_size_mm)} mm")
    return ", ".join(parts)


def angles(mechanical: model.XRayMechanical | None) -> str:
    """Positioner primary / secondary angle, e.g. "0.1° / -0.1°"."""
    if mechanical is None:
        return ""
    values = (mechanical.positioner_primary_angle_deg, mechanical.positioner_secondary_angle_deg)
    if all(v is None for v in values):
        return ""
    return " / ".join("" if v is None else f"{_number(v)}°" for v in values)


def _number(value: float) -> str:
    text = f"{value:.1f}"
    return text.removesuffix(".0")


@dataclass
class IrradiationTypeTotal:
    """One row of the fluoroscopy summary: the events of one plane and irradiation type added up."""

    plane: str
    irradiation_type: str
    number_of_events: int = 0
    dap_gym2: float | None = None
    dose_rp_gy: float | None = None
    duration_s: float | None = None

    def add(self, event: model.ProjectionIrradiationEvent) -> None:
        self.number_of_events += 1
        self.dap_gym2 = _plus(self.dap_gym2, event.dose_area_product_gym2)
        self.dose_rp_gy = _plus(self.dose_rp_gy, event_dose_rp_gy(event))
        self.duration_s = _plus(self.duration_s, event.source.irradiation_duration_s if event.source else None)


def _plus(total: float | None, value: float | None) -> float | None:
    if value is None:
        return total
    return value if total is None else total + value


def irradiation_type_totals(dose: model.ProjectionXRayRadiationDose) -> list[IrradiationTypeTotal]:
    """Per plane (in order of appearance), a row per irradiation type and then the plane's total."""
    planes: dict[str, dict[str, IrradiationTypeTotal]] = {}
    for event in dose.events:
        plane = meaning(event, "acquisition_plane")
        kind = meaning(event, "irradiation_event_type")
        row = planes.setdefault(plane, {}).setdefault(kind, IrradiationTypeTotal(plane, kind))
        row.add(event)
    rows: list[IrradiationTypeTotal] = []
    for plane, kinds in planes.items():
        total = IrradiationTypeTotal(plane, "Total")
        for row in kinds.values():
            rows.append(row)
            total.number_of_events += row.number_of_events
            total.dap_gym2 = _plus(total.dap_gym2, row.dap_gym2)
            total.dose_rp_gy = _plus(total.dose_rp_gy, row.dose_rp_gy)
            total.duration_s = _plus(total.duration_s, row.duration_s)
        rows.append(total)
    return rows
