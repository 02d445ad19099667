"""Headless Chromium (Debian's package) for page tests: the DOM a real browser builds from a URL."""

from __future__ import annotations

import shutil
import subprocess
import tempfile

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

# Flags from the machine notes: without the background-networking ones Chromium keeps trying to
# reach Google's hosts, which this closed network refuses.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


def dump_dom(url: str, timeout: float = 60.0) -> str:
    """The serialised DOM after Chromium loaded ``url`` (scripts run, as a user would see it)."""
    if CHROMIUM is None:
        pytest.fail("chromium is not installed: scripts/bootstrap --with-test-tools installs it")
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        result = subprocess.run(
            [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "--dump-dom", url],
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    if result.returncode != 0:
        raise RuntimeError(
            f"chromium failed ({result.returncode}): {result.stderr.decode(errors='replace')[-2000:]}"
        )
    return result.stdout.decode("utf-8", errors="replace")
