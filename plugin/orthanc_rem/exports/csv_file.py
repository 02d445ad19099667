"""CSV in OpenREM's layout: UTF-8, one study per row, optionally with a byte order mark so that
Excel opens it as UTF-8 (manual L5725-5738 explains the import dialogue otherwise needed)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from orthanc_rem.exports.columns import Column

#: Information Separator One (Unit Separator): a control character no DICOM text value may hold
#: (PS3.5 6.2, the default repertoire's control characters are ESC, LF, FF, CR and TAB only).
_UNIT_SEPARATOR = "\x1f"


def csv_text(value: Any) -> Any:
    """OpenREM's CSV values: commas inside text become ';' so that scripts that split lines on commas
    keep working (the file is also properly quoted for real CSV readers). Everything else is left to
    the csv module, which writes None as nothing and dates, times and numbers with ``str``
    (ISO 8601: ``2018-04-13``, ``13:13:29``, ``2018-04-13 13:13:29``)."""
    return value.replace(",", ";") if type(value) is str else value


class CsvExport:
    def __init__(self, path: Path, *, byte_order_mark: bool = False) -> None:
        self._file: IO[str] = path.open("w", encoding="utf-8-sig" if byte_order_mark else "utf-8", newline="")
        self._writer = csv.writer(self._file)
        self.rows = 0

    def header(self, columns: list[Column]) -> None:
        self._writer.writerow([column.header for column in columns])

    def row(self, values: list[Any]) -> None:
        self._writer.writerow([csv_text(v) for v in values])
        self.rows += 1

    def write_rows(self, rows: Sequence[list[Any]]) -> None:
        """Rows as :meth:`row` writes them, without looking at each value in Python (a third of a
        CSV export's time did): the csv module writes the batch with the unit separator between
        values, so every comma left is inside a value and one ``replace`` makes them ';', and a
        second turns the separators into commas. Quoting is unchanged, because a value with a
        comma needs none once it has become ';'. A value holding the separator itself (which no
        valid DICOM text does) shows in the count, and that batch is written value by value."""
        buffer = io.StringIO()
        csv.writer(buffer, delimiter=_UNIT_SEPARATOR).writerows(rows)
        text = buffer.getvalue()
        if text.count(_UNIT_SEPARATOR) == sum(len(row) - 1 for row in rows if row):
            self._file.write(text.replace(",", ";").replace(_UNIT_SEPARATOR, ","))
            self.rows += len(rows)
        else:
            for row in rows:
                self.row(row)

    def write_lines(self, lines: Sequence[str]) -> None:
        """Rows already in CSV text (``ct_csv_postgres``), without their line ends."""
        if lines:
            self._file.write("\r\n".join(lines))
            self._file.write("\r\n")
            self.rows += len(lines)

    def note(self, message: str) -> None:
        self._writer.writerow([message])

    def close(self) -> None:
        self._file.close()
