"""Peak skin dose in the fluoroscopy lists: the column, the API field and the psd_from/psd_until filter.

Read from the stored maps only (a list never starts a calculation); a study whose map is not
computed has no PSD and is left out by a PSD filter, as a study without a date is by a date filter.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from orthanc_rem import model
from orthanc_rem.skin_dose.cache import COMPUTED

PSD_UNIT = "Gy"


def psd_conditions(psd_from_gy: float | None, psd_until_gy: float | None) -> list[ColumnElement[bool]]:
    """Conditions on ``model.Study`` for an inclusive PSD range; none when neither bound is given."""
    if psd_from_gy is None and psd_until_gy is None:
        return []
    maps = select(model.SkinDoseMap.study_fk).where(model.SkinDoseMap.status == COMPUTED)
    if psd_from_gy is not None:
        maps = maps.where(model.SkinDoseMap.peak_skin_dose_gy >= psd_from_gy)
    if psd_until_gy is not None:
        maps = maps.where(model.SkinDoseMap.peak_skin_dose_gy <= psd_until_gy)
    return [model.Study.id.in_(maps)]


def add_peak_skin_dose(session: Session, summaries: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Add ``peak_skin_dose`` ({value, unit, status}) to the fluoroscopy rows of a study list."""
    rows = list(summaries)
    ids = [row["id"] for row in rows if row.get("modality") == "RF"]
    if not ids:  # a CT list (most pages): no query at all
        return rows
    found = {
        study_fk: (status, psd)
        for study_fk, status, psd in session.execute(
            select(model.SkinDoseMap.study_fk, model.SkinDoseMap.status, model.SkinDoseMap.peak_skin_dose_gy).where(
                model.SkinDoseMap.study_fk.in_(ids)
            )
        )
    }
    for row in rows:
        if row.get("modality") == "RF":
            status, psd = found.get(row["id"], ("pending", None))
            row["peak_skin_dose"] = {"value": psd, "unit": PSD_UNIT, "status": status}
    return rows
