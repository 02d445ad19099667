"""Which CT systems get their dose read off the dose-summary screen.

The manual's Orthanc example lists {Toshiba, Aquilion} and {GE Medical Systems, Discovery STE}
(feature inventory part 1 §4.5, manual L3738-3744): scanners known to send a screen but no RDSR.
A pair matches when both names occur in the object's Manufacturer and Manufacturer's Model Name,
ignoring case ("TOSHIBA" / "Aquilion ONE" is a Toshiba Aquilion).
"""

from __future__ import annotations

import json
from collections.abc import Iterable

DEFAULT_SYSTEMS: tuple[tuple[str, str], ...] = (("Toshiba", "Aquilion"), ("GE Medical Systems", "Discovery STE"))


def parse_systems(value: object) -> tuple[tuple[str, str], ...]:
    """``[["Toshiba", "Aquilion"], ...]`` from JSON (a list, or its text in an environment variable)."""
    if value is None or value == "":
        return DEFAULT_SYSTEMS
    if isinstance(value, str):
        value = json.loads(value)
    if not isinstance(value, list) or not all(isinstance(p, list | tuple) and len(p) == 2 for p in value):
        raise ValueError(f"ToshibaCtSystems must be a list of [manufacturer, model] pairs, not {value!r}")
    return tuple((str(maker), str(model)) for maker, model in value)


def is_configured(systems: Iterable[tuple[str, str]], manufacturer: str | None, model: str | None) -> bool:
    maker_text, model_text = (manufacturer or "").lower(), (model or "").lower()
    return any(m.lower() in maker_text and n.lower() in model_text for m, n in systems)


def maker_configured(systems: Iterable[tuple[str, str]], manufacturer: str | None) -> bool:
    """The cheap first look, on Orthanc's series index (which keeps the manufacturer, not the model)."""
    maker_text = (manufacturer or "").lower()
    return any(m.lower() in maker_text for m, _ in systems)
