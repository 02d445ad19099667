"""The extraction workers' life: how many start, what they are given, and that they die with Orthanc."""

from __future__ import annotations

import base64
import json
import os
import signal
import time
import urllib.error
import urllib.request

import psutil
import pydicom
import pytest
from sqlalchemy import select

from orthanc_harness import REPO_ROOT, orthanc_rem_section, running_orthanc
from orthanc_rem import database, model
from orthanc_rem.config import Settings, load_settings
from test_job_liveness import worker_pool


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
        "OrthancRem": orthanc_rem_section(tmp_path),
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


def _as(orthanc, user: str, password: str, method: str, path: str, body: bytes | None = None) -> int:  # type: ignore[no-untyped-def]
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    request = urllib.request.Request(
        orthanc.url(path), data=body, method=method, headers={"Authorization": f"Basic {token}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


@pytest.mark.orthanc
def test_the_worker_account_reads_objects_but_cannot_reconfigure_orthanc(tmp_path, corpus):
    """Least privilege: a registered worker user instead of a plugin token, narrowed by our HTTP filter."""
    admin, worker = ("admin", "admin-pw-" + os.urandom(4).hex()), ("rem-worker", "worker-pw-" + os.urandom(4).hex())
    url = f"sqlite:///{tmp_path / 'rem.sqlite'}"
    config = {
        "AuthenticationEnabled": True,
        "RegisteredUsers": dict([admin, worker]),
        "OrthancRem": orthanc_rem_section(tmp_path, url, workers=1, OrthancAuthorization=":".join(worker)),
    }
    script = REPO_ROOT / "plugin" / "orthanc_rem_plugin.py"
    with running_orthanc(tmp_path / "orthanc", python_script=script, config=config) as orthanc:
        path = corpus("CT-RDSR-Siemens-Multi-1.dcm")
        instance = json.loads(orthanc.request("POST", "/instances", path.read_bytes()))["ID"]
        uid = str(pydicom.dcmread(path, stop_before_pixels=True).SOPInstanceUID)
        sessions = database.session_factory(url)

        def extracted() -> bool:
            with sessions() as session:
                return uid in set(session.scalars(select(model.ProcessedObject.sop_instance_uid)))

        orthanc.wait_until(extracted, timeout=60, message="not extracted with the worker account")
        for method, route in [
            ("GET", f"/instances/{instance}/file"),
            ("GET", f"/instances/{instance}/metadata/SopClassUid"),
            ("GET", "/instances?since=0&limit=10"),
            ("GET", "/changes?since=0&limit=10"),
        ]:
            assert _as(orthanc, *worker, method, route) == 200, route
        modality = json.dumps({"AET": "EVIL", "Host": "192.0.2.1", "Port": 104}).encode()
        assert _as(orthanc, *worker, "PUT", "/modalities/evil", modality) == 403
        assert _as(orthanc, *worker, "POST", "/modalities/evil/store", instance.encode()) == 403
        assert _as(orthanc, *worker, "DELETE", f"/studies/{instance}") == 403
        assert _as(orthanc, *worker, "GET", "/rem/api/studies") == 403
        assert _as(orthanc, *admin, "PUT", "/modalities/evil", modality) == 200  # others as before
        (pool,) = [p for p in psutil.Process(orthanc._process.pid).children() if "orthanc_rem.worker" in p.cmdline()]
        environment = pool.environ()
        assert "ORTHANC_REM_ADMIN_PASSWORD" not in environment and admin[1] not in "\0".join(environment.values())


@pytest.mark.parametrize("delay_s", [0.05, 0.15, 0.3, 0.6])
def test_a_pool_stopped_while_it_starts_exits_cleanly_without_a_traceback(tmp_path, delay_s):
    """CI found a KeyboardInterrupt traceback in Orthanc's log: Orthanc stopped 0.4 s after it
    started, and the supervisor's SIGINT (huey's graceful stop) reached the pool while it was
    still importing huey, before huey's consumer had installed its handlers."""
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=f"sqlite:///{tmp_path / 'rem.sqlite'}",
        queue_url=f"sqlite:///{tmp_path / 'queue.sqlite'}",
    )
    with worker_pool(settings, tmp_path, "pool") as pool:
        time.sleep(delay_s)
        os.killpg(pool.pid, signal.SIGINT)
        pool.wait(timeout=30)
    output = (tmp_path / "pool.log").read_text(errors="replace")
    assert "Traceback" not in output, output
    assert pool.returncode == 0, output
