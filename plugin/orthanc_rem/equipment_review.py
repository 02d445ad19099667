"""What the display names page and a system's review page show (manual L2920-2955, L3142-3208).

Systems are listed in five tables: CT, mammography, DX and CR, fluoroscopy, and others (systems
whose studies are of none of those, or that have no study left). A system with studies under two
modalities (a "Dual" system) appears in both tables, each row counting that modality's studies.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from orthanc_rem import model, study_document

#: The tables of the display names page, in the manual's order, keyed by study modality.
SYSTEM_TABLES = {"CT": "CT", "MG": "Mammography", "DX": "DX and CR", "RF": "Fluoroscopy", "other": "Others"}


@dataclass(frozen=True)
class SystemRow:
    equipment: model.Equipment
    modality: str
    studies: int
    latest_study_date: dt.date | None


def systems_by_table(session: Session) -> dict[str, list[SystemRow]]:
    """Every equipment row under each table its studies belong to, by display name."""
    study = model.Study
    counts = session.execute(
        select(study.equipment_id, study.modality, func.count(study.id), func.max(study.study_date)).group_by(
            study.equipment_id, study.modality
        )
    ).all()
    by_equipment: dict[int, list[tuple[str, int, dt.date | None]]] = {}
    for equipment_id, modality, count, latest in counts:
        if equipment_id is not None:
            by_equipment.setdefault(equipment_id, []).append((modality, count, latest))
    tables: dict[str, list[SystemRow]] = {key: [] for key in SYSTEM_TABLES}
    equipment_rows = session.scalars(select(model.Equipment).order_by(model.Equipment.display_name, model.Equipment.id))
    for equipment in equipment_rows:
        for modality, count, latest in by_equipment.get(equipment.id, [("other", 0, None)]):
            table = modality if modality in SYSTEM_TABLES else "other"
            tables[table].append(SystemRow(equipment, modality, count, latest))
    return tables


def system_study_counts(session: Session, equipment_id: int, modality: str) -> tuple[int, int]:
    """The system's studies in all, and those under ``modality`` (the review page's two counts)."""
    study = model.Study
    total = session.scalar(select(func.count(study.id)).where(study.equipment_id == equipment_id)) or 0
    shown = (
        session.scalar(
            select(func.count(study.id)).where(study.equipment_id == equipment_id, study.modality == modality)
        )
        or 0
    )
    return total, shown


def system_studies(session: Session, equipment_id: int, modality: str, page: int, per_page: int) -> list[model.Study]:
    """One page of the system's studies under ``modality``, newest first, loaded for a summary."""
    study = model.Study
    query = (
        select(study)
        .where(study.equipment_id == equipment_id, study.modality == modality)
        .order_by(study.study_date.desc().nulls_last(), study.study_time.desc().nulls_last(), study.id.desc())
        .offset((max(page, 1) - 1) * per_page)
        .limit(per_page)
        .options(*study_document.summary_loaders())
    )
    return list(session.scalars(query))
