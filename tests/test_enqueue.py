"""Batched enqueue of new instances (plugin side) and the SQLite queue's durability setting."""

from __future__ import annotations

from huey import SqliteHuey

from orthanc_rem.enqueue import BatchedEnqueue, enqueue_many
from orthanc_rem.tasks import create_huey


def _queue(tmp_path) -> tuple[SqliteHuey, object]:  # type: ignore[no-untyped-def]
    huey = create_huey(f"sqlite:///{tmp_path / 'queue.sqlite'}")

    @huey.task(name="ingest_orthanc_instance")
    def ingest(orthanc_id: str) -> None: ...

    return huey, ingest


def test_a_batch_is_enqueued_as_tasks_a_worker_reads_in_order(tmp_path):
    huey, ingest = _queue(tmp_path)
    enqueue_many(huey, [ingest.s(f"instance-{n}") for n in range(3)])
    assert [huey.dequeue().args for _ in range(3)] == [("instance-0",), ("instance-1",), ("instance-2",)]


def test_the_background_thread_enqueues_what_arrives(tmp_path):
    huey, ingest = _queue(tmp_path)
    batcher = BatchedEnqueue(huey, ingest.s, max_delay_s=0.01)
    try:
        batcher.add("instance-a")
        batcher.add("instance-b")
        for _ in range(500):
            if huey.pending_count() == 2:
                break
            batcher._stopping.wait(0.01)
        assert [task.args for task in huey.pending()] == [("instance-a",), ("instance-b",)]
    finally:
        batcher.stop()


def test_stop_enqueues_what_is_still_buffered(tmp_path):
    huey, ingest = _queue(tmp_path)
    batcher = BatchedEnqueue(huey, ingest.s, max_delay_s=60)
    for n in range(1200):  # more than one batch
        batcher.add(f"instance-{n}")
    batcher.stop()
    assert huey.pending_count() == 1200


def test_a_failed_enqueue_keeps_the_instances_for_the_next_flush(tmp_path):
    huey, ingest = _queue(tmp_path)
    calls = []

    def make_task(orthanc_id: str):  # type: ignore[no-untyped-def]
        calls.append(orthanc_id)
        if len(calls) == 1:
            raise OSError("disk full")
        return ingest.s(orthanc_id)

    batcher = BatchedEnqueue(huey, make_task, max_delay_s=60)
    batcher.stop()  # no background thread: the flushes below are the only ones
    batcher.add("instance-x")
    batcher.flush()
    assert huey.pending_count() == 0
    batcher.flush()
    assert [task.args for task in huey.pending()] == [("instance-x",)]


def test_the_sqlite_queue_does_not_sync_the_disk_at_every_commit(tmp_path):
    """WAL with synchronous=NORMAL (1), not SQLite's FULL (2): see tasks._SqliteQueueStorage."""
    huey, _ingest = _queue(tmp_path)
    assert huey.storage.conn.execute("PRAGMA synchronous").fetchone() == (1,)
    assert huey.storage.conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
