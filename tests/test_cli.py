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


# --- a Unix tool: one line and exit code 2 for a database it cannot open, quiet on a closed pipe ---------


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    return line


def test_a_missing_database_is_one_line_and_exit_code_2(tmp_path):
    missing = tmp_path / "nowhere" / "orthanc-rem.sqlite"
    for command in ("dump", "equipment"):
        line = one_line_error(run("--database", f"sqlite:///{missing}", command))
        assert line.startswith(f"orthanc-rem: cannot open the dose database at {missing}: "), line
    assert not missing.parent.exists()  # nothing created by a command that only reads


def test_an_unreadable_database_is_one_line_and_exit_code_2(tmp_path):
    not_a_database = tmp_path / "notes.sqlite"
    not_a_database.write_text("this is not SQLite\n" * 100)
    line = one_line_error(run("--database", f"sqlite:///{not_a_database}", "dump"))
    assert line.startswith(f"orthanc-rem: cannot open the dose database at {not_a_database}: "), line
    parent_is_a_file = not_a_database / "orthanc-rem.sqlite"
    line = one_line_error(run("--database", f"sqlite:///{parent_is_a_file}", "import", str(tmp_path)))
    assert line.startswith(f"orthanc-rem: cannot open the dose database at {parent_is_a_file}: "), line
    refused = "postgresql://nobody@127.0.0.1:9/orthanc_rem"  # the discard port: nothing listens there
    line = one_line_error(run("--database", refused, "dump"))
    assert line.startswith("orthanc-rem: cannot open the dose database at postgresql+psycopg2://nobody@"), line


def test_a_closed_pipe_ends_the_command_quietly(archive, tmp_path):
    """``orthanc-rem dump | head`` : the reader is gone before anything is written."""
    url = f"sqlite:///{tmp_path / 'piped.sqlite'}"
    assert run("--database", url, "import", str(archive)).returncode == 0
    for command in (["dump"], ["import", str(archive)], ["equipment"]):
        process = subprocess.Popen(
            [*CLI, "--database", url, *command], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        assert process.stdout is not None and process.stderr is not None
        process.stdout.close()
        stderr = process.stderr.read()
        process.wait(timeout=300)
        assert "Error" not in stderr and "Traceback" not in stderr, stderr
        assert process.returncode == 141  # 128 + SIGPIPE, as a shell reports a tool ended by the pipe


SUB_COMMANDS = ["import", "dump", "migrate", "reprocess", "settings", "equipment"]


@pytest.mark.parametrize("command", [None, *SUB_COMMANDS])
def test_help_is_plain_text_and_lists_the_global_options(command):
    result = run(*([command] if command else []), "--help")
    assert result.returncode == 0, result.stderr
    for markup in ("``", ":func:", ":class:", "**"):
        assert markup not in result.stdout
    assert "--database URL" in result.stdout
    assert "--config FILE" in result.stdout


def test_global_options_go_before_or_after_the_sub_command(archive, tmp_path):
    url = f"sqlite:///{tmp_path / 'either.sqlite'}"
    assert run("import", "--database", url, str(archive)).returncode == 0
    assert len(json.loads(run("--database", url, "dump").stdout)) == 2


# --- reprocess finds the service as scripts/serve runs it ---------------------------------------------


SERVICE_CONFIGURATION = """{
  // as orthanc-config/orthanc.json: comments, ${VARIABLES}, a URL with // inside a string
  "Name" : "ORTHANC-REM //not a comment",
  "HttpPort" : %(port)d,
  "AuthenticationEnabled" : true,
  "RegisteredUsers" : { "admin" : "${ORTHANC_REM_ADMIN_PASSWORD}" },
  /* our own section */
  "OrthancRem" : {
    "Database" : "${SITE_DOSE_DATABASE}",
    "DataDirectory" : "${ORTHANC_REM_DATA}",
    "OrthancUrl" : ""
  }
}
"""


@pytest.mark.orthanc
def test_reprocess_reads_the_services_configuration(corpus, tmp_path, database_url, sessions):
    """Port, login and database come from the file scripts/serve starts Orthanc with; the admin
    password from the data folder where scripts/serve generated it."""
    from orthanc_harness import running_orthanc
    from orthanc_rem import persistence
    from orthanc_rem.ingest import ingest_object

    password = "generated-by-serve"
    config = {"AuthenticationEnabled": True, "RegisteredUsers": {"admin": password}}
    with running_orthanc(tmp_path / "orthanc", config=config) as orthanc:
        ct = json.loads(orthanc.request("POST", "/instances", corpus("CT-RDSR-GEPixelMed.dcm").read_bytes()))["ID"]
        other = json.loads(orthanc.request("POST", "/instances", corpus("CT-RDSR-ToshibaPixelMed.dcm").read_bytes()))
        content = orthanc.request("GET", f"/instances/{ct}/file")
        assert ingest_object(sessions, content, source=f"orthanc:{ct}", orthanc_id=ct).outcome == "imported"
        with sessions() as session:  # as if it had arrived before its importer existed
            persistence.record_rejection(
                session,
                source=f"orthanc:{other['ID']}",
                outcome="not_dose_report",
                reason="old",
                orthanc_id=other["ID"],
            )
        data = tmp_path / "data"
        data.mkdir()
        (data / "admin-password").write_text(password + "\n")
        service_config = tmp_path / "orthanc.json"
        service_config.write_text(SERVICE_CONFIGURATION % {"port": orthanc.http_port})
        env = {k: v for k, v in os.environ.items() if not k.startswith("ORTHANC_REM_")}
        env |= {"ORTHANC_REM_ORTHANC_CONFIG": str(service_config), "ORTHANC_REM_DATA": str(data)}
        env["SITE_DOSE_DATABASE"] = database_url

        result = run("reprocess", "--all", env=env)
        assert result.returncode == 0, result.stdout + result.stderr
        assert f"orthanc:{ct}: imported" in result.stdout
        result = run("reprocess", "--rejected", env=env)
        assert "nothing to do" in result.stdout
        result = run("reprocess", "--rejected", "--include-not-dose-reports", env=env)
        assert result.returncode == 0, result.stdout + result.stderr
        assert f"orthanc:{other['ID']}: imported" in result.stdout
