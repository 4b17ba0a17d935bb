"""Criterion results, section weights and the critical cap: a review recomputes the score.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03

Calls stored before this revision have no criterion results: their reviewed score follows only
section overrides until they are rescored (``callqa score --rescore``).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "criterion_results",
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("criterion", sa.String(200), nullable=False),
        sa.Column("section", sa.String(100), nullable=False),
        sa.Column("status", sa.String(4), nullable=False),
        sa.Column("weight", sa.Float(), nullable=False),
        sa.Column("critical", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["call_id"], ["calls.id"], name=op.f("fk_criterion_results_call_id_calls"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("call_id", "criterion", name=op.f("pk_criterion_results")),
    )
    with op.batch_alter_table("section_scores") as batch:
        batch.add_column(sa.Column("weight", sa.Float(), server_default="1", nullable=False))
    with op.batch_alter_table("calls") as batch:
        batch.add_column(sa.Column("critical_cap", sa.Float(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("calls") as batch:
        batch.drop_column("critical_cap")
    with op.batch_alter_table("section_scores") as batch:
        batch.drop_column("weight")
    op.drop_table("criterion_results")
