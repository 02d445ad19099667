"""The home page's summary tables: studies per system, latest study as a time since it (right
across daylight-saving changes), counts kept by the database whatever adds or removes a study."""

from __future__ import annotations

import datetime as dt
import os
import re
import time
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from orthanc_rem import model, persistence, system_summaries
from orthanc_rem.config import Settings
from orthanc_rem.extraction import records
from test_web import ct_report
from web_clients import dose_browser_client

BASE_URL = "http://orthanc.test/rem/"


@pytest.fixture
def client(tmp_path: Path, database_url: str, sessions: sessionmaker[Session]):  # type: ignore[no-untyped-def]
    settings = Settings(data_dir=tmp_path, database_url=database_url, queue_url="memory://", page_size=25)
    return dose_browser_client(settings, sessions)


def store(sessions: sessionmaker[Session], report: records.CtDoseReport) -> int:
    with sessions() as session:
        result = persistence.store_report(session, report)
    assert result.study_id is not None
    return result.study_id


def on_station(report: records.CtDoseReport, station: str) -> records.CtDoseReport:
    return replace(report, equipment=replace(report.equipment, station_name=station))


@pytest.fixture
def london():  # type: ignore[no-untyped-def]
    """The server's time zone: Europe/London (BST from 2024-03-31 01:00 UTC)."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "Europe/London"
    time.tzset()
    yield
    if before is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = before
    time.tzset()


def test_time_since_counts_real_hours_across_the_clock_change(london):  # type: ignore[no-untyped-def]
    # 00:30 GMT, then clocks go forward at 01:00: at 03:30 BST (02:30 UTC) two hours have passed,
    # although the wall clock moved three.
    study = system_summaries.local_instant(dt.date(2024, 3, 31), dt.time(0, 30))
    assert study is not None
    now = dt.datetime(2024, 3, 31, 2, 30, tzinfo=dt.UTC)
    assert system_summaries.time_since(study, now) == "2 hours"
    # a summer study seen in winter is read as summer time (BST, UTC+1)
    summer = system_summaries.local_instant(dt.date(2024, 7, 1), dt.time(12, 0))
    assert summer is not None and summer.utcoffset() == dt.timedelta(hours=1)


def test_time_since_uses_two_adjacent_units() -> None:
    now = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    assert system_summaries.time_since(now - dt.timedelta(days=365 + 4 * 30 + 3), now) == "1 year, 4 months"
    assert system_summaries.time_since(now - dt.timedelta(days=1, hours=3, minutes=5), now) == "1 day, 3 hours"
    assert system_summaries.time_since(now - dt.timedelta(minutes=1), now) == "1 minute"
    assert system_summaries.time_since(now - dt.timedelta(seconds=5), now) == "less than a minute"


def test_home_table_per_system_with_counts_and_latest_study(client, sessions):  # type: ignore[no-untyped-def]
    store(sessions, on_station(ct_report(1, study_date=dt.date(2024, 1, 2), study_time=dt.time(9, 0)), "CT1"))
    store(sessions, on_station(ct_report(2, study_date=dt.date(2024, 1, 5), study_time=dt.time(8, 0)), "CT1"))
    store(sessions, on_station(ct_report(3, study_date=dt.date(2023, 6, 1), study_time=dt.time(7, 0)), "CT2"))
    text = client.get("/", base_url=BASE_URL).get_data(as_text=True)
    (table,) = re.findall(r'<table class="systems" id="systems-ct">(.*?)</table>', text, re.DOTALL)
    rows = re.findall(r"<tr>(.*?)</tr>", table, re.DOTALL)[1:]
    assert len(rows) == 2
    assert "Hospital A CT1" in rows[0] and '<td class="num">2</td>' in rows[0] and "2024-01-05 08:00:00" in rows[0]
    assert "Hospital A CT2" in rows[1] and '<td class="num">1</td>' in rows[1] and "2023-06-01 07:00:00" in rows[1]
    assert "?system=Hospital+A+CT1" in rows[0]
    for modality in ("rf", "dx", "mg"):
        assert f'id="systems-{modality}"' not in text


def test_counts_follow_deletions_renames_and_modality_changes(sessions):  # type: ignore[no-untyped-def]
    first = store(sessions, on_station(ct_report(1), "CT1"))
    store(sessions, on_station(ct_report(2), "CT2"))
    store(sessions, on_station(ct_report(3), "CT2"))
    with sessions() as session:
        assert system_summaries.modality_counts(session) == {"CT": 3}
        session.execute(delete(model.Study).where(model.Study.id == first))
        for equipment in session.scalars(select(model.Equipment)):
            equipment.display_name = "One scanner"  # merged by renaming
        session.commit()
        (system,) = system_summaries.systems_by_modality(session)["CT"]
        assert (system["display_name"], system["studies"]) == ("One scanner", 2)
        # what a user-defined modality does to a system's studies (persistence.apply_user_defined_modality)
        session.execute(update(model.Study).values(modality="DX"))
        session.commit()
        assert system_summaries.modality_counts(session) == {"DX": 2}


def test_totals_of_studies_stored_before_migration_0010_are_computed(database_url, sessions):  # type: ignore[no-untyped-def]
    """``orthanc-rem migrate`` and every start-up compute the totals a study lacks, with the pages' rules."""
    from orthanc_rem import database, study_totals

    store(sessions, ct_report(1, dlp_total=123.4))
    with sessions() as session:
        session.execute(delete(model.StudyTotals))
        session.commit()
    database.upgrade_schema(database_url)
    with sessions() as session:
        (totals,) = session.scalars(select(model.StudyTotals)).all()
        assert totals.total_dlp_mgycm == 123.4
        assert study_totals.fill_missing(session) == 0
