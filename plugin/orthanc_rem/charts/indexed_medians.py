"""The middle values of the CT acquisition charts' groups, read from the value indexes of
``ct_chart_event`` (migration 0021) instead of a second scan of the table.

The bucketed median (``charts.statistics``, ``charts.named_groups``) first counts the values per
group and per bucket of ``floor(ln(value) × 64)``: the counts say, for each middle value of a named
group, which bucket holds it and its rank there. Its second pass then read the whole table again
to rank the rows of those buckets: about as long as the first pass (1M studies: 1-2 s of a 2-3 s
chart). The indexes on (acquisition_protocol, equipment_id, value), with the columns the list
filters test included (localiser, modality, study date), hold each stored group's values in
order, so a bucket of a group is one short index-only range: ``value`` between the bucket's
bounds, ``ORDER BY value OFFSET rank - 1 LIMIT 1``. A bucket holds about 1.6 % of its group's
values, so the second pass reads some thousands of index entries instead of millions of rows.

A named group may be several stored groups (protocols that differ by surrounding spaces or case,
systems sharing a display name): its bucket is the union of theirs, one index range each, merged
by value. Without a series per system the protocol's values are read per system (``equipment_id
= ANY(every system)``, and the rows without one): a range of the value column is only usable below
equal keys of the columns before it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Integer, Select, cast, func, literal, select, union_all
from sqlalchemy.orm import Session

from orthanc_rem import model
from orthanc_rem.charts import statistics

#: The bucket bounds are exp(b / 64): the index range is widened by this much either way (float
#: rounding of exp against ln), and the bucket itself is tested exactly on the few rows read.
_WIDENED = 1e-9


@dataclass(frozen=True)
class Target:
    """A middle value to find: the ``rank``-th value (from 1) in ``bucket`` of the stored groups
    ``members`` ((protocol or None, equipment id or None); a system of None with ``per_system``
    False: every system)."""

    members: tuple[tuple[Any, ...], ...]
    bucket: int
    rank: int


def bucket_of(value: Any) -> Any:
    """The bucket of ``charts.statistics``' median: floor(ln(value) × 64); the values are above zero."""
    return cast(func.floor(func.ln(value) * statistics.BUCKETS_PER_E), Integer)


def values_at(session: Session, values: Select[Any], value: Any, targets: list[Target],
              per_system: bool) -> list[float]:  # fmt: skip
    """The value of each target, in order, in one statement: per target, the union of its members'
    index ranges, ordered, at its rank. ``values`` selects ``value`` (a ``ct_chart_event`` column)
    of the filtered rows (``sources.ct_chart_event_values``)."""
    if not targets:
        return []
    systems = None if per_system else [int(i) for i in session.execute(select(model.Equipment.id)).scalars()]
    picks = []
    for place, target in enumerate(targets):
        low = math.exp(target.bucket / statistics.BUCKETS_PER_E) * (1 - _WIDENED)
        high = math.exp((target.bucket + 1) / statistics.BUCKETS_PER_E) * (1 + _WIDENED)
        in_bucket = values.where(value >= low, value < high, bucket_of(value) == target.bucket)
        arms = [in_bucket.where(*condition) for member in target.members for condition in _member(member, systems)]
        merged = (arms[0] if len(arms) == 1 else union_all(*arms)).subquery()
        pick = select(literal(place).label("place"), merged.c.value).order_by(merged.c.value)
        picks.append(select(pick.offset(target.rank - 1).limit(1).subquery()))
    query = picks[0] if len(picks) == 1 else union_all(*picks)
    found = {int(place): float(found_value) for place, found_value in session.execute(query)}
    return [found[place] for place in range(len(targets))]


def _member(member: tuple[Any, ...], systems: list[int] | None) -> list[list[Any]]:
    """The index conditions of a stored group (several when it spans every system)."""
    rows = model.CtChartEvent
    protocol = member[0]
    by_protocol = rows.acquisition_protocol.is_(None) if protocol is None else rows.acquisition_protocol == protocol
    if systems is None:
        system = member[1]
        return [[by_protocol, rows.equipment_id.is_(None) if system is None else rows.equipment_id == system]]
    return [[by_protocol, rows.equipment_id.in_(systems)], [by_protocol, rows.equipment_id.is_(None)]]
