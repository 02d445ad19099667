"""CSV in OpenREM's layout: UTF-8, one study per row, optionally with a byte order mark so that
Excel opens it as UTF-8 (manual L5725-5738 explains the import dialogue otherwise needed)."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from typing import IO, Any

from orthanc_rem.exports.columns import Column


def csv_text(value: Any) -> Any:
    """OpenREM's CSV values: None is empty; commas inside text become ';' so that scripts that split
    lines on commas keep working (the file is also properly quoted for real CSV readers)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.replace(",", ";")
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return value


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

    def note(self, message: str) -> None:
        self._writer.writerow([message])

    def close(self) -> None:
        self._file.close()
