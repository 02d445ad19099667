"""Reading and changing the import settings (patient identifiable data, not-patient patterns,
delete-objects policy). Used by the command line and the web API; changes apply to future imports."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, delete, select
from sqlalchemy.orm import Session

from orthanc_rem import model
from orthanc_rem.identifiable_data import DEFAULTS_074, deletion_policy_cache, policy_cache

#: The yes/no settings (the export date format, text, has ``orthanc_rem.export_settings``).
SETTING_NAMES = tuple(
    column.key
    for column in model.ImportSettings.__table__.columns
    if column.key != "id" and isinstance(column.type, Boolean)
)


def defaults() -> model.ImportSettings:
    """The manual's defaults, as a row not (yet) in any session."""
    settings = model.ImportSettings(id=1)
    for column in model.ImportSettings.__table__.columns:
        if column.key != "id" and column.default is not None:
            setattr(settings, column.key, column.default.arg)
    return settings


def current(session: Session) -> model.ImportSettings:
    """The settings row, created with the manual's defaults the first time it is changed."""
    settings = session.get(model.ImportSettings, 1)
    if settings is None:
        settings = defaults()
        session.add(settings)
        session.flush()
    return settings


def describe(session: Session) -> dict[str, Any]:
    """The settings as JSON-ready values; reads only (a page view never writes)."""
    settings = session.get(model.ImportSettings, 1) or defaults()
    patterns = session.execute(
        select(model.NotPatientPattern.applies_to, model.NotPatientPattern.pattern).order_by(
            model.NotPatientPattern.applies_to, model.NotPatientPattern.pattern
        )
    ).all()
    return {
        **{name: getattr(settings, name) for name in SETTING_NAMES},
        "export_date_format": settings.export_date_format,
        "not_patient_name_patterns": [p for kind, p in patterns if kind == "name"],
        "not_patient_id_patterns": [p for kind, p in patterns if kind == "id"],
    }


def change(session: Session, **values: bool) -> None:
    unknown = set(values) - set(SETTING_NAMES)
    if unknown:
        raise ValueError(f"unknown setting(s): {', '.join(sorted(unknown))}; known: {', '.join(SETTING_NAMES)}")
    settings = current(session)
    for name, value in values.items():
        if not isinstance(value, bool):
            raise ValueError(f"{name} must be true or false, not {value!r}")
        setattr(settings, name, value)
    session.commit()
    policy_cache.clear()
    deletion_policy_cache.clear()


def add_not_patient_pattern(session: Session, applies_to: str, pattern: str) -> None:
    if applies_to not in ("name", "id"):
        raise ValueError("a not-patient pattern applies to 'name' or 'id'")
    if not pattern.strip():
        raise ValueError("an empty pattern would match nothing")
    exists = session.scalar(
        select(model.NotPatientPattern).where(
            model.NotPatientPattern.applies_to == applies_to, model.NotPatientPattern.pattern == pattern
        )
    )
    if exists is None:
        session.add(model.NotPatientPattern(applies_to=applies_to, pattern=pattern))
    session.commit()
    policy_cache.clear()


def remove_not_patient_pattern(session: Session, applies_to: str, pattern: str) -> bool:
    result = session.execute(
        delete(model.NotPatientPattern).where(
            model.NotPatientPattern.applies_to == applies_to, model.NotPatientPattern.pattern == pattern
        )
    )
    session.commit()
    policy_cache.clear()
    return bool(result.rowcount)  # type: ignore[attr-defined]


def add_074_defaults(session: Session) -> None:
    """The patterns that reproduce OpenREM 0.7.4's fixed test-patient check (manual L3036-3038)."""
    for applies_to, patterns in DEFAULTS_074.items():
        for pattern in patterns:
            add_not_patient_pattern(session, applies_to, pattern)


def replace_not_patient_pattern(session: Session, pattern_id: int, new_pattern: str) -> None:
    """Change one pattern's text (the page's "Modify"), keeping which list it belongs to."""
    row = session.get(model.NotPatientPattern, pattern_id)
    if row is None:
        raise ValueError(f"no not-patient pattern with id {pattern_id}")
    if not new_pattern.strip():
        raise ValueError("an empty pattern would match nothing")
    applies_to = row.applies_to
    remove_not_patient_pattern(session, applies_to, row.pattern)
    add_not_patient_pattern(session, applies_to, new_pattern)


def not_patient_patterns(session: Session) -> list[model.NotPatientPattern]:
    """Both lists with their ids (for the pages' Modify and Delete), names first."""
    return list(
        session.scalars(
            select(model.NotPatientPattern).order_by(
                model.NotPatientPattern.applies_to.desc(), model.NotPatientPattern.pattern
            )
        )
    )
