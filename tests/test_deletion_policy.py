"""The delete-after-processing policy, applied by the workers to Orthanc's own storage: objects
that were extracted (or match no importer) go when the setting says so; a failed object stays."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

import sr_facts
from made_objects import broken_dose_report
from orthanc_harness import REPO_ROOT, orthanc_rem_section, running_orthanc, storescu
from orthanc_rem import database, import_settings, model

pytestmark = pytest.mark.orthanc


@pytest.fixture
def orthanc_deleting(tmp_path, database_url):
    with database.session_factory(database_url)() as session:
        import_settings.change(session, delete_rdsr=True, delete_unmatched=True, delete_dx_images=False)
    config = {
        "OrthancRem": orthanc_rem_section(tmp_path, database_url, workers=1)
    }
    script = REPO_ROOT / "plugin" / "orthanc_rem_plugin.py"
    with running_orthanc(tmp_path / "orthanc", python_script=script, config=config) as orthanc:
        yield orthanc, database_url


def test_deleted_after_processing_as_the_settings_say(orthanc_deleting, corpus, tmp_path):
    orthanc, url = orthanc_deleting
    broken, broken_uid = broken_dose_report(corpus, tmp_path)
    kept_image = corpus("DX-Im-GE_XR220-1.dcm")
    files = [corpus("CT-RDSR-GEPixelMed.dcm"), corpus("NM-PetIm-GE.dcm"), kept_image, broken]
    storescu(orthanc.dicom_port, orthanc.aet, files)
    sessions = database.session_factory(url)

    def settled() -> bool:
        with sessions() as session:
            processed = session.scalar(select(func.count()).select_from(model.ProcessedObject))
            outcomes = sorted(session.scalars(select(model.RejectedObject.outcome)))
        # the broken report is quarantined; the PET image is recorded as unmatched, then deleted
        return processed == 2 and outcomes == ["failed", "unmatched"] and len(orthanc.get_json("/instances")) == 2

    orthanc.wait_until(settled, timeout=60, interval=0.25, message="deletion policy not applied")
    remaining = {
        orthanc.get_json(f"/instances/{i}")["MainDicomTags"]["SOPInstanceUID"] for i in orthanc.get_json("/instances")
    }
    assert remaining == {str(sr_facts.read(kept_image).SOPInstanceUID), broken_uid}
