"""Alembic environment: runs migrations on the URL handed over by ``database.upgrade_schema``."""

from alembic import context
from sqlalchemy import create_engine

from orthanc_rem.model import Base

config = context.config
url: str = config.attributes.get("engine_url") or config.get_main_option("sqlalchemy.url") or ""


def run_migrations() -> None:
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=Base.metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(url)
    # Several processes may start at once (plugin, workers, CLI): database.upgrade_schema holds
    # database.migration_lock around this, until the migrations below have committed.
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()
    engine.dispose()


run_migrations()
