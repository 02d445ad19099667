"""Column definitions: OpenREM's header text, and what kind of value each column holds.

The kind says how a spreadsheet cell is written: numbers stay numbers (OpenREM #35), dates are
dates in the configured format, and identifiers (patient ID, accession number) are text so that
leading zeros survive (#443). The XLSX writer writes numbers and dates by their Python type (a
date column holds ``datetime.date`` values, a time column ``datetime.time``); only the identifier
kind changes a value.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    TEXT = "text"
    NUMBER = "number"
    DATE = "date"
    TIME = "time"
    DATETIME = "datetime"
    IDENTIFIER = "identifier"


@dataclass(frozen=True)
class Column:
    header: str
    kind: Kind = Kind.NUMBER


def text(header: str) -> Column:
    return Column(header, Kind.TEXT)


def number(header: str) -> Column:
    return Column(header, Kind.NUMBER)


@dataclass(frozen=True)
class PatientData:
    """Which patient identifiable columns an export carries (manual L2535: pid and export groups).

    Any export with names or IDs also carries the date of birth. Values are exported as stored:
    a hashed name or ID is its SHA-256 hex.
    """

    names: bool = False
    ids: bool = False

    @property
    def any(self) -> bool:
        return self.names or self.ids

    @property
    def label(self) -> str:
        if self.names and self.ids:
            return "with names and IDs"
        return "with names" if self.names else "with IDs" if self.ids else ""


def common_columns(modality: str, patient: PatientData) -> list[Column]:
    """OpenREM's ``common_headers``: the study and patient columns every export starts with."""
    columns: list[Column] = []
    if patient.names:
        columns.append(text("Patient name"))
    if patient.ids:
        columns.append(Column("Patient ID", Kind.IDENTIFIER))
    columns += [
        text("Institution"),
        text("Manufacturer"),
        text("Model name"),
        text("Station name"),
        text("Display name"),
        Column("Accession number", Kind.IDENTIFIER),
        text("Operator"),
        Column("Study date", Kind.DATE),
        Column("Study time", Kind.TIME),
    ]
    if patient.any:
        columns.append(Column("Date of birth", Kind.DATE))
    columns += [number("Age"), text("Sex")]
    if modality != "MG":
        columns += [number("Height"), number("Mass (kg)")]
    columns += [
        text("Test patient?"),
        text("Study description"),
        text("Requested procedure"),
        text("Study Comments"),
        number("No. events"),
    ]
    return columns


def repeated(prefix: str, count: int, block: tuple[Column, ...]) -> list[Column]:
    """``E1 Protocol``, ``E1 Type``... ``E2 Protocol``: a block of columns repeated to the right."""
    return [Column(f"{prefix}{n} {column.header}", column.kind) for n in range(1, count + 1) for column in block]
