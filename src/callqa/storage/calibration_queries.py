"""Reads and writes of blind review and calibration sessions (``callqa.services.calibration``):
blind answers, sessions and their assignments, the calls a sample is drawn from.

Every function takes a Session and returns plain frozen data, never ORM rows; writes are one
transaction each (``db.write_transaction``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from callqa.records import BlindRating, MachineAnswer
from callqa.storage.db import write_transaction
from callqa.storage.models import (
    Agent,
    BlindAnswer,
    CalibrationAssignment,
    CalibrationSession,
    Call,
    CriterionResultRow,
    SectionScore,
)
from callqa.storage.repository import _insert
from callqa.storage.review_queries import _chunks

#: The machine's criterion status read as a blind answer.
MACHINE_ANSWER = {"pass": "yes", "fail": "no", "na": "na"}


@dataclass(frozen=True, slots=True)
class SessionInfo:
    id: int
    name: str
    seed: int | None
    created_at: datetime
    calls: int
    reviewers: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SampleCall:
    """A call a calibration sample may draw: one with criterion results to ask about."""

    id: int
    agent: str
    score: float


@dataclass(frozen=True, slots=True)
class CriterionRow:
    """A criterion stored for a call, with the machine's status and its section's place."""

    criterion: str
    section: str
    section_position: int
    status: str


@dataclass(frozen=True, slots=True)
class Assignment:
    session: str
    call_id: int
    reviewer: str
    done_at: datetime | None


@dataclass(frozen=True, slots=True)
class Progress:
    session: str
    reviewer: str
    done: int
    assigned: int


def sessions(session: Session, name: str | None = None) -> list[SessionInfo]:
    """Calibration sessions (``name``: that one only), oldest first, with their size."""
    stmt = select(CalibrationSession.id, CalibrationSession.name, CalibrationSession.seed,
                  CalibrationSession.created_at).order_by(CalibrationSession.id)
    if name is not None:
        stmt = stmt.where(CalibrationSession.name == name)
    out = []
    for sid, sname, seed, created in session.execute(stmt).all():
        rows = session.execute(select(CalibrationAssignment.call_id, CalibrationAssignment.reviewer)
                               .where(CalibrationAssignment.session_id == sid)).all()
        out.append(SessionInfo(sid, sname, seed, created, len({c for c, _ in rows}),
                               tuple(sorted({r for _, r in rows}))))
    return out


def sample_population(session: Session, agent: str | None = None) -> list[SampleCall]:
    """The calls (``agent``'s only, when given) that have criterion results, in id order."""
    has_results = select(CriterionResultRow.call_id).where(CriterionResultRow.call_id == Call.id).exists()
    stmt = (select(Call.id, Agent.name, Call.score).join(Agent, Agent.id == Call.agent_id)
            .where(has_results).order_by(Call.id))
    if agent is not None:
        stmt = stmt.where(Agent.name == agent)
    return [SampleCall(*r) for r in session.execute(stmt)]


def criterion_statuses(session: Session, call_ids: Iterable[int]) -> dict[int, dict[str, str]]:
    """call id → criterion → the machine's status (pass / fail / na)."""
    out: dict[int, dict[str, str]] = {}
    for chunk in _chunks(call_ids):
        for cid, crit, status in session.execute(
                select(CriterionResultRow.call_id, CriterionResultRow.criterion, CriterionResultRow.status)
                .where(CriterionResultRow.call_id.in_(chunk))):
            out.setdefault(cid, {})[crit] = status
    return out


def call_criteria(session: Session, call_id: int) -> list[CriterionRow]:
    """The criteria stored for a call, by their section's place in the rubric, then id."""
    position = (select(SectionScore.position).where(SectionScore.call_id == CriterionResultRow.call_id,
                                                    SectionScore.section == CriterionResultRow.section)
                .scalar_subquery())
    rows = session.execute(select(CriterionResultRow.criterion, CriterionResultRow.section,
                                  func.coalesce(position, 0), CriterionResultRow.status)
                           .where(CriterionResultRow.call_id == call_id)).all()
    return sorted((CriterionRow(*r) for r in rows), key=lambda r: (r.section_position, r.criterion))


def call_rubric_hash(session: Session, call_id: int) -> str | None:
    return session.scalar(select(Call.rubric_hash).where(Call.id == call_id))


def answers_of(session: Session, call_id: int, reviewer: str) -> dict[str, str]:
    """criterion → the reviewer's stored blind answer on this call."""
    return dict(session.execute(select(BlindAnswer.criterion, BlindAnswer.answer)
                                .where(BlindAnswer.call_id == call_id, BlindAnswer.reviewer == reviewer)).all())


def save_answers(session: Session, call_id: int, reviewer: str, answers: Mapping[str, str], *,
                 rubric_hash: str) -> bool:
    """Store (or replace) the reviewer's answers on this call, in the calibration session the call
    is assigned to them in (the newest one still open, else the newest), and mark that reviewer's
    assignments of the call done once every criterion stored for the call is answered. Returns
    whether the call is done."""
    now = datetime.now(UTC)
    with write_transaction(session):
        assigned = session.execute(
            select(CalibrationAssignment.session_id, CalibrationAssignment.done_at)
            .where(CalibrationAssignment.call_id == call_id, CalibrationAssignment.reviewer == reviewer)
            .order_by(CalibrationAssignment.session_id.desc())).all()
        open_ = [sid for sid, done in assigned if done is None]
        session_id = open_[0] if open_ else assigned[0][0] if assigned else None
        if answers:
            stmt = _insert(session, BlindAnswer.__table__)
            stmt = stmt.on_conflict_do_update(
                index_elements=["call_id", "criterion", "reviewer"],
                set_={k: stmt.excluded[k] for k in ("answer", "rubric_hash", "session_id", "created_at")})
            session.execute(stmt, [{"call_id": call_id, "criterion": c, "reviewer": reviewer, "answer": a,
                                    "rubric_hash": rubric_hash, "session_id": session_id, "created_at": now}
                                   for c, a in answers.items()])
        asked = set(session.scalars(select(CriterionResultRow.criterion)
                                    .where(CriterionResultRow.call_id == call_id)))
        done = asked <= set(answers_of(session, call_id, reviewer))
        if done and open_:
            session.execute(update(CalibrationAssignment)
                            .where(CalibrationAssignment.call_id == call_id,
                                   CalibrationAssignment.reviewer == reviewer,
                                   CalibrationAssignment.done_at.is_(None))
                            .values(done_at=now))
    return done


def create_session(session: Session, name: str, seed: int | None, call_ids: Sequence[int],
                   reviewers: Sequence[str]) -> int:
    """A new calibration session assigning every call to every reviewer; returns its id."""
    with write_transaction(session):
        sid = session.execute(_insert(session, CalibrationSession.__table__)
                              .values(name=name, seed=seed).returning(CalibrationSession.id)).scalar_one()
        session.execute(CalibrationAssignment.__table__.insert(),
                        [{"session_id": sid, "call_id": c, "reviewer": r} for c in call_ids for r in reviewers])
    return sid


def assignments(session: Session, reviewer: str | None = None, session_name: str | None = None
                ) -> list[Assignment]:
    """Assignments (a reviewer's, a session's), by session then call."""
    stmt = (select(CalibrationSession.name, CalibrationAssignment.call_id, CalibrationAssignment.reviewer,
                   CalibrationAssignment.done_at)
            .join(CalibrationSession, CalibrationSession.id == CalibrationAssignment.session_id)
            .order_by(CalibrationSession.id, CalibrationAssignment.call_id, CalibrationAssignment.reviewer))
    if reviewer is not None:
        stmt = stmt.where(CalibrationAssignment.reviewer == reviewer)
    if session_name is not None:
        stmt = stmt.where(CalibrationSession.name == session_name)
    return [Assignment(*r) for r in session.execute(stmt)]


def progress(session: Session, session_name: str | None = None) -> list[Progress]:
    """Per session and reviewer: calls done, calls assigned."""
    done = func.count(CalibrationAssignment.done_at)
    stmt = (select(CalibrationSession.name, CalibrationAssignment.reviewer, done, func.count())
            .join(CalibrationSession, CalibrationSession.id == CalibrationAssignment.session_id)
            .group_by(CalibrationSession.id, CalibrationSession.name, CalibrationAssignment.reviewer)
            .order_by(CalibrationSession.id, CalibrationAssignment.reviewer))
    if session_name is not None:
        stmt = stmt.where(CalibrationSession.name == session_name)
    return [Progress(name, reviewer, int(d), int(n)) for name, reviewer, d, n in session.execute(stmt)]


def blind_ratings(session: Session, *, since: datetime | None = None, rubric_hash: str | None = None,
                  session_id: int | None = None) -> tuple[list[BlindRating], list[MachineAnswer]]:
    """Blind answers (answered from ``since`` on, on ``rubric_hash``, in one session) and the
    machine's answers on the same calls and criteria."""
    stmt = (select(BlindAnswer.call_id, BlindAnswer.criterion, BlindAnswer.reviewer, BlindAnswer.answer,
                   BlindAnswer.rubric_hash, BlindAnswer.created_at, CalibrationSession.name)
            .outerjoin(CalibrationSession, CalibrationSession.id == BlindAnswer.session_id)
            .order_by(BlindAnswer.call_id, BlindAnswer.criterion, BlindAnswer.reviewer))
    if since is not None:
        stmt = stmt.where(BlindAnswer.created_at >= since)
    if rubric_hash is not None:
        stmt = stmt.where(BlindAnswer.rubric_hash == rubric_hash)
    if session_id is not None:
        stmt = stmt.where(BlindAnswer.session_id == session_id)
    answers = [BlindRating(*r) for r in session.execute(stmt)]
    wanted = {(a.call_id, a.criterion) for a in answers}
    machine: list[MachineAnswer] = []
    for chunk in _chunks(sorted({a.call_id for a in answers})):
        for cid, crit, status, rhash in session.execute(
                select(CriterionResultRow.call_id, CriterionResultRow.criterion, CriterionResultRow.status,
                       Call.rubric_hash)
                .join(Call, Call.id == CriterionResultRow.call_id)
                .where(CriterionResultRow.call_id.in_(chunk))
                .order_by(CriterionResultRow.call_id, CriterionResultRow.criterion)):
            if (cid, crit) in wanted:
                machine.append(MachineAnswer(cid, crit, MACHINE_ANSWER.get(status, "na"), rhash))
    return answers, machine


__all__: Sequence[str] = (
    "Assignment", "CriterionRow", "answer_counts", "MACHINE_ANSWER", "Progress", "SampleCall", "SessionInfo", "answers_of",
    "assignments", "blind_ratings", "call_criteria", "call_rubric_hash", "create_session", "criterion_statuses",
    "progress", "sample_population", "save_answers", "sessions",
)


def answer_counts(session: Session, reviewer: str, call_ids: Iterable[int]) -> dict[int, tuple[int, int]]:
    """call id → (criteria the reviewer answered, criteria stored for the call)."""
    ids = list(call_ids)
    out = {cid: (0, 0) for cid in ids}
    for chunk in _chunks(ids):
        asked = dict(session.execute(select(CriterionResultRow.call_id, func.count())
                                     .where(CriterionResultRow.call_id.in_(chunk))
                                     .group_by(CriterionResultRow.call_id)).all())
        answered = dict(session.execute(select(BlindAnswer.call_id, func.count())
                                        .where(BlindAnswer.call_id.in_(chunk), BlindAnswer.reviewer == reviewer)
                                        .group_by(BlindAnswer.call_id)).all())
        out.update((cid, (int(answered.get(cid, 0)), int(asked.get(cid, 0)))) for cid in chunk)
    return out

