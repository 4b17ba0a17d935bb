"""Database tables: SQLAlchemy 2.x models on one DeclarativeBase.

These rows stay inside ``callqa.storage``: repository functions convert them into the frozen
dataclasses of ``callqa.records``. The Alembic migrations in ``migrations/versions``
create exactly these tables (a test compares them).

Conventions:
- Times are ``UTCDateTime``: aware UTC datetimes in Python, naive UTC on SQLite (the form
  ``CURRENT_TIMESTAMP`` writes), ``timestamptz`` on PostgreSQL. Server defaults are
  ``CURRENT_TIMESTAMP``, which both databases understand.
- Seconds within a call are floats named ``start_s`` / ``end_s`` (``end`` is an SQL keyword).
- Scores are 0-100 floats; a NULL section score means "not applicable".
- Some columns repeat what the reviews say (``calls.review_status``, ``calls.negative_flags``,
  ``calls.score``, ``flags.review_status``, ``section_scores.override``) so that the
  calls table pages, filters and sorts over 100,000 calls without joins. The repository
  recomputes them from the reviews after every review and every rescore.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
    func,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

REVIEW_KINDS = ("accept", "reject", "add_flag", "override", "comment", "dispute", "resolve_dispute")
FLAG_ORIGINS = ("machine", "reviewer")
#: calls.review_status: no review yet; reviewed; an agent's dispute waits for a reviewer.
REVIEW_STATUSES = ("unreviewed", "reviewed", "disputed")
#: blind_answers.answer: did the call meet the criterion? (the machine's criterion_results status
#: "pass" / "fail" / "na" reads as "yes" / "no" / "na")
BLIND_ANSWERS = ("yes", "no", "na")


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in Python on both databases (SQLite hands back naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        # a naive datetime is taken as UTC
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Agent(Base):
    __tablename__ = "agents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.current_timestamp())


class Call(Base):
    __tablename__ = "calls"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="RESTRICT"))
    file: Mapped[str] = mapped_column(Text)
    #: sha256 of the recording: one stored call per recording.
    content_hash: Mapped[str] = mapped_column(String(64), unique=True)
    call_date: Mapped[datetime] = mapped_column(UTCDateTime)
    duration: Mapped[float] = mapped_column(Float)
    engine: Mapped[str] = mapped_column(String(100))
    model: Mapped[str] = mapped_column(String(200))
    rubric_id: Mapped[str] = mapped_column(String(200))
    #: ``services.rubric_hash``: a hash of the rubric's content, so any edit rescored (not the
    #: rubric file's ``version:`` field)
    rubric_hash: Mapped[str] = mapped_column(String(64))
    #: the overall score that counts, 0-100: the machine's, or the one a review set
    score: Mapped[float] = mapped_column(Float)
    #: the machine's overall score, kept when a review changes ``score``
    machine_score: Mapped[float] = mapped_column(Float)
    critical_failed: Mapped[bool] = mapped_column(Boolean)
    roles: Mapped[str] = mapped_column(String(32))
    role_confidence: Mapped[float] = mapped_column(Float)
    #: negative flags that no reviewer rejected
    negative_flags: Mapped[int] = mapped_column(Integer, server_default="0")
    review_status: Mapped[str] = mapped_column(String(16), server_default="unreviewed")
    scored_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.current_timestamp())
    #: the rubric's cap on the overall score when a critical item fails (a reviewed score needs it)
    critical_cap: Mapped[float] = mapped_column(Float, server_default="0")
    #: its transcript and flags were stored redacted (``callqa.redact``): `callqa score --redact`
    #: counts the calls without it and `callqa redact` redacts them
    redacted: Mapped[bool] = mapped_column(Boolean, server_default=false())

    __table_args__ = (
        CheckConstraint(_in("review_status", REVIEW_STATUSES), name="review_status"),
        # one agent's calls in a date range, per-agent listing sorted by date, and (covering, with
        # score) the per-agent averages
        Index(None, "agent_id", "call_date", "score"),
        # every agent's calls in a date range; default sort
        Index(None, "call_date"),
        # score ranges and sorting by score
        Index(None, "score"),
        # "not reviewed yet" / "disputed", newest first
        Index(None, "review_status", "call_date"),
        # skip already-scored files (content hash + rubric hash) is served by the unique index
    )


class SegmentRow(Base):
    __tablename__ = "segments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"))
    idx: Mapped[int] = mapped_column(Integer)
    speaker: Mapped[str] = mapped_column(String(16))
    start_s: Mapped[float] = mapped_column(Float)
    end_s: Mapped[float] = mapped_column(Float)
    text: Mapped[str] = mapped_column(Text)
    #: word timings as [[start, end, text, probability], ...]; NULL when the transcript had none
    words: Mapped[list[Any] | None] = mapped_column(JSON)

    __table_args__ = (UniqueConstraint("call_id", "idx"),)


class FlagRow(Base):
    __tablename__ = "flags"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"))
    criterion: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(100))
    polarity: Mapped[str] = mapped_column(String(16))
    severity: Mapped[str] = mapped_column(String(32))
    speaker: Mapped[str | None] = mapped_column(String(16))
    start_s: Mapped[float | None] = mapped_column(Float)
    end_s: Mapped[float | None] = mapped_column(Float)
    text: Mapped[str] = mapped_column(Text)
    message: Mapped[str] = mapped_column(Text)
    suggestion: Mapped[str | None] = mapped_column(Text)
    #: why it matched, in words
    explanation: Mapped[str | None] = mapped_column(Text)
    #: the structured explanation (check type, phrase or pattern, match score, value)
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    #: the lowest probability Whisper gave the flag's words (``Flag.confidence``); NULL: no words
    confidence: Mapped[float | None] = mapped_column(Float)
    origin: Mapped[str] = mapped_column(String(16), server_default="machine")
    #: "accepted" / "rejected" by the latest reviewer decision, NULL when none
    review_status: Mapped[str | None] = mapped_column(String(16))

    __table_args__ = (
        CheckConstraint(_in("origin", FLAG_ORIGINS), name="origin"),
        # a call's flags; calls with a flag of a category (EXISTS per call)
        Index(None, "call_id", "category"),
        # per-criterion statistics (most frequent issues, reviewer agreement)
        Index(None, "criterion", "polarity"),
    )


class SectionScore(Base):
    """One section's score on one call. ``agent_id`` and ``call_date`` repeat the call's (written
    with it, replaced with it) so per-agent section averages read one covering index instead of
    joining 500,000 rows to the calls (0.9 s -> 0.05 s on SQLite at 100,000 calls)."""

    __tablename__ = "section_scores"

    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), primary_key=True)
    section: Mapped[str] = mapped_column(String(100), primary_key=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="RESTRICT"))
    call_date: Mapped[datetime] = mapped_column(UTCDateTime)
    #: the section's place in the rubric, so sections read back in rubric order
    position: Mapped[int] = mapped_column(Integer, server_default="0")
    #: the machine's score; NULL = not applicable to this call
    score: Mapped[float | None] = mapped_column(Float)
    #: the score after reviews: a reviewer's override, else recomputed from the reviewed flags of its
    #: criteria (``callqa.scoring``); NULL when the reviews did not change it
    override: Mapped[float | None] = mapped_column(Float)
    #: the section's weight in the overall score
    weight: Mapped[float] = mapped_column(Float, server_default="1")

    # covering index of agent_summaries (an explicit name: the generated one passes PostgreSQL's 63)
    __table_args__ = (Index("ix_section_scores_agent_totals", "agent_id", "section", "call_date", "score",
                            "override", "position"),)


class CriterionResultRow(Base):
    """How one criterion came out on one call, as the machine scored it: what a review of its
    flags starts from to recompute the section and overall scores by the same formula."""

    __tablename__ = "criterion_results"

    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), primary_key=True)
    criterion: Mapped[str] = mapped_column(String(200), primary_key=True)
    section: Mapped[str] = mapped_column(String(100))
    #: "pass" | "fail" | "na"
    status: Mapped[str] = mapped_column(String(4))
    weight: Mapped[float] = mapped_column(Float)
    critical: Mapped[bool] = mapped_column(Boolean)


class Review(Base):
    __tablename__ = "reviews"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"))
    flag_id: Mapped[int | None] = mapped_column(ForeignKey("flags.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    section: Mapped[str | None] = mapped_column(String(100))
    new_score: Mapped[float | None] = mapped_column(Float)
    #: the call's overall score after this review, when the reviewing code computed one
    call_score: Mapped[float | None] = mapped_column(Float)
    #: reason, comment or dispute text
    text: Mapped[str | None] = mapped_column(Text)
    reviewer: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.current_timestamp())

    __table_args__ = (
        CheckConstraint(_in("kind", REVIEW_KINDS), name="kind"),
        Index(None, "call_id", "created_at"),
        Index(None, "flag_id"),
        # a reviewer's history
        Index(None, "reviewer", "created_at"),
    )


class ErrorRow(Base):
    __tablename__ = "errors"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    file: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str | None] = mapped_column(String(64))
    message: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.current_timestamp())

    __table_args__ = (Index(None, "created_at"), Index(None, "content_hash"))


class ClaimRow(Base):
    """A recording one batch is scoring now (``storage.claims``): another batch skips it. The owner is
    a process: its machine, its id there and when it started (a later process may reuse the id)."""

    __tablename__ = "claims"

    content_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    #: the machine's boot id and the process's start time there: tells a running owner from a
    #: later process that got its id
    started: Mapped[str] = mapped_column(String(64))
    #: set when claimed and renewed as the owner's results come in
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CalibrationSession(Base):
    """A calibration session: a sample of calls that every one of its reviewers answers blind."""

    __tablename__ = "calibration_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    #: the random seed the sample was drawn with, so the same sample can be drawn again
    seed: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.current_timestamp())


class CalibrationAssignment(Base):
    """One call one reviewer is to answer blind in a calibration session."""

    __tablename__ = "calibration_assignments"

    session_id: Mapped[int] = mapped_column(ForeignKey("calibration_sessions.id", ondelete="CASCADE"),
                                            primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"), primary_key=True)
    reviewer: Mapped[str] = mapped_column(String(200), primary_key=True)
    #: when the reviewer finished the call (answered every criterion); NULL while it waits
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    # a reviewer's progress: their assignments, done or not
    __table_args__ = (Index(None, "reviewer", "done_at"),)


class BlindAnswer(Base):
    """A reviewer's own verdict on one criterion of one call, given without seeing the machine's
    (kept apart from the accept/reject ``reviews`` of the machine's flags, which are anchored on
    them). One answer per reviewer, call and criterion: answering again replaces it."""

    __tablename__ = "blind_answers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id", ondelete="CASCADE"))
    criterion: Mapped[str] = mapped_column(String(200))
    reviewer: Mapped[str] = mapped_column(String(200))
    answer: Mapped[str] = mapped_column(String(3))
    #: the call's rubric hash when answered: agreement per rubric version (drift)
    rubric_hash: Mapped[str] = mapped_column(String(64))
    #: the calibration session it was assigned in; NULL for a blind review outside one
    session_id: Mapped[int | None] = mapped_column(ForeignKey("calibration_sessions.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, server_default=func.current_timestamp())

    __table_args__ = (
        CheckConstraint(_in("answer", BLIND_ANSWERS), name="answer"),
        UniqueConstraint("call_id", "criterion", "reviewer"),
        # agreement per criterion over a date range
        Index(None, "criterion", "created_at"),
    )
