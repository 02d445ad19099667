"""The study and patient values every export row starts with, read for a batch of studies at once.

One narrow query per batch (study, patient and equipment columns only), so that an export of
100,000 studies costs a few hundred queries and never a study tree per row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from orthanc_rem import model
from orthanc_rem.exports.columns import PatientData


@dataclass
class StudyDose:
    """What a modality layout reads for one study; the header values are added by the runner."""

    comment: str | None = None
    number_of_events: int | None = None
    values: list[Any] = field(default_factory=list)
    #: "All data" blocks repeated to the right: one per event, or per group of exposures (RF).
    blocks: list[list[Any]] = field(default_factory=list)
    #: (acquisition protocol, values) per event, for the protocol sheets.
    events: list[tuple[str | None, list[Any]]] = field(default_factory=list)


_study, _patient, _equipment = model.Study, model.Patient, model.Equipment
_HEADER = (
    select(
        _study.id,
        _patient.name,
        _patient.patient_id,
        _equipment.institution_name,
        _equipment.manufacturer,
        _equipment.manufacturer_model_name,
        _equipment.station_name,
        _equipment.display_name,
        _study.accession_number,
        _study.operator_name,
        _study.study_date,
        _study.study_time,
        _patient.birth_date,
        _patient.age_years,
        _patient.sex,
        _patient.size_m,
        _patient.weight_kg,
        _patient.not_patient_indicator,
        _study.study_description,
        _study.requested_procedure_code_meaning,
        _study.requested_procedure_description,
    )
    .select_from(_study)
    .outerjoin(_patient, _patient.study_fk == _study.id)
    .outerjoin(_equipment, _equipment.id == _study.equipment_id)
)


def study_headers(
    session: Session, study_ids: Sequence[int], modality: str, patient: PatientData
) -> dict[int, list[Any]]:
    """The common columns (``columns.common_columns``) up to "Test patient?" ... "Requested
    procedure", per study id; "Study Comments" and "No. events" come from the layout."""
    rows = session.connection().execute(_HEADER.where(_study.id.in_(study_ids)))
    headers: dict[int, list[Any]] = {}
    for row in rows:
        values: list[Any] = []
        if patient.names:
            values.append(row.name)
        if patient.ids:
            values.append(row.patient_id)
        values += [
            row.institution_name,
            row.manufacturer,
            row.manufacturer_model_name,
            row.station_name,
            row.display_name,
            row.accession_number,
            row.operator_name,
            row.study_date,
            row.study_time,
        ]
        if patient.any:
            values.append(row.birth_date)
        values += [row.age_years, row.sex]
        if modality != "MG":
            values += [row.size_m, row.weight_kg]
        values += [
            row.not_patient_indicator,
            row.study_description,
            # OpenREM exports the requested procedure code's meaning; images carry only the text.
            row.requested_procedure_code_meaning or row.requested_procedure_description,
        ]
        headers[row.id] = values
    return headers
