"""Timing metrics of a call: talk ratio, monologues, interruptions, silences and holds, questions.

Each returns (value, events): the value is compared with a check's min/max; events (start,
end, speaker, description) become flags when it fails. ``None`` means "cannot be measured".
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Callable

from .matchers import normalize

if TYPE_CHECKING:
    from .engine import CallContext

Event = tuple[float, float, str, str]  # start, end, speaker, description
MetricFunc = Callable[["CallContext", float], tuple[float | None, list[Event]]]


def _union_length(spans: list[tuple[float, float]]) -> float:
    total, cur_s, cur_e = 0.0, None, None
    for s, e in sorted(spans):
        if cur_e is None or s > cur_e:
            if cur_e is not None:
                total += cur_e - cur_s  # type: ignore[operator]
            cur_s, cur_e = s, e
        else:
            cur_e = max(cur_e, e)
    return total + ((cur_e - cur_s) if cur_e is not None else 0.0)  # type: ignore[operator]


def talk_ratio(ctx: CallContext, _min_s: float) -> tuple[float | None, list[Event]]:
    agent = _union_length([(s.start, s.end) for s in ctx.segments if s.speaker == "agent"])
    customer = _union_length([(s.start, s.end) for s in ctx.segments if s.speaker == "customer"])
    if agent <= 0 or customer <= 0:
        return None, []
    return round(agent / (agent + customer), 3), []


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
    events: list[Event] = []
    customer = [s for s in ctx.segments if s.speaker == "customer"]
    for a in ctx.segments:
        if a.speaker != "agent":
            continue
        for c in customer:
            if c.start < a.start < c.end and min(a.end, c.end) - a.start >= min_s:
                events.append((a.start, min(a.end, c.end), "agent",
                               f"agent talks over the customer for {min(a.end, c.end) - a.start:.1f} s"))
                break
    return float(len(events)), events


def silence(ctx: CallContext, min_s: float) -> tuple[float | None, list[Event]]:
    gaps = [(s, e, "any", f"{e - s:.0f} s without speech") for s, e in ctx.gaps() if e - s >= min_s]
    return float(len(gaps)), gaps


def longest_hold(ctx: CallContext, min_s: float) -> tuple[float | None, list[Event]]:
    gaps = [(s, e) for s, e in ctx.gaps() if e - s >= min_s]
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
