"""Mean, median and n per group, computed by the database, the same on SQLite and PostgreSQL.

The rows come as a narrow subquery (keys and one ``value`` column); nothing but the results per
group (and, on PostgreSQL, counts per value bucket) leaves the database. The median is the
textbook one, exact on both: the average of the middle one or two values of a group.

* SQLite has no percentile function: the middle values are found with ``ROW_NUMBER`` and
  ``COUNT`` over each group (window functions, SQLite 3.25+).
* PostgreSQL has ``percentile_cont``, but it sorts every value of every group in one process
  (ordered-set aggregates are not parallel): 5 million CT events took 20-45 s. Instead
  (:func:`_bucketed_statistics`), one parallel hash aggregate counts the values per group and
  per bucket of ``floor(ln(value) * 64)`` (buckets 1.6 % wide; the values are above zero, blank and
  zero doses are left out); the counts say which bucket holds each middle value and its rank in
  it; a second pass sorts only those buckets' values (about 1 % of each group) to pick them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Float, Integer, String, Subquery, Text, and_, bindparam, case, cast, func, literal, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session


def dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def group_keys(session: Session, rows: Subquery, keys: list[str]) -> list[Any]:
    """The grouping columns; on PostgreSQL text is grouped in the "C" collation (bytewise): grouping
    sorts every row, and the locale's rules made that several times slower. Categories are put in
    order for display afterwards, case-insensitively."""
    if dialect(session) != "postgresql":
        return [rows.c[key] for key in keys]
    return [rows.c[key].collate("C").label(key) if isinstance(rows.c[key].type, String) else rows.c[key]
            for key in keys]  # fmt: skip


#: The PostgreSQL median by buckets (module docstring); False: ``percentile_cont``, as before
#: (``benchmarks/charts.py`` times both in one run).
MEDIAN_BY_BUCKETS = True


def grouped_statistics(session: Session, rows: Subquery, keys: list[str], median: bool = True) -> list[dict[str, Any]]:
    """One dict per group of ``keys``: the keys' values, ``n``, ``mean`` and ``median`` of ``value``.

    Without ``median`` (the user chose the mean) the median is None: it is the costly part, a sort
    of every value, while n and the mean are one parallel hash aggregate.
    """
    key_columns = group_keys(session, rows, keys)
    if not median:
        query = select(
            *key_columns, func.count(rows.c.value).label("n"), func.avg(rows.c.value).label("mean"),
            literal(None).label("median"),
        ).group_by(*key_columns)  # fmt: skip
    elif dialect(session) == "postgresql" and MEDIAN_BY_BUCKETS:
        return _bucketed_statistics(session, rows, keys)
    elif dialect(session) == "postgresql":
        return _percentile_statistics(session, rows, keys)
    else:
        ranked = select(
            *key_columns,
            rows.c.value,
            func.row_number().over(partition_by=key_columns, order_by=rows.c.value).label("rank"),
            func.count().over(partition_by=key_columns).label("size"),
        ).subquery()
        ranked_keys = [ranked.c[key] for key in keys]
        # Integer division: the middle rank of an odd count twice, the two middle ranks of an even one.
        middle = ranked.c.rank.in_([(ranked.c.size + 1) // 2, (ranked.c.size + 2) // 2])
        query = select(
            *ranked_keys,
            func.count(ranked.c.value).label("n"),
            func.avg(ranked.c.value).label("mean"),
            func.avg(case((middle, ranked.c.value))).label("median"),
        ).group_by(*ranked_keys)
    return _documents(session, query, keys)


def _documents(session: Session, query: Any, keys: list[str]) -> list[dict[str, Any]]:
    return [
        {**{key: row._mapping[key] for key in keys}, "n": int(row.n), "mean": float(row.mean),
         "median": None if row.median is None else float(row.median)}
        for row in session.execute(query)
    ]  # fmt: skip


#: Buckets per unit of ln(value) for the PostgreSQL median: 64 makes each 1.6 % wide.
BUCKETS_PER_E = 64
#: Fewer values than this are sorted (``percentile_cont``): two passes cost more than the sort.
BUCKETED_FROM = 200_000


def _percentile_statistics(session: Session, rows: Subquery, keys: list[str]) -> list[dict[str, Any]]:
    key_columns = group_keys(session, rows, keys)
    query = select(
        *key_columns,
        func.count(rows.c.value).label("n"),
        func.avg(rows.c.value).label("mean"),
        func.percentile_cont(0.5).within_group(rows.c.value.asc()).label("median"),
    ).group_by(*key_columns)
    return _documents(session, query, keys)


def _bucketed_statistics(session: Session, rows: Subquery, keys: list[str]) -> list[dict[str, Any]]:
    """n, mean and the exact median per group in two parallel passes instead of a sort of every value."""
    key_columns = group_keys(session, rows, keys)
    bucket = cast(func.floor(func.ln(rows.c.value) * BUCKETS_PER_E), Integer)
    counted = (
        select(*key_columns, bucket.label("bucket"), func.count().label("n"), func.sum(rows.c.value).label("total"))
        .where(rows.c.value > 0)
        .group_by(*key_columns, bucket)
    )
    groups: dict[tuple[Any, ...], list[tuple[int, int, float]]] = {}
    for row in session.execute(counted):
        groups.setdefault(tuple(row[: len(keys)]), []).append((int(row.bucket), int(row.n), float(row.total)))
    if sum(n for buckets in groups.values() for _b, n, _t in buckets) < BUCKETED_FROM:
        return _percentile_statistics(session, rows, keys)  # a sort of so few values costs less
    wanted: list[tuple[tuple[Any, ...], int, int]] = []  # (group, bucket, rank inside the bucket)
    for group, buckets in groups.items():
        buckets.sort()
        size = sum(n for _bucket, n, _total in buckets)
        for rank in sorted({(size + 1) // 2, (size + 2) // 2}):
            below = 0
            for number, n, _total in buckets:
                if rank <= below + n:
                    wanted.append((group, number, rank - below))
                    break
                below += n
    middles: dict[tuple[Any, ...], list[float]] = {}
    for (group, _number, _rank), value in zip(wanted, _values_at(session, rows, keys, bucket, wanted), strict=True):
        middles.setdefault(group, []).append(value)
    result = []
    for group, buckets in groups.items():
        size = sum(n for _bucket, n, _total in buckets)
        result.append({**dict(zip(keys, group, strict=True)), "n": size,
                       "mean": sum(total for _b, _n, total in buckets) / size,
                       "median": sum(middles[group]) / len(middles[group])})  # fmt: skip
    return result


def _values_at(session: Session, rows: Subquery, keys: list[str], bucket: Any,
               wanted: list[tuple[tuple[Any, ...], int, int]]) -> list[float]:  # fmt: skip
    """The value of each (group, bucket, rank in the bucket) of ``wanted``, in that order: one scan
    keeps the rows of those buckets and sorts them per bucket. The targets go as arrays
    (``unnest``), so that the statement is the same whatever they are (SQLAlchemy caches it)."""
    if not wanted:
        return []
    arrays: list[Any] = [bindparam(f"key_{i}", [str(group[i]) for group, _b, _r in wanted], type_=ARRAY(Text))
              for i in range(len(keys))]  # fmt: skip
    arrays.append(bindparam("buckets", [number for _g, number, _r in wanted], type_=ARRAY(Integer)))
    arrays.append(bindparam("ranks", [rank for _g, _b, rank in wanted], type_=ARRAY(Integer)))
    names = [*(f"key_{i}" for i in range(len(keys))), "bucket", "wanted"]
    targets = func.unnest(*arrays).table_valued(*names, with_ordinality="place").render_derived(name="targets")
    matches = and_(*[cast(rows.c[key], Text) == targets.c[f"key_{i}"] for i, key in enumerate(keys)],
                   bucket == targets.c.bucket)  # fmt: skip
    ranked = (
        select(targets.c.place, targets.c.wanted, rows.c.value,
               func.row_number().over(partition_by=targets.c.place, order_by=rows.c.value).label("rank"))
        .select_from(rows.join(targets, matches))
        .where(rows.c.value > 0)
    ).subquery()  # fmt: skip
    query = select(ranked.c.place, ranked.c.value).where(ranked.c.rank == ranked.c.wanted)
    found = {int(place): float(value) for place, value in session.execute(query)}
    return [found[place] for place in range(1, len(wanted) + 1)]


def grouped_counts(session: Session, rows: Subquery, keys: list[str]) -> list[dict[str, Any]]:
    """One dict per group of ``keys`` with the number of rows, ``n``."""
    key_columns = group_keys(session, rows, keys)
    query = select(*key_columns, func.count().label("n")).group_by(*key_columns)
    return [{**{key: row._mapping[key] for key in keys}, "n": int(row.n)} for row in session.execute(query)]


def histograms(session: Session, rows: Subquery, keys: list[str], bins: int) -> dict[tuple[Any, ...], dict[str, Any]]:
    """Per group of ``keys``: ``bins`` equal bins from the group's smallest to its largest value.

    Bin ``i`` holds values in [edge i, edge i+1); the last bin also holds the largest value. A group
    whose values are all equal has all of them in its first bin.
    """
    key_columns = [rows.c[key] for key in keys]
    bounds = select(*key_columns, func.min(rows.c.value).label("low"), func.max(rows.c.value).label("high"))
    bounds_sq = bounds.group_by(*key_columns).subquery()
    width = (bounds_sq.c.high - bounds_sq.c.low) / bins
    position = (rows.c.value - bounds_sq.c.low) / case((width > 0, width), else_=literal(1.0))
    bin_number = _floor(session, position)
    bin_number = case((bin_number >= bins, bins - 1), else_=bin_number)
    joined = rows.join(bounds_sq, and_(*[rows.c[key] == bounds_sq.c[key] for key in keys]))
    query = (
        select(*key_columns, bounds_sq.c.low, bounds_sq.c.high, bin_number.label("bin"), func.count().label("n"))
        .select_from(joined)
        .group_by(*key_columns, bounds_sq.c.low, bounds_sq.c.high, bin_number)
    )
    result: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in session.execute(query):
        group = tuple(row._mapping[key] for key in keys)
        low, high = float(row.low), float(row.high)
        histogram = result.setdefault(
            group, {"edges": [low + (high - low) * i / bins for i in range(bins + 1)], "counts": [0] * bins}
        )
        histogram["counts"][int(row.bin)] += int(row.n)
    return result


def _floor(session: Session, value: Any) -> Any:
    """Whole part of a value of 0 or more: PostgreSQL's ``CAST`` rounds, SQLite's truncates."""
    if dialect(session) == "postgresql":
        return cast(func.floor(value), Integer)
    return cast(cast(value, Float), Integer)
