"""The extraction queue runs a task without huey's revocation bookkeeping (queue_huey.py)."""

from __future__ import annotations

import pytest

from orthanc_rem.tasks import create_huey


def test_running_a_task_reads_and_writes_nothing_but_the_queue(tmp_path, monkeypatch):
    huey = create_huey(f"sqlite:///{tmp_path / 'queue.sqlite'}")
    ran = []

    @huey.task(name="ingest_orthanc_instance")
    def ingest(orthanc_id: str) -> None:
        ran.append(orthanc_id)

    huey.enqueue(ingest.s("instance-a"))
    task = huey.dequeue()
    store_calls = []
    for name in ("peek_data", "peek_many", "pop_data", "delete_data", "put_data"):
        original = getattr(huey.storage, name)
        monkeypatch.setattr(
            huey.storage, name, lambda *a, _name=name, _original=original: store_calls.append(_name) or _original(*a)
        )
    huey.execute(task)
    assert ran == ["instance-a"]
    assert store_calls == []


def test_revoking_is_refused_rather_than_ignored(tmp_path):
    huey = create_huey(f"sqlite:///{tmp_path / 'queue.sqlite'}")

    @huey.task(name="ingest_orthanc_instance")
    def ingest(orthanc_id: str) -> None: ...

    with pytest.raises(NotImplementedError):
        ingest.revoke()
    with pytest.raises(NotImplementedError):
        huey.revoke_by_id("some-task-id")
