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
        insert_processed_object(connection, "1.2.3", "1.2.3.1")
    database.upgrade_schema(url)
    with engine.connect() as connection:
        row = connection.execute(text("SELECT accession_number, accession_number_hashed FROM study")).one()
    engine.dispose()
    assert tuple(row) == ("ACC1", False)


def insert_processed_object(connection, study_instance_uid: str, sop_instance_uid: str) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import text

    connection.execute(
        text(
            "INSERT INTO processed_object (study_fk, sop_instance_uid, processed_at)"
            " SELECT id, :sop, CURRENT_TIMESTAMP FROM study WHERE study_instance_uid = :study"
        ),
        {"sop": sop_instance_uid, "study": study_instance_uid},
    )


def test_upgrading_removes_the_empty_studies_earlier_versions_left(database_url_unmigrated):
    """A study row with no object and no dose tree (left by the duplicate-UID bug) goes; a study
    with an object stays, and so does its patient."""
    from alembic import command
    from sqlalchemy import text

    url = database_url_unmigrated
    command.upgrade(database.alembic_config(url), "0007")
    engine = database.make_engine(url)
    with engine.begin() as connection:
        for uid in ("1.2.3", "1.2.4"):
            connection.execute(
                text(
                    "INSERT INTO study (study_instance_uid, modality, imported_at, updated_at)"
                    " VALUES (:uid, 'RF', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                ),
                {"uid": uid},
            )
            connection.execute(
                text("INSERT INTO patient (study_fk, sex) SELECT id, 'F' FROM study WHERE study_instance_uid = :uid"),
                {"uid": uid},
            )
        insert_processed_object(connection, "1.2.3", "1.2.3.1")
    database.upgrade_schema(url)
    with engine.connect() as connection:
        studies = connection.execute(text("SELECT study_instance_uid FROM study")).scalars().all()
        patients = connection.execute(text("SELECT count(*) FROM patient")).scalar()
    engine.dispose()
    assert (studies, patients) == (["1.2.3"], 1)


def test_upgrading_keeps_the_file_of_a_size_import_that_has_not_run(database_url_unmigrated):
    """Migration 0022 moves an uploaded size file out of the job's row into its own table."""
    from alembic import command
    from sqlalchemy import text

    from orthanc_rem import size_import_jobs

    url = database_url_unmigrated
    command.upgrade(database.alembic_config(url), "0020")
    content = b"Accession,Height\nACC1,170\n"
    engine = database.make_engine(url)
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO size_import_job (filename, status, height_unit, rows_done, abort_requested,"
                " created_at, csv_content, log) VALUES ('sizes.csv', 'columns', 'cm', 0, false,"
                " CURRENT_TIMESTAMP, :content, '')"
            ),
            {"content": content},
        )
    engine.dispose()
    database.upgrade_schema(url)
    with database.session_factory(url)() as session:
        (job,) = size_import_jobs.list_jobs(session)
        assert job.csv_content == content
        assert size_import_jobs.headers(job) == ("Accession", "Height")
    database.dispose_all()
