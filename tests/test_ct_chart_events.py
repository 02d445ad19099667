"""``ct_chart_event``, the CT events as the charts read them (migration 0016b), stays the copy of
what is stored: after an import (values read with pydicom), a cumulative report replacing
another, a reprocessing swap, a study deletion, a new display name, a user-defined modality;
and the migration fills it from events stored before it. On SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

import sr_facts
from orthanc_rem import database, equipment_admin, model, persistence, study_deletion
from orthanc_rem.config import Settings
from orthanc_rem.extraction.dicom_file import read_dicom_file
from orthanc_rem.extraction.dispatch import extract
from orthanc_rem.ingest import ingest_object
from test_chart_options import study
from web_clients import dose_browser_client

CT_ACQUISITION_TYPE = "113820"
ACQUISITION_PROTOCOL = "125203"
BASE_URL = "http://orthanc.test/rem/"


def chart_rows(session: Session) -> dict[str, tuple[Any, ...]]:
    """Per event UID: the row's study, modality, date, system, protocol, localiser flag, DLP, CTDIvol."""
    rows = model.CtChartEvent
    query = select(model.CtIrradiationEvent.irradiation_event_uid, rows.study_fk, rows.modality, rows.study_date,
                   rows.equipment_id, rows.acquisition_protocol, rows.localiser, rows.dlp_mgycm,
                   rows.mean_ctdivol_mgy).join(model.CtIrradiationEvent,
                                               model.CtIrradiationEvent.id == rows.event_fk)  # fmt: skip
    return {row[0]: tuple(row[1:]) for row in session.execute(query)}


def stored_events(session: Session) -> dict[str, tuple[Any, ...]]:
    """The same, read from the dose tree: what the rows must copy."""
    found = {}
    for study_row in session.scalars(select(model.Study)):
        for dose in study_row.ct_radiation_doses:
            for event in dose.events:
                localiser = event.ct_acquisition_type_meaning == "Constant Angle Acquisition"
                found[event.irradiation_event_uid] = (
                    study_row.id, study_row.modality, study_row.study_date, study_row.equipment_id,
                    event.acquisition_protocol, localiser, event.dlp_mgycm, event.mean_ctdivol_mgy,
                )  # fmt: skip
    return found


def assert_copy_of_events(sessions: sessionmaker[Session]) -> dict[str, tuple[Any, ...]]:
    with sessions() as session:
        rows = chart_rows(session)
        assert rows == stored_events(session)
    return rows


def test_an_imported_report_has_one_row_per_event_with_its_values(corpus, sessions):  # type: ignore[no-untyped-def]
    name = "CT-RDSR-Siemens_Flash-TAP-SS.dcm"
    assert ingest_object(sessions, corpus(name), source=f"file:{name}").extracted
    rows = assert_copy_of_events(sessions)
    ds = sr_facts.read(corpus(name))
    acquisitions = sr_facts.ct_acquisitions(ds)
    assert set(rows) == sr_facts.event_uids(ds) and len(rows) == len(acquisitions)
    for acquisition in acquisitions:
        (uid,) = sr_facts.uids(acquisition, sr_facts.IRRADIATION_EVENT_UID)
        row = rows[uid]
        assert row[1] == "CT" and str(row[2]).replace("-", "") == str(ds.StudyDate)
        assert row[6] == pytest.approx(sr_facts.numbers(acquisition, sr_facts.DLP)[0])
        kind = sr_facts.find(acquisition, CT_ACQUISITION_TYPE)[0].ConceptCodeSequence[0].CodeMeaning
        assert row[5] is (kind == "Constant Angle Acquisition")
    assert any(row[5] for row in rows.values())  # the file has a localiser


def test_a_cumulative_report_replaces_the_rows_of_the_one_before(corpus, sessions):  # type: ignore[no-untyped-def]
    names = [f"CT-RDSR-Siemens-Multi-{n}.dcm" for n in (1, 2)]
    for name in names:
        assert ingest_object(sessions, corpus(name), source=f"file:{name}").extracted
    rows = assert_copy_of_events(sessions)
    assert set(rows) == sr_facts.event_uids(sr_facts.read(corpus(names[1])))


def test_reprocessing_swap_and_deletion(corpus, sessions):  # type: ignore[no-untyped-def]
    names = [f"CT-RDSR-Siemens-Multi-{n}.dcm" for n in (1, 2, 3)]
    reports = [extract(read_dicom_file(corpus(name)))[1] for name in names]
    with sessions() as session:
        for report in reports:
            study_id = persistence.store_report(session, report).study_id
        other = persistence.store_report(session, study(7, "Head", [100.0, 200.0])).study_id
    assert study_id is not None and other is not None
    with sessions() as session:
        persistence.replace_study_content(session, study_id, [(r, None, None) for r in reports])
        session.commit()
    rows = assert_copy_of_events(sessions)
    assert {uid for uid, row in rows.items() if row[0] == study_id} == sr_facts.event_uids(
        sr_facts.read(corpus(names[2])))  # fmt: skip
    with sessions() as session:
        assert study_deletion.delete_study(session, study_id)
    rows = assert_copy_of_events(sessions)
    assert {row[0] for row in rows.values()} == {other}


def test_a_new_display_name_shows_and_a_user_defined_modality_leaves_ct_alone(  # type: ignore[no-untyped-def]
    tmp_path: Path, database_url: str, sessions
):
    with sessions() as session:
        study_id = persistence.store_report(session, study(1, "Head", [100.0, 300.0])).study_id
        equipment_id = session.get(model.Study, study_id).equipment_id  # type: ignore[union-attr]
        equipment_admin.set_display_name(session, [equipment_id], "Room 4 scanner")
    settings = Settings(data_dir=tmp_path, database_url=database_url, queue_url="memory://", page_size=25)
    client = dose_browser_client(settings, sessions)
    chart = "/api/charts/ct/dlp-per-acquisition-protocol?series_per_system=yes"
    assert [item["series"] for item in client.get(chart, base_url=BASE_URL).get_json()["data"]] == ["Room 4 scanner"]
    # A user-defined modality re-labels projection studies only (DX/RF): the CT study and its rows stay CT.
    with sessions() as session:
        equipment_admin.set_user_defined_modality(session, [equipment_id], "DX")
    rows = assert_copy_of_events(sessions)
    assert {row[1] for row in rows.values()} == {"CT"}
    assert len(client.get(chart, base_url=BASE_URL).get_json()["data"]) == 1


def test_the_migration_copies_the_events_stored_before_it(corpus, database_url: str, sessions):  # type: ignore[no-untyped-def]
    name = "CT-RDSR-ToshibaPixelMed.dcm"
    assert ingest_object(sessions, corpus(name), source=f"file:{name}").extracted
    config = database.alembic_config(database_url)
    command.downgrade(config, "0016")
    command.upgrade(config, "head")
    rows = assert_copy_of_events(sessions)
    assert set(rows) == sr_facts.event_uids(sr_facts.read(corpus(name)))
