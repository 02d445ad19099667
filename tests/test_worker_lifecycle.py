"""The extraction workers' life: how many start, what they are given, and that they die with Orthanc."""

from __future__ import annotations

import os
import signal
import sys

import psutil
import pytest

from orthanc_harness import REPO_ROOT, running_orthanc
from orthanc_rem.config import load_settings


def test_zero_workers_in_orthanc_json_starts_none():
    """README: ``"Workers": 0`` means the workers run elsewhere (another host, a container)."""
    assert load_settings({"OrthancRem": {"Workers": 0}}, environ={}).workers == 0
    assert load_settings({}, environ={"ORTHANC_REM_WORKERS": "0"}).workers == 0


def test_workers_default_to_two_when_not_configured():
    assert load_settings({"OrthancRem": {}}, environ={}).workers == 2


def _worker_processes(orthanc_pid: int) -> list[psutil.Process]:
    """Every process started (directly or not) by Orthanc: the worker pool and its forked workers."""
    return [
        p for p in psutil.Process(orthanc_pid).children(recursive=True) if "orthanc_rem.worker" in " ".join(p.cmdline())
    ]


@pytest.mark.orthanc
def test_workers_hold_no_password_and_die_when_orthanc_is_killed(tmp_path):
    """Issue 6: killed Orthanc left workers (parent PID 1) taking tasks with a dead token.

    The workers must go with Orthanc even when it gets no chance to stop them (kill -9, a segfault),
    and their environment must not carry the admin password Orthanc's own environment has.
    """
    config = {
        "OrthancRem": {
            "Database": f"sqlite:///{tmp_path / 'rem.sqlite'}",
            "Queue": f"sqlite:///{tmp_path / 'queue.sqlite'}",
            "DataDirectory": str(tmp_path / "rem-data"),
            "Workers": 2,
            "WorkerPython": sys.executable,
        },
    }
    secret = "admin-secret-" + os.urandom(6).hex()
    with running_orthanc(
        tmp_path / "orthanc",
        python_script=REPO_ROOT / "plugin" / "orthanc_rem_plugin.py",
        config=config,
        env={"ORTHANC_REM_ADMIN_PASSWORD": secret},
    ) as orthanc:
        orthanc_pid = orthanc._process.pid
        # The pool's parent plus its 2 forked workers (and huey's scheduler).
        workers = orthanc.wait_until(
            lambda: (found := _worker_processes(orthanc_pid)) and len(found) >= 3 and found,
            timeout=30,
            message="workers did not start",
        )
        for worker in workers:
            environment = worker.environ()
            assert "ORTHANC_REM_ADMIN_PASSWORD" not in environment
            assert secret not in "\0".join(environment.values())
        os.kill(orthanc_pid, signal.SIGKILL)
        gone, alive = psutil.wait_procs(workers, timeout=10)
        assert alive == []
