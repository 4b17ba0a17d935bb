"""The domain records: plain frozen dataclasses that the rubric engine produces, storage hands out
(never ORM rows: the repository converts at its boundary) and the TUI, the reports and services use.

One record per concept: ``Flag`` is a flag wherever it is (the engine's, a reviewer's, a stored
one); ``StoredFlag`` is that record plus what storage knows of it (id, call, origin, review).
``ScoreLike`` is the shape storage accepts for a call's result (``callqa.scoring.CallScore``), so
that storage does not depend on the scoring stage.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from callqa.transcript import Segment

#: The agent of a call nobody named (no --agent, sidecar row or name pattern): never an agent in
#: averages, rankings or reports; those calls are counted apart.
UNASSIGNED = "unassigned"

#: Version of a flag's JSON form (``Flag.to_dict``).
FLAG_JSON_VERSION = 1

#: A flag whose words include one Whisper gave a probability under this is uncertain: on the
#: sample calls and aws-call-49 a word below it is more often misheard than not
#: (``benchmarks/word_confidence.py``).
UNCERTAIN_BELOW = 0.4
#: A coaching report quotes a flag's words as the agent's own only when its least sure word is at
#: least this: under it a word was misheard about one time in three on those calls (0.33-0.46 per
#: bin from 0.4 to 0.7), from it on one in five or fewer.
QUOTABLE_FROM = 0.7

@dataclass(frozen=True, slots=True)
class Flag:
    """One piece of evidence: good behaviour (``positive``) or a problem (``negative``).

    The rubric engine makes them (``callqa.rubric``), a reviewer adds them (``origin`` "reviewer"
    once stored), storage keeps them. ``text`` holds the matched words; it is empty for a flag
    about something missing (no greeting) or a measurement (talk ratio), whose start/end cover the
    span looked at. The engine's flags always have a speaker, start and end, and a suggestion
    ("" when the criterion has none); a stored flag may lack them (None).
    """

    criterion: str
    category: str
    polarity: Literal["positive", "negative"]
    severity: str
    speaker: str | None
    start: float | None
    end: float | None
    text: str = ""
    message: str = ""
    suggestion: str | None = None
    explanation: str | None = None
    #: Structured form of the explanation: check type, phrase or pattern, score, value (None or
    #: empty: none).
    details: dict[str, Any] | None = field(default=None, compare=False, hash=False)
    #: How sure the transcript is of the flag's words: the lowest probability Whisper gave one of
    #: them (0..1); None when the flag quotes no words (something missing, a measurement) or its
    #: transcript gives none (a text transcript).
    confidence: float | None = None

    @property
    def uncertain(self) -> bool:
        """The flag rests on words the transcript is unsure of (``UNCERTAIN_BELOW``)."""
        return self.confidence is not None and self.confidence < UNCERTAIN_BELOW

    @property
    def quotable(self) -> bool:
        """Sure enough to quote as said (``QUOTABLE_FROM``); a flag without word confidence is."""
        return self.confidence is None or self.confidence >= QUOTABLE_FROM

    def to_dict(self) -> dict[str, Any]:
        """The flag's JSON form (version ``FLAG_JSON_VERSION``); times in seconds, to 0.01."""
        return {"version": FLAG_JSON_VERSION, "criterion": self.criterion, "category": self.category,
                "polarity": self.polarity, "severity": self.severity, "speaker": self.speaker,
                "start": _seconds(self.start), "end": _seconds(self.end), "text": self.text,
                "message": self.message, "suggestion": self.suggestion,
                "explanation": self.explanation, "details": dict(self.details or {}),
                "confidence": self.confidence, "uncertain": self.uncertain}


def _seconds(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredFlag(Flag):
    """A stored flag: the ``Flag`` plus what storage knows of it."""

    id: int
    call_id: int
    #: "machine" or "reviewer" (added in review)
    origin: str
    #: "accepted" / "rejected" by the latest reviewer decision, None when none
    review_status: str | None = None


class ScoreLike(Protocol):
    score: float
    sections: Mapping[str, float | None]
    flags: Sequence[Flag]
    critical_failed: bool
    # optional, stored when present so that a review recomputes the score (``callqa.scoring``):
    # ``criteria`` (results with criterion, section, status, weight, critical),
    # ``section_weights`` (section → weight), ``critical_cap``


@dataclass(frozen=True, slots=True)
class CallSummary:
    """One row of the calls table: everything but the transcript, flags and reviews."""

    id: int
    agent: str
    file: str
    content_hash: str
    call_date: datetime
    duration: float
    engine: str
    model: str
    rubric_id: str
    #: the rubric's content hash (``services.rubric_hash``), not its YAML ``version:``
    rubric_hash: str
    #: the overall score that counts: the machine's, or the one a review set
    score: float
    #: the machine's original overall score
    machine_score: float
    critical_failed: bool
    roles: str
    role_confidence: float
    #: negative flags no reviewer rejected
    negative_flags: int
    #: "unreviewed" | "reviewed" | "disputed"
    review_status: str
    scored_at: datetime


@dataclass(frozen=True, slots=True)
class SectionResult:
    section: str
    #: the machine's score; None = not applicable
    score: float | None
    #: the score after reviews (a reviewer's override, else recomputed from the reviewed flags of
    #: its criteria); None when the reviews did not change it
    override: float | None

    @property
    def final(self) -> float | None:
        return self.score if self.override is None else self.override


@dataclass(frozen=True, slots=True)
class Review:
    id: int
    call_id: int
    flag_id: int | None
    #: accept | reject | add_flag | override | comment | dispute | resolve_dispute
    kind: str
    section: str | None
    new_score: float | None
    call_score: float | None
    text: str | None
    reviewer: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class StoredCall:
    """A call with everything stored about it (``get_call``)."""

    call: CallSummary
    segments: tuple[Segment, ...]
    flags: tuple[StoredFlag, ...]
    sections: tuple[SectionResult, ...]
    reviews: tuple[Review, ...]

    def section(self, name: str) -> SectionResult | None:
        return next((s for s in self.sections if s.section == name), None)


@dataclass(frozen=True, slots=True)
class AgentSummary:
    """Per-agent averages of final scores (reviewer overrides win over the machine)."""

    agent: str
    calls: int
    #: average overall score; None when the agent has no calls in range
    score: float | None
    #: average per section over the calls where it applied; None when it never applied
    sections: dict[str, float | None] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The stable JSON form of ``callqa agents --format json``."""
        return {"agent": self.agent, "calls": self.calls, "score": self.score,
                "sections": dict(self.sections)}


@dataclass(frozen=True, slots=True)
class StoredError:
    id: int
    file: str
    content_hash: str | None
    message: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class BlindRating:
    """One reviewer's blind answer on one criterion of one call (``blind_answers``)."""

    call_id: int
    criterion: str
    reviewer: str
    #: "yes" | "no" | "na"
    answer: str
    #: the call's rubric hash when it was answered
    rubric_hash: str
    created_at: datetime
    #: the calibration session it was assigned in; None outside one
    session: str | None = None


@dataclass(frozen=True, slots=True)
class MachineAnswer:
    """The machine's verdict on one criterion of one call, as a blind answer: its stored criterion
    status (pass / fail / na) read as yes / no / na."""

    call_id: int
    criterion: str
    #: "yes" | "no" | "na"
    answer: str
    #: the rubric hash the call is scored with now (it may differ from a blind answer's when the
    #: call was rescored after it)
    rubric_hash: str


@dataclass(frozen=True, slots=True)
class BlindRatings:
    """Blind answers and the machine's answers on the same calls and criteria
    (``services.calibration.blind_ratings``)."""

    answers: tuple[BlindRating, ...]
    machine: tuple[MachineAnswer, ...]

    @property
    def reviewers(self) -> tuple[str, ...]:
        return tuple(sorted({a.reviewer for a in self.answers}))
