"""Scratch databases for tests: a SQLite file per test and, when the server answers, a PostgreSQL
database of its own at 127.0.0.1:5432 (user postgres, trust), dropped afterwards."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from orthanc_rem import database

POSTGRES_ADMIN = dict(host="127.0.0.1", port=5432, user="postgres", dbname="postgres", connect_timeout=3)
_postgres_state: dict[str, bool] = {}


def postgres_available() -> bool:
    if "up" not in _postgres_state:
        try:
            import psycopg2

            psycopg2.connect(**POSTGRES_ADMIN).close()
            _postgres_state["up"] = True
        except Exception:  # noqa: BLE001 - any failure means "not available"
            _postgres_state["up"] = False
    return _postgres_state["up"]


def _admin(sql: str) -> None:
    import psycopg2

    connection = psycopg2.connect(**POSTGRES_ADMIN)
    connection.autocommit = True
    try:
        connection.cursor().execute(sql)
    finally:
        connection.close()


def scratch_postgres_url() -> Iterator[str]:
    if not postgres_available():
        pytest.skip("PostgreSQL is not reachable at 127.0.0.1:5432 (user postgres): PostgreSQL test SKIPPED")
    name = f"orthanc_rem_test_{uuid.uuid4().hex[:12]}"
    _admin(f"CREATE DATABASE \"{name}\" ENCODING 'UTF8' TEMPLATE template0")
    try:
        yield f"postgresql+psycopg2://postgres@127.0.0.1:5432/{name}"
    finally:
        database.dispose_all()
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An empty, migrated dose database; every test using it runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'orthanc-rem.sqlite'}"
        database.upgrade_schema(url)
        yield url
        database.dispose_all()
    else:
        for url in scratch_postgres_url():
            database.upgrade_schema(url)
            yield url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url_unmigrated(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An empty database without any schema, for migration tests."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'empty.sqlite'}"
        database.dispose_all()
    else:
        yield from scratch_postgres_url()


@pytest.fixture
def sessions(database_url: str):  # type: ignore[no-untyped-def]
    return database.session_factory(database_url)


@pytest.fixture
def store(sessions):  # type: ignore[no-untyped-def]
    """Store a dose report as the workers do and return its study's id (the object must be imported
    or replace an earlier one: a test that expects a refusal calls ``persistence`` itself)."""
    from orthanc_rem import persistence

    def store_report(report: object) -> int:
        with sessions() as session:
            result = persistence.store_report(session, report, orthanc_id=f"o-{report.sop_instance_uid}")  # type: ignore[attr-defined]
        assert result.outcome in ("imported", "replaced"), result
        assert result.study_id is not None, result
        return int(result.study_id)

    return store_report
