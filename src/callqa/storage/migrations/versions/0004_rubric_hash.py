"""``calls.rubric_version`` is renamed ``rubric_hash``: it holds the rubric's content hash, not the
rubric file's ``version:`` field.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07

A plain ``op.alter_column`` (``ALTER TABLE calls RENAME COLUMN``: SQLite 3.25+, PostgreSQL), not
a batch operation: on SQLite a batch rename copies ``calls`` into a new table and drops the old one, and
with ``foreign_keys=ON`` (every connection, ``storage.db``; it cannot be switched off inside the
migration's transaction) dropping ``calls`` deletes every segment, flag, review and section score
of every call through ``ON DELETE CASCADE``. Renaming in place keeps the rows, the indexes and the
foreign keys as they are.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.alter_column("calls", "rubric_version", new_column_name="rubric_hash",
                    existing_type=sa.String(64), existing_nullable=False)


def downgrade() -> None:
    op.alter_column("calls", "rubric_hash", new_column_name="rubric_version",
                    existing_type=sa.String(64), existing_nullable=False)
