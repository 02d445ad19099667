"""The NHSBSP CSV for the NCCPM mammography dose audit database (manual L5700-5723).

One row per exposure: survey number 1, patients numbered from 1, a view code made of the
laterality's initial and NCCPM's view code (MLO is "OB", the rest as ACR's 1999 Mammography
Quality Control Manual), made unique per patient by a repeat number (``LCC2``). Exposures that
are not part of a screening view are left out: protocols naming scout, post-clip, pre-fire,
biopsy, post-fire, stereo, specimen or artefact, a specimen view, and exposures without
laterality, view, anode or filter (the database cannot take them).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from orthanc_rem import model
from orthanc_rem.exports.batch_keys import keys_in
from orthanc_rem.exports.columns import Column, number, text
from orthanc_rem.exports.projection_events import Filters, filter_abbreviation, read_events, read_filters
from orthanc_rem.study_document import breast

COLUMNS: tuple[Column, ...] = (
    number("Survey number"),
    number("Patient number"),
    text("View code"),
    number("kV"),
    text("Anode"),
    text("Filter"),
    number("Thickness"),
    number("mAs"),
    text("large cassette used"),
    text("auto/man"),
    text("Auto mode"),
    text("Density setting"),
    number("Age"),
    text("Comment"),
    text("AEC density mode"),
)

EXCLUDED_PROTOCOL_WORDS = ("scout", "postclip", "prefire", "biopsy", "postfire", "stereo", "specimen", "artefact")

#: Image view meanings (CID 4014) to NCCPM view codes.
VIEW_CODES = {
    "cranio-caudal": "CC",
    "medio-lateral oblique": "OB",
    "medio-lateral": "ML",
    "latero-medial": "LM",
    "latero-medial oblique": "LMO",
    "caudo-cranial (from below)": "FB",
    "superolateral to inferomedial oblique": "SIO",
    "inferomedial to superolateral oblique": "ISO",
    "cranio-caudal exaggerated laterally": "XCCL",
    "cranio-caudal exaggerated medially": "XCCM",
}
SIDES = {"left": "L", "right": "R", "both": "B"}
NO_FILTERS = Filters(None, None)


def excluded(event: Any) -> bool:
    protocol = (event.acquisition_protocol or "").lower().replace("-", "").replace(" ", "")
    view = (event.image_view_meaning or "").lower()
    return any(word in protocol for word in EXCLUDED_PROTOCOL_WORDS) or "specimen" in view


def view_code(event: Any) -> str | None:
    side = SIDES.get(breast(event.laterality_value, event.laterality_meaning) or "")
    meaning = (event.image_view_meaning or "").strip().lower()
    if side is None or not meaning:
        return None
    return side + VIEW_CODES.get(meaning, meaning.upper())


def automatic_or_manual(mode: str | None) -> str | None:
    if not mode:
        return None
    upper = mode.upper()
    if "AUTO" in upper or "AEC" in upper:
        return "AUTO"
    return "MANUAL" if "MAN" in upper else None


StudyExposures = tuple[float | None, list[Any], dict[int, Filters]]


def read_nhsbsp(session: Session, study_ids: Sequence[int]) -> dict[int, StudyExposures]:
    """Per study id: the patient's age and the exposures with their filters."""
    patients = select(model.Patient.study_fk, model.Patient.age_years).where(keys_in(model.Patient.study_fk, study_ids))
    ages: dict[int, float | None] = {row.study_fk: row.age_years for row in session.connection().execute(patients)}
    events = read_events(session, study_ids)
    filters = read_filters(session, study_ids)
    return {study_id: (ages.get(study_id), study_events, filters) for study_id, study_events in events.items()}


def patient_rows(
    patient_number: int, age: float | None, events: list[Any], filters: dict[int, Filters]
) -> list[list[Any]]:
    rows: list[list[Any]] = []
    repeats: Counter[str] = Counter()
    for event in events:
        if excluded(event):
            continue
        code = view_code(event)
        anode = filter_abbreviation(event.anode_target_material_meaning)
        material = filters.get(event.source_id, NO_FILTERS).materials
        if code is None or not anode or not material:
            continue
        repeats[code] += 1
        if repeats[code] > 1:
            code = f"{code}{repeats[code]}"
        rows.append(
            [
                1,
                patient_number,
                code,
                event.kvp_kv,
                anode,
                material,
                event.compression_thickness_mm,
                None if event.exposure_uas is None else event.exposure_uas / 1000,
                None,
                automatic_or_manual(event.exposure_control_mode),
                event.exposure_control_mode,
                None,
                age,
                None,
                None,
            ]
        )
    return rows
