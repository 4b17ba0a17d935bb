"""What the engine reports: flags (evidence) and one result per criterion. Plain frozen data."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

#: Version of the JSON form written by ``Flag.to_dict`` / ``CriterionResult.to_dict``.
FLAG_JSON_VERSION = 1

Status = Literal["pass", "fail", "na"]


@dataclass(frozen=True, slots=True)
class Flag:
    """One piece of evidence: good behaviour (``positive``) or a problem (``negative``).

    ``text`` holds the matched words; it is empty for a flag about something missing
    (no greeting) or a measurement (talk ratio), whose start/end cover the span looked at.
    """

    criterion: str
    category: str
    polarity: Literal["positive", "negative"]
    severity: str
    speaker: str
    start: float
    end: float
    text: str
    message: str
    suggestion: str
    explanation: str
    #: Structured form of the explanation: check type, phrase or pattern, score, value.
    details: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def to_dict(self) -> dict[str, Any]:
        return {"version": FLAG_JSON_VERSION, "criterion": self.criterion, "category": self.category,
                "polarity": self.polarity, "severity": self.severity, "speaker": self.speaker,
                "start": round(self.start, 2), "end": round(self.end, 2), "text": self.text,
                "message": self.message, "suggestion": self.suggestion,
                "explanation": self.explanation, "details": dict(self.details)}


@dataclass(frozen=True, slots=True)
class CriterionResult:
    """How one criterion came out on one call. ``value``: a metric's measurement or a count."""

    criterion: str
    category: str
    section: str
    status: Status
    weight: float
    critical: bool
    flags: tuple[Flag, ...] = ()
    value: float | None = None
    detail: str = ""

    @property
    def score(self) -> float | None:
        """1 for a pass, 0 for a fail, None when the criterion does not apply."""
        return None if self.status == "na" else float(self.status == "pass")

    def to_dict(self) -> dict[str, Any]:
        return {"criterion": self.criterion, "category": self.category, "section": self.section,
                "status": self.status, "weight": self.weight, "critical": self.critical,
                "value": self.value, "detail": self.detail}


#: Placeholders a rubric's ``suggestion`` may hold, and what stands in when the call does not say.
PLACEHOLDERS = {"agent": "[your name]", "company": "[company]", "customer": "[the customer's name]"}


def fill_placeholders(text: str, **values: str | None) -> str:
    """``text`` with ``{agent}``, ``{company}``, ``{customer}`` replaced by ``values`` (or by the
    stand-ins of ``PLACEHOLDERS``); any other brace is left as written. A lowercase login name
    ("alice") is said capitalised."""
    agent = values.get("agent")
    if agent and agent.isalpha() and agent.islower():
        values = {**values, "agent": agent.capitalize()}
    for key, stand_in in PLACEHOLDERS.items():
        token = "{" + key + "}"
        if token in text:
            text = text.replace(token, values.get(key) or stand_in)
    return text
