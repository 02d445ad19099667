"""The cached skin dose map of a fluoroscopy study (issue 12; manual, skin dose map chapter).

One row per study, whatever became of the calculation: a map (``computed``), a stated reason why
the system or report cannot be modelled (``not_modelled``), or the error of a failed run
(``failed``). ``inputs_hash`` digests everything the map depends on (events as fed to the engine,
patient height and mass, phantom, engine name and version), so a size import or an engine upgrade
makes the row stale and it is computed again; nothing else is ever recomputed.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from orthanc_rem.model.common import Base, measured, text_column


class SkinDoseMap(Base):
    """Peak skin dose and the dose grid on the unrolled phantom skin, with every input used."""

    __tablename__ = "skin_dose_map"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_fk: Mapped[int] = mapped_column(ForeignKey("study.id", ondelete="CASCADE"), unique=True)
    status: Mapped[str] = mapped_column(String(16), info={"doc": "computed, not_modelled or failed"})
    reason: Mapped[str | None] = text_column()
    peak_skin_dose_gy: Mapped[float | None] = measured("Gy")
    phantom: Mapped[str | None] = text_column()
    patient_height_m: Mapped[float | None] = measured("m")
    height_assumed: Mapped[bool] = mapped_column(Boolean, default=False)
    patient_mass_kg: Mapped[float | None] = measured("kg")
    mass_assumed: Mapped[bool] = mapped_column(Boolean, default=False)
    orientation: Mapped[str | None] = text_column()
    orientation_assumed: Mapped[bool] = mapped_column(Boolean, default=False)
    device_geometry: Mapped[str | None] = text_column()
    grid_rows: Mapped[int | None] = mapped_column(Integer, nullable=True)
    grid_columns: Mapped[int | None] = mapped_column(Integer, nullable=True)
    grid_mgy_float32: Mapped[bytes | None] = mapped_column(
        LargeBinary, nullable=True, info={"doc": "zlib-compressed little-endian float32 mGy, row-major"}
    )
    cell_length_cm: Mapped[float | None] = mapped_column(Float, nullable=True)
    cell_angle_rad: Mapped[float | None] = mapped_column(Float, nullable=True)
    column_arc_cm: Mapped[list[float] | None] = mapped_column(JSON, nullable=True)
    assumptions: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    inputs_used: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    events_modelled: Mapped[int | None] = mapped_column(Integer, nullable=True)
    engine_name: Mapped[str | None] = mapped_column(Text, nullable=True)
    engine_version: Mapped[str | None] = mapped_column(Text, nullable=True)
    inputs_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    computed_at: Mapped[dt.datetime] = mapped_column(DateTime)


class SkinDoseDevice(Base):
    """A user's statement of which known geometry an X-ray system has (``orthanc-rem skin-dose-device``).

    For reports that name their system nowhere, neither in the header's Manufacturer's Model Name
    nor in the SR's Device Observer Model Name (which identifies Philips Allura Xper reports), so
    that such a system can be modelled on purpose rather than guessed.
    """

    __tablename__ = "skin_dose_device"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    equipment_fk: Mapped[int] = mapped_column(ForeignKey("equipment.id", ondelete="CASCADE"), unique=True)
    geometry: Mapped[str] = mapped_column(String(32), info={"doc": "a key of skin_dose.devices.GEOMETRIES"})
    assigned_at: Mapped[dt.datetime] = mapped_column(DateTime)
