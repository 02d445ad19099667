"""A new image version starts several containers at once (Orthanc's plugin, N worker containers,
a migrate job), and each brings the dose database up to date at start: the migrations must run
once, the others waiting and then finding nothing to do, on PostgreSQL and on SQLite.

Real processes (not threads): each has its own interpreter, engine and connections, as the
containers have.
"""

from __future__ import annotations

import multiprocessing
import traceback

from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text

from orthanc_rem import database, model

STARTERS = 5


def _start(url: str, barrier, results) -> None:  # type: ignore[no-untyped-def]
    try:
        barrier.wait(60)  # every starter reaches the upgrade at the same moment
        database.upgrade_schema(url)
        results.put("ok")
    except BaseException:  # noqa: BLE001 - the parent reports whatever went wrong
        results.put(traceback.format_exc())


def test_several_starters_at_once_migrate_the_database_once(database_url_unmigrated):
    url = database_url_unmigrated
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(STARTERS)
    results = context.Queue()
    starters = [context.Process(target=_start, args=(url, barrier, results)) for _ in range(STARTERS)]
    for process in starters:
        process.start()
    outcomes = [results.get(timeout=180) for _ in starters]
    for process in starters:
        process.join(30)
    assert outcomes == ["ok"] * STARTERS, "\n".join(o for o in outcomes if o != "ok")

    head = ScriptDirectory.from_config(database.alembic_config(url)).get_current_head()
    engine = database.make_engine(url)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == [head]
        assert set(model.Base.metadata.tables) <= set(inspect(connection).get_table_names())
    engine.dispose()
