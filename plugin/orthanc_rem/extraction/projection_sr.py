"""SR reading that the projection X-ray templates need and ``sr`` does not (yet) offer.

Two gaps, each a candidate to move into ``sr``:

* **several values in one NUM**: pulse-level kVp, tube current and pulse width may come one NUM per
  pulse (GE Senographe Pristina) or as one NUM whose Numeric Value (DS, VM 1-n on the wire) holds
  every pulse (Eurocolumbus Fly4). ``sr.num`` keeps only the first value;
* **SNOMED concepts** the projection templates use, in their SNOMED-RT (``SRT``) and SNOMED CT
  (``SCT``) codings: ``sr.SRT_TO_SCT`` only lists the CT ones.
"""

from __future__ import annotations

from collections.abc import Iterable

from pydicom.multival import MultiValue

from orthanc_rem.extraction import sr
from orthanc_rem.extraction.records import Code, ExtractionError
from orthanc_rem.extraction.sr import ContentItem, InvalidValue, UnitError

# --- units ------------------------------------------------------------------------------------------

# --- numbers ----------------------------------------------------------------------------------------


def measured_values(item: ContentItem) -> tuple[tuple[float, ...], str | None]:
    """Every value of a NUM and the code of its unit; ``()`` when the measured value is absent
    (PS3.3 C.18.1 allows an empty Measured Value Sequence). The Floating Point Value (0040,A161) is
    preferred when present, as in ``sr.num``; every value goes through ``sr.measured_number``, so a
    value that is not a finite number raises ``InvalidValue`` for the whole item."""
    if sr.clean_text(item.get("ValueType")) != "NUM":
        raise ExtractionError(f"{sr.label(item)}: expected value type NUM, found {item.get('ValueType')}")
    measured = item.get("MeasuredValueSequence")
    if not measured:
        return (), None
    units = sr.code_from(measured[0].get("MeasurementUnitsCodeSequence"))
    try:
        raw = measured[0].get("FloatingPointValue")
        if raw is None or isinstance(raw, bytes):
            raw = measured[0].get("NumericValue")
    except (ValueError, TypeError, OverflowError) as exc:
        raise InvalidValue(f"{sr.label(item)}: numeric value cannot be read ({exc})") from exc
    values = raw if isinstance(raw, MultiValue | list | tuple) else [raw]
    numbers = (sr.measured_number(value, sr.label(item)) for value in values)
    return tuple(number for number in numbers if number is not None), units.value if units else None


def values_in(item: ContentItem, unit: str) -> tuple[float, ...]:
    """Every value of a NUM converted to ``unit`` (and refused when negative for a dose)."""
    values, found_unit = measured_values(item)
    if not values:
        return ()
    try:
        converted = tuple(sr.convert(value, found_unit, unit) for value in values)
    except UnitError as exc:
        raise UnitError(f"{sr.label(item)}: {exc}") from exc
    return tuple(sr.checked_measurement(value, unit, sr.label(item)) for value in converted)


def child_num(
    parent: ContentItem, concept: Code, unit: str, warnings: list[str], *, required: bool = True
) -> float | None:
    """A single-valued child NUM in ``unit`` (the first value when a report sends more).

    ``required=False`` for technique factors and optional doses: a wrong value type or unknown unit
    is then a warning and None, as in ``sr.child_num``; required dose values reject the report."""
    item = sr.first_child(parent, concept, warnings)
    if item is None:
        return None
    values = sr.read_item(item, lambda found: values_in(found, unit), warnings, required=required) or ()
    if len(values) > 1:
        warnings.append(f"{concept.meaning} has {len(values)} values; the first is used")
    return values[0] if values else None


def child_nums(parent: ContentItem, concept: Code, unit: str, warnings: list[str]) -> tuple[float, ...]:
    """All values of all children with ``concept``, in document order: pulse-level data, whether one
    NUM per pulse or one NUM with one value per pulse. A malformed item is a warning (technique)."""
    found: list[float] = []
    for item in sr.children(parent, concept):
        found.extend(sr.read_item(item, lambda each: values_in(each, unit), warnings) or ())
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


# --- SNOMED RT / SNOMED CT ------------------------------------------------------------------------------

#: SNOMED CT code -> the SNOMED-RT code older reports send for the same concept (PS3.16 Annex O;
#: checked against pydicom.sr._snomed_dict). Every report of the corpus uses the SRT form.
SCT_TO_SRT: dict[str, str] = {
    "272741003": "G-C171",  # Laterality
    "91723000": "T-D0005",  # Anatomical Structure
    "44491008": "P5-06000",  # Fluoroscopy (irradiation event type)
    "71651007": "P5-40010",  # Mammography (procedure reported)
    "129715009": "F-01710",  # Breast composition
    "414135002": "R-10260",  # Estimated (derivation)
}


def _forms(concept: Code) -> tuple[Code, ...]:
    srt = SCT_TO_SRT.get(concept.value) if (concept.scheme or "").upper() == "SCT" else None
    return (concept,) if srt is None else (concept, Code(srt, "SRT", concept.meaning))


def is_concept(found: Code | None, concept: Code) -> bool:
    """``sr.same_concept`` that also knows the projection concepts' SRT codes."""
    return any(sr.same_concept(found, form) for form in _forms(concept))


def children(parent: ContentItem, concept: Code) -> list[ContentItem]:
    """``sr.children`` for a concept in either of its SNOMED codings."""
    found: list[ContentItem] = []
    for form in _forms(concept):
        found.extend(sr.children(parent, form))
    return found


def first_child(parent: ContentItem, concept: Code, warnings: list[str]) -> ContentItem | None:
    found = children(parent, concept)
    if len(found) > 1:
        warnings.append(f"{concept.meaning} ({concept.value}) appears {len(found)} times; the first is used")
    return found[0] if found else None


def display(item: ContentItem) -> str | None:
    """A TEXT or CODE item as text: Reference Point Definition is TEXT or CODE (CID 10025) in PS3.16,
    and Acquisition Protocol arrives as CODE from some systems."""
    value_type = sr.clean_text(item.get("ValueType"))
    if value_type == "CODE":
        found = sr.code(item)
        return str(found) if found else None
    if value_type == "UIDREF":
        return sr.uid(item)
    return sr.text(item)
