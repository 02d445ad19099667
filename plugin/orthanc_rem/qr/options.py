"""What a query asks for, validated with the rules of the manual's ``openrem_qr.py``.

Manual, "Query-retrieve using the command line interface": the modality flags cannot be used with
``-sr``; ``--single_date`` cannot be used with ``--dfrom``/``--duntil``; ``--tfrom``/``--tuntil``
require ``--single_date``; ``-tf`` alone searches until 23.59, ``-tt`` alone from 00.00.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

#: The manual's modality choices and the DICOM modalities each one queries, in the order the
#: queries are made (OpenREM's ``all_mods``: DX also asks for CR, fluoroscopy for RF and XA).
#: PET-CT needs no PT query: its CT shows at series level.
MODALITY_GROUPS: dict[str, tuple[str, ...]] = {
    "CT": ("CT",),
    "MG": ("MG",),
    "FL": ("RF", "XA"),
    "DX": ("DX", "CR"),
    "SR": ("SR",),
}
CHOICES = ("CT", "MG", "FL", "DX")


class InvalidQuery(ValueError):
    """A query the manual's command line would refuse; the message says which rule."""


def split_terms(text: str | None) -> tuple[str, ...]:
    """Comma-separated terms as the manual takes them, compared case-insensitively (lower case)."""
    if not text:
        return ()
    return tuple(term.strip().lower() for term in text.split(",") if term.strip())


@dataclass(frozen=True)
class QueryOptions:
    modalities: tuple[str, ...] = ()
    sr_only: bool = False
    date_from: dt.date | None = None
    date_until: dt.date | None = None
    single_date: dt.date | None = None
    time_from: dt.time | None = None
    time_until: dt.time | None = None
    desc_include: tuple[str, ...] = ()
    desc_exclude: tuple[str, ...] = ()
    station_include: tuple[str, ...] = ()
    station_exclude: tuple[str, ...] = ()
    toshiba: bool = False
    #: The manual's "Ignore studies already in the database" (default ticked); ``-dup`` turns it off.
    remove_duplicates: bool = True
    #: Free text the operator may give a saved query, not used by the logic.
    label: str = field(default="", compare=False)

    def validate(self) -> QueryOptions:
        unknown = [m for m in self.modalities if m not in CHOICES]
        if unknown:
            raise InvalidQuery(f"unknown modality {unknown[0]!r}: choose from {', '.join(CHOICES)}")
        if self.sr_only and self.modalities:
            raise InvalidQuery("SR-only cannot be used with modality choices (CT, MG, FL, DX)")
        if not self.sr_only and not self.modalities:
            raise InvalidQuery("choose at least one modality (CT, MG, FL, DX) or SR-only")
        if self.single_date is not None and (self.date_from is not None or self.date_until is not None):
            raise InvalidQuery("a single date cannot be used with date from or date until")
        if (self.time_from is not None or self.time_until is not None) and self.single_date is None:
            raise InvalidQuery("time from and time until need a single date")
        if self.date_from and self.date_until and self.date_from > self.date_until:
            raise InvalidQuery(f"date from {self.date_from} is after date until {self.date_until}")
        if self.time_from and self.time_until and self.time_from > self.time_until:
            raise InvalidQuery(f"time from {self.time_from:%H:%M} is after time until {self.time_until:%H:%M}")
        return self

    @property
    def groups(self) -> tuple[str, ...]:
        """The manual's modality choices, with SR for an SR-only query."""
        return ("SR",) if self.sr_only else tuple(m for m in MODALITY_GROUPS if m in self.modalities)

    @property
    def dicom_modalities(self) -> tuple[str, ...]:
        """Every DICOM modality queried at study level, in query order."""
        return tuple(mod for group in self.groups for mod in MODALITY_GROUPS[group])

    def study_date(self) -> str:
        """The StudyDate matching key: a date, a range, or empty (any date)."""
        if self.single_date is not None:
            return f"{self.single_date:%Y%m%d}"
        start = f"{self.date_from:%Y%m%d}" if self.date_from else ""
        end = f"{self.date_until:%Y%m%d}" if self.date_until else ""
        return f"{start}-{end}" if start or end else ""

    def study_time(self) -> str:
        """The StudyTime matching key, only with a single date (manual, "Querying with time range")."""
        if self.single_date is None or (self.time_from is None and self.time_until is None):
            return ""
        start = self.time_from or dt.time(0, 0)
        end = self.time_until or dt.time(23, 59)
        return f"{start:%H%M}-{end:%H%M}"

    def to_json(self) -> dict[str, Any]:
        return {
            "modalities": list(self.modalities),
            "sr_only": self.sr_only,
            "date_from": self.date_from.isoformat() if self.date_from else None,
            "date_until": self.date_until.isoformat() if self.date_until else None,
            "single_date": self.single_date.isoformat() if self.single_date else None,
            "time_from": self.time_from.strftime("%H%M") if self.time_from else None,
            "time_until": self.time_until.strftime("%H%M") if self.time_until else None,
            "desc_include": list(self.desc_include),
            "desc_exclude": list(self.desc_exclude),
            "station_include": list(self.station_include),
            "station_exclude": list(self.station_exclude),
            "toshiba": self.toshiba,
            "remove_duplicates": self.remove_duplicates,
            "label": self.label,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> QueryOptions:
        def day(name: str) -> dt.date | None:
            return dt.date.fromisoformat(data[name]) if data.get(name) else None

        def clock(name: str) -> dt.time | None:
            return parse_hhmm(data[name]) if data.get(name) else None

        return cls(
            modalities=tuple(data.get("modalities") or ()),
            sr_only=bool(data.get("sr_only")),
            date_from=day("date_from"),
            date_until=day("date_until"),
            single_date=day("single_date"),
            time_from=clock("time_from"),
            time_until=clock("time_until"),
            desc_include=tuple(data.get("desc_include") or ()),
            desc_exclude=tuple(data.get("desc_exclude") or ()),
            station_include=tuple(data.get("station_include") or ()),
            station_exclude=tuple(data.get("station_exclude") or ()),
            toshiba=bool(data.get("toshiba")),
            remove_duplicates=bool(data.get("remove_duplicates", True)),
            label=str(data.get("label") or ""),
        )

    def describe(self) -> list[str]:
        """The first lines of the QR log: what was asked (manual's log: modalities, dates, terms)."""
        lines = [f"Modalities are {list(self.dicom_modalities)}" + (" (SR only studies)" if self.sr_only else "")]
        if self.single_date:
            lines.append(
                f"Single date: {self.single_date}" + (f", time {self.study_time()}" if self.study_time() else "")
            )
        if self.date_from:
            lines.append(f"Date from: {self.date_from}")
        if self.date_until:
            lines.append(f"Date until: {self.date_until}")
        for label, terms in (
            ("Study description include terms are", self.desc_include),
            ("Study description exclude terms are", self.desc_exclude),
            ("Station name include terms are", self.station_include),
            ("Station name exclude terms are", self.station_exclude),
        ):
            if terms:
                lines.append(f"{label} {list(terms)}")
        if self.toshiba:
            lines.append("Attempting to get Toshiba dose images")
        if not self.remove_duplicates:
            lines.append("Retrieving duplicates (objects processed before)")
        return lines


def parse_date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise InvalidQuery(f"{text!r} is not a date in the form YYYY-MM-DD") from exc


def parse_hhmm(text: str) -> dt.time:
    """``hhmm`` as the manual writes times (``1200``); ``12:00`` is accepted too."""
    digits = text.replace(":", "")
    if len(digits) != 4 or not digits.isascii() or not digits.isdigit():
        raise InvalidQuery(f"{text!r} is not a time in the form hhmm")
    try:
        return dt.time(int(digits[:2]), int(digits[2:]))
    except ValueError as exc:
        raise InvalidQuery(f"{text!r} is not a time in the form hhmm") from exc
