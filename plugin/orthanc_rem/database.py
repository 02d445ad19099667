"""Connecting to the dose database and bringing its schema up to date.

SQLite is the embedded default; PostgreSQL is chosen by giving a ``postgresql://`` URL.
SQLite needs care to be safe with several worker processes: WAL journal (readers never block
the writer), a busy timeout (writers queue instead of failing) and ``BEGIN IMMEDIATE`` so that a
transaction takes the write lock at its start instead of failing to upgrade a read lock half way
through (the classic "database is locked" under concurrency).
"""

from __future__ import annotations

import contextlib
import fcntl
import threading
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

MIGRATIONS_DIR = Path(__file__).with_name("migrations")

_engines: dict[tuple[str, bool, bool], Engine] = {}
_session_factories: dict[Engine, sessionmaker[Session]] = {}
_engines_lock = threading.Lock()


def make_engine(url: str, *, writer: bool = True, retried: bool = False) -> Engine:
    """A new engine for ``url`` with the SQLite concurrency settings applied.

    ``writer=False`` is for readers (the dose pages): their transactions start with a plain
    ``BEGIN`` so that a page view never takes, or waits for, SQLite's write lock.

    ``retried=True`` is for callers that retry a transaction failing with ``OperationalError``
    (the workers postpone the object, ``tasks.RetryTask``): their pooled PostgreSQL connections are
    not tested with a round trip to the server before every use. A connection the server dropped
    (PostgreSQL restarted) then fails its next statement, SQLAlchemy discards the pool's
    connections, and the retry connects anew. Everyone else (dose pages, command line) keeps the test.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 60, "check_same_thread": False})
        _configure_sqlite(engine, "BEGIN IMMEDIATE" if writer else "BEGIN")
        return engine
    return create_engine(url, pool_pre_ping=not retried, pool_size=5, max_overflow=5)


def _configure_sqlite(engine: Engine, begin: str) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        # Let SQLAlchemy, not the driver, issue BEGIN (pysqlite's implicit transactions
        # would otherwise start a deferred transaction behind our back).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA busy_timeout=60000")
        # WAL is a property of the file, kept once set. Asking for it again on every connection
        # takes a lock that SQLite may refuse at once, without the busy handler, while another
        # process writes ("database is locked" seen with two workers starting together).
        if cursor.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()
        # Case-insensitive search of any script (SQLite's own lower() knows ASCII only).
        dbapi_connection.create_function("rem_lower", 1, _lower, deterministic=True)

    @event.listens_for(engine, "begin")
    def _on_begin(connection):  # type: ignore[no-untyped-def]
        connection.exec_driver_sql(begin)


def _lower(text: str | None) -> str | None:
    """``rem_lower`` on SQLite, used by ``orthanc_rem.study_filters``."""
    return None if text is None else text.lower()


def engine_for(url: str, *, writer: bool = True, retried: bool = False) -> Engine:
    """One shared engine per URL, role and process (engines own connection pools)."""
    key = (url, writer, retried)
    with _engines_lock:
        engine = _engines.get(key)
        if engine is None:
            engine = _engines[key] = make_engine(url, writer=writer, retried=retried)
        return engine


def session_factory(url: str, *, writer: bool = True, retried: bool = False) -> sessionmaker[Session]:
    """Sessions on the shared engine; ``retried`` as in ``make_engine``.

    One sessionmaker per engine, reused: each new one makes a Session subclass whose first session
    sets up SQLAlchemy's event dispatch for it, 0.15-0.2 ms of CPU, which a worker calling this for
    every object paid every time.
    """
    engine = engine_for(url, writer=writer, retried=retried)
    with _engines_lock:
        factory = _session_factories.get(engine)
        if factory is None:
            factory = _session_factories[engine] = sessionmaker(engine, expire_on_commit=False)
        return factory


#: PostgreSQL advisory lock key held while the schema is upgraded (any constant of our own).
MIGRATION_LOCK_KEY = 727001


def upgrade_schema(url: str) -> None:
    """Apply every Alembic migration not yet applied to the database at ``url``.

    Orthanc's plugin, every worker (container) and ``orthanc-rem migrate`` call this at start, and
    a new image version starts them all at once: under the lock one of them migrates, the others
    wait, then find the schema at head and do nothing. Without it two starters both found an
    empty database and the second failed on "table alembic_version already exists".
    """
    from alembic import command

    with migration_lock(url):
        command.upgrade(alembic_config(url), "head")
        _fill_study_totals(url)


def _fill_study_totals(url: str) -> None:
    """Totals of studies stored before migration 0010 (computed by the application's own code)."""
    from orthanc_rem import study_totals

    engine = make_engine(url)
    try:
        with Session(engine) as session:
            study_totals.fill_missing(session)
    finally:
        engine.dispose()


@contextlib.contextmanager
def migration_lock(url: str) -> Iterator[None]:
    """Held by one process at a time per database: on PostgreSQL a session advisory lock, taken
    on a connection of its own and held until the migrations have committed (released if the
    process dies); on SQLite an exclusive ``flock`` on a file next to the database (the same
    machine is a given for SQLite)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if not parsed.database or parsed.database == ":memory:":
            yield
            return
        lock_path = Path(parsed.database).with_name(Path(parsed.database).name + ".migration-lock")
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        with open(lock_path, "a") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock_file, fcntl.LOCK_UN)
        return
    if parsed.get_backend_name() != "postgresql":
        yield
        return
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql(f"SELECT pg_advisory_lock({MIGRATION_LOCK_KEY})")
            connection.commit()  # no transaction stays open while the migrations run
            try:
                yield
            finally:
                connection.exec_driver_sql(f"SELECT pg_advisory_unlock({MIGRATION_LOCK_KEY})")
                connection.commit()
    finally:
        engine.dispose()


def alembic_config(url: str):  # type: ignore[no-untyped-def]
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.attributes["engine_url"] = url
    return config


def describe(url: str) -> str:
    """The URL with its password masked, for logs and messages."""
    return make_url(url).render_as_string(hide_password=True)


def dispose_all() -> None:
    """Close pooled connections, e.g. after a fork."""
    with _engines_lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()
        _session_factories.clear()
