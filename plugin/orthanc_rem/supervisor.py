"""Starting and stopping the extraction workers together with Orthanc.

The plugin runs inside Orthanc; the workers must not (notes §5: no GIL shared with C-STORE, a
crash stays in its process). So the plugin starts one worker process group when Orthanc has
started, restarts it if it dies, and stops it when Orthanc stops. Threads here are daemons:
a non-daemon thread would hang Orthanc's shutdown (notes §1.9).

When Orthanc dies without stopping them (kill -9, a segfault in DCMTK), the workers must die
too: orphans kept taking tasks with the dead Orthanc's token and quarantined good objects
(issue 6). Each worker process asks Linux for a parent-death signal (``worker.py``); Linux sends
it when the *thread* that forked the process ends, so the pool is always forked from the
watcher thread, which lives exactly as long as the supervisor.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import threading
from collections.abc import Callable, Mapping, Sequence

log = logging.getLogger(__name__)

#: Set in a worker pool started by the supervisor: the PID the pool must die with.
PARENT_PID_VARIABLE = "ORTHANC_REM_PARENT_PID"


def worker_process_environment(parent: Mapping[str, str], settings: Mapping[str, str]) -> dict[str, str]:
    """Orthanc's environment plus the workers' settings, without any password.

    ``scripts/serve`` exports the admin password for Orthanc's ``RegisteredUsers``; workers read
    Orthanc with their own authorisation (``ORTHANC_REM_ORTHANC_AUTHORIZATION``) and never need
    it, so a compromised extraction (it parses untrusted DICOM) does not hand it out.
    """
    inherited = {name: value for name, value in parent.items() if not name.upper().endswith("_PASSWORD")}
    return {**inherited, **settings, PARENT_PID_VARIABLE: str(os.getpid())}


class WorkerSupervisor:
    def __init__(
        self,
        command: Sequence[str],
        environment: Mapping[str, str],
        log_line: Callable[[str], None] = log.info,
        restart_delay: float = 2.0,
    ) -> None:
        self.command = list(command)
        self.environment = dict(environment)
        self.log_line = log_line
        self.restart_delay = restart_delay
        self._process: subprocess.Popen[bytes] | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._watcher: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        self._stopping.clear()
        spawned = threading.Event()
        self._watcher = threading.Thread(
            target=self._watch, args=(spawned,), name="orthanc-rem-supervisor", daemon=True
        )
        self._watcher.start()
        spawned.wait(30)

    def _spawn(self) -> None:
        env = worker_process_environment(os.environ, self.environment)
        # Its own process group, so that stopping it also stops the worker processes it forked.
        self._process = subprocess.Popen(self.command, env=env, start_new_session=True)
        self.log_line(f"orthanc-rem: started extraction workers (pid {self._process.pid}): {' '.join(self.command)}")

    def _watch(self, spawned: threading.Event) -> None:
        try:
            with self._lock:
                if not self._stopping.is_set():
                    self._spawn()
        finally:
            spawned.set()
        while not self._stopping.is_set():
            process = self._process
            if process is not None and process.poll() is not None and not self._stopping.is_set():
                self.log_line(f"orthanc-rem: extraction workers exited with {process.returncode}; restarting")
                if self._stopping.wait(self.restart_delay):
                    return
                with self._lock:
                    if not self._stopping.is_set():
                        self._spawn()
            self._stopping.wait(1.0)

    def stop(self, timeout: float = 15.0) -> None:
        self._stopping.set()
        with self._lock:
            process = self._process
            if process is None or process.poll() is not None:
                return
            # SIGINT asks huey for a graceful stop: running tasks finish, queued ones stay queued.
            _signal_group(process, signal.SIGINT)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                _signal_group(process, signal.SIGKILL)
                process.wait(5)
            self.log_line("orthanc-rem: extraction workers stopped")


def _signal_group(process: subprocess.Popen[bytes], sig: int) -> None:
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:
        pass
