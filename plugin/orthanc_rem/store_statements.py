"""The Core statements storing runs for every object, built once per dialect and reused.

Building a SQLAlchemy statement (``select(...).where(...)``, ``insert(...).values(**row)``) and
computing its cache key costs about as much as running it on SQLite; a worker runs the same
statements for every object. Built once with bound parameters, each is a lookup in SQLAlchemy's
compiled cache, and its values come with the execution (``session.execute(statement, values)``).
The statements themselves are those ``persistence`` wrote inline before: same tables, same
``ON CONFLICT`` rules, same transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import cache
from typing import Any

from sqlalchemy import Executable, Table, bindparam, cast, delete, exists, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from orthanc_rem import model

_built: dict[tuple[str, str], Any] = {}


def table(model_class: type[model.Base]) -> Table:
    """The Core table of a model class: Core statements on it skip the ORM's statement handling."""
    return model_class.__table__  # type: ignore[return-value]


def dialect_insert(dialect: str, model_class: type[model.Base]) -> Any:
    """The dialect's INSERT (it has ``ON CONFLICT``) on the model's Core table."""
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table(model_class))


def statement(session: Session, name: str) -> Any:
    """The statement ``name`` (see ``_BUILDERS``) for the session's database."""
    dialect = session.get_bind().dialect.name
    built = _built.get((dialect, name))
    if built is None:
        built = _built[(dialect, name)] = _BUILDERS[name](dialect)
    return built


def _object_lookup(_dialect: str) -> Executable:
    """Parameters ``uid``, ``identity``, ``source``: in one row, what storing an object reads before
    it writes: the study of an already processed SOP Instance UID, the equipment's id and
    user-defined modality (NULL if the equipment is new), and whether the object's source has a
    rejection to forget.

    One statement instead of three (two SELECTs and a DELETE that almost never finds a row): on
    PostgreSQL each statement is a round trip the server parses, plans and answers, about a tenth
    of a millisecond of its CPU and as much of the worker's, per object (issue 6 §5). The reads sit
    in the same transaction as before; nothing is written between them.
    """
    processed, equipment, rejected = (table(m) for m in (model.ProcessedObject, model.Equipment, model.RejectedObject))
    same_equipment = equipment.c.identity_hash == bindparam("identity")
    return select(
        select(processed.c.study_fk).where(processed.c.sop_instance_uid == bindparam("uid")).scalar_subquery(),
        select(equipment.c.id).where(same_equipment).scalar_subquery(),
        select(equipment.c.user_defined_modality).where(same_equipment).scalar_subquery(),
        exists().where(rejected.c.source == bindparam("source")),
    )


def _equipment_key(_dialect: str) -> Executable:
    """Parameter ``identity``: id and user-defined modality of an equipment row."""
    equipment = table(model.Equipment)
    return select(equipment.c.id, equipment.c.user_defined_modality).where(
        equipment.c.identity_hash == bindparam("identity")
    )


def _new_equipment(dialect: str) -> Executable:
    return dialect_insert(dialect, model.Equipment).on_conflict_do_nothing(index_elements=["identity_hash"])


def _new_study(dialect: str) -> Executable:
    """Returns the new study's id, or nothing when the Study Instance UID is stored already."""
    statement = dialect_insert(dialect, model.Study).on_conflict_do_nothing(index_elements=["study_instance_uid"])
    return statement.returning(table(model.Study).c.id)


@cache
def new_study_with_patient_and_totals(
    study_columns: Iterable[str], patient_columns: Iterable[str], totals_columns: Iterable[str]
) -> Executable:
    """PostgreSQL only: ``new_study``, and in the same statement the new study's ``patient`` and
    ``study_totals`` rows (data-modifying CTEs reading the new study's id). Nothing but the
    study's id is returned; when the study exists already, nothing is inserted and nothing
    returned, as ``new_study`` does.

    Two round trips fewer per new study than three INSERTs (issue 6 §5: each is a statement the
    server parses, plans and answers, and the worker sends and reads). The parameters are the
    study's columns by name, the patient's prefixed ``patient_``, the totals' ``totals_``; the
    columns (tuples, for the cache) are those the caller has values for. SQLite has no
    data-modifying CTEs: there ``persistence`` runs the three INSERTs.
    """
    study, patient, totals = (table(m) for m in (model.Study, model.Patient, model.StudyTotals))
    new = (
        dialect_insert("postgresql", model.Study)
        .values({name: bindparam(name, type_=study.c[name].type) for name in study_columns})
        .on_conflict_do_nothing(index_elements=["study_instance_uid"])
        .returning(study.c.id)
        .cte("new_study")
    )

    def rows_of_new_study(target: Table, prefix: str, columns: Iterable[str]) -> Any:
        # Typed: PostgreSQL would take an untyped NULL in a SELECT list for text.
        values = [cast(bindparam(f"{prefix}{name}"), target.c[name].type) for name in columns]
        return insert(target).from_select(["study_fk", *columns], select(new.c.id, *values)).cte(f"new_{target.name}")

    return select(new.c.id).add_cte(
        rows_of_new_study(patient, "patient_", patient_columns),
        rows_of_new_study(totals, "totals_", totals_columns),
    )


def _new_processed_object(_dialect: str) -> Executable:
    processed = table(model.ProcessedObject)
    return insert(processed).returning(processed.c.id)


def _forget_rejection(_dialect: str) -> Executable:
    """Parameter ``source``: the rejection of an object that has now been imported."""
    rejected = table(model.RejectedObject)
    return delete(rejected).where(rejected.c.source == bindparam("source"))


_BUILDERS: dict[str, Callable[[str], Any]] = {
    "object_lookup": _object_lookup,
    "equipment_key": _equipment_key,
    "new_equipment": _new_equipment,
    "new_study": _new_study,
    "new_patient": lambda _dialect: insert(table(model.Patient)),
    "new_processed_object": _new_processed_object,
    "new_warning": lambda _dialect: insert(table(model.ExtractionWarning)),
    "forget_rejection": _forget_rejection,
}
