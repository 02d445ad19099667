"""The shipped ``orthanc-config/orthanc.json``: accepting only known modalities is one line.

Orthanc 1.10.1 crashes on a maliciously nested dose report from any calling AE (issue 6); the
README tells sites to set ``"DicomAlwaysAllowStore": false`` and list their modalities. This
checks, with a real Orthanc, that flipping that one line of the shipped file does it.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

from orthanc_harness import REPO_ROOT, running_orthanc

pytestmark = pytest.mark.orthanc

SHIPPED = REPO_ROOT / "orthanc-config" / "orthanc.json"


def shipped_configuration() -> dict:  # type: ignore[type-arg]
    """Orthanc's JSON with its ``//`` comment lines, read the way scripts/serve reads it."""
    return json.loads(re.sub(r"^\s*//.*$", "", SHIPPED.read_text("utf-8"), flags=re.M))


def _send(port: int, calling_aet: str, called_aet: str, path) -> int:  # type: ignore[no-untyped-def]
    if shutil.which("storescu") is None:
        pytest.fail("dcmtk's storescu is missing: scripts/bootstrap installs dcmtk")
    command = ["storescu", "-aet", calling_aet, "-aec", called_aet, "127.0.0.1", str(port), str(path)]
    return subprocess.run(command, capture_output=True, timeout=60).returncode


def test_only_known_modalities_may_store_once_one_line_is_flipped(tmp_path, corpus):
    shipped = shipped_configuration()
    assert shipped["DicomAlwaysAllowStore"] is True  # the default: any calling AE
    dicom = {name: shipped[name] for name in ("DicomAlwaysAllowStore", "DicomCheckModalityHost", "DicomModalities")}
    dicom["DicomAlwaysAllowStore"] = False  # the one line
    dicom["DicomModalities"] = {"ct-room-1": ["CT_ROOM_1", "127.0.0.1", 104]}  # the site's list
    with running_orthanc(tmp_path / "orthanc", config=dicom) as orthanc:
        report = corpus("CT-RDSR-Siemens-Multi-1.dcm")
        assert _send(orthanc.dicom_port, "STRANGER", orthanc.aet, report) != 0
        assert orthanc.get_json("/instances") == []
        assert _send(orthanc.dicom_port, "CT_ROOM_1", orthanc.aet, report) == 0
        assert len(orthanc.get_json("/instances")) == 1
