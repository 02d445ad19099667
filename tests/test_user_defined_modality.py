"""The Dual-RDSR pair (one Siemens Fluorospot unit doing radiography and fluoroscopy) and the
user-defined modality, as the manual describes them (Configuration, L2912-2991)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

import sr_facts
from orthanc_rem import equipment_admin, model
from orthanc_rem.ingest import ingest_object

DX_FILE, RF_FILE = "Dual-RDSR-DX.dcm", "Dual-RDSR-RF.dcm"


def modalities(sessions) -> dict[str, str]:  # type: ignore[no-untyped-def]
    with sessions() as session:
        return {s.study_instance_uid: s.modality for s in session.scalars(select(model.Study))}


@pytest.fixture
def dual_unit(corpus, sessions):  # type: ignore[no-untyped-def]
    for name in (DX_FILE, RF_FILE):
        assert ingest_object(sessions, corpus(name), source=name).outcome == "imported"
    dx, rf = (str(sr_facts.read(corpus(n)).StudyInstanceUID) for n in (DX_FILE, RF_FILE))
    with sessions() as session:
        (equipment,) = session.scalars(select(model.Equipment)).all()  # same 8 identifying fields
    return equipment.id, dx, rf


def test_the_content_sorts_the_pair_into_radiography_and_fluoroscopy(dual_unit, sessions):
    _equipment, dx, rf = dual_unit
    assert modalities(sessions) == {dx: "DX", rf: "RF"}


def test_a_user_defined_modality_relabels_existing_and_future_studies(dual_unit, sessions, corpus, tmp_path):
    equipment_id, dx, rf = dual_unit
    with sessions() as session:
        assert equipment_admin.set_user_defined_modality(session, [equipment_id], "RF") == 1
    assert modalities(sessions) == {dx: "RF", rf: "RF"}
    with sessions() as session:
        equipment_admin.set_user_defined_modality(session, [equipment_id], "DX")
    assert modalities(sessions) == {dx: "DX", rf: "DX"}


def test_dual_sorts_each_study_by_its_content_again(dual_unit, sessions):
    equipment_id, dx, rf = dual_unit
    with sessions() as session:
        equipment_admin.set_user_defined_modality(session, [equipment_id], "RF")
        equipment_admin.set_user_defined_modality(session, [equipment_id], "Dual")
    assert modalities(sessions) == {dx: "DX", rf: "RF"}


def test_new_imports_follow_the_setting(corpus, sessions):
    assert ingest_object(sessions, corpus(RF_FILE), source="rf").ok
    with sessions() as session:
        (equipment,) = session.scalars(select(model.Equipment)).all()
        equipment_admin.set_user_defined_modality(session, [equipment.id], "RF")
    assert ingest_object(sessions, corpus(DX_FILE), source="dx").ok  # radiography content...
    dx = str(sr_facts.read(corpus(DX_FILE)).StudyInstanceUID)
    assert modalities(sessions)[dx] == "RF"  # ...shown as the system's user-defined modality


def test_ct_is_never_relabelled(corpus, sessions):
    assert ingest_object(sessions, corpus("CT-RDSR-GEPixelMed.dcm"), source="ct").ok
    with sessions() as session:
        (equipment,) = session.scalars(select(model.Equipment)).all()
        equipment_admin.set_user_defined_modality(session, [equipment.id], "DX")
    assert set(modalities(sessions).values()) == {"CT"}


def test_display_name_groups_systems(dual_unit, sessions):
    equipment_id, _dx, _rf = dual_unit
    with sessions() as session:
        equipment_admin.set_display_name(session, [equipment_id], "中心医院 Room 3")
        (row,) = equipment_admin.list_equipment(session)
    assert row["display_name"] == "中心医院 Room 3" and row["studies"] == 2
