"""The streaming XLSX writer: what every reader must get back (openpyxl here; LibreOffice 7.4 read
the same files by hand, see the commit that added the writer)."""

from __future__ import annotations

import datetime as dt
import decimal
import zipfile
from pathlib import Path

import openpyxl
from lxml import etree

from orthanc_rem.exports.spreadsheetml import Workbook, column_letter

MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"


def _book(path: Path, *names: str) -> Workbook:
    return Workbook(path, names, streamed=names[0], date_format="dd/mm/yyyy", time_format="hh:mm:ss")


def test_values_keep_their_types(tmp_path):
    path = tmp_path / "types.xlsx"
    book = _book(path, "All data")
    row = [
        "text", 3, 2.5, 1e-7, True, None, decimal.Decimal("1.25"), dt.date(2024, 2, 29),
        dt.time(13, 5, 30), dt.datetime(2024, 2, 29, 13, 5, 30), float("nan"), "",
    ]  # fmt: skip
    book.sheet("All data").append(row)
    book.close()
    cells = list(openpyxl.load_workbook(path)["All data"].iter_rows())[0]
    values = [c.value for c in cells]
    assert values[:5] == ["text", 3, 2.5, 1e-7, True]
    assert values[5] is None
    assert values[6] == 1.25
    assert values[7] == dt.datetime(2024, 2, 29) and cells[7].number_format == "dd/mm/yyyy"
    assert values[8] == dt.time(13, 5, 30) and cells[8].number_format == "hh:mm:ss"
    assert values[9] == dt.datetime(2024, 2, 29, 13, 5, 30) and cells[9].number_format == "dd/mm/yyyy hh:mm:ss"
    assert values[10] is None  # NaN has no SpreadsheetML number
    assert [c.data_type for c in cells[:5]] == ["s", "n", "n", "n", "b"]


def test_text_is_escaped_and_cleaned(tmp_path):
    path = tmp_path / "text.xlsx"
    book = _book(path, "S")
    texts = ["<a & b>", ' "quoted" ', "tab\tand\nnew line", "bell\x07gone", "Größe 中心医院", "x" * 40_000]
    book.sheet("S").append(texts)
    book.close()
    values = [c.value for c in list(openpyxl.load_workbook(path)["S"].iter_rows())[0]]
    assert values[:5] == ["<a & b>", ' "quoted" ', "tab\tand\nnew line", "bellgone", "Größe 中心医院"]
    assert values[5] == "x" * 32_767  # Excel's limit for a cell


def test_sheets_in_the_given_order_with_rows_in_any_order_and_an_autofilter(tmp_path):
    path = tmp_path / "sheets.xlsx"
    book = Workbook(path, ["Summary", "All data", "o'brien_protocol"], streamed="All data",
                    date_format="yyyy-mm-dd", time_format="hh:mm")  # fmt: skip
    for n in range(3):
        book.sheet("All data").append([n, f"study {n}"])
        book.sheet("o'brien_protocol").append([n])
    late = book.add_sheet("late")
    late.append(["added while writing"])
    book.sheet("Summary").append(["written last"])
    book.sheet("All data").autofilter = f"A1:{column_letter(2)}3"
    book.close()
    workbook = openpyxl.load_workbook(path)
    assert workbook.sheetnames == ["Summary", "All data", "o'brien_protocol", "late"]
    assert [r for r in workbook["All data"].iter_rows(values_only=True)] == [(0, "study 0"), (1, "study 1"),
                                                                             (2, "study 2")]  # fmt: skip
    assert workbook["All data"].auto_filter.ref == "A1:B3"
    assert workbook["Summary"]["A1"].value == "written last"
    assert workbook["late"]["A1"].value == "added while writing"
    with zipfile.ZipFile(path) as package:
        assert package.testzip() is None
        for name in package.namelist():
            etree.fromstring(package.read(name))  # every part is well-formed XML
        workbook_xml = etree.fromstring(package.read("xl/workbook.xml"))
        (defined,) = workbook_xml.iter(f"{MAIN}definedName")
        assert defined.text == "'All data'!$A$1:$B$3"


def test_column_letters():
    assert [column_letter(n) for n in (1, 26, 27, 52, 53, 702, 703, 16384)] == [
        "A", "Z", "AA", "AZ", "BA", "ZZ", "AAA", "XFD",
    ]  # fmt: skip
