"""Repository: read and write stored calls; every function takes a Session and returns domain
objects (``callqa.records``), never ORM rows.

Writes (``save_scored_call``, ``save_scored_calls``, ``add_review``, ``record_error``) are each one
transaction of their own (``db.write_transaction``): they commit what the session held, write, and
commit. A batch builds each call's rows in its workers (``call_rows``) and writes many calls per
transaction (``save_scored_calls``).

Rules a user would notice:

- One stored call per recording (content hash). Saving a call whose hash is stored replaces it
  in place (same call id): its segments, section scores and machine flags are replaced, its
  overall score becomes the new machine score. Reviews are kept, except accept / reject / dispute
  reviews of a machine flag that the new scoring no longer produces (same criterion, speaker,
  start and end); those that still match move to the new flag. Flags a reviewer added stay.
  Section overrides are re-applied from the kept reviews.
- Scores that count: ``calls.score`` (the machine's, or the ``call_score`` a review set; the
  machine's own stays in ``machine_score``) and, per section, a reviewer's override over the
  machine's score. Agent averages and score filters use these.
- Review status of a call: "disputed" while a dispute is not resolved, else "reviewed" once any
  review exists, else "unreviewed".
"""

from __future__ import annotations

import dataclasses
import json
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    bindparam,
    delete,
    exists,
    func,
    literal,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy.orm import Session

from callqa.storage.db import StorageError, write_transaction
from callqa.records import (
    AgentSummary,
    CallSummary,
    Flag,
    Review,
    ScoreLike,
    SectionResult,
    StoredCall,
    StoredError,
    UNASSIGNED,
    StoredFlag,
)
from callqa.storage.models import (
    REVIEW_KINDS,
    Agent,
    Call,
    CriterionResultRow,
    ErrorRow,
    FlagRow,
    SectionScore,
    SegmentRow,
)
from callqa.storage.models import Review as ReviewRow
from callqa.transcript import Segment, Transcript, Word


class ReviewError(StorageError):
    """A review that cannot be stored (unknown call or flag, missing score or text)."""


# --------------------------------------------------------------------------- helpers

def _insert(session: Session, table: Any) -> Any:
    """INSERT with ON CONFLICT support for the session's database."""
    name = session.get_bind().dialect.name
    if name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:  # pragma: no cover - only SQLite and PostgreSQL are supported
        raise StorageError(f"unsupported database: {name} (use SQLite or PostgreSQL)")
    return insert(table)


def _as_datetime(value: date | datetime) -> datetime:
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return datetime.combine(value, time(), tzinfo=UTC)


def _jsonable(value: Any) -> Any:
    """Plain JSON data (numpy numbers and other odd values become numbers or strings)."""
    if value is None:
        return None
    if hasattr(value, "to_dict"):
        value = value.to_dict()
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    return json.loads(json.dumps(value, default=_plain))


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    for convert in (float, str):
        try:
            return convert(value)
        except (TypeError, ValueError):
            continue
    return repr(value)  # pragma: no cover


def _flag_values(call_id: int, flag: Flag, origin: str) -> dict[str, Any]:
    return {
        "call_id": call_id,
        "criterion": flag.criterion,
        "category": flag.category,
        "polarity": flag.polarity,
        "severity": str(flag.severity),
        "speaker": flag.speaker,
        "start_s": flag.start,
        "end_s": flag.end,
        "text": flag.text or "",
        "message": flag.message or "",
        "suggestion": flag.suggestion,
        "explanation": flag.explanation,
        "details": _jsonable(flag.details) or None,
        "confidence": flag.confidence,
        "origin": origin,
    }


def _flag_key(criterion: str, speaker: str | None, start: float | None, end: float | None) -> tuple:
    return (criterion, speaker, None if start is None else round(start, 3),
            None if end is None else round(end, 3))


_CALL_COLUMNS = (Call.id, Agent.name, Call.file, Call.content_hash, Call.call_date, Call.duration,
                 Call.engine, Call.model, Call.rubric_id, Call.rubric_hash, Call.score,
                 Call.machine_score, Call.critical_failed, Call.roles, Call.role_confidence,
                 Call.negative_flags, Call.review_status, Call.scored_at)


def _call_summary(row: Any) -> CallSummary:
    return CallSummary(*row)


#: The columns a ``StoredFlag`` is read from (``select(*FLAG_COLUMNS)``), in ``stored_flag``'s order.
FLAG_COLUMNS = (FlagRow.id, FlagRow.call_id, FlagRow.origin, FlagRow.review_status, FlagRow.criterion,
                FlagRow.category, FlagRow.polarity, FlagRow.severity, FlagRow.speaker, FlagRow.start_s,
                FlagRow.end_s, FlagRow.text, FlagRow.message, FlagRow.suggestion, FlagRow.explanation,
                FlagRow.details, FlagRow.confidence)


def stored_flag(row: Sequence[Any]) -> StoredFlag:
    """The record of a row of ``FLAG_COLUMNS``."""
    flag_id, call_id, origin, review_status, *flag = row
    return StoredFlag(*flag, id=flag_id, call_id=call_id, origin=origin, review_status=review_status)


def _review(r: ReviewRow) -> Review:
    return Review(r.id, r.call_id, r.flag_id, r.kind, r.section, r.new_score, r.call_score, r.text,
                  r.reviewer, r.created_at)


# --------------------------------------------------------------------------- writes

#: what a user calls a column, in the error that says its value does not fit
_COLUMN_NAMES = {"agents.name": "the agent name (from --agent, a calls.csv or calls.json sidecar, or the file name)",
                 "calls.model": "the model name", "calls.engine": "the engine name"}


def _refuse_unstorable(file: str, table: Any, rows: Iterable[dict[str, Any]]) -> None:
    """Text PostgreSQL cannot hold fails the call on every database alike (SQLite would take it):
    a NUL character, or more characters than a ``varchar`` column holds."""
    limits = {c.name: getattr(c.type, "length", None) for c in table.columns}
    for row in rows:
        for key, value in row.items():
            if not isinstance(value, str):
                continue
            what = _COLUMN_NAMES.get(f"{table.name}.{key}", f"{table.name}.{key}")
            if "\x00" in value:
                raise StorageError(f"{file}: {what} contains a NUL character, which the database cannot store")
            if (limit := limits.get(key)) and len(value) > limit:
                raise StorageError(f"{file}: {what} is {len(value)} characters long; the database holds at most "
                                   f"{limit}. Shorten it where it comes from")


@dataclasses.dataclass(frozen=True)
class CallRows:
    """One scored call as the rows ``save_scored_calls`` writes, without ids: built by
    ``call_rows`` (in a batch's worker process), written by the parent. ``segments`` None keeps the
    stored segments (a rescore whose transcript did not change)."""

    file: str
    content_hash: str
    agent: str
    values: dict[str, Any]
    segments: list[dict[str, Any]] | None
    sections: list[dict[str, Any]]
    criteria: list[dict[str, Any]]
    flags: list[dict[str, Any]]


def call_rows(transcript: Transcript, score: ScoreLike, *, agent: str, call_date: date | datetime,
              content_hash: str, rubric_id: str, rubric_hash: str, keep_segments: bool = False) -> CallRows:
    """The rows of one scored call; raises StorageError for data the database cannot hold (a NUL
    character, an over-long value), before anything is written."""
    agent = agent.strip()
    if not agent:
        raise ValueError("agent name is empty")
    flags = list(score.flags)
    values = {
        "file": transcript.file,
        "call_date": _as_datetime(call_date),
        "duration": float(transcript.duration),
        "engine": transcript.engine,
        "model": transcript.model,
        "rubric_id": rubric_id,
        "rubric_hash": rubric_hash,
        "score": float(score.score),
        "machine_score": float(score.score),
        "critical_failed": bool(score.critical_failed),
        "roles": transcript.roles,
        "role_confidence": float(transcript.role_confidence),
        "negative_flags": sum(1 for f in flags if f.polarity == "negative"),
        "review_status": "unreviewed",
        "critical_cap": float(getattr(score, "critical_cap", 0.0)),
        "redacted": bool(transcript.extra.get("redacted")),
    }
    weights = getattr(score, "section_weights", None) or {}
    _refuse_unstorable(transcript.file, Agent.__table__, [{"name": agent}])
    _refuse_unstorable(transcript.file, Call.__table__, [values])
    segments = None
    if not keep_segments:
        segments = [{"idx": i, "speaker": s.speaker, "start_s": s.start, "end_s": s.end, "text": s.text,
                     "words": [[w.start, w.end, w.text, w.probability] for w in s.words] or None}
                    for i, s in enumerate(transcript.segments)]
        _refuse_unstorable(transcript.file, SegmentRow.__table__, segments)
    sections = [{"section": name, "position": i, "call_date": values["call_date"],
                 "score": None if value is None else float(value), "override": None,
                 "weight": float(weights.get(name, 1.0))}
                for i, (name, value) in enumerate(score.sections.items())]
    criteria = [{"criterion": r.criterion, "section": r.section, "status": r.status, "weight": float(r.weight),
                 "critical": bool(r.critical)} for r in getattr(score, "criteria", ())]
    flag_rows = [_flag_values(0, f, "machine") for f in flags]
    _refuse_unstorable(transcript.file, FlagRow.__table__, flag_rows)
    return CallRows(transcript.file, content_hash, agent, values, segments, sections, criteria, flag_rows)


def save_scored_call(session: Session, transcript: Transcript, score: ScoreLike, *, agent: str,
                     call_date: date | datetime, content_hash: str, rubric_id: str,
                     rubric_hash: str) -> int:
    """Store one scored call (transcript, flags, section scores) in one transaction; returns its
    id. A call with the same ``content_hash`` is replaced in place (see the module's rules). The
    call is marked redacted when the transcript is (``transcript.extra["redacted"]``)."""
    rows = call_rows(transcript, score, agent=agent, call_date=call_date, content_hash=content_hash,
                     rubric_id=rubric_id, rubric_hash=rubric_hash)
    return save_scored_calls(session, [rows])[0]


#: ids per ``IN (...)`` list: well under SQLite's and PostgreSQL's limits on bound parameters
_CHUNK = 500


def _chunks(items: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), _CHUNK):
        yield items[i:i + _CHUNK]


def save_scored_calls(session: Session, calls: Sequence[CallRows]) -> list[int]:
    """Store many scored calls (``call_rows``) in one transaction; returns their ids in order.
    Each is stored as ``save_scored_call`` stores one: agents are resolved once for the batch, the
    rows of every call go in one statement per table. Two rows of one content hash: the later wins."""
    last = {rows.content_hash: i for i, rows in enumerate(calls)}
    with write_transaction(session):
        agents = Agent.__table__
        names = sorted({rows.agent for rows in calls})
        session.execute(_insert(session, agents).on_conflict_do_nothing(index_elements=["name"]),
                        [{"name": n} for n in names])
        agent_ids = dict(session.execute(select(Agent.name, Agent.id).where(Agent.name.in_(names))).all())
        table = Call.__table__
        ids: dict[str, int] = {}
        for i, rows in enumerate(calls):
            if last[rows.content_hash] != i:
                continue
            values = rows.values | {"agent_id": agent_ids[rows.agent]}
            stmt = _insert(session, table).values(content_hash=rows.content_hash, **values)
            stmt = stmt.on_conflict_do_update(
                index_elements=["content_hash"],
                set_={**{k: stmt.excluded[k] for k in values}, "scored_at": func.current_timestamp()},
            ).returning(table.c.id)
            ids[rows.content_hash] = session.execute(stmt).scalar_one()
        kept = [calls[i] for i in sorted(last.values())]
        call_ids = [ids[rows.content_hash] for rows in kept]
        reviewed: set[int] = set()
        for chunk in _chunks(call_ids):
            reviewed.update(session.scalars(select(ReviewRow.call_id).where(ReviewRow.call_id.in_(chunk)).distinct()))
        # reviews of machine flags: detach them, to re-attach to the same flag re-created below
        keyed: dict[int, list[tuple[int, tuple]]] = defaultdict(list)
        for chunk in _chunks(sorted(reviewed)):
            for rid, cid, *key in session.execute(
                    select(ReviewRow.id, ReviewRow.call_id, FlagRow.criterion, FlagRow.speaker, FlagRow.start_s,
                           FlagRow.end_s)
                    .join(FlagRow, FlagRow.id == ReviewRow.flag_id)
                    .where(ReviewRow.call_id.in_(chunk), FlagRow.origin == "machine")):
                keyed[cid].append((rid, _flag_key(*key)))
        detached = [rid for pairs in keyed.values() for rid, _ in pairs]
        for chunk in _chunks(detached):
            session.execute(update(ReviewRow).where(ReviewRow.id.in_(chunk)).values(flag_id=None))
        resegmented = [cid for cid, rows in zip(call_ids, kept) if rows.segments is not None]
        for tbl, cond, which in ((SegmentRow.__table__, SegmentRow.call_id.in_, resegmented),
                                 (SectionScore.__table__, SectionScore.call_id.in_, call_ids),
                                 (CriterionResultRow.__table__, CriterionResultRow.call_id.in_, call_ids),
                                 (FlagRow.__table__, FlagRow.call_id.in_, call_ids)):
            for chunk in _chunks(which):
                where = cond(chunk) if tbl is not FlagRow.__table__ else and_(cond(chunk), FlagRow.origin == "machine")
                session.execute(delete(tbl).where(where))
        segments, sections, criteria, flags = [], [], [], []
        for cid, rows in zip(call_ids, kept):
            agent_id = agent_ids[rows.agent]
            segments += [s | {"call_id": cid} for s in rows.segments or ()]
            sections += [s | {"call_id": cid, "agent_id": agent_id} for s in rows.sections]
            criteria += [c | {"call_id": cid} for c in rows.criteria]
            flags += [f | {"call_id": cid} for f in rows.flags]
        for tbl, batch in ((SegmentRow.__table__, segments), (SectionScore.__table__, sections),
                           (CriterionResultRow.__table__, criteria), (FlagRow.__table__, flags)):
            if batch:
                session.execute(tbl.insert(), batch)

        for call_id in sorted(reviewed):
            if pairs := keyed.get(call_id):
                new = {}
                for fid, *key in session.execute(
                        select(FlagRow.id, FlagRow.criterion, FlagRow.speaker, FlagRow.start_s, FlagRow.end_s)
                        .where(FlagRow.call_id == call_id, FlagRow.origin == "machine")
                        .order_by(FlagRow.id)):
                    new.setdefault(_flag_key(*key), fid)
                moved = [{"rid": rid, "fid": new[key]} for rid, key in pairs if key in new]
                lost = [rid for rid, key in pairs if key not in new]
                if moved:
                    session.execute(update(ReviewRow.__table__).where(ReviewRow.__table__.c.id == bindparam("rid"))
                                    .values(flag_id=bindparam("fid")), moved)
                if lost:
                    session.execute(delete(ReviewRow).where(ReviewRow.id.in_(lost)))
            _apply_reviews(session, call_id)
    return [ids[rows.content_hash] for rows in calls]


def _apply_reviews(session: Session, call_id: int) -> None:
    """Recompute what the reviews decide: flag accept/reject, section overrides, the call's
    review status and its count of negative flags that stand."""
    reviews = session.execute(
        select(ReviewRow.kind, ReviewRow.flag_id, ReviewRow.section, ReviewRow.new_score)
        .where(ReviewRow.call_id == call_id).order_by(ReviewRow.created_at, ReviewRow.id)).all()
    flag_status: dict[int, str] = {}
    overrides: dict[str, float] = {}
    disputes: set[int | None] = set()
    reviewed = False
    for kind, flag_id, section, new_score in reviews:
        if kind == "dispute":
            disputes.add(flag_id)
            continue
        reviewed = True
        if kind in ("accept", "add_flag") and flag_id is not None:
            flag_status[flag_id] = "accepted"
        elif kind == "reject" and flag_id is not None:
            flag_status[flag_id] = "rejected"
        elif kind == "override" and section is not None and new_score is not None:
            overrides[section] = new_score
        elif kind == "resolve_dispute":
            if flag_id is None:
                disputes.clear()
            else:
                disputes.discard(flag_id)
    status = "disputed" if disputes else "reviewed" if reviewed else "unreviewed"

    flags_t, sections_t = FlagRow.__table__, SectionScore.__table__
    session.execute(update(flags_t).where(flags_t.c.call_id == call_id).values(review_status=None))
    if flag_status:
        session.execute(update(flags_t).where(flags_t.c.id == bindparam("fid"), flags_t.c.call_id == call_id)
                        .values(review_status=bindparam("st")),
                        [{"fid": k, "st": v} for k, v in flag_status.items()])
    reviewed = _reviewed_sections(session, call_id, overrides)
    session.execute(update(sections_t).where(sections_t.c.call_id == call_id).values(override=None))
    if reviewed:
        session.execute(update(sections_t)
                        .where(sections_t.c.call_id == call_id, sections_t.c.section == bindparam("sec"))
                        .values(override=bindparam("val")),
                        [{"sec": k, "val": v} for k, v in reviewed.items()])
    standing = (select(func.count()).select_from(FlagRow)
                .where(FlagRow.call_id == call_id, FlagRow.polarity == "negative",
                       or_(FlagRow.review_status.is_(None), FlagRow.review_status != "rejected"))
                .scalar_subquery())
    session.execute(update(Call).where(Call.id == call_id)
                    .values(review_status=status, negative_flags=standing))


def _reviewed_sections(session: Session, call_id: int, overrides: dict[str, float]) -> dict[str, float | None]:
    """The sections whose score the reviews changed, and the call's reviewed overall score
    (``calls.score``), by the one formula of ``callqa.scoring``: each criterion's status after its
    flags' reviews, its section's score again (an override review wins), the overall score again."""
    from callqa.scoring import overall_score, reviewed_status, section_score

    flags: dict[str, list[tuple[str, str, str | None]]] = defaultdict(list)
    for criterion, polarity, origin, decided in session.execute(
            select(FlagRow.criterion, FlagRow.polarity, FlagRow.origin, FlagRow.review_status)
            .where(FlagRow.call_id == call_id)):
        flags[criterion].append((polarity, origin, decided))
    criteria: dict[str, list[tuple[float, float | None]]] = defaultdict(list)
    critical = False
    for criterion, section, status, weight, is_critical in session.execute(
            select(CriterionResultRow.criterion, CriterionResultRow.section, CriterionResultRow.status,
                   CriterionResultRow.weight, CriterionResultRow.critical)
            .where(CriterionResultRow.call_id == call_id)):
        status = reviewed_status(status, flags.get(criterion, ()))
        criteria[section].append((weight, None if status == "na" else float(status == "pass")))
        critical = critical or (is_critical and status == "fail")
    sections = session.execute(select(SectionScore.section, SectionScore.score, SectionScore.weight)
                               .where(SectionScore.call_id == call_id)).all()
    changed: dict[str, float | None] = {}
    finals = []
    for section, machine, weight in sections:
        value = overrides[section] if section in overrides else \
            section_score(criteria[section]) if section in criteria else machine
        if section in overrides or value != machine:
            changed[section] = value
        finals.append((weight, value))
    if criteria:  # a call stored before criterion results were kept: its score is the review's call_score
        cap = session.scalar(select(Call.critical_cap).where(Call.id == call_id)) or 0.0
        final, _ = overall_score(finals, critical, cap)
        session.execute(update(Call).where(Call.id == call_id)
                        .values(score=Call.machine_score if final is None else final))
    return changed


def add_review(session: Session, call_id: int, kind: str, *, reviewer: str, flag_id: int | None = None,
               section: str | None = None, new_score: float | None = None, text: str | None = None,
               call_score: float | None = None, flag: Flag | None = None) -> Review:
    """Store one review by ``reviewer`` (time: the database's clock) and apply it.

    kinds: ``accept`` / ``reject`` a flag (``flag_id``); ``add_flag`` (``flag``: a missed flag,
    stored with origin "reviewer"); ``override`` a section (``section``, ``new_score`` 0-100,
    ``text`` = reason); ``comment`` (``text``); ``dispute`` of a flag or the call (``text``) and
    ``resolve_dispute``. ``call_score``, when given, is the call's overall score after this
    review as the caller computed it with the rubric's weights; it becomes ``calls.score`` (the
    machine's stays in ``machine_score``). Raises ReviewError.

    The text (and an added flag's) is stored redacted (``callqa.redact``) when the call was stored
    redacted or the session's ``info["redact"]`` is set (``services.session_for(redact=True)``).
    """
    if kind not in REVIEW_KINDS:
        raise ReviewError(f"unknown review kind {kind!r}; valid kinds: {', '.join(REVIEW_KINDS)}")
    reviewer = (reviewer or "").strip()
    if not reviewer:
        raise ReviewError("a review needs the reviewer's name")
    if kind in ("accept", "reject") and flag_id is None:
        raise ReviewError(f"a {kind} review needs the flag it is about")
    if kind == "add_flag" and flag is None:
        raise ReviewError("an add_flag review needs the flag to add")
    if kind == "override":
        if not section:
            raise ReviewError("an override needs the section it changes")
        if new_score is None or not 0 <= new_score <= 100:
            raise ReviewError(f"an override needs a new score from 0 to 100, got {new_score!r}")
    if kind == "comment" and not (text or "").strip():
        raise ReviewError("a comment needs its text")
    for name, value in (("new_score", new_score), ("call_score", call_score)):
        if value is not None and not 0 <= value <= 100:
            raise ReviewError(f"{name} must be from 0 to 100, got {value!r}")

    with write_transaction(session):
        call = session.get(Call, call_id)
        if call is None:
            raise ReviewError(f"no stored call with id {call_id}")
        if session.info.get("redact") or call.redacted:
            from callqa.redact import redact_value

            text = redact_value(text)
            if flag is not None:  # a reviewer's note and the words of the line it is on
                flag = dataclasses.replace(flag, **{f: redact_value(getattr(flag, f)) for f in
                                                    ("text", "message", "suggestion", "explanation", "details")})
        if flag_id is not None and session.scalar(
                select(FlagRow.call_id).where(FlagRow.id == flag_id)) != call_id:
            raise ReviewError(f"call {call_id} has no flag with id {flag_id}")
        if kind == "override" and session.get(SectionScore, (call_id, section)) is None:
            raise ReviewError(f"call {call_id} has no section {section!r}")
        if kind == "add_flag":
            assert flag is not None
            flag_id = session.execute(FlagRow.__table__.insert()
                                      .values(**_flag_values(call_id, flag, "reviewer"))
                                      .returning(FlagRow.__table__.c.id)).scalar_one()
        reviews_t = ReviewRow.__table__
        row = session.execute(
            reviews_t.insert().values(call_id=call_id, flag_id=flag_id, kind=kind, section=section,
                                      new_score=new_score, call_score=call_score, text=text,
                                      reviewer=reviewer)
            .returning(*reviews_t.c)).one()
        if call_score is not None:
            session.execute(update(Call).where(Call.id == call_id).values(score=call_score))
        _apply_reviews(session, call_id)
        return Review(row.id, row.call_id, row.flag_id, row.kind, row.section, row.new_score,
                      row.call_score, row.text, row.reviewer, row.created_at)


def record_error(session: Session, file: str, content_hash: str | None, message: str) -> None:
    """Record a file that could not be scored (the batch goes on), in place of what an earlier run
    recorded for that file or content: one row per failing file, saying what is wrong now.
    NUL characters are dropped: PostgreSQL cannot store them."""
    file = str(file).replace("\x00", "")
    errors = ErrorRow.__table__
    same = errors.c.file == file if content_hash is None else or_(errors.c.file == file,
                                                                   errors.c.content_hash == content_hash)
    with write_transaction(session):
        session.execute(delete(errors).where(same))
        session.execute(errors.insert().values(file=file, content_hash=content_hash,
                                               message=str(message).replace("\x00", "")))


# --------------------------------------------------------------------------- reads

def is_scored(session: Session, content_hash: str, rubric_hash: str) -> bool:
    """True when this recording is stored, scored with the rubric of this content hash."""
    return bool(session.scalar(select(exists().where(Call.content_hash == content_hash,
                                                     Call.rubric_hash == rubric_hash))))


def call_id_for_hash(session: Session, content_hash: str) -> int | None:
    return session.scalar(select(Call.id).where(Call.content_hash == content_hash))


def named_agents(column: Any = Call.agent_id) -> ColumnElement[bool]:
    """Calls (or section rows) of a named agent: the team, without ``unassigned``."""
    unassigned = select(Agent.id).where(Agent.name == UNASSIGNED).scalar_subquery()
    return column != func.coalesce(unassigned, -1)  # one id, looked up once: cheaper than NOT IN


def _date_filters(date_from: date | datetime | None, date_to: date | datetime | None,
                  column: Any = Call.call_date) -> list[ColumnElement]:
    """``date_from`` inclusive; ``date_to`` inclusive for a date (the whole day), exclusive for a
    datetime."""
    conds: list[ColumnElement] = []
    if date_from is not None:
        conds.append(column >= _as_datetime(date_from))
    if date_to is not None:
        if isinstance(date_to, datetime):
            conds.append(column < _as_datetime(date_to))
        else:
            conds.append(column < _as_datetime(date_to + timedelta(days=1)))
    return conds


def agent_summaries(session: Session, *, date_from: date | datetime | None = None,
                    date_to: date | datetime | None = None,
                    agents: Iterable[str] | None = None) -> list[AgentSummary]:
    """Per-agent call counts and average scores (overall and per section), by agent name; one SQL
    query; ``unassigned`` calls are no agent's (count them with ``count_calls(agent=UNASSIGNED)``). Scores are the ones that count (reviewer overrides win); a section's average is over
    the calls where it applied."""
    call_conds = _date_filters(date_from, date_to)
    section_conds = _date_filters(date_from, date_to, SectionScore.call_date)
    if agents is not None:
        wanted = select(Agent.id).where(Agent.name.in_(list(agents)))
        call_conds.append(Call.agent_id.in_(wanted))
        section_conds.append(SectionScore.agent_id.in_(wanted))
    # each half reads one covering index: calls (agent_id, call_date, score) and
    # section_scores (agent_id, section, call_date, score, override)
    final = func.coalesce(SectionScore.override, SectionScore.score)
    overall = (select(Call.agent_id.label("agent_id"), literal(None).label("section"),
                      literal(-1).label("position"), func.count().label("n"), func.avg(Call.score).label("avg"))
               .where(*call_conds).group_by(Call.agent_id))
    per_section = (select(SectionScore.agent_id, SectionScore.section, func.min(SectionScore.position),
                          func.count(final), func.avg(final))
                   .where(*section_conds).group_by(SectionScore.agent_id, SectionScore.section))
    u = union_all(overall, per_section).subquery()
    rows = session.execute(select(Agent.name, u.c.section, u.c.n, u.c.avg)
                           .join(u, u.c.agent_id == Agent.id)
                           .order_by(Agent.name, u.c.position, u.c.section)).all()
    out: dict[str, tuple[int, float | None, dict[str, float | None]]] = {}
    for name, section, n, avg in rows:
        if section is None:
            out[name] = (n, None if avg is None else float(avg), {})
        elif name in out:
            out[name][2][section] = None if avg is None else float(avg)
    return [AgentSummary(name, n, avg, sections) for name, (n, avg, sections) in out.items()
            if name != UNASSIGNED]  # dropped here: a condition in the query halves its speed


ORDERINGS = {
    "date": Call.call_date, "score": Call.score, "agent": Agent.name, "duration": Call.duration,
    "flags": Call.negative_flags, "scored": Call.scored_at, "id": Call.id,
}


def _filtered(stmt: Select, *, agent: str | None, date_from: date | datetime | None,
              date_to: date | datetime | None, score_min: float | None, score_max: float | None,
              unreviewed: bool | None, review_status: str | None, critical_failed: bool | None,
              category: str | None, search: str | None) -> Select:
    conds = _date_filters(date_from, date_to)
    if agent is not None:
        conds.append(Call.agent_id == select(Agent.id).where(Agent.name == agent).scalar_subquery())
    if score_min is not None:
        conds.append(Call.score >= score_min)
    if score_max is not None:
        conds.append(Call.score <= score_max)
    if unreviewed is not None:
        conds.append((Call.review_status == "unreviewed") if unreviewed else (Call.review_status != "unreviewed"))
    if review_status is not None:
        conds.append(Call.review_status == review_status)
    if critical_failed is not None:
        conds.append(Call.critical_failed.is_(critical_failed))
    if category is not None:
        # calls with a standing negative flag of this category
        conds.append(exists().where(FlagRow.call_id == Call.id, FlagRow.category == category,
                                    FlagRow.polarity == "negative",
                                    or_(FlagRow.review_status.is_(None), FlagRow.review_status != "rejected")))
    if search:
        conds.append(or_(Call.file.icontains(search, autoescape=True),
                         exists().where(SegmentRow.call_id == Call.id,
                                        SegmentRow.text.icontains(search, autoescape=True))))
    return stmt.where(*conds)


def list_calls(session: Session, *, agent: str | None = None, date_from: date | datetime | None = None,
               date_to: date | datetime | None = None, score_min: float | None = None,
               score_max: float | None = None, unreviewed: bool | None = None,
               review_status: str | None = None, critical_failed: bool | None = None,
               category: str | None = None, search: str | None = None, order_by: str = "-date",
               limit: int = 50, offset: int = 0) -> list[CallSummary]:
    """One page of calls. ``order_by``: one of ORDERINGS, ``-`` first for descending.
    ``search`` matches transcript text or file name (case-insensitive substring);
    ``unreviewed=True`` keeps calls with no review, ``False`` reviewed ones."""
    descending = order_by.startswith("-")
    key = order_by.lstrip("-")
    if key not in ORDERINGS:
        raise ValueError(f"cannot order calls by {order_by!r}; valid: {', '.join(sorted(ORDERINGS))} "
                         "(prefix - for descending)")
    column = ORDERINGS[key]
    order = [column.desc(), Call.id.desc()] if descending else [column.asc(), Call.id.asc()]
    stmt = select(*_CALL_COLUMNS).join(Agent, Agent.id == Call.agent_id)
    stmt = _filtered(stmt, agent=agent, date_from=date_from, date_to=date_to, score_min=score_min,
                     score_max=score_max, unreviewed=unreviewed, review_status=review_status,
                     critical_failed=critical_failed, category=category, search=search)
    rows = session.execute(stmt.order_by(*order).limit(limit).offset(offset)).all()
    return [_call_summary(r) for r in rows]


def count_calls(session: Session, **filters: Any) -> int:
    """How many calls ``list_calls`` with the same filters would page through."""
    names = ("agent", "date_from", "date_to", "score_min", "score_max", "unreviewed", "review_status",
             "critical_failed", "category", "search")
    unknown = set(filters) - set(names)
    if unknown:
        raise TypeError(f"unknown filters: {', '.join(sorted(unknown))}")
    stmt = select(func.count()).select_from(Call)
    stmt = _filtered(stmt, **{n: filters.get(n) for n in names})
    return session.execute(stmt).scalar_one()


def _segments(session: Session, call_id: int) -> tuple[Segment, ...]:
    rows = session.execute(select(SegmentRow.speaker, SegmentRow.start_s, SegmentRow.end_s, SegmentRow.text,
                                  SegmentRow.words)
                           .where(SegmentRow.call_id == call_id).order_by(SegmentRow.idx)).all()
    return tuple(Segment(sp, start, end, text, tuple(Word(*w) for w in (words or ())))
                 for sp, start, end, text, words in rows)


def get_call(session: Session, call_id: int) -> StoredCall | None:
    """A call with its transcript segments, flags, section scores and reviews; None if absent."""
    row = session.execute(select(*_CALL_COLUMNS).join(Agent, Agent.id == Call.agent_id)
                          .where(Call.id == call_id)).one_or_none()
    if row is None:
        return None
    flags = session.execute(select(*FLAG_COLUMNS).where(FlagRow.call_id == call_id)
                            .order_by(FlagRow.start_s, FlagRow.id)).all()
    sections = session.execute(select(SectionScore.section, SectionScore.score, SectionScore.override)
                               .where(SectionScore.call_id == call_id)
                               .order_by(SectionScore.position, SectionScore.section)).all()
    reviews = session.scalars(select(ReviewRow).where(ReviewRow.call_id == call_id)
                              .order_by(ReviewRow.created_at, ReviewRow.id)).all()
    result = StoredCall(call=_call_summary(row), segments=_segments(session, call_id),
                        flags=tuple(map(stored_flag, flags)),
                        sections=tuple(SectionResult(*s) for s in sections),
                        reviews=tuple(_review(r) for r in reviews))
    session.expunge_all()  # no ORM row outlives this call
    return result


def call_summary(session: Session, call_id: int) -> CallSummary | None:
    """One call's row (no transcript, flags or reviews); None if absent."""
    row = session.execute(select(*_CALL_COLUMNS).join(Agent, Agent.id == Call.agent_id)
                          .where(Call.id == call_id)).one_or_none()
    return None if row is None else _call_summary(row)


def stored_transcript(session: Session, call_id: int) -> Transcript:
    """The transcript as stored, for rescoring without running Whisper again."""
    found = stored_transcripts(session, [call_id])
    if call_id not in found:
        raise StorageError(f"no stored call with id {call_id}")
    return found[call_id]


def stored_transcripts(session: Session, call_ids: Sequence[int]) -> dict[int, Transcript]:
    """The stored transcripts of many calls (absent ids are left out), two queries per 500."""
    out: dict[int, Transcript] = {}
    for chunk in _chunks(list(call_ids)):
        segments: dict[int, list[Segment]] = defaultdict(list)
        for cid, sp, start, end, text, words in session.execute(
                select(SegmentRow.call_id, SegmentRow.speaker, SegmentRow.start_s, SegmentRow.end_s, SegmentRow.text,
                       SegmentRow.words)
                .where(SegmentRow.call_id.in_(chunk)).order_by(SegmentRow.call_id, SegmentRow.idx)):
            segments[cid].append(Segment(sp, start, end, text, tuple(Word(*w) for w in (words or ()))))
        for cid, file, duration, engine, model, roles, confidence, content_hash, redacted in session.execute(
                select(Call.id, Call.file, Call.duration, Call.engine, Call.model, Call.roles, Call.role_confidence,
                       Call.content_hash, Call.redacted).where(Call.id.in_(chunk))):
            out[cid] = Transcript(file=file, duration=duration, engine=engine, model=model,
                                  segments=tuple(segments.get(cid, ())), roles=roles, role_confidence=confidence,
                                  extra={"call_id": cid, "content_hash": content_hash, "source": "database",
                                         "redacted": redacted})
    return out


def calls_by_hash(session: Session, content_hashes: Sequence[str]) -> dict[str, CallSummary]:
    """The stored calls of these recordings (content hashes), one query per 500."""
    out: dict[str, CallSummary] = {}
    for chunk in _chunks(list(dict.fromkeys(content_hashes))):
        for row in session.execute(select(*_CALL_COLUMNS).join(Agent, Agent.id == Call.agent_id)
                                   .where(Call.content_hash.in_(chunk))):
            summary = _call_summary(row)
            out[summary.content_hash] = summary
    return out


def count_unredacted(session: Session) -> int:
    """How many stored calls were stored without redaction (``calls.redacted``)."""
    return session.execute(select(func.count()).select_from(Call).where(Call.redacted.is_(False))).scalar_one()


def redact_stored(session: Session, batch: int = 1000) -> dict[str, int]:
    """Redact what is stored (``callqa.redact``), in one transaction: transcript segments and their
    words, flag texts and details, error messages (their file names kept), review texts; then mark
    every call redacted. Returns how many calls were not marked before, and how many rows of each
    kind changed."""
    from callqa.redact import redact_message, redact_segment, redact_value

    def segment(text: str, words: list | None) -> tuple | None:
        before = Segment("agent", 0.0, 0.0, text, tuple(Word(*w) for w in words or ()))  # text and words count
        after = redact_segment(before)
        return None if after is before else (after.text, [[w.start, w.end, w.text, w.probability]
                                                          for w in after.words] or None)

    def texts(*values: Any) -> tuple:
        return tuple(redact_value(v) for v in values)

    def error(file: str, message: str) -> tuple:
        return file, redact_message(message, file)

    flags, segments, reviews, errors = (FlagRow.__table__.c, SegmentRow.__table__.c, ReviewRow.__table__.c,
                                        ErrorRow.__table__.c)
    with write_transaction(session):
        counts = {"calls": count_unredacted(session),
                  "segments": _rewrite(session, segments.id, (segments.text, segments.words), segment, batch),
                  "flags": _rewrite(session, flags.id, (flags.text, flags.message, flags.suggestion, flags.explanation,
                                                        flags.details), texts, batch),
                  "errors": _rewrite(session, errors.id, (errors.file, errors.message), error, batch),
                  "reviews": _rewrite(session, reviews.id, (reviews.text,), texts, batch)}
        session.execute(update(Call).where(Call.redacted.is_(False)).values(redacted=True))
    return counts


def _rewrite(session: Session, key: Any, columns: Sequence[Any], change: Any, batch: int) -> int:
    """Pass every row's ``columns`` through ``change`` (their new values; None or the same: left
    as they are), ``batch`` rows at a time in order of ``key`` (an integer id); returns how many
    rows changed."""
    changed, last = 0, 0
    while rows := session.execute(select(key, *columns).where(key > last).order_by(key).limit(batch)).all():
        last = rows[-1][0]
        updates = [{"row_key": row[0], **{f"new_{c.name}": v for c, v in zip(columns, new)}}
                   for row in rows if (new := change(*row[1:])) is not None and tuple(new) != tuple(row[1:])]
        if updates:
            session.execute(update(key.table).where(key == bindparam("row_key"))
                            .values({c.name: bindparam(f"new_{c.name}") for c in columns}), updates)
        changed += len(updates)
    return changed


def list_errors(session: Session, *, limit: int = 100, since: datetime | None = None) -> list[StoredError]:
    """Recorded failures, newest first."""
    stmt = select(ErrorRow.id, ErrorRow.file, ErrorRow.content_hash, ErrorRow.message, ErrorRow.created_at)
    if since is not None:
        stmt = stmt.where(ErrorRow.created_at >= _as_datetime(since))
    rows = session.execute(stmt.order_by(ErrorRow.created_at.desc(), ErrorRow.id.desc()).limit(limit)).all()
    return [StoredError(*r) for r in rows]


__all__: Sequence[str] = (
    "ORDERINGS", "ReviewError", "add_review", "agent_summaries", "call_id_for_hash", "calls_by_hash", "count_calls",
    "count_unredacted", "get_call", "is_scored", "list_calls", "list_errors", "record_error", "redact_stored",
    "save_scored_call", "stored_transcript",
)


# --------------------------------------------------------------------------- export

#: Version of ``callqa export``'s columns and JSON keys (README, "Export"); 2 added section scores,
#: reviews and comments; 3 renamed ``rubric_version`` (which held the rubric's content hash) to
#: ``rubric_hash``.
EXPORT_VERSION = 3
EXPORT_CALL_FIELDS = ("call_id", "agent", "file", "call_date", "duration", "score", "machine_score",
                      "critical_failed", "review_status", "rubric_id", "rubric_hash", "engine", "model")
EXPORT_FLAG_FIELDS = ("criterion", "category", "polarity", "severity", "speaker", "start", "end", "text",
                      "message", "suggestion", "explanation", "origin", "flag_review", "confidence")
EXPORT_REVIEW_FIELDS = ("kind", "criterion", "section", "new_score", "text", "reviewer", "created_at")


@dataclasses.dataclass(frozen=True)
class ExportFilter:
    """Which stored calls ``export_rows`` yields; every field optional (None: no limit)."""

    agents: tuple[str, ...] = ()
    date_from: date | None = None
    date_to: date | None = None  # inclusive
    rubric_id: str | None = None
    min_score: float | None = None
    max_score: float | None = None

    def conditions(self) -> list[ColumnElement]:
        conds = _date_filters(self.date_from, self.date_to)
        if self.agents:
            conds.append(Agent.name.in_(self.agents))
        if self.rubric_id is not None:
            conds.append(Call.rubric_id == self.rubric_id)
        if self.min_score is not None:
            conds.append(Call.score >= self.min_score)
        if self.max_score is not None:
            conds.append(Call.score <= self.max_score)
        return conds


def export_sections(session: Session, where: ExportFilter = ExportFilter()) -> list[str]:
    """The section names of the calls ``where`` selects, in their rubric order (the CSV's columns)."""
    rows = session.execute(
        select(SectionScore.section, func.min(SectionScore.position))
        .join(Call, Call.id == SectionScore.call_id).join(Agent, Agent.id == Call.agent_id)
        .where(*where.conditions()).group_by(SectionScore.section)).all()
    return [name for name, _ in sorted(rows, key=lambda r: (r[1], r[0]))]


def export_rows(session: Session, where: ExportFilter = ExportFilter(), batch: int = 2000) -> Iterator[dict[str, Any]]:
    """The stored calls ``where`` selects, one dict per call with its flags, section scores
    (machine and after reviews) and reviews, streamed in id order (flat memory)."""
    last = 0
    conds = where.conditions()
    while True:
        calls = session.execute(
            select(Call.id, Agent.name, Call.file, Call.call_date, Call.duration, Call.score, Call.machine_score,
                   Call.critical_failed, Call.review_status, Call.rubric_id, Call.rubric_hash, Call.engine,
                   Call.model)
            .join(Agent, Agent.id == Call.agent_id).where(Call.id > last, *conds).order_by(Call.id)
            .limit(batch)).all()
        if not calls:
            return
        ids = [c[0] for c in calls]
        flags: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
        criteria: dict[int, str] = {}
        for f in session.execute(
                select(FlagRow.call_id, FlagRow.id, FlagRow.criterion, FlagRow.category, FlagRow.polarity,
                       FlagRow.severity, FlagRow.speaker, FlagRow.start_s, FlagRow.end_s, FlagRow.text,
                       FlagRow.message, FlagRow.suggestion, FlagRow.explanation, FlagRow.origin,
                       FlagRow.review_status, FlagRow.confidence)
                .where(FlagRow.call_id.in_(ids)).order_by(FlagRow.call_id, FlagRow.start_s, FlagRow.id)):
            criteria[f[1]] = f[2]
            flags[f[0]].append(dict(zip(EXPORT_FLAG_FIELDS, f[2:])))
        sections: dict[int, dict[str, dict[str, float | None]]] = {i: {} for i in ids}
        for cid, name, score, after in session.execute(
                select(SectionScore.call_id, SectionScore.section, SectionScore.score, SectionScore.override)
                .where(SectionScore.call_id.in_(ids)).order_by(SectionScore.call_id, SectionScore.position)):
            sections[cid][name] = {"machine": score, "reviewed": score if after is None else after}
        reviews: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
        for r in session.execute(
                select(ReviewRow.call_id, ReviewRow.kind, ReviewRow.flag_id, ReviewRow.section, ReviewRow.new_score,
                       ReviewRow.text, ReviewRow.reviewer, ReviewRow.created_at)
                .where(ReviewRow.call_id.in_(ids)).order_by(ReviewRow.call_id, ReviewRow.created_at, ReviewRow.id)):
            reviews[r[0]].append(dict(zip(EXPORT_REVIEW_FIELDS, (
                r[1], criteria.get(r[2]) if r[2] is not None else None, r[3], r[4], r[5], r[6],
                r[7].isoformat(timespec="seconds")))))
        for c in calls:
            row = dict(zip(EXPORT_CALL_FIELDS, c))
            row["call_date"] = row["call_date"].date().isoformat()
            row["sections"] = sections[c[0]]
            row["reviews"] = reviews[c[0]]
            row["flags"] = flags[c[0]]
            yield {"export_version": EXPORT_VERSION, **row}
        last = ids[-1]
