"""A report's rows written level by level (bulk_rows) hang from the right parents.

The new report's tree no longer goes through the ORM's unit of work, so the foreign keys are
filled in by ``bulk_rows``: each filter must belong to its own event's source, each CT X-ray
source to its own acquisition. Expected values are read from the objects with plain pydicom.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

import sr_facts
from orthanc_rem import model
from orthanc_rem.ingest import ingest_object

XRAY_FILTERS = "113771"
FILTER_MATERIAL = "113757"
FILTER_THICKNESS_MAXIMUM = "113773"
CT_XRAY_SOURCE_PARAMETERS = "113831"
KVP = "113733"


def _event_uid(event) -> str:  # type: ignore[no-untyped-def]
    (uid,) = sr_facts.uids(event, sr_facts.IRRADIATION_EVENT_UID)
    return uid


def test_each_fluoroscopy_event_keeps_its_own_filters(corpus, sessions):
    path = corpus("RF-RDSR-Philips_Allura.dcm")  # 3 events, a copper and an aluminium filter each
    expected = {}
    for event in sr_facts.projection_events(sr_facts.read(path)):
        filters = sr_facts.find(event, XRAY_FILTERS)
        expected[_event_uid(event)] = sorted(
            (
                sr_facts.child(f, FILTER_MATERIAL).ConceptCodeSequence[0].CodeValue,
                sr_facts.numbers(f, FILTER_THICKNESS_MAXIMUM)[0],
            )
            for f in filters
        )
    assert ingest_object(sessions, path, source="test").outcome == "imported"
    with sessions() as session:
        stored = {}
        for event in session.scalars(select(model.ProjectionIrradiationEvent)):
            stored[event.irradiation_event_uid] = sorted(
                (f.filter_material_value, pytest.approx(f.thickness_maximum_mm)) for f in event.source.filters
            )
    assert stored == expected


def test_each_ct_acquisition_keeps_its_own_sources_and_dose_check(corpus, sessions):
    path = corpus("CT-RDSR-Toshiba_DoseCheck.dcm")
    ds = sr_facts.read(path)
    expected = {
        _event_uid(acquisition): sorted(
            sr_facts.numbers(source, KVP)[0] for source in sr_facts.find(acquisition, CT_XRAY_SOURCE_PARAMETERS)
        )
        for acquisition in sr_facts.ct_acquisitions(ds)
    }
    assert ingest_object(sessions, path, source="test").outcome == "imported"
    with sessions() as session:
        events = session.scalars(select(model.CtIrradiationEvent)).all()
        stored = {e.irradiation_event_uid: sorted(s.kvp_kv for s in e.sources) for e in events}
        assert all(e.dose_check is None or e.dose_check.event_fk == e.id for e in events)
        (dose,) = session.scalars(select(model.CtRadiationDose)).all()
        assert {e.ct_radiation_dose_fk for e in events} == {dose.id}
    assert stored == expected
