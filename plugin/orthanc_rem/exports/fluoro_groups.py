"""Groups of fluoroscopy exposures, as the manual's fluoroscopy XLSX "All data" sheet shows them.

Manual L5633-5657: an exposure joins a group when, compared with the group's *first* exposure, it
has the same plane, protocol, field size, pulse rate, filter material and thickness and event
type, and its primary and secondary angles are within ±5°. A factor the RDSR does not give is
ignored: when the group's first exposure does not give it, it is not compared. Each group gives
its common factors, then the minimum, maximum and mean of the factors that vary.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

ANGLE_TOLERANCE_DEG = 5.0


@dataclass(frozen=True)
class Exposure:
    """One irradiation event with the factors the grouping compares and those it summarises."""

    plane: str | None
    protocol: str | None
    field_size_mm: float | None
    pulse_rate_per_s: float | None
    filter_material: str | None
    filter_thickness: str | None
    event_type: str | None
    primary_angle_deg: float | None
    secondary_angle_deg: float | None
    kvp_kv: float | None = None
    tube_current_ma: float | None = None
    pulse_width_ms: float | None = None
    exposure_time_ms: float | None = None
    dap_gym2: float | None = None
    dose_rp_gy: float | None = None


@dataclass
class ExposureGroup:
    first: Exposure
    members: list[Exposure] = field(default_factory=list)


#: The factors that must be the same as the group's first exposure's.
_SAME = ("plane", "protocol", "field_size_mm", "pulse_rate_per_s", "filter_material", "filter_thickness", "event_type")


def joins(group: ExposureGroup, exposure: Exposure) -> bool:
    """A factor the group's first exposure does not give is not compared (OpenREM only filters on
    the factors the RDSR holds); angles within ``ANGLE_TOLERANCE_DEG`` of the first's."""
    first = group.first
    for name in _SAME:
        wanted = getattr(first, name)
        if wanted is not None and getattr(exposure, name) != wanted:
            return False
    for name in ("primary_angle_deg", "secondary_angle_deg"):
        wanted, angle = getattr(first, name), getattr(exposure, name)
        if wanted is not None and (angle is None or abs(angle - wanted) > ANGLE_TOLERANCE_DEG):
            return False
    return True


def group_exposures(exposures: Sequence[Exposure]) -> list[ExposureGroup]:
    """Groups in the order of their first exposure; an exposure joins the first group it matches."""
    groups: list[ExposureGroup] = []
    for exposure in exposures:
        group = next((g for g in groups if joins(g, exposure)), None)
        if group is None:
            group = ExposureGroup(exposure)
            groups.append(group)
        group.members.append(exposure)
    return groups


def min_max_mean(values: Sequence[float | None]) -> tuple[float | None, float | None, float | None]:
    known = [v for v in values if v is not None]
    if not known:
        return None, None, None
    return min(known), max(known), sum(known) / len(known)


#: The factors each group summarises, with the header words OpenREM uses.
SUMMARISED: tuple[tuple[str, Callable[[Exposure], float | None]], ...] = (
    ("kVp", lambda e: e.kvp_kv),
    ("mA", lambda e: e.tube_current_ma),
    ("pulse width (ms)", lambda e: e.pulse_width_ms),
    ("Exp time (ms)", lambda e: e.exposure_time_ms),
    ("DAP (Gy.m^2)", lambda e: e.dap_gym2),
    ("Ref point dose (Gy)", lambda e: e.dose_rp_gy),
    ("Primary angle", lambda e: e.primary_angle_deg),
    ("Secondary angle", lambda e: e.secondary_angle_deg),
)


def group_values(group: ExposureGroup) -> list[Any]:
    first = group.first
    values: list[Any] = [
        first.event_type,
        first.protocol,
        len(group.members),
        first.plane,
        first.pulse_rate_per_s,
        first.field_size_mm,
        first.filter_material,
        first.filter_thickness,
    ]
    for _, factor in SUMMARISED:
        values += min_max_mean([factor(m) for m in group.members])
    return values
