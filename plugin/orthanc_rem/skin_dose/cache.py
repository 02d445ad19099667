"""One skin dose result per study, computed once and again only when its inputs change.

The digest covers the events as fed to the engine, the patient's height and mass, the device
geometry, this adapter's version and the engine's version: a size import or an engine upgrade
thus makes the stored row stale, while opening a page never recomputes a current one.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from orthanc_rem import model
from orthanc_rem.skin_dose import engine
from orthanc_rem.skin_dose.devices import GEOMETRIES, DeviceGeometry, find_device_geometry
from orthanc_rem.skin_dose.inputs import NotModelled, SkinDoseInputs, skin_dose_inputs

log = logging.getLogger(__name__)

__all__ = ["find_device_geometry", "refresh_skin_dose", "skin_dose_document"]

COMPUTED = "computed"
NOT_MODELLED = "not_modelled"
FAILED = "failed"


def installed_engine_version() -> str:
    try:
        return engine.engine_version()
    except engine.EngineUnavailable:
        return "not installed"


def inputs_digest(inputs: SkinDoseInputs | NotModelled, engine_version: str) -> str:
    payload = {
        "adapter": engine.ADAPTER_VERSION,
        "engine": engine_version,
        "inputs": dataclasses.asdict(inputs),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def is_fluoroscopy_with_report(study: model.Study) -> bool:
    return study.modality == "RF" and any(d.source_kind == "rdsr" for d in study.projection_xray_radiation_doses)


def stored_map(session: Session, study_id: int) -> model.SkinDoseMap | None:
    return session.scalar(select(model.SkinDoseMap).where(model.SkinDoseMap.study_fk == study_id))


def assigned_geometry(session: Session, study: model.Study) -> DeviceGeometry | None:
    """The geometry a user assigned to the study's system, if any (``model.SkinDoseDevice``)."""
    if study.equipment_id is None:
        return None
    key = session.scalar(
        select(model.SkinDoseDevice.geometry).where(model.SkinDoseDevice.equipment_fk == study.equipment_id)
    )
    return GEOMETRIES.get(key) if key else None


def study_inputs(
    session: Session, study: model.Study, device: DeviceGeometry | None = None
) -> SkinDoseInputs | NotModelled:
    return skin_dose_inputs(study, device or assigned_geometry(session, study))


def current_map(session: Session, study_id: int) -> model.SkinDoseMap | None:
    """The stored result if it is still current, else None (missing or stale)."""
    row = stored_map(session, study_id)
    study = session.get(model.Study, study_id)
    if row is None or study is None:
        return None
    return row if row.inputs_hash == inputs_digest(study_inputs(session, study), installed_engine_version()) else None


def refresh_skin_dose(
    sessions: sessionmaker[Session],
    study_id: int,
    device: DeviceGeometry | None = None,
    progress: engine.Progress | None = None,
) -> model.SkinDoseMap | None:
    """Compute and store the study's map unless the stored one is current; None if not fluoroscopy.
    ``progress`` hears (events done, events) while the engine runs (the worker shows it to the page)."""
    with sessions() as session:
        study = session.get(model.Study, study_id)
        if study is None or not is_fluoroscopy_with_report(study):
            return None
        inputs = study_inputs(session, study, device)
        version = installed_engine_version()
        digest = inputs_digest(inputs, version)
        row = stored_map(session, study_id)
        if row is not None and row.inputs_hash == digest:
            return row
        values = result_values(inputs, version, progress)
        values["inputs_hash"] = digest
        values["computed_at"] = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        if row is None:
            row = model.SkinDoseMap(study_fk=study_id)
            session.add(row)
        for name, value in values.items():
            setattr(row, name, value)
        try:
            session.commit()
        except IntegrityError:  # another worker stored the same study meanwhile: theirs is as good
            session.rollback()
            return stored_map(session, study_id)
        session.refresh(row)
        session.expunge(row)
        return row


def _cleared() -> dict[str, Any]:
    return {
        "reason": None,
        "peak_skin_dose_gy": None,
        "phantom": None,
        "patient_height_m": None,
        "height_assumed": False,
        "patient_mass_kg": None,
        "mass_assumed": False,
        "orientation": None,
        "orientation_assumed": False,
        "device_geometry": None,
        "grid_rows": None,
        "grid_columns": None,
        "grid_mgy_float32": None,
        "cell_length_cm": None,
        "cell_angle_rad": None,
        "column_arc_cm": None,
        "assumptions": None,
        "inputs_used": None,
        "events_modelled": None,
        "engine_name": engine.ENGINE_NAME,
        "engine_version": None,
    }


def result_values(
    inputs: SkinDoseInputs | NotModelled, version: str, progress: engine.Progress | None = None
) -> dict[str, Any]:
    values = _cleared()
    values["engine_version"] = version
    if isinstance(inputs, NotModelled):
        return values | {"status": NOT_MODELLED, "reason": inputs.reason}
    values |= {
        "patient_height_m": inputs.patient.height_m,
        "height_assumed": inputs.patient.height_assumed,
        "patient_mass_kg": inputs.patient.mass_kg,
        "mass_assumed": inputs.patient.mass_assumed,
        "orientation": inputs.orientation,
        "orientation_assumed": inputs.orientation_assumed,
        "device_geometry": inputs.device.name,
        "assumptions": list(inputs.assumptions),
        "events_modelled": len(inputs.events),
    }
    try:
        if progress is not None:
            progress(0, len(inputs.events))
        result = engine.compute_skin_dose(inputs, progress=progress)
    except Exception as exc:  # noqa: BLE001 - the reason is stored and shown; the worker goes on
        log.warning("skin dose calculation failed: %s: %s", type(exc).__name__, exc)
        return values | {"status": FAILED, "reason": f"{type(exc).__name__}: {exc}"}
    rows, columns = result.grid_mgy.shape
    return values | {
        "status": COMPUTED,
        "peak_skin_dose_gy": result.peak_skin_dose_gy,
        "phantom": result.phantom,
        "grid_rows": rows,
        "grid_columns": columns,
        "grid_mgy_float32": engine.pack_grid(result.grid_mgy),
        "cell_length_cm": result.cell_length_cm,
        "cell_angle_rad": result.cell_angle_rad,
        "column_arc_cm": result.column_arc_cm,
        "inputs_used": {
            "phantom_dimensions_cm": result.phantom_dimensions_cm,
            "table_transmission": result.table_transmission,
            "total_air_kerma_rp_gy": sum(e.air_kerma_rp_mgy for e in inputs.events) / 1000.0,
            "kvp_range_kv": [min(e.kvp_kv for e in inputs.events), max(e.kvp_kv for e in inputs.events)],
        },
        "engine_version": result.engine_version,
    }


def skin_dose_document(row: model.SkinDoseMap | None, with_grid: bool = True) -> dict[str, Any]:
    """The JSON the API, the CLI and the page read (one shape for all three)."""
    if row is None:
        return {"status": "pending", "reason": "not computed yet"}
    document: dict[str, Any] = {
        "status": row.status,
        "reason": row.reason,
        "peak_skin_dose_gy": row.peak_skin_dose_gy,
        "phantom": row.phantom,
        "patient_height_m": row.patient_height_m,
        "height_assumed": row.height_assumed,
        "patient_mass_kg": row.patient_mass_kg,
        "mass_assumed": row.mass_assumed,
        "orientation": row.orientation,
        "orientation_assumed": row.orientation_assumed,
        "device_geometry": row.device_geometry,
        "assumptions": row.assumptions or [],
        "inputs_used": row.inputs_used or {},
        "events_modelled": row.events_modelled,
        "engine": {"name": row.engine_name, "version": row.engine_version},
        "computed_at": row.computed_at.isoformat() if row.computed_at else None,
    }
    if with_grid and row.status == COMPUTED and row.grid_mgy_float32 is not None:
        grid = engine.unpack_grid(row.grid_mgy_float32, row.grid_rows or 0, row.grid_columns or 0)
        document["grid"] = {
            "unit": "mGy",
            "rows": row.grid_rows,
            "columns": row.grid_columns,
            "cell_length_cm": row.cell_length_cm,
            "cell_angle_rad": row.cell_angle_rad,
            "column_arc_cm": row.column_arc_cm,
            "row_axis": "along the body from the phantom's head end, one row per cell length",
            "column_axis": "around the body from the +x side (patient left if head-first supine), posterior at pi/2",
            "dose_mgy": [[round(float(v), 4) for v in line] for line in grid],
        }
    return document
