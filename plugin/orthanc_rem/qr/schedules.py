"""Saved queries the worker runs on a schedule, replacing the manual's cron and Task Scheduler
scripts ("DX of the date one hour ago, exclude 'imported'", run every hour).

A schedule's dates are relative: each run asks from the date ``look_back_minutes`` ago until
today, which is what the manual's script does with ``date -d "1 hour ago"``, without missing the
last hour of the day.
"""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from orthanc_rem import model
from orthanc_rem.qr import store
from orthanc_rem.qr.options import QueryOptions


def add_schedule(
    session: Session,
    name: str,
    node: model.QrNode,
    options: QueryOptions,
    every_minutes: int,
    look_back_minutes: int,
    retrieve: bool = True,
    created_by: str | None = None,
) -> model.QrSchedule:
    if every_minutes < 1 or look_back_minutes < 1:
        raise ValueError("a schedule runs at least every minute and looks back at least one minute")
    if options.single_date or options.date_from or options.date_until:
        raise ValueError("a schedule's dates are relative (look back): give no dates")
    dated(options, dt.datetime(2000, 1, 1), look_back_minutes).validate()
    schedule = model.QrSchedule(
        name=name,
        node_fk=node.id,
        options=json.dumps(options.to_json()),
        every_minutes=every_minutes,
        look_back_minutes=look_back_minutes,
        retrieve=retrieve,
        enabled=True,
        created_by=created_by,
    )
    session.add(schedule)
    session.flush()
    return schedule


def dated(options: QueryOptions, now: dt.datetime, look_back_minutes: int) -> QueryOptions:
    start = (now - dt.timedelta(minutes=look_back_minutes)).date()
    return QueryOptions(**{**options.__dict__, "date_from": start, "date_until": now.date()})


def due_queries(sessions: sessionmaker[Session], now: dt.datetime) -> list[int]:
    """Create a query for each enabled schedule whose interval has passed; their ids."""
    created = []
    with sessions.begin() as session:
        for schedule in session.scalars(select(model.QrSchedule).where(model.QrSchedule.enabled.is_(True))):
            if schedule.last_run_at and now - schedule.last_run_at < dt.timedelta(minutes=schedule.every_minutes):
                continue
            node = session.get(model.QrNode, schedule.node_fk)
            if node is None:
                continue
            options = dated(QueryOptions.from_json(json.loads(schedule.options)), now, schedule.look_back_minutes)
            query = store.create_query(
                session, node, options, schedule.retrieve, schedule.created_by, schedule_id=schedule.id
            )
            schedule.last_run_at = now
            created.append(query.id)
    return created
