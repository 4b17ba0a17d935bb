"""Reviewing, the services the terminal UI (and any other front end) calls about stored calls:
the calls table, review actions, the review queue, agents' overviews (agreement:
``services.agreement``).

Pure functions (ranking, sampling, scores after an override) and
functions taking a Session that call the repository (``callqa.storage``) and the review reads
(``callqa.storage.review_queries``). No SQL here, no UI.

Rules a user would notice:

- **Review queue.** Calls that most need a human, highest priority first; one entry per call
  with every reason that put it there:
  ``disputed`` (an agent's dispute not settled yet: shown whatever else was reviewed),
  ``critical`` (a critical criterion failed), ``uncertain roles`` (speaker roles decided with
  confidence under ``QueueSettings.role_confidence``, 0.8), ``poor audio`` (mean word
  recognition probability under ``QueueSettings.word_probability``, 0.75), ``fuzzy match``
  (a flag from a fuzzy phrase match scoring less than ``fuzzy_margin`` (5) points above its
  criterion's threshold), ``uncertain meaning`` (a flag from a semantic match that the detector
  marked low confidence: similarity under the threshold plus the check's ``confident``),
  ``unsure words`` (a flag nobody decided on yet rests on words the transcript is unsure of,
  ``Flag.uncertain``: it does not count until a reviewer accepts it, so it ranks above the other
  low-confidence reasons), and
  ``lowest score`` (each agent's ``lowest_per_agent`` lowest-scoring calls among the ``window``
  newest unreviewed calls, 1 by default: a weak call is seen even when nothing else flags it), and
  ``weekly sample`` (``per_agent_week`` calls, 1 by default, drawn
  at random but reproducibly from each agent's calls of each of the last ``weeks`` weeks).
  Among calls of the same priority, those the machine failed on a criterion that is not
  automatic yet (``callqa agreement``'s graduation) come first: a person is asked about them.
  Except disputes, only calls no reviewer has looked at are queued; the low-confidence rules
  look at the ``window`` newest unreviewed calls (5,000).
- **Overrides.** Overriding a section's score also sets the call's overall score: storage
  rescores the call from its stored criterion results (no rubric needed); a call stored before
  those were kept is recomputed with the rubric's section weights over the final section scores
  (and the rubric's critical cap when a critical item failed), when it was scored with that rubric.
"""

from __future__ import annotations

import hashlib
import random
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from callqa import storage
from callqa.storage import calibration_queries as cq
from callqa.storage import review_queries as rq
from callqa.records import UNASSIGNED, UNCERTAIN_BELOW, CallSummary, Flag, Review, StoredCall
from callqa.rubric.flags import fill_placeholders
from callqa.scoring import overall_score
from callqa.transcript import Segment

# --------------------------------------------------------------------------- calls table


@dataclass(frozen=True)
class CallFilters:
    """The calls table's filters (``None`` / ``False``: not filtered)."""

    agent: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    score_min: float | None = None
    score_max: float | None = None
    category: str | None = None
    unreviewed: bool = False
    search: str | None = None

    def kwargs(self) -> dict[str, Any]:
        """Keyword arguments of ``storage.list_calls`` / ``count_calls``."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["unreviewed"] = True if self.unreviewed else None
        out["search"] = self.search or None
        return out

    def describe(self) -> str:
        parts = []
        if self.agent:
            parts.append(f"agent={self.agent}")
        if self.date_from or self.date_to:
            parts.append(f"date {self.date_from or '…'} to {self.date_to or '…'}")
        if self.score_min is not None or self.score_max is not None:
            lo = "…" if self.score_min is None else f"{self.score_min:g}"
            hi = "…" if self.score_max is None else f"{self.score_max:g}"
            parts.append(f"score {lo}-{hi}")
        if self.category:
            parts.append(f"category={self.category}")
        if self.unreviewed:
            parts.append("not reviewed yet")
        if self.search:
            parts.append(f'text contains "{self.search}"')
        return ", ".join(parts) or "none"

    @property
    def empty(self) -> bool:
        return self == CallFilters()

    def with_(self, **changes: Any) -> CallFilters:
        return replace(self, **changes)


def parse_date(text: str | None) -> date | None:
    """``YYYY-MM-DD`` (blank: None); raises ValueError with a message a user can act on."""
    text = (text or "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a date; use YYYY-MM-DD") from None


def parse_score(text: str | None) -> float | None:
    """A score 0-100 (blank: None); raises ValueError."""
    text = (text or "").strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a number") from None
    if not 0 <= value <= 100:
        raise ValueError(f"a score is from 0 to 100, got {value:g}")
    return value


@dataclass(frozen=True)
class CallsPage:
    rows: tuple[CallSummary, ...]
    offset: int
    limit: int
    total: int | None  # None: not counted (yet)


def calls_page(session: Session, filters: CallFilters, *, order_by: str = "-date", offset: int = 0,
               limit: int = 100, count: bool = True) -> CallsPage:
    """One page of the calls table (and, with ``count``, how many calls match)."""
    kwargs = filters.kwargs()
    rows = storage.list_calls(session, order_by=order_by, limit=limit, offset=offset, **kwargs)
    total = storage.count_calls(session, **kwargs) if count else None
    return CallsPage(tuple(rows), offset, limit, total)


def find_in_segments(segments: Sequence[Segment], text: str) -> list[int]:
    """Indexes of the segments whose text contains ``text`` (case-insensitive)."""
    needle = text.strip().casefold()
    if not needle:
        return []
    return [i for i, s in enumerate(segments) if needle in s.text.casefold()]


def segment_at(segments: Sequence[Segment], seconds: float | None, speaker: str | None = None) -> int | None:
    """The segment a moment falls in (preferring ``speaker``'s), else the nearest one after it,
    else the last; None without segments."""
    if not segments:
        return None
    if seconds is None:
        return 0
    inside = [i for i, s in enumerate(segments) if s.start - 0.05 <= seconds <= s.end + 0.05]
    if inside:
        mine = [i for i in inside if segments[i].speaker == speaker]
        return (mine or inside)[0]
    after = [i for i, s in enumerate(segments) if s.start >= seconds]
    return after[0] if after else len(segments) - 1


def get_call(session: Session, call_id: int) -> StoredCall | None:
    """A call with its transcript, flags, sections and reviews; None if absent."""
    return storage.get_call(session, call_id)


def with_flags_to_review(session: Session, call_ids: Iterable[int]) -> set[int]:
    """Those of ``call_ids`` with a flag nobody has accepted or rejected yet (one query)."""
    return rq.with_flags_to_review(session, call_ids)


def agent_names(session: Session) -> list[str]:
    """Every agent's name (completions for the filters)."""
    return rq.agent_names(session)


# --------------------------------------------------------------------------- review actions


def decide_flag(session: Session, call_id: int, flag_id: int, *, accept: bool, reviewer: str,
                text: str | None = None) -> Review:
    return storage.add_review(session, call_id, "accept" if accept else "reject", reviewer=reviewer,
                              flag_id=flag_id, text=text)


def accept_flags(session: Session, call_id: int, flag_ids: Iterable[int], *, reviewer: str) -> list[Review]:
    """Accept these flags of a call (the reviewer's "accept the rest"), one review each."""
    return [decide_flag(session, call_id, flag_id, accept=True, reviewer=reviewer) for flag_id in flag_ids]


def comment(session: Session, call_id: int, text: str, *, reviewer: str) -> Review:
    if not text.strip():
        raise storage.ReviewError("a comment needs some text")
    return storage.add_review(session, call_id, "comment", reviewer=reviewer, text=text.strip())


def dispute(session: Session, call_id: int, text: str, *, by: str, flag_id: int | None = None) -> Review:
    """Record an agent's dispute (of one flag, or of the call): the call shows in the queue until
    a reviewer resolves it."""
    if not text.strip():
        raise storage.ReviewError("a dispute needs the agent's reason")
    return storage.add_review(session, call_id, "dispute", reviewer=by, flag_id=flag_id, text=text.strip())


def resolve_dispute(session: Session, call_id: int, text: str, *, reviewer: str,
                    flag_id: int | None = None) -> Review:
    return storage.add_review(session, call_id, "resolve_dispute", reviewer=reviewer, flag_id=flag_id,
                              text=text.strip() or None)


def open_disputes(call: StoredCall) -> list[Review]:
    """The call's disputes no reviewer has resolved yet (a call-level resolution settles all)."""
    open_: dict[int | None, list[Review]] = defaultdict(list)
    for r in call.reviews:
        if r.kind == "dispute":
            open_[r.flag_id].append(r)
        elif r.kind == "resolve_dispute":
            if r.flag_id is None:
                open_.clear()
            else:
                open_.pop(r.flag_id, None)
    return [r for rs in open_.values() for r in rs]


def missed_flag(rubric: Any, criterion_id: str, segment: Segment, note: str = "", agent: str | None = None) -> Flag:
    """The flag a reviewer adds for ``criterion_id`` on a transcript line: the criterion's own
    category, severity, message and suggestion (said as ``agent`` would); the line's speaker,
    time and words."""
    crit = next((c for c in rubric.criteria if c.id == criterion_id), None)
    if crit is None:
        raise storage.ReviewError(f"the rubric has no criterion {criterion_id!r}")
    polarity = crit.polarity
    return Flag(criterion=crit.id, category=crit.category, polarity=polarity,
                severity=crit.severity if polarity == "negative" else "info", speaker=segment.speaker,
                start=segment.start, end=segment.end, text=segment.text,
                message=crit.message if polarity == "negative" else (crit.praise or crit.name),
                suggestion=fill_placeholders(crit.suggestion, agent=agent) if crit.suggestion else None,
                explanation=f"added by a reviewer{': ' + note.strip() if note.strip() else ''}",
                details={"how": "reviewer", "note": note.strip()} if note.strip() else {"how": "reviewer"})


def add_missed_flag(session: Session, call_id: int, rubric: Any, criterion_id: str, segment: Segment, *,
                    reviewer: str, note: str = "") -> Review:
    stored = storage.call_summary(session, call_id)
    agent = stored.agent if stored is not None and stored.agent != UNASSIGNED else None
    flag = missed_flag(rubric, criterion_id, segment, note, agent)
    return storage.add_review(session, call_id, "add_flag", reviewer=reviewer, flag=flag,
                              text=note.strip() or None)


def override_section(session: Session, call: StoredCall, section: str, new_score: float, reason: str, *,
                     reviewer: str, rubric: Any | Callable[[], Any] | None = None) -> Review:
    """Override one section's score with a reason; the overall score follows. Storage rescores a
    call from its stored criterion results; a call stored before they were kept takes the
    rubric's section weights (``rubric``, or a function that loads it: called only then)."""
    if not reason.strip():
        raise storage.ReviewError("an override needs a reason")
    call_score = None
    if rubric is not None and not rq.has_criterion_results(session, call.call.id):
        rubric = rubric() if callable(rubric) else rubric
        if rubric.id == call.call.rubric_id:
            finals = {s.section: s.final for s in call.sections}
            finals[section] = new_score
            call_score, _ = overall_score(((s.weight, finals.get(s.id)) for s in rubric.sections),
                                          call.call.critical_failed, rubric.critical_cap)
    return storage.add_review(session, call.call.id, "override", reviewer=reviewer, section=section,
                              new_score=new_score, text=reason.strip(), call_score=call_score)


# --------------------------------------------------------------------------- review queue

#: reason → priority; an item's priority is its highest reason's plus 1 per further reason
PRIORITY = {"disputed": 100, "critical": 90, "unsure words": 70, "uncertain roles": 60, "poor audio": 55,
            "fuzzy match": 40, "uncertain meaning": 40, "lowest score": 30, "weekly sample": 10}


@dataclass(frozen=True)
class QueueSettings:
    window: int = 5000
    role_confidence: float = 0.8
    word_probability: float = 0.75
    fuzzy_margin: float = 5.0
    weeks: int = 4
    per_agent_week: int = 1
    lowest_per_agent: int = 1
    limit: int = 500
    seed: str = "callqa"


@dataclass(frozen=True)
class QueueItem:
    call: CallSummary
    reasons: tuple[str, ...]
    priority: float
    #: what each reason measured, e.g. {"poor audio": "mean word probability 0.71"}
    notes: dict[str, str] = field(default_factory=dict, compare=False)


def rank(reasons: Mapping[int, Iterable[str]], first: Iterable[int] = ()
         ) -> list[tuple[int, tuple[str, ...], float]]:
    """(call id, reasons by priority, then by name: the same order in every process, whatever
    the set's; priority), highest priority first, ties by call id descending (newer calls have
    higher ids), except that calls in ``first`` (the machine failed them on a criterion that is not
    automatic yet) come before the other calls of the same priority."""
    first = set(first)
    out = []
    for call_id, rs in reasons.items():
        ordered = tuple(sorted(set(rs), key=lambda r: (-PRIORITY.get(r, 0), r)))
        if not ordered:
            continue
        out.append((call_id, ordered, PRIORITY.get(ordered[0], 0) + len(ordered) - 1))
    out.sort(key=lambda t: (-t[2], t[0] not in first, -t[0]))
    return out


def _week(moment: datetime | date) -> date:
    d = moment.date() if isinstance(moment, datetime) else moment
    return d - timedelta(days=d.weekday())


def weekly_sample(calls: Iterable[tuple[int, str, datetime | date]], per_week: int = 1,
                  seed: str = "callqa") -> set[int]:
    """``per_week`` call ids drawn at random from each agent's calls of each week (Monday to
    Sunday). Reproducible: the same calls give the same sample, whatever their order."""
    groups: dict[tuple[str, date], list[int]] = defaultdict(list)
    for call_id, agent, when in calls:
        groups[(agent, _week(when))].append(call_id)
    chosen: set[int] = set()
    for (agent, week), ids in groups.items():
        digest = hashlib.sha256(f"{seed}|{agent}|{week.isoformat()}".encode()).digest()
        rng = random.Random(int.from_bytes(digest[:8], "big"))
        chosen.update(rng.sample(sorted(ids), min(per_week, len(ids))))
    return chosen


def fuzzy_threshold(rubric: Any | None, criterion: str, default: float = 90.0) -> float:
    """The fuzzy-match threshold of a criterion's phrase check (``default`` when unknown)."""
    if rubric is None:
        return default
    crit = next((c for c in rubric.criteria if c.id == criterion), None)
    return float(getattr(getattr(crit, "check", None), "threshold", default) or default)


def review_queue(session: Session, settings: QueueSettings = QueueSettings(), *,
                 rubric: Any | None = None, states: Mapping[str, str] | None = None) -> list[QueueItem]:
    """The calls that most need a human, highest priority first (see the module doc). With
    ``states`` (the workspace's criterion states), a call the machine failed on a criterion that is
    not automatic yet comes before the other calls of the same priority (``rank``'s ``first``)."""
    reasons: dict[int, set[str]] = defaultdict(set)
    notes: dict[int, dict[str, str]] = defaultdict(dict)
    for c in rq.disputed(session):
        reasons[c.id].add("disputed")
    for c in rq.critical_unreviewed(session, settings.limit):
        reasons[c.id].add("critical")

    recent = rq.recent_unreviewed(session, settings.window)
    for c in recent:
        if c.critical_failed:
            reasons[c.id].add("critical")
        if c.role_confidence < settings.role_confidence:
            reasons[c.id].add("uncertain roles")
            notes[c.id]["uncertain roles"] = f"role confidence {c.role_confidence:.2f}"
    ids = [c.id for c in recent]
    for call_id, (mean, n) in rq.word_probabilities(session, ids).items():
        if mean < settings.word_probability:
            reasons[call_id].add("poor audio")
            notes[call_id]["poor audio"] = f"mean word probability {mean:.2f} over {n} words"
    for call_id, (criterion, confidence, text, n) in rq.unsure_flags(session, ids, UNCERTAIN_BELOW).items():
        reasons[call_id].add("unsure words")
        notes[call_id]["unsure words"] = (f"{n} flag(s) on words heard unsurely; {criterion} on "
                                          f"\"{text}\" at {confidence:.2f}")
    for hit in rq.fuzzy_hits(session, ids):
        if hit.how == "semantic":
            if hit.low_confidence:
                reasons[hit.call_id].add("uncertain meaning")
                notes[hit.call_id]["uncertain meaning"] = (f"{hit.criterion} matched by meaning at {hit.score:g} "
                                                           f"(threshold {hit.threshold:g})")
            continue
        threshold = fuzzy_threshold(rubric, hit.criterion)
        if hit.score < threshold + settings.fuzzy_margin:
            reasons[hit.call_id].add("fuzzy match")
            notes[hit.call_id]["fuzzy match"] = f"{hit.criterion} matched at {hit.score:g} (threshold {threshold:g})"

    latest = rq.latest_call_date(session)
    since = rq.weeks_before(latest, settings.weeks) if latest is not None and settings.weeks > 0 else None
    if since is not None and settings.per_agent_week > 0:
        population = rq.calls_since(session, since)
        sample = weekly_sample(((c.id, c.agent, c.call_date) for c in population), settings.per_agent_week,
                               settings.seed)
        status = {c.id: c.review_status for c in population}
        for call_id in sample:
            if status[call_id] == "unreviewed":
                reasons[call_id].add("weekly sample")
                notes[call_id]["weekly sample"] = "random pick of the agent's week"
    if settings.lowest_per_agent > 0:
        by_agent: dict[str, list[rq.RecentCall]] = defaultdict(list)
        for c in recent:
            if c.agent != UNASSIGNED:
                by_agent[c.agent].append(c)
        for calls in by_agent.values():
            for c in sorted(calls, key=lambda c: (c.score, c.id))[:settings.lowest_per_agent]:
                reasons[c.id].add("lowest score")
                notes[c.id]["lowest score"] = f"the agent's lowest of its newest unreviewed calls ({c.score:.1f})"

    first: set[int] = set()
    if states is not None:
        for call_id, statuses in cq.criterion_statuses(session, list(reasons)).items():
            if any(status == "fail" and states.get(c, "human") != "automatic" for c, status in statuses.items()):
                first.add(call_id)
    ranked = rank(reasons, first)[:settings.limit]
    calls = rq.calls_by_ids(session, [r[0] for r in ranked])
    return [QueueItem(calls[cid], rs, prio, notes.get(cid, {})) for cid, rs, prio in ranked if cid in calls]


# --------------------------------------------------------------------------- agents


@dataclass(frozen=True)
class AgentOverview:
    agent: str
    calls: int
    score: float | None
    sections: dict[str, float | None]
    #: weekly average scores, oldest first (None: no call that week)
    trend: tuple[float | None, ...]
    #: the lowest-scoring sections, lowest first: (section, average)
    weakest: tuple[tuple[str, float], ...]


def weekly_trend(days: Iterable[tuple[date, int, float]], first_week: date, weeks: int) -> tuple[float | None, ...]:
    """Weekly averages from daily (day, calls, sum of scores), for ``weeks`` weeks from
    ``first_week`` (a Monday)."""
    n = [0] * weeks
    total = [0.0] * weeks
    for day, calls, s in days:
        i = (_week(day) - first_week).days // 7
        if 0 <= i < weeks:
            n[i] += calls
            total[i] += s
    return tuple(round(total[i] / n[i], 1) if n[i] else None for i in range(weeks))


def weakest(sections: Mapping[str, float | None], k: int = 2) -> tuple[tuple[str, float], ...]:
    scored = [(name, v) for name, v in sections.items() if v is not None]
    return tuple(sorted(scored, key=lambda t: t[1])[:k])


def agent_overviews(session: Session, *, weeks: int = 12) -> list[AgentOverview]:
    """Every agent: averages (``storage.agent_summaries``), a weekly trend over the last
    ``weeks`` weeks of stored calls, and the weakest sections."""
    summaries = storage.agent_summaries(session)
    latest = rq.latest_call_date(session)
    days: dict[str, list[tuple[date, int, float]]] = defaultdict(list)
    first = None
    if latest is not None:
        since = rq.weeks_before(latest, weeks)
        first = since.date()
        for d in rq.daily_scores(session, since):
            days[d.agent].append((d.day, d.calls, d.total))
    out = []
    for s in summaries:
        trend = weekly_trend(days.get(s.agent, ()), first, weeks) if first else ()
        out.append(AgentOverview(s.agent, s.calls, s.score, dict(s.sections), trend, weakest(s.sections)))
    return out


def sparkline(values: Sequence[float | None], lo: float = 0.0, hi: float = 100.0) -> str:
    """A one-line text sparkline (▁..█; a space for a missing value)."""
    bars = "▁▂▃▄▅▆▇█"
    out = []
    for v in values:
        if v is None:
            out.append(" ")
            continue
        x = 0.0 if hi <= lo else (min(max(v, lo), hi) - lo) / (hi - lo)
        out.append(bars[min(len(bars) - 1, int(x * len(bars)))])
    return "".join(out)


__all__ = [
    "AgentOverview", "CallFilters", "CallsPage", "PRIORITY", "QueueItem", "QueueSettings",
    "accept_flags", "add_missed_flag", "agent_overviews", "calls_page",
    "comment", "decide_flag", "dispute", "find_in_segments", "fuzzy_threshold", "missed_flag", "open_disputes",
    "override_section", "parse_date", "parse_score", "rank", "resolve_dispute", "review_queue",
    "segment_at", "sparkline", "weakest", "weekly_sample", "weekly_trend",
]
