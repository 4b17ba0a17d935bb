"""Initial schema: agents, calls, segments, flags, section scores, reviews, errors.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NOW = sa.text("CURRENT_TIMESTAMP")


def _ts(name: str, **kw) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), **kw)


def upgrade() -> None:
    op.create_table(
        "agents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        _ts("created_at", server_default=NOW, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agents")),
        sa.UniqueConstraint("name", name=op.f("uq_agents_name")),
    )
    op.create_table(
        "errors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("file", sa.Text(), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        _ts("created_at", server_default=NOW, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_errors")),
    )
    op.create_index(op.f("ix_errors_created_at"), "errors", ["created_at"])
    op.create_index(op.f("ix_errors_content_hash"), "errors", ["content_hash"])

    op.create_table(
        "calls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        sa.Column("file", sa.Text(), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        _ts("call_date", nullable=False),
        sa.Column("duration", sa.Float(), nullable=False),
        sa.Column("engine", sa.String(100), nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("rubric_id", sa.String(200), nullable=False),
        sa.Column("rubric_version", sa.String(64), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("machine_score", sa.Float(), nullable=False),
        sa.Column("critical_failed", sa.Boolean(), nullable=False),
        sa.Column("roles", sa.String(32), nullable=False),
        sa.Column("role_confidence", sa.Float(), nullable=False),
        sa.Column("negative_flags", sa.Integer(), server_default="0", nullable=False),
        sa.Column("review_status", sa.String(16), server_default="unreviewed", nullable=False),
        _ts("scored_at", server_default=NOW, nullable=False),
        sa.CheckConstraint("review_status IN ('unreviewed', 'reviewed', 'disputed')",
                           name=op.f("ck_calls_review_status")),
        sa.ForeignKeyConstraint(["agent_id"], ["agents.id"], name=op.f("fk_calls_agent_id_agents"),
                                ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calls")),
        sa.UniqueConstraint("content_hash", name=op.f("uq_calls_content_hash")),
    )
    op.create_index(op.f("ix_calls_agent_id_call_date_score"), "calls", ["agent_id", "call_date", "score"])
    op.create_index(op.f("ix_calls_call_date"), "calls", ["call_date"])
    op.create_index(op.f("ix_calls_score"), "calls", ["score"])
    op.create_index(op.f("ix_calls_review_status_call_date"), "calls", ["review_status", "call_date"])

    op.create_table(
        "segments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("idx", sa.Integer(), nullable=False),
        sa.Column("speaker", sa.String(16), nullable=False),
        sa.Column("start_s", sa.Float(), nullable=False),
        sa.Column("end_s", sa.Float(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("words", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(["call_id"], ["calls.id"], name=op.f("fk_segments_call_id_calls"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segments")),
        sa.UniqueConstraint("call_id", "idx", name=op.f("uq_segments_call_id_idx")),
    )

    op.create_table(
        "flags",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("criterion", sa.String(200), nullable=False),
        sa.Column("category", sa.String(100), nullable=False),
        sa.Column("polarity", sa.String(16), nullable=False),
        sa.Column("severity", sa.String(32), nullable=False),
        sa.Column("speaker", sa.String(16), nullable=True),
        sa.Column("start_s", sa.Float(), nullable=True),
        sa.Column("end_s", sa.Float(), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("suggestion", sa.Text(), nullable=True),
        sa.Column("explanation", sa.Text(), nullable=True),
        sa.Column("details", sa.JSON(), nullable=True),
        sa.Column("origin", sa.String(16), server_default="machine", nullable=False),
        sa.Column("review_status", sa.String(16), nullable=True),
        sa.CheckConstraint("origin IN ('machine', 'reviewer')", name=op.f("ck_flags_origin")),
        sa.ForeignKeyConstraint(["call_id"], ["calls.id"], name=op.f("fk_flags_call_id_calls"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flags")),
    )
    op.create_index(op.f("ix_flags_call_id_category"), "flags", ["call_id", "category"])
    op.create_index(op.f("ix_flags_criterion_polarity"), "flags", ["criterion", "polarity"])

    op.create_table(
        "section_scores",
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("section", sa.String(100), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=False),
        _ts("call_date", nullable=False),
        sa.Column("position", sa.Integer(), server_default="0", nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("override", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(["call_id"], ["calls.id"], name=op.f("fk_section_scores_call_id_calls"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["agent_id"], ["agents.id"], name=op.f("fk_section_scores_agent_id_agents"),
                                ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("call_id", "section", name=op.f("pk_section_scores")),
    )
    op.create_index("ix_section_scores_agent_totals", "section_scores",
                    ["agent_id", "section", "call_date", "score", "override", "position"])

    op.create_table(
        "reviews",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("flag_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("section", sa.String(100), nullable=True),
        sa.Column("new_score", sa.Float(), nullable=True),
        sa.Column("call_score", sa.Float(), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("reviewer", sa.String(200), nullable=False),
        _ts("created_at", server_default=NOW, nullable=False),
        sa.CheckConstraint(
            "kind IN ('accept', 'reject', 'add_flag', 'override', 'comment', 'dispute', 'resolve_dispute')",
            name=op.f("ck_reviews_kind")),
        sa.ForeignKeyConstraint(["call_id"], ["calls.id"], name=op.f("fk_reviews_call_id_calls"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["flag_id"], ["flags.id"], name=op.f("fk_reviews_flag_id_flags"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reviews")),
    )
    op.create_index(op.f("ix_reviews_call_id_created_at"), "reviews", ["call_id", "created_at"])
    op.create_index(op.f("ix_reviews_flag_id"), "reviews", ["flag_id"])
    op.create_index(op.f("ix_reviews_reviewer_created_at"), "reviews", ["reviewer", "created_at"])


def downgrade() -> None:
    for table in ("reviews", "section_scores", "flags", "segments", "calls", "errors", "agents"):
        op.drop_table(table)
