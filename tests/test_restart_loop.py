"""Orthanc comes back by itself: ``scripts/serve`` runs Orthanc under ``orthanc_rem.restart_loop``,
which restarts it after a crash (Orthanc 1.10.1 segfaults on a deeply nested report) and stops
with Ctrl-C/SIGTERM. The plugin's catch-up then picks up where the crash left off."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import psutil
import pydicom
import pytest
from sqlalchemy import select

from orthanc_harness import (
    ORTHANC_BINARY,
    REPO_ROOT,
    OrthancProcess,
    missing_prerequisites,
    orthanc_rem_section,
    venv_python_path,
)
from orthanc_rem import database, model
from orthanc_rem.restart_loop import keep_running

CRASH_TWICE_THEN_STOP = """
import os, signal, sys
counter = sys.argv[1]
runs = int(open(counter).read()) + 1 if os.path.exists(counter) else 1
open(counter, "w").write(str(runs))
if runs <= 2:
    os.kill(os.getpid(), signal.SIGSEGV)
"""


def test_a_crashed_process_is_restarted_until_it_stops_cleanly(tmp_path):
    counter = tmp_path / "runs"
    said: list[str] = []
    code = keep_running([sys.executable, "-c", CRASH_TWICE_THEN_STOP, str(counter)], first_delay=0.01, say=said.append)
    assert code == 0
    assert counter.read_text() == "3"
    assert said == [
        "Orthanc killed by SIGSEGV; restarting in 0.01 s",
        "Orthanc killed by SIGSEGV; restarting in 0.02 s",
    ]


def _loop(command: list[str], **options) -> subprocess.Popen[bytes]:  # type: ignore[no-untyped-def]
    return subprocess.Popen(
        [sys.executable, "-m", "orthanc_rem.restart_loop", "--", *command],
        env={**os.environ, "PYTHONPATH": venv_python_path()},
        **options,
    )


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_or_ctrl_c_stops_the_loop_and_what_it_runs(stop_signal):
    loop = _loop([sys.executable, "-c", "import time; time.sleep(120)"])
    child = None
    deadline = time.monotonic() + 20
    while child is None and time.monotonic() < deadline:
        children = psutil.Process(loop.pid).children()
        child = children[0] if children else None
        time.sleep(0.05)
    assert child is not None
    loop.send_signal(stop_signal)
    assert loop.wait(20) == 0
    assert not child.is_running() or child.status() == psutil.STATUS_ZOMBIE


def _is_orthanc(process: psutil.Process) -> bool:
    try:
        return process.status() != psutil.STATUS_ZOMBIE and process.exe() == str(ORTHANC_BINARY)
    except psutil.Error:  # it died meanwhile
        return False


@pytest.mark.orthanc
def test_orthanc_killed_by_sigsegv_comes_back_and_keeps_extracting(tmp_path, corpus):
    if missing_prerequisites():
        pytest.skip(missing_prerequisites())
    url = f"sqlite:///{tmp_path / 'rem.sqlite'}"
    orthanc = OrthancProcess(
        tmp_path / "orthanc",
        python_script=REPO_ROOT / "plugin" / "orthanc_rem_plugin.py",
        config={
            "OrthancRem": orthanc_rem_section(tmp_path, url, workers=1)
        },
    )
    orthanc.workdir.mkdir(parents=True)
    orthanc.config_path.write_text(json.dumps(orthanc.config), encoding="utf-8")
    log = open(orthanc.log_path, "wb")  # noqa: SIM115 - closed below
    loop = _loop([str(ORTHANC_BINARY), str(orthanc.config_path)], stdout=log, stderr=subprocess.STDOUT)
    sessions = database.session_factory(url)

    def orthanc_pid() -> int | None:
        """The Orthanc the loop runs, once it answers HTTP."""
        found = [p for p in psutil.Process(loop.pid).children() if _is_orthanc(p)]
        try:
            orthanc.get_json("/system", timeout=2)
        except (OSError, ValueError):
            return None
        return found[0].pid if found else None

    def extracted(name: str) -> bool:
        uid = str(pydicom.dcmread(corpus(name), stop_before_pixels=True).SOPInstanceUID)
        with sessions() as session:
            return (
                session.scalar(select(model.ProcessedObject).where(model.ProcessedObject.sop_instance_uid == uid))
                is not None
            )

    try:
        first = orthanc.wait_until(orthanc_pid, timeout=60, message="Orthanc did not start")
        orthanc.request("POST", "/instances", corpus("CT-RDSR-Siemens-Multi-1.dcm").read_bytes())
        orthanc.wait_until(lambda: extracted("CT-RDSR-Siemens-Multi-1.dcm"), timeout=60, message="not extracted")
        workers = psutil.Process(first).children(recursive=True)
        os.kill(first, signal.SIGSEGV)  # what the 10,000-level report does inside DCMTK

        second = orthanc.wait_until(
            lambda: (pid := orthanc_pid()) not in (None, first) and pid, timeout=60, message="Orthanc did not come back"
        )
        _gone, alive = psutil.wait_procs(workers, timeout=10)
        assert alive == []  # the crashed Orthanc's workers went with it
        orthanc.request("POST", "/instances", corpus("RF-RDSR-Siemens-Zee.dcm").read_bytes())
        orthanc.wait_until(
            lambda: extracted("RF-RDSR-Siemens-Zee.dcm"), timeout=60, message="not extracted after restart"
        )
        loop.send_signal(signal.SIGTERM)
        assert loop.wait(30) == 0
        assert not psutil.pid_exists(second) or psutil.Process(second).status() == psutil.STATUS_ZOMBIE
    finally:
        if loop.poll() is None:
            loop.kill()
        log.close()
        print(orthanc.log_tail())
