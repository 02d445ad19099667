"""The CT acquisition charts' statistics grouped by what ``ct_chart_event`` stores, named afterwards.

Grouping by the category as shown ("Blank" for an empty protocol, trimmed, the system's display
name joined from ``equipment``) computes those expressions for each of millions of rows and groups
by text built per row. Grouped instead by the stored protocol and equipment id, the database does
only the counting; the few groups (protocols × systems) are then named here, exactly as
``charts.sources.category`` and ``series`` name them, and groups that get the same name (protocols
that differ only by surrounding spaces, several equipment ids with one display name) are merged.

n, sums and counts per bucket merge by addition; a median does not. On PostgreSQL the median is the
bucketed one of ``charts.statistics``: its counts per (group, bucket of ln(value)) merge like n, the
merged counts say which bucket holds each middle value of the *named* group and its rank there, and
the second pass ranks the rows of all the stored groups that make up the named one together. So
the results are those of grouping by the name, medians included. Below
``statistics.BUCKETED_FROM`` values, and on SQLite (window-function median), the medians are left
to ``charts.statistics`` over the named rows (the caller's fallback): those are small or local.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Integer, Subquery, Text, and_, bindparam, cast, func, select, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from orthanc_rem import model
from orthanc_rem.charts import statistics
from orthanc_rem.charts.options import ChartOptions
from orthanc_rem.charts.sources import ALL_SYSTEMS, BLANK

#: A stored group: (protocol as stored or lower-cased, equipment id or -1) or (protocol,).
Stored = tuple[Any, ...]
Named = tuple[str, str]


@dataclass
class _Group:
    """A named group: what its stored groups add up to."""

    n: int = 0
    total: float = 0.0
    buckets: dict[int, int] = field(default_factory=dict)
    members: list[Stored] = field(default_factory=list)


def _namer(session: Session, options: ChartOptions) -> Callable[[Stored], Named]:
    """(category, series) of a stored group, as ``sources.category`` and ``sources.series`` give them."""
    names: dict[int, str | None] = {}
    if options.series_per_system:
        names = {
            int(id_): name for id_, name in session.execute(select(model.Equipment.id, model.Equipment.display_name))
        }

    def name(stored: Stored) -> Named:
        # SQL's trim() removes spaces only; the protocol is already lower-cased in SQL when asked.
        category = str(stored[0]).strip(" ") or BLANK
        if not options.series_per_system:
            return category, ALL_SYSTEMS
        system = names.get(int(stored[1]))  # None: no system, or no display name (COALESCE)
        return category, BLANK if system is None else system

    return name


def _keys(session: Session, rows: Subquery) -> list[str]:
    return [key for key in ("protocol", "system") if key in rows.c]


def counts(session: Session, rows: Subquery, options: ChartOptions) -> list[dict[str, Any]]:
    """``n`` per named group (the frequency charts)."""
    keys = _keys(session, rows)
    key_columns = statistics.group_keys(session, rows, keys)
    name = _namer(session, options)
    merged: dict[Named, int] = {}
    for row in _parallel(session, select(*key_columns, func.count().label("n")).group_by(*key_columns)):
        named = name(tuple(row[: len(keys)]))
        merged[named] = merged.get(named, 0) + int(row.n)
    return [{"category": category, "series": series, "n": n} for (category, series), n in merged.items()]


def averages(session: Session, rows: Subquery, options: ChartOptions, median: bool) -> list[dict[str, Any]] | None:
    """n, mean and (with ``median``) the median per named group; None when the median is better
    left to ``statistics.grouped_statistics`` over the named rows (SQLite, or few values)."""
    postgres = statistics.dialect(session) == "postgresql"
    if median and not (postgres and statistics.MEDIAN_BY_BUCKETS):
        return None
    keys = _keys(session, rows)
    key_columns = statistics.group_keys(session, rows, keys)
    name = _namer(session, options)
    groups: dict[Named, _Group] = {}
    if median:
        bucket = _bucket(rows)
        query = select(*key_columns, bucket.label("bucket"), func.count().label("n"),
                       func.sum(rows.c.value).label("total")).group_by(*key_columns, bucket)  # fmt: skip
    else:
        query = select(*key_columns, func.count().label("n"), func.sum(rows.c.value).label("total"))
        query = query.group_by(*key_columns)
    for row in _parallel(session, query):
        stored = tuple(row[: len(keys)])
        group = groups.setdefault(name(stored), _Group())
        group.n += int(row.n)
        group.total += float(row.total)
        if stored not in group.members:
            group.members.append(stored)
        if median:
            group.buckets[int(row.bucket)] = group.buckets.get(int(row.bucket), 0) + int(row.n)
    if median and sum(group.n for group in groups.values()) < statistics.BUCKETED_FROM:
        return None
    medians = _medians(session, rows, keys, groups) if median else {}
    return [
        {"category": category, "series": series, "n": group.n, "mean": group.total / group.n,
         "median": medians.get((category, series))}
        for (category, series), group in groups.items()
    ]  # fmt: skip


def _parallel(session: Session, query: Any) -> list[Any]:
    """The rows of a GROUP BY over millions of rows, aggregated in parallel on PostgreSQL.

    The planner guesses a tenth of the rows as groups for expressions it has no statistics on
    (500,000 for the (protocol, system, bucket) counts; there are some 30,000), so that passing
    the workers' partial groups up looks dearer than one process doing it all: 1M studies took
    3.0 s in one process, 1.6 s in parallel on two cores. A tuple from a worker is made free of
    cost for this one statement only (``SET LOCAL``, then ``RESET``). Used for the frequencies and
    means too, whose groups the planner overestimates the same way.
    """
    if statistics.dialect(session) != "postgresql":
        return list(session.execute(query))
    session.execute(text("SET LOCAL parallel_tuple_cost = 0"))
    rows = list(session.execute(query))  # on an error the transaction, and the setting, are rolled back
    session.execute(text("RESET parallel_tuple_cost"))
    return rows


def _bucket(rows: Subquery) -> Any:
    """The bucket of ``charts.statistics``' median: floor(ln(value) × 64); the values are above zero."""
    return cast(func.floor(func.ln(rows.c.value) * statistics.BUCKETS_PER_E), Integer)


def _medians(session: Session, rows: Subquery, keys: list[str], groups: dict[Named, _Group]) -> dict[Named, float]:
    """The median of each named group: which bucket holds each middle rank (from the merged counts),
    then one scan that ranks, per target, the rows of all the group's stored groups in that bucket."""
    targets: list[tuple[Named, int, int]] = []  # (named group, bucket, rank inside the bucket)
    for named, group in groups.items():
        ordered = sorted(group.buckets.items())
        for rank in sorted({(group.n + 1) // 2, (group.n + 2) // 2}):
            below = 0
            for number, n in ordered:
                if rank <= below + n:
                    targets.append((named, number, rank - below))
                    break
                below += n
    # One row per (target, stored group of its named group): the place says which target it is.
    places, protocols, systems, buckets, wanted = [], [], [], [], []
    for place, (named, number, rank) in enumerate(targets, start=1):
        for stored in groups[named].members:
            places.append(place)
            protocols.append(str(stored[0]))
            systems.append(int(stored[1]) if len(keys) > 1 else -1)
            buckets.append(number)
            wanted.append(rank)
    table = func.unnest(
        bindparam("places", places, type_=ARRAY(Integer)), bindparam("protocols", protocols, type_=ARRAY(Text)),
        bindparam("systems", systems, type_=ARRAY(Integer)), bindparam("buckets", buckets, type_=ARRAY(Integer)),
        bindparam("ranks", wanted, type_=ARRAY(Integer)),
    ).table_valued("place", "protocol", "system", "bucket", "wanted").render_derived(name="targets")  # fmt: skip
    matches = [rows.c.protocol == table.c.protocol, _bucket(rows) == table.c.bucket]
    if len(keys) > 1:
        matches.append(rows.c.system == table.c.system)
    ranked = (
        select(table.c.place, table.c.wanted, rows.c.value,
               func.row_number().over(partition_by=table.c.place, order_by=rows.c.value).label("rank"))
        .select_from(rows.join(table, and_(*matches)))
    ).subquery()  # fmt: skip
    query = select(ranked.c.place, ranked.c.value).where(ranked.c.rank == ranked.c.wanted)
    found = {int(place): float(value) for place, value in session.execute(query)}
    middles: dict[Named, list[float]] = {}
    for place, (named, _number, _rank) in enumerate(targets, start=1):
        middles.setdefault(named, []).append(found[place])
    return {named: sum(values) / len(values) for named, values in middles.items()}
