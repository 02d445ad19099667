"""Patient height and weight from a CSV file, matched to stored studies (manual L3223-3371).

Dose reports often lack the patient's size, which a department's RIS has. The manual's rules:
the file has a header row; the user names the identifier column (accession number or Study
Instance UID), the height column and the weight column (either may be missing); heights are in
cm in the file and stored in metres as DICOM's Patient's Size (0010,1020); a value already
stored is never overwritten; when an identifier appears more than once only its first row is
used. Each study touched gets a log line saying what was inserted or why not.

The same code runs from the pages (as a background job, ``size_import_jobs``) and from
``orthanc-rem import-sizes``.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from orthanc_rem import model
from orthanc_rem.identifiable_data import sha256_hex

ACCESSION_NUMBER = "accession_number"
STUDY_INSTANCE_UID = "study_instance_uid"
IDENTIFIER_TYPES = {ACCESSION_NUMBER: "Accession number", STUDY_INSTANCE_UID: "Study Instance UID"}
HEIGHT_UNITS = {"cm": 0.01, "m": 1.0}


_NOT_FOUND = "no stored study has this identifier"


class SizeFileError(ValueError):
    """The file or the column choice cannot be used; the message says why, for the user."""


@dataclass(frozen=True)
class SizeColumns:
    """Which header names the user chose, and the unit of the height column."""

    identifier: str
    identifier_type: str = ACCESSION_NUMBER
    height: str | None = None
    weight: str | None = None
    height_unit: str = "cm"

    def check(self, headers: Sequence[str]) -> None:
        if self.identifier_type not in IDENTIFIER_TYPES:
            raise SizeFileError(
                f"the identifier is an accession number or a Study Instance UID, not {self.identifier_type!r}"
            )
        if self.height_unit not in HEIGHT_UNITS:
            raise SizeFileError(f"heights are in cm or m, not {self.height_unit!r}")
        if not self.height and not self.weight:
            raise SizeFileError("choose a height column, a weight column or both")
        for role, name in (("identifier", self.identifier), ("height", self.height), ("weight", self.weight)):
            if name and name not in headers:
                raise SizeFileError(
                    f"the {role} column {name!r} is not in the file's header row ({', '.join(headers)})"
                )


@dataclass(frozen=True)
class SizeTable:
    headers: tuple[str, ...]
    rows: tuple[dict[str, str], ...]


def read_size_file(content: bytes) -> SizeTable:
    """The header row and the data rows of a CSV file (UTF-8 with or without BOM, else Windows-1252;
    comma, semicolon or tab separated, as spreadsheets save them)."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = content.decode("cp1252", errors="replace")
    if not text.strip():
        raise SizeFileError("the file is empty")
    first_line = text.splitlines()[0]
    delimiter = max((",", ";", "\t"), key=first_line.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        all_rows = [row for row in reader if any(cell.strip() for cell in row)]
    except csv.Error as exc:
        raise SizeFileError(f"the file is not readable as CSV: {exc}") from exc
    headers = tuple(cell.strip() for cell in all_rows[0])
    if len(set(headers)) < len(headers):
        raise SizeFileError("two columns of the header row have the same title; give each its own")
    rows = tuple(
        {header: (row[i].strip() if i < len(row) else "") for i, header in enumerate(headers)} for row in all_rows[1:]
    )
    return SizeTable(headers, rows)


@dataclass
class SizeImportSummary:
    rows: int = 0
    heights_inserted: int = 0
    weights_inserted: int = 0
    not_found: int = 0
    repeated: int = 0
    lines: list[str] = field(default_factory=list)


def _number(text: str, what: str) -> tuple[float | None, str | None]:
    """A positive finite number from a cell ("166.5" or "166,5"), or why not."""
    if not text:
        return None, None
    cleaned = text.replace(",", ".") if "." not in text else text
    try:
        value = float(cleaned)
    except ValueError:
        return None, f"{what} {text!r} is not a number"
    if not math.isfinite(value) or value <= 0:
        return None, f"{what} {text!r} is not a positive number"
    return value, None


#: Rows whose studies are looked up with one query (a hospital's file has tens of thousands).
LOOKUP_BATCH = 200


def studies_by_identifier(
    session: Session, identifiers: Collection[str], identifier_type: str
) -> dict[str, list[model.Study]]:
    """The stored studies of each identifier, with their patient rows, in one query.

    An accession number stored as a hash matches the hash of the file's value (manual L3078).
    """
    study = model.Study
    wanted = set(identifiers)
    if not wanted:
        return {}
    found: dict[str, list[model.Study]] = {}
    if identifier_type == STUDY_INSTANCE_UID:
        query = select(study).where(study.study_instance_uid.in_(wanted))
        key_of: Callable[[model.Study], str | None] = lambda s: s.study_instance_uid  # noqa: E731
    else:
        hashes = {sha256_hex(identifier): identifier for identifier in wanted}
        query = select(study).where(study.accession_number.in_([*wanted, *hashes]))

        def key_of(s: model.Study) -> str | None:
            number = s.accession_number or ""
            return hashes.get(number) if s.accession_number_hashed else (number if number in wanted else None)

    for row in session.scalars(query.options(selectinload(study.patient)).order_by(study.id)):
        key = key_of(row)
        if key is not None:
            found.setdefault(key, []).append(row)
    return found


def _format(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def apply_size_row(row: dict[str, str], columns: SizeColumns, studies: list[model.Study]) -> tuple[list[str], int, int]:
    """Store one row's height and weight on its studies where none is stored; returns the log
    lines and how many heights and weights were inserted. Does not commit."""
    identifier = row.get(columns.identifier, "")
    height, height_problem = _number(row.get(columns.height, "") if columns.height else "", "height")
    weight, weight_problem = _number(row.get(columns.weight, "") if columns.weight else "", "weight")
    lines = [f"{identifier}: {problem}, not inserted" for problem in (height_problem, weight_problem) if problem]
    if not studies:
        return [*lines, f"{identifier}: {_NOT_FOUND}"], 0, 0
    heights = weights = 0
    for study in studies:
        patient = study.patient
        if patient is None and (height is not None or weight is not None):
            patient = study.patient = model.Patient()
        if height is not None and patient is not None:
            height_m = height * HEIGHT_UNITS[columns.height_unit]
            if patient.size_m is None:
                patient.size_m = height_m
                heights += 1
                lines.append(f"{identifier}: inserted height of {_format(height)} {columns.height_unit}")
            else:
                lines.append(
                    f"{identifier}: height of {_format(height)} {columns.height_unit} not inserted as "
                    f"{_format(patient.size_m * 100)} cm already in the database"
                )
        if weight is not None and patient is not None:
            if patient.weight_kg is None:
                patient.weight_kg = weight
                weights += 1
                lines.append(f"{identifier}: inserted weight of {_format(weight)} kg")
            else:
                lines.append(
                    f"{identifier}: weight of {_format(weight)} kg not inserted as "
                    f"{_format(patient.weight_kg)} kg already in the database"
                )
    return lines, heights, weights


def import_sizes(
    session: Session,
    table: SizeTable,
    columns: SizeColumns,
    *,
    log: Callable[[str], None] = lambda line: None,
    after_row: Callable[[int], bool] = lambda done: True,
) -> SizeImportSummary:
    """Apply every row, first row per identifier only. ``after_row(rows_done)`` is called after
    each row and may commit progress; returning False stops (an abort). Commits at the end."""
    columns.check(table.headers)
    summary = SizeImportSummary()
    seen: set[str] = set()
    for first in range(0, len(table.rows), LOOKUP_BATCH):
        batch = table.rows[first : first + LOOKUP_BATCH]
        identifiers = {row.get(columns.identifier, "") for row in batch} - seen - {""}
        studies = studies_by_identifier(session, identifiers, columns.identifier_type)
        for number, row in enumerate(batch, start=first + 1):
            summary.rows = number
            for line in _apply_row(row, number, columns, studies, seen, summary):
                summary.lines.append(line)
                log(line)
            if not after_row(number):
                session.commit()
                return summary
    session.commit()
    return summary


def _apply_row(
    row: dict[str, str],
    number: int,
    columns: SizeColumns,
    studies: dict[str, list[model.Study]],
    seen: set[str],
    summary: SizeImportSummary,
) -> list[str]:
    """One row: skipped without an identifier or after an earlier row of it, else applied."""
    identifier = row.get(columns.identifier, "")
    if not identifier:
        return [f"row {number}: no {IDENTIFIER_TYPES[columns.identifier_type].lower()}, skipped"]
    if identifier in seen:
        summary.repeated += 1
        return [f"{identifier}: row {number} not used, the identifier appears in an earlier row"]
    seen.add(identifier)
    lines, heights, weights = apply_size_row(row, columns, studies.get(identifier, []))
    summary.heights_inserted += heights
    summary.weights_inserted += weights
    summary.not_found += identifier not in studies
    return lines


def summary_line(summary: SizeImportSummary) -> str:
    return (
        f"{summary.rows} rows read: {summary.heights_inserted} heights and {summary.weights_inserted} weights "
        f"inserted, {summary.not_found} identifiers not found, {summary.repeated} repeated rows not used"
    )
