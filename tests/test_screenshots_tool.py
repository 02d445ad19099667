"""``docs/screenshots.py``: the README shows a screenshot of every main page, and the tool that
takes them runs (corpus import, login page, headless Chromium). PNG facts from the PNG
specification: the 8-byte signature, then the IHDR chunk with width and height."""

from __future__ import annotations

import importlib.util
import struct
import sys
from pathlib import Path
from types import ModuleType

from orthanc_harness import REPO_ROOT

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def screenshots_tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("docs_screenshots", REPO_ROOT / "docs" / "screenshots.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()[:24]
    assert data[:8] == PNG_SIGNATURE and data[12:16] == b"IHDR", path
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_the_readme_shows_every_page_the_tool_takes() -> None:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    for name in screenshots_tool().NAMES:
        assert f"](docs/screenshots/{name}.png)" in readme, name
        assert png_size(REPO_ROOT / "docs" / "screenshots" / f"{name}.png") == (1400, 900), name


def test_the_tool_photographs_the_login_page_and_a_detail_page(tmp_path: Path) -> None:
    assert screenshots_tool().main(["--only", "login", "ct-detail", "--folder", str(tmp_path)]) == 0
    assert sorted(path.name for path in tmp_path.iterdir()) == ["ct-detail.png", "login.png"]
    for path in tmp_path.iterdir():
        assert png_size(path) == (1400, 900) and path.stat().st_size > 10_000
