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
from orthanc_rem.exports.batch_keys import keys_in
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
_STUDY = select(
    _study.id, _study.equipment_id, _study.accession_number, _study.operator_name, _study.study_date,
    _study.study_time, _study.study_description, _study.requested_procedure_code_meaning,
    _study.requested_procedure_description,
)  # fmt: skip
_PATIENT = select(
    _patient.study_fk, _patient.name, _patient.patient_id, _patient.birth_date, _patient.age_years, _patient.sex,
    _patient.size_m, _patient.weight_kg, _patient.not_patient_indicator,
)  # fmt: skip
_EQUIPMENT = select(
    _equipment.id, _equipment.institution_name, _equipment.manufacturer, _equipment.manufacturer_model_name,
    _equipment.station_name, _equipment.display_name,
)  # fmt: skip


class _Missing:
    """A patient or equipment row that is not there: every column empty."""

    def __getattr__(self, name: str) -> None:
        return None


MISSING = _Missing()


def study_headers(
    session: Session, study_ids: Sequence[int], modality: str, patient: PatientData
) -> dict[int, list[Any]]:
    """The common columns (``columns.common_columns``) up to "Test patient?" ... "Requested
    procedure", per study id; "Study Comments" and "No. events" come from the layout.

    One query per table by primary or unique key (no join): PostgreSQL then looks the batch up in
    the indexes instead of hashing whole tables once per batch."""
    connection = session.connection()
    studies = connection.execute(_STUDY.where(keys_in(_study.id, study_ids))).all()
    patients = {r.study_fk: r for r in connection.execute(_PATIENT.where(keys_in(_patient.study_fk, study_ids)))}
    equipment_ids = sorted({r.equipment_id for r in studies if r.equipment_id is not None})
    equipment = {r.id: r for r in connection.execute(_EQUIPMENT.where(keys_in(_equipment.id, equipment_ids)))}
    headers: dict[int, list[Any]] = {}
    for row in studies:
        person: Any = patients.get(row.id, MISSING)
        system: Any = equipment.get(row.equipment_id, MISSING)
        values: list[Any] = []
        if patient.names:
            values.append(person.name)
        if patient.ids:
            values.append(person.patient_id)
        values += [
            system.institution_name,
            system.manufacturer,
            system.manufacturer_model_name,
            system.station_name,
            system.display_name,
            row.accession_number,
            row.operator_name,
            row.study_date,
            row.study_time,
        ]
        if patient.any:
            values.append(person.birth_date)
        values += [person.age_years, person.sex]
        if modality != "MG":
            values += [person.size_m, person.weight_kg]
        values += [
            person.not_patient_indicator,
            row.study_description,
            # OpenREM exports the requested procedure code's meaning; images carry only the text.
            row.requested_procedure_code_meaning or row.requested_procedure_description,
        ]
        headers[row.id] = values
    return headers
