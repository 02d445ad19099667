"""A real Chromium that logs in to the dose browser through Orthanc, driven by Playwright.

``browser.dump_dom`` runs Chromium's command line, which cannot log in; the dose pages need a
session since issue 7. Playwright (PyPI) drives Debian's own Chromium (no browser download).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote

import pytest

from browser import CHROMIUM, FLAGS


@contextmanager
def chromium_page() -> Iterator[Any]:
    if CHROMIUM is None:
        pytest.fail("chromium is not installed: scripts/bootstrap --with-test-tools installs it")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("playwright is not installed: pip install -e '.[test]'")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[f for f in FLAGS if f != "--headless"])
        try:
            yield browser.new_page()
        finally:
            browser.close()


def log_in(page: Any, orthanc: Any, path: str, name: str = "admin", password: str | None = None) -> None:
    """Open ``path`` (e.g. ``/rem/ct/``) the way a user does: the login page first, then the page."""
    prefix = orthanc.dose_browser_prefix
    page.goto(orthanc.url(f"{prefix}/login?next={quote(path.removeprefix(prefix) or '/')}"))
    page.get_by_label("User name").fill(name)
    page.get_by_label("Password").fill(password or orthanc.dose_browser_password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()


def logged_in_dom(orthanc: Any, path: str, name: str = "admin", password: str | None = None) -> str:
    """The DOM of a dose page after logging in as ``name`` (the harness's admin by default)."""
    with chromium_page() as page:
        log_in(page, orthanc, path, name, password)
        return str(page.content())
