"""What a coaching report says, gathered from storage: plain frozen data, no HTML.

How the content is chosen (a user sees the results; keep this in step with the README):

- Scores are the ones that count: a reviewer's call score or section override wins over the
  machine's. "Team" is every agent's calls in the same period, this agent's included.
- Flags a reviewer rejected are left out of everything (counts, quotes, phrases, examples);
  flags a reviewer added count like the machine's.
- Things to work on: criteria with a standing negative flag on the agent's calls, ranked by the
  points they cost per call on average: ``share of calls failed × points one failure costs``,
  where one failure costs ``100 × criterion weight / weights of its section × section weight /
  weights of all sections`` (a critical criterion: the whole score above the rubric's cap).
  The top 3 are the highest-ranked criteria that have words to quote, up to 3 quotes each
  (different calls first, newest first): the flagged words; for a flag about something
  missing in a time window ("no greeting in the first 30 s") the turn said there instead; for a
  measured event (an interruption) the turn it happened in. Criteria missed over whole calls
  ("never took ownership") have nothing to quote: the next 5 by rank are listed after the top 3
  with how often and what to say.
- Strengths: sections where the agent averages at least 75 (or at least 60 and 5 above the
  team), each with one quoted positive flag of the agent's own, best (heaviest criterion,
  longest words, newest call) first. Up to 3; a section without such a quote is not listed.
- Listening: measured from the stored turns of every call (not from flags): the agent's share of
  talk time, interruptions (the agent starts while the customer speaks and they overlap for at
  least the rubric's threshold), silences at least as long as the rubric's hold threshold, and
  the longest silence, each against the team.
- Word confidence: a flag whose words the transcript is unsure of (``Flag.uncertain``) that no
  reviewer accepted is never counted or quoted as the agent's own words (things to work on,
  strengths, phrases): such flags are listed apart ("check the recording") with what was heard.
  Words are quoted as said only from flags sure enough to quote (``Flag.quotable``, or accepted by
  a reviewer); a surer-than-uncertain flag that is not counts, unquoted. Every quote says how sure
  the transcript is of it (``Quote.sureness``).
- Quotes are the sentence around the flagged words, PII-redacted (``callqa.redact``) unless
  ``redact=False``.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from statistics import fmean
from typing import Any

from sqlalchemy.orm import Session

from callqa.errors import CallQAError
from callqa.records import QUOTABLE_FROM, UNASSIGNED, UNCERTAIN_BELOW, StoredFlag
from callqa.redact import redact_text
from callqa.rubric.flags import fill_placeholders
from callqa.rubric.metrics import silent_gaps, talk_share, talked_over
from callqa.rubric.schema import Criterion, MetricCheck, Rubric
from callqa.storage import report_queries as q
from callqa.transcript import word_spans
from callqa.workspace import STATE_LEGEND, STATE_MARKERS

#: Version of the JSON form written by ``report_json``.
REPORT_JSON_VERSION = 1
FOCUS_ITEMS = 3
#: Further failing criteria listed after the top 3 (name, how often, what to say).
ALSO_ITEMS = 5
QUOTES_PER_ITEM = 3
#: flags on unsure words listed apart, at most
UNSURE = 10
STRENGTHS = 3
STRENGTH_MIN = 75.0
#: ... or at least this, and STRENGTH_LEAD points above the team.
STRENGTH_FLOOR, STRENGTH_LEAD = 60.0, 5.0
PHRASES = 8
LOWEST_CALLS = 5
MISSED_IN_LISTED = 6
QUOTE_CHARS = 220
#: Points a failure costs when its criterion is not in the rubric (a flag from another rubric).
_SEVERITY_POINTS = {"critical": 10.0, "major": 4.0, "minor": 2.0, "info": 0.5}


class UnknownAgentError(CallQAError):
    """No stored call for this agent name; ``known`` lists the names that have calls."""

    def __init__(self, agent: str, known: Sequence[str]):
        self.agent, self.known = agent, tuple(known)
        listed = ", ".join(known) if known else "none yet: run `callqa score FOLDER` first"
        if agent == UNASSIGNED:
            super().__init__(f"{UNASSIGNED!r} is not an agent: those calls had no agent named (use --agent, a "
                             f"calls.csv or --name-pattern and score them again); known agents: {listed}")
            return
        super().__init__(f"no stored calls for agent {agent!r}; known agents: {listed}")


# ------------------------------------------------------------------------------- the content

@dataclass(frozen=True, slots=True)
class CallRef:
    call_id: int
    file: str
    call_date: date
    score: float | None = None
    negative_flags: int = 0


@dataclass(frozen=True, slots=True)
class Quote:
    """Words from one of the agent's calls. ``match``: the flagged words inside ``text`` (None
    when the quote is context for something missing)."""

    call_id: int
    file: str
    call_date: date
    start: float
    speaker: str
    text: str
    match: str | None = None
    #: the lowest probability of the quoted flag's words, or of the turn quoted whole (None: not known)
    confidence: float | None = None

    @property
    def quotable(self) -> bool:
        """Sure enough to quote as said (``records.QUOTABLE_FROM``; not known: as given)."""
        return self.confidence is None or self.confidence >= QUOTABLE_FROM

    @property
    def sureness(self) -> str:
        """How sure the transcript is of the quoted words, in words."""
        if self.confidence is None:
            return "word confidence not known"
        sure = "unsure: check the recording" if self.confidence < UNCERTAIN_BELOW else "sure"
        return f"transcript {sure} (least sure word {self.confidence:.0%})"

    @property
    def timestamp(self) -> str:
        minutes, seconds = divmod(int(round(self.start)), 60)
        return f"{minutes}:{seconds:02d}"

    def parts(self) -> tuple[str, str, str]:
        """(before, match, after): the text split around the flagged words, for highlighting."""
        if self.match:
            i = self.text.lower().find(self.match.lower())
            if i >= 0:
                j = i + len(self.match)
                return self.text[:i], self.text[i:j], self.text[j:]
        return self.text, "", ""


@dataclass(frozen=True, slots=True)
class UnsureFlag:
    """A flag on words the transcript is unsure of: what was heard, to check against the recording."""

    criterion: str
    name: str
    polarity: str
    quote: Quote


@dataclass(frozen=True, slots=True)
class SectionLine:
    section: str
    name: str
    score: float | None
    team: float | None
    calls: int


@dataclass(frozen=True, slots=True)
class TrendPoint:
    week: date  # the Monday
    calls: int
    score: float
    team: float | None


@dataclass(frozen=True, slots=True)
class Strength:
    section: str
    name: str
    score: float
    team: float | None
    criterion: str | None
    praise: str | None
    example: Quote | None


@dataclass(frozen=True, slots=True)
class FocusItem:
    criterion: str
    name: str
    section: str | None
    severity: str
    message: str
    suggestion: str | None
    seed: str | None
    guidance: str | None
    failed_calls: int
    calls: int
    team_rate: float | None
    #: points one failure costs on a call
    points: float
    #: average points lost per call (failed share × points)
    impact: float
    quotes: tuple[Quote, ...]
    #: quotes that show context (what was said where the missing thing belonged)
    context: bool
    missed_in: tuple[CallRef, ...]
    #: the criterion's graduation state (``services.agreement``); None: not asked for
    state: str | None = None

    @property
    def rate(self) -> float:
        return self.failed_calls / self.calls if self.calls else 0.0

    @property
    def marker(self) -> str:
        """† / ‡ when the criterion is not automatic yet (``agreement.MARKER_LEGEND``)."""
        return STATE_MARKERS.get(self.state or "automatic", "")


@dataclass(frozen=True, slots=True)
class PhraseCount:
    phrase: str
    count: int
    calls: int
    criterion: str
    name: str
    suggestion: str | None


@dataclass(frozen=True, slots=True)
class ListeningMetric:
    key: str
    label: str
    value: float | None
    team: float | None
    unit: str  # "%" | "per call" | "s"
    target: str | None
    #: the agent is past the rubric's limit (or clearly worse than the team)
    concern: bool


@dataclass(frozen=True, slots=True)
class AgentReport:
    agent: str
    generated_at: datetime
    date_from: date | None
    date_to: date | None
    first_call: date | None
    last_call: date | None
    rubric_id: str
    rubric_name: str
    calls: int
    score: float | None
    team_score: float | None
    team_calls: int
    team_agents: int
    sections: tuple[SectionLine, ...]
    trend: tuple[TrendPoint, ...]
    strengths: tuple[Strength, ...]
    focus: tuple[FocusItem, ...]
    #: further failing criteria after the top 3, without quotes
    also: tuple[FocusItem, ...]
    phrases: tuple[PhraseCount, ...]
    listening: tuple[ListeningMetric, ...]
    lowest_calls: tuple[CallRef, ...]
    reviews: q.ReviewCounts
    redacted: bool
    #: flags on words the transcript is unsure of: not counted or quoted above
    unsure: tuple[UnsureFlag, ...] = ()

    @property
    def legend(self) -> str:
        """The markers' legend, when an item to work on carries one."""
        return STATE_LEGEND if any(f.marker for f in (*self.focus, *self.also)) else ""


@dataclass(frozen=True, slots=True)
class AgentRow:
    agent: str
    calls: int
    score: float | None
    sections: dict[str, float | None]
    top_focus: str | None
    talk_share: float | None


@dataclass(frozen=True, slots=True)
class TeamOverview:
    generated_at: datetime
    date_from: date | None
    date_to: date | None
    first_call: date | None
    last_call: date | None
    rubric_id: str
    rubric_name: str
    calls: int
    score: float | None
    sections: tuple[SectionLine, ...]
    trend: tuple[TrendPoint, ...]
    agents: tuple[AgentRow, ...]
    reports: tuple[AgentReport, ...] = field(default=(), repr=False)
    redacted: bool = True
    #: calls in range that no agent was named for: in no average, ranking or report
    unassigned_calls: int = 0


# ------------------------------------------------------------------------------- entry points

@contextmanager
def _session(session_or_db: Session | str | None) -> Iterator[Session]:
    if isinstance(session_or_db, Session):
        yield session_or_db
        return
    from callqa.services import session_for

    with session_for(session_or_db) as session:
        yield session


def _rubric(rubric: Rubric | None) -> Rubric:
    if rubric is not None:
        return rubric
    from callqa.scoring import default_rubric

    return default_rubric()


def build_report(session_or_db: Session | str | None, agent: str, *, date_from: date | None = None,
                 date_to: date | None = None, rubric: Rubric | None = None, redact: bool = True,
                 now: datetime | None = None, states: Mapping[str, str] | None = None) -> AgentReport:
    """One agent's coaching report (see the module doc). ``session_or_db``: a Session, or a
    database URL (None: the default database). ``states``: the criteria's graduation states (the
    workspace's ``criteria``; a criterion without one is human): the things to work on whose
    criterion is not automatic carry a marker. Raises UnknownAgentError."""
    rubric = _rubric(rubric)
    with _session(session_or_db) as session:
        team = _Team.gather(session, rubric, date_from, date_to)
        return with_states(_build(session, team, agent, redact, now), states)


def with_states(report: AgentReport, states: Mapping[str, str] | None) -> AgentReport:
    """The report with each thing to work on marked with its criterion's state (None: unmarked)."""
    if states is None:
        return report

    def mark(items: tuple[FocusItem, ...]) -> tuple[FocusItem, ...]:
        return tuple(replace(f, state=states.get(f.criterion, "human")) for f in items)

    return replace(report, focus=mark(report.focus), also=mark(report.also))


def build_team_overview(session_or_db: Session | str | None, *, date_from: date | None = None,
                        date_to: date | None = None, rubric: Rubric | None = None, redact: bool = True,
                        now: datetime | None = None, states: Mapping[str, str] | None = None) -> TeamOverview:
    """The team page: every agent with calls in range, each agent's report in ``reports``."""
    rubric = _rubric(rubric)
    now = now or datetime.now(UTC)
    with _session(session_or_db) as session:
        team = _Team.gather(session, rubric, date_from, date_to)
        names = q.agents_with_calls(session, date_from=date_from, date_to=date_to)
        reports = tuple(with_states(_build(session, team, name, redact, now), states) for name in names)
    rows = tuple(AgentRow(r.agent, r.calls, r.score, {s.section: s.score for s in r.sections},
                          r.focus[0].name if r.focus else None,
                          next((m.value for m in r.listening if m.key == "talk_share"), None))
                 for r in reports)
    dates = [c.call_date.date() for c in team.calls]
    return TeamOverview(now, date_from, date_to, min(dates, default=None), max(dates, default=None), rubric.id,
                        rubric.name, len(team.calls), team.score, team.section_lines(),
                        team.trend(), rows, reports, redact,
                        q.count_unassigned(session, date_from=date_from, date_to=date_to))


# ------------------------------------------------------------------------------- the team

@dataclass
class _Thresholds:
    talk_share: float = 0.7
    overlap_s: float = 1.0
    hold_s: float = 30.0

    @classmethod
    def of(cls, rubric: Rubric) -> _Thresholds:
        t = cls()
        holds = []
        for c in rubric.criteria:
            check = c.check
            if not isinstance(check, MetricCheck):
                continue
            if check.metric == "talk_ratio" and check.max is not None:
                t.talk_share = check.max
            elif check.metric == "interruptions":
                t.overlap_s = check.min_s
            elif check.metric in ("silence", "holds"):
                holds.append(check.min_s)
        if holds:
            t.hold_s = min(holds)
        return t


@dataclass(frozen=True, slots=True)
class _CallMetrics:
    talk_share: float | None
    interruptions: int
    holds: int
    longest_gap: float


def call_metrics(spans: list[tuple[str, float, float]], overlap_s: float, hold_s: float) -> _CallMetrics:
    """Talk share, interruptions, holds and the longest silence of one call's (speaker, start,
    end) turns: the rubric's own metric definitions (``rubric.metrics``)."""
    gaps = [e - s for s, e in silent_gaps(spans)]
    return _CallMetrics(talk_share(spans), len(talked_over(spans, overlap_s)), sum(g >= hold_s for g in gaps),
                        max(gaps, default=0.0))


def _week(d: datetime) -> date:
    day = d.date()
    return day - timedelta(days=day.weekday())


def _mean(values: Iterable[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return fmean(vals) if vals else None


@dataclass
class _Team:
    """Everything about the whole team in the period, gathered once for any number of reports."""

    rubric: Rubric
    date_from: date | None
    date_to: date | None
    calls: list[q.ReportCall]
    sections: list[q.SectionAverage]
    failing: dict[str, int]
    metrics: dict[int, _CallMetrics]
    thresholds: _Thresholds
    agents: int

    @classmethod
    def gather(cls, session: Session, rubric: Rubric, date_from: date | None, date_to: date | None) -> _Team:
        thresholds = _Thresholds.of(rubric)
        calls = q.calls(session, date_from=date_from, date_to=date_to)
        metrics = {cid: call_metrics(spans, thresholds.overlap_s, thresholds.hold_s)
                   for cid, spans in q.segment_timings(session, date_from=date_from, date_to=date_to)}
        return cls(rubric, date_from, date_to, calls,
                   q.section_averages(session, date_from=date_from, date_to=date_to),
                   q.failing_calls_by_criterion(session, date_from=date_from, date_to=date_to),
                   metrics, thresholds, len({c.agent_id for c in calls}))

    @property
    def score(self) -> float | None:
        return _mean(c.score for c in self.calls)

    def section_name(self, section: str) -> str:
        return next((s.name for s in self.rubric.sections if s.id == section), section.replace("_", " ").title())

    def section_lines(self, mine: list[q.SectionAverage] | None = None) -> tuple[SectionLine, ...]:
        team = {s.section: s for s in self.sections}
        rows = mine if mine is not None else self.sections
        return tuple(SectionLine(s.section, self.section_name(s.section), s.score,
                                 team[s.section].score if s.section in team else None, s.calls) for s in rows)

    def trend(self, agent_id: int | None = None) -> tuple[TrendPoint, ...]:
        team: dict[date, list[float]] = defaultdict(list)
        mine: dict[date, list[float]] = defaultdict(list)
        for c in self.calls:
            week = _week(c.call_date)
            team[week].append(c.score)
            if agent_id is None or c.agent_id == agent_id:
                mine[week].append(c.score)
        return tuple(TrendPoint(w, len(v), fmean(v), fmean(team[w])) for w, v in sorted(mine.items()))


# ------------------------------------------------------------------------------- one agent

def _build(session: Session, team: _Team, agent: str, redact: bool, now: datetime | None) -> AgentReport:
    rubric = team.rubric
    aid = q.agent_id(session, agent)
    if aid is None or agent == UNASSIGNED:
        raise UnknownAgentError(agent, q.agents_with_calls(session))
    calls = [c for c in team.calls if c.agent_id == aid]
    by_id = {c.id: c for c in calls}
    span = {"date_from": team.date_from, "date_to": team.date_to}
    # the suggestions as this agent would say them ("My name is {agent}"; the company and the
    # customer differ from call to call: their stand-ins stay)
    criteria = {c.id: c.model_copy(update={"suggestion": fill_placeholders(c.suggestion, agent=agent)})
                if "{" in c.suggestion else c for c in rubric.criteria}
    clean = redact_text if redact else (lambda s: s)
    quoter = _Quoter(session, by_id, clean)

    focus: list[FocusItem] = []
    also: list[FocusItem] = []
    for count in _rank_focus(q.negative_counts(session, aid, **span), len(calls), team):
        if len(focus) < FOCUS_ITEMS:
            flags = q.criterion_flags(session, aid, count.criterion, **span)
            item = _focus_item(count, flags, len(calls), team, criteria, quoter, session, aid, span)
            (focus if item.quotes else also).append(item)
        elif len(also) < ALSO_ITEMS:
            also.append(_focus_item(count, [], len(calls), team, criteria, quoter, session, aid, span))
        else:
            break
    strengths = tuple(Strength(sec.section, team.section_name(sec.section), sec.score, team_score, f.criterion,
                               _praise(criteria.get(f.criterion), f), quoter.flag_quote(f))
                      for sec, team_score, f in _strengths(session, team, aid, span, criteria))
    mine_sections = q.section_averages(session, agent_id=aid, **span)
    lowest = sorted(calls, key=lambda c: (c.score, -c.call_date.timestamp()))[:LOWEST_CALLS]
    dates = [c.call_date.date() for c in calls]
    return AgentReport(
        agent=agent, generated_at=now or datetime.now(UTC), date_from=_as_date(team.date_from),
        date_to=_as_date(team.date_to), first_call=min(dates, default=None), last_call=max(dates, default=None),
        rubric_id=rubric.id, rubric_name=rubric.name, calls=len(calls), score=_mean(c.score for c in calls),
        team_score=team.score, team_calls=len(team.calls), team_agents=team.agents,
        sections=team.section_lines(mine_sections), trend=team.trend(aid), strengths=strengths,
        focus=tuple(focus), also=tuple(also[:ALSO_ITEMS]),
        phrases=_phrases(q.phrase_tallies(session, aid, limit=PHRASES, **span), criteria, clean),
        listening=_listening(team, by_id),
        lowest_calls=tuple(CallRef(c.id, c.file, c.call_date.date(), c.score, c.negative_flags) for c in lowest),
        reviews=q.review_counts(session, aid, **span), redacted=redact,
        unsure=tuple(UnsureFlag(f.criterion, _name(criteria, f.criterion), f.polarity, quoter.flag_quote(f))
                     for f in q.unsure_flags(session, aid, limit=UNSURE, **span)))


def _as_date(value: date | datetime | None) -> date | None:
    return value.date() if isinstance(value, datetime) else value


def _points(rubric: Rubric) -> dict[str, float]:
    """Points one failure of each criterion costs a call (see the module doc)."""
    total = sum(s.weight for s in rubric.sections) or 1.0
    section_weight = {s.id: s.weight for s in rubric.sections}
    in_section: dict[str, float] = defaultdict(float)
    for c in rubric.criteria:
        in_section[c.section] += c.weight
    out = {}
    for c in rubric.criteria:
        if c.critical:
            out[c.id] = 100.0 - rubric.critical_cap
        elif c.weight > 0 and in_section[c.section] > 0:
            out[c.id] = 100.0 * c.weight / in_section[c.section] * section_weight.get(c.section, 0.0) / total
        else:
            out[c.id] = 0.0
    return out


def _cost(count: q.CriterionCount, points: dict[str, float]) -> float:
    return points[count.criterion] if count.criterion in points else _SEVERITY_POINTS.get(count.severity, 1.0)


def _rank_focus(counts: list[q.CriterionCount], n_calls: int, team: _Team) -> list[q.CriterionCount]:
    """Failing criteria, most points lost per call first (ties: more calls, rarer in the team)."""
    points = _points(team.rubric)
    n_team = len(team.calls) or 1
    ranked = [c for c in counts if _cost(c, points) > 0]  # weight 0: reported, not scored
    ranked.sort(key=lambda c: (-_cost(c, points) * c.calls / max(n_calls, 1), -c.calls,
                               team.failing.get(c.criterion, 0) / n_team, c.criterion))
    return ranked


def _focus_item(count: q.CriterionCount, flags: list[StoredFlag], n_calls: int, team: _Team,
                criteria: dict[str, Criterion], quoter: _Quoter, session: Session, aid: int,
                span: dict[str, Any]) -> FocusItem:
    c = criteria.get(count.criterion)
    pts = _cost(count, _points(team.rubric))
    found, context = quoter.focus_quotes(flags, c) if flags else ((), False)
    missed = tuple(quoter.ref(i) for i in q.newest_calls_with(session, aid, count.criterion, limit=MISSED_IN_LISTED,
                                                              **span))
    return FocusItem(
        criterion=count.criterion, name=c.name if c else count.criterion, section=c.section if c else None,
        severity=c.severity if c else count.severity, message=(c.message if c else "") or count.message,
        suggestion=(c.suggestion if c else None) or count.suggestion or None,
        seed=c.source.seed if c else None, guidance=c.source.guidance if c else None,
        failed_calls=count.calls, calls=n_calls,
        team_rate=(team.failing.get(count.criterion, 0) / len(team.calls)) if team.calls else None,
        points=round(pts, 2), impact=round(pts * count.calls / max(n_calls, 1), 2), quotes=found,
        context=context, missed_in=missed)


def _name(criteria: dict[str, Criterion], criterion: str) -> str:
    c = criteria.get(criterion)
    return c.name if c else criterion


def _praise(c: Criterion | None, f: StoredFlag) -> str:
    if c is not None:
        return c.praise or c.name
    return f.message


def _strengths(session: Session, team: _Team, aid: int, span: dict[str, Any], criteria: dict[str, Criterion]):
    """(section average, team average, example flag) of the sections the agent does well in."""
    mine = q.section_averages(session, agent_id=aid, **span)
    team_scores = {s.section: s.score for s in team.sections}
    examples: dict[str, tuple[tuple, StoredFlag]] = {}
    dates = {c.id: c.call_date for c in team.calls}
    for f in q.best_positive_flags(session, aid, **span):
        c = criteria.get(f.criterion)
        section = c.section if c else f.category
        key = (c.weight if c else 0.0, len(f.text.strip()), dates.get(f.call_id), f.id)
        if section not in examples or key > examples[section][0]:
            examples[section] = (key, f)

    def doing_well(s: q.SectionAverage) -> bool:
        if s.score is None or s.section not in examples:
            return False
        team_score = team_scores.get(s.section)
        return s.score >= STRENGTH_MIN or (s.score >= STRENGTH_FLOOR and team_score is not None
                                           and s.score >= team_score + STRENGTH_LEAD)

    good = [s for s in mine if doing_well(s)]
    good.sort(key=lambda s: (s.score, s.score - (team_scores.get(s.section) or s.score)), reverse=True)
    return [(s, team_scores.get(s.section), examples[s.section][1]) for s in good[:STRENGTHS]]


def _phrases(tallies: list[q.PhraseTally], criteria: dict[str, Criterion], clean) -> tuple[PhraseCount, ...]:
    out = []
    for t in tallies:
        c = criteria.get(t.criterion)
        out.append(PhraseCount(clean(t.phrase), t.count, t.calls, t.criterion, c.name if c else t.criterion,
                               (c.suggestion or None) if c else None))
    return tuple(out)


def _listening(team: _Team, mine: dict[int, q.ReportCall]) -> tuple[ListeningMetric, ...]:
    t = team.thresholds
    all_m = list(team.metrics.values())
    my_m = [m for cid, m in team.metrics.items() if cid in mine]

    def avg(ms: list[_CallMetrics], attr: str) -> float | None:
        return _mean(getattr(m, attr) for m in ms)

    share, team_share = avg(my_m, "talk_share"), avg(all_m, "talk_share")
    inter, team_inter = avg(my_m, "interruptions"), avg(all_m, "interruptions")
    holds, team_holds = avg(my_m, "holds"), avg(all_m, "holds")
    gap, team_gap = avg(my_m, "longest_gap"), avg(all_m, "longest_gap")

    def worse(v: float | None, team_v: float | None, margin: float) -> bool:
        return v is not None and team_v is not None and v > team_v + margin

    return (
        ListeningMetric("talk_share", "Your share of the talking", None if share is None else 100 * share,
                        None if team_share is None else 100 * team_share, "%",
                        f"at most {100 * t.talk_share:.0f}%", share is not None and share > t.talk_share),
        ListeningMetric("interruptions", f"Interruptions (talking over the customer for {t.overlap_s:g} s or more)",
                        inter, team_inter, "per call", "none", bool(inter) and (inter or 0) >= 0.5
                        or worse(inter, team_inter, 0.25)),
        ListeningMetric("holds", f"Silences of {t.hold_s:g} s or more (dead air, holds)", holds, team_holds,
                        "per call", "none; check back within 30 s", bool(holds) and (holds or 0) >= 0.5
                        or worse(holds, team_holds, 0.25)),
        ListeningMetric("longest_gap", "Longest silence", gap, team_gap, "s", f"under {t.hold_s:g} s",
                        gap is not None and gap >= t.hold_s),
    )


# ------------------------------------------------------------------------------- quotes

_SENTENCE_END = re.compile(r"[.?!…]+[\"')\]]*(?=\s)")


class _Quoter:
    """Quotes from the agent's calls; a call's turns are read when first quoted."""

    def __init__(self, session: Session, calls: dict[int, q.ReportCall], clean):
        self.session, self.calls, self.clean = session, calls, clean
        self._turns: dict[int, list[q.Turn]] = {}

    def turns(self, call_id: int) -> list[q.Turn]:
        if call_id not in self._turns:
            self._turns.update(q.turns(self.session, [call_id]))
        return self._turns[call_id]

    def ref(self, call_id: int) -> CallRef:
        c = self.calls[call_id]
        return CallRef(c.id, c.file, c.call_date.date(), c.score)

    def _turn(self, f: StoredFlag) -> q.Turn | None:
        start = f.start if f.start is not None else 0.0
        end = f.end if f.end is not None else start
        cands = [t for t in self.turns(f.call_id) if t.start <= end + 0.05 and t.end >= start - 0.05
                 and (f.speaker in (None, "any") or t.speaker == f.speaker)]
        if f.text:
            for t in cands:
                if f.text.lower() in t.text.lower():
                    return t
        return cands[0] if cands else None

    def _quote(self, call_id: int, start: float, speaker: str, text: str, match: str | None,
               confidence: float | None = None) -> Quote:
        c = self.calls[call_id]
        text = self.clean(text)
        m = self.clean(match) if match else None
        if m and m.lower() not in text.lower():
            m = None
        return Quote(call_id, c.file, c.call_date.date(), start, speaker, text, m, confidence)

    def flag_quote(self, f: StoredFlag) -> Quote:
        """The sentence around the flagged words (the whole turn of a reviewer's flag without words)."""
        turn = self._turn(f)
        start = f.start if f.start is not None else (turn.start if turn else 0.0)
        speaker = (turn.speaker if turn else f.speaker) or "agent"
        if turn is None:
            return self._quote(f.call_id, start, speaker, f.text, f.text or None, f.confidence)
        if not f.text:
            return self._quote(f.call_id, turn.start, speaker, _shorten(turn.text, 0, 0), None, turn.confidence)
        i = turn.text.lower().find(f.text.lower())
        if i < 0:
            return self._quote(f.call_id, start, speaker, f.text, f.text, f.confidence)
        lo, hi = _sentence_span(turn.text, i, i + len(f.text))
        around = _least_sure(turn, lo, hi)
        if around is not None and around < QUOTABLE_FROM:  # the words around are unsure: the flag's alone
            return self._quote(f.call_id, start, speaker, f.text, f.text, f.confidence)
        least = min((x for x in (f.confidence, around) if x is not None), default=None)
        sentence = _shorten(turn.text[lo:hi].strip(), i - lo, i - lo + len(f.text))
        return self._quote(f.call_id, start, speaker, sentence, f.text, least)

    def _context(self, f: StoredFlag, c: Criterion) -> Quote | None:
        """For a missing behaviour in a time window: the turn its speaker said there instead."""
        if c.window is None:
            return None
        speaker = c.speaker if c.speaker != "any" else None
        turns = [t for t in self.turns(f.call_id) if speaker is None or t.speaker == speaker]
        lo, hi = f.start or 0.0, f.end if f.end is not None else float("inf")
        inside = [t for t in turns if t.start < hi and t.end > lo]
        if not inside:
            return None
        t = inside[-1] if c.window.last_s is not None else inside[0]
        return self._quote(f.call_id, t.start, t.speaker, _shorten(t.text, 0, 0), None, t.confidence)

    def _event(self, f: StoredFlag, c: Criterion | None) -> bool:
        """A measured event said by someone (an interruption, a monologue), not a whole-call figure."""
        if c is None or not isinstance(c.check, MetricCheck) or f.speaker not in ("agent", "customer"):
            return False
        whole = (f.start or 0.0) <= 0.01 and (f.end or 0.0) >= self.calls[f.call_id].duration - 0.5
        return not whole

    def focus_quotes(self, fl: list[StoredFlag], c: Criterion | None) -> tuple[tuple[Quote, ...], bool]:
        """Up to QUOTES_PER_ITEM quotes, different calls first, newest first; context when the
        flags have no words of their own."""
        order = sorted(fl, key=lambda f: (self.calls[f.call_id].call_date, f.call_id, -(f.start or 0.0)),
                       reverse=True)
        worded = [f for f in order if f.text.strip() or f.origin == "reviewer" or self._event(f, c)]
        firsts: list[StoredFlag] = []
        seen: set[int] = set()
        for f in worded:  # one per call first
            if f.call_id not in seen:
                firsts.append(f)
                seen.add(f.call_id)
        chosen = {f.id for f in firsts}
        quotes: list[Quote] = []
        for f in firsts + [f for f in worded if f.id not in chosen]:
            if len(quotes) == QUOTES_PER_ITEM:
                break
            quote = self.flag_quote(f)
            if quote.quotable or f.review_status == "accepted" or f.origin == "reviewer":
                quotes.append(quote)
        if quotes or c is None or c.window is None:
            return tuple(quotes), False
        context = []
        for f in order:
            if f.text.strip() or f.call_id in {x.call_id for x in context}:  # words of its own: not context
                continue
            quote = self._context(f, c)
            if quote is not None and quote.quotable:
                context.append(quote)
            if len(context) == QUOTES_PER_ITEM:
                break
        return tuple(context), bool(context)


_ABBREVIATIONS = frozenset("mr mrs ms dr st no vs etc approx e.g i.e".split())


def _ends(text: str, lo: int, hi: int) -> Iterator[int]:
    """Where sentences end in text[lo:hi] (not after "Mr." and the like)."""
    for m in _SENTENCE_END.finditer(text, lo, hi):
        word = re.search(r"([\w.]+)$", text[:m.start()])
        if m.group().startswith(".") and word and word.group(1).lower() in _ABBREVIATIONS:
            continue
        yield m.end()


def _sentence_span(text: str, a: int, b: int) -> tuple[int, int]:
    """Where the sentence(s) of ``text`` holding characters [a, b) are."""
    start = 0
    for start in _ends(text, 0, a):
        pass
    return start, next(_ends(text, b, len(text)), len(text))


def _least_sure(turn: q.Turn, lo: int, hi: int) -> float | None:
    """The lowest probability of the turn's words within characters [lo, hi) (None: its words do
    not line up with its text, or it has none)."""
    spans = word_spans(turn.text, len(turn.probabilities))
    return min((p for (a, b), p in zip(spans, turn.probabilities) if a < hi and b > lo), default=None)


def _shorten(text: str, a: int, b: int) -> str:
    text = text.strip()
    if len(text) <= QUOTE_CHARS:
        return text
    lo = max(0, min(a, len(text)) - (QUOTE_CHARS - (b - a)) // 2)
    hi = min(len(text), lo + max(QUOTE_CHARS, b - a))
    lo = text.rfind(" ", 0, lo) + 1 if lo > 0 else 0
    cut = text[lo:hi]
    if hi < len(text):
        cut = cut[:cut.rfind(" ")] if " " in cut else cut
    return ("…" if lo > 0 else "") + cut.strip() + ("…" if hi < len(text) else "")


def as_jsonable(value: Any) -> Any:
    """Plain JSON data of report objects: dates as ISO strings, floats rounded."""
    import dataclasses

    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out = {f.name: as_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value) if f.repr}
        if isinstance(value, Quote):
            out["timestamp"] = value.timestamp
        return out
    if isinstance(value, (list, tuple)):
        return [as_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): as_jsonable(v) for k, v in value.items()}
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, float):
        return round(value, 3)
    return value
