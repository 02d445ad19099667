"""huey without task revocation: the queue classes ``tasks.create_huey`` builds.

huey lets a task be revoked, and so pays for it on every task it runs: before, a read of its
key-value store for the task's and the task class's revocation flags; after, a delete of the task's
flag, which on the SQLite queue is a write transaction (``BEGIN EXCLUSIVE``, a SELECT and a DELETE)
contending with the plugin's enqueues and the other workers' dequeues; on Redis, two round trips.
Nothing in orthanc-rem revokes a task (an object is always processed; a job is cancelled through
its own row), so both are skipped, and revoking raises instead of being silently ignored.

The two hooks are huey's own (``Huey.is_revoked``, and ``Huey.delete`` of ``task.revoke_id``,
``"r:<task id>"``, in ``Huey._execute``; huey 2.x and 3.x alike); tests/test_queue_huey.py
checks that running a task reads and writes nothing in the store.
"""

from __future__ import annotations

from typing import Any, NoReturn

from huey import RedisHuey, SqliteHuey

#: huey's key of a task's revocation flag: ``Task.revoke_id``.
REVOKE_KEY_PREFIX = "r:"


class WithoutRevocation:
    """Mixin for a ``huey.Huey`` class (put it first)."""

    def is_revoked(self, task: Any, timestamp: Any = None, peek: bool = True) -> bool:
        return False

    def delete(self, key: str) -> bool:
        if key.startswith(REVOKE_KEY_PREFIX):
            return False  # no flag was ever stored
        return super().delete(key)  # type: ignore[misc, no-any-return]

    def revoke(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise NotImplementedError("orthanc-rem's queue does not revoke tasks")

    revoke_all = revoke_by_id = restore = restore_all = restore_by_id = revoke


class SqliteQueue(WithoutRevocation, SqliteHuey):
    pass


class RedisQueue(WithoutRevocation, RedisHuey):
    pass
