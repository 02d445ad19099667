"""Expected export values read straight from the DICOM objects with pydicom (``sr_facts``), and
helpers to open the files the exports produce with openpyxl and the csv module."""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import Any

import openpyxl
from pydicom.dataset import Dataset

import sr_facts

ACQUISITION_PROTOCOL = "125203"
IRRADIATION_EVENT_TYPE = "113721"
PULSE_RATE = "113791"
XRAY_FILTERS = "113771"
FILTER_MATERIAL = "113757"
FILTER_MINIMUM, FILTER_MAXIMUM = "113758", "113773"
PRIMARY_ANGLE, SECONDARY_ANGLE = "112011", "112012"
DAP = "122130"
COMMENT = "121106"
MEAN_CTDIVOL, DLP = "113830", "113838"
#: Siemens AXIOM-Artis writes the detector field size into the event comment's XML.
II_DIAMETER = re.compile(r'iiDiameter\s+SRData="([0-9.]+)"')

#: OpenREM 0.8.1's common headers (export_common.common_headers), without patient data.
COMMON = [
    "Institution", "Manufacturer", "Model name", "Station name", "Display name", "Accession number",
    "Operator", "Study date", "Study time", "Age", "Sex", "Height", "Mass (kg)", "Test patient?",
    "Study description", "Requested procedure", "Study Comments", "No. events",
]  # fmt: skip


def text_value(node: Dataset, code: str) -> str | None:
    item = sr_facts.child(node, code)
    return str(item.TextValue) if item is not None and "TextValue" in item else None


def code_meaning(node: Dataset, code: str) -> str | None:
    item = sr_facts.child(node, code)
    if item is None or not item.get("ConceptCodeSequence"):
        return None
    return str(item.ConceptCodeSequence[0].CodeMeaning)


def number(node: Dataset, code: str) -> float | None:
    values, _ = sr_facts.measured(sr_facts.child(node, code))
    return values[0] if values else None


def ct_events(ds: Dataset) -> list[dict[str, Any]]:
    return [
        {
            "protocol": text_value(acquisition, ACQUISITION_PROTOCOL),
            "ctdivol": (sr_facts.numbers(acquisition, MEAN_CTDIVOL) or [None])[0],
            "dlp": (sr_facts.numbers(acquisition, DLP) or [None])[0],
        }
        for acquisition in sr_facts.ct_acquisitions(ds)
    ]


def fluoro_exposures(ds: Dataset) -> list[dict[str, Any]]:
    """The grouping factors of every irradiation event, as the manual names them."""
    exposures = []
    for event in sr_facts.projection_events(ds):
        comment = text_value(event, COMMENT) or ""
        field = II_DIAMETER.search(comment)
        filters = tuple(
            (code_meaning(f, FILTER_MATERIAL), number(f, FILTER_MINIMUM), number(f, FILTER_MAXIMUM))
            for f in sr_facts.children(event, XRAY_FILTERS)
        )
        exposures.append(
            {
                "key": (
                    code_meaning(event, sr_facts.ACQUISITION_PLANE),
                    text_value(event, ACQUISITION_PROTOCOL),
                    float(field.group(1)) if field else None,
                    number(event, PULSE_RATE),
                    filters,
                    code_meaning(event, IRRADIATION_EVENT_TYPE),
                ),
                "angles": (number(event, PRIMARY_ANGLE), number(event, SECONDARY_ANGLE)),
                "dap": number(event, DAP),
            }
        )
    return exposures


def _matches(first: Any, other: Any) -> bool:
    """A factor the first exposure does not give is ignored (manual: "factors missing from the RDSR")."""
    return first is None or first == other


def _within(first: float | None, other: float | None) -> bool:
    return first is None or (other is not None and abs(other - first) <= 5)


def manual_groups(exposures: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The manual's rule (L5640-5650), relative to each group's first exposure."""
    groups: list[list[dict[str, Any]]] = []
    for exposure in exposures:
        for group in groups:
            first = group[0]
            same = all(_matches(a, b) for a, b in zip(first["key"], exposure["key"], strict=True))
            if same and all(_within(a, b) for a, b in zip(first["angles"], exposure["angles"], strict=True)):
                group.append(exposure)
                break
        else:
            groups.append([exposure])
    return groups


def xlsx_rows(path: Path, sheet: str) -> list[tuple[Any, ...]]:
    workbook = openpyxl.load_workbook(path)
    return list(workbook[sheet].iter_rows(values_only=True))


def csv_rows(path: Path, encoding: str = "utf-8") -> list[list[str]]:
    with path.open(encoding=encoding, newline="") as file:
        return list(csv.reader(file))


def as_dict(header: tuple[Any, ...] | list[str], row: tuple[Any, ...] | list[str]) -> dict[str, Any]:
    return dict(zip(header, row, strict=False))
