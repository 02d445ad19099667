"""Putting Orthanc's new instances on the extraction queue in batches.

Orthanc delivers NEW_INSTANCE change events one by one on a single plugin thread (orthanc-notes §1.5).
Enqueuing each with its own queue transaction made that thread pay a commit per instance; under
several associations at once the events arrive faster than that. So the change callback only appends
the instance to a buffer, and a background thread puts everything that arrived within a few
milliseconds on the queue in one transaction (one ``INSERT`` of all the tasks for the SQLite queue).

Nothing buffered is lost on a normal stop: ``stop()`` (called on ORTHANC_STOPPED, which Orthanc
delivers after every change event queued before it) enqueues what is left before it returns. What a
crash of Orthanc could lose (at most the last ``max_delay_s``) is found again by the catch-up of
Orthanc's ``/changes`` on start.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

from huey import Huey
from huey.api import Task
from huey.storage import SqliteStorage

log = logging.getLogger(__name__)


def enqueue_many(huey: Huey, tasks: Sequence[Task]) -> None:
    """Enqueue ``tasks`` together: one transaction for the SQLite queue, one by one otherwise.

    The SQLite rows are those huey's own ``SqliteStorage.enqueue`` writes (table ``task``: queue,
    data, priority; unchanged since huey 2.0), written with one ``executemany``.
    """
    storage = huey.storage
    if not isinstance(storage, SqliteStorage):
        for task in tasks:
            huey.enqueue(task)
        return
    rows = [(storage.name, storage.to_blob(huey.serialize_task(task)), task.priority or 0) for task in tasks]
    with storage.db(commit=True) as cursor:
        cursor.executemany("insert into task (queue, data, priority) values (?, ?, ?)", rows)


class BatchedEnqueue:
    """Collects instance ids from the change callback; a daemon thread enqueues them in batches.

    ``make_task`` turns an instance id into a huey task (``task_wrapper.s``). The thread is a daemon
    because a non-daemon thread hangs Orthanc's shutdown (orthanc-notes §1.9); ``stop()`` flushes.
    """

    def __init__(
        self, huey: Huey, make_task: Callable[[str], Task], max_delay_s: float = 0.02, max_batch: int = 500
    ) -> None:
        self.huey = huey
        self.make_task = make_task
        self.max_delay_s = max_delay_s
        self.max_batch = max_batch
        self._pending: list[str] = []
        self._lock = threading.Lock()
        self._arrived = threading.Event()
        self._stopping = threading.Event()
        self._flush_lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="orthanc-rem-enqueue", daemon=True)
        self._thread.start()

    def add(self, orthanc_id: str) -> None:
        with self._lock:
            self._pending.append(orthanc_id)
        self._arrived.set()

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._arrived.wait()
            # Let the instances that arrive meanwhile join this batch.
            self._stopping.wait(self.max_delay_s)
            self.flush()

    def flush(self) -> None:
        """Enqueue everything buffered now; on failure the ids stay buffered for the next attempt."""
        with self._flush_lock:
            with self._lock:
                self._arrived.clear()
                batch, self._pending = self._pending, []
            for start in range(0, len(batch), self.max_batch):
                chunk = batch[start : start + self.max_batch]
                try:
                    enqueue_many(self.huey, [self.make_task(orthanc_id) for orthanc_id in chunk])
                except Exception:
                    with self._lock:
                        self._pending[:0] = batch[start:]
                    log.exception("orthanc-rem: could not enqueue %d instance(s); will retry", len(batch) - start)
                    if not self._stopping.wait(1.0):
                        self._arrived.set()
                    return

    def stop(self) -> None:
        """Stop the thread and enqueue what is still buffered (Orthanc is stopping)."""
        self._stopping.set()
        self._arrived.set()
        self._thread.join(timeout=10)
        self.flush()
