"""Inserting a new dose report's rows with one multi-row INSERT per table, inside the caller's transaction.

``ct_rows`` and ``projection_rows`` build a report as a tree of rows (``NewRow``s for CT, transient ORM
objects for projection reports, whose image reports the ORM also extends): a radiation dose, its
irradiation events, their X-ray sources, filters, dose checks... Adding that tree to the session made
the ORM's unit of work insert it row by row, with its bookkeeping per object: 40 % of a worker's time
under CT load (issue 6 §5 profile). The tree is only ever inserted whole, never changed in the same
transaction, so here it is written level by level instead: each table gets one ``INSERT`` for all its
rows of that level (SQLAlchemy's "insertmanyvalues", with ``RETURNING`` the new ids in parameter order
where the next level needs them as foreign keys). The rows stay out of the session; transactions, locks
and the duplicate/update rules are the caller's (``persistence``), unchanged.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from sqlalchemy import Table, insert, inspect
from sqlalchemy.orm import RelationshipDirection, Session

from orthanc_rem import model


@dataclass(slots=True)
class NewRow:
    """A row of a new report, for ``insert_rows`` only: the model class, its column values by
    attribute name (as the model's constructor takes them) and its child rows by relationship name.

    Building a report's thirty-odd rows as ORM objects cost a fifth of storing a CT report: the ORM
    sets up instance state and fires attribute events for each of them, and then nothing uses
    them but ``insert_rows``, which reads their values back. ``ct_rows`` builds these instead.
    """

    model_class: type[model.Base]
    values: dict[str, Any]
    children: dict[str, Any] = field(default_factory=dict)  # a row, a list of rows, or None
    #: The new row's primary key once ``insert_rows`` has inserted it, for rows whose table has
    #: child tables (their INSERT returns the ids anyway); None otherwise.
    id: int | None = None


#: (row, foreign key column name -> parent id) for one level of the tree.
_Pending = list[tuple[Any, dict[str, int]]]


def insert_rows(session: Session, rows: list[Any], **parent_key: int) -> None:
    """Insert new ``rows`` (``NewRow`` or transient ORM objects, one class or several) and every
    child row hanging from them.

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
            by_class[row.model_class if type(row) is NewRow else type(row)].append((row, key))
        level = []
        for row_class, items in by_class.items():
            level.extend(_insert_level(connection, _shape(row_class), items))


@dataclass(frozen=True)
class _Shape:
    """What inserting rows of one model class needs, read from its mapper once per process."""

    table: Table
    columns: tuple[tuple[str, str], ...]  # (attribute name, column name), primary key left out
    attribute_names: frozenset[str]
    children: tuple[tuple[str, str], ...]  # (relationship name, the child's foreign key column)
    child_names: frozenset[str]
    plain_insert: Any
    insert_returning_ids: Any


@cache
def _shape(row_class: type[model.Base]) -> _Shape:
    mapper = inspect(row_class)
    table: Table = mapper.local_table  # type: ignore[assignment]
    columns = tuple(
        (attribute.key, attribute.columns[0].key)
        for attribute in mapper.column_attrs
        if not attribute.columns[0].primary_key
    )
    children = []
    for relationship in mapper.relationships:
        if relationship.direction is RelationshipDirection.ONETOMANY:
            (foreign_key,) = relationship.remote_side
            children.append((relationship.key, foreign_key.name))
    (primary_key,) = table.primary_key.columns
    return _Shape(
        table=table,
        columns=columns,
        attribute_names=frozenset(attribute for attribute, _ in columns),
        children=tuple(children),
        child_names=frozenset(name for name, _ in children),
        plain_insert=insert(table),
        insert_returning_ids=insert(table).returning(primary_key, sort_by_parameter_order=True),
    )


def _insert_level(connection: Any, shape: _Shape, items: _Pending) -> _Pending:
    values = [_column_values(shape, row, key) for row, key in items]
    if not shape.children:
        connection.execute(shape.plain_insert, values)
        return []
    ids = connection.execute(shape.insert_returning_ids, values).scalars().all()
    pending: _Pending = []
    for (row, _key), new_id in zip(items, ids, strict=True):
        if type(row) is NewRow:
            row.id = new_id
        related = row.children if type(row) is NewRow else row.__dict__
        for name, foreign_key in shape.children:
            value = related.get(name)
            for child in value if isinstance(value, list) else [] if value is None else [value]:
                pending.append((child, {foreign_key: new_id}))
    return pending


def _column_values(shape: _Shape, row: Any, parent_key: dict[str, int]) -> dict[str, Any]:
    """Every column but the primary key, so that all rows of one INSERT have the same keys."""
    if type(row) is NewRow:
        state = row.values
        if not shape.attribute_names.issuperset(state) or not shape.child_names.issuperset(row.children):
            unknown = sorted(set(state) - shape.attribute_names) + sorted(set(row.children) - shape.child_names)
            raise TypeError(f"{row.model_class.__name__} has no column or child rows {', '.join(unknown)}")
    else:
        state = row.__dict__
    values = {column: state.get(attribute) for attribute, column in shape.columns}
    values.update(parent_key)
    return values
