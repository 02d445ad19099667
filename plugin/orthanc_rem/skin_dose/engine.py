"""Runs PySkinDose on :class:`SkinDoseInputs` and returns the map on the unrolled phantom skin.

We hand the engine its normalised event table ourselves (its public
``analyze_normalized_data_with_custom_settings_object``) rather than letting it parse the RDSR: our
extraction already reads every vendor's units and quirks, and the engine's own parser fails on
reports without a Collimated Field Area (our Siemens Artis Zee file). The translation to the
engine's frame follows its ``rdsr_normalizer`` step by step, with the device conventions of
``devices``.

The phantom is the engine's elliptic cylinder. Its 150 x 40 x 20 cm default stands for the
manual's reference patient (1.786 m, 73.2 kg); length scales with height and both radii with
sqrt((mass/73.2) / (height/1.786)), so that the cross-section area follows mass per unit height.
Table and pad transmission use the engine's measured table for the system when it holds the
event's kVp and filtration, else its documented estimate (0.8), which is then flagged.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import sqlite3
import tempfile
import threading
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from orthanc_rem.skin_dose.inputs import HEAD_FIRST_SUPINE, SkinDoseInputs

#: PySkinDose draws tqdm progress bars; tqdm reads TQDM_* overrides when it is first imported.
os.environ.setdefault("TQDM_DISABLE", "1")

ENGINE_NAME = "PySkinDose"
#: Bumped when this adapter changes what it feeds the engine: cached maps then become stale.
ADAPTER_VERSION = "1"
REFERENCE_HEIGHT_M = 1.786
REFERENCE_MASS_KG = 73.2
REFERENCE_CYLINDER_CM = {"length": 150.0, "radius_a": 20.0, "radius_b": 10.0}
#: The engine's sparse cylinder: one ring per cm, points every 0.1 rad from 0 to 2 pi.
RING_STEP_RAD = 0.1
CELL_LENGTH_CM = 1.0
ESTIMATED_TABLE_TRANSMISSION = 0.8


class EngineUnavailable(RuntimeError):
    """PySkinDose is not installed (it is the optional extra ``skin``)."""


@dataclass(frozen=True)
class SkinDoseResult:
    peak_skin_dose_gy: float
    grid_mgy: np.ndarray  # rows along the body (head end first), columns around it
    cell_length_cm: float
    cell_angle_rad: float
    column_arc_cm: list[float]
    phantom: str
    phantom_dimensions_cm: dict[str, float]
    table_transmission: str
    engine_version: str


def engine_version() -> str:
    try:
        return metadata.version("pyskindose")
    except metadata.PackageNotFoundError as exc:
        raise EngineUnavailable("PySkinDose is not installed (pip install 'orthanc-rem[skin]')") from exc


def phantom_dimensions_cm(height_m: float, mass_kg: float) -> dict[str, float]:
    scale = math.sqrt((mass_kg / REFERENCE_MASS_KG) / (height_m / REFERENCE_HEIGHT_M))
    return {
        "length": float(round(REFERENCE_CYLINDER_CM["length"] * height_m / REFERENCE_HEIGHT_M)),
        "radius_a": round(REFERENCE_CYLINDER_CM["radius_a"] * scale, 2),
        "radius_b": round(REFERENCE_CYLINDER_CM["radius_b"] * scale, 2),
    }


def normalized_events(inputs: SkinDoseInputs) -> Any:
    """The engine's ``data_norm`` table (its rdsr_normalizer's columns and units)."""
    import pandas as pd

    device = inputs.device
    (ox, oy, oz), (dx, dy, dz) = device.translation_offset_cm, device.translation_direction
    rows = []
    for e in inputs.events:
        rows.append(
            {
                "model": device.engine_model,
                "DSD": e.source_detector_cm,
                "DSI": e.source_isocenter_cm,
                "DID": e.source_detector_cm - e.source_isocenter_cm,
                "DSIRP": e.source_reference_point_cm,
                "acquisition_type": e.event_type,
                "acquisition_plane": e.acquisition_plane,
                "Tx": ox + dx * e.table_longitudinal_mm / 10.0,
                "Ty": oy + dy * e.table_height_mm / 10.0,
                "Tz": oz + dz * e.table_lateral_mm / 10.0,
                "At1": 0.0,
                "At2": 0.0,
                "At3": 0.0,
                "filter_thickness_Cu": e.copper_mm,
                "filter_thickness_Al": e.aluminium_mm,
                "Ap1": device.primary_angle_direction * e.primary_angle_deg,
                "Ap2": device.secondary_angle_direction * e.secondary_angle_deg,
                "Ap3": 0.0,
                "DSL": device.detector_side_length_cm,
                "FS_lat": e.field_lateral_cm,
                "FS_long": e.field_longitudinal_cm,
                "kVp": e.kvp_kv,
                "K_IRP": e.air_kerma_rp_mgy,
            }
        )
    return pd.DataFrame(rows)


def engine_settings(inputs: SkinDoseInputs, estimate_table: bool) -> dict[str, Any]:
    dims = phantom_dimensions_cm(inputs.patient.height_m, inputs.patient.mass_kg)
    return {
        "mode": "calculate_dose",
        "rdsr_filename": "",
        "estimate_k_tab": estimate_table,
        "k_tab_val": ESTIMATED_TABLE_TRANSMISSION,
        "inherent_filtration": inputs.device.inherent_filtration_mmal,
        "remove_invalid_rows": False,
        "silence_pydicom_warnings": True,
        "plot": {
            "interactivity": False,
            "dark_mode": False,
            "notebook_mode": False,
            "plot_dosemap": False,
            "colorscale": "jet",
            "max_events_for_patient_inclusion": 0,
            "plot_event_index": 0,
        },
        "phantom": {
            "model": "cylinder",
            "human_mesh": "hudfrid",
            "patient_offset": {"d_lon": 0, "d_ver": 0, "d_lat": 0},
            "patient_orientation": inputs.orientation or HEAD_FIRST_SUPINE,
            "dimension": {
                "plane_length": 120,
                "plane_width": 40,
                "plane_resolution": "sparse",
                "cylinder_length": int(dims["length"]),
                "cylinder_radii_a": dims["radius_a"],
                "cylinder_radii_b": dims["radius_b"],
                "cylinder_resolution": "sparse",
                "table_length": 281.5,
                "table_width": 45,
                "table_thickness": 5,
                "pad_length": 281.5,
                "pad_width": 45,
                "pad_thickness": 4,
            },
        },
        "corrections_db_path": str(corrections_database()),
    }


def corrections_database() -> Path:
    """The engine's SQLite of correction tables, built once per engine version.

    PySkinDose builds it from its CSV files next to the working directory when missing; workers
    run in parallel, so it is built under a temporary name and moved into place atomically.
    """
    target = Path(tempfile.gettempdir()) / f"orthanc-rem-pyskindose-{engine_version()}-corrections.sqlite"
    if target.exists():
        return target
    from pyskindose.db_connect import db_connect

    fd, scratch = tempfile.mkstemp(suffix=".sqlite", dir=target.parent)
    os.close(fd)
    os.unlink(scratch)
    connection = db_connect(db_name=scratch)[0]
    connection.close()
    os.replace(scratch, target)
    return target


def measured_table_transmission_available(inputs: SkinDoseInputs) -> bool:
    """Whether the engine's measured table+pad table holds every event's (kVp, filters, plane)."""
    with sqlite3.connect(corrections_database()) as connection:
        for e in inputs.events:
            row = connection.execute(
                "SELECT 1 FROM correction_table_and_pad_attenuation WHERE kvp_kv=? AND filtration_added_mmcu=? "
                "AND filtration_added_mmal=? AND device_model=? AND acquisition_plane=?",
                (round(e.kvp_kv), e.copper_mm, e.aluminium_mm, inputs.device.engine_model, e.acquisition_plane),
            ).fetchone()
            if row is None:
                return False
    return True


#: ``progress(events_done, events_total)``, called as the engine finishes each irradiation event.
Progress = Callable[[int, int], None]
_bar_lock = threading.Lock()


@contextlib.contextmanager
def _events_reported(progress: Progress | None) -> Iterator[None]:
    """The engine's only view of its own progress is the tqdm bar it makes for the events
    (``calculate_dose``: ``from tqdm import tqdm``, looked up when it runs, one ``update`` per
    event). For the run, that name is a bar that also tells ``progress``; the bars stay disabled
    (TQDM_DISABLE), which leaves tqdm's own count at 0, so the events are counted here."""
    if progress is None:
        yield
        return
    import tqdm as tqdm_module

    original, report = tqdm_module.tqdm, progress

    class ReportingBar(original):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.events_total = int(kwargs.get("total") or 0)
            self.events_done = 0

        def update(self, n: float | None = 1) -> bool | None:
            self.events_done += int(n or 0)
            report(self.events_done, self.events_total)
            return super().update(n)  # type: ignore[no-any-return]

    with _bar_lock:
        tqdm_module.tqdm = ReportingBar
        try:
            yield
        finally:
            tqdm_module.tqdm = original


def run_engine(data_norm: Any, settings: dict[str, Any], progress: Progress | None = None) -> dict[str, Any]:
    """The engine's public entry point, with its progress bars silenced (worker logs)."""
    from pyskindose.main import analyze_normalized_data_with_custom_settings_object
    from pyskindose.settings import PyskindoseSettings

    engine_settings_object = PyskindoseSettings(settings, output_format="dict")
    # tqdm resolves its output when a bar is made: the bars go nowhere, exceptions still raise.
    with contextlib.redirect_stderr(io.StringIO()), _events_reported(progress):
        output = analyze_normalized_data_with_custom_settings_object(
            data_norm, engine_settings_object, output_format="dict"
        )
    return output  # type: ignore[return-value]


def compute_skin_dose(inputs: SkinDoseInputs, progress: Progress | None = None) -> SkinDoseResult:
    version = engine_version()
    estimate_table = not measured_table_transmission_available(inputs)
    settings = engine_settings(inputs, estimate_table)
    output = run_engine(normalized_events(inputs), settings, progress)
    dims = phantom_dimensions_cm(inputs.patient.height_m, inputs.patient.mass_kg)
    angles = np.arange(0.0, 2 * np.pi, RING_STEP_RAD)
    columns = len(angles)
    rows = int(dims["length"]) + 2  # the engine's cylinder has length + 2 rings
    flat = np.zeros(rows * columns, dtype=np.float64)
    for index, dose in output["dose_map"]:
        flat[int(index)] = dose
    grid = flat.reshape(rows, columns)
    return SkinDoseResult(
        peak_skin_dose_gy=float(grid.max()) / 1000.0,
        grid_mgy=grid.astype(np.float32),
        cell_length_cm=CELL_LENGTH_CM,
        cell_angle_rad=RING_STEP_RAD,
        column_arc_cm=ellipse_arc_positions_cm(angles, dims["radius_a"], dims["radius_b"]),
        phantom=(
            f"elliptic cylinder {dims['length']:g} cm long, {2 * dims['radius_a']:g} cm wide, "
            f"{2 * dims['radius_b']:g} cm thick"
        ),
        phantom_dimensions_cm=dims,
        table_transmission=(
            f"estimated {ESTIMATED_TABLE_TRANSMISSION:g} (no measured value for these beams)"
            if estimate_table
            else f"measured for {inputs.device.engine_model} (PySkinDose table)"
        ),
        engine_version=version,
    )


def ellipse_arc_positions_cm(angles: np.ndarray, radius_a: float, radius_b: float) -> list[float]:
    """Distance along the skin from angle 0 to each column, so the unrolled map keeps its proportions."""
    x, y = radius_a * np.cos(angles), radius_b * np.sin(angles)
    steps = np.hypot(np.diff(x), np.diff(y))
    return [0.0, *np.round(np.cumsum(steps), 2).tolist()]


def pack_grid(grid: np.ndarray) -> bytes:
    return zlib.compress(np.ascontiguousarray(grid, dtype="<f4").tobytes())


def unpack_grid(packed: bytes, rows: int, columns: int) -> np.ndarray:
    return np.frombuffer(zlib.decompress(packed), dtype="<f4").reshape(rows, columns)
