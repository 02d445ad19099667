"""XLSX in OpenREM's layout, streamed row by row (``spreadsheetml``) so that memory stays flat.

Sheets (manual L5554-5631): "Summary" (version, date, total exams, frequency tables of study
description, requested procedure and protocol), "All data" (one study per row, events or groups
repeated to the right, autofilter), then one sheet per acquisition protocol in alphabetical
order with one event per row. The sheets' order is fixed before the first row is written (a
protocol first stored during the export gets a sheet at the end); the Summary's rows, known only
at the end, go into its sheet last.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from orthanc_rem.exports.columns import Column, Kind
from orthanc_rem.exports.spreadsheetml import NOT_IN_XML, Sheet, Workbook, column_letter

DEFAULT_DATE_FORMAT = "dd/mm/yyyy"
TIME_FORMAT = "hh:mm:ss"
SUMMARY, ALL_DATA, UNKNOWN = "Summary", "All data", "Unknown"
MAX_SHEET_NAME = 31
_NOT_IN_SHEET_NAMES = re.compile(r"[\[\]:*?/\\]")


def sheet_name(protocol: str | None) -> str:
    """OpenREM's sheet name for a protocol (#58): lower case, spaces and the characters Excel
    forbids become '_', cut to 31 characters; no protocol is "Unknown"."""
    if not protocol or not protocol.strip():
        return UNKNOWN
    name = _NOT_IN_SHEET_NAMES.sub("_", protocol.strip().lower().replace(" ", "_"))
    name = NOT_IN_XML.sub("_", name).strip("'")[:MAX_SHEET_NAME] or UNKNOWN
    if name.casefold() in (SUMMARY.casefold(), ALL_DATA.casefold()):
        name = (name + "_")[:MAX_SHEET_NAME]  # Excel's sheet names are case-insensitive
    return name


class XlsxExport:
    def __init__(
        self,
        path: Path,
        *,
        protocols: Iterable[str | None],
        version: str,
        date_format: str = DEFAULT_DATE_FORMAT,
    ) -> None:
        self._version = version
        names: list[str] = []
        for name in sorted({sheet_name(p) for p in protocols}, key=str.casefold):
            if name.casefold() not in {n.casefold() for n in names}:
                names.append(name)
        self._workbook = Workbook(
            path, [SUMMARY, ALL_DATA, *names], streamed=ALL_DATA, date_format=date_format, time_format=TIME_FORMAT
        )
        self._all_data = self._workbook.sheet(ALL_DATA)
        self._by_fold = {name.casefold(): self._workbook.sheet(name) for name in names}
        self._event_header: list[str] = []
        self._all_data_identifiers: list[int] = []
        self._event_identifiers: list[int] = []
        self._all_data_width = 0
        self.rows = 0
        self.study_descriptions: Counter[str] = Counter()
        self.requested_procedures: Counter[str] = Counter()
        self.protocols: Counter[str] = Counter()

    # --- sheets --------------------------------------------------------------------------------

    def headers(self, all_data: list[Column], protocol_sheet: list[Column]) -> None:
        self._all_data.append([c.header for c in all_data])
        self._all_data_width = len(all_data)
        self._all_data_identifiers = _identifiers(all_data)
        self._event_header = [c.header for c in protocol_sheet]
        self._event_identifiers = _identifiers(protocol_sheet)
        for sheet in self._by_fold.values():
            sheet.append(self._event_header)

    def study(
        self,
        all_data_values: list[Any],
        events: list[tuple[str | None, list[Any]]],
        study_level_values: list[Any],
        study_description: str | None,
        requested_procedure: str | None,
    ) -> None:
        self._all_data.append(_as_text(all_data_values, self._all_data_identifiers))
        self.rows += 1
        self.study_descriptions[study_description or ""] += 1
        self.requested_procedures[requested_procedure or ""] += 1
        study_level_values = _as_text(study_level_values, self._event_identifiers)
        for protocol, values in events:
            self.protocols[protocol or ""] += 1
            self._protocol_sheet(protocol).append([*study_level_values, *values])

    def _protocol_sheet(self, protocol: str | None) -> Sheet:
        name = sheet_name(protocol)
        sheet = self._by_fold.get(name.casefold())
        if sheet is None:  # a protocol first stored after the export started
            sheet = self._by_fold[name.casefold()] = self._workbook.add_sheet(name)
            sheet.append(self._event_header)
        return sheet

    def note(self, message: str) -> None:
        self._all_data.append([message])

    def close(self, exported_at: dt.datetime | None = None) -> None:
        when = exported_at or dt.datetime.now()
        if self._all_data_width:
            self._all_data.autofilter = f"A1:{column_letter(self._all_data_width)}{self.rows + 1}"
        summary = self._workbook.sheet(SUMMARY)
        summary.append([f"XLSX Export from orthanc-rem version {self._version} on {when:%Y-%m-%d %H:%M:%S}"])
        summary.append(["Columns and sheets follow OpenREM 0.8.1's export layout."])
        summary.append([])
        summary.append(["Total number of exams", self.rows])
        summary.append([])
        tables = [
            ("Study Description", self.study_descriptions),
            ("Requested Procedure", self.requested_procedures),
            ("Series Protocol", self.protocols),
        ]
        summary.append([cell for title, _ in tables for cell in (title, "Frequency", None)])
        ordered = [counter.most_common() for _, counter in tables]
        for index in range(max((len(rows) for rows in ordered), default=0)):
            line: list[Any] = []
            for rows in ordered:
                line += [*(rows[index] if index < len(rows) else (None, None)), None]
            summary.append(line)
        self._workbook.close()

    def discard(self) -> None:
        self._workbook.discard()


def _identifiers(columns: list[Column]) -> list[int]:
    return [index for index, column in enumerate(columns) if column.kind == Kind.IDENTIFIER]


def _as_text(values: list[Any], identifiers: list[int]) -> list[Any]:
    """Patient ID and accession number as text, so that leading zeros survive (OpenREM #443)."""
    for index in identifiers:
        if index < len(values) and values[index] is not None and type(values[index]) is not str:
            values = list(values)
            values[index] = str(values[index])
    return values
