"""The date format of XLSX exports: one setting for the Exports page, the command line and the
workers, kept in the settings row beside the import settings (manual L5557: dates are shown in
the configured format, dd/mm/yyyy unless changed).

An XLSX date is a number with a display format, so the format is Excel's (``dd/mm/yyyy``,
``yyyy-mm-dd``, ``mm/dd/yy``...), checked here so that a typing error cannot produce a file Excel
refuses. CSV exports always write ISO 8601 dates, as OpenREM's do.
"""

from __future__ import annotations

import re

from sqlalchemy.orm import Session

from orthanc_rem import import_settings, model
from orthanc_rem.exports.xlsx_file import DEFAULT_DATE_FORMAT

#: Day, month and year parts (d, dd, ddd, dddd, m..mmmm, yy, yyyy) joined by / - . or a space.
_PART = r"(?:d{1,4}|m{1,4}|yy|yyyy)"
_DATE_FORMAT = re.compile(rf"{_PART}(?:[/\-. ]{_PART}){{0,3}}")


def date_format(session: Session) -> str:
    settings = session.get(model.ImportSettings, 1)
    return settings.export_date_format if settings is not None else DEFAULT_DATE_FORMAT


def check_date_format(value: str) -> str:
    value = value.strip()
    if not _DATE_FORMAT.fullmatch(value) or not {"d", "m", "y"} & set(value):
        raise ValueError(
            f"{value!r} is not a date format: use d, m and y parts joined by / - . or a space, "
            "as dd/mm/yyyy or yyyy-mm-dd"
        )
    return value


def change_date_format(session: Session, value: str) -> None:
    """Exports started from now on use ``value``; the caller commits."""
    import_settings.current(session).export_date_format = check_date_format(value)
