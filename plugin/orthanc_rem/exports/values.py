"""How one study becomes rows: the header values, the layout's values and the repeated blocks."""

from __future__ import annotations

from typing import Any

from orthanc_rem.exports.columns import Column, PatientData, common_columns, repeated
from orthanc_rem.exports.layout import Layout
from orthanc_rem.exports.study_header import StudyDose


def study_level_columns(layout: Layout, patient: PatientData) -> list[Column]:
    return [*common_columns(layout.modality, patient), *layout.study_columns]


def all_data_columns(layout: Layout, patient: PatientData, blocks: int) -> list[Column]:
    return [*study_level_columns(layout, patient), *repeated(layout.block_prefix, blocks, layout.block_columns)]


def protocol_sheet_columns(layout: Layout, patient: PatientData) -> list[Column]:
    return [*study_level_columns(layout, patient), *layout.event_columns]


def study_level_values(header: list[Any], dose: StudyDose, layout: Layout) -> list[Any]:
    values = dose.values if dose.values else [None] * len(layout.study_columns)
    return [*header, dose.comment, dose.number_of_events or 0, *values]


def with_blocks(study_values: list[Any], dose: StudyDose) -> list[Any]:
    row = list(study_values)
    for block in dose.blocks:
        row += block
    return row


def missing_study_message(study_id: int) -> str:
    """OpenREM #614: a study deleted (or replaced by a newer report) while the export runs is
    reported in the file, and the export goes on."""
    return f"Study {study_id} was deleted or replaced during the export: not exported"
