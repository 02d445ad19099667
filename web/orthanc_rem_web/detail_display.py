"""What every study detail page does the same way: events in the order they happened, the system
named by the fields it has, and no column left empty from top to bottom.

Radiography and mammography studies gather one event per image in the order the images arrived,
which is not the order they were taken; a table column that no event fills (a room that records no
exposure index, a unit without a grid) only widens the page.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from typing import Any

from flask import Flask
from markupsafe import Markup

_ROW = re.compile(r"(<tr\b[^>]*>)(.*?)(</tr>)", re.DOTALL)
_CELL = re.compile(r"<(td|th)\b[^>]*>.*?</\1>", re.DOTALL)
_TAG = re.compile(r"<[^>]+>")


def register(app: Flask) -> None:
    app.add_template_filter(in_time_order)
    app.add_template_filter(without_empty_columns)
    app.add_template_filter(system_text)


def in_time_order(events: Iterable[Any]) -> list[Any]:
    """Events by their start time (DateTime Started); events without one last, in stored order."""
    return sorted(events, key=lambda e: (e.date_time_started is None, e.date_time_started or dt.datetime.min, e.id))


def system_text(equipment: Any) -> str:
    """"Manufacturer | Model | Station name" with the fields the system has (no "System | |")."""
    if equipment is None:
        return ""
    parts = (equipment.manufacturer, equipment.manufacturer_model_name, equipment.station_name)
    return " | ".join(part for part in parts if part)


def without_empty_columns(table: str) -> Markup:
    """The table without the columns whose body cells are all empty.

    For our own event tables (one ``<td>`` per column in every row, no ``colspan``): the header row
    is the first row; a column is kept when any other row has text in it.
    """
    rows = list(_ROW.finditer(table))
    cells = [[cell.group(0) for cell in _CELL.finditer(row.group(2))] for row in rows]
    if len(cells) < 2 or "colspan" in table or len({len(row) for row in cells}) != 1:
        return Markup(table)
    keep = [any(_TAG.sub("", row[i]).strip() for row in cells[1:]) for i in range(len(cells[0]))]
    result, position = [], 0
    for match, row in zip(rows, cells, strict=True):
        result.append(table[position : match.start()])
        kept = "".join(cell for cell, wanted in zip(row, keep, strict=True) if wanted)
        result.append(f"{match.group(1)}{kept}{match.group(3)}")
        position = match.end()
    result.append(table[position:])
    return Markup("".join(result))
