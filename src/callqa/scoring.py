"""Scores from criterion results: per section, overall, critical items, N/A.

The formula:

- A criterion scores 1 when it passes, 0 when it fails, and nothing when it does not apply
  (N/A: no hold → hold etiquette; no trigger for a conditional; a metric it cannot measure).
- A section's score is ``100 × Σ(weight × score) / Σ weight`` over its applicable criteria
  with a weight above 0; ``None`` when none applies (the section is N/A).
- The overall score is the same weighted mean over the sections that have a score, with
  the sections' weights; ``None`` when no section applies.
- A call where the rubric's ``service_call`` gate is not found is not a service call (a wrong
  number, a test call): ``service_call`` is False and it has no score (overall, raw, sections).
- A failed ``critical`` criterion caps the overall score at the rubric's ``critical_cap``
  (0 by default: auto-fail); ``critical_failed`` lists them and ``raw_score`` keeps the
  uncapped figure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from callqa.rubric.engine import engine_for
from callqa.rubric.flags import CriterionResult, Flag
from callqa.rubric.loader import load_rubric
from callqa.rubric.schema import Rubric
from callqa.transcript import Transcript

#: Version of the JSON form written by ``CallScore.to_dict``.
SCORE_JSON_VERSION = 1


@dataclass(frozen=True, slots=True)
class CallScore:
    score: float | None
    raw_score: float | None
    sections: dict[str, float | None]
    criteria: tuple[CriterionResult, ...]
    flags: tuple[Flag, ...]
    critical_failed: tuple[str, ...]
    rubric_id: str
    rubric_version: str
    service_call: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {"version": SCORE_JSON_VERSION, "rubric": self.rubric_id,
                "rubric_version": self.rubric_version, "score": self.score,
                "raw_score": self.raw_score, "sections": dict(self.sections),
                "service_call": self.service_call,
                "critical_failed": list(self.critical_failed),
                "criteria": [c.to_dict() for c in self.criteria],
                "flags": [f.to_dict() for f in self.flags]}


def _mean(pairs: list[tuple[float, float]], scale: float = 1.0) -> float | None:
    """Weighted mean of (weight, value) pairs times ``scale``; None without any weight."""
    total = sum(w for w, _ in pairs)
    return round(scale * sum(w * s for w, s in pairs) / total, 1) if total > 0 else None


def score_results(results: list[CriterionResult], rubric: Rubric, service_call: bool = True) -> CallScore:
    """Section and overall scores of a call's criterion results (see the module docstring)."""
    flags = tuple(sorted((f for r in results for f in r.flags), key=lambda f: (f.start, f.end)))
    if not service_call:
        return CallScore(None, None, {sec.id: None for sec in rubric.sections}, tuple(results), flags, (),
                         rubric.id, rubric.version, service_call=False)
    sections: dict[str, float | None] = {}
    for sec in rubric.sections:
        sections[sec.id] = _mean([(r.weight, r.score) for r in results
                                  if r.section == sec.id and r.score is not None and r.weight > 0], 100)
    raw = _mean([(sec.weight, sections[sec.id]) for sec in rubric.sections  # type: ignore[misc]
                 if sections[sec.id] is not None])
    critical = tuple(r.criterion for r in results if r.critical and r.status == "fail")
    final = min(raw, rubric.critical_cap) if critical and raw is not None else raw
    return CallScore(final, raw, sections, tuple(results), flags, critical, rubric.id, rubric.version)


def score_transcript(transcript: Transcript, rubric: Rubric | None = None) -> CallScore:
    """Score one call with ``rubric`` (the packaged default when None)."""
    rubric = rubric or default_rubric()
    results, service_call = engine_for(rubric).judge(transcript)
    return score_results(results, rubric, service_call)


_DEFAULT: Rubric | None = None


def default_rubric() -> Rubric:
    """The packaged default rubric, loaded once."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = load_rubric()
    return _DEFAULT
