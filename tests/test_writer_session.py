"""Views write through ``db.writer_session``: the request's read transaction ends first, the write
commits when the view's block ends and rolls back when it raises.

On SQLite the test clients' read session takes the write lock (``BEGIN IMMEDIATE``): a view that
had read before writing made its writer wait for its own request until the busy timeout ("database
is locked" after a minute). The busy timeout is cut to a fraction of a second here so that the
self-wait, should it come back, fails the test quickly instead of hanging it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.engine import make_url

from orthanc_rem import database, model, users
from orthanc_rem.config import Settings
from orthanc_rem.qr import store
from orthanc_rem_web.db import dose_session
from web_clients import browser_app, client_with_groups

#: Milliseconds a writer waits for SQLite's lock before "database is locked" in these tests.
SHORT_BUSY_TIMEOUT_MS = 300


@pytest.fixture
def short_busy_timeout(database_url: str) -> Iterator[None]:
    """New connections of the shared engine wait a fraction of a second for a lock (SQLite only)."""
    if make_url(database_url).get_backend_name() != "sqlite":
        yield
        return
    engine = database.engine_for(database_url)

    def _short(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute(f"PRAGMA busy_timeout={SHORT_BUSY_TIMEOUT_MS}")

    event.listen(engine, "connect", _short)
    engine.dispose()
    try:
        yield
    finally:
        event.remove(engine, "connect", _short)
        engine.dispose()


@pytest.fixture
def client(tmp_path: Path, database_url: str, sessions: Any, short_busy_timeout: None) -> Any:
    queue_url = f"sqlite:///{tmp_path / 'queue.sqlite'}"
    settings = Settings(data_dir=tmp_path, database_url=database_url, queue_url=queue_url)
    app = browser_app(settings, sessions)

    @app.before_request
    def read_first() -> None:
        """What a view does before it writes (find the row, check who may change it): the
        request's read session starts its transaction."""
        if app.config.get("READ_FIRST"):
            dose_session().scalar(select(func.count()).select_from(model.QrNode))

    client = client_with_groups(settings, sessions, users.GROUPS, app=app)
    app.config["READ_FIRST"] = True  # after the login, which writes too
    return client


def _nodes(sessions: Any) -> list[str]:
    with sessions() as session:
        return [node.name for node in store.nodes(session)]


def test_a_view_writes_after_its_request_has_read(client, sessions):
    added = client.post("/qr/nodes", data={"name": "pacs", "aet": "PACSAET01", "host": "10.0.0.5", "port": "104"})
    assert added.status_code == 303, added.get_data(as_text=True)
    assert _nodes(sessions) == ["pacs"]


def test_an_export_starts_after_its_request_has_read(client, sessions):
    started = client.post("/exports/start/ct/csv")
    assert started.status_code == 302, started.get_data(as_text=True)
    with sessions() as session:
        (job,) = session.scalars(select(model.ExportJob))
        assert job.status == "failed"  # nothing to export in an empty database, and it says so
        assert "zero studies" in (job.error or "")


def test_a_refused_change_writes_nothing(client, sessions):
    """The view raises inside the block (the node is invalid): nothing of it is committed."""
    refused = client.post("/qr/nodes", data={"name": "bad", "aet": "A" * 17, "host": "h", "port": "104"})
    assert refused.status_code == 400
    assert _nodes(sessions) == []
