"""Blind review and calibration sessions: the one owner of blind answers (the TUI and the CLI call
this module, never storage).

A blind review asks a reviewer, for each criterion stored for a call (its ``criterion_results``,
in rubric order), whether the call met it: yes, no or N-A, without showing the machine's verdicts.
Answers are kept apart from the accept/reject reviews of the machine's flags (those are anchored
on what was shown). Answering again replaces the answer. Each answer keeps the call's rubric hash
(agreement per rubric version) and, when the call is assigned to the reviewer in a calibration
session, that session. Once every criterion of the call is answered, the reviewer's assignment of
it is done, and the comparison with the machine (its criterion status pass / fail / na read as
yes / no / na, and the flags behind it) may be shown.

A calibration session (``assign``) is a stratified sample of calls that every one of its reviewers
answers blind; ``progress`` says how far each reviewer is. ``blind_ratings`` hands the answers and
the machine's to the agreement statistics (``services.agreement``).
"""

from __future__ import annotations

import difflib
import random
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.orm import Session

from callqa import storage
from callqa.errors import CallQAError
from callqa.records import BlindRatings, StoredFlag
from callqa.storage import calibration_queries as cq
from callqa.storage import review_queries as rq
from callqa.storage.calibration_queries import Assignment, Progress, SessionInfo
from callqa.storage.models import BLIND_ANSWERS
from callqa.transcript import Segment

#: the words a reviewer (or an answers file) may use for each answer; YAML reads a bare yes / no
#: as true / false
ANSWER_WORDS = {"yes": "yes", "y": "yes", "true": "yes", "no": "no", "n": "no", "false": "no",
                "na": "na", "n/a": "na", "n-a": "na", "a": "na", "not applicable": "na"}


class CalibrationError(CallQAError):
    """A blind answer or a calibration session that cannot be stored; the message says why."""


def normalise_answer(value: Any) -> str:
    """yes / no / na from what a reviewer typed (y, n, a, N-A, true / false, …); ValueError if none."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    word = ANSWER_WORDS.get(str(value).strip().lower())
    if word is None:
        raise ValueError(f"{value!r} is not an answer: use yes, no or na")
    return word


# --------------------------------------------------------------------------- questions


@dataclass(frozen=True)
class Question:
    """One criterion a blind review asks about."""

    criterion: str
    section: str
    #: the criterion's name in the rubric (its id when the rubric is not at hand)
    text: str
    description: str = ""
    #: "positive" (good behaviour) or "negative" (a problem); None when the rubric is not at hand
    polarity: str | None = None

    @property
    def hint(self) -> str:
        """What yes means for this criterion."""
        if self.polarity == "negative":
            return "a problem to avoid: yes = the call is free of it, no = it happened, N-A = does not apply"
        return "yes = the call meets it, no = it does not, N-A = does not apply"


def questions(session: Session, call_id: int, rubric: Any | None = None) -> list[Question]:
    """The criteria stored for the call, in rubric order (with the rubric: its criteria's order,
    names and descriptions; without: by section, then id)."""
    rows = cq.call_criteria(session, call_id)
    if not rows and rq.calls_by_ids(session, [call_id]) == {}:
        raise CalibrationError(f"no stored call {call_id}")
    known = {c.id: (i, c) for i, c in enumerate(getattr(rubric, "criteria", ()) or ())}
    rows = sorted(rows, key=lambda r: (r.criterion not in known, known.get(r.criterion, (0,))[0],
                                       r.section_position, r.criterion))
    out = []
    for r in rows:
        crit = known.get(r.criterion, (0, None))[1]
        out.append(Question(r.criterion, r.section, crit.name if crit else r.criterion,
                            (crit.description or "").strip() if crit else "", crit.polarity if crit else None))
    return out


@dataclass(frozen=True)
class BlindCall:
    """What a blind review shows of a call: its transcript and recording, none of the machine's
    verdicts (no score, flags or section scores)."""

    id: int
    agent: str
    call_date: datetime
    duration: float
    file: str
    segments: tuple[Segment, ...]


def blind_call(session: Session, call_id: int) -> BlindCall:
    call = rq.calls_by_ids(session, [call_id]).get(call_id)
    if call is None:
        raise CalibrationError(f"no stored call {call_id}")
    transcript = storage.stored_transcript(session, call_id)
    return BlindCall(call.id, call.agent, call.call_date, call.duration, call.file, transcript.segments)


# --------------------------------------------------------------------------- answers


@dataclass(frozen=True)
class AnswerOutcome:
    """After storing answers: the reviewer's answers on the call, and what is left to answer."""

    answers: dict[str, str]
    remaining: tuple[str, ...]

    @property
    def done(self) -> bool:
        return not self.remaining


def answers_of(session: Session, call_id: int, reviewer: str) -> dict[str, str]:
    """criterion → the reviewer's stored blind answer on this call."""
    return cq.answers_of(session, call_id, reviewer)


def record_answers(session: Session, call_id: int, reviewer: str, answers: Mapping[str, Any], *,
                   source: str | None = None) -> AnswerOutcome:
    """Store the reviewer's blind answers on the call (criterion → yes / no / na; each replaces an
    earlier one). Every criterion must be one the call asks about and every answer valid, else
    nothing is stored: the error names ``source`` (an answers file) and suggests the criterion
    meant."""
    reviewer = reviewer.strip()
    if not reviewer:
        raise CalibrationError("a blind answer needs a reviewer name (--reviewer, $CALLQA_REVIEWER or callqa.toml)")
    rhash = cq.call_rubric_hash(session, call_id)
    if rhash is None:
        raise CalibrationError(f"no stored call {call_id}")
    asked = [r.criterion for r in cq.call_criteria(session, call_id)]
    if not asked:
        raise CalibrationError(f"call {call_id} has no stored criterion results to answer: rescore it "
                               "(callqa score --rescore) first")
    where = f"{source}: " if source else ""
    clean: dict[str, str] = {}
    for criterion, value in answers.items():
        criterion = str(criterion).strip()
        if criterion not in asked:
            close = difflib.get_close_matches(criterion, asked, n=1, cutoff=0.5)
            hint = f"; did you mean {close[0]!r}?" if close else f" (call {call_id} asks: {', '.join(asked)})"
            raise CalibrationError(f"{where}unknown criterion {criterion!r} for call {call_id}{hint}")
        try:
            clean[criterion] = normalise_answer(value)
        except ValueError as exc:
            raise CalibrationError(f"{where}{criterion}: {exc}") from None
    cq.save_answers(session, call_id, reviewer, clean, rubric_hash=rhash)
    stored = cq.answers_of(session, call_id, reviewer)
    return AnswerOutcome(stored, tuple(c for c in asked if c not in stored))


def record_answer(session: Session, call_id: int, reviewer: str, criterion: str, answer: Any) -> AnswerOutcome:
    """One blind answer (see ``record_answers``)."""
    return record_answers(session, call_id, reviewer, {criterion: answer})


# --------------------------------------------------------------------------- the comparison


@dataclass(frozen=True)
class Comparison:
    """One criterion after a blind review: the reviewer's answer beside the machine's."""

    question: Question
    reviewer: str | None
    machine: str
    #: the machine's flags of this criterion on the call (its evidence)
    flags: tuple[StoredFlag, ...]

    @property
    def agree(self) -> bool:
        return self.reviewer == self.machine


def comparison(session: Session, call_id: int, reviewer: str, rubric: Any | None = None) -> list[Comparison]:
    """For each criterion of the call: the reviewer's blind answer (None: not answered) and the
    machine's (criterion status pass / fail / na = yes / no / na) with the flags behind it."""
    asked = questions(session, call_id, rubric)
    mine = cq.answers_of(session, call_id, reviewer)
    machine = cq.criterion_statuses(session, [call_id]).get(call_id, {})
    flags: dict[str, list[StoredFlag]] = defaultdict(list)
    for f in rq.flags_of(session, [call_id]):
        if f.origin == "machine":
            flags[f.criterion].append(f)
    return [Comparison(q, mine.get(q.criterion), cq.MACHINE_ANSWER.get(machine.get(q.criterion, "na"), "na"),
                       tuple(sorted(flags.get(q.criterion, ()), key=lambda f: (f.start is None, f.start or 0, f.id))))
            for q in asked]


# --------------------------------------------------------------------------- sessions


@dataclass(frozen=True)
class Assigned:
    """A calibration session just drawn."""

    name: str
    seed: int
    call_ids: tuple[int, ...]
    reviewers: tuple[str, ...]
    #: (agent, score band) → calls drawn from it
    strata: dict[tuple[str, str], int]


BANDS = ("low", "middle", "high")


def score_bands(scores: Sequence[float]) -> tuple[float, float]:
    """The cuts between the low, middle and high third of these scores (their 1/3 and 2/3
    quantiles, as stored values)."""
    ordered = sorted(scores)
    n = len(ordered)
    return ordered[n // 3], ordered[(2 * n) // 3]


def _band(score: float, cuts: tuple[float, float]) -> str:
    return BANDS[0] if score < cuts[0] else BANDS[1] if score < cuts[1] else BANDS[2]


def _split(sizes: Mapping[Any, int], n: int, rng: random.Random) -> dict[Any, int]:
    """``n`` shared across groups in proportion to their sizes: one each first when ``n`` allows,
    then one at a time to the group furthest below its proportional share (ties in a seeded
    order), never more than a group holds."""
    keys = sorted(sizes)
    rng.shuffle(keys)
    total = sum(sizes.values())
    quota = {k: 1 if n >= len(keys) and sizes[k] else 0 for k in keys}
    for _ in range(min(n, total) - sum(quota.values())):
        k = max((k for k in keys if quota[k] < sizes[k]), key=lambda k: n * sizes[k] / total - quota[k])
        quota[k] += 1
    return quota


def draw_sample(calls: Sequence[cq.SampleCall], n: int, rare: Mapping[int, set[str]], seed: int
                ) -> tuple[list[int], dict[tuple[str, str], int]]:
    """The stratified sample of ``assign`` (see its rule) from ``calls``; ``rare``: call id → the
    criteria on which the machine gave the call its rarer answer. Pure and reproducible."""
    rng = random.Random(seed)
    cuts = score_bands([c.score for c in calls])
    strata: dict[tuple[str, str], list[int]] = defaultdict(list)
    for c in sorted(calls, key=lambda c: c.id):
        strata[(c.agent, _band(c.score, cuts))].append(c.id)
    for ids in strata.values():
        rng.shuffle(ids)
    per_agent = _split({a: sum(len(v) for (b, _), v in strata.items() if b == a) for a, _ in strata}, n, rng)
    quota: dict[tuple[str, str], int] = {}
    for agent, share in per_agent.items():
        quota.update(_split({k: len(v) for k, v in strata.items() if k[0] == agent}, share, rng))
    covered: set[str] = set()
    chosen: list[int] = []
    taken: dict[tuple[str, str], int] = defaultdict(int)
    order = sorted(strata)
    rng.shuffle(order)
    while len(chosen) < n:
        progressed = False
        for key in order:  # one call per stratum per round: no stratum takes every rare call first
            if taken[key] >= quota[key]:
                continue
            pool = strata[key]
            best = max(range(len(pool)), key=lambda i: (len(rare.get(pool[i], set()) - covered), -i))
            call_id = pool.pop(best)
            chosen.append(call_id)
            covered |= rare.get(call_id, set())
            taken[key] += 1
            progressed = True
            if len(chosen) == n:
                break
        if not progressed:
            break
    return chosen, dict(taken)


#: per agent, how many random calls (times the calls asked) the machine's rare answers are read on:
#: a bound at 100,000 calls
CANDIDATES_PER_QUOTA = 10


def assign(session: Session, name: str | None, reviewers: Iterable[str], *, calls: int, agent: str | None = None,
           seed: int | None = None) -> Assigned:
    """Draw a calibration session: ``calls`` calls, every one assigned to every reviewer, blind.

    The sample rule:

    1. The population is every stored call with criterion results (only ``agent``'s when given).
    2. Strata: agent × score band, the bands being the low, middle and high third of the
       population's scores (cut at its 1/3 and 2/3 quantiles).
    3. ``calls`` is shared across agents in proportion to their calls, at least one each when there
       are as many calls as agents; each agent's share is split across its score thirds the same
       way (one in each third first when the share allows). So every agent, and within an agent
       every score third, is in the sample when the numbers allow.
    4. Criterion prevalence: for each criterion, the machine's rarer answer (yes or no, whichever
       fewer calls got) is the rare one, counted on up to ``max(50, 10 × calls)`` calls of each
       agent drawn at random (all of them on a smaller database). Strata take turns drawing one
       call each; a stratum draws the call with the most criteria whose rare answer the sample
       does not hold yet, ties in a random order. So a criterion the machine fails on 3 % of calls
       is in the sample with a failing call whenever the quota allows, and agreement on it is not
       computed from a column of one answer.

    Random choices come from ``seed`` (a new one is drawn and stored when None): the same seed on
    the same stored calls draws the same sample. ``name`` None: ``calibration-YYYY-MM-DD`` (with
    ``-2``, ``-3``, … if taken). Raises CalibrationError when the name is taken, no reviewer is
    named, or fewer calls can be drawn than asked (the message says how many there are).
    """
    reviewers = tuple(dict.fromkeys(r.strip() for r in reviewers if r.strip()))
    if not reviewers:
        raise CalibrationError("name the reviewers: --reviewers ana,ben,cy")
    if calls < 1:
        raise CalibrationError(f"--calls must be at least 1 (got {calls})")
    taken = {s.name for s in cq.sessions(session)}
    if name is None:
        base = f"calibration-{datetime.now(UTC).date().isoformat()}"
        name = next(n for n in (base, *(f"{base}-{i}" for i in range(2, len(taken) + 3))) if n not in taken)
    elif not name.strip():
        raise CalibrationError("the session name is empty")
    elif name in taken:
        existing = cq.sessions(session, name)[0]
        raise CalibrationError(f"a calibration session named {name!r} exists ({existing.calls} calls, reviewers "
                               f"{', '.join(existing.reviewers)}, created {existing.created_at:%Y-%m-%d}): "
                               "choose another --name")
    population = cq.sample_population(session, agent)
    if len(population) < calls:
        whose = f" of agent {agent!r}" if agent else ""
        have = f"there are {len(population)}" if population else "there are none"
        raise CalibrationError(f"asked for {calls} calls{whose} but {have} with criterion results to answer; "
                               f"ask for --calls {len(population)} or fewer" if population else
                               f"asked for {calls} calls{whose} but {have} with criterion results to answer: "
                               "score some calls first")
    if seed is None:
        seed = random.SystemRandom().randrange(2**31)
    # the machine's answers on a bounded, seeded set of candidates per agent (all of an agent's calls
    # up to that many), not on every call: the rare answers are judged on them
    rng = random.Random(seed)
    by_agent: dict[str, list[int]] = defaultdict(list)
    for c in population:
        by_agent[c.agent].append(c.id)
    limit = max(50, CANDIDATES_PER_QUOTA * calls)
    candidates: list[int] = []
    for ids in by_agent.values():
        rng.shuffle(ids)
        candidates += ids[:limit]
    statuses = cq.criterion_statuses(session, candidates)
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for st in statuses.values():
        for crit, status in st.items():
            counts[crit][status] += 1
    rare_answer = {crit: "pass" if n["pass"] < n["fail"] else "fail" for crit, n in counts.items() if n["pass"] + n["fail"]}
    rare = {cid: {c for c, s in st.items() if rare_answer.get(c) == s} for cid, st in statuses.items()}
    chosen, strata = draw_sample(population, calls, rare, seed)
    cq.create_session(session, name, seed, chosen, reviewers)
    return Assigned(name, seed, tuple(chosen), reviewers, strata)


def sessions(session: Session) -> list[SessionInfo]:
    return cq.sessions(session)


def _session_id(session: Session, name: str) -> int:
    found = cq.sessions(session, name)
    if not found:
        names = [s.name for s in cq.sessions(session)]
        close = difflib.get_close_matches(name, names, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else (f" (sessions: {', '.join(names)})" if names else
                                                             " (there is none yet: callqa calibrate assign)")
        raise CalibrationError(f"no calibration session named {name!r}{hint}")
    return found[0].id


def progress(session: Session, name: str | None = None) -> list[Progress]:
    """Per session (``name``: that one) and reviewer: calls done / assigned."""
    if name is not None:
        _session_id(session, name)
    return cq.progress(session, name)


def assignments(session: Session, reviewer: str, name: str | None = None) -> list[Assignment]:
    """The reviewer's assigned calls (in one session when ``name``), done or not."""
    if name is not None:
        _session_id(session, name)
    return cq.assignments(session, reviewer, name)


@dataclass(frozen=True)
class AssignedCall:
    """A call assigned to a reviewer, as the blind review list shows it: nothing of the machine's
    verdicts (no score, no flags)."""

    session: str
    call_id: int
    agent: str
    call_date: datetime
    file: str
    duration: float
    answered: int
    asked: int
    done: bool


def assigned_calls(session: Session, reviewer: str, name: str | None = None) -> list[AssignedCall]:
    """The reviewer's assigned calls with how many criteria they answered of how many."""
    mine = assignments(session, reviewer, name)
    calls = rq.calls_by_ids(session, [a.call_id for a in mine])
    counts = cq.answer_counts(session, reviewer, list(calls))
    return [AssignedCall(a.session, a.call_id, c.agent, c.call_date, c.file, c.duration, *counts[a.call_id],
                         a.done_at is not None)
            for a in mine if (c := calls.get(a.call_id)) is not None]


def next_call(session: Session, reviewer: str, name: str | None = None) -> int | None:
    """The reviewer's next assigned call not done yet (oldest session first), None when none."""
    return next((a.call_id for a in assignments(session, reviewer, name) if a.done_at is None), None)


# --------------------------------------------------------------------------- for agreement


def blind_ratings(session: Session, *, since: date | datetime | None = None, rubric_hash: str | None = None,
                  session_name: str | None = None) -> BlindRatings:
    """Every blind answer (answered on or after ``since``; given on calls scored with
    ``rubric_hash``; assigned in the session ``session_name``), and the machine's answers on the
    same calls and criteria (its criterion status now; ``MachineAnswer.rubric_hash`` says which
    rubric that is, which differs from the answer's when the call was rescored since; none for a
    criterion the call's current scoring no longer has)."""
    if isinstance(since, date) and not isinstance(since, datetime):
        since = datetime(since.year, since.month, since.day, tzinfo=UTC)
    session_id = None if session_name is None else _session_id(session, session_name)
    answers, machine = cq.blind_ratings(session, since=since, rubric_hash=rubric_hash, session_id=session_id)
    return BlindRatings(tuple(answers), tuple(machine))


__all__ = [
    "ANSWER_WORDS", "AnswerOutcome", "Assigned", "AssignedCall", "Assignment", "BlindCall", "BANDS", "BLIND_ANSWERS", "CalibrationError",
    "Comparison", "Progress", "Question", "SessionInfo", "answers_of", "assign", "assigned_calls", "assignments", "blind_call", "blind_ratings",
    "comparison", "draw_sample", "next_call", "normalise_answer", "progress", "questions", "record_answer",
    "record_answers", "score_bands", "sessions",
]
