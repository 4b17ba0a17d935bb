"""Scoring time grows linearly with a call's length (issue 16, item 4).

Three places compared every item of a long call with every other: the catch-all criterion's
flags against every other flag (engine._fallback), a conditional's trigger against every turn
of the responding speaker (checks.ConditionalEvaluator), and a confirmed match against every
confirming sentence of the call (matchers.ConfirmedDetector). On a 2 MB transcript they took 16,
5 and several seconds of 76 s of scoring, growing with the square of the length.

Each test checks one of them gives the right answer on a long call; benchmarks/long_calls.py
times them at n and 4n (linear: ~4x, quadratic: ~16x). Speed is measured there, not asserted here.
"""

from __future__ import annotations

import json
import random

from callqa.rubric.engine import CallContext, Engine, _fallback, _SpanIndex
from callqa.rubric.flags import CriterionResult, Flag
from callqa.rubric.loader import parse_rubric
from callqa.rubric.matchers import ConfirmedDetector, Hit
from callqa.transcript import Segment, Transcript


def _flag(criterion: str, speaker: str, start: float, end: float) -> Flag:
    return Flag(criterion, "np", "negative", "minor", speaker, start, end, "words", "m", "s", "e")


def catch_all_case(n: int) -> tuple[CriterionResult, CriterionResult]:
    """The catch-all's n flags (half overlap a flag of the other criterion, half do not) and the
    other criterion's n flags."""
    other = CriterionResult("np.dept", "np", "t", "fail", 1.0, False,
                            tuple(_flag("np.dept", "agent", 10.0 * i, 10.0 * i + 2) for i in range(n)))
    mine = CriterionResult("np.other", "np", "t", "fail", 1.0, False,
                           tuple(_flag("np.other", "agent", 10.0 * i + (1 if i % 2 else 5), 10.0 * i + 6)
                                 for i in range(n)))
    return mine, other


def test_a_catch_all_drops_only_the_flags_another_criterion_already_raised() -> None:
    n = 8000
    mine, other = catch_all_case(n)
    out = _fallback(mine, [other, mine])
    assert len(out.flags) == n // 2 and all(f.start % 10 == 5 for f in out.flags)


def test_the_span_index_answers_like_comparing_every_pair() -> None:
    rng = random.Random(7)
    for _ in range(200):
        spans = [(rng.choice("ab"), s := rng.uniform(0, 50), s + rng.uniform(0, 8)) for _ in range(rng.randrange(8))]
        index = _SpanIndex(spans)
        for _ in range(20):
            sp, s = rng.choice("abc"), rng.uniform(-5, 55)
            e = s + rng.choice([0.0, rng.uniform(0, 6)])
            brute = any(t_sp == sp and t_s < e and s < t_e for t_sp, t_s, t_e in spans)
            assert index.overlaps(sp, s, e) == brute, (spans, sp, s, e)


def conditional_engine() -> Engine:
    crit = {"id": "t.c", "name": "c", "category": "t", "section": "t", "speaker": "agent",
            "polarity": "negative", "message": "m", "suggestion": "s", "source": {"seed": "s", "guidance": "g"},
            "check": {"type": "conditional", "within_turns": 2,
                      "when": {"speaker": "customer", "check": {"type": "phrase", "phrases": ["ridiculous"]}},
                      "then": {"speaker": "agent", "check": {"type": "phrase", "phrases": ["i understand"]}}}}
    doc = {"id": "t", "name": "t", "version": "1", "sections": [{"id": "t", "name": "t", "weight": 1}],
           "criteria": [crit]}
    return Engine(parse_rubric(json.dumps(doc)))


def alternating(pairs: int) -> Transcript:
    segs = []
    for i in range(pairs):
        segs.append(Segment("customer", 4.0 * i, 4.0 * i + 2, "This is ridiculous."))
        segs.append(Segment("agent", 4.0 * i + 2, 4.0 * i + 4, "I understand." if i % 3 else "Okay."))
    return Transcript("t", 4.0 * pairs, "test", "", tuple(segs))


def test_a_conditional_looks_only_at_the_turns_after_its_trigger() -> None:
    engine = conditional_engine()
    small = alternating(3)  # answered: the third agent turn says it within two
    [r] = engine.evaluate(small)
    assert r.status == "pass" and r.detail == "3/3 answered"
    ctx = CallContext(alternating(15000), engine.index)
    item = engine.items[0]
    item.evaluator.prepare(ctx, item.criterion)
    out = item.evaluator.evaluate(ctx, item.criterion)
    assert out.detail == "15000/15000 answered"


class Found:
    def __init__(self, hits: list[Hit]):
        self.hits = hits

    def prepare(self, ctx, segs) -> None:
        pass

    def find(self, ctx, segs) -> list[Hit]:
        return self.hits


def confirmation_case(n: int) -> tuple[list[Hit], list[Hit]]:
    """n matched words, one per turn, and a confirming sentence in every other turn."""
    words = [Hit(i, 0, 5, "exact", "sorry") for i in range(n)]
    meant = [Hit(i, 0, 20, "semantic", "example", 0.9, (("threshold", 0.5),)) for i in range(0, n, 2)]
    return words, meant


def test_a_confirmed_match_takes_only_its_own_turns_sentences() -> None:
    n = 16000
    words, meant = confirmation_case(n)
    detector = ConfirmedDetector(Found(words), Found(meant))  # type: ignore[arg-type]
    kept = detector.find(None, list(range(n)))  # type: ignore[arg-type]
    assert [h.seg for h in kept] == list(range(0, n, 2))
    assert dict(kept[0].extra)["confirmed"] == 0.9
