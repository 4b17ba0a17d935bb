"""Blind review and calibration sessions (issue 19): ``blind_answers``, ``calibration_sessions``,
``calibration_assignments``.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-08
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "calibration_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.current_timestamp(),
                  nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calibration_sessions")),
        sa.UniqueConstraint("name", name=op.f("uq_calibration_sessions_name")),
    )
    op.create_table(
        "calibration_assignments",
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("reviewer", sa.String(200), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["session_id"], ["calibration_sessions.id"], ondelete="CASCADE",
                                name=op.f("fk_calibration_assignments_session_id_calibration_sessions")),
        sa.ForeignKeyConstraint(["call_id"], ["calls.id"], ondelete="CASCADE",
                                name=op.f("fk_calibration_assignments_call_id_calls")),
        sa.PrimaryKeyConstraint("session_id", "call_id", "reviewer", name=op.f("pk_calibration_assignments")),
    )
    op.create_index(op.f("ix_calibration_assignments_reviewer_done_at"), "calibration_assignments",
                    ["reviewer", "done_at"])
    op.create_table(
        "blind_answers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("criterion", sa.String(200), nullable=False),
        sa.Column("reviewer", sa.String(200), nullable=False),
        sa.Column("answer", sa.String(3), nullable=False),
        sa.Column("rubric_hash", sa.String(64), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.current_timestamp(),
                  nullable=False),
        sa.CheckConstraint("answer IN ('yes', 'no', 'na')", name=op.f("ck_blind_answers_answer")),
        sa.ForeignKeyConstraint(["call_id"], ["calls.id"], ondelete="CASCADE",
                                name=op.f("fk_blind_answers_call_id_calls")),
        sa.ForeignKeyConstraint(["session_id"], ["calibration_sessions.id"], ondelete="SET NULL",
                                name=op.f("fk_blind_answers_session_id_calibration_sessions")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_blind_answers")),
        sa.UniqueConstraint("call_id", "criterion", "reviewer", name=op.f("uq_blind_answers_call_id_criterion_reviewer")),
    )
    op.create_index(op.f("ix_blind_answers_criterion_created_at"), "blind_answers", ["criterion", "created_at"])


def downgrade() -> None:
    op.drop_table("blind_answers")
    op.drop_table("calibration_assignments")
    op.drop_table("calibration_sessions")
