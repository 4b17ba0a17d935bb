"""The domain records that storage hands out and the TUI, the reports and services use: frozen
dataclasses, never ORM rows (the repository converts at its boundary).

Also the shapes storage accepts: any object with the attributes of ``callqa.scoring``'s ``Flag``
and ``CallScore`` will do (``FlagLike`` / ``ScoreLike``), so storage does not depend on the rubric
engine.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from callqa.transcript import Segment

#: The agent of a call nobody named (no --agent, sidecar row or name pattern): never an agent in
#: averages, rankings or reports; those calls are counted apart.
UNASSIGNED = "unassigned"


class FlagLike(Protocol):
    criterion: str
    category: str
    polarity: str  # "positive" | "negative"
    severity: str
    speaker: str | None
    start: float | None
    end: float | None
    text: str
    message: str
    suggestion: str | None
    explanation: str | None
    # optional: ``details`` (a dict: check type, phrase, match score), stored when present


class ScoreLike(Protocol):
    score: float
    sections: Mapping[str, float | None]
    flags: Sequence[FlagLike]
    critical_failed: bool
    # optional, stored when present so that a review recomputes the score (``callqa.scoring``):
    # ``criteria`` (results with criterion, section, status, weight, critical),
    # ``section_weights`` (section → weight), ``critical_cap``


@dataclass(frozen=True, slots=True)
class NewFlag:
    """A flag a reviewer adds (``add_review(kind="add_flag", flag=NewFlag(...))``)."""

    criterion: str
    category: str
    polarity: str
    severity: str
    speaker: str | None
    start: float | None
    end: float | None
    text: str = ""
    message: str = ""
    suggestion: str | None = None
    explanation: str | None = None
    details: dict[str, Any] | None = None


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
    rubric_version: str
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
class StoredFlag:
    id: int
    call_id: int
    criterion: str
    category: str
    polarity: str
    severity: str
    speaker: str | None
    start: float | None
    end: float | None
    text: str
    message: str
    suggestion: str | None
    explanation: str | None
    details: dict[str, Any] | None
    #: "machine" or "reviewer" (added in review)
    origin: str
    #: "accepted" / "rejected" by the latest reviewer decision, None when none
    review_status: str | None


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
