"""The CT acquisition charts' statistics grouped by what ``ct_chart_event`` stores, named afterwards.

Grouping by the category as shown ("Blank" for an empty protocol, trimmed, the system's display
name joined from ``equipment``) computes those expressions for each of millions of rows and groups
by text built per row. Grouped instead by the stored protocol and equipment id, the database does
only the counting; the few groups (protocols × systems) are then named here, exactly as
``charts.sources.category`` and ``series`` name them (the case-insensitive option lower-cases the
few stored protocols in SQL, as ``folded`` does per row), and groups that get the same name
(protocols that differ only by surrounding spaces or case, several equipment ids with one
display name) are merged.

n, sums and counts per bucket merge by addition; a median does not. On PostgreSQL the median is the
bucketed one of ``charts.statistics``: its counts per (group, bucket of ln(value)) merge like n, the
merged counts say which bucket holds each middle value of the *named* group and its rank there, and
``charts.indexed_medians`` reads that value from the value indexes, the buckets of all the stored
groups that make up the named one merged. So the results are those of grouping by the name,
medians included. Below ``statistics.BUCKETED_FROM`` values, and on SQLite (window-function
median), the medians are left to ``charts.statistics`` over the named rows (the caller's
fallback): those are small or local.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, Subquery, Text, column, func, select, text, values
from sqlalchemy.orm import Session

from orthanc_rem import model
from orthanc_rem.charts import indexed_medians, statistics
from orthanc_rem.charts.options import ChartOptions
from orthanc_rem.charts.sources import ALL_SYSTEMS, BLANK
from orthanc_rem.study_filters import folded

#: A stored group: (protocol as stored or None, equipment id or None) or (protocol,).
Stored = tuple[Any, ...]
Named = tuple[str, str]


@dataclass
class _Group:
    """A named group: what its stored groups add up to."""

    n: int = 0
    total: float = 0.0
    buckets: dict[int, int] = field(default_factory=dict)
    members: list[Stored] = field(default_factory=list)


def _namer(session: Session, options: ChartOptions, stored: Iterable[Stored]) -> Callable[[Stored], Named]:
    """(category, series) of a stored group, as ``sources.category`` and ``sources.series`` give them."""
    names: dict[int, str | None] = {}
    if options.series_per_system:
        names = {
            int(id_): name for id_, name in session.execute(select(model.Equipment.id, model.Equipment.display_name))
        }
    lowered = _folded(session, {group[0] or "" for group in stored}) if options.case_insensitive else {}

    def name(group: Stored) -> Named:
        protocol = group[0] or ""
        # SQL's trim() removes spaces only.
        category = lowered.get(protocol, protocol).strip(" ") or BLANK
        if not options.series_per_system:
            return category, ALL_SYSTEMS
        system = None if group[1] is None else names.get(int(group[1]))  # None: no system, or no display name
        return category, BLANK if system is None else system

    return name


def _folded(session: Session, protocols: set[str]) -> dict[str, str]:
    """Each protocol lower-cased by the database (``study_filters.folded``, as the named rows were)."""
    if not protocols:
        return {}
    stored = values(column("protocol", Text), name="stored").data([(protocol,) for protocol in sorted(protocols)])
    query = select(stored.c.protocol, folded(stored.c.protocol))
    return {str(protocol): str(lowered) for protocol, lowered in session.execute(query)}


def _keys(session: Session, rows: Subquery) -> list[str]:
    return [key for key in ("protocol", "system") if key in rows.c]


def counts(session: Session, rows: Subquery, options: ChartOptions) -> list[dict[str, Any]]:
    """``n`` per named group (the frequency charts)."""
    keys = _keys(session, rows)
    key_columns = statistics.group_keys(session, rows, keys)
    query = select(*key_columns, func.count().label("n")).group_by(*key_columns)
    found = [(tuple(row[: len(keys)]), int(row.n)) for row in _parallel(session, query)]
    name = _namer(session, options, (stored for stored, _n in found))
    merged: dict[Named, int] = {}
    for stored, n in found:
        named = name(stored)
        merged[named] = merged.get(named, 0) + n
    return [{"category": category, "series": series, "n": n} for (category, series), n in merged.items()]


def averages(session: Session, rows: Subquery, options: ChartOptions, median: bool,
             values_of: tuple[Select[Any], Any] | None = None) -> list[dict[str, Any]] | None:  # fmt: skip
    """n, mean and (with ``median``) the median per named group; None when the median is better
    left to ``statistics.grouped_statistics`` over the named rows (SQLite, or few values).
    ``values_of``: the filtered rows' values and the ``ct_chart_event`` column they are
    (``sources.ct_chart_event_values``), where the medians are read from the value index."""
    postgres = statistics.dialect(session) == "postgresql"
    if median and not (postgres and statistics.MEDIAN_BY_BUCKETS and values_of is not None):
        return None
    keys = _keys(session, rows)
    key_columns = statistics.group_keys(session, rows, keys)
    if median:
        bucket = indexed_medians.bucket_of(rows.c.value)
        query = select(*key_columns, bucket.label("bucket"), func.count().label("n"),
                       func.sum(rows.c.value).label("total")).group_by(*key_columns, bucket)  # fmt: skip
    else:
        query = select(*key_columns, func.count().label("n"), func.sum(rows.c.value).label("total"))
        query = query.group_by(*key_columns)
    stored_groups: dict[Stored, _Group] = {}  # ~30,000 rows with buckets: add them up per stored group first
    width = len(keys)
    for row in _parallel(session, query):
        stored, (*bucket, n, total) = tuple(row[:width]), row[width:]
        group = stored_groups.get(stored)
        if group is None:
            group = stored_groups[stored] = _Group(members=[stored])
        group.n += int(n)
        group.total += float(total)
        if median:
            group.buckets[int(bucket[0])] = int(n)
    name = _namer(session, options, stored_groups)
    groups: dict[Named, _Group] = {}
    for stored, part in stored_groups.items():
        group = groups.setdefault(name(stored), _Group())
        group.n += part.n
        group.total += part.total
        group.members.append(stored)
        for number, n in part.buckets.items():
            group.buckets[number] = group.buckets.get(number, 0) + n
    if median and sum(group.n for group in groups.values()) < statistics.BUCKETED_FROM:
        return None
    medians = _medians(session, groups, values_of, options.series_per_system) if values_of is not None else {}
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


def _medians(session: Session, groups: dict[Named, _Group], values_of: tuple[Select[Any], Any],
             per_system: bool) -> dict[Named, float]:  # fmt: skip
    """The median of each named group: which bucket holds each middle rank (from the merged
    counts), then those values read from the value index (``charts.indexed_medians``)."""
    targets: list[tuple[Named, indexed_medians.Target]] = []
    for named, group in groups.items():
        ordered = sorted(group.buckets.items())
        for rank in sorted({(group.n + 1) // 2, (group.n + 2) // 2}):
            below = 0
            for number, n in ordered:
                if rank <= below + n:
                    targets.append((named, indexed_medians.Target(tuple(group.members), number, rank - below)))
                    break
                below += n
    query, value = values_of
    found = indexed_medians.values_at(session, query, value, [target for _named, target in targets], per_system)
    middles: dict[Named, list[float]] = {}
    for (named, _target), middle in zip(targets, found, strict=True):
        middles.setdefault(named, []).append(middle)
    return {named: sum(values) / len(values) for named, values in middles.items()}
