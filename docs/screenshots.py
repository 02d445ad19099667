"""Screenshots of the dose browser's main pages for the README, taken again whenever the pages change.

Fills a fresh SQLite dose database with every object of the test corpus (``tests/corpus/dicom``,
through the importer, as Orthanc's workers would), serves the dose browser on a loopback port
under ``/rem`` as Orthanc does, and drives Debian's headless Chromium (``tests/browser.py``,
through Playwright as the browser tests do) through the login page and every page below. The
pages are the same Flask application Orthanc serves; Orthanc itself is left out because it adds
nothing to what the pages look like and a minute to every run.

    .venv/bin/python docs/screenshots.py                  # every page into docs/screenshots/
    .venv/bin/python docs/screenshots.py --only home ct-detail --folder /tmp/shots
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "web"))
sys.path.insert(0, str(REPO / "plugin"))

import pydicom  # noqa: E402
from sqlalchemy import select  # noqa: E402

from browser import CHROMIUM, FLAGS  # noqa: E402
from orthanc_rem import database, model, users  # noqa: E402
from orthanc_rem.config import Settings  # noqa: E402
from orthanc_rem.ingest import ingest_object  # noqa: E402
from web_clients import PASSWORD, add_user, browser_app, served_under_rem  # noqa: E402

CORPUS = REPO / "tests" / "corpus" / "dicom"
FOLDER = REPO / "docs" / "screenshots"
USER = "physicist"
#: The corpus object whose study each detail page shows.
DETAIL_OBJECTS = {
    "CT": "CT-RDSR-Siemens_Flash-TAP-SS.dcm",
    "RF": "RF-RDSR-Siemens-Zee.dcm",
    "DX": "DX-RDSR-Canon_CXDI.dcm",
    "MG": "MG-RDSR-Hologic_2D.dcm",
}


@dataclass(frozen=True)
class Shot:
    name: str  # the PNG's name without .png, and --only's word
    path: str  # below /rem; {CT} etc. is that modality's detail study id
    #: A CSS selector to wait for before the picture (charts are drawn after the page loads).
    wait_for: str | None = None


SHOTS = [
    Shot("home", "/"),
    Shot("ct-list", "/ct/"),
    Shot("rf-list", "/rf/"),
    Shot("dx-list", "/dx/"),
    Shot("mg-list", "/mg/"),
    Shot("ct-detail", "/ct/{CT}"),
    Shot("rf-detail", "/rf/{RF}"),
    Shot("dx-detail", "/dx/{DX}"),
    Shot("mg-detail", "/mg/{MG}"),
    Shot("exports", "/exports/"),
    Shot("qr", "/qr/"),
    Shot("charts", "/ct/#chart-panel", wait_for='.chart[data-rendered="yes"]'),
]
NAMES = ["login", *(shot.name for shot in SHOTS)]


def fill_database(url: str) -> dict[str, int]:
    """Import the whole corpus; the detail pages' study ids by modality."""
    database.upgrade_schema(url)
    sessions = database.session_factory(url)
    for path in sorted(CORPUS.glob("*.dcm")):
        ingest_object(sessions, path, source=f"file:{path.name}")
    add_user(sessions, USER, users.GROUPS)
    ids = {}
    with sessions() as session:
        for modality, name in DETAIL_OBJECTS.items():
            uid = str(pydicom.dcmread(CORPUS / name, stop_before_pixels=True).StudyInstanceUID)
            ids[modality] = session.scalars(select(model.Study.id).where(model.Study.study_instance_uid == uid)).one()
    return ids


@contextmanager
def served(url: str, data_dir: Path) -> Iterator[str]:
    """The dose browser on a free loopback port under /rem; yields its base URL."""
    settings = Settings(data_dir=data_dir, database_url=url, queue_url=f"sqlite:///{data_dir / 'queue.sqlite'}")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    with served_under_rem(browser_app(settings, database.session_factory(url))) as base_url:
        yield base_url


def take(base: str, ids: dict[str, int], folder: Path, only: set[str]) -> list[Path]:
    from playwright.sync_api import sync_playwright

    if CHROMIUM is None:
        raise SystemExit("chromium is not installed: scripts/bootstrap --with-test-tools installs it")
    folder.mkdir(parents=True, exist_ok=True)
    taken: list[Path] = []
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=[f for f in FLAGS if f != "--headless"])
        page: Any = browser.new_page(viewport={"width": 1400, "height": 900})
        try:
            page.goto(f"{base}/login")
            page.get_by_label("User name").fill(USER)
            page.get_by_label("Password").fill(PASSWORD)
            if "login" in only:
                taken.append(folder / "login.png")
                page.screenshot(path=str(taken[-1]))
            page.get_by_role("button", name="Log in").click()
            page.wait_for_load_state()
            for shot in SHOTS:
                if shot.name not in only:
                    continue
                answer = page.goto(base + shot.path.format(**ids))
                if answer is None or answer.status != 200:
                    raise SystemExit(f"{shot.path}: HTTP {answer.status if answer else '?'}: no screenshot of an error")
                page.wait_for_load_state("networkidle")
                if shot.wait_for:
                    page.wait_for_selector(shot.wait_for, timeout=60_000)
                taken.append(folder / f"{shot.name}.png")
                page.screenshot(path=str(taken[-1]))
        finally:
            browser.close()
    return taken


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--folder", type=Path, default=FOLDER, help=f"where the PNGs go (default {FOLDER})")
    parser.add_argument("--only", nargs="+", choices=NAMES, default=NAMES, metavar="PAGE", help=", ".join(NAMES))
    options = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="rem-screenshots-") as folder:
        url = f"sqlite:///{Path(folder) / 'orthanc-rem.sqlite'}"
        ids = fill_database(url)
        with served(url, Path(folder)) as base:
            for path in take(base, ids, options.folder, set(options.only)):
                print(path)
        database.dispose_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
