"""Rubrics: load and validate YAML, a closed registry of check types, the engine.

Public API: ``load_rubric(path=None)`` (the packaged default when None), ``parse_rubric``,
``RubricError``; ``Engine(rubric).evaluate(transcript)`` / ``evaluate(transcript, rubric)``
→ ``CriterionResult``s carrying ``Flag``s. Scores: ``callqa.scoring.score_transcript``.

Names are imported when first used: loading a rubric (``rubric check``, a ``score`` with
nothing to do) does not import the engine and its matchers (regex, rapidfuzz, spaCy).
"""

from __future__ import annotations

import importlib
from typing import Any

_OWNERS = {"Flag": "callqa.records", "Engine": ".engine", "evaluate": ".engine", "CriterionResult": ".flags",
           "DEFAULT_RUBRIC": ".loader", "RubricError": ".loader", "load_rubric": ".loader",
           "parse_rubric": ".loader", "Rubric": ".schema"}

__all__ = sorted(_OWNERS)


def __getattr__(name: str) -> Any:
    if name not in _OWNERS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_OWNERS[name], __name__), name)
