"""The home page's summary tables: per modality, each system's number of studies and latest study.

Counts come from ``system_study_count`` (kept by triggers, migration 0010), and each system's
latest study is one probe of the index on (modality, equipment, date, time): the home page reads
a few rows per system however many studies there are, instead of grouping every study.

"Latest study" is shown as the time since it (the manual's "1 year, 4 months ago"). Study date and
time are the modality's local wall-clock time; they are turned into an instant with the server's
time-zone rules for that date, so that the time since a study is right across a daylight-saving
change (OpenREM issue #74).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from orthanc_rem import model
from orthanc_rem.study_document import json_value


def _latest_study_id(modality: Any, equipment_id: Any) -> Any:
    study = model.Study
    return (
        select(study.id)
        .where(study.modality == modality, study.equipment_id == equipment_id)
        .order_by(study.study_date.desc().nulls_last(), study.study_time.desc().nulls_last(), study.id.desc())
        .limit(1)
        .scalar_subquery()
    )


def _latest_without_equipment(session: Session, modality: str) -> int | None:
    study = model.Study
    query = (
        select(study.id)
        .where(study.modality == modality, study.equipment_id.is_(None))
        .order_by(study.study_date.desc().nulls_last(), study.study_time.desc().nulls_last(), study.id.desc())
        .limit(1)
    )
    return session.scalar(query)


def modality_counts(session: Session) -> dict[str, int]:
    """Studies per modality (modalities without studies left out)."""
    counts: dict[str, int] = {}
    for modality, studies in session.execute(select(model.SystemStudyCount.modality, model.SystemStudyCount.studies)):
        if studies > 0:
            counts[modality] = counts.get(modality, 0) + studies
    return counts


def systems_by_modality(session: Session) -> dict[str, list[dict[str, Any]]]:
    """Per modality, each display name (systems renamed alike are one) with its number of studies
    and its latest study's date and time, busiest first; modalities without studies left out."""
    counts = model.SystemStudyCount
    latest = _latest_study_id(counts.modality, counts.equipment_id)
    rows = session.execute(
        select(counts.modality, counts.equipment_id, counts.studies, latest).where(counts.studies > 0)
    ).all()
    latest_ids = {
        (modality, equipment_id): latest if equipment_id else _latest_without_equipment(session, modality)
        for modality, equipment_id, _studies, latest in rows
    }
    latest_rows = {
        study_id: (study_date, study_time)
        for study_id, study_date, study_time in session.execute(
            select(model.Study.id, model.Study.study_date, model.Study.study_time).where(
                model.Study.id.in_([i for i in latest_ids.values() if i is not None])
            )
        )
    }
    names: dict[int, str] = {
        row.id: row.display_name for row in session.execute(select(model.Equipment.id, model.Equipment.display_name))
    }
    grouped: dict[tuple[str, str | None], dict[str, Any]] = {}
    for modality, equipment_id, studies, _latest in rows:
        key = (modality, names.get(equipment_id))
        system = grouped.setdefault(key, {"display_name": key[1], "studies": 0, "latest": None})
        system["studies"] += studies
        latest_id = latest_ids[(modality, equipment_id)]
        when = latest_rows.get(latest_id) if latest_id is not None else None
        if when is not None and (system["latest"] is None or _sort_key(when) > _sort_key(system["latest"])):
            system["latest"] = when
    systems: dict[str, list[dict[str, Any]]] = {}
    for (modality, _name), system in sorted(grouped.items(), key=lambda item: (item[0][0], -item[1]["studies"],
                                                                                item[0][1] or "")):  # fmt: skip
        study_date, study_time = system.pop("latest") or (None, None)
        system["latest_study_date"] = json_value(study_date)
        system["latest_study_time"] = json_value(study_time)
        system["latest_study"] = local_instant(study_date, study_time)
        systems.setdefault(modality, []).append(system)
    return systems


def _sort_key(when: tuple[dt.date | None, dt.time | None]) -> tuple[dt.date, dt.time]:
    return (when[0] or dt.date.min, when[1] or dt.time.min)


def local_instant(study_date: dt.date | None, study_time: dt.time | None) -> dt.datetime | None:
    """The study's date and time (local wall-clock) as an aware instant, by the server's time-zone
    rules for that very date (``astimezone`` on a naive datetime asks the C library, which knows
    the daylight-saving dates), so that a summer study is read as summer time in winter."""
    if study_date is None:
        return None
    return dt.datetime.combine(study_date, study_time or dt.time(0, 0)).astimezone()


_UNITS = (
    ("year", 365 * 86400),
    ("month", 30 * 86400),
    ("week", 7 * 86400),
    ("day", 86400),
    ("hour", 3600),
    ("minute", 60),
)


def time_since(then: dt.datetime, now: dt.datetime) -> str:
    """Elapsed time in at most two adjacent units, as the manual shows it ("1 year, 4 months").

    Both instants must be aware: their difference is then real elapsed time, whatever
    daylight-saving change lies between them.
    """
    seconds = int((now - then).total_seconds())
    if seconds < 60:
        return "in the future" if seconds < 0 else "less than a minute"
    for index, (name, size) in enumerate(_UNITS):
        count = seconds // size
        if count:
            parts = [_plural(count, name)]
            if index + 1 < len(_UNITS):
                next_name, next_size = _UNITS[index + 1]
                rest = (seconds - count * size) // next_size
                if rest:
                    parts.append(_plural(rest, next_name))
            return ", ".join(parts)
    raise AssertionError("unreachable: a minute or more has a unit")  # pragma: no cover


def _plural(count: int, name: str) -> str:
    return f"{count} {name}{'' if count == 1 else 's'}"
