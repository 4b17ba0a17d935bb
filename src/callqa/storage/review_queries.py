"""Reads for reviewing (``callqa.services.review``): the review queue's candidates, the reviewed calls'
flags for reviewer-vs-machine agreement, per-agent daily scores for trends.

Every function takes a Session and returns plain frozen data, never ORM rows. Each read is
bounded (a recent window, a limit, or the calls reviewers touched) so that none of them reads
every call of a database of 100,000.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from callqa.records import CallSummary, StoredFlag
from callqa.storage.models import Agent, Call, CriterionResultRow, FlagRow, SegmentRow
from callqa.storage.models import Review as ReviewRow
from callqa.storage.repository import _CALL_COLUMNS, FLAG_COLUMNS, _call_summary, _date_filters, stored_flag

#: ids per ``IN (...)`` list: well under every database's bound-parameter limit
_CHUNK = 500

#: review kinds that mean a reviewer looked at the call (a dispute is the agent's, not a review)
REVIEWING_KINDS = ("accept", "reject", "add_flag", "override", "comment", "resolve_dispute")


@dataclass(frozen=True, slots=True)
class RecentCall:
    """A call in the queue's window: what the queue rules read from the calls table."""

    id: int
    agent: str
    call_date: datetime
    critical_failed: bool
    role_confidence: float
    review_status: str
    score: float


@dataclass(frozen=True, slots=True)
class FuzzyHit:
    """A machine flag found by a match that has a score: a fuzzy phrase match (``how`` "fuzzy",
    score 0-100) or a sentence meaning (``how`` "semantic", cosine similarity, with the
    criterion's ``threshold`` and ``low_confidence`` as the detector judged them)."""

    call_id: int
    criterion: str
    score: float
    how: str = "fuzzy"
    threshold: float | None = None
    low_confidence: bool = False


@dataclass(frozen=True, slots=True)
class DailyScore:
    agent: str
    day: date
    calls: int
    total: float


def _chunks(ids: Iterable[int]) -> Iterable[list[int]]:
    ids = list(ids)
    for lo in range(0, len(ids), _CHUNK):
        yield ids[lo:lo + _CHUNK]


def calls_by_ids(session: Session, ids: Iterable[int]) -> dict[int, CallSummary]:
    """The calls-table rows of these calls, by id (absent ids are left out)."""
    out: dict[int, CallSummary] = {}
    for chunk in _chunks(sorted(set(ids))):
        rows = session.execute(select(*_CALL_COLUMNS).join(Agent, Agent.id == Call.agent_id)
                               .where(Call.id.in_(chunk))).all()
        out.update((r[0], _call_summary(r)) for r in rows)
    return out


def _recent(session: Session, conds: list, limit: int | None) -> list[RecentCall]:
    stmt = (select(Call.id, Agent.name, Call.call_date, Call.critical_failed, Call.role_confidence,
                   Call.review_status, Call.score)
            .join(Agent, Agent.id == Call.agent_id).where(*conds)
            .order_by(Call.call_date.desc(), Call.id.desc()))
    if limit is not None:
        stmt = stmt.limit(limit)
    return [RecentCall(*r) for r in session.execute(stmt)]


def with_flags_to_review(session: Session, call_ids: Iterable[int]) -> set[int]:
    """Those of ``call_ids`` with a flag nobody has accepted or rejected yet."""
    out: set[int] = set()
    for chunk in _chunks(call_ids):
        out.update(session.scalars(select(FlagRow.call_id).distinct()
                                   .where(FlagRow.call_id.in_(chunk), FlagRow.review_status.is_(None))))
    return out


def recent_unreviewed(session: Session, limit: int) -> list[RecentCall]:
    """The ``limit`` newest calls no reviewer has looked at (index: review_status, call_date)."""
    return _recent(session, [Call.review_status == "unreviewed"], limit)


def disputed(session: Session, limit: int = 1000) -> list[RecentCall]:
    """Calls with a dispute a reviewer has not settled, newest first."""
    return _recent(session, [Call.review_status == "disputed"], limit)


def critical_unreviewed(session: Session, limit: int) -> list[RecentCall]:
    """Unreviewed calls that failed a critical criterion, newest first."""
    return _recent(session, [Call.review_status == "unreviewed", Call.critical_failed.is_(True)], limit)


def latest_call_date(session: Session) -> datetime | None:
    return session.scalar(select(func.max(Call.call_date)))


def calls_since(session: Session, since: datetime) -> list[RecentCall]:
    """Every call from ``since`` on (the weekly sample's population), newest first."""
    return _recent(session, [Call.call_date >= since], None)


def fuzzy_hits(session: Session, call_ids: Iterable[int]) -> list[FuzzyHit]:
    """Machine flags of these calls that came from a scored match (``details.how`` "fuzzy" or
    "semantic"), with the match score."""
    out: list[FuzzyHit] = []
    how = FlagRow.details["how"].as_string()
    score = FlagRow.details["score"].as_float()
    threshold = FlagRow.details["threshold"].as_float()
    low = FlagRow.details["low_confidence"].as_boolean()
    for chunk in _chunks(call_ids):
        rows = session.execute(select(FlagRow.call_id, FlagRow.criterion, score, how, threshold, low)
                               .where(FlagRow.call_id.in_(chunk), FlagRow.origin == "machine",
                                      how.in_(("fuzzy", "semantic"))))
        out.extend(FuzzyHit(c, crit, float(s), h, None if t is None else float(t), bool(lo))
                   for c, crit, s, h, t, lo in rows if s is not None)
    return out


def unsure_flags(session: Session, call_ids: Iterable[int], below: float) -> dict[int, tuple[str, float, str, int]]:
    """Per call, its undecided machine flag on the least sure words under ``below`` (criterion,
    confidence, words) and how many such flags it has."""
    out: dict[int, tuple[str, float, str, int]] = {}
    for chunk in _chunks(call_ids):
        rows = session.execute(select(FlagRow.call_id, FlagRow.criterion, FlagRow.confidence, FlagRow.text)
                               .where(FlagRow.call_id.in_(chunk), FlagRow.origin == "machine",
                                      FlagRow.review_status.is_(None), FlagRow.confidence < below)
                               .order_by(FlagRow.call_id, FlagRow.confidence, FlagRow.id))
        for call_id, criterion, confidence, text in rows:
            first = out.get(call_id)
            out[call_id] = (criterion, float(confidence), text, 1) if first is None else (*first[:3], first[3] + 1)
    return out


def word_probabilities(session: Session, call_ids: Iterable[int]) -> dict[int, tuple[float, int]]:
    """Per call, (mean recognition probability of its words, number of words); calls whose
    transcript has no word timings (imported transcripts) are left out."""
    sums: dict[int, list[float]] = {}
    for chunk in _chunks(call_ids):
        rows = session.execute(select(SegmentRow.call_id, SegmentRow.words)
                               .where(SegmentRow.call_id.in_(chunk), SegmentRow.words.is_not(None)))
        for call_id, words in rows:
            acc = sums.setdefault(call_id, [0.0, 0])
            for w in words or ():
                if len(w) >= 4 and w[3] is not None:
                    acc[0] += float(w[3])
                    acc[1] += 1
    return {cid: (total / n, int(n)) for cid, (total, n) in sums.items() if n}


def reviewed_call_ids(session: Session, *, date_from: date | datetime | None = None,
                      date_to: date | datetime | None = None) -> list[int]:
    """Calls (in range) a reviewer has looked at: any review but an agent's dispute."""
    stmt = select(ReviewRow.call_id).where(ReviewRow.kind.in_(REVIEWING_KINDS)).distinct()
    conds = _date_filters(date_from, date_to)
    if conds:
        stmt = stmt.where(ReviewRow.call_id.in_(select(Call.id).where(*conds)))
    return sorted(session.scalars(stmt))


def flags_of(session: Session, call_ids: Iterable[int]) -> list[StoredFlag]:
    """Every flag of these calls (machine and reviewer's, with their review status)."""
    out: list[StoredFlag] = []
    for chunk in _chunks(call_ids):
        rows = session.execute(select(*FLAG_COLUMNS).where(FlagRow.call_id.in_(chunk)))
        out.extend(map(stored_flag, rows))
    return out


def daily_scores(session: Session, since: datetime) -> list[DailyScore]:
    """Per agent and day from ``since`` on: calls and the sum of their final scores (index:
    call_date)."""
    day = func.date(Call.call_date)
    rows = session.execute(select(Agent.name, day, func.count(), func.sum(Call.score))
                           .join(Agent, Agent.id == Call.agent_id)
                           .where(Call.call_date >= since)
                           .group_by(Agent.name, day)).all()
    out = []
    for name, d, n, total in rows:
        if isinstance(d, str):  # SQLite's date() is text
            d = date.fromisoformat(d[:10])
        elif isinstance(d, datetime):
            d = d.date()
        out.append(DailyScore(name, d, int(n), float(total or 0.0)))
    return out


def has_criterion_results(session: Session, call_id: int) -> bool:
    """True when the call's criterion results are stored (schema 0002 on): a review rescores the
    call from them, no rubric needed."""
    return session.scalar(select(CriterionResultRow.call_id).where(CriterionResultRow.call_id == call_id)
                          .limit(1)) is not None


def agent_names(session: Session) -> list[str]:
    return list(session.scalars(select(Agent.name).order_by(Agent.name)))


def weeks_before(moment: datetime, weeks: int) -> datetime:
    """The Monday 00:00 that starts the ``weeks``-th week counting back from ``moment``'s week."""
    monday = (moment - timedelta(days=moment.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
    return monday - timedelta(weeks=weeks - 1)


__all__: Sequence[str] = (
    "DailyScore", "FuzzyHit", "RecentCall", "REVIEWING_KINDS", "agent_names", "calls_by_ids",
    "calls_since", "critical_unreviewed", "daily_scores", "disputed", "flags_of", "fuzzy_hits",
    "latest_call_date", "recent_unreviewed", "reviewed_call_ids", "weeks_before", "word_probabilities",
)
