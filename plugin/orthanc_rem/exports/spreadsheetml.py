"""A streaming XLSX (SpreadsheetML, ECMA-376 part 1) writer for rows of plain values.

Why our own: an export of 100,000 CT studies is 23 million cells, and openpyxl's write-only mode
(with lxml) serialised some 160,000-200,000 cells per CPU second, xlsxwriter's constant-memory
mode a third more, this module 2 million (``benchmarks/export.py`` compares them on the same
rows). Here one row is one ``str.join`` over a list comprehension: numbers are written with
``repr``, text as inline strings (no shared-string table to hold in memory), dates and times as
serial numbers with a date style, and the escaped form of each text value is remembered because
exports repeat the same few hundred texts. Text longer than Excel's 32,767 characters is cut.

Only what exports need: several sheets, a header row, an autofilter, three date/time styles. Rows
carry no cell references (``r``): the standard makes them optional and readers count positions,
so an empty value is an empty ``<c/>``. The biggest sheet (``streamed``) goes straight into the
zip file; the others, filled in turn as rows come, stream into temporary files copied in at the end.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
import re
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import IO, Any
from xml.sax.saxutils import escape, quoteattr

#: XML 1.0 forbids these characters, and Excel refuses a file that holds them.
NOT_IN_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_RELATIONSHIPS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PACKAGE_RELATIONSHIPS = "http://schemas.openxmlformats.org/package/2006/relationships"
_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
#: 1899-12-30, day zero of Excel's 1900 date system for every date after February 1900.
_EXCEL_EPOCH = dt.date(1899, 12, 30).toordinal()
#: Style indices in ``styles.xml``'s cellXfs: 0 general, then date, time and date-time.
DATE_STYLE, TIME_STYLE, DATETIME_STYLE = 1, 2, 3
#: Texts remembered in their escaped form, by all sheets of a workbook; cleared when full, and only
#: short ones (protocols, names, codes repeat; long comments seldom), so memory stays a few MB.
_TEXT_CACHE_SIZE = 20_000
_CACHED_TEXT_LENGTH = 200
#: Rows collected before one write to the sheet's stream.
_ROWS_PER_WRITE = 200
#: deflate level 1: a sheet of repeated cells compresses to within 10 % of level 6, several times faster.
COMPRESS_LEVEL = 1


def column_letter(number: int) -> str:
    """1 -> A, 27 -> AA (ECMA-376 cell references)."""
    letters = ""
    while number:
        number, remainder = divmod(number - 1, 26)
        letters = chr(65 + remainder) + letters
    return letters


def _number(value: Any) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        return "<c/>"  # NaN and infinities have no SpreadsheetML number
    return f"<c><v>{value!r}</v></c>" if isinstance(value, float) else f"<c><v>{value}</v></c>"


def _boolean(value: bool) -> str:
    return '<c t="b"><v>1</v></c>' if value else '<c t="b"><v>0</v></c>'


def _day_fraction(value: dt.time) -> float:
    return (value.hour * 3600 + value.minute * 60 + value.second + value.microsecond / 1e6) / 86400


def _date(value: dt.date) -> str:
    return f'<c s="{DATE_STYLE}"><v>{value.toordinal() - _EXCEL_EPOCH}</v></c>'


def _time(value: dt.time) -> str:
    return f'<c s="{TIME_STYLE}"><v>{_day_fraction(value)!r}</v></c>'


def _datetime(value: dt.datetime) -> str:
    serial = value.toordinal() - _EXCEL_EPOCH + _day_fraction(value.time())
    return f'<c s="{DATETIME_STYLE}"><v>{serial!r}</v></c>'


#: Excel's limit for one cell ("Total number of characters that a cell can contain").
MAX_CELL_TEXT = 32_767


def inline_text(value: str) -> str:
    text = escape(NOT_IN_XML.sub("", value)[:MAX_CELL_TEXT])
    space = ' xml:space="preserve"' if text != text.strip() else ""
    return f'<c t="inlineStr"><is><t{space}>{text}</t></is></c>'


_CELL: dict[type, Callable[[Any], str]] = {
    int: _number,
    decimal.Decimal: _number,
    bool: _boolean,
    dt.date: _date,
    dt.time: _time,
    dt.datetime: _datetime,
}


class Sheet:
    """One worksheet's XML as a stream of rows."""

    def __init__(self, name: str, stream: IO[bytes], texts: dict[str, str]) -> None:
        self.name = name
        self.rows = 0
        self.autofilter: str | None = None
        self._stream = stream
        self._pending: list[str] = []
        self._texts = texts
        stream.write(f'{_HEAD}<worksheet xmlns="{_MAIN}"><sheetData>'.encode())

    def _text(self, value: str) -> str:
        cell = inline_text(value)
        if len(value) <= _CACHED_TEXT_LENGTH:
            if len(self._texts) >= _TEXT_CACHE_SIZE:
                self._texts.clear()
            self._texts[value] = cell
        return cell

    def append(self, values: Sequence[Any]) -> None:
        """One row. The common types are written inline (this runs 23 million times for 100,000 CT
        studies); anything else by its type's writer, or as its text."""
        texts = self._texts
        cells = [
            "<c/>" if value is None
            else f"<c><v>{value!r}</v></c>" if type(value) is float and math.isfinite(value)
            else (texts.get(value) or self._text(value)) if type(value) is str
            else _CELL.get(type(value), _other)(value)
            for value in values
        ]  # fmt: skip
        self._pending.append(f"<row>{''.join(cells)}</row>")
        self.rows += 1
        if len(self._pending) >= _ROWS_PER_WRITE:
            self._flush()

    def _flush(self) -> None:
        if self._pending:
            self._stream.write("".join(self._pending).encode())
            self._pending.clear()

    def finish(self) -> None:
        self._flush()
        tail = "</sheetData>"
        if self.autofilter:
            tail += f'<autoFilter ref="{self.autofilter}"/>'
        self._stream.write(f"{tail}</worksheet>".encode())


def _other(value: Any) -> str:
    if isinstance(value, bool):
        return _boolean(value)
    if isinstance(value, float):
        return _number(value)
    if isinstance(value, int | decimal.Decimal):
        return _number(value)
    if isinstance(value, dt.datetime):
        return _datetime(value)
    if isinstance(value, dt.date):
        return _date(value)
    if isinstance(value, dt.time):
        return _time(value)
    return inline_text(str(value))


class Workbook:
    """Sheets in the order given; rows go to any of them at any time; :meth:`close` writes the file.

    ``date_format`` and ``time_format`` are Excel number formats (``dd/mm/yyyy``, ``hh:mm:ss``).
    """

    def __init__(
        self, path: Path, sheet_names: Iterable[str], *, streamed: str, date_format: str, time_format: str
    ) -> None:
        self._path = path
        self._formats = (date_format, time_format, f"{date_format} {time_format}")
        self._zip = zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=COMPRESS_LEVEL)
        names = list(sheet_names)
        if len({n.casefold() for n in names}) != len(names):
            raise ValueError("sheet names must differ other than by case")
        self._sheets: dict[str, Sheet] = {}
        self._texts: dict[str, str] = {}
        self._streamed: IO[bytes] = self._zip.open(self._member(names.index(streamed)), "w", force_zip64=True)
        self._temporary: dict[str, IO[bytes]] = {}
        for name in names:
            if name == streamed:
                stream = self._streamed
            else:
                stream = self._temporary[name] = tempfile.TemporaryFile()  # noqa: SIM115 - closed in close()
            self._sheets[name] = Sheet(name, stream, self._texts)

    @staticmethod
    def _member(index: int) -> str:
        return f"xl/worksheets/sheet{index + 1}.xml"

    def sheet(self, name: str) -> Sheet:
        return self._sheets[name]

    def add_sheet(self, name: str) -> Sheet:
        if name.casefold() in {n.casefold() for n in self._sheets}:
            raise ValueError(f"a sheet named {name!r} exists")
        stream = self._temporary[name] = tempfile.TemporaryFile()  # noqa: SIM115 - closed in close()
        sheet = self._sheets[name] = Sheet(name, stream, self._texts)
        return sheet

    @property
    def sheet_names(self) -> list[str]:
        return list(self._sheets)

    def close(self) -> None:
        """Finish every sheet and write the package parts around them."""
        sheets = list(self._sheets.values())
        for sheet in sheets:
            sheet.finish()
        self._streamed.close()
        for index, sheet in enumerate(sheets):
            stream = self._temporary.get(sheet.name)
            if stream is None:
                continue
            stream.seek(0)
            with self._zip.open(self._member(index), "w", force_zip64=True) as member:
                while block := stream.read(1 << 20):
                    member.write(block)
            stream.close()
        self._write_package(sheets)
        self._zip.close()

    def discard(self) -> None:
        """Close everything after a failure; the caller removes the file."""
        for stream in self._temporary.values():
            stream.close()
        try:
            self._streamed.close()
            self._zip.close()
        except (OSError, ValueError, zipfile.BadZipFile):
            pass

    def _write_package(self, sheets: list[Sheet]) -> None:
        content_types = "".join(
            f'<Override PartName="/{self._member(i)}" ContentType="application/'
            f'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
            for i in range(len(sheets))
        )
        self._zip.writestr(
            "[Content_Types].xml",
            f'{_HEAD}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/styles.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
            f"{content_types}</Types>",
        )
        self._zip.writestr(
            "_rels/.rels",
            f'{_HEAD}<Relationships xmlns="{_PACKAGE_RELATIONSHIPS}"><Relationship Id="rId1" '
            f'Type="{_RELATIONSHIPS}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        )
        relationships = "".join(
            f'<Relationship Id="rId{i + 1}" Type="{_RELATIONSHIPS}/worksheet" Target="worksheets/sheet{i + 1}.xml"/>'
            for i in range(len(sheets))
        )
        styles_id = len(sheets) + 1
        self._zip.writestr(
            "xl/_rels/workbook.xml.rels",
            f'{_HEAD}<Relationships xmlns="{_PACKAGE_RELATIONSHIPS}">{relationships}'
            f'<Relationship Id="rId{styles_id}" Type="{_RELATIONSHIPS}/styles" Target="styles.xml"/></Relationships>',
        )
        entries = "".join(
            f'<sheet name={quoteattr(s.name)} sheetId="{i + 1}" r:id="rId{i + 1}"/>' for i, s in enumerate(sheets)
        )
        filters = "".join(
            f'<definedName name="_xlnm._FilterDatabase" localSheetId="{i}" hidden="1">'
            f"{escape(_absolute(s.name, s.autofilter))}</definedName>"
            for i, s in enumerate(sheets)
            if s.autofilter
        )
        self._zip.writestr(
            "xl/workbook.xml",
            f'{_HEAD}<workbook xmlns="{_MAIN}" xmlns:r="{_RELATIONSHIPS}"><sheets>{entries}</sheets>'
            + (f"<definedNames>{filters}</definedNames>" if filters else "")
            + "</workbook>",
        )
        self._zip.writestr("xl/styles.xml", _styles(self._formats))


def _absolute(sheet: str, reference: str) -> str:
    """``'All data'!$A$1:$CP$101`` for ``A1:CP101``."""
    quoted = "'" + sheet.replace("'", "''") + "'"
    corners = ["$" + re.sub(r"(\d+)", r"$\1", corner) for corner in reference.split(":")]
    return f"{quoted}!{':'.join(corners)}"


def _styles(formats: tuple[str, str, str]) -> str:
    """One font, the two fills and the border Excel requires, and the date, time and date-time
    number formats (custom formats are numbered from 164, ECMA-376 §18.8.31)."""
    number_formats = "".join(
        f'<numFmt numFmtId="{164 + i}" formatCode={quoteattr(code)}/>' for i, code in enumerate(formats)
    )
    cell_formats = "".join(
        f'<xf numFmtId="{164 + i}" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
        for i in range(len(formats))
    )
    return (
        f'{_HEAD}<styleSheet xmlns="{_MAIN}">'
        f'<numFmts count="{len(formats)}">{number_formats}</numFmts>'
        '<fonts count="1"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font></fonts>'
        '<fills count="2"><fill><patternFill patternType="none"/></fill>'
        '<fill><patternFill patternType="gray125"/></fill></fills>'
        '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
        '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
        f'<cellXfs count="{len(formats) + 1}"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
        f"{cell_formats}</cellXfs>"
        '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
        "</styleSheet>"
    )
