"""Text and date values of DICOM attributes and SR items, read without ever failing an import.

Text is decoded forgivingly (a wrong character set falls back to the raw bytes); DA, TM and DT
values follow PS3.5 6.2, with the partial forms real reports send.
"""

from __future__ import annotations

import datetime as dt
import re

from pydicom.dataset import Dataset
from pydicom.multival import MultiValue


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
