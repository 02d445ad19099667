"""End to end: corpus CT dose objects sent by C-STORE to a real Orthanc with our plugin end up in
the database, the JSON API and the dose pages (seen through headless Chromium).

Expected values are read from the DICOM files with plain pydicom (tests/sr_facts.py).
"""

from __future__ import annotations

import html
from collections import defaultdict

import pytest
from sqlalchemy import func, select

import sr_facts
from browser_session import logged_in_dom
from made_objects import broken_dose_report
from orthanc_harness import REPO_ROOT, orthanc_rem_section, running_orthanc, storescu
from orthanc_rem import database, model

pytestmark = pytest.mark.orthanc

CT_DOSE_FILES = [
    "CT-ESR-GE_Optima.dcm",
    "CT-ESR-GE_VCT.dcm",
    "CT-RDSR-GEPixelMed.dcm",
    "CT-RDSR-Siemens-Continued-1.dcm",
    "CT-RDSR-Siemens-Continued-2.dcm",
    "CT-RDSR-Siemens-Multi-1.dcm",
    "CT-RDSR-Siemens-Multi-2.dcm",
    "CT-RDSR-Siemens-Multi-3.dcm",
    "CT-RDSR-Siemens_Flash-QA-DS.dcm",
    "CT-RDSR-Siemens_Flash-TAP-SS.dcm",
    "CT-RDSR-ToshibaPixelMed.dcm",
    "CT-RDSR-Toshiba_DoseCheck.dcm",
]
OTHER_FILES = ["ESR_non-dose.dcm", "DX-Im-GE_XR220-1.dcm", "NM-PetIm-GE.dcm"]


@pytest.fixture
def orthanc_with_plugin(tmp_path, database_url):
    config = {
        "OrthancRem": orthanc_rem_section(tmp_path, database_url),
    }
    with running_orthanc(
        tmp_path / "orthanc",
        python_script=REPO_ROOT / "plugin" / "orthanc_rem_plugin.py",
        config=config,
    ) as orthanc:
        yield orthanc, database_url


def expected_studies(corpus) -> dict[str, set[str]]:  # type: ignore[no-untyped-def]
    """Study Instance UID -> every Irradiation Event UID any report of that study carries."""
    studies: dict[str, set[str]] = defaultdict(set)
    for name in CT_DOSE_FILES:
        ds = sr_facts.read(corpus(name))
        studies[str(ds.StudyInstanceUID)] |= sr_facts.event_uids(ds)
    return studies


def test_ct_dose_objects_sent_to_orthanc_reach_database_api_and_pages(corpus, orthanc_with_plugin, tmp_path):
    orthanc, url = orthanc_with_plugin
    broken, broken_uid = broken_dose_report(corpus, tmp_path)
    files = [corpus(name) for name in CT_DOSE_FILES + OTHER_FILES] + [broken]
    storescu(orthanc.dicom_port, orthanc.aet, files)
    expected = expected_studies(corpus)
    sessions = database.session_factory(url)

    def all_processed() -> bool:
        with sessions() as session:
            done = session.scalar(select(func.count()).select_from(model.ProcessedObject))
            rejected = session.scalar(select(func.count()).select_from(model.RejectedObject))
        # + the DX image; the non-dose ESR, the unmatched PET image and the broken report
        return done == len(CT_DOSE_FILES) + 1 and rejected >= 3

    orthanc.wait_until(all_processed, timeout=90, interval=0.25, message="objects not processed")

    with sessions() as session:
        studies = {study.study_instance_uid: study for study in session.scalars(select(model.Study))}
        stored = {
            uid: {e.irradiation_event_uid for d in study.ct_radiation_doses for e in d.events}
            for uid, study in studies.items()
            if study.modality == "CT"
        }
        rejected = {r.sop_instance_uid: r for r in session.scalars(select(model.RejectedObject))}
        modalities = {uid: study.modality for uid, study in studies.items()}
    assert stored == expected
    dx = sr_facts.read(corpus("DX-Im-GE_XR220-1.dcm"))
    assert modalities[dx.StudyInstanceUID] == "DX"
    pet = sr_facts.read(corpus("NM-PetIm-GE.dcm"))
    assert pet.StudyInstanceUID not in studies  # unmatched: left alone, but recorded so that it counts
    assert [r.sop_class_uid for r in rejected.values() if r.outcome == "unmatched"] == [pet.SOPClassUID]
    non_dose = sr_facts.read(corpus("ESR_non-dose.dcm"))
    assert rejected[str(non_dose.SOPInstanceUID)].outcome == "not_dose_report"
    assert rejected[str(non_dose.SOPInstanceUID)].orthanc_id

    assert rejected[broken_uid].outcome == "failed"
    assert "Mean CTDIvol" in rejected[broken_uid].reason and rejected[broken_uid].orthanc_id
    assert orthanc.get_json(f"/instances/{rejected[broken_uid].orthanc_id}")["MainDicomTags"]["SOPInstanceUID"] == (
        broken_uid
    )  # kept in Orthanc for a re-run
    quarantine = orthanc.get_json("/rem/api/rejected")
    assert broken_uid in {row["sop_instance_uid"] for row in quarantine}
    assert "unmatched" not in {row["outcome"] for row in quarantine}
    assert orthanc.get_json("/rem/api/status")["unmatched_objects"] == 1
    assert broken_uid in logged_in_dom(orthanc, "/rem/rejected")

    listing = orthanc.get_json("/rem/api/studies?modality=CT&per_page=100")
    assert listing["total"] == len(expected)
    tap = sr_facts.read(corpus("CT-RDSR-Siemens_Flash-TAP-SS.dcm"))
    (row,) = [s for s in listing["studies"] if s["study_instance_uid"] == tap.StudyInstanceUID]
    assert row["total_dlp"]["value"] == pytest.approx(sr_facts.total_dlp(tap))
    assert row["total_dlp"]["unit"] == "mGy.cm"
    assert row["number_of_events"] == len(sr_facts.ct_acquisitions(tap))

    document = orthanc.get_json(f"/rem/api/studies/{row['id']}")
    ctdivols = sorted(sr_facts.numbers(tap, sr_facts.MEAN_CTDIVOL))
    stored_ctdivols = sorted(
        e["mean_ctdivol_mgy"]["value"] for d in document["ct_radiation_doses"] for e in d["events"]
    )
    assert stored_ctdivols == pytest.approx(ctdivols)

    page = logged_in_dom(orthanc, "/rem/ct/")
    assert f"There are {len(expected)} studies" in page
    if tap.get("AccessionNumber"):
        assert html.escape(str(tap.AccessionNumber)) in page
    detail = logged_in_dom(orthanc, f"/rem/ct/{row['id']}")
    assert str(tap.StudyInstanceUID) in detail
    for protocol in {str(i.TextValue) for i in sr_facts.find(tap, "125203")}:
        assert html.escape(protocol) in detail
