"""How a batch of rows is looked up by the keys of its parents."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, and_

#: A batch whose keys fill at least this share of their range is fetched by the range alone.
DENSE = 0.5


def keys_in(column: Any, keys: Sequence[int]) -> ColumnElement[bool]:
    """Rows whose ``column`` is one of ``keys`` (a batch of ids), and possibly a few more.

    A batch is a slice of the selection's ascending ids. When they fill most of their range (a whole
    list, modalities interleaved) the range alone is asked for, and the callers, which index what
    they read by its parent's key, never look at the rows of the studies in between. A sparse batch
    adds ``IN (keys)``: with the range PostgreSQL walks the foreign-key index; without it it scanned
    whole tables for a 1000-value ``IN`` (300 ms per batch on 300,000 CT events, against 20 ms)."""
    if not keys:
        return column.in_([])  # type: ignore[no-any-return]
    low, high = min(keys), max(keys)
    if len(keys) >= DENSE * (high - low + 1):
        return column.between(low, high)  # type: ignore[no-any-return]
    return and_(column.between(low, high), column.in_(keys))
