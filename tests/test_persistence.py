"""Storing CT dose reports: duplicates, cumulative and continued RDSRs, concurrency, quarantine.

Expected values come from the corpus objects (tests/sr_facts.py), never from our own output.
"""

from __future__ import annotations

import itertools
import multiprocessing
from pathlib import Path

import pytest
from sqlalchemy import func, select

import sr_facts
from orthanc_rem import database, model
from orthanc_rem.ingest import ingest_object

MULTI = ["CT-RDSR-Siemens-Multi-1.dcm", "CT-RDSR-Siemens-Multi-2.dcm", "CT-RDSR-Siemens-Multi-3.dcm"]


def ingest(sessions, path: Path):  # type: ignore[no-untyped-def]
    return ingest_object(sessions, path, source=f"file:{path}")


def count(sessions, entity) -> int:  # type: ignore[no-untyped-def]
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(entity))


def stored_event_uids(sessions) -> set[str]:  # type: ignore[no-untyped-def]
    with sessions() as session:
        return set(session.scalars(select(model.CtIrradiationEvent.irradiation_event_uid)))


def test_same_object_twice_creates_nothing_new(corpus, sessions):
    path = corpus("CT-RDSR-Siemens_Flash-TAP-SS.dcm")
    assert ingest(sessions, path).outcome == "imported"
    events = count(sessions, model.CtIrradiationEvent)
    assert ingest(sessions, path).outcome == "duplicate"
    assert count(sessions, model.Study) == 1
    assert (
        count(sessions, model.CtIrradiationEvent)
        == events
        == len(sr_facts.ct_acquisitions(sr_facts.read(path)))
    )
    assert count(sessions, model.ProcessedObject) == 1


@pytest.mark.parametrize("order", list(itertools.permutations(range(3))), ids=lambda o: "-".join(map(str, o)))
def test_cumulative_rdsr_keeps_only_the_longest_report_in_any_order(corpus, sessions, order):
    paths = [corpus(MULTI[i]) for i in order]
    for path in paths:
        assert ingest(sessions, path).ok
    longest = sr_facts.read(corpus(MULTI[2]))
    assert count(sessions, model.Study) == 1
    assert count(sessions, model.CtRadiationDose) == 1
    assert stored_event_uids(sessions) == sr_facts.event_uids(longest)
    with sessions() as session:
        dose = session.scalars(select(model.CtRadiationDose)).one()
        assert dose.dlp_total_mgycm == pytest.approx(sr_facts.total_dlp(longest))
        assert dose.sop_instance_uid == str(longest.SOPInstanceUID)
        # Every object that was looked at is remembered, so a PACS re-send is recognised.
        assert session.scalar(select(func.count()).select_from(model.ProcessedObject)) == 3


def test_continued_study_is_stored_alongside(corpus, sessions):
    first, second = (corpus(f"CT-RDSR-Siemens-Continued-{n}.dcm") for n in (1, 2))
    assert ingest(sessions, first).outcome == "imported"
    assert ingest(sessions, second).outcome == "imported"
    a, b = sr_facts.read(first), sr_facts.read(second)
    assert a.StudyInstanceUID == b.StudyInstanceUID
    assert count(sessions, model.Study) == 1
    assert count(sessions, model.CtRadiationDose) == 2
    assert stored_event_uids(sessions) == sr_facts.event_uids(a) | sr_facts.event_uids(b)


def _ingest_in_process(url: str, paths: list[str], barrier) -> list[str]:  # type: ignore[no-untyped-def]
    database.dispose_all()
    sessions = database.session_factory(url)
    barrier.wait()
    return [ingest_object(sessions, Path(p), source=f"file:{p}").outcome for p in paths]


@pytest.mark.parametrize("round_", range(3))
def test_two_workers_racing_on_one_study_give_one_study(corpus, database_url, round_):
    """Two processes import the cumulative series at the same moment, in opposite orders."""
    paths = [str(corpus(name)) for name in MULTI]
    context = multiprocessing.get_context("spawn")
    barrier = context.Manager().Barrier(2)
    with context.Pool(2) as pool:
        results = [
            pool.apply_async(_ingest_in_process, (database_url, paths, barrier)),
            pool.apply_async(_ingest_in_process, (database_url, paths[::-1], barrier)),
        ]
        outcomes = [r.get(timeout=120) for r in results]
    assert "failed" not in itertools.chain(*outcomes), outcomes
    sessions = database.session_factory(database_url)
    longest = sr_facts.read(corpus(MULTI[2]))
    assert count(sessions, model.Study) == 1
    assert count(sessions, model.CtRadiationDose) == 1
    assert stored_event_uids(sessions) == sr_facts.event_uids(longest)
    assert count(sessions, model.ProcessedObject) == 3


def test_bad_objects_are_quarantined_and_others_go_on(corpus, sessions, tmp_path):
    truncated = tmp_path / "truncated.dcm"
    truncated.write_bytes(corpus("CT-RDSR-GEPixelMed.dcm").read_bytes()[:3000])
    text = tmp_path / "notes.txt"
    text.write_text("this is not DICOM\n")
    outcomes = {
        name: ingest(sessions, path).outcome
        for name, path in [
            ("truncated", truncated),
            ("text", text),
            ("non-dose ESR", corpus("ESR_non-dose.dcm")),
            ("good", corpus("CT-RDSR-GEPixelMed.dcm")),
        ]
    }
    assert outcomes == {
        "truncated": "failed",
        "text": "failed",
        "non-dose ESR": "not_dose_report",
        "good": "imported",
    }
    with sessions() as session:
        rejected = {r.source: r for r in session.scalars(select(model.RejectedObject))}
    assert set(rejected) == {f"file:{truncated}", f"file:{text}", f"file:{corpus('ESR_non-dose.dcm')}"}
    assert all(r.reason for r in rejected.values())
    assert count(sessions, model.Study) == 1


def test_a_quarantined_object_that_imports_after_a_fix_leaves_the_list(corpus, sessions, tmp_path):
    good = corpus("CT-RDSR-ToshibaPixelMed.dcm").read_bytes()
    first = ingest_object(sessions, good[:2500], source="orthanc:abc")
    assert first.outcome == "failed"
    assert count(sessions, model.RejectedObject) == 1
    again = ingest_object(sessions, good, source="orthanc:abc")
    assert again.outcome == "imported"
    assert count(sessions, model.RejectedObject) == 0


@pytest.mark.parametrize("offset", [2000, 5000])
def test_a_corrupted_file_is_quarantined_with_its_reason(corpus, sessions, offset):
    """64 bytes of the content tree overwritten (a disk or transfer error): the structure breaks,
    the object is quarantined with a reason naming what broke, and the next object still imports."""
    data = bytearray(corpus("CT-RDSR-GEPixelMed.dcm").read_bytes())
    data[offset : offset + 64] = bytes((i * 37 + 11) % 256 for i in range(64))
    corrupted = ingest_object(sessions, bytes(data), source="corrupted")
    assert corrupted.outcome == "failed"
    assert corrupted.reason
    assert ingest(sessions, corpus("CT-RDSR-ToshibaPixelMed.dcm")).outcome == "imported"
    with sessions() as session:
        (rejected,) = session.scalars(select(model.RejectedObject)).all()
    assert rejected.source == "corrupted" and rejected.reason == corrupted.reason
