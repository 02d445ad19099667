"""Units of NUM items and header attributes (UCUM, PS3.16 CID 82): converting to the unit a record
stores, and refusing a value that cannot be a measurement.
"""

from __future__ import annotations

import math

from orthanc_rem.extraction.records import ExtractionError
from orthanc_rem.extraction.sr.text_and_dates import clean_text

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


def measured_number(value: object, where: object) -> float | None:
    """One numeric value (DS text, IS, FD ...) as a finite float; None when empty.

    The single place where a number from a report becomes a float: SR NUMs (``num``, the projection
    NUM readers) and image header attributes (``image_headers.header_numbers``) all come through here,
    so that "1/2", "NaN" or "Infinity" are refused the same way everywhere. ``where`` names the
    value in the message (its ``str``: a keyword, or an SR item's ``ItemLabel``)."""
    if value is None or (isinstance(value, str | bytes) and not value.strip()):
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (ValueError, TypeError, OverflowError) as exc:
        raise InvalidValue(f"{where}: numeric value {clean_text(value)!r} is not a number") from exc
    if not math.isfinite(number):
        raise InvalidValue(f"{where}: numeric value {clean_text(value)!r} is not a finite number")
    return number


def checked_measurement(number: float, unit: str, where: object) -> float:
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
