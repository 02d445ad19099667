"""CSV in OpenREM's layout: UTF-8, one study per row, optionally with a byte order mark so that
Excel opens it as UTF-8 (manual L5725-5738 explains the import dialogue otherwise needed)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import IO, Any

from orthanc_rem.exports.columns import Column


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
        self._writer.writerow([v.replace(",", ";") if type(v) is str else v for v in values])
        self.rows += 1

    def note(self, message: str) -> None:
        self._writer.writerow([message])

    def close(self) -> None:
        self._file.close()
