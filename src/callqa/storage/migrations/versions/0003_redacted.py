"""A per-call marker of redaction: `callqa score --redact` finds calls stored unredacted cheaply.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07

Calls stored before this revision count as not redacted until `callqa redact` (or a rescore
with redaction on) redacts them.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.add_column(sa.Column("redacted", sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.drop_column("redacted")
