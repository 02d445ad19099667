"""``orthanc-rem skin-dose STUDY_ID [--png FILE] [--json FILE] [--device NAME]``.

Prints the study's peak skin dose (computing and storing the map first if it has none or a stale
one), and writes the map as JSON (the API's document) or as a PNG of the unrolled skin. ``--device``
models a report that names its system neither in its header nor in its Device Observer rows with a
known geometry; that result is shown but not stored, since the pages cannot know the choice.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from orthanc_rem import model
from orthanc_rem.skin_dose import cache
from orthanc_rem.skin_dose.devices import GEOMETRIES as DEVICES
from orthanc_rem.skin_dose.devices import DeviceGeometry
from orthanc_rem.skin_dose.inputs import skin_dose_inputs


def register(command: Callable[..., Any]) -> None:
    """Add the sub-command through cli.build_parser's ``command`` helper."""
    sub = command("skin-dose", command_skin_dose, "compute or show a fluoroscopy study's skin dose map (PySkinDose)")
    sub.add_argument("study_id", type=int, metavar="STUDY_ID")
    sub.add_argument("--png", type=Path, metavar="FILE", help="write the unrolled skin dose map as a PNG")
    sub.add_argument("--json", type=Path, metavar="FILE", help="write the map document (as the API gives it)")
    sub.add_argument(
        "--device",
        choices=sorted(DEVICES),
        help="geometry to use when the report names no known system (result not stored)",
    )
    device = command(
        "skin-dose-device",
        command_skin_dose_device,
        "list systems with their skin dose geometry, or assign a known geometry to a system",
    )
    device.add_argument("--equipment", type=int, metavar="ID", help="equipment id (see the list)")
    device.add_argument("--geometry", choices=[*sorted(DEVICES), "none"], help="geometry to assign; none removes it")


def command_skin_dose(args: argparse.Namespace, service: Any) -> int:
    from orthanc_rem.cli import open_database  # cli registers this module: import at call time

    sessions = open_database(service.settings, create=False)
    if args.device:
        document = _computed_with(sessions, args.study_id, DEVICES[args.device])
    else:
        row = cache.refresh_skin_dose(sessions, args.study_id)
        document = (
            cache.skin_dose_document(row)
            if row is not None
            else {"status": "not_applicable", "reason": "no such fluoroscopy study with a dose report"}
        )
    if document["status"] == cache.COMPUTED:
        assumed = [n for n in ("height", "mass", "orientation") if document[f"{n}_assumed"]]
        print(
            f"study {args.study_id}: peak skin dose {document['peak_skin_dose_gy']:.4f} Gy "
            f"({document['phantom']}; assumed: {', '.join(assumed) or 'nothing'})"
        )
    else:
        print(f"study {args.study_id}: {document['status']}: {document.get('reason')}")
    if args.json:
        args.json.write_text(json.dumps(document, indent=1), "utf-8")
    if args.png and "grid" in document:
        write_png(np.array(document["grid"]["dose_mgy"], dtype=np.float32), args.png)
    return 0 if document["status"] in (cache.COMPUTED, cache.NOT_MODELLED) else 1


def command_skin_dose_device(args: argparse.Namespace, service: Any) -> int:
    """Maps of the system's studies become stale with the change and are computed again when asked."""
    from sqlalchemy import delete, select

    from orthanc_rem.cli import open_database

    sessions = open_database(service.settings, create=False)
    with sessions() as session:
        if args.equipment is not None and args.geometry:
            if session.get(model.Equipment, args.equipment) is None:
                print(f"orthanc-rem: there is no equipment with id {args.equipment}", file=sys.stderr)
                return 1
            session.execute(delete(model.SkinDoseDevice).where(model.SkinDoseDevice.equipment_fk == args.equipment))
            if args.geometry != "none":
                now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
                session.add(model.SkinDoseDevice(equipment_fk=args.equipment, geometry=args.geometry, assigned_at=now))
            session.commit()
        assigned = dict(session.execute(select(model.SkinDoseDevice.equipment_fk, model.SkinDoseDevice.geometry)).all())
        for equipment in session.scalars(select(model.Equipment).order_by(model.Equipment.id)):
            found = cache.find_device_geometry(equipment.manufacturer, equipment.manufacturer_model_name)
            from_header = found.key if isinstance(found, DeviceGeometry) else "-"
            print(
                f"{equipment.id:>5}  {equipment.display_name:30}  {equipment.manufacturer or '':25} "
                f"{equipment.manufacturer_model_name or '':25} header: {from_header:15} "
                f"report: {_observed_geometry(session, equipment):15} assigned: {assigned.get(equipment.id, '-')}"
            )
    return 0


def _observed_geometry(session: Any, equipment: model.Equipment) -> str:
    """The geometry the system's RDSRs name in their Device Observer rows (TID 1004), or "-"."""
    from sqlalchemy import select

    dose = model.ProjectionXRayRadiationDose
    observer = session.execute(
        select(dose.device_observer_manufacturer, dose.device_observer_model_name)
        .join(model.Study, model.Study.id == dose.study_fk)
        .where(model.Study.equipment_id == equipment.id, dose.device_observer_model_name.is_not(None))
        .limit(1)
    ).first()
    if observer is None:
        return "-"
    found = cache.find_device_geometry(observer[0] or equipment.manufacturer, observer[1])
    return found.key if isinstance(found, DeviceGeometry) else "-"


def _computed_with(sessions: Any, study_id: int, device: DeviceGeometry) -> dict[str, Any]:
    with sessions() as session:
        study = session.get(model.Study, study_id)
        if study is None:
            return {"status": "not_applicable", "reason": f"there is no study with id {study_id}"}
        inputs = skin_dose_inputs(study, device)
    values = cache.result_values(inputs, cache.installed_engine_version())
    row = model.SkinDoseMap(study_fk=study_id, computed_at=dt.datetime.now(dt.UTC).replace(tzinfo=None), **values)
    return cache.skin_dose_document(row)


def write_png(grid_mgy: np.ndarray, path: Path, scale: int = 4) -> None:
    """The unrolled skin, head end at the top, coloured blue (0) to red (peak), like the page."""
    from PIL import Image

    peak = float(grid_mgy.max()) or 1.0
    level = np.clip(grid_mgy / peak, 0.0, 1.0)
    red = np.clip(1.5 - np.abs(4 * level - 3), 0, 1)
    green = np.clip(1.5 - np.abs(4 * level - 2), 0, 1)
    blue = np.clip(1.5 - np.abs(4 * level - 1), 0, 1)
    rgb = (np.stack([red, green, blue], axis=-1) * 255).astype(np.uint8)
    image = Image.fromarray(rgb).resize((rgb.shape[1] * scale, rgb.shape[0] * scale), Image.Resampling.NEAREST)
    image.save(path, format="PNG")
    print(f"map written to {path} (peak {peak:.1f} mGy shown red)", file=sys.stderr)
