"""Mean, median and n per group, computed by the database, the same on SQLite and PostgreSQL.

The rows come as a narrow subquery (keys and one ``value`` column); nothing but the results per
group leaves the database. PostgreSQL has ``percentile_cont``; SQLite has no percentile function,
so there the median is the average of the middle one or two values, found with ``ROW_NUMBER`` and
``COUNT`` over each group (window functions, SQLite 3.25+). Both give the textbook median.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Float, Integer, String, Subquery, and_, case, cast, func, literal, select
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
    elif dialect(session) == "postgresql":
        query = select(
            *key_columns,
            func.count(rows.c.value).label("n"),
            func.avg(rows.c.value).label("mean"),
            func.percentile_cont(0.5).within_group(rows.c.value.asc()).label("median"),
        ).group_by(*key_columns)
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
    return [
        {**{key: row._mapping[key] for key in keys}, "n": int(row.n), "mean": float(row.mean),
         "median": None if row.median is None else float(row.median)}
        for row in session.execute(query)
    ]  # fmt: skip


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
