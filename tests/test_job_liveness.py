"""A background job whose worker is killed mid-job is marked failed, with the reason, instead of
staying "running" for ever (huey hands a task out once).

The worker here is the real one (``python -m orthanc_rem.worker``) killed with SIGKILL while its
query-retrieve query waits inside a C-FIND: a stand-in for Orthanc's REST API holds that request
open, so the job is mid-step for as long as the test wants, and its progress steps are silent.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from sqlalchemy import select

from fake_orthanc_http import fake_orthanc
from orthanc_harness import REPO_ROOT
from orthanc_rem import job_heartbeat, job_liveness, model
from orthanc_rem.config import Settings
from orthanc_rem.qr import store
from orthanc_rem.qr.options import QueryOptions
from orthanc_rem.tasks import build_queue
from web_clients import dose_browser_client

#: Seconds between heartbeats in these tests (a running site beats every 10 s).
BEAT_S = 0.5
WAIT_S = 60.0


class HeldFind:
    """Orthanc's REST API as far as a query goes: declaring the node and C-ECHO answer at once;
    the C-FIND (``/modalities/…/query``) is held open until :meth:`release`."""

    def __init__(self) -> None:
        self.find_started = threading.Event()
        self.released = threading.Event()

    @contextlib.contextmanager
    def serving(self) -> Iterator[str]:
        def answer(path: str) -> tuple[int, bytes]:
            if path.endswith("/query"):
                self.find_started.set()
                self.released.wait(WAIT_S)
                return 500, b'{"Details": "released by the test"}'
            return 200, b"{}"

        with fake_orthanc(answer) as url:
            try:
                yield url
            finally:
                self.released.set()  # before the server closes: it waits for the held request

    def release(self) -> None:
        self.released.set()


def wait_until(condition: Callable[[], Any], message: str) -> Any:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    pytest.fail(message)


@contextlib.contextmanager
def worker_pool(settings: Settings, tmp_path: Path, name: str) -> Iterator[subprocess.Popen[bytes]]:
    """A worker pool of one process, started as an operator would; SIGKILLed with its group at the end."""
    env = dict(os.environ) | settings.worker_environment()
    env["PYTHONPATH"] = os.pathsep.join(str(REPO_ROOT / part) for part in ("plugin", "web"))
    with open(tmp_path / f"{name}.log", "wb") as log:
        pool = subprocess.Popen(
            [sys.executable, "-m", "orthanc_rem.worker", "--workers", "1"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            yield pool
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pool.pid, signal.SIGKILL)
            pool.wait(timeout=WAIT_S)


def _query(sessions: Any, query_id: int) -> model.QrQuery:
    with sessions() as session:
        query = session.get(model.QrQuery, query_id)
        assert query is not None
        return query


def test_a_query_whose_worker_is_killed_mid_step_is_failed_with_the_reason(tmp_path, database_url, sessions):
    held = HeldFind()
    with held.serving() as orthanc_url:
        settings = Settings(
            data_dir=tmp_path / "data",
            database_url=database_url,
            queue_url=f"sqlite:///{tmp_path / 'queue.sqlite'}",
            orthanc_url=orthanc_url,
            job_heartbeat_s=BEAT_S,
        )
        with sessions.begin() as session:
            node = store.add_node(session, "pacs", "PACSAET01", "pacs.example", 104)
            options = QueryOptions(modalities=("CT",), single_date=dt.date(2026, 12, 1)).validate()
            query_id = store.create_query(session, node, options, retrieve=False, created_by="test").id
        build_queue(settings).qr.query(query_id)  # type: ignore[union-attr]

        with worker_pool(settings, tmp_path, "first") as pool:
            assert held.find_started.wait(WAIT_S), "the worker never sent its C-FIND"
            claimed = wait_until(lambda: (q := _query(sessions, query_id)).heartbeat_at and q, "query not claimed")
            assert claimed.status == store.QUERYING
            assert claimed.worker_pid in {p.pid for p in psutil.Process(pool.pid).children(recursive=True)}
            # One C-FIND step, no progress written: the heartbeat still goes on.
            wait_until(lambda: _query(sessions, query_id).heartbeat_at > claimed.heartbeat_at, "no heartbeat")
            os.kill(claimed.worker_pid, signal.SIGKILL)
            psutil.wait_procs([psutil.Process(claimed.worker_pid)], timeout=WAIT_S)
            os.killpg(pool.pid, signal.SIGKILL)
        held.release()

        last = _query(sessions, query_id)
        assert last.status == store.QUERYING  # nobody has looked yet
        beats = dt.timedelta(seconds=BEAT_S)
        with sessions() as session:
            # From another host the process cannot be looked up: only the heartbeat's age tells.
            early = last.heartbeat_at + (job_liveness.STOPPED_AFTER_BEATS - 1) * beats
            assert job_liveness.find_stopped(session, BEAT_S, early, host="another-host") == []
            late = last.heartbeat_at + (job_liveness.STOPPED_AFTER_BEATS + 1) * beats
            (found,) = job_liveness.find_stopped(session, BEAT_S, late, host="another-host")
            assert (found.kind, found.job_id) == ("query", query_id)

        # The next worker pool to start, on this host, finds the process gone and fails the query.
        wait_until(
            lambda: job_liveness.now() > last.heartbeat_at + job_liveness.GONE_AFTER_BEATS * beats, "clock"
        )
        with worker_pool(settings, tmp_path, "second"):
            failed = wait_until(
                lambda: (q := _query(sessions, query_id)).status == store.FAILED and q, "the query stayed querying"
            )
    last_seen = f"last seen {last.heartbeat_at:%Y-%m-%d %H:%M:%S} UTC"
    assert failed.reason == f"worker stopped ({last_seen} on {last.worker_host}, process {last.worker_pid})"
    assert failed.finished_at is not None
    with sessions() as session:
        lines = [line.line for line in store.log_lines(session, query_id)]
    assert lines[-1] == f"Failed: {failed.reason}"

    page = dose_browser_client(settings, sessions).get(f"/qr/queries/{query_id}")
    assert page.status_code == 200
    assert "worker stopped" in page.text and last_seen in page.text


def test_a_running_worker_is_left_alone(database_url, sessions):
    """This process as the worker, beating: not stopped, however the check is made."""
    with sessions.begin() as session:
        node = store.add_node(session, "pacs", "PACSAET01", "pacs.example", 104)
        query = store.create_query(session, node, QueryOptions(modalities=("CT",)), retrieve=False, created_by=None)
        query_id = query.id
    store.QueryProgress(sessions, query_id).status(store.QUERYING, stage="Starting")
    with sessions() as session:
        assert job_liveness.find_stopped(session, BEAT_S) == []
        assert job_liveness.find_stopped(session, BEAT_S, host="another-host") == []
    running = (store.QUERYING, store.RETRIEVING)
    claimed = _query(sessions, query_id).heartbeat_at
    with job_heartbeat.heartbeat(sessions, model.QrQuery, query_id, running, BEAT_S):
        wait_until(lambda: _query(sessions, query_id).heartbeat_at > claimed, "no heartbeat")
    with sessions() as session:
        assert session.scalar(select(model.QrQuery.status).where(model.QrQuery.id == query_id)) == store.QUERYING
