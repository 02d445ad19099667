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
values, so the second pass reads some thousands of index entries instead of millions of rows
(1M studies: 30-90 ms, against 1-2 s).

A named group may be several stored groups (protocols that differ by surrounding spaces or case,
systems sharing a display name): its bucket is the union of theirs, one index range per
(protocol, system), sorted together. Without a series per system the protocol's values are read
per system (``equipment_id = ANY(every system)``, and the rows without one): a range of the value
column is only usable below equal keys of the columns before it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Boolean,
    Float,
    Integer,
    Select,
    Text,
    and_,
    any_,
    bindparam,
    cast,
    column,
    func,
    select,
    true,
    union_all,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Session

from orthanc_rem import model
from orthanc_rem.charts import statistics

#: The bucket bounds are exp(b / 64): the index range is widened by this much either way (float
#: rounding of exp against ln), and the bucket itself is tested exactly on the few rows read.
_WIDENED = 1e-9


@dataclass(frozen=True)
class Target:
    """A middle value to find: the ``rank``-th value (from 1) in ``bucket`` of the stored groups
    ``members``: (protocol or None, equipment id or None), or (protocol or None,) without a series
    per system."""

    members: tuple[tuple[Any, ...], ...]
    bucket: int
    rank: int


def bucket_of(value: Any) -> Any:
    """The bucket of ``charts.statistics``' median: floor(ln(value) × 64); the values are above zero."""
    return cast(func.floor(func.ln(value) * statistics.BUCKETS_PER_E), Integer)


def values_at(session: Session, values: Select[Any], value: Any, targets: list[Target],
              per_system: bool) -> list[float]:  # fmt: skip
    """The value of each target, in order, in one statement: per target (a row of a JSON
    parameter, so that the statement is the same whatever the targets and is planned in a
    millisecond; written out per target it took 100 ms to plan), the rows of its bucket in the
    index ranges of its protocols × systems, ordered, at its rank. ``values`` selects ``value`` (a
    ``ct_chart_event`` column) of the filtered rows (``sources.ct_chart_event_values``).

    The protocols × systems of a named group are exactly its stored groups: a pair of a protocol
    and a system of that name that has rows has that name too. The arms of the union are the same
    with NULL protocol and system (``= ANY`` matches no NULL), run only for targets that have one."""
    if not targets:
        return []
    every_system = None if per_system else [int(i) for i in session.execute(select(model.Equipment.id)).scalars()]
    rows = []
    for place, target in enumerate(targets):
        protocols = {member[0] for member in target.members}
        systems = set(every_system) if every_system is not None else {member[1] for member in target.members}
        rows.append({
            "place": place, "bucket": target.bucket, "rank": target.rank,
            "low": math.exp(target.bucket / statistics.BUCKETS_PER_E) * (1 - _WIDENED),
            "high": math.exp((target.bucket + 1) / statistics.BUCKETS_PER_E) * (1 + _WIDENED),
            "protocols": sorted(p for p in protocols if p is not None), "no_protocol": None in protocols,
            "systems": sorted(int(s) for s in systems if s is not None),
            "no_system": every_system is not None or None in systems,
        })  # fmt: skip
    middles = session.execute(_statement(values, value), {"targets": rows})
    found = {int(place): float(middle) for place, middle in middles}
    return [found[place] for place in range(len(targets))]


def _statement(values: Select[Any], value: Any) -> Select[Any]:
    columns = [column("place", Integer), column("bucket", Integer), column("rank", Integer), column("low", Float),
               column("high", Float), column("protocols", ARRAY(Text)), column("no_protocol", Boolean),
               column("systems", ARRAY(Integer)), column("no_system", Boolean)]  # fmt: skip
    targets = func.jsonb_to_recordset(bindparam("targets", type_=JSONB)).table_valued(*columns)
    target = targets.render_derived(name="targets", with_types=True)
    rows = model.CtChartEvent
    in_bucket = values.where(value >= target.c.low, value < target.c.high, bucket_of(value) == target.c.bucket)
    protocol_arms = [rows.acquisition_protocol == any_(target.c.protocols),
                     and_(target.c.no_protocol, rows.acquisition_protocol.is_(None))]  # fmt: skip
    system_arms = [rows.equipment_id == any_(target.c.systems), and_(target.c.no_system, rows.equipment_id.is_(None))]
    arms = union_all(*(in_bucket.where(by_protocol, by_system).correlate(target)
                       for by_protocol in protocol_arms for by_system in system_arms)).subquery("bucket")  # fmt: skip
    middle = (
        select(arms.c.value).order_by(arms.c.value).offset(target.c.rank - 1).limit(1).lateral("middle")
    )
    return select(target.c.place, middle.c.value).select_from(target.join(middle, true()))
