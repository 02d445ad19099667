"""JSON that every parser reads: no ``NaN``, ``Infinity`` or ``-Infinity`` tokens.

Python's ``json`` writes them by default although RFC 8259 has no such values, and one stored
``inf`` (an old row, or a report whose DAP read "Infinity") made ``/rem/api/studies`` unreadable for
every strict parser. A number that is not finite was not measured, so it is written as ``null``,
the document's word for "not recorded".
"""

from __future__ import annotations

import json
import math
from typing import Any, TextIO


def finite_or_null(value: Any) -> Any:
    """``value`` with every non-finite float, however deep in lists and dicts, replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: finite_or_null(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [finite_or_null(item) for item in value]
    return value


def dumps(value: Any, **options: Any) -> str:
    """``json.dumps`` that cannot write a non-finite number (``allow_nan=False`` guards the rule)."""
    return json.dumps(finite_or_null(value), allow_nan=False, **options)


def dump(value: Any, stream: TextIO, **options: Any) -> None:
    json.dump(finite_or_null(value), stream, allow_nan=False, **options)
