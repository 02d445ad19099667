"""The chart panel of the list pages: included, its scripts served by the dose browser itself
(Plotly from the installed ``plotly`` package, no CDN); and in headless Chromium, the CT page with
the panel open draws its plots from /api/charts (a screenshot is kept for the README)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

import browser
from conftest import corpus_dir
from orthanc_rem.config import Settings
from orthanc_rem.ingest import ingest_object
from web_clients import dose_browser_client, served_dose_browser

BASE_URL = "http://orthanc.test/rem/"
CT_FILES = ("CT-RDSR-Siemens_Flash-TAP-SS.dcm", "CT-RDSR-ToshibaPixelMed.dcm", "CT-RDSR-GEPixelMed.dcm")


@pytest.fixture
def settings(tmp_path: Path, database_url: str, sessions: sessionmaker[Session]) -> Settings:
    for name in CT_FILES:
        assert ingest_object(sessions, corpus_dir() / name, source=f"file:{name}").extracted
    return Settings(data_dir=tmp_path, database_url=database_url, queue_url="memory://", page_size=25)


@pytest.mark.parametrize("modality", ["ct", "rf", "dx", "mg"])
def test_each_list_page_has_the_chart_panel_and_its_scripts_are_served(settings, sessions, modality):  # type: ignore[no-untyped-def]
    client = dose_browser_client(settings, sessions)
    page = client.get(f"/{modality}/?study_description=a", base_url=BASE_URL).get_data(as_text=True)
    assert 'id="chart-panel"' in page and f'data-charts-url="/rem/api/charts/{modality}/"' in page
    assert "cdn" not in page.lower()
    plotly = client.get("/charts/plotly.min.js", base_url=BASE_URL)
    assert plotly.status_code == 200 and b"plotly" in plotly.data[:2000].lower()
    script = client.get("/charts/static/charts.js", base_url=BASE_URL)
    assert script.status_code == 200 and b"panel.dataset.chartsUrl" in script.data  # URLs come from the page
    names = client.get(f"/api/charts/{modality}/", base_url=BASE_URL).get_json()
    assert any(entry["default"] for entry in names["charts"])


@pytest.fixture
def served(settings, sessions) -> Iterator[str]:  # type: ignore[no-untyped-def]
    with served_dose_browser(settings, sessions) as url:
        yield url


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_ct_page_draws_its_charts_in_chromium(served: str, tmp_path: Path) -> None:
    if browser.CHROMIUM is None:
        pytest.fail("chromium is not installed: scripts/bootstrap --with-test-tools installs it")
    url = f"{served}/ct/#chart-panel"
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        result = subprocess.run(
            [browser.CHROMIUM, *browser.FLAGS, f"--user-data-dir={profile}", "--virtual-time-budget=20000",
             "--window-size=1200,1400", "--dump-dom", url],
            capture_output=True, timeout=120, check=False,
        )  # fmt: skip
        dom = result.stdout.decode("utf-8", errors="replace")
        subprocess.run(
            [browser.CHROMIUM, *browser.FLAGS, f"--user-data-dir={profile}", "--virtual-time-budget=20000",
             "--window-size=1200,1400", f"--screenshot={tmp_path / 'ct-charts.png'}", url],
            capture_output=True, timeout=120, check=False,
        )  # fmt: skip
    assert 'data-chart="dlp-per-acquisition-protocol"' in dom, dom[-3000:]
    assert 'data-rendered="yes"' in dom
    assert "main-svg" in dom  # Plotly drew its SVG
    assert (tmp_path / "ct-charts.png").stat().st_size > 10_000
    keep = os.environ.get("ORTHANC_REM_SCREENSHOTS")  # a folder to keep the screenshot in (README)
    if keep:
        shutil.copy(tmp_path / "ct-charts.png", Path(keep) / "ct-charts.png")
