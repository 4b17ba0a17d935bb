"""Timing metrics of a call: talk ratio, monologues, interruptions, silences and holds, questions.

Each returns (value, events): the value is compared with a check's min/max; events (start,
end, speaker, description) become flags when it fails. ``None`` means "cannot be measured".
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Callable

from .text import normalize

if TYPE_CHECKING:
    from .context import CallContext

Event = tuple[float, float, str, str]  # start, end, speaker, description
MetricFunc = Callable[["CallContext", float], tuple[float | None, list[Event]]]


Span = tuple[str, float, float]  # speaker, start, end: a turn, as metrics need it


def union_length(spans: Iterable[tuple[float, float]]) -> float:
    """Seconds covered by the (start, end) spans, overlaps counted once."""
    total, cur_s, cur_e = 0.0, 0.0, None
    for s, e in sorted(spans):
        if cur_e is None or s > cur_e:
            if cur_e is not None:
                total += cur_e - cur_s
            cur_s, cur_e = s, e
        else:
            cur_e = max(cur_e, e)
    return total + ((cur_e - cur_s) if cur_e is not None else 0.0)


def talk_share(turns: Sequence[Span]) -> float | None:
    """The agent's share of the talking time; None unless both spoke."""
    agent = union_length((s, e) for sp, s, e in turns if sp == "agent")
    customer = union_length((s, e) for sp, s, e in turns if sp == "customer")
    return agent / (agent + customer) if agent > 0 and customer > 0 else None


def silent_gaps(turns: Iterable[Span]) -> list[tuple[float, float]]:
    """Stretches with nobody speaking, between the first and the last speech."""
    out: list[tuple[float, float]] = []
    covered = None
    for _, s, e in sorted(turns, key=lambda t: t[1]):
        if covered is not None and s > covered:
            out.append((covered, s))
        covered = e if covered is None else max(covered, e)
    return out


def talked_over(turns: Sequence[Span], min_s: float) -> list[tuple[float, float]]:
    """(start, end of the overlap) of each agent turn that starts while the customer is speaking
    and overlaps them for ≥ ``min_s``. Linear after a sort: each agent turn looks up how far the
    customer turns begun before it reach (a prefix maximum), not every customer turn."""
    customer = sorted((s, e) for sp, s, e in turns if sp == "customer")
    starts = [s for s, _ in customer]
    reach = list(itertools.accumulate((e for _, e in customer), max))
    out = []
    for sp, s, e in turns:
        k = bisect.bisect_left(starts, s) if sp == "agent" else 0
        if k and reach[k - 1] > s and min(e, reach[k - 1]) - s >= min_s:
            out.append((s, min(e, reach[k - 1])))
    return out


def call_gaps(ctx: CallContext) -> list[tuple[float, float]]:
    """The call's stretches with nobody speaking (``silent_gaps``), computed once per call."""
    key = ("silent_gaps",)
    if key not in ctx.memo:
        ctx.memo[key] = silent_gaps((s.speaker, s.start, s.end) for s in ctx.segments)
    return ctx.memo[key]  # type: ignore[no-any-return]


def _turns(ctx: CallContext) -> list[Span]:
    return [(s.speaker, s.start, s.end) for s in ctx.segments]


def talk_ratio(ctx: CallContext, _min_s: float) -> tuple[float | None, list[Event]]:
    share = talk_share(_turns(ctx))
    return (None if share is None else round(share, 3)), []


MONOLOGUE_PAUSE_S = 3.0


def longest_monologue(ctx: CallContext, min_s: float) -> tuple[float | None, list[Event]]:
    """Longest stretch of agent speech not broken by a customer turn of ≥ ``min_s`` seconds
    (shorter ones are backchannels: "mm-hmm") nor by a pause of ``MONOLOGUE_PAUSE_S`` (the
    customer is doing what they were asked)."""
    best: tuple[float, float] | None = None
    run: list[float] | None = None
    for s in ctx.segments:
        if s.speaker == "agent":
            if run and s.start - run[1] >= MONOLOGUE_PAUSE_S:
                run = None
            run = [run[0], max(run[1], s.end)] if run else [s.start, s.end]
            if best is None or run[1] - run[0] > best[1] - best[0]:
                best = (run[0], run[1])
        elif s.duration >= min_s:
            run = None
    if best is None:
        return None, []
    return round(best[1] - best[0], 1), [(best[0], best[1], "agent", "longest agent monologue")]


def interruptions(ctx: CallContext, min_s: float) -> tuple[float | None, list[Event]]:
    """The agent starts while the customer is speaking and they overlap for ≥ ``min_s``."""
    events: list[Event] = [(s, e, "agent", f"agent talks over the customer for {e - s:.1f} s")
                           for s, e in talked_over(_turns(ctx), min_s)]
    return float(len(events)), events


def silence(ctx: CallContext, min_s: float) -> tuple[float | None, list[Event]]:
    gaps = [(s, e, "any", f"{e - s:.0f} s without speech") for s, e in call_gaps(ctx) if e - s >= min_s]
    return float(len(gaps)), gaps


def longest_hold(ctx: CallContext, min_s: float) -> tuple[float | None, list[Event]]:
    gaps = [(s, e) for s, e in call_gaps(ctx) if e - s >= min_s]
    if not gaps:
        return None, []
    s, e = max(gaps, key=lambda g: g[1] - g[0])
    return round(e - s, 1), [(s, e, "any", f"hold of {e - s:.0f} s")]


_QUESTION_START = re.compile(r"^(?:(?:um|uh|so|and|okay|ok|right|now)\s+)*(?:can|could|would|will|do|does|did|is|are|"
                             r"was|were|have|has|what|when|where|which|who|why|how|may|shall)\b")


def questions(ctx: CallContext, _min_s: float) -> tuple[float | None, list[Event]]:
    n = 0
    events: list[Event] = []
    for i in ctx.scope("agent", None):
        seg = ctx.segments[i]
        for sent in re.split(r"(?<=[.?!])\s+", seg.text.strip()):
            if sent.endswith("?") or _QUESTION_START.match(normalize(sent).strip()):
                n += 1
                events.append((seg.start, seg.end, "agent", sent))
    return float(n), events


METRIC_FUNCS: dict[str, MetricFunc] = {
    "talk_ratio": talk_ratio, "longest_monologue": longest_monologue,
    "interruptions": interruptions, "silence": silence, "holds": silence,
    "longest_hold": longest_hold, "questions": questions,
}
