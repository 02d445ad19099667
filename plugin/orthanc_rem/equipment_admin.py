"""Display names and user-defined modality of equipment (manual, "Display names & modality").

Several equipment rows can be given one display name (e.g. before and after a software upgrade)
and are then grouped as one system. The user-defined modality overrides what a projection
report's content says, for systems that use fluoroscopy templates for radiography: DX or RF
re-labels the system's studies; "Dual" sorts each study by its own content, and doing it again is
the manual's "Dual: reprocess".
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from orthanc_rem import model, persistence

USER_DEFINED_MODALITIES = ("DX", "RF", "Dual")


def set_display_name(session: Session, equipment_ids: Iterable[int], display_name: str) -> int:
    name = display_name.strip()
    if not name:
        raise ValueError("a display name cannot be empty")
    rows = _equipment(session, equipment_ids)
    for row in rows:
        row.display_name = name
    session.commit()
    return len(rows)


def set_user_defined_modality(session: Session, equipment_ids: Iterable[int], modality: str | None) -> int:
    """Set (or clear, with None) the override and re-label the systems' studies; returns studies changed."""
    if modality is not None and modality not in USER_DEFINED_MODALITIES:
        raise ValueError(f"user-defined modality must be one of {', '.join(USER_DEFINED_MODALITIES)} or none")
    changed = 0
    for row in _equipment(session, equipment_ids):
        row.user_defined_modality = modality
        changed += persistence.apply_user_defined_modality(row)
    session.commit()
    return changed


def _equipment(session: Session, equipment_ids: Iterable[int]) -> list[model.Equipment]:
    wanted = sorted(set(equipment_ids))
    rows = list(session.scalars(select(model.Equipment).where(model.Equipment.id.in_(wanted))))
    missing = set(wanted) - {row.id for row in rows}
    if missing:
        raise ValueError(f"no equipment with id {', '.join(map(str, sorted(missing)))}")
    return rows


def list_equipment(session: Session) -> list[dict[str, object]]:
    rows = session.scalars(select(model.Equipment).order_by(model.Equipment.display_name, model.Equipment.id))
    return [
        {
            "id": row.id,
            "display_name": row.display_name,
            "user_defined_modality": row.user_defined_modality,
            "institution_name": row.institution_name,
            "institutional_department_name": row.institutional_department_name,
            "manufacturer": row.manufacturer,
            "manufacturer_model_name": row.manufacturer_model_name,
            "station_name": row.station_name,
            "device_serial_number": row.device_serial_number,
            "software_versions": row.software_versions,
            "gantry_id": row.gantry_id,
            "studies": len(row.studies),
        }
        for row in rows
    ]
