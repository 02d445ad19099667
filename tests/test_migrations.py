"""The Alembic migrations build exactly the schema the models describe, on SQLite and PostgreSQL,
and upgrading twice is harmless (the service, its workers and the CLI all upgrade at start)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from orthanc_rem import database
from orthanc_rem.model import Base


def test_migrated_schema_matches_the_models(database_url):
    database.upgrade_schema(database_url)  # a second time: nothing to do, nothing breaks
    engine = database.make_engine(database_url)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    engine.dispose()
    assert differences == []
