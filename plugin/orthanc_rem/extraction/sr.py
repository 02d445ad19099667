"""Reading SR content trees (PS3.3 C.17.3) without knowing which template built them.

A content item is a ``pydicom.Dataset`` with a ValueType, a ConceptNameCodeSequence and, for
containers, a ContentSequence. The template modules (``tid10011`` …) ask this module for the
children of an item by concept and for their values, already converted to the unit they want.

Everything here is forgiving about what is *absent* (it returns ``None``) and never stores what is
*wrong*. Two kinds of wrong, read by :func:`read_item`:

* a value that cannot be a measurement (text where a number belongs, NaN or ±Infinity, a negative
  dose) raises :class:`InvalidValue`: the item is left empty with a warning on the object, never
  stored and never a reason to lose the report;
* an item of the wrong value type or a unit we do not know raises :class:`ExtractionError` naming
  the item. For an optional item that is a warning too; for an item the template requires (the
  dose values of an event: CTDIvol, DLP, DAP, dose at the RP, AGD and their totals) it rejects the
  report, because a report whose doses we cannot interpret is quarantined for a fix and a re-run.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import TypeVar

from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

from orthanc_rem.extraction.records import Code, ExtractionError

ContentItem = Dataset
T = TypeVar("T")

#: SNOMED concepts that PS3.16 re-coded from the retired SNOMED-RT ("SRT") designators to SNOMED CT
#: ("SCT") in 2019 (CP-1850). Older reports (all of our corpus) send the SRT code, newer ones the SCT
#: code, for the same concept; only the concepts the CT templates look at or interpret are listed.
#: Values taken from PS3.16 Annex O (also pydicom.sr._snomed_dict).
SRT_TO_SCT: dict[str, str] = {
    "G-C0E8": "363703001",  # Has Intent
    "G-C32C": "408730004",  # Procedure Context
    "G-C036": "370129005",  # Measurement Method
    "R-0038D": "373066001",  # Yes
    "R-00339": "373067005",  # No
    "P5-08000": "77477000",  # Computed Tomography X-Ray (procedure reported)
    "P5-08001": "116152004",  # Spiral Acquisition
}

#: Designators that name the same coding scheme: "SNM3" is SNOMED 3 as early implementations sent it,
#: before PS3.16 settled on "SRT".
_SCHEME_ALIASES = {"SNM3": "SRT"}


@lru_cache(maxsize=4096)
def canonical_code(value: str, scheme: str | None) -> tuple[str, str]:
    """The (scheme, value) a code is compared by: SRT codes that moved to SCT compare as SCT.

    Cached: a report asks this for the same few hundred codes thousands of times."""
    scheme = (scheme or "").strip().upper()
    scheme = _SCHEME_ALIASES.get(scheme, scheme)
    value = value.strip()
    if scheme == "SRT" and value in SRT_TO_SCT:
        return "SCT", SRT_TO_SCT[value]
    return scheme, value


def same_concept(a: Code | None, b: Code) -> bool:
    """True when ``a`` and ``b`` are the same concept, whatever SNOMED generation encoded it.

    A missing scheme designator (seen in hand-made reports) matches on the code value alone.
    """
    if a is None:
        return False
    scheme_a, value_a = canonical_code(a.value, a.scheme)
    scheme_b, value_b = canonical_code(b.value, b.scheme)
    if not scheme_a or not scheme_b:
        return a.value.strip() == b.value.strip()
    return (scheme_a, value_a) == (scheme_b, value_b)


# --- text -------------------------------------------------------------------------------------------


def clean_text(value: object) -> str | None:
    """A header or SR value as one string: multi-values joined with a backslash as DICOM encodes
    them, bytes decoded without ever failing, surrounding spaces/NULs stripped, empty -> None."""
    if value is None:
        return None
    if type(value) is str:  # most values: checked first, the isinstance tests below cost more
        text = value
    elif isinstance(value, bytes):
        try:
            text = value.decode("utf-8")
        except UnicodeDecodeError:
            text = value.decode("latin-1")
    elif isinstance(value, MultiValue | list | tuple):
        parts = [clean_text(v) or "" for v in value]
        text = "\\".join(parts)
    else:
        text = str(value)
    if "\x1b" in text:
        text = _LEFTOVER_ESCAPE.sub("", text)
    text = text.strip(" \t\r\n\x00")
    return text or None


#: ISO 2022 escape sequences (PS3.5 6.1.2.5) that survived decoding: pydicom hands "ISO 2022 IR 58"
#: (GB2312) text to Python's gb2312 codec with its ESC $ ) A still in front.
_LEFTOVER_ESCAPE = re.compile("\x1b[\x20-\x2f]+[\x40-\x7e]")


def dataset_text(ds: Dataset, keyword: str) -> str | None:
    """Read a text attribute that must never crash an import.

    pydicom decodes with the SpecificCharacterSet; a wrong or unknown character set normally only
    warns, but should decoding raise anyway we fall back to the raw bytes (UTF-8, else Latin-1).
    """
    try:
        return clean_text(ds.get(keyword))
    except Exception:  # noqa: BLE001 - a bad character set must not lose the dose report
        try:
            raw = ds.get_item(keyword)
        except Exception:  # noqa: BLE001
            return None
        return clean_text(getattr(raw, "value", None))


# --- dates and times (PS3.5 6.2 DA, TM, DT) ---------------------------------------------------------

_DA = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_TM = re.compile(r"^(\d{2})(\d{2})?(\d{2})?(?:\.(\d*))?$")
_DT = re.compile(r"^(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(?:\.(\d*))?([+-]\d{4})?$")


def _strip(value: object) -> str:
    return (clean_text(value) or "").replace(" ", "")


def _micro(fraction: str | None) -> int:
    return int((fraction or "0")[:6].ljust(6, "0"))


def _date(year: str, month: str | None, day: str | None) -> dt.date | None:
    try:
        return dt.date(int(year), int(month or 1), int(day or 1))
    except ValueError:
        return None


def _time(hour: str | None, minute: str | None, second: str | None, fraction: str | None) -> dt.time | None:
    # A leap second ("60") is legal in DICOM but not in Python: keep the wall clock at :59.
    try:
        return dt.time(int(hour or 0), int(minute or 0), min(int(second or 0), 59), _micro(fraction))
    except ValueError:
        return None


def parse_da(value: object) -> dt.date | None:
    """DA ``YYYYMMDD``; tolerates the ACR-NEMA ``YYYY.MM.DD`` and ISO ``YYYY-MM-DD`` forms."""
    if isinstance(value, dt.date):
        return value
    text = _strip(value).replace(".", "").replace("-", "")
    match = _DA.match(text)
    return _date(*match.groups()) if match else None


def parse_tm(value: object) -> dt.time | None:
    """TM ``HHMMSS.FFFFFF`` with any trailing part missing; tolerates ``HH:MM:SS`` and long fractions."""
    if isinstance(value, dt.time):
        return value
    match = _TM.match(_strip(value).replace(":", ""))
    return _time(*match.groups()) if match else None


def parse_dt(value: object) -> dt.datetime | None:
    """DT ``YYYYMMDDHHMMSS.FFFFFF&ZZXX`` with any trailing part missing.

    The result is the scanner's local wall-clock time, without zone: the study date and time in the
    header carry no offset, and event times must stay comparable with them. A UTC offset suffix
    (PS3.5 Table 6.2-1) is therefore accepted and dropped.
    """
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None)
    text = _strip(value).replace(":", "")
    if re.match(r"^\d{4}-\d{2}-\d{2}", text):  # ISO 8601 from hand-made or converted reports
        text = text[:10].replace("-", "") + text[10:].lstrip("T")
    match = _DT.match(text)
    if not match:
        return None
    year, month, day, hour, minute, second, fraction, _offset = match.groups()
    date = _date(year, month, day)
    time = _time(hour, minute, second, fraction)
    if date is None or time is None:
        return None
    return dt.datetime.combine(date, time)


def combine_date_time(date: dt.date | None, time: dt.time | None) -> dt.datetime | None:
    """A datetime from separate DA and TM attributes (midnight when only the date is known)."""
    if date is None:
        return None
    return dt.datetime.combine(date, time or dt.time())


# --- units (UCUM, PS3.16 CID 82) --------------------------------------------------------------------

#: UCUM code -> (dimension, factor to the dimension's base unit). Only the units dose reports use.
_UNITS: dict[str, tuple[str, float]] = {
    "m": ("length", 1.0),
    "cm": ("length", 1e-2),
    "mm": ("length", 1e-3),
    "um": ("length", 1e-6),
    "Gy": ("absorbed dose", 1.0),
    "dGy": ("absorbed dose", 1e-1),
    "cGy": ("absorbed dose", 1e-2),
    "mGy": ("absorbed dose", 1e-3),
    "uGy": ("absorbed dose", 1e-6),
    "Gy.m": ("dose length product", 1.0),
    "Gy.cm": ("dose length product", 1e-2),
    "mGy.cm": ("dose length product", 1e-5),
    "mGy.mm": ("dose length product", 1e-6),
    "Sv": ("effective dose", 1.0),
    "mSv": ("effective dose", 1e-3),
    "uSv": ("effective dose", 1e-6),
    "mSv/(mGy.cm)": ("effective dose per DLP", 1.0),
    "mSv/mGy/cm": ("effective dose per DLP", 1.0),
    "mGy/(mA.s)": ("CTDI per mAs", 1.0),
    "mGy/mA/s": ("CTDI per mAs", 1.0),
    "s": ("time", 1.0),
    "ms": ("time", 1e-3),
    "us": ("time", 1e-6),
    "min": ("time", 60.0),
    "A": ("current", 1.0),
    "mA": ("current", 1e-3),
    "uA": ("current", 1e-6),
    "kV": ("voltage", 1e3),
    "V": ("voltage", 1.0),
    "1": ("ratio", 1.0),
    "{ratio}": ("ratio", 1.0),
    # projection X-ray dosimetry (TID 10001-10007)
    "Gy.m2": ("dose area product", 1.0),
    "dGy.m2": ("dose area product", 1e-1),
    "cGy.m2": ("dose area product", 1e-2),
    "mGy.m2": ("dose area product", 1e-3),
    "uGy.m2": ("dose area product", 1e-6),
    "Gy.cm2": ("dose area product", 1e-4),
    "dGy.cm2": ("dose area product", 1e-5),
    "cGy.cm2": ("dose area product", 1e-6),
    "mGy.cm2": ("dose area product", 1e-7),
    "uGy.cm2": ("dose area product", 1e-10),
    "m2": ("area", 1.0),
    "dm2": ("area", 1e-2),
    "cm2": ("area", 1e-4),
    "mm2": ("area", 1e-6),
    "A.s": ("current-time product", 1.0),
    "mA.s": ("current-time product", 1e-3),
    "uA.s": ("current-time product", 1e-6),
    "deg": ("plane angle", 1.0),
    "{pulse}/s": ("pulse rate", 1.0),
    "/s": ("pulse rate", 1.0),
    "N": ("force", 1.0),
    "dN": ("force", 1e-1),
    "daN": ("force", 10.0),
    "%": ("percentage", 1.0),
}

#: Non-UCUM spellings seen from real scanners, mapped to what they mean.
#: "mGycm": Siemens (syngo CT 2011-2018) and GE Optima/VCT Enhanced SR, for the DLP.
#: "mGy/mA.s", "mGy/mAs": how PS3.16 itself writes the CTDIfreeair calculation factor.
UNIT_ALIASES: dict[str, str] = {
    "mGycm": "mGy.cm",
    "mGy/mA.s": "mGy/(mA.s)",
    "mGy/mAs": "mGy/(mA.s)",
    "mSv/mGy.cm": "mSv/(mGy.cm)",
    "ratio": "{ratio}",
    # projection X-ray reports: Siemens AXIOM-Artis/Fluorospot, Siemens/Hologic, GE OEC/Super-C
    "Gym2": "Gy.m2",
    "uAs": "uA.s",
    "pulse/s": "{pulse}/s",
}


class UnitError(ExtractionError):
    """A NUM carries a unit we do not know, or one of another dimension than the concept needs."""


class InvalidValue(ExtractionError):
    """A value that is present but cannot be a measurement: not a number, NaN or ±Infinity (which
    would also make the JSON API invalid for strict parsers), a negative dose. Always left empty
    with a warning (issue 6: "store no non-finite number; a negative dose ... is an invalid value")."""


#: Dimensions whose values cannot be below zero: a negative dose, DLP, DAP, AGD or CTDIvol is an
#: invalid value, whatever concept carries it. Lengths, positions and angles may be negative.
NON_NEGATIVE_DIMENSIONS = frozenset({"absorbed dose", "dose length product", "dose area product", "effective dose"})


def dimension_of(unit: str) -> str:
    """The dimension of a UCUM unit this importer knows (``"absorbed dose"`` for ``"mGy"``)."""
    return _UNITS[UNIT_ALIASES.get(unit, unit)][0]


def measured_number(value: object, where: str) -> float | None:
    """One numeric value (DS text, IS, FD ...) as a finite float; None when empty.

    The single place where a number from a report becomes a float: SR NUMs (``num``, the projection
    NUM readers) and image header attributes (``image_headers.header_numbers``) all come through here,
    so that "1/2", "NaN" or "Infinity" are refused the same way everywhere."""
    if value is None or (isinstance(value, str | bytes) and not value.strip()):
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (ValueError, TypeError, OverflowError) as exc:
        raise InvalidValue(f"{where}: numeric value {clean_text(value)!r} is not a number") from exc
    if not math.isfinite(number):
        raise InvalidValue(f"{where}: numeric value {clean_text(value)!r} is not a finite number")
    return number


def checked_measurement(number: float, unit: str, where: str) -> float:
    """``number`` (already in ``unit``) refused when its dimension cannot be negative."""
    if number < 0 and dimension_of(unit) in NON_NEGATIVE_DIMENSIONS:
        raise InvalidValue(f"{where}: {number:g} {unit} is negative, which a {dimension_of(unit)} cannot be")
    return number


def convert(value: float, unit: str | None, to: str) -> float:
    """``value`` expressed in ``unit`` (a UCUM code from the report) converted to ``to``."""
    source = UNIT_ALIASES.get((unit or "").strip(), (unit or "").strip())
    if source not in _UNITS:
        raise UnitError(f"unit {unit!r} is not a unit this importer knows (wanted {to})")
    dimension, factor = _UNITS[source]
    wanted_dimension, wanted_factor = _UNITS[to]
    if dimension != wanted_dimension:
        raise UnitError(f"unit {unit!r} is a {dimension}, not a {wanted_dimension} like {to}")
    if factor == wanted_factor:
        return value
    return value * factor / wanted_factor


# --- content items ----------------------------------------------------------------------------------


def code_from(sequence: object) -> Code | None:
    """The first item of a code sequence as a :class:`Code`; None when absent or empty."""
    if not sequence:
        return None
    item = sequence[0]  # type: ignore[index]
    value = clean_text(item.get("CodeValue")) or clean_text(item.get("LongCodeValue"))
    value = value or clean_text(item.get("URNCodeValue"))
    if value is None:
        return None
    return Code(value, clean_text(item.get("CodingSchemeDesignator")), clean_text(item.get("CodeMeaning")))


def concept_of(item: ContentItem) -> Code | None:
    return code_from(item.get("ConceptNameCodeSequence"))


def label(item: ContentItem) -> str:
    """How error messages name an item: its meaning and code, as a physicist would look it up."""
    concept = concept_of(item)
    if concept is None:
        return "content item without concept name"
    return f"{concept.meaning or '?'} ({concept.value}, {concept.scheme or '?'})"


def children(parent: ContentItem, concept: Code) -> list[ContentItem]:
    """Direct children of ``parent`` whose concept name is ``concept``, in document order."""
    index = _children_index(parent)
    scheme, value = canonical_code(concept.value, concept.scheme)
    if not scheme:  # a wanted concept without scheme matches on the value alone
        found = [entry for key, entries in index.items() if key[1] == value for entry in entries]
    else:
        found = index.get((scheme, value), []) + index.get(("", value), [])
    if len(found) > 1:
        found.sort(key=lambda entry: entry[0])
    return [item for _, item in found]


_INDEX_ATTRIBUTE = "_orthanc_rem_children_by_concept"


def _children_index(parent: ContentItem) -> dict[tuple[str, str], list[tuple[int, ContentItem]]]:
    """Children grouped by canonical concept, computed once per container.

    A template reader asks each container for twenty-odd concepts; scanning and decoding every
    child's concept name each time made a 27-event GE report take >100 ms. The index is kept as a
    plain Python attribute of the Dataset (set with ``object.__setattr__``, so pydicom never sees it
    as a DICOM element and never writes it); it assumes the tree is not edited while being read.
    """
    cached = vars(parent).get(_INDEX_ATTRIBUTE)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    index: dict[tuple[str, str], list[tuple[int, ContentItem]]] = {}
    for position, item in enumerate(parent.get("ContentSequence") or ()):
        concept = concept_of(item)
        if concept is not None:
            index.setdefault(canonical_code(concept.value, concept.scheme), []).append((position, item))
    object.__setattr__(parent, _INDEX_ATTRIBUTE, index)
    return index


def first_child(parent: ContentItem, concept: Code, warnings: list[str]) -> ContentItem | None:
    """The child with that concept; a repeated single-valued item is a warning, the first one wins."""
    found = children(parent, concept)
    if len(found) > 1:
        warnings.append(f"{concept.meaning} ({concept.value}) appears {len(found)} times; the first is used")
    return found[0] if found else None


@contextmanager
def within(where: str) -> Iterator[None]:
    """Prefix any extraction error raised inside with the container it happened in."""
    try:
        yield
    except ExtractionError as exc:
        raise type(exc)(f"{where} > {exc}") from exc


def _expect(item: ContentItem, *value_types: str) -> None:
    found = clean_text(item.get("ValueType"))
    if found not in value_types:
        raise ExtractionError(f"{label(item)}: expected value type {'/'.join(value_types)}, found {found}")


def num(item: ContentItem, unit: str) -> float | None:
    """A NUM value in ``unit``; None when the measured value is absent (PS3.3 C.18.1: an empty
    MeasuredValueSequence with a NumericValueQualifier, e.g. "value unknown")."""
    _expect(item, "NUM")
    measured = item.get("MeasuredValueSequence")
    if not measured:
        return None
    value = _number(item, measured[0])
    if value is None:
        return None
    units = code_from(measured[0].get("MeasurementUnitsCodeSequence"))
    try:
        converted = convert(value, units.value if units else None, unit)
    except UnitError as exc:
        raise UnitError(f"{label(item)}: {exc}") from exc
    return checked_measurement(converted, unit, label(item))


def count(item: ContentItem) -> int | None:
    """A NUM that counts things ({events}, {X-Ray sources}): the unit is not interpreted because GE
    writes "X-ray sources" without the UCUM braces, which changes nothing about a count."""
    _expect(item, "NUM")
    measured = item.get("MeasuredValueSequence")
    value = _number(item, measured[0]) if measured else None
    if value is None:
        return None
    if value != int(value) or value < 0:
        raise InvalidValue(f"{label(item)}: a count cannot be {value:g}")
    return int(value)


def _number(item: ContentItem, measured: Dataset) -> float | None:
    """Prefer the Floating Point Value (0040,A161) when present: PS3.3 C.18.1.1 says it carries the
    precision the decimal string cannot."""
    try:
        value = measured.get("FloatingPointValue")
        if value is None or isinstance(value, bytes) or (isinstance(value, MultiValue | list) and not value):
            value = measured.get("NumericValue")
    except (ValueError, TypeError, OverflowError) as exc:
        raise InvalidValue(f"{label(item)}: numeric value cannot be read ({exc})") from exc
    if isinstance(value, MultiValue | list):
        value = value[0] if value else None
    return measured_number(value, label(item))


def code(item: ContentItem) -> Code | None:
    _expect(item, "CODE")
    return code_from(item.get("ConceptCodeSequence"))


def text(item: ContentItem) -> str | None:
    _expect(item, "TEXT")
    return dataset_text(item, "TextValue")


def uid(item: ContentItem) -> str | None:
    _expect(item, "UIDREF")
    return dataset_text(item, "UID")


def person_name(item: ContentItem) -> str | None:
    _expect(item, "PNAME")
    return dataset_text(item, "PersonName")


def datetime_(item: ContentItem) -> dt.datetime | None:
    _expect(item, "DATETIME")
    return parse_dt(dataset_text(item, "DateTime"))


def read_item(
    item: ContentItem, read: Callable[[ContentItem], T | None], warnings: list[str], *, required: bool = False
) -> T | None:
    """``read(item)``, with the rule of the module docstring: an invalid value is a warning and
    None; a malformed item (wrong value type, unknown unit) is a warning and None when the item is
    optional and rejects the report (``ExtractionError``) when it is ``required``."""
    try:
        return read(item)
    except InvalidValue as exc:
        warnings.append(f"{exc}; left empty")
        return None
    except ExtractionError as exc:
        if required:
            raise
        warnings.append(f"{exc}; optional item left empty")
        return None


def child_value(
    parent: ContentItem,
    concept: Code,
    read: Callable[[ContentItem], T | None],
    warnings: list[str],
    *,
    required: bool = False,
) -> T | None:
    """Read the value of the (first) child with ``concept`` using ``read`` (``num``, ``code`` …),
    through :func:`read_item`: a malformed child is a warning unless ``required``."""
    item = first_child(parent, concept, warnings)
    return read_item(item, read, warnings, required=required) if item is not None else None


def child_num(
    parent: ContentItem, concept: Code, unit: str, warnings: list[str], *, required: bool = True
) -> float | None:
    """A child NUM in ``unit``. Dose values are ``required``: a wrong value type or unknown unit
    rejects the report. Technique factors pass ``required=False``: a missing value is better than a
    rejected report. An invalid number (text, NaN, negative dose) is a warning either way."""
    return child_value(parent, concept, lambda item: num(item, unit), warnings, required=required)
