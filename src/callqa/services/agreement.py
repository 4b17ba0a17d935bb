"""Agreement per criterion, the one owner of it: how far blind reviewers and the machine agree,
with intervals, and which criteria have earned being scored by the machine alone (graduation).

Figures come from blind answers (``services.calibration.blind_ratings``: each reviewer's yes / no
/ N-A per call and criterion, given without seeing the machine's verdicts, and the machine's
criterion status pass / fail / na read as yes / no / na). Per criterion, every comparison is one
set of raters over the calls all of them answered:

- the machine against each reviewer, each pair of reviewers, and, with three raters or more,
  everyone together (and the reviewers alone when there are three or more);
- ``n`` calls; ``prevalence``: the share of the answers that are "yes" (the call met it);
- raw ``agreement`` (the share of rater pairs that gave the same answer), Cohen's ``kappa`` (two
  raters, ``statsmodels``), Fleiss' kappa (``statsmodels``) and Krippendorff's alpha (nominal,
  ``krippendorff``) for more than two, and Gwet's ``ac1`` (``irrCAC``) for all: kappa and alpha
  take chance agreement from how often each answer is given, so on a skewed criterion (95 % yes)
  they fall toward 0 even at 95 % raw agreement; AC1 does not, which is why graduation reads it;
- each with a 95 % percentile bootstrap interval: ``RESAMPLES`` resamples of the calls (with
  replacement), seeded from the criterion and the raters so a figure does not move between runs;
  a resample where a figure is undefined (one answer only) is left out of its interval;
- ``small``: fewer than ``SMALL_N`` (30) calls, too few to decide anything.

N-A is a third answer, not a dropped pair: whether a criterion applies is part of the verdict (a
machine N-A where a reviewer says "no" takes the criterion out of the score instead of costing
points), so it counts as a disagreement. The answers of a criterion are those anyone gave to it
(a criterion nobody answered N-A is a yes / no one: Gwet's chance term depends on the count).

The point figures are the libraries' own results. The intervals need thousands of recomputations
(irrCAC takes ~6 ms a call through pandas), so the resamples run through ``_resampled``, the same
formulas on arrays; the tests check it against the libraries resample by resample.
"""

from __future__ import annotations

import hashlib
import math
import warnings
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from itertools import combinations
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from callqa.errors import CallQAError
from callqa.records import BlindRating, BlindRatings, CallSummary, MachineAnswer, StoredFlag
from callqa.services import calibration
from callqa.storage import review_queries as rq
from callqa.workspace import Workspace

if TYPE_CHECKING:
    import numpy as np  # imported where figures are computed: the TUI starts without it

#: the machine's name among the raters
MACHINE = "machine"
ANSWERS = ("yes", "no", "na")
RESAMPLES = 2000
CONFIDENCE = 0.95
#: fewer calls than this: the comparison is marked too small to decide
SMALL_N = 30


# --------------------------------------------------------------------------- figures


@dataclass(frozen=True)
class Stat:
    """A figure with its bootstrap interval; None where undefined (one answer only)."""

    value: float | None
    low: float | None = None
    high: float | None = None

    def json(self) -> dict[str, float | None]:
        r = (lambda x: None if x is None else round(x, 4))
        return {"value": r(self.value), "low": r(self.low), "high": r(self.high)}


@dataclass(frozen=True)
class Comparison:
    """One set of raters on one criterion (see the module doc)."""

    criterion: str
    raters: tuple[str, ...]
    n: int
    #: the answers of this criterion, in ANSWERS order (the categories of every figure)
    categories: tuple[str, ...]
    #: answer → how many times a rater gave it on these calls
    counts: dict[str, int]
    agreement: Stat
    ac1: Stat
    kappa: Stat | None = None  # two raters
    fleiss: Stat | None = None  # more than two
    alpha: Stat | None = None  # more than two
    #: two raters: rows the first rater's answer, columns the second's, in ``categories`` order
    confusion: tuple[tuple[int, ...], ...] | None = None
    #: two raters: the calls where they answered differently
    disagreements: tuple[int, ...] = ()
    resamples: int = RESAMPLES

    @property
    def label(self) -> str:
        return " vs ".join(self.raters) if len(self.raters) == 2 else ", ".join(self.raters)

    @property
    def prevalence(self) -> float | None:
        total = sum(self.counts.values())
        return self.counts.get("yes", 0) / total if total else None

    @property
    def small(self) -> bool:
        return self.n < SMALL_N

    @property
    def skewed(self) -> bool:
        """One answer is 90 % or more of all: kappa and alpha are unreliable, read AC1."""
        total = sum(self.counts.values())
        return bool(total) and max(self.counts.values()) >= 0.9 * total

    @property
    def machine(self) -> bool:
        return len(self.raters) == 2 and MACHINE in self.raters

    def stats(self) -> dict[str, Stat]:
        out = {"agreement": self.agreement, "kappa": self.kappa, "fleiss": self.fleiss, "alpha": self.alpha,
               "ac1": self.ac1}
        return {k: v for k, v in out.items() if v is not None}


def _nan_none(x: Any) -> float | None:
    x = float(x)
    return None if math.isnan(x) else x


def library_figures(matrix: np.ndarray, q: int) -> dict[str, float | None]:
    """The point figures of ``matrix`` (calls × raters, answers as 0..q-1, every cell answered)
    from the libraries: statsmodels' cohens_kappa (two raters) and fleiss_kappa, krippendorff's
    alpha (nominal), irrCAC's Gwet AC1 (from the contingency table for two raters)."""
    import numpy as np

    import krippendorff
    import pandas as pd
    from statsmodels.stats.inter_rater import cohens_kappa, fleiss_kappa

    try:
        from irrCAC.raw import CAC
        from irrCAC.table import CAC as TableCAC
    except ImportError:
        raise CallQAError("Gwet's AC1 needs irrCAC: scripts/install installs it "
                          "(pip install --no-deps irrcac==0.4.4)") from None

    n, r = matrix.shape
    counts = np.zeros((n, q))
    for j in range(r):
        counts[np.arange(n), matrix[:, j]] += 1
    out: dict[str, float | None] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        out["agreement"] = float(((counts * (counts - 1)).sum(axis=1) / (r * (r - 1))).mean())
        if r == 2:
            table = np.zeros((q, q))
            np.add.at(table, (matrix[:, 0], matrix[:, 1]), 1)
            out["kappa"] = _nan_none(cohens_kappa(table, return_results=False))
            ac1 = TableCAC(pd.DataFrame(table), digits=15).gwet()["est"]["coefficient_value"] if q >= 2 else 1.0
        else:
            out["fleiss"] = _nan_none(fleiss_kappa(counts, method="fleiss"))
            out["alpha"] = (None if len(np.unique(matrix)) < 2 else
                            _nan_none(krippendorff.alpha(reliability_data=matrix.T.astype(float),
                                                         level_of_measurement="nominal",
                                                         value_domain=list(range(q)))))
            frame = pd.DataFrame(matrix, columns=[f"r{j}" for j in range(r)])
            ac1 = CAC(frame, categories=list(range(q)), digits=15).gwet()["est"]["coefficient_value"]
        out["ac1"] = 1.0 if q < 2 else _nan_none(ac1)
    return out


def _resampled(matrix: np.ndarray, q: int, idx: np.ndarray) -> dict[str, np.ndarray]:
    """Every figure of ``library_figures`` on each resample of the calls (``idx``: resamples ×
    calls, call indexes); NaN where undefined. The same formulas as the libraries, on arrays: a
    resample is how many times it draws each call (``weights``), every figure a weighted mean."""
    import numpy as np

    n, r = matrix.shape
    b = len(idx)
    weights = np.bincount((np.arange(b)[:, None] * n + idx).ravel(), minlength=b * n).reshape(b, n) / n
    onehot = (matrix[:, :, None] == np.arange(q)).astype(float)  # calls × raters × answers
    counts = onehot.sum(axis=1)  # calls × answers
    alike = (counts * (counts - 1)).sum(axis=1)  # per call: ordered pairs of raters that agree
    with np.errstate(divide="ignore", invalid="ignore"):
        pa = weights @ alike / (r * (r - 1))
        pi = weights @ counts / r  # share of each answer
        out = {"agreement": pa}
        if r == 2:
            pe = ((weights @ onehot[:, 0, :]) * (weights @ onehot[:, 1, :])).sum(axis=1)
            out["kappa"] = np.where(pe >= 1 - 1e-12, np.nan, (pa - pe) / (1 - pe))
        else:
            pe = (pi ** 2).sum(axis=1)
            out["fleiss"] = np.where(pe >= 1 - 1e-12, np.nan, (pa - pe) / (1 - pe))
            total = n * r
            within = n * (weights @ alike) / (r - 1)  # coincidences of equal answers
            expected = (total ** 2 - ((pi * total) ** 2).sum(axis=1)) / (total * (total - 1))
            out["alpha"] = np.where(expected <= 1e-12, np.nan, 1 - (1 - within / total) / expected)
        if q < 2:
            out["ac1"] = np.ones(b)
        else:
            pe = (pi * (1 - pi)).sum(axis=1) / (q - 1)
            out["ac1"] = (pa - pe) / (1 - pe)
    return out


def resample_indices(n: int, key: str, resamples: int = RESAMPLES) -> np.ndarray:
    """``resamples`` × ``n`` call indexes drawn with replacement, seeded from ``key``."""
    import numpy as np

    seed = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big")
    return np.random.default_rng(seed).integers(0, n, size=(resamples, n))


def resample_key(criterion: str, raters: Sequence[str]) -> str:
    """What a comparison's resamples are seeded from."""
    return f"{criterion}|{'|'.join(raters)}"


def _interval(values: np.ndarray) -> tuple[float | None, float | None]:
    import numpy as np

    values = values[~np.isnan(values)]
    if not len(values):
        return None, None
    tail = (1 - CONFIDENCE) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    # matrix products leave -1e-17 where the libraries give 0: not "-0.00" on the screen
    return round(float(low), 12) + 0.0, round(float(high), 12) + 0.0


def compare(criterion: str, raters: Sequence[str], call_ids: Sequence[int], answers: np.ndarray,
            categories: Sequence[str], *, resamples: int = RESAMPLES) -> Comparison:
    """The figures of one comparison: ``answers`` is calls × raters, as indexes into ``categories``."""
    import numpy as np

    n, q = len(call_ids), len(categories)
    raters, categories = tuple(raters), tuple(categories)
    counts = {c: int((answers == i).sum()) for i, c in enumerate(categories)}
    points = library_figures(answers, q)
    boot = _resampled(answers, q, resample_indices(n, resample_key(criterion, raters), resamples))

    def stat(name: str) -> Stat | None:
        if name not in points:
            return None
        value = points[name]
        return Stat(value, *_interval(boot[name])) if value is not None else Stat(None)

    confusion, disagreements = None, ()
    if len(raters) == 2:
        table = np.zeros((q, q), dtype=int)
        np.add.at(table, (answers[:, 0], answers[:, 1]), 1)
        confusion = tuple(tuple(int(x) for x in row) for row in table)
        disagreements = tuple(int(call_ids[i]) for i in np.flatnonzero(answers[:, 0] != answers[:, 1]))
    return Comparison(criterion, raters, n, categories, counts, stat("agreement"), stat("ac1"), stat("kappa"),
                      stat("fleiss"), stat("alpha"), confusion, disagreements, resamples)


def _groups(raters: Sequence[str]) -> list[tuple[str, ...]]:
    """The machine against each reviewer, each pair of reviewers, everyone (3+), reviewers (3+)."""
    people = [r for r in raters if r != MACHINE]
    out: list[tuple[str, ...]] = [(MACHINE, p) for p in people] if MACHINE in raters else []
    out += list(combinations(people, 2))
    if len(raters) >= 3:
        out.append(tuple(raters))
    if len(people) >= 3 and MACHINE in raters:
        out.append(tuple(people))
    return out


def comparisons(answers: Iterable[BlindRating], machine: Iterable[MachineAnswer] = (), *, resamples: int = RESAMPLES,
                machine_pairs: bool = False, categories: Mapping[str, tuple[str, ...]] | None = None
                ) -> list[Comparison]:
    """Every comparison on every criterion (criteria by name; per criterion, as ``_groups``; with
    ``machine_pairs`` only the machine against each reviewer). ``categories``: criterion → its
    answers (default: those given here), so a slice's figures count chance as the whole data does.
    ``answers``: blind answers (``call_id``, ``criterion``, ``reviewer``, ``answer``);
    ``machine``: the machine's answers (``call_id``, ``criterion``, ``answer``)."""
    import numpy as np

    table: dict[str, dict[int, dict[str, str]]] = defaultdict(lambda: defaultdict(dict))
    for a in answers:
        table[a.criterion][a.call_id][a.reviewer] = a.answer
    for m in machine:
        if m.call_id in table.get(m.criterion, {}):
            table[m.criterion][m.call_id][MACHINE] = m.answer
    out = []
    for criterion in sorted(table):
        calls = table[criterion]
        given = {x for rated in calls.values() for x in rated.values()}
        answered = tuple(c for c in ANSWERS if c in given or c in (categories or {}).get(criterion, ()))
        raters = sorted({r for rated in calls.values() for r in rated}, key=lambda r: (r != MACHINE, r))
        for group in _groups(raters):
            if machine_pairs and (len(group) != 2 or MACHINE not in group):
                continue
            ids = sorted(cid for cid, rated in calls.items() if all(r in rated for r in group))
            if not ids:
                continue
            matrix = np.array([[answered.index(calls[cid][r]) for r in group] for cid in ids], dtype=int)
            out.append(compare(criterion, group, ids, matrix, answered, resamples=resamples))
    return out


# --------------------------------------------------------------------------- graduation


@dataclass(frozen=True)
class GraduationRule:
    """A criterion is proposed ``automatic`` when, against every reviewer who blind-reviewed at
    least ``automatic_calls`` of its calls, the machine's AC1 lower bound is at least
    ``automatic_ac1``; ``assisted`` (the machine pre-fills, a person confirms) at the lower bar;
    otherwise ``human``. With no reviewer over ``assisted_calls`` calls there is no proposal."""

    automatic_ac1: float = 0.80
    automatic_calls: int = 50
    assisted_ac1: float = 0.60
    assisted_calls: int = 30

    def describe(self) -> str:
        return (f"automatic: AC1 lower bound >= {self.automatic_ac1:g} over >= {self.automatic_calls} calls; "
                f"assisted: >= {self.assisted_ac1:g} over >= {self.assisted_calls}")


@dataclass(frozen=True)
class Proposal:
    criterion: str
    current: str
    proposed: str | None  # None: not enough blind-reviewed calls to say
    #: the weakest machine-vs-reviewer comparison the proposal rests on
    evidence: Comparison | None
    reason: str

    @property
    def change(self) -> bool:
        return self.proposed is not None and self.proposed != self.current


def propose(found: Iterable[Comparison], states: Mapping[str, str], rule: GraduationRule = GraduationRule(),
            criteria: Iterable[str] = ()) -> list[Proposal]:
    """For each criterion (those compared, and ``criteria``): its state (``states``, default
    human: nothing shows yet that the machine can be left alone on it) and the state the rule
    proposes from the machine-vs-reviewer comparisons."""
    by_criterion: dict[str, list[Comparison]] = defaultdict(list)
    for c in found:
        if c.machine:
            by_criterion[c.criterion].append(c)
    out = []
    for criterion in sorted(set(by_criterion) | set(criteria) | set(states)):
        current = states.get(criterion, "human")
        pairs = by_criterion.get(criterion, [])

        def weakest(min_calls: int) -> Comparison | None:
            enough = [c for c in pairs if c.n >= min_calls]
            return min(enough, key=lambda c: (c.ac1.low if c.ac1.low is not None else -2)) if enough else None

        auto, assisted = weakest(rule.automatic_calls), weakest(rule.assisted_calls)
        low = (lambda c: c.ac1.low if c.ac1.low is not None else -2)
        if auto is not None and low(auto) >= rule.automatic_ac1:
            proposed, evidence = "automatic", auto
        elif assisted is not None and low(assisted) >= rule.assisted_ac1:
            proposed, evidence = "assisted", assisted
        elif assisted is not None:
            proposed, evidence = "human", assisted
        else:
            most = max((c.n for c in pairs), default=0)
            out.append(Proposal(criterion, current, None, None,
                                f"{most} blind-reviewed calls; {rule.assisted_calls} needed to propose"))
            continue
        reason = (f"AC1 {evidence.ac1.value:.2f} [{low(evidence):.2f}, {evidence.ac1.high:.2f}] "
                  f"vs {evidence.raters[1]} over {evidence.n} calls" if evidence.ac1.value is not None
                  else f"AC1 undefined vs {evidence.raters[1]}")
        out.append(Proposal(criterion, current, proposed, evidence, reason))
    return out


def toml_snippet(states: Mapping[str, str]) -> str:
    """The ``[criteria]`` table of callqa.toml for these states."""
    lines = ["[criteria]"]
    lines += [f'"{c}" = "{s}"' for c, s in sorted(states.items())]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- drift


@dataclass(frozen=True)
class Slice:
    kind: str  # "rubric" or "month"
    value: str
    comparisons: tuple[Comparison, ...]


def _month(when: datetime | date) -> str:
    return f"{when.year:04d}-{when.month:02d}"


def drift(answers: Sequence[BlindRating], machine: Sequence[MachineAnswer], *, resamples: int = RESAMPLES) -> list[Slice]:
    """The machine against each reviewer per rubric version (the rubric hash the answers were
    given on) and per month (of a call's first blind answer), oldest month first."""
    given: dict[str, set[str]] = defaultdict(set)
    for a in (*answers, *machine):
        given[a.criterion].add(a.answer)
    categories = {c: tuple(given[c]) for c in given}
    first: dict[int, datetime] = {}
    for a in answers:
        if a.call_id not in first or a.created_at < first[a.call_id]:
            first[a.call_id] = a.created_at
    out = []
    for kind, key in (("rubric", lambda a: a.rubric_hash), ("month", lambda a: _month(first[a.call_id]))):
        groups: dict[str, list[Any]] = defaultdict(list)
        for a in answers:
            groups[key(a)].append(a)
        for value in sorted(groups):
            calls = {a.call_id for a in groups[value]}
            out.append(Slice(kind, value, tuple(comparisons(groups[value], [m for m in machine if m.call_id in calls],
                                                            resamples=resamples, machine_pairs=True,
                                                            categories=categories))))
    return out


# --------------------------------------------------------------------------- the report


@dataclass(frozen=True)
class AgreementReport:
    comparisons: tuple[Comparison, ...]
    proposals: tuple[Proposal, ...]
    drift: tuple[Slice, ...]
    rule: GraduationRule
    reviewers: tuple[str, ...]
    calls: int
    filters: dict[str, str | None] = field(default_factory=dict)


def build(answers: Sequence[BlindRating], machine: Sequence[MachineAnswer], states: Mapping[str, str],
          rule: GraduationRule = GraduationRule(), *, filters: Mapping[str, str | None] | None = None,
          resamples: int = RESAMPLES, with_drift: bool = True) -> AgreementReport:
    """Figures, graduation proposals and (``with_drift``) drift from blind answers (pure)."""
    found = comparisons(answers, machine, resamples=resamples)
    return AgreementReport(tuple(found), tuple(propose(found, states, rule)),
                           tuple(drift(answers, machine, resamples=resamples) if with_drift else ()), rule,
                           tuple(sorted({a.reviewer for a in answers})), len({a.call_id for a in answers}),
                           dict(filters or {}))


FIGURES = ("agreement", "kappa", "fleiss", "alpha", "ac1")


def comparison_json(c: Comparison) -> dict[str, Any]:
    return {"criterion": c.criterion, "raters": list(c.raters), "n": c.n,
            "prevalence": None if c.prevalence is None else round(c.prevalence, 4),
            "answers": c.counts, "small_n": c.small, "skewed": c.skewed,
            **{k: v.json() for k, v in c.stats().items()},
            **({"confusion": {"answers": list(c.categories), "table": [list(r) for r in c.confusion]},
                "disagreements": list(c.disagreements)} if c.confusion is not None else {})}


def report_json(report: AgreementReport) -> dict[str, Any]:
    """The stable JSON of ``callqa agreement --format json`` (documented in the README)."""
    return {
        "version": 1,
        "filters": report.filters,
        "reviewers": list(report.reviewers),
        "calls": report.calls,
        "method": {"interval": f"{CONFIDENCE:.0%} percentile bootstrap over calls",
                   "resamples": RESAMPLES, "small_n_below": SMALL_N, "na": "a third answer"},
        "rule": {"automatic_ac1": report.rule.automatic_ac1, "automatic_calls": report.rule.automatic_calls,
                 "assisted_ac1": report.rule.assisted_ac1, "assisted_calls": report.rule.assisted_calls},
        "comparisons": [comparison_json(c) for c in report.comparisons],
        "graduation": [{"criterion": p.criterion, "state": p.current, "proposed": p.proposed,
                        "change": p.change, "reason": p.reason} for p in report.proposals],
        "drift": [{"by": s.kind, "value": s.value, "comparisons": [comparison_json(c) for c in s.comparisons]}
                  for s in report.drift],
    }


CSV_FIELDS = ("slice", "criterion", "raters", "n", "prevalence", "small_n", "skewed",
              *(f"{f}{s}" for f in FIGURES for s in ("", "_low", "_high")))


def csv_rows(report: AgreementReport) -> list[dict[str, Any]]:
    """One row per comparison: the whole data set (slice "all"), then each rubric version and month."""
    out = []
    for name, found in (("all", report.comparisons),
                        *((f"{s.kind}:{s.value}", s.comparisons) for s in report.drift)):
        for c in found:
            row: dict[str, Any] = {"slice": name, "criterion": c.criterion, "raters": "+".join(c.raters), "n": c.n,
                                   "prevalence": "" if c.prevalence is None else round(c.prevalence, 4),
                                   "small_n": int(c.small), "skewed": int(c.skewed)}
            for f in FIGURES:
                s = c.stats().get(f)
                for suffix, v in (("", s and s.value), ("_low", s and s.low), ("_high", s and s.high)):
                    row[f + suffix] = "" if v is None else round(v, 4)
            out.append(row)
    return out


# --------------------------------------------------------------------------- from the database


def rule_of(settings: Mapping[str, float]) -> GraduationRule:
    """The graduation rule with the workspace's ``[graduation]`` bars over the defaults."""
    return GraduationRule(**{k.replace("-", "_"): v for k, v in settings.items()})


def ratings(session: Session, *, since: date | None = None, rubric_hash: str | None = None,
            session_name: str | None = None) -> BlindRatings:
    """The blind answers and the machine's (``calibration.blind_ratings``); ``rubric_hash`` may be
    the start of a hash, as the human output prints it."""
    found = calibration.blind_ratings(session, since=since, session_name=session_name)
    if rubric_hash:
        kept = tuple(a for a in found.answers if a.rubric_hash.startswith(rubric_hash))
        calls = {a.call_id for a in kept}
        found = BlindRatings(kept, tuple(m for m in found.machine if m.call_id in calls))
    return found


def agreement_report(session: Session, ws: Workspace, *, since: date | None = None, rubric_hash: str | None = None,
                     session_name: str | None = None, resamples: int = RESAMPLES, with_drift: bool = True
                     ) -> tuple[AgreementReport, BlindRatings]:
    """Figures, graduation proposals (from ``ws.criteria`` and ``ws.graduation``) and drift over
    the blind answers that pass the filters, and those answers."""
    found = ratings(session, since=since, rubric_hash=rubric_hash, session_name=session_name)
    filters = {"since": since.isoformat() if since else None, "rubric": rubric_hash, "session": session_name}
    return build(found.answers, found.machine, ws.criteria, rule_of(ws.graduation), filters=filters,
                 resamples=resamples, with_drift=with_drift), found


@dataclass(frozen=True)
class Moment:
    """A call where raters answered a criterion differently, with the machine's evidence there."""

    call: CallSummary
    criterion: str
    #: rater → answer (the machine's under MACHINE)
    answers: dict[str, str]
    #: the criterion's flags on the call (what the machine heard, and where)
    flags: tuple[StoredFlag, ...]


def moments(session: Session, found: BlindRatings, limit: int = 200) -> list[Moment]:
    """The (call, criterion) items where any two raters disagree, newest call first (``limit``)."""
    items: dict[tuple[int, str], dict[str, str]] = defaultdict(dict)
    for a in found.answers:
        items[(a.call_id, a.criterion)][a.reviewer] = a.answer
    for m in found.machine:
        if (m.call_id, m.criterion) in items:
            items[(m.call_id, m.criterion)][MACHINE] = m.answer
    split = sorted((k for k, v in items.items() if len(v) > 1 and len(set(v.values())) > 1),
                   key=lambda k: (-k[0], k[1]))[:limit]
    ids = sorted({cid for cid, _ in split})
    calls = rq.calls_by_ids(session, ids)
    flags: dict[tuple[int, str], list[StoredFlag]] = defaultdict(list)
    for f in rq.flags_of(session, ids):
        flags[(f.call_id, f.criterion)].append(f)
    return [Moment(calls[cid], crit, dict(sorted(items[(cid, crit)].items(), key=lambda t: (t[0] != MACHINE, t[0]))),
                   tuple(sorted(flags.get((cid, crit), ()), key=lambda f: (f.start is None, f.start or 0))))
            for cid, crit in split if cid in calls]


# --------------------------------------------------------------------------- anchored flag reviews


@dataclass(frozen=True)
class AnchoredAgreement:
    """Anchored, not blind: reviewer vs machine on one criterion from the accept / reject of the
    machine's flags, which the reviewer saw (reviewers tend to accept what is shown, so this
    overstates agreement; the blind figures are the ones to decide on). Over the calls a reviewer
    looked at, each (call, criterion) is one item: the machine "flags a problem" when it raised a
    negative flag of that criterion, the reviewer when a negative flag of it stands after review
    (the machine's not rejected, or one the reviewer added)."""

    criterion: str
    both: int  # machine and reviewer flag a problem
    machine_only: int  # the reviewer rejected the machine's flags
    reviewer_only: int  # the reviewer added a flag the machine missed
    neither: int
    accepted: int = 0  # explicit accept decisions on its flags
    rejected: int = 0  # explicit reject decisions on its flags
    added: int = 0  # flags reviewers added

    @property
    def items(self) -> int:
        return self.both + self.machine_only + self.reviewer_only + self.neither

    @property
    def rate(self) -> float | None:
        return None if not self.items else (self.both + self.neither) / self.items

    @property
    def kappa(self) -> float | None:
        return cohen_kappa(self.both, self.machine_only, self.reviewer_only, self.neither)


def cohen_kappa(both: int, machine_only: int, reviewer_only: int, neither: int) -> float | None:
    """Cohen's kappa (statsmodels) of a 2×2 table of two raters' yes/no; None when undefined (no
    items, or one and the same answer every time)."""
    import numpy as np

    from statsmodels.stats.inter_rater import cohens_kappa

    if both + machine_only + reviewer_only + neither == 0:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return _nan_none(cohens_kappa(np.array([[both, machine_only], [reviewer_only, neither]]),
                                      return_results=False))


def anchored_from_flags(call_ids: Iterable[int], flags: Iterable[StoredFlag]) -> list[AnchoredAgreement]:
    """Per criterion anchored agreement over these reviewed calls and their flags (pure)."""
    call_ids = list(call_ids)
    machine: set[tuple[int, str]] = set()
    reviewer: set[tuple[int, str]] = set()
    criteria: set[str] = set()
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for f in flags:
        criteria.add(f.criterion)
        key = (f.call_id, f.criterion)
        c = counts[f.criterion]
        if f.review_status == "accepted" and f.origin == "machine":
            c[0] += 1
        elif f.review_status == "rejected":
            c[1] += 1
        if f.origin == "reviewer":
            c[2] += 1
        if f.polarity != "negative":
            continue
        if f.origin == "machine":
            machine.add(key)
        if f.review_status != "rejected":
            reviewer.add(key)
    out = []
    for crit in sorted(criteria):
        t = [0, 0, 0, 0]
        for cid in call_ids:
            m, r = (cid, crit) in machine, (cid, crit) in reviewer
            t[0 if m and r else 1 if m else 2 if r else 3] += 1
        out.append(AnchoredAgreement(crit, *t, *counts[crit]))
    return out


def anchored(session: Session, *, date_from: date | None = None, date_to: date | None = None
             ) -> list[AnchoredAgreement]:
    """Per criterion anchored reviewer-vs-machine agreement over the reviewed calls (in range)."""
    ids = rq.reviewed_call_ids(session, date_from=date_from, date_to=date_to)
    return anchored_from_flags(ids, rq.flags_of(session, ids))
