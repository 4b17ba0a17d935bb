"""Alembic environment: runs on the connection ``callqa.storage.db.migrate`` hands it.

For a developer generating a new revision from the models:

    python -c "from callqa.storage.db import *; from alembic.config import Config; \\
        from alembic import command; c = Config(); \\
        c.set_main_option('script_location', str(MIGRATIONS)); \\
        c.set_main_option('sqlalchemy.url', 'sqlite:///dev.db'); \\
        command.revision(c, 'what changed', autogenerate=True)"

(migrate ``dev.db`` to head first). ``render_as_batch`` makes ALTERs work on SQLite.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from callqa.storage.models import Base

config = context.config
target_metadata = Base.metadata


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url"))
    try:
        with engine.connect() as conn:
            _run(conn)
    finally:
        engine.dispose()


def run_migrations_offline() -> None:
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata,
                      literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
