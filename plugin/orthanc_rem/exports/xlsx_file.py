"""XLSX in OpenREM's layout, written with openpyxl's write-only mode so that memory stays flat.

Sheets (manual L5554-5631): "Summary" (version, date, total exams, frequency tables of study
description, requested procedure and protocol), "All data" (one study per row, events or groups
repeated to the right, autofilter), then one sheet per acquisition protocol in alphabetical
order with one event per row. Every sheet is created before the first row is written, because a
write-only workbook keeps its sheets in creation order; the Summary's rows, known only at the
end, go into its sheet last.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from orthanc_rem.exports.columns import Column, Kind

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
    name = ILLEGAL_CHARACTERS_RE.sub("_", name).strip("'")[:MAX_SHEET_NAME] or UNKNOWN
    if name.casefold() in (SUMMARY.casefold(), ALL_DATA.casefold()):
        name = (name + "_")[:MAX_SHEET_NAME]  # Excel's sheet names are case-insensitive
    return name


def _clean_text(value: Any) -> Any:
    """Text without the control characters the XLSX format cannot hold (openpyxl refuses them)."""
    if isinstance(value, str):
        return ILLEGAL_CHARACTERS_RE.sub("", value)
    return value


class XlsxExport:
    def __init__(
        self,
        path: Path,
        *,
        protocols: Iterable[str | None],
        version: str,
        date_format: str = DEFAULT_DATE_FORMAT,
    ) -> None:
        self._path = path
        self._version = version
        self._date_format = date_format
        self._workbook = Workbook(write_only=True)
        self._summary = self._workbook.create_sheet(SUMMARY)
        self._all_data = self._workbook.create_sheet(ALL_DATA)
        self._sheets: dict[str, WriteOnlyWorksheet] = {}
        for name in sorted({sheet_name(p) for p in protocols}, key=str.casefold):
            if name.casefold() not in {n.casefold() for n in self._sheets}:
                self._sheets[name] = self._workbook.create_sheet(name)
        self._by_fold = {name.casefold(): sheet for name, sheet in self._sheets.items()}
        self._all_data_cells: list[Callable[[Any], Any]] = []
        self._event_cells: list[Callable[[Any], Any]] = []
        self._event_header: list[Column] = []
        self._all_data_width = 0
        self.rows = 0
        self.study_descriptions: Counter[str] = Counter()
        self.requested_procedures: Counter[str] = Counter()
        self.protocols: Counter[str] = Counter()

    # --- cells ---------------------------------------------------------------------------------

    def _cell_makers(self, sheet: WriteOnlyWorksheet, columns: list[Column]) -> list[Callable[[Any], Any]]:
        def formatted(number_format: str) -> Callable[[Any], Any]:
            def make(value: Any) -> Any:
                if value is None:
                    return None
                cell = WriteOnlyCell(sheet, value)
                cell.number_format = number_format
                return cell

            return make

        def identifier(value: Any) -> Any:
            return None if value is None else _clean_text(str(value))

        def plain(value: Any) -> Any:
            return value

        makers: dict[Kind, Callable[[Any], Any]] = {
            Kind.DATE: formatted(self._date_format),
            Kind.TIME: formatted(TIME_FORMAT),
            Kind.DATETIME: formatted(f"{self._date_format} {TIME_FORMAT}"),
            Kind.IDENTIFIER: identifier,
            Kind.TEXT: _clean_text,
            Kind.NUMBER: plain,
        }
        return [makers[column.kind] for column in columns]

    @staticmethod
    def _cells(makers: list[Callable[[Any], Any]], values: list[Any]) -> list[Any]:
        return [make(value) for make, value in zip(makers, values, strict=False)]

    # --- sheets --------------------------------------------------------------------------------

    def headers(self, all_data: list[Column], protocol_sheet: list[Column]) -> None:
        self._all_data.append([c.header for c in all_data])
        self._all_data_cells = self._cell_makers(self._all_data, all_data)
        self._all_data_width = len(all_data)
        self._event_header = protocol_sheet
        self._event_cells = self._cell_makers(self._all_data, protocol_sheet)
        for sheet in self._sheets.values():
            sheet.append([c.header for c in protocol_sheet])

    def study(
        self,
        all_data_values: list[Any],
        events: list[tuple[str | None, list[Any]]],
        study_level_values: list[Any],
        study_description: str | None,
        requested_procedure: str | None,
    ) -> None:
        self._all_data.append(self._cells(self._all_data_cells, all_data_values))
        self.rows += 1
        self.study_descriptions[study_description or ""] += 1
        self.requested_procedures[requested_procedure or ""] += 1
        for protocol, values in events:
            self.protocols[protocol or ""] += 1
            sheet = self._by_fold.get(sheet_name(protocol).casefold())
            if sheet is None:  # a protocol first stored after the export started
                sheet = self._by_fold[sheet_name(protocol).casefold()] = self._workbook.create_sheet(
                    sheet_name(protocol)
                )
                sheet.append([c.header for c in self._event_header])
            sheet.append(self._cells(self._event_cells, [*study_level_values, *values]))

    def note(self, message: str) -> None:
        self._all_data.append([message])

    def close(self, exported_at: dt.datetime | None = None) -> None:
        when = exported_at or dt.datetime.now()
        if self._all_data_width:
            last = get_column_letter(self._all_data_width)
            self._all_data.auto_filter.ref = f"A1:{last}{self.rows + 1}"
        summary = self._summary
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
            summary.append([_clean_text(v) for v in line])
        self._workbook.save(self._path)
