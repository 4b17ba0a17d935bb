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
- A fault the transcript is unsure of (``Flag.uncertain``: its words include one Whisper was
  unsure of) does not count against the agent unless ``uncertain_count`` (the workspace's
  ``uncertain-flags-count``): a criterion that failed on such faults alone passes, as if a reviewer
  had rejected them, until a reviewer accepts one. A fault about something missing has no words
  and always counts.
- A failed ``critical`` criterion caps the overall score at the rubric's ``critical_cap``
  (0 by default: auto-fail); ``critical_failed`` lists them and ``raw_score`` keeps the
  uncapped figure.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the formula needs no rubric engine: storage applies it to reviewed calls
    from callqa.records import Flag
    from callqa.rubric.flags import CriterionResult
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
    #: the rubric file's ``version:`` field (the stored content hash is ``calls.rubric_hash``)
    rubric_version: str
    service_call: bool = True
    #: the rubric's section weights and critical cap: what a reviewed score is recomputed with
    section_weights: dict[str, float] | None = None
    critical_cap: float = 0.0

    def personalised(self, **values: str | None) -> CallScore:
        """The same result with ``{agent}``, ``{company}`` and ``{customer}`` in the rubric's
        suggestions filled in from ``values`` (``rubric.flags.fill_placeholders``)."""
        from dataclasses import replace

        from callqa.rubric.flags import fill_placeholders

        def fill(f: Flag) -> Flag:
            return replace(f, suggestion=fill_placeholders(f.suggestion, **values)) if "{" in f.suggestion else f

        return replace(self, flags=tuple(map(fill, self.flags)),
                       criteria=tuple(replace(c, flags=tuple(map(fill, c.flags))) for c in self.criteria))

    def to_dict(self) -> dict[str, Any]:
        return {"version": SCORE_JSON_VERSION, "rubric": self.rubric_id,
                "rubric_version": self.rubric_version, "score": self.score,
                "raw_score": self.raw_score, "sections": dict(self.sections),
                "service_call": self.service_call,
                "critical_failed": list(self.critical_failed),
                "criteria": [c.to_dict() for c in self.criteria],
                "flags": [f.to_dict() for f in self.flags]}


def _mean(pairs: Iterable[tuple[float, float]], scale: float = 1.0) -> float | None:
    """Weighted mean of (weight, value) pairs times ``scale``; None without any weight."""
    pairs = list(pairs)
    total = sum(w for w, _ in pairs)
    return round(scale * sum(w * s for w, s in pairs) / total, 1) if total > 0 else None


def section_score(criteria: Iterable[tuple[float, float | None]]) -> float | None:
    """A section's score from its criteria's (weight, score 1 / 0 / None for N/A)."""
    return _mean(((w, v) for w, v in criteria if v is not None and w > 0), 100)


def overall_score(sections: Iterable[tuple[float, float | None]], critical_failed: bool,
                  critical_cap: float) -> tuple[float | None, float | None]:
    """(final, raw) overall score from the sections' (weight, score or None for N/A)."""
    raw = _mean((w, v) for w, v in sections if v is not None)
    return (min(raw, critical_cap) if critical_failed and raw is not None else raw), raw


def reviewed_status(status: str, flags: Iterable[tuple[str, str, str | None]]) -> str:
    """A criterion's status once reviewers have spoken, from its flags' (polarity, origin
    "machine" | "reviewer", review status "accepted" | "rejected" | None): a failure whose every
    fault was rejected passes; a pass whose every credit was rejected, or with a fault a reviewer
    accepted or added, fails; a criterion that did not apply takes the polarity of a flag a
    reviewer added to it. Unreviewed criteria keep the machine's status."""
    flags = [(p, o, d) for p, o, d in flags]
    faults = [d != "rejected" for p, _, d in flags if p == "negative"]
    credits = [d != "rejected" for p, _, d in flags if p == "positive"]
    confirmed = {p for p, o, d in flags if d == "accepted" or (o == "reviewer" and d != "rejected")}
    added = {p for p, o, d in flags if o == "reviewer" and d != "rejected"}
    if status == "fail" and faults and not any(faults):
        return "pass"
    if status == "pass" and ("negative" in confirmed or (credits and not any(credits))):
        return "fail"
    if status == "na" and added:
        return "fail" if "negative" in added else "pass"
    return status


def uncounted(result: CriterionResult) -> CriterionResult:
    """The result with its uncertain faults not counted: a failure whose every fault is uncertain
    passes (its flags stay, for review)."""
    faults = [f for f in result.flags if f.polarity == "negative"]
    if result.status != "fail" or not faults or not all(f.uncertain for f in faults):
        return result
    from dataclasses import replace

    return replace(result, status="pass", detail=f"{result.detail}; " * bool(result.detail)
                   + f"{len(faults)} uncertain fault(s) not counted")


def score_results(results: list[CriterionResult], rubric: Rubric, service_call: bool = True,
                  uncertain_count: bool = False) -> CallScore:
    """Section and overall scores of a call's criterion results (see the module docstring)."""
    if not uncertain_count:
        results = [uncounted(r) for r in results]
    flags = tuple(sorted((f for r in results for f in r.flags), key=lambda f: (f.start, f.end)))
    if not service_call:
        return CallScore(None, None, {sec.id: None for sec in rubric.sections}, tuple(results), flags, (),
                         rubric.id, rubric.version, service_call=False)
    sections = {sec.id: section_score((r.weight, r.score) for r in results if r.section == sec.id)
                for sec in rubric.sections}
    critical = tuple(r.criterion for r in results if r.critical and r.status == "fail")
    final, raw = overall_score(((sec.weight, sections[sec.id]) for sec in rubric.sections), bool(critical),
                               rubric.critical_cap)
    return CallScore(final, raw, sections, tuple(results), flags, critical, rubric.id, rubric.version,
                     section_weights={sec.id: sec.weight for sec in rubric.sections},
                     critical_cap=rubric.critical_cap)


def score_transcript(transcript: Transcript, rubric: Rubric | None = None,
                     uncertain_count: bool = False) -> CallScore:
    """Score one call with ``rubric`` (the packaged default when None); ``uncertain_count``: the
    workspace's ``uncertain-flags-count``."""
    from callqa.rubric.engine import engine_for

    rubric = rubric or default_rubric()
    results, service_call = engine_for(rubric).judge(transcript)
    return score_results(results, rubric, service_call, uncertain_count)


def default_rubric() -> Rubric:
    """The packaged default rubric (loaded once: ``load_rubric`` caches by content)."""
    from callqa.rubric.loader import load_rubric

    return load_rubric()
