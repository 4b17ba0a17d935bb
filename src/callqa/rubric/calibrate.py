"""How well a rubric's criteria find what people labelled, and semantic thresholds chosen on data.

A labelled utterance file (its columns: ``labels.py``) is read by ``read_labelled``.

A label is predicted when a flag carrying words (evidence in the utterance itself) comes from a
criterion it names and shows that criterion's behaviour (a negative criterion's negative flag, a
positive one's positive flag). Only the labels that occur in the file are measured.

Thresholds: each criterion with a semantic check (one per criterion; a ``confirm`` counts) is
run once with its threshold at a floor, which records every sentence's similarity; rows that a
trained check learnt from are judged out of fold (``collect``); a threshold is then chosen per
criterion on the ``tune`` rows (highest F1 of its labels; within ``TIE`` of it, the higher threshold), in two
rounds of coordinate ascent, and the figures are reported on the ``heldout`` rows.
"""

from __future__ import annotations

import copy
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from callqa.errors import CallQAError
from callqa.transcript import Segment, Transcript

from .engine import Engine
from .labels import Row, read_labelled
from .schema import Criterion, Rubric

FLOOR = 0.05
FOLDS = 5
SWEEP = [round(0.20 + 0.01 * i, 2) for i in range(80)]  # 0.20 … 0.99
#: F-beta values this close to the best are a tie (noise on a few hundred rows): the strictest
#: threshold among them is chosen.
TIE = 0.01


def pick(scored: list[tuple[float, float]]) -> float:
    """The threshold to take from (F-beta, threshold) pairs: the highest within ``TIE`` of the best."""
    best = max(f for f, _ in scored)
    return max(t for f, t in scored if f >= best - TIE)


def _label_parts(label: str) -> tuple[str, str | None]:
    name, _, pol = label.partition(":")
    return name, pol or None


def label_criteria(label: str, rubric: Rubric) -> list[Criterion]:
    name, pol = _label_parts(label)
    if pol is not None:  # the older sets' form: the id's prefix is the category
        return [c for c in rubric.criteria if name in (c.id, c.id.split(".")[0])]
    return [c for c in rubric.criteria if name in (c.id, c.category)]


def check_labels(labels: set[str], rubric: Rubric) -> None:
    unknown = sorted(lab for lab in labels if not label_criteria(lab, rubric))
    if unknown:
        raise CallQAError(f"labels that name no criterion or category of rubric {rubric.id!r}: "
                          + ", ".join(unknown) + "; categories: "
                          + ", ".join(sorted({c.category for c in rubric.criteria})))


@dataclass
class Evidence:
    """A row's flags with words, as (criterion, polarity, how, score)."""

    flags: list[tuple[str, str, str, float]] = field(default_factory=list)


def _semantic_checks(node: Any) -> Any:
    """Every semantic check (as a dict) inside a dumped check, depth first."""
    if isinstance(node, dict):
        if node.get("type") == "semantic":
            yield node
        for v in node.values():
            yield from _semantic_checks(v)
    elif isinstance(node, list):
        for v in node:
            yield from _semantic_checks(v)


def _with_floor(rubric: Rubric) -> Rubric:
    """The rubric with every semantic threshold at ``FLOOR`` (so every similarity is seen)."""
    data = rubric.model_dump(by_alias=True)
    for check in _semantic_checks(data):
        check["threshold"] = FLOOR
    return Rubric.model_validate(data)


def semantic_thresholds(rubric: Rubric) -> dict[str, float]:
    """Criterion id → the threshold of its semantic check (the first one found)."""
    out: dict[str, float] = {}
    for c in rubric.criteria:
        first = next(_semantic_checks(c.check.model_dump()), None)
        if first is not None:
            out[c.id] = first["threshold"]
    return out


def _without(data: dict[str, Any], texts: set[str]) -> Rubric:
    """The rubric (dumped) with these texts left out of every trained check's rows."""
    data = copy.deepcopy(data)
    for check in _semantic_checks(data):
        if check.get("train") and "rows" in check["train"]:  # (the rubric's raw `shared` anchors have none)
            check["train"]["rows"] = [r for r in check["train"]["rows"] if r[0] not in texts]
    return Rubric.model_validate(data)


def trained_on(rubric: Rubric) -> set[str]:
    """Texts that the rubric's trained checks learnt from."""
    return {r[0] for check in _semantic_checks(rubric.model_dump(by_alias=True)) if check.get("train")
            for r in check["train"].get("rows", ())}


def out_of_fold(texts: list[str], rubric: Rubric) -> tuple[list[int], dict[int, Rubric]]:
    """Each text's fold, and each fold's rubric: a text that a trained check learnt from belongs
    to one of ``FOLDS`` folds, judged by the rubric with that fold's texts left out of every
    trained check's rows (else its figures would be the fit's); any other text is fold -1, the
    rubric itself."""
    seen = trained_on(rubric)
    inside = [i for i, t in enumerate(texts) if t in seen]
    fold = [-1] * len(texts)
    for n, i in enumerate(inside):
        fold[i] = n % FOLDS
    rubrics = {-1: rubric}
    data = rubric.model_dump(by_alias=True)
    for f in range(FOLDS if inside else 0):
        rubrics[f] = _without(data, {texts[i] for i in inside[f::FOLDS]})
    return fold, rubrics


def collect(rows: list[Row], rubric: Rubric) -> list[Evidence]:
    """Every row's evidence flags, semantic ones at any similarity (see ``_with_floor``), rows a
    trained check learnt from judged out of fold (``out_of_fold``)."""
    base = _with_floor(rubric) if semantic_thresholds(rubric) else rubric
    fold, rubrics = out_of_fold([r.text for r in rows], base)
    engines = {f: Engine(r) for f, r in rubrics.items()}
    out = []
    for i, row in enumerate(rows):
        t = Transcript("<utterance>", 4.0, "labelled", "", (Segment(row.speaker, 0.0, 4.0, row.text),))
        ev = Evidence()
        for r in engines[fold[i]].evaluate(t):
            for f in r.flags:
                if not f.text:
                    continue
                d = f.details
                if "confirmed" in d:  # words whose meaning was confirmed: the confirmation is the gate
                    ev.flags.append((f.criterion, f.polarity, "semantic", float(d["confirmed"])))
                else:
                    ev.flags.append((f.criterion, f.polarity, str(d.get("how", "")), float(d.get("score", 0))))
        out.append(ev)
    return out


class Scorer:
    """Predicted labels of a row's evidence at given semantic thresholds."""

    def __init__(self, rubric: Rubric, labels: set[str]):
        self.crit = {c.id: c for c in rubric.criteria}
        self.labels = sorted(labels)
        self.matches: dict[str, list[tuple[str, str | None]]] = {}
        for lab in self.labels:
            name, pol = _label_parts(lab)
            self.matches[lab] = [(c.id, pol) for c in label_criteria(lab, rubric)]

    def fired(self, ev: Evidence, thresholds: dict[str, float]) -> set[tuple[str, str]]:
        """(criterion, polarity) of the flags that stand at these thresholds."""
        return {(cid, pol) for cid, pol, how, score in ev.flags
                if how != "semantic" or score >= thresholds.get(cid, 1.0)}

    def predict(self, ev: Evidence, thresholds: dict[str, float]) -> set[str]:
        fired = self.fired(ev, thresholds)
        out = set()
        for lab, pairs in self.matches.items():
            for cid, pol in pairs:
                want = pol or self.crit[cid].polarity
                if (cid, want) in fired:
                    out.add(lab)
                    break
        return out


def outcome(expected: bool, predicted: bool) -> str:
    """A prediction's cell of the confusion table: tp, fp, fn or tn."""
    return "tp" if expected and predicted else "fp" if predicted else "fn" if expected else "tn"


def confusion(rows: list[Row], evidence: list[Evidence], scorer: Scorer,
              thresholds: dict[str, float]) -> tuple[dict[str, Counter[str]], list[tuple[Row, set[str]]]]:
    counts = {lab: Counter() for lab in scorer.labels}
    wrong = []
    for row, ev in zip(rows, evidence):
        got = scorer.predict(ev, thresholds)
        for lab in scorer.labels:
            counts[lab][outcome(lab in row.labels, lab in got)] += 1
        if got != set(row.labels):
            wrong.append((row, got))
    return counts, wrong


def figures(c: Counter[str]) -> tuple[float, float, float]:
    """precision, recall, F1 (1.0 where nothing was predicted or expected)."""
    p = c["tp"] / (c["tp"] + c["fp"]) if c["tp"] + c["fp"] else 1.0
    r = c["tp"] / (c["tp"] + c["fn"]) if c["tp"] + c["fn"] else 1.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def f_beta(c: Counter[str], beta: float) -> float:
    """F-beta of a confusion count: beta 1 is F1, beta 0.5 weighs precision twice as much."""
    p, r, _ = figures(c)
    return (1 + beta * beta) * p * r / (beta * beta * p + r) if p + r else 0.0


def choose_thresholds(rows: list[Row], evidence: list[Evidence], scorer: Scorer,
                      start: dict[str, float], beta: float = 1.0,
                      fixed: frozenset[str] = frozenset()) -> dict[str, float]:
    """Per semantic criterion, the threshold with the best F-beta (F1 by default) of the labels
    naming it on ``rows``; the ``fixed`` ones keep their start."""
    th = dict(start)
    for _ in range(2):
        for cid in sorted(th.keys() - fixed):
            labs = [lab for lab, pairs in scorer.matches.items() if any(c == cid for c, _ in pairs)]
            if not labs:
                continue
            scored = []
            for t in SWEEP:
                trial = {**th, cid: t}
                total: Counter[str] = Counter()
                for row, ev in zip(rows, evidence):
                    got = scorer.predict(ev, trial)
                    for lab in labs:
                        total[outcome(lab in row.labels, lab in got)] += 1
                scored.append((f_beta(total, beta), t))
            th[cid] = pick(scored)
    return th
