"""Reads for the coaching reports (``callqa.reports``): one agent's calls and standing flags, the
team's figures to compare with, and the few transcript turns a report quotes.

Every function takes a Session and returns plain frozen data, never ORM rows. "Standing" flags
are the ones no reviewer rejected (reviewer-added flags included); "heard" flags are the standing
ones whose words the transcript is sure of (``Flag.uncertain`` false) or a reviewer accepted: only
they are counted, the rest are listed apart (``unsure_flags``); words are quoted as the agent's own
only from surer flags still (``Flag.quotable``); scores are the ones that count
(a review's call score, a section override). Date filters behave as in ``list_calls``:
``date_from`` inclusive, ``date_to`` inclusive for a date (the whole day), exclusive for a
datetime.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, case, distinct, exists, func, or_, select
from sqlalchemy.orm import Session

from callqa.records import QUOTABLE_FROM, UNCERTAIN_BELOW, StoredFlag
from callqa.storage.models import Agent, Call, FlagRow, SectionScore, SegmentRow
from callqa.storage.models import Review as ReviewRow
from callqa.storage.repository import FLAG_COLUMNS, _date_filters, named_agents, stored_flag

DateLike = date | datetime | None


@dataclass(frozen=True, slots=True)
class ReportCall:
    id: int
    agent_id: int
    file: str
    call_date: datetime
    duration: float
    #: the overall score that counts (a review's, else the machine's)
    score: float
    critical_failed: bool
    review_status: str
    #: negative flags no reviewer rejected
    negative_flags: int


@dataclass(frozen=True, slots=True)
class CriterionCount:
    """How often one criterion stands against the agent."""

    criterion: str
    #: distinct calls with a standing negative flag of it
    calls: int
    flags: int
    severity: str
    message: str
    suggestion: str | None


@dataclass(frozen=True, slots=True)
class PhraseTally:
    #: the words as flagged (one spelling of them); grouped case-insensitively
    phrase: str
    count: int
    calls: int
    #: the criterion that flagged them most often
    criterion: str


@dataclass(frozen=True, slots=True)
class SectionAverage:
    section: str
    position: int
    #: average of the final scores (override over machine) over the calls where it applied
    score: float | None
    #: calls where the section applied
    calls: int


@dataclass(frozen=True, slots=True)
class Turn:
    call_id: int
    speaker: str
    start: float
    end: float
    text: str
    #: the lowest probability of its words (``Flag.confidence`` of a quote of the whole turn);
    #: None without words
    confidence: float | None = None
    #: each word's probability, in order (empty without words)
    probabilities: tuple[float, ...] = ()


@dataclass(frozen=True, slots=True)
class ReviewCounts:
    rejected_flags: int = 0
    added_flags: int = 0
    section_overrides: int = 0
    score_changes: int = 0
    reviewed_calls: int = 0


def _standing() -> ColumnElement[bool]:
    return or_(FlagRow.review_status.is_(None), FlagRow.review_status != "rejected")


def _heard(floor: float = UNCERTAIN_BELOW) -> ColumnElement[bool]:
    """Standing, and its least sure word is at least ``floor`` (or it has none), or a reviewer
    accepted it: counted (``UNCERTAIN_BELOW``), or quoted as said (``QUOTABLE_FROM``)."""
    return and_(_standing(), or_(FlagRow.confidence.is_(None), FlagRow.confidence >= floor,
                                 FlagRow.review_status == "accepted"))


def _agent_calls(agent_id: int, date_from: DateLike, date_to: DateLike) -> Any:
    return select(Call.id).where(Call.agent_id == agent_id, *_date_filters(date_from, date_to))


def agent_id(session: Session, name: str) -> int | None:
    return session.scalar(select(Agent.id).where(Agent.name == name))


def agents_with_calls(session: Session, *, date_from: DateLike = None, date_to: DateLike = None) -> list[str]:
    """Names of the agents with at least one stored call (in range), sorted."""
    have = select(Call.agent_id).where(*_date_filters(date_from, date_to), named_agents()).distinct()
    return list(session.scalars(select(Agent.name).where(Agent.id.in_(have)).order_by(Agent.name)))


def count_unassigned(session: Session, *, date_from: DateLike = None, date_to: DateLike = None) -> int:
    """Calls in range with no agent named (``unassigned``)."""
    return int(session.scalar(select(func.count()).select_from(Call)
                              .where(*_date_filters(date_from, date_to), ~named_agents())) or 0)


def calls(session: Session, *, agent_id: int | None = None, date_from: DateLike = None,
          date_to: DateLike = None) -> list[ReportCall]:
    """Calls in range (one agent's, or the team's: every named agent's), oldest first."""
    conds = _date_filters(date_from, date_to)
    conds.append(named_agents() if agent_id is None else Call.agent_id == agent_id)
    rows = session.connection().execute(
        select(Call.id, Call.agent_id, Call.file, Call.call_date, Call.duration, Call.score, Call.critical_failed,
               Call.review_status, Call.negative_flags)
        .where(*conds).order_by(Call.call_date, Call.id)).all()
    return [ReportCall(*r) for r in rows]


def section_averages(session: Session, *, agent_id: int | None = None, date_from: DateLike = None,
                     date_to: DateLike = None) -> list[SectionAverage]:
    """Per section, the average final score (one agent's, or the team's), in rubric order."""
    final = func.coalesce(SectionScore.override, SectionScore.score)
    conds = _date_filters(date_from, date_to, SectionScore.call_date)
    conds.append(named_agents(SectionScore.agent_id) if agent_id is None else SectionScore.agent_id == agent_id)
    rows = session.execute(select(SectionScore.section, func.min(SectionScore.position), func.avg(final),
                                  func.count(final))
                           .where(*conds).group_by(SectionScore.section)
                           .order_by(func.min(SectionScore.position), SectionScore.section)).all()
    return [SectionAverage(s, int(p or 0), None if a is None else float(a), int(n)) for s, p, a, n in rows]


def standing_flags(session: Session, agent_id: int, *, date_from: DateLike = None,
                   date_to: DateLike = None) -> list[StoredFlag]:
    """The flags of the agent's calls in range that no reviewer rejected, by call and time."""
    rows = session.connection().execute(
        select(*FLAG_COLUMNS)
        .where(FlagRow.call_id.in_(_agent_calls(agent_id, date_from, date_to)), _standing())
        .order_by(FlagRow.call_id, FlagRow.start_s, FlagRow.id)).all()
    return [stored_flag(r) for r in rows]


def negative_counts(session: Session, agent_id: int, *, date_from: DateLike = None,
                    date_to: DateLike = None) -> list[CriterionCount]:
    """Per criterion, the agent's calls in range with a standing negative flag of it (one query)."""
    rows = session.connection().execute(
        select(FlagRow.criterion, func.count(distinct(FlagRow.call_id)), func.count(), func.max(FlagRow.severity),
               func.max(FlagRow.message), func.max(FlagRow.suggestion))
        .where(FlagRow.call_id.in_(_agent_calls(agent_id, date_from, date_to)), FlagRow.polarity == "negative",
               _heard())
        .group_by(FlagRow.criterion)).all()
    return [CriterionCount(c, int(n), int(k), sev, msg or "", sug) for c, n, k, sev, msg, sug in rows]


def criterion_flags(session: Session, agent_id: int, criterion: str, *, polarity: str = "negative",
                    date_from: DateLike = None, date_to: DateLike = None, limit: int = 60) -> list[StoredFlag]:
    """The agent's standing flags of one criterion: those with words first, then newest first."""
    rows = session.connection().execute(
        select(*FLAG_COLUMNS).join(Call, Call.id == FlagRow.call_id)
        .where(Call.agent_id == agent_id, *_date_filters(date_from, date_to), FlagRow.criterion == criterion,
               FlagRow.polarity == polarity, _heard())
        .order_by(case((FlagRow.text == "", 1), else_=0), Call.call_date.desc(), Call.id.desc(),
                  FlagRow.start_s.desc(), FlagRow.id)
        .limit(limit)).all()
    return [stored_flag(r) for r in rows]


def newest_calls_with(session: Session, agent_id: int, criterion: str, *, date_from: DateLike = None,
                      date_to: DateLike = None, limit: int = 6) -> list[int]:
    """Ids of the agent's newest calls with a standing negative flag of ``criterion``."""
    has = exists().where(FlagRow.call_id == Call.id, FlagRow.criterion == criterion,
                         FlagRow.polarity == "negative", _heard())
    return list(session.scalars(select(Call.id).where(Call.agent_id == agent_id, *_date_filters(date_from, date_to),
                                                      has)
                                .order_by(Call.call_date.desc(), Call.id.desc()).limit(limit)))


def phrase_tallies(session: Session, agent_id: int, *, date_from: DateLike = None, date_to: DateLike = None,
                   limit: int = 8) -> list[PhraseTally]:
    """The agent's most frequent flagged words (standing negative flags on the agent's own turns),
    grouped case-insensitively; two aggregate queries."""
    key = func.lower(func.trim(FlagRow.text))
    conds = (FlagRow.call_id.in_(_agent_calls(agent_id, date_from, date_to)), FlagRow.polarity == "negative",
             FlagRow.speaker == "agent", FlagRow.text != "", _heard(QUOTABLE_FROM))
    conn = session.connection()
    n_calls = func.count(distinct(FlagRow.call_id))
    top = conn.execute(select(key, func.min(func.trim(FlagRow.text)), func.count(), n_calls)
                       .where(*conds).group_by(key).order_by(func.count().desc(), n_calls.desc(), key)
                       .limit(limit)).all()
    if not top:
        return []
    by = conn.execute(select(key, FlagRow.criterion, func.count()).where(*conds, key.in_([t[0] for t in top]))
                      .group_by(key, FlagRow.criterion)).all()
    best: dict[str, tuple[int, str]] = {}
    for k, crit, n in by:
        if k not in best or (n, crit) > best[k]:
            best[k] = (n, crit)
    return [PhraseTally(shown, int(n), int(calls), best[k][1]) for k, shown, n, calls in top]


def best_positive_flags(session: Session, agent_id: int, *, date_from: DateLike = None,
                        date_to: DateLike = None) -> list[StoredFlag]:
    """Per criterion, the agent's best example of good behaviour: the standing positive flag on the
    agent's own words with the most words, newest first on ties."""
    rank = func.row_number().over(partition_by=FlagRow.criterion,
                                  order_by=(func.length(FlagRow.text).desc(), Call.call_date.desc(),
                                            FlagRow.id.desc())).label("rank")
    ranked = (select(*FLAG_COLUMNS, rank).join(Call, Call.id == FlagRow.call_id)
              .where(Call.agent_id == agent_id, *_date_filters(date_from, date_to), FlagRow.polarity == "positive",
                     FlagRow.speaker == "agent", FlagRow.text != "", _heard(QUOTABLE_FROM))
              .subquery())
    rows = session.connection().execute(select(*[c for c in ranked.c if c.name != "rank"])
                                        .where(ranked.c.rank == 1)).all()
    return [stored_flag(r) for r in rows]


def unsure_flags(session: Session, agent_id: int, *, date_from: DateLike = None,
                 date_to: DateLike = None, limit: int = 20) -> list[StoredFlag]:
    """The agent's standing flags on words the transcript is unsure of that no reviewer accepted
    (not quoted as said: listed apart, to check against the recording), newest call first."""
    rows = session.connection().execute(
        select(*FLAG_COLUMNS).join(Call, Call.id == FlagRow.call_id)
        .where(Call.agent_id == agent_id, *_date_filters(date_from, date_to), _standing(),
               FlagRow.confidence < UNCERTAIN_BELOW,
               or_(FlagRow.review_status.is_(None), FlagRow.review_status != "accepted"))
        .order_by(Call.call_date.desc(), Call.id.desc(), FlagRow.start_s, FlagRow.id)
        .limit(limit)).all()
    return [stored_flag(r) for r in rows]


def failing_calls_by_criterion(session: Session, *, date_from: DateLike = None,
                               date_to: DateLike = None) -> dict[str, int]:
    """Team-wide: for each criterion, how many calls in range have a standing negative flag of it."""
    rows = session.execute(
        select(FlagRow.criterion, func.count(distinct(FlagRow.call_id)))
        .join(Call, Call.id == FlagRow.call_id)
        .where(FlagRow.polarity == "negative", _heard(), *_date_filters(date_from, date_to), named_agents())
        .group_by(FlagRow.criterion)).all()
    return {c: int(n) for c, n in rows}


def turns(session: Session, call_ids: Iterable[int]) -> dict[int, list[Turn]]:
    """The transcript turns of a few calls (the ones a report quotes), in order."""
    ids = sorted(set(call_ids))
    out: dict[int, list[Turn]] = {i: [] for i in ids}
    for lo in range(0, len(ids), 500):
        rows = session.execute(select(SegmentRow.call_id, SegmentRow.speaker, SegmentRow.start_s, SegmentRow.end_s,
                                      SegmentRow.text, SegmentRow.words)
                               .where(SegmentRow.call_id.in_(ids[lo:lo + 500]))
                               .order_by(SegmentRow.call_id, SegmentRow.idx)).all()
        for *r, words in rows:
            probs = tuple(float(w[3]) if len(w) >= 4 and w[3] is not None else 1.0 for w in words or ())
            out[r[0]].append(Turn(*r, min(probs, default=None), probs))
    return out


def segment_timings(session: Session, *, date_from: DateLike = None, date_to: DateLike = None,
                    agent_id: int | None = None) -> Iterator[tuple[int, list[tuple[str, float, float]]]]:
    """Per call in range (one agent's, or the team's): (call id, [(speaker, start, end), ...] in
    transcript order), streamed."""
    conds = _date_filters(date_from, date_to)
    conds.append(named_agents() if agent_id is None else Call.agent_id == agent_id)
    wanted = select(Call.id).where(*conds)
    result = session.connection().execute(
        select(SegmentRow.call_id, SegmentRow.speaker, SegmentRow.start_s, SegmentRow.end_s)
        .where(SegmentRow.call_id.in_(wanted)).order_by(SegmentRow.call_id, SegmentRow.idx)
        .execution_options(yield_per=20_000))
    current: int | None = None
    spans: list[tuple[str, float, float]] = []
    for call_id, speaker, start, end in result:
        if call_id != current:
            if current is not None:
                yield current, spans
            current, spans = call_id, []
        spans.append((speaker, start, end))
    if current is not None:
        yield current, spans


def review_counts(session: Session, agent_id: int, *, date_from: DateLike = None,
                  date_to: DateLike = None) -> ReviewCounts:
    """What reviewers changed on the agent's calls in range (counted into the report)."""
    mine = _agent_calls(agent_id, date_from, date_to)
    rejected = session.scalar(select(func.count()).select_from(FlagRow)
                              .where(FlagRow.call_id.in_(mine), FlagRow.review_status == "rejected"))
    added = session.scalar(select(func.count()).select_from(FlagRow)
                           .where(FlagRow.call_id.in_(mine), FlagRow.origin == "reviewer", _standing()))
    overridden = select(ReviewRow.call_id, ReviewRow.section).where(
        ReviewRow.call_id.in_(mine), ReviewRow.kind == "override").distinct().subquery()
    overrides = session.scalar(select(func.count()).select_from(overridden))
    changed = session.scalar(select(func.count()).select_from(Call)
                             .where(Call.id.in_(mine), Call.score != Call.machine_score))
    reviewed = session.scalar(select(func.count(distinct(ReviewRow.call_id))).where(ReviewRow.call_id.in_(mine)))
    return ReviewCounts(int(rejected or 0), int(added or 0), int(overrides or 0), int(changed or 0),
                        int(reviewed or 0))


__all__: Sequence[str] = (
    "CriterionCount", "PhraseTally", "ReportCall", "ReviewCounts", "SectionAverage", "Turn",
    "agent_id", "agents_with_calls", "best_positive_flags", "calls", "criterion_flags", "failing_calls_by_criterion",
    "negative_counts", "newest_calls_with", "phrase_tallies", "review_counts", "section_averages",
    "segment_timings", "standing_flags", "turns", "unsure_flags",
)
