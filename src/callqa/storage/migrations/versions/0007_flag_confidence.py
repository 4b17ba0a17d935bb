"""How sure the transcript is of a flag's words (issue 18): ``flags.confidence``, the lowest
probability Whisper gave them; NULL for a flag without words, and for every flag stored before this
revision until its call is rescored (the stored rubric hash now carries the score setting
``uncertain-flags-count``, so the next ``callqa score`` rescores them from their transcripts).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-08
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # a plain ADD COLUMN (no batch copy of flags: reviews point at its rows)
    op.add_column("flags", sa.Column("confidence", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("flags") as batch:
        batch.drop_column("confidence")
