"""Transcript + Rubric → one result (status, flags) per criterion.

An ``Engine`` compiles a rubric once (phrase regexes, the anchor-word index, spaCy
matchers); ``Engine.evaluate`` then runs it on a transcript through a ``CallContext``
(``context.py``), which holds everything computed once per transcript: normalized texts, token
sets, the speech gaps and the spaCy Docs (one ``nlp.pipe`` over the segments some pattern check
could match).
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from callqa.errors import CallQAError
from callqa.transcript import Transcript

from .checks import REGISTRY, Evaluator
from .context import CallContext
from .flags import CriterionResult
from .loader import derived
from .matchers import MAX_TURN_CHARS, PhraseIndex, RegexTimeout, make_detector
from .metrics import call_gaps
from .schema import AppliesIf, Criterion, Rubric


class _Compiled:
    __slots__ = ("criterion", "evaluator", "gate")

    def __init__(self, criterion: Criterion, evaluator: Evaluator, gate: Any):
        self.criterion, self.evaluator, self.gate = criterion, evaluator, gate


def _refuse_overlong_turns(transcript: Transcript) -> None:
    """Before any matching (minutes on such a turn): a turn the parser would refuse fails the call."""
    for s in transcript.segments:
        if len(s.text) > MAX_TURN_CHARS:
            minutes, seconds = divmod(int(s.start), 60)
            raise CallQAError(f"{transcript.file}: the {s.speaker}'s turn at {minutes}:{seconds:02d} is "
                              f"{len(s.text):,} characters long; callqa scores turns of up to {MAX_TURN_CHARS:,}. "
                              "A turn this long usually means the speaker labels are missing: check the "
                              "transcript's 'Agent:' and 'Customer:' lines, or split the turn")


class Engine:
    """A compiled rubric. Build once, ``evaluate`` many transcripts."""

    def __init__(self, rubric: Rubric):
        self.rubric = rubric
        self.index = PhraseIndex(rubric.encoder)
        self.items = [
            _Compiled(c, REGISTRY[c.check.type](c.check, self.index),
                      make_detector(c.applies_if.check, self.index)
                      if c.applies_if and c.applies_if.check else None)
            for c in rubric.criteria]
        sc = rubric.service_call
        self.service_gate = make_detector(sc.check, self.index) if sc is not None else None
        self.not_service = make_detector(sc.unless, self.index) if sc is not None and sc.unless is not None else None

    def _applies(self, ctx: CallContext, item: _Compiled) -> bool:
        cond: AppliesIf | None = item.criterion.applies_if
        if cond is None:
            return True
        if cond.hold_s is not None and any(e - s >= cond.hold_s for s, e in call_gaps(ctx)):
            return True
        return item.gate is not None and bool(item.gate.find(ctx, ctx.scope(cond.speaker, None)))

    def evaluate(self, transcript: Transcript) -> list[CriterionResult]:
        return self.judge(transcript)[0]

    def judge(self, transcript: Transcript) -> tuple[list[CriterionResult], bool]:
        """Every criterion's result, and whether the call is a service call (``service_call``)."""
        _refuse_overlong_turns(transcript)
        ctx = CallContext(transcript, self.index)
        sc = self.rubric.service_call
        for item in self.items:  # collect what needs parsing, so spaCy runs once
            item.evaluator.prepare(ctx, item.criterion)
            if item.gate is not None:
                item.gate.prepare(ctx, ctx.scope(item.criterion.applies_if.speaker, None))  # type: ignore[union-attr]
        if self.service_gate is not None:
            self.service_gate.prepare(ctx, ctx.scope(sc.speaker, None))  # type: ignore[union-attr]
        if self.not_service is not None:
            self.not_service.prepare(ctx, ctx.scope("any", None))
        results = []
        for item in self.items:
            c = item.criterion
            try:
                out = item.evaluator.evaluate(ctx, c)
                applies = self._applies(ctx, item)
            except RegexTimeout as exc:
                raise CallQAError(f"{transcript.file}: criterion {c.id}: {exc}") from None
            status, flags, detail = out.status, out.flags, out.detail
            if not applies:
                # N/A: keep the evidence found (it is still true), drop "missing" findings
                status, detail = "na", "does not apply to this call"
                flags = [f for f in flags if f.text]
            results.append(CriterionResult(c.id, c.category, c.section, status, c.weight, c.critical,
                                           tuple(flags), out.value, detail))
        results = [_fallback(r, results) if item.criterion.fallback else r for item, r in zip(self.items, results)]
        service = True
        if sc is not None:
            segs = ctx.scope(sc.speaker, None)
            words = sum(len(ctx.segments[i].text.split()) for i in segs)
            try:
                service = bool(segs) and (words >= sc.words or bool(self.service_gate.find(ctx, segs)))
                if service and self.not_service is not None:
                    service = not self.not_service.find(ctx, ctx.scope("any", None))
            except RegexTimeout as exc:
                raise CallQAError(f"{transcript.file}: the rubric's service_call: {exc}") from None
        return results, service


def _fallback(result: CriterionResult, results: list[CriterionResult]) -> CriterionResult:
    """A catch-all's result without the words another criterion flagged: a moment that already
    has its flag gets no second one, and words that earned a credit (an offer, an apology, a
    reassurance) are no fault. Its check forbids: it passes when nothing is left."""
    taken = _SpanIndex((f.speaker, f.start, f.end) for r in results if r.criterion != result.criterion
                       for f in r.flags if f.text)
    kept = tuple(f for f in result.flags if not taken.overlaps(f.speaker, f.start, f.end))
    if len(kept) == len(result.flags):
        return result
    status = result.status if result.status == "na" else "fail" if kept else "pass"
    return replace(result, status=status, flags=kept, value=float(len(kept)))


class _SpanIndex:
    """(speaker, start, end) spans, asked whether any overlaps a span: a binary search on the
    starts and a running maximum of the ends, so a catch-all's flags against every other flag of
    a long call cost n log n (comparing each pair took 16 of 76 s on a 2 MB transcript)."""

    def __init__(self, spans: Iterable[tuple[str, float, float]]):
        by_speaker: dict[str, list[tuple[float, float]]] = {}
        for speaker, start, end in spans:
            by_speaker.setdefault(speaker, []).append((start, end))
        self.starts: dict[str, list[float]] = {}
        self.reach: dict[str, list[float]] = {}
        for speaker, pairs in by_speaker.items():
            pairs.sort()
            self.starts[speaker] = [s for s, _ in pairs]
            self.reach[speaker] = list(itertools.accumulate((e for _, e in pairs), max))

    def overlaps(self, speaker: str, start: float, end: float) -> bool:
        """Whether a span of ``speaker`` has t.start < end and start < t.end."""
        starts = self.starts.get(speaker)
        if not starts:
            return False
        k = bisect.bisect_left(starts, end)  # the spans that start before ``end``
        return k > 0 and self.reach[speaker][k - 1] > start


def engine_for(rubric: Rubric) -> Engine:
    """The compiled engine of a rubric, built once per rubric content (the loader's cache)."""
    return derived(rubric, "engine", Engine)


def evaluate(transcript: Transcript, rubric: Rubric) -> list[CriterionResult]:
    return engine_for(rubric).evaluate(transcript)
