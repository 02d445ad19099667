"""Starting and stopping the extraction workers together with Orthanc.

The plugin runs inside Orthanc; the workers must not (notes §5: no GIL shared with C-STORE, a
crash stays in its process). So the plugin starts one worker process group when Orthanc has
started, restarts it if it dies, and stops it when Orthanc stops. Threads here are daemons:
a non-daemon thread would hang Orthanc's shutdown (notes §1.9).
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import threading
from collections.abc import Callable, Mapping, Sequence

log = logging.getLogger(__name__)


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
        with self._lock:
            self._stopping.clear()
            self._spawn()
            self._watcher = threading.Thread(target=self._watch, name="orthanc-rem-supervisor", daemon=True)
            self._watcher.start()

    def _spawn(self) -> None:
        env = {**os.environ, **self.environment}
        # Its own process group, so that stopping it also stops the worker processes it forked.
        self._process = subprocess.Popen(self.command, env=env, start_new_session=True)
        self.log_line(f"orthanc-rem: started extraction workers (pid {self._process.pid}): {' '.join(self.command)}")

    def _watch(self) -> None:
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
