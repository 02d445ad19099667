"""Reading query parameters a user typed: each value checked, a bad one a :class:`BadParameter`
whose message says what is expected (answered with 400), never passed on to SQL.

ASCII digits only: ``\\d`` and ``str.isdigit`` also accept other scripts' digits and "²", which
``int`` then reads differently or not at all.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping

#: The modalities a study is sorted into, in the navigation bar's order.
MODALITIES = ("CT", "RF", "DX", "MG")

_WHOLE_NUMBER = re.compile(r"[0-9]{1,12}")
_DECIMAL = re.compile(r"[0-9]{1,12}(\.[0-9]{1,12})?|\.[0-9]{1,12}")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_YES = {"yes", "true", "1", "on"}
_NO = {"no", "false", "0", "off"}


class BadParameter(ValueError):
    """A parameter the user can fix; answered with 400 and the message."""


def whole_number(parameters: Mapping[str, str], name: str, default: int) -> int:
    """A whole number of 1 or more in ASCII digits (``²`` and ``٣`` are digits to Python, not to us)."""
    text = (parameters.get(name) or "").strip()
    if not text:
        return default
    if not text.isascii() or not text.isdigit():
        raise BadParameter(f"{name} must be a whole number of 1 or more, not {text[:40]!r}.")
    if not _WHOLE_NUMBER.fullmatch(text):
        raise BadParameter(f"{name} must be a whole number of at most 12 digits, not {text[:40]!r}.")
    if int(text) < 1:
        raise BadParameter(f"{name} must be a whole number of 1 or more, not {text!r}.")
    return int(text)


def decimal_number(parameters: Mapping[str, str], name: str) -> float | None:
    """A number of 0 or more written with ASCII digits and an optional decimal point (``12.5``)."""
    text = (parameters.get(name) or "").strip()
    if not text:
        return None
    if not text.isascii() or not _DECIMAL.fullmatch(text):
        raise BadParameter(f"{name} must be a number of 0 or more such as 12.5, not {text[:40]!r}.")
    value = float(text)
    if not math.isfinite(value):  # pragma: no cover - the pattern allows 24 digits at most
        raise BadParameter(f"{name} is too large.")
    return value


def iso_date(parameters: Mapping[str, str], name: str) -> dt.date | None:
    text = (parameters.get(name) or "").strip()
    if not text:
        return None
    try:
        if not _ISO_DATE.fullmatch(text):
            raise ValueError
        return dt.date.fromisoformat(text)
    except ValueError:
        raise BadParameter(f"{name} must be a date written yyyy-mm-dd, not {text[:40]!r}.") from None


def free_text(parameters: Mapping[str, str], name: str) -> str | None:
    """Text to search for, without surrounding spaces; anything but NUL (PostgreSQL text cannot hold it)."""
    text = (parameters.get(name) or "").strip()
    if "\x00" in text:
        raise BadParameter(f"{name} must not contain NUL characters.")
    return text or None


def yes_or_no(parameters: Mapping[str, str], name: str, default: bool) -> bool:
    text = (parameters.get(name) or "").strip().lower()
    if not text:
        return default
    if text in _YES:
        return True
    if text in _NO:
        return False
    raise BadParameter(f"{name} must be yes or no, not {text[:40]!r}.")


def modality(parameters: Mapping[str, str]) -> str | None:
    """The ``modality`` parameter, upper-cased; None when not given."""
    text = (parameters.get("modality") or "").strip()
    if not text:
        return None
    if text.upper() not in MODALITIES:
        raise BadParameter(f"modality must be one of {', '.join(MODALITIES)}, not {text[:40]!r}.")
    return text.upper()
