"""NUM content items (PS3.3 C.18.1): the one reader of measured values, in the unit a record stores.

A NUM may carry several values: pulse-level kVp, tube current and pulse width come one NUM per
pulse (GE Senographe Pristina) or as one NUM whose Numeric Value (DS, VM 1-n on the wire) holds
every pulse (Eurocolumbus Fly4). :func:`measured_values` reads them all; :func:`num` and
:func:`child_num` the single value most concepts have.
"""

from __future__ import annotations

from collections.abc import Iterable

from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

from orthanc_rem.extraction.records import Code
from orthanc_rem.extraction.sr.codes import code_from
from orthanc_rem.extraction.sr.content_items import (
    ContentItem,
    ItemLabel,
    children,
    expect_value_type,
    first_child,
    label,
    read_item,
)
from orthanc_rem.extraction.sr.units import InvalidValue, UnitError, checked_measurement, convert, measured_number


def _raw_values(item: ContentItem, measured: Dataset) -> list[object]:
    """The values of a Measured Value Sequence item as the data set holds them. The Floating Point
    Value (0040,A161) is preferred when present: PS3.3 C.18.1.1 says it carries the precision the
    decimal string cannot."""
    try:
        value = measured.get("FloatingPointValue")
        if value is None or isinstance(value, bytes) or (isinstance(value, MultiValue | list) and not value):
            value = measured.get("NumericValue")
    except (ValueError, TypeError, OverflowError) as exc:
        raise InvalidValue(f"{label(item)}: numeric value cannot be read ({exc})") from exc
    if value is None:
        return []
    return list(value) if isinstance(value, MultiValue | list | tuple) else [value]


def _unit_code(measured: Dataset) -> str | None:
    units = code_from(measured.get("MeasurementUnitsCodeSequence"))
    return units.value if units else None


def _in_unit(item: ContentItem, value: float, found_unit: str | None, unit: str) -> float:
    try:
        converted = convert(value, found_unit, unit)
    except UnitError as exc:
        raise UnitError(f"{label(item)}: {exc}") from exc
    return checked_measurement(converted, unit, ItemLabel(item))


def num(item: ContentItem, unit: str) -> float | None:
    """A NUM value in ``unit``; None when the measured value is absent (PS3.3 C.18.1: an empty
    MeasuredValueSequence with a NumericValueQualifier, e.g. "value unknown")."""
    expect_value_type(item, "NUM")
    measured = item.get("MeasuredValueSequence")
    if not measured:
        return None
    raw = _raw_values(item, measured[0])
    value = measured_number(raw[0], ItemLabel(item)) if raw else None
    if value is None:
        return None
    return _in_unit(item, value, _unit_code(measured[0]), unit)


def count(item: ContentItem) -> int | None:
    """A NUM that counts things ({events}, {X-Ray sources}): the unit is not interpreted because GE
    writes "X-ray sources" without the UCUM braces, which changes nothing about a count."""
    expect_value_type(item, "NUM")
    measured = item.get("MeasuredValueSequence")
    raw = _raw_values(item, measured[0]) if measured else []
    value = measured_number(raw[0], ItemLabel(item)) if raw else None
    if value is None:
        return None
    if value != int(value) or value < 0:
        raise InvalidValue(f"{label(item)}: a count cannot be {value:g}")
    return int(value)


def measured_values(item: ContentItem) -> tuple[tuple[float, ...], str | None]:
    """Every value of a NUM and the code of its unit; ``()`` when the measured value is absent
    (PS3.3 C.18.1 allows an empty Measured Value Sequence). Every value goes through
    ``measured_number``, so a value that is not a finite number raises ``InvalidValue`` for the
    whole item."""
    expect_value_type(item, "NUM")
    measured = item.get("MeasuredValueSequence")
    if not measured:
        return (), None
    where = ItemLabel(item)
    numbers = (measured_number(value, where) for value in _raw_values(item, measured[0]))
    return tuple(number for number in numbers if number is not None), _unit_code(measured[0])


def values_in(item: ContentItem, unit: str) -> tuple[float, ...]:
    """Every value of a NUM converted to ``unit`` (and refused when negative for a dose)."""
    values, found_unit = measured_values(item)
    return tuple(_in_unit(item, value, found_unit, unit) for value in values)


def child_num(
    parent: ContentItem, concept: Code, unit: str, warnings: list[str], *, required: bool = True
) -> float | None:
    """A single-valued child NUM in ``unit`` (the first value when a report sends more, with a
    warning). Dose values are ``required``: a wrong value type or unknown unit rejects the report.
    Technique factors and optional doses pass ``required=False``: a missing value is better than a
    rejected report. An invalid number (text, NaN, negative dose) is a warning either way."""
    item = first_child(parent, concept, warnings)
    if item is None:
        return None
    values = read_item(item, lambda found: values_in(found, unit), warnings, required=required) or ()
    if len(values) > 1:
        warnings.append(f"{concept.meaning} has {len(values)} values; the first is used")
    return values[0] if values else None


def child_nums(parent: ContentItem, concept: Code, unit: str, warnings: list[str]) -> tuple[float, ...]:
    """All values of all children with ``concept``, in document order: pulse-level data, whether one
    NUM per pulse or one NUM with one value per pulse. A malformed item is a warning (technique)."""
    found: list[float] = []
    for item in children(parent, concept):
        found.extend(read_item(item, lambda each: values_in(each, unit), warnings) or ())
    return tuple(found)


def dimensionless(item: ContentItem) -> float | None:
    """The first value of a NUM whose unit carries no dimension (exposure index, number of pulses,
    calibration factor). The unit code is not interpreted: "1", "{pulses}" or a vendor's text all
    mean the same for a pure number."""
    values, _unit = measured_values(item)
    return values[0] if values else None


def mean_without_zeros(values: Iterable[float]) -> float | None:
    """The mean the manual exports for pulse-level kV, mA and pulse width: "the mean value (after
    excluding any zero values)" (OpenREM 0.8.1 documentation, L5657). All zeros average to 0."""
    values = tuple(values)
    if not values:
        return None
    non_zero = [value for value in values if value != 0]
    return sum(non_zero) / len(non_zero) if non_zero else 0.0
