"""The configuration pages in headless Chromium (Debian's package, driven by Playwright) against a
real Orthanc with our plugin and its worker: rename a system from the display names page, and
import a patient size CSV through the page's own script (raw-body upload), column mapping and
progress bar, until the import is listed as finished.

Names and identifiers are read from the corpus object's header with pydicom.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import func, select

import sr_facts
from browser import CHROMIUM, FLAGS
from browser_session import log_in
from orthanc_harness import REPO_ROOT, orthanc_rem_section, running_orthanc, storescu
from orthanc_rem import database, model

pytestmark = pytest.mark.orthanc
playwright = pytest.importorskip("playwright.sync_api", reason="Playwright drives Chromium (pip install -e .[test])")

CT_FILE = "CT-ESR-GE_VCT.dcm"  # no Patient's Size or Weight stored
ROWS = 200_000  # a job of 20,000 rows ended (0.75 s) between two of the page's polls
#: Set to a folder to keep screenshots of the pages (the README's come from docs/screenshots).
SCREENSHOTS = os.environ.get("ORTHANC_REM_SCREENSHOTS")


@pytest.fixture
def orthanc_with_a_study(tmp_path, corpus):  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'orthanc-rem.sqlite'}"
    config = {
        "OrthancRem": orthanc_rem_section(tmp_path, url, workers=1),
    }
    with running_orthanc(
        tmp_path / "orthanc", python_script=REPO_ROOT / "plugin" / "orthanc_rem_plugin.py", config=config
    ) as orthanc:
        storescu(orthanc.dicom_port, orthanc.aet, [corpus(CT_FILE)])
        sessions = database.session_factory(url)

        def imported() -> bool:
            with sessions() as session:
                return bool(session.scalar(select(func.count()).select_from(model.Study)))

        orthanc.wait_until(imported, timeout=60, interval=0.25, message="the CT report was not imported")
        yield orthanc, sessions


@pytest.fixture
def page():  # type: ignore[no-untyped-def]
    if CHROMIUM is None:
        pytest.fail("chromium is not installed: scripts/bootstrap --with-test-tools installs it")
    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=[f for f in FLAGS if f != "--headless"])
        try:
            yield browser.new_page()
        finally:
            browser.close()


def screenshot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SCREENSHOTS) / name), full_page=True)


def test_rename_a_system_and_import_sizes_in_the_browser(orthanc_with_a_study, page, corpus, tmp_path):
    orthanc, sessions = orthanc_with_a_study
    header = sr_facts.read(corpus(CT_FILE))

    log_in(page, orthanc, "/rem/admin/display-names")
    page.goto(orthanc.url("/rem/admin/display-names"))
    page.get_by_label(f"Select {header.InstitutionName} {header.StationName}").check()
    screenshot(page, "display-names.png")
    page.get_by_role("button", name="Edit the selected systems").click()
    page.get_by_label("New display name").fill("CT Süd")
    page.get_by_role("button", name="Update").click()
    page.wait_for_url("**/admin/display-names")
    assert page.locator("table.systems").first.inner_text().count("CT Süd") == 1
    with sessions() as session:
        assert session.scalars(select(model.Equipment.display_name)).one() == "CT Süd"

    csv = tmp_path / "Größen.csv"
    # Long enough (unknown accession numbers after the real one) for the progress bar to be seen moving.
    unknown = "".join(f"NOT-STORED-{n},170,70\n" for n in range(ROWS - 1))
    csv.write_text(f"Accession,Height,Weight\n{header.AccessionNumber},176,81\n{unknown}", encoding="utf-8")
    page.goto(orthanc.url("/rem/admin/sizes"))
    page.set_input_files("#size-file", str(csv))
    page.get_by_role("button", name="Upload").click()
    page.wait_for_url("**/admin/sizes/*/columns")
    page.select_option("#identifier_column", "Accession")
    page.select_option("#height_column", "Height")
    page.select_option("#weight_column", "Weight")
    page.get_by_role("button", name="Process the data").click()
    page.wait_for_url("**/admin/sizes")
    page.wait_for_function(
        "() => { const bar = document.querySelector('tr.size-job progress');"
        " return bar !== null && bar.value > 0 && bar.value < bar.max; }",
        timeout=120_000,  # the worker takes the job when it is free: on a loaded machine, late
    )
    assert f"of {ROWS}" in page.locator("tr.size-job .progress-text").inner_text()
    screenshot(page, "size-import-progress.png")
    # The bar is polled until the import ends; then the page reloads and lists it as completed.
    page.wait_for_selector("text=Download logfile", timeout=120_000)
    screenshot(page, "size-import.png")
    completed = page.locator("table").last.inner_text()
    assert "Größen.csv" in completed and "finished" in completed
    with sessions() as session:
        patient = session.scalars(select(model.Patient)).one()
        assert (patient.size_m, patient.weight_kg) == (pytest.approx(1.76), pytest.approx(81))


def test_orthanc_explorers_study_page_opens_the_studys_dose_page(orthanc_with_a_study, page, corpus):
    orthanc, sessions = orthanc_with_a_study
    header = sr_facts.read(corpus(CT_FILE))
    (orthanc_study,) = orthanc.get_json("/studies")
    with sessions() as session:
        study_id = session.scalars(select(model.Study.id)).one()
    # Orthanc Explorer needs one of Orthanc's own accounts (the plugin's filter checks them when
    # Orthanc's authentication is off); the dose page it opens needs our login.
    credentials = orthanc._credentials()
    if credentials is not None:
        username, password = credentials
        context = page.context.browser.new_context(
            http_credentials={"username": username, "password": password, "send": "always"}
        )
        page = context.new_page()
    log_in(page, orthanc, "/rem/")
    page.goto(orthanc.url(f"/app/explorer.html#study?uuid={orthanc_study}"))
    with page.expect_popup() as popup:
        page.locator("#orthanc-rem-study-dose").click()
    dose_page = popup.value
    dose_page.wait_for_load_state()
    assert dose_page.url == orthanc.url(f"/rem/ct/{study_id}")
    assert str(header.AccessionNumber) in dose_page.inner_text("main")
