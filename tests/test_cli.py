"""The ``orthanc-rem`` command: archives imported without Orthanc, the database dumped as JSON."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import sr_facts

CLI = [sys.executable, "-m", "orthanc_rem.cli"]


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=300, env=env, check=False)


@pytest.fixture
def archive(corpus, tmp_path) -> Path:  # type: ignore[no-untyped-def]
    """A folder of old RDSRs as a hospital might have them: nested folders, one non-dose object."""
    root = tmp_path / "archive"
    (root / "2017" / "ct").mkdir(parents=True)
    for name in ["CT-RDSR-Siemens-Multi-1.dcm", "CT-RDSR-Siemens-Multi-3.dcm", "CT-RDSR-GEPixelMed.dcm"]:
        shutil.copy(corpus(name), root / "2017" / "ct" / name)
    shutil.copy(corpus("ESR_non-dose.dcm"), root / "2017" / "other.dcm")
    return root


def test_import_a_folder_then_dump_every_study(archive, database_url, corpus):
    result = run("--database", database_url, "import", str(archive))
    assert result.returncode == 0, result.stderr
    lines = dict(line.rsplit(": ", 1)[0:2] for line in result.stdout.splitlines() if line.startswith(str(archive)))
    assert lines[str(archive / "2017" / "other.dcm")].startswith("not_dose_report")
    assert "replaced" in result.stdout or "superseded" in result.stdout

    dump = run("--database", database_url, "dump")
    assert dump.returncode == 0, dump.stderr
    documents = json.loads(dump.stdout)
    by_uid = {d["study_instance_uid"]: d for d in documents}
    multi = sr_facts.read(corpus("CT-RDSR-Siemens-Multi-3.dcm"))
    pixelmed = sr_facts.read(corpus("CT-RDSR-GEPixelMed.dcm"))
    assert set(by_uid) == {multi.StudyInstanceUID, pixelmed.StudyInstanceUID}
    (dose,) = by_uid[multi.StudyInstanceUID]["ct_radiation_doses"]
    assert {e["irradiation_event_uid"] for e in dose["events"]} == sr_facts.event_uids(multi)
    assert dose["dlp_total_mgycm"] == {"value": pytest.approx(sr_facts.total_dlp(multi)), "unit": "mGy.cm"}


def test_import_takes_globs_and_environment_database(corpus, tmp_path):
    url = f"sqlite:///{tmp_path / 'env.sqlite'}"
    env = {**os.environ, "ORTHANC_REM_DATABASE": url}
    pattern = str(corpus("CT-RDSR-Siemens-Continued-1.dcm")).replace("-1.dcm", "-*.dcm")
    result = run("import", pattern, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count(": imported") == 2
    documents = json.loads(run("dump", env=env).stdout)
    assert len(documents) == 1
    assert len(documents[0]["ct_radiation_doses"]) == 2


def test_import_reports_a_broken_file_and_goes_on(corpus, tmp_path):
    url = f"sqlite:///{tmp_path / 'broken.sqlite'}"
    broken = tmp_path / "broken.dcm"
    broken.write_bytes(b"\x00" * 10)
    result = run("--database", url, "import", str(broken), str(corpus("CT-RDSR-ToshibaPixelMed.dcm")))
    assert result.returncode == 1
    assert f"{broken}: failed (" in result.stdout
    assert "ToshibaPixelMed.dcm: imported" in result.stdout
    assert len(json.loads(run("--database", url, "dump").stdout)) == 1
