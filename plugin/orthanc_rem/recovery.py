"""Finding every object Orthanc holds that has no outcome with us: catch-up and reconciliation.

Two ways an object can be missed, two cures, both run by a worker when Orthanc starts:

* **catch-up**: instances stored while the plugin or its workers were not running (a crash, an
  upgrade, a stopped pool) never raised a NEW_INSTANCE callback for us. Orthanc keeps every
  change with a sequence number (``GET /changes?since=N&limit=M``); we store the last sequence
  number whose instances were handed to the workers (``ingest_state``) and replay from there.
* **reconciliation**: huey delivers a task at most once; a worker killed mid-task loses it
  (issue 6: 3 of 500 objects over 6 ``kill -9``). A task is only done when its outcome is
  stored (``processed_object`` or ``rejected_object``, which also records unmatched and
  duplicate objects), so comparing Orthanc's instances (``GET /instances?since=N&limit=M``, a
  page at a time) with the stored outcomes finds exactly the lost ones. ``orthanc-rem reconcile``
  runs it by hand.

Objects still waiting in the queue are left out, so neither re-queues what is merely late. An
object a worker holds at that moment (off the queue, no outcome yet; with several Orthanc nodes on
one index, another node's worker) may be queued again: ``instance_claim`` makes the second task
a no-op. The stored sequence number is shared by every node, as the change log is; an instance a
killed node never queued lies behind another node's checkpoint then, and reconciliation finds it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from orthanc_rem import model
from orthanc_rem.orthanc_client import OrthancClient

log = logging.getLogger(__name__)

#: ``ingest_state`` name of the last Orthanc change sequence number handed to the workers.
LAST_CHANGE_SEQUENCE = "orthanc_last_change_seq"
#: Orthanc IDs per REST page and per database comparison.
PAGE_SIZE = 1000
#: Orthanc's name of the change type (``/changes``) that announces a stored instance.
NEW_INSTANCE = "NewInstance"
#: ... and the one that says a study received nothing for ``StableAge`` seconds.
STABLE_STUDY = "StableStudy"

Enqueue = Callable[[str], object]


@dataclass(frozen=True)
class RecoveryCount:
    examined: int  # changes read (catch-up) or instances compared (reconcile)
    queued: int  # instances handed to the workers again


def stored_change_sequence(session: Session) -> int:
    value = session.scalar(select(model.IngestState.value).where(model.IngestState.name == LAST_CHANGE_SEQUENCE))
    return int(value) if value else 0


def store_change_sequence(sessions: sessionmaker[Session], sequence: int) -> None:
    """Move the stored sequence number forward, never back (a late checkpoint may arrive after
    the catch-up has gone further)."""
    for attempt in (1, 2):
        with sessions() as session:
            row = session.scalar(
                select(model.IngestState).where(model.IngestState.name == LAST_CHANGE_SEQUENCE).with_for_update()
            )
            if row is None:
                session.add(model.IngestState(name=LAST_CHANGE_SEQUENCE, value=str(sequence)))
            elif int(row.value) < sequence:
                row.value = str(sequence)
            try:
                session.commit()
                return
            except IntegrityError:  # another worker inserted the row first: update it instead
                session.rollback()
                if attempt == 2:
                    raise


def without_outcome(session: Session, orthanc_ids: Sequence[str]) -> list[str]:
    """The given Orthanc IDs that have neither a processed nor a rejected object, in order."""
    processed = model.ProcessedObject.orthanc_id
    rejected = model.RejectedObject.orthanc_id
    known = set(session.scalars(select(processed).where(processed.in_(orthanc_ids))))
    known |= set(session.scalars(select(rejected).where(rejected.in_(orthanc_ids))))
    return [orthanc_id for orthanc_id in orthanc_ids if orthanc_id not in known]


def _hand_over(sessions: sessionmaker[Session], orthanc_ids: Sequence[str], queued: set[str], enqueue: Enqueue) -> int:
    if not orthanc_ids:
        return 0
    with sessions() as session:
        missing = [i for i in without_outcome(session, orthanc_ids) if i not in queued]
    for orthanc_id in missing:
        enqueue(orthanc_id)
        queued.add(orthanc_id)
    return len(missing)


def catch_up(
    sessions: sessionmaker[Session],
    client: OrthancClient,
    enqueue: Enqueue,
    queued: Iterable[str] = (),
    page_size: int = PAGE_SIZE,
    stable_study: Enqueue | None = None,
) -> RecoveryCount:
    """Replay Orthanc's changes since the stored sequence number; queue new instances we have no
    outcome for; store the sequence number after each page (a crash half way resumes there).

    ``stable_study`` gets the studies Orthanc called stable meanwhile (the legacy CT dose-screen
    reader, ``toshiba_ct``, runs on that event; its task does nothing for a study already done)."""
    with sessions() as session:
        since = first = stored_change_sequence(session)
    waiting = set(queued)
    examined = handed = 0
    while True:
        page = client.get_json(f"/changes?since={since}&limit={page_size}")
        changes = page.get("Changes") or []
        examined += len(changes)
        instances = [c["ID"] for c in changes if c.get("ChangeType") == NEW_INSTANCE]
        handed += _hand_over(sessions, list(dict.fromkeys(instances)), waiting, enqueue)
        if stable_study is not None:
            for study in dict.fromkeys(c["ID"] for c in changes if c.get("ChangeType") == STABLE_STUDY):
                stable_study(study)
        last = int(page.get("Last") or since)
        if last > since:
            store_change_sequence(sessions, last)
            since = last
        if page.get("Done", True) or not changes:
            break
    log.info("catch-up: Orthanc changes %d..%d read, %d instances queued", first, since, handed)
    return RecoveryCount(examined, handed)


def reconcile(
    sessions: sessionmaker[Session],
    client: OrthancClient,
    enqueue: Enqueue,
    queued: Iterable[str] = (),
    page_size: int = PAGE_SIZE,
) -> RecoveryCount:
    """Queue every instance Orthanc holds that has no stored outcome and is not queued already.

    Orthanc 1.10.1 pages ``/instances`` by offset (``since`` is an index, not a sequence number),
    so an instance deleted during the walk may shift one into a page already read: it is then
    found by the next run.
    """
    waiting = set(queued)
    offset = handed = 0
    while True:
        orthanc_ids = client.get_json(f"/instances?since={offset}&limit={page_size}")
        if not orthanc_ids:
            break
        handed += _hand_over(sessions, orthanc_ids, waiting, enqueue)
        offset += len(orthanc_ids)
        if len(orthanc_ids) < page_size:
            break
    log.info("reconcile: %d instances in Orthanc compared with the stored outcomes, %d queued again", offset, handed)
    return RecoveryCount(offset, handed)


def checkpoint(
    sessions: sessionmaker[Session], client: OrthancClient, orthanc_id: str, page_size: int = PAGE_SIZE
) -> int | None:
    """Store the sequence number of ``orthanc_id``'s NEW_INSTANCE change.

    The plugin asks for this every few hundred instances it queued, naming the last one: Orthanc
    delivers changes to the plugin in order, so every instance changed before it was queued too,
    and the next catch-up need not replay them. Only reads changes, queues nothing.
    """
    with sessions() as session:
        since = stored_change_sequence(session)
    while True:
        page = client.get_json(f"/changes?since={since}&limit={page_size}")
        for change in page.get("Changes") or []:
            if change.get("ChangeType") == NEW_INSTANCE and change.get("ID") == orthanc_id:
                store_change_sequence(sessions, int(change["Seq"]))
                return int(change["Seq"])
        last = int(page.get("Last") or since)
        if page.get("Done", True) or last <= since:
            return None
        since = last
