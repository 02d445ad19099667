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


def test_upgrading_keeps_the_studies_already_stored(database_url_unmigrated):
    """A database made by an older version gets the new columns with their defaults, rows intact."""
    from alembic import command
    from sqlalchemy import text

    url = database_url_unmigrated
    command.upgrade(database.alembic_config(url), "0002")
    engine = database.make_engine(url)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO study (study_instance_uid, modality, accession_number, imported_at, updated_at)"
                " VALUES ('1.2.3', 'CT', 'ACC1', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
            )
        )
    database.upgrade_schema(url)
    with engine.connect() as connection:
        row = connection.execute(text("SELECT accession_number, accession_number_hashed FROM study")).one()
    engine.dispose()
    assert tuple(row) == ("ACC1", False)
