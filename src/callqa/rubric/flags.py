"""What the engine reports: flags (evidence: ``callqa.records.Flag``, the one flag record) and one
result per criterion. Plain frozen data."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from callqa.records import Flag

Status = Literal["pass", "fail", "na"]


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
