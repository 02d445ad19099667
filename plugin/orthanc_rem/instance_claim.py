"""One extraction per Orthanc instance, however many times it was queued.

An instance can be queued twice. With several Orthanc nodes on one index and one queue, the
catch-up of a node that (re)starts replays the *shared* change log (``recovery``) and finds the
instances the other node's workers are extracting at that moment: taken off the queue, no outcome
stored yet, so neither "queued" nor "done". Two nodes starting together both replay it too. A
single node has the same window at start, only shorter.

So a worker claims the instance before extracting it, and gives it up if it was done meanwhile:

* on PostgreSQL, a session advisory lock keyed on the Orthanc ID (``pg_try_advisory_lock``), held
  until the outcome has committed; a worker that dies loses its connection and so its claim, and
  the next reconciliation finds the instance without an outcome;
* then a stored outcome (``processed_object`` or ``rejected_object``) means "done already".

SQLite serves one machine's workers only (one Orthanc node), where the outcome check suffices.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator

from sqlalchemy import text

from orthanc_rem import database, recovery

#: Why a queued instance was not extracted again (the worker's log line says it).
BEING_EXTRACTED = "being extracted by another worker"
ALREADY_DONE = "has an outcome already"


def lock_key(orthanc_id: str) -> int:
    """A signed 64-bit advisory lock key for an Orthanc ID: two IDs share a key once in 2**64."""
    return int.from_bytes(hashlib.sha256(orthanc_id.encode()).digest()[:8], "big", signed=True)


@contextlib.contextmanager
def claim(database_url: str, orthanc_id: str) -> Iterator[str | None]:
    """Yields None when this worker is to extract ``orthanc_id``, else why it must not.

    Database errors (server down) propagate: the caller postpones the task as for any outage.
    """
    engine = database.engine_for(database_url)
    if engine.dialect.name != "postgresql":
        yield _done_reason(database_url, orthanc_id)
        return
    key = lock_key(orthanc_id)
    with engine.connect() as connection:
        taken = connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": key}).scalar()
        connection.commit()
        if not taken:
            yield BEING_EXTRACTED
            return
        try:
            yield _done_reason(database_url, orthanc_id)
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
            connection.commit()


def _done_reason(database_url: str, orthanc_id: str) -> str | None:
    with database.session_factory(database_url)() as session:
        return None if recovery.without_outcome(session, [orthanc_id]) else ALREADY_DONE
