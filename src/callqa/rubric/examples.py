"""Rubric examples: the compact transcript form, and running a criterion's own examples."""

from __future__ import annotations

import re

from callqa.transcript import Segment, Transcript

from .engine import engine_for
from .schema import Criterion, Example, Rubric

_LINE = re.compile(r"^\s*(agent|customer)(?:@(\d+(?:\.\d+)?)-(\d+(?:\.\d+)?))?\s*:\s*(.*)$", re.S)
_SILENCE = re.compile(r"^\s*(?:silence|hold)\s+(\d+(?:\.\d+)?)\s*$")


def example_transcript(example: Example, speaker: str = "agent") -> Transcript:
    """A rubric example as a transcript. A string is one turn by ``speaker`` (agent for
    "any"); a list holds lines "agent: text", "customer@3-7.5: text" (explicit seconds) and
    "silence 40" (nobody speaks for 40 s). Turns without times follow each other, 0.3 s
    apart, lasting 0.35 s a word (at least 1 s)."""
    lines = [f"{'agent' if speaker == 'any' else speaker}: {example}"] if isinstance(example, str) else example
    segs: list[Segment] = []
    t = 0.0
    for line in lines:
        m = _SILENCE.match(line)
        if m:
            t += float(m.group(1))
            continue
        m = _LINE.match(line)
        if not m:
            raise ValueError(f"example line {line!r}: expected 'agent: …', 'customer@0-5: …' or 'silence N'")
        who, a, b, text = m.groups()
        if a is not None:
            start, end = float(a), float(b)
        else:
            start = t + (0.3 if segs else 0.0)
            end = start + max(1.0, 0.35 * len(text.split()))
        segs.append(Segment(who, start, end, text.strip()))
        t = max(t, end)
    segs.sort(key=lambda s: (s.start, s.end))
    return Transcript("<example>", t, "example", "", tuple(segs), roles="labels")


def run_example(rubric: Rubric, crit: Criterion, example: Example, kind: str) -> str | None:
    """None when the example behaves as labelled, else what went wrong.

    A ``fail`` example must make the criterion fail. A ``pass`` example must make it pass;
    for a criterion describing a problem (negative polarity) "does not apply" also passes,
    as long as it raises no negative flag.
    """
    result = next(r for r in engine_for(rubric).evaluate(example_transcript(example, crit.speaker))
                  if r.criterion == crit.id)
    if kind == "fail":
        ok = result.status == "fail"
    else:
        ok = result.status == "pass" or (
            crit.polarity == "negative" and result.status == "na"
            and not any(f.polarity == "negative" for f in result.flags))
    if ok:
        return None
    flags = "; ".join(f"{f.polarity} {f.text!r} ({f.explanation})" for f in result.flags) or "no flags"
    return f"{crit.id}: {kind} example {example!r} gave {result.status} [{result.detail}]: {flags}"
