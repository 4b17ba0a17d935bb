"""The closed registry of check types: each type's evaluator turns matches or measurements into
a criterion's status (pass / fail / N/A) and its flags. Matching lives in ``matchers``, timing
metrics in ``metrics``.
"""

from __future__ import annotations

import bisect
import functools
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Protocol

from callqa.records import Flag

from .flags import Status
from .matchers import STOP, Hit, PhraseIndex, dedupe, explain, make_detector, words_regex
from .metrics import METRIC_FUNCS
from .schema import (CHECK_TYPES, AnyCheck, ConditionalCheck, Criterion, CustomerNameCheck, MetricCheck, PatternCheck,
                     PhraseCheck, SemanticCheck)

if TYPE_CHECKING:
    from .context import CallContext

@dataclass(slots=True)
class Outcome:
    status: Status
    flags: list[Flag]
    value: float | None = None
    detail: str = ""


def make_flag(crit: Criterion, polarity: str, speaker: str, start: float, end: float, text: str,
              explanation: str, details: dict[str, Any] | None = None, confidence: float | None = None) -> Flag:
    neg = polarity == "negative"
    return Flag(crit.id, crit.category, polarity, crit.severity if neg else "info",  # type: ignore[arg-type]
                speaker, round(start, 2), round(end, 2), text,
                crit.message if neg else (crit.praise or crit.name),
                crit.suggestion if neg else "", explanation, details or {}, confidence)


def hit_flag(ctx: CallContext, crit: Criterion, polarity: str, h: Hit, prefix: str = "") -> Flag:
    start, end = ctx.time(h.seg, h.start, h.end)
    seg = ctx.segments[h.seg]
    return make_flag(crit, polarity, seg.speaker, start, end, seg.text[h.start:h.end],
                     prefix + explain(h), {"how": h.how, "match": h.label, "score": h.score, **dict(h.extra)},
                     ctx.confidence(h.seg, h.start, h.end))


class Evaluator(Protocol):
    def prepare(self, ctx: CallContext, crit: Criterion) -> None: ...
    def evaluate(self, ctx: CallContext, crit: Criterion) -> Outcome: ...


def _counts_ok(cfg: PhraseCheck | PatternCheck | SemanticCheck | AnyCheck | CustomerNameCheck, n: int) -> bool:
    """required: at least ``min``; forbidden: none; counted: ``min``..``max``."""
    if cfg.mode == "forbidden":
        return n == 0
    return n >= cfg.min and (cfg.mode == "required" or cfg.max is None or n <= cfg.max)


def _missing(ctx: CallContext, crit: Criterion, n: int, what: str) -> Flag:
    """The negative flag for a required behaviour not (often enough) found: no words."""
    start, end = ctx.bounds(crit.window)
    return make_flag(crit, "negative", crit.speaker, start, end, "", what, {"how": "missing", "count": n})


class CountedEvaluator:
    """phrase / pattern / any: matches in the criterion's scope, counted against the mode."""

    def __init__(self, cfg: PhraseCheck | PatternCheck | SemanticCheck | AnyCheck, index: PhraseIndex):
        self.cfg = cfg
        self.detector = make_detector(cfg, index)

    def prepare(self, ctx: CallContext, crit: Criterion) -> None:
        self.detector.prepare(ctx, ctx.scope(crit.speaker, crit.window))

    def evaluate(self, ctx: CallContext, crit: Criterion) -> Outcome:
        hits = self.detector.find(ctx, ctx.scope(crit.speaker, crit.window))
        flags = [hit_flag(ctx, crit, crit.polarity, h) for h in hits]
        ok = _counts_ok(self.cfg, len(hits))
        if self.cfg.mode != "forbidden" and len(hits) < self.cfg.min:
            flags.append(_missing(ctx, crit, len(hits), f"found {len(hits)} match(es), need at least {self.cfg.min}"))
        return Outcome("pass" if ok else "fail", flags, float(len(hits)))


class ConditionalEvaluator:
    def __init__(self, cfg: ConditionalCheck, index: PhraseIndex):
        self.cfg = cfg
        self.when = make_detector(cfg.when.check, index)
        self.then = make_detector(cfg.then.check, index)

    def prepare(self, ctx: CallContext, crit: Criterion) -> None:
        self.when.prepare(ctx, ctx.scope(self.cfg.when.speaker, crit.window))
        self.then.prepare(ctx, ctx.scope(self.cfg.then.speaker, None))

    def evaluate(self, ctx: CallContext, crit: Criterion) -> Outcome:
        cfg = self.cfg
        triggers = {}
        for h in self.when.find(ctx, ctx.scope(cfg.when.speaker, crit.window)):
            triggers.setdefault(h.seg, h)  # one trigger per turn
        if not triggers:
            return Outcome("na", [], None, "no trigger")
        then_segs = ctx.scope(cfg.then.speaker, None)
        # matching is per segment: find responses once in every turn, then look in each window
        responses_in: dict[int, list[Hit]] = {}
        for h in self.then.find(ctx, then_segs):
            responses_in.setdefault(h.seg, []).append(h)
        flags, answered = [], 0
        same = cfg.then.speaker in (cfg.when.speaker, "any")
        for seg, trig in triggers.items():
            # the next ``within_turns`` turns of ``then`` (scope lists are in segment order): a
            # binary search, where a scan of every turn per trigger made long calls quadratic
            first = (bisect.bisect_left if same else bisect.bisect_right)(then_segs, seg)
            window = then_segs[first:first + cfg.within_turns]
            responses = [h for j in window for h in responses_in.get(j, ())]
            if responses:
                answered += 1
                if crit.polarity == "positive":
                    flags.append(hit_flag(ctx, crit, "positive", responses[0],
                                          f"after {ctx.segments[seg].speaker}'s cue: "))
            else:
                flags.append(hit_flag(ctx, crit, "negative", trig,
                                      f"no response within {cfg.within_turns} {cfg.then.speaker} turn(s) to "))
        ok = answered == len(triggers) if cfg.require == "all" else answered > 0
        return Outcome("pass" if ok else "fail", flags, float(len(triggers) - answered),
                       f"{answered}/{len(triggers)} answered")


class MetricEvaluator:
    def __init__(self, cfg: MetricCheck, index: PhraseIndex):
        self.cfg = cfg

    def prepare(self, ctx: CallContext, crit: Criterion) -> None:
        pass

    def evaluate(self, ctx: CallContext, crit: Criterion) -> Outcome:
        cfg = self.cfg
        value, events = METRIC_FUNCS[cfg.metric](ctx, cfg.min_s)
        if value is None:
            return Outcome("na", [], None, f"{cfg.metric}: not applicable")
        ok = (cfg.min is None or value >= cfg.min) and (cfg.max is None or value <= cfg.max)
        flags = []
        if not ok:
            bound = f"> {cfg.max:g}" if cfg.max is not None and value > cfg.max else f"< {cfg.min:g}"
            over = cfg.max is not None and value > cfg.max  # too many/long: flag each event
            for start, end, speaker, what in (events if over else []) or [(0.0, ctx.duration, crit.speaker, "")]:
                flags.append(make_flag(crit, "negative", speaker, start, end, "",
                                       f"{cfg.metric} = {value:g} {bound}" + (f": {what}" if what else ""),
                                       {"how": "metric", "metric": cfg.metric, "value": value}))
        return Outcome("pass" if ok else "fail", flags, value, f"{cfg.metric} = {value:g}")


#: How a customer is addressed ("Dr Shah" is nearly always someone else: the doctor the
#: appointment is with). A known name counts whatever precedes it.
_HONORIFIC_WORDS = ("mr", "mrs", "ms", "miss", "mister", "missus")
_HONORIFIC = re.compile(r"(?:\b(with|to|from|see|ask|by)\s+)?" + words_regex(_HONORIFIC_WORDS, whole=False)
                        + r"\.?\s+([a-z][a-z'-]+)")
#: Words one of which an introduction holds ("my name is", "it's", "I'm", "I am").
_INTRO_WORDS = frozenset(["is", "its", "im", "am", "names"])
_INTRO = re.compile(r"(?i:my name is|my name's|name's|this is|it's|i'm|i am)\s+"
                    r"([A-Z][a-z]+)(?:\s+([A-Z][a-z'-]+))?")
#: Words after "miss" that make it the verb: "you didn't miss anything".
_NOT_AFTER_MISS = frozenset("""anything out that them him her any one some something nothing
    everything payment payments appointment call calls deadline bit thing""".split())
_NOT_NAMES = frozenset("""monday tuesday wednesday thursday friday saturday sunday january february
    march april may june july august september october november december the a i""".split())


@functools.lru_cache(maxsize=4096)
def _name_regex(name: str) -> re.Pattern[str]:
    """A customer's name as a whole word (names recur across calls: compiled once)."""
    return re.compile(words_regex([name]))


class CustomerNameEvaluator:
    def __init__(self, cfg: CustomerNameCheck, index: PhraseIndex):
        self.cfg = cfg

    def prepare(self, ctx: CallContext, crit: Criterion) -> None:
        pass

    def evaluate(self, ctx: CallContext, crit: Criterion) -> Outcome:
        known: dict[str, float] = {}  # name → when it became known
        extra = str(ctx.transcript.extra.get("customer_name") or "")
        for n in extra.lower().split():
            known.setdefault(n, 0.0)
        for i in ctx.scope("customer", None):
            if _INTRO_WORDS.isdisjoint(ctx.tokens[i]):
                continue
            seg = ctx.segments[i]
            for m in _INTRO.finditer(seg.text):
                for n in m.groups():
                    if n and n.lower() not in _NOT_NAMES:
                        known.setdefault(n.lower(), seg.start)
        by_token = {n.replace("'", ""): n for n in known}  # a name as the token sets hold it
        hits = []
        for i in ctx.scope(crit.speaker, crit.window):
            text, seg, toks = ctx.normed[i], ctx.segments[i], ctx.tokens[i]
            spans = []
            if not toks.isdisjoint(_HONORIFIC_WORDS):
                # not a third party: "with Mr Shah", "to Mrs Lee", "Mr Ali's"
                spans += [(m.start(), m.end(), "honorific") for m in _HONORIFIC.finditer(text)
                          if not m.group(1) and not m.group(2).endswith("'s")
                          and m.group(2) not in _NOT_NAMES and m.group(2).replace("'", "") not in STOP
                          and m.group(2) not in _NOT_AFTER_MISS]
            for tok in toks & by_token.keys():
                name = by_token[tok]
                if seg.start >= known[name]:
                    spans += [(m.start(), m.end(), "name") for m in _name_regex(name).finditer(text)]
            hits += [Hit(i, a, b, how, text[a:b]) for a, b, how in spans]
        hits = dedupe(hits)
        if not hits and not known:
            return Outcome("na", [], None, "no customer name known")
        flags = [hit_flag(ctx, crit, crit.polarity, h) for h in hits]
        ok = _counts_ok(self.cfg, len(hits))
        if self.cfg.mode != "forbidden" and len(hits) < self.cfg.min:
            flags.append(_missing(ctx, crit, len(hits),
                                  f"customer's name ({', '.join(known) or 'unknown'}) used {len(hits)} time(s)"))
        return Outcome("pass" if ok else "fail", flags, float(len(hits)))




#: The closed registry: check type → evaluator, for every name of ``schema.CHECK_TYPES`` (the
#: import of this module fails when the two part).
REGISTRY: dict[str, Callable[[Any, PhraseIndex], Evaluator]] = {
    "phrase": CountedEvaluator, "pattern": CountedEvaluator, "semantic": CountedEvaluator,
    "any": CountedEvaluator,
    "conditional": ConditionalEvaluator, "metric": MetricEvaluator,
    "customer_name": CustomerNameEvaluator,
}
if set(REGISTRY) != set(CHECK_TYPES):
    raise ImportError(f"check types without an evaluator or a schema: {set(REGISTRY) ^ set(CHECK_TYPES)}")
