"""End to end (issue 13): a legacy Toshiba CT study sent by C-STORE to a real Orthanc becomes a CT
study on the dose pages once Orthanc calls it stable: a worker (with the narrowed worker account)
reads the dose screen with PixelMed, stores the RDSR back into Orthanc and extracts it; a study
whose screen cannot be read has its screen quarantined with the reason.

Expected values are what the test drew on the screen and put into the image headers.
"""

from __future__ import annotations

import io
import json
import time

import pydicom
import pytest

import toshiba_screens as ts
from browser_session import logged_in_dom
from orthanc_harness import REPO_ROOT, orthanc_rem_section, running_orthanc, storescu
from orthanc_rem import database
from orthanc_rem.orthanc_client import OrthancClient
from orthanc_rem.reprocess import retry_rejected
from orthanc_rem.toshiba_ct import enrichment
from test_toshiba_ct import DLP_TOTAL, SCANS, SERIES, study_objects

pytestmark = [
    pytest.mark.orthanc,
    pytest.mark.skipif(not ts.PIXELMED_JAR.is_file(), reason="PixelMed missing: scripts/bootstrap installs it"),
]

ADMIN = ("admin", "admin-secret")
WORKER = ("orthanc-rem-worker", "worker-secret")
STABLE_AGE_S = 2


@pytest.fixture
def orthanc(tmp_path, database_url):  # type: ignore[no-untyped-def]
    config = {
        "StableAge": STABLE_AGE_S,
        # As shipped: the plugin checks Orthanc's accounts itself (worker account narrowed), our login on /rem.
        "AuthenticationEnabled": False,
        "RegisteredUsers": dict([ADMIN, WORKER]),
        "OrthancRem": orthanc_rem_section(tmp_path, database_url, OrthancAuthorization=":".join(WORKER)),
    }
    with running_orthanc(
        tmp_path / "orthanc", python_script=REPO_ROOT / "plugin" / "orthanc_rem_plugin.py", config=config
    ) as process:
        yield process


def _dose_reports_in_orthanc(orthanc, study_uid: str) -> list[pydicom.Dataset]:  # type: ignore[no-untyped-def]
    """The RDSRs Orthanc holds for a study, read from their files."""
    found = json.loads(orthanc.request("POST", "/tools/lookup", study_uid.encode()))
    reports = []
    for study in [f for f in found if f["Type"] == "Study"]:
        for instance in orthanc.get_json(f"/studies/{study['ID']}/instances"):
            ds = pydicom.dcmread(io.BytesIO(orthanc.request("GET", f"/instances/{instance['ID']}/file")))
            if str(ds.SOPClassUID) == "1.2.840.10008.5.1.4.1.1.88.67":
                reports.append(ds)
    return reports


def test_dose_screen_study_becomes_a_ct_study_and_an_unreadable_screen_is_quarantined(
    orthanc, tmp_path, database_url
) -> None:  # type: ignore[no-untyped-def]
    good = ts.ToshibaStudy(accession_number="TSB-GOOD", patient_id="TSB-1")
    screen, images = study_objects(good)
    bad = ts.ToshibaStudy(accession_number="TSB-BAD", patient_id="TSB-2")
    bad_screen, bad_images = study_objects(bad, lines=[("Exam no:", "2"), ("Patient ID:", "TSB"), ("Helical",)])
    folder = tmp_path / "send"
    folder.mkdir()
    files = [ts.write(ds, folder, f"{n:03d}.dcm") for n, ds in enumerate([screen, *images, bad_screen, *bad_images])]
    storescu(orthanc.dicom_port, orthanc.aet, files)

    def ct_studies():  # type: ignore[no-untyped-def]
        listing = orthanc.get_json("/rem/api/studies?modality=CT&per_page=100")
        return listing["studies"] if listing["total"] else None

    (row,) = orthanc.wait_until(ct_studies, timeout=120, message="the dose screen's RDSR was not imported")
    assert row["study_instance_uid"] == good.study_instance_uid
    assert row["total_dlp"]["value"] == pytest.approx(float(DLP_TOTAL))
    assert row["number_of_events"] == len(SCANS)
    document = orthanc.get_json(f"/rem/api/studies/{row['id']}")
    events = [e for d in document["ct_radiation_doses"] for e in d["events"]]
    dosed = [e for e in events if e["mean_ctdivol_mgy"] and e["mean_ctdivol_mgy"]["value"] is not None]
    assert sorted(e["mean_ctdivol_mgy"]["value"] for e in dosed) == pytest.approx(
        sorted(float(s.ctdivol_mgy) for s in SCANS if s.ctdivol_mgy)
    )
    assert {e["acquisition_protocol"] for e in dosed} == {s.protocol_name for s in SERIES}

    def quarantined():  # type: ignore[no-untyped-def]
        rows = orthanc.get_json("/rem/api/rejected")
        return [r for r in rows if r["sop_instance_uid"] == str(bad_screen.SOPInstanceUID) and r["outcome"] == "failed"]

    (rejected,) = orthanc.wait_until(quarantined, timeout=120, message="the unreadable screen was not quarantined")
    assert "no CT dose" in rejected["reason"]

    # "orthanc-rem reprocess --rejected" reads the quarantined screen's study again (and fails again).
    client = OrthancClient(orthanc.url(), ":".join(ADMIN))
    (again,) = list(retry_rejected(database.session_factory(database_url), client))
    assert again.outcome == "failed" and "no CT dose" in again.reason

    # The RDSR stored back is ours, and the STABLE_STUDY its arrival causes does not read the screen again.
    time.sleep(STABLE_AGE_S * 3)
    (report,) = _dose_reports_in_orthanc(orthanc, good.study_instance_uid)
    assert enrichment.is_ours(report)
    assert _dose_reports_in_orthanc(orthanc, bad.study_instance_uid) == []
    assert orthanc.get_json("/rem/api/studies?modality=CT&per_page=100")["total"] == 1

    page = logged_in_dom(orthanc, "/rem/ct/")
    assert good.accession_number in page
    detail = logged_in_dom(orthanc, f"/rem/ct/{row['id']}")
    for series in SERIES:
        assert series.protocol_name in detail
