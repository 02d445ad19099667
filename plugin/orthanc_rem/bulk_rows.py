"""Inserting a new dose report's rows with one multi-row INSERT per table, inside the caller's transaction.

``ct_rows`` and ``projection_rows`` build a report as a tree of (transient) ORM objects: a radiation dose,
its irradiation events, their X-ray sources, filters, dose checks... Adding that tree to the session made
the ORM's unit of work insert it row by row, with its bookkeeping per object: 40 % of a worker's time
under CT load (issue 6 §5 profile). The tree is only ever inserted whole, never changed in the same
transaction, so here it is written level by level instead: each table gets one ``INSERT`` for all its
rows of that level (SQLAlchemy's "insertmanyvalues", with ``RETURNING`` the new ids in parameter order
where the next level needs them as foreign keys). The rows stay out of the session; transactions, locks
and the duplicate/update rules are the caller's (``persistence``), unchanged.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import Table, insert, inspect
from sqlalchemy.orm import Mapper, RelationshipDirection, Session

from orthanc_rem import model

#: (row object, foreign key column name -> parent id) for one level of the tree.
_Pending = list[tuple[model.Base, dict[str, int]]]


def insert_rows(session: Session, rows: list[model.Base], **parent_key: int) -> None:
    """Insert transient ``rows`` (one class or several) and every child row hanging from them.

    ``parent_key`` names the foreign key of ``rows`` themselves, e.g. ``study_fk=study.id``.
    Children are the objects in a one-to-many or one-to-one relationship of a row; their foreign
    key to the row is filled in here.
    """
    session.flush()  # what the ORM has pending (a replaced report's deletion) goes first
    connection = session.connection()
    level: _Pending = [(row, dict(parent_key)) for row in rows]
    while level:
        by_class: dict[type[model.Base], _Pending] = defaultdict(list)
        for row, key in level:
            by_class[type(row)].append((row, key))
        level = []
        for row_class, items in by_class.items():
            level.extend(_insert_level(connection, inspect(row_class), items))


def _insert_level(connection: Any, mapper: Mapper[Any], items: _Pending) -> _Pending:
    table: Table = mapper.local_table  # type: ignore[assignment]
    children = [r for r in mapper.relationships if r.direction is RelationshipDirection.ONETOMANY]
    values = [_column_values(mapper, row, key) for row, key in items]
    if not children:
        connection.execute(insert(table), values)
        return []
    (primary_key,) = table.primary_key.columns
    statement = insert(table).returning(primary_key, sort_by_parameter_order=True)
    ids = connection.execute(statement, values).scalars().all()
    pending: _Pending = []
    for (row, _key), new_id in zip(items, ids, strict=True):
        for relationship in children:
            (foreign_key,) = relationship.remote_side
            value = row.__dict__.get(relationship.key)
            for child in value if isinstance(value, list) else [] if value is None else [value]:
                pending.append((child, {foreign_key.name: new_id}))
    return pending


def _column_values(mapper: Mapper[Any], row: model.Base, parent_key: dict[str, int]) -> dict[str, Any]:
    """Every column but the primary key, so that all rows of one INSERT have the same keys."""
    state = row.__dict__
    values: dict[str, Any] = {}
    for attribute in mapper.column_attrs:
        (column,) = attribute.columns
        if column.primary_key:
            continue
        values[column.key] = state.get(attribute.key)
    values.update(parent_key)
    return values
