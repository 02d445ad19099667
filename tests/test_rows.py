"""Nothing extracted is silently dropped on its way into the database: every field of every
projection record has a column (or a child table) of the same name."""

from __future__ import annotations

import dataclasses

import pytest

from orthanc_rem import model
from orthanc_rem.extraction import projection_records as records

#: record -> (table, fields stored as child rows or on purpose elsewhere)
STORED_AS = {
    records.ProjectionXRayRadiationDose: (
        model.ProjectionXRayRadiationDose,
        {"accumulations", "events", "sources_of_dose_information"},
    ),
    records.AccumulatedXRayDose: (model.AccumulatedXRayDose, {"mammography", "calibrations"}),
    records.MammographyAccumulatedDose: (model.AccumulatedMammographyDose, set()),
    records.XRayCalibration: (model.XRayCalibration, set()),
    records.ProjectionIrradiationEvent: (
        model.ProjectionIrradiationEvent,
        {"image_view_modifiers", "source", "detector", "mechanical"},
    ),
    records.XRaySource: (model.XRaySource, {"filters", "grid"}),
    records.XRayFilter: (model.XRayFilter, set()),
    records.XRayDetector: (model.XRayDetector, set()),
    records.XRayMechanical: (model.XRayMechanical, set()),
}


@pytest.mark.parametrize("record", list(STORED_AS), ids=lambda r: r.__name__)
def test_every_record_field_has_a_column(record):
    table, elsewhere = STORED_AS[record]
    columns = set(table.__table__.columns.keys())
    missing = [
        f.name
        for f in dataclasses.fields(record)
        if f.name not in elsewhere and f.name not in columns and f"{f.name}_value" not in columns
    ]
    assert missing == []
