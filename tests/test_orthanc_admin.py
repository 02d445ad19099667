"""The configuration side inside a real Orthanc 1.10.1 with our plugin: Orthanc Explorer links to
the dose pages, and a patient size CSV sent the way the page's script sends it (raw body, since
Orthanc answers multipart posts to plugins itself) is imported by a real worker while the
progress endpoint is polled. Identifiers come from the corpus object's header."""

from __future__ import annotations

import json
import urllib.parse

import pytest
from sqlalchemy import func, select

import sr_facts
from orthanc_harness import REPO_ROOT, orthanc_rem_section, running_orthanc, storescu
from orthanc_rem import database, model

pytestmark = pytest.mark.orthanc

CT_FILE = "CT-ESR-GE_VCT.dcm"  # carries neither Patient's Size nor Patient's Weight


def plugin_running(tmp_path, database_url: str, workers: int):  # type: ignore[no-untyped-def]
    config = {
        "OrthancRem": orthanc_rem_section(tmp_path, database_url, workers=workers),
    }
    return running_orthanc(
        tmp_path / "orthanc", python_script=REPO_ROOT / "plugin" / "orthanc_rem_plugin.py", config=config
    )


@pytest.fixture
def orthanc_with_plugin(tmp_path, database_url):  # type: ignore[no-untyped-def]
    with plugin_running(tmp_path, database_url, workers=1) as orthanc:
        yield orthanc, database_url


def test_orthanc_explorer_links_to_the_dose_pages(tmp_path, database_url):
    # No workers: Orthanc stops at once, before a worker would have finished starting.
    with plugin_running(tmp_path, database_url, workers=0) as orthanc:
        explorer_links_to_the_dose_pages(orthanc)


def explorer_links_to_the_dose_pages(orthanc) -> None:  # type: ignore[no-untyped-def]
    explorer = orthanc.request("GET", "/app/explorer.html").decode()
    assert "../plugins/explorer.js" in explorer  # Orthanc Explorer loads what plugins add
    script = orthanc.request("GET", "/plugins/explorer.js").decode()
    assert "Radiation dose monitoring" in script and "'../rem/'" in script
    # The link is relative to /app/: it lands on the dose browser's home page.
    target = urllib.parse.urljoin(orthanc.url("/app/explorer.html"), "../rem/")
    assert target == orthanc.url("/rem/")
    # It lands on our login page (the dose pages need our login, not an Orthanc account).
    assert b'name="csrf_token"' in orthanc.request("GET", "/rem/")


def test_a_size_file_uploaded_as_the_raw_body_is_imported_by_a_worker(orthanc_with_plugin, corpus):
    orthanc, url = orthanc_with_plugin
    storescu(orthanc.dicom_port, orthanc.aet, [corpus(CT_FILE)])
    sessions = database.session_factory(url)

    def imported() -> bool:
        with sessions() as session:
            return bool(session.scalar(select(func.count()).select_from(model.ProcessedObject)))

    orthanc.wait_until(imported, timeout=60, interval=0.25, message="the CT report was not imported")
    header = sr_facts.read(corpus(CT_FILE))
    content = f"Accession,Height,Weight\n{header.AccessionNumber},181,77\n".encode()
    logged_in = orthanc.dose_browser_headers()
    answer = json.loads(
        orthanc.request(
            "POST",
            "/rem/admin/sizes/upload",
            content,
            {"Content-Type": "text/csv", "X-File-Name": urllib.parse.quote("März.csv"), **logged_in},
        )
    )
    form = urllib.parse.urlencode(
        {"identifier_column": "Accession", "identifier_type": "accession_number", "height_column": "Height",
         "height_unit": "cm", "weight_column": "Weight"}
    ).encode()  # fmt: skip
    orthanc.request(
        "POST", answer["columns_url"], form, {"Content-Type": "application/x-www-form-urlencoded", **logged_in}
    )
    progress_path = f"/rem/admin/sizes/{answer['id']}/progress"
    final = orthanc.wait_until(
        lambda: (p := json.loads(orthanc.request("GET", progress_path, None, logged_in)))["status"]
        in ("finished", "aborted", "failed")
        and p,
        timeout=60,
        interval=0.25,
        message="the size import did not end",
    )
    assert final["status"] == "finished" and final["rows_done"] == final["rows_total"] == 1
    with sessions() as session:
        patient = session.scalars(select(model.Patient)).one()
        assert (patient.size_m, patient.weight_kg) == (pytest.approx(1.81), pytest.approx(77))
        assert session.get(model.SizeImportJob, answer["id"]).csv_content is None
