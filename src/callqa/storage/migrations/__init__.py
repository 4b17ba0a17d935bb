"""Alembic migrations, run by ``callqa.storage.db.migrate`` (no alembic.ini needed)."""
