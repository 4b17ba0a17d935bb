"""Rubrics: load and validate YAML, a closed registry of check types, the engine.

Public API: ``load_rubric(path=None)`` (the packaged default when None), ``parse_rubric``,
``RubricError``; ``Engine(rubric).evaluate(transcript)`` / ``evaluate(transcript, rubric)``
→ ``CriterionResult``s carrying ``Flag``s. Scores: ``callqa.scoring.score_transcript``.
"""

from callqa.records import Flag

from .engine import Engine, evaluate
from .flags import CriterionResult
from .loader import DEFAULT_RUBRIC, RubricError, load_rubric, parse_rubric
from .schema import Rubric

__all__ = ["DEFAULT_RUBRIC", "CriterionResult", "Engine", "Flag", "Rubric", "RubricError", "evaluate",
           "load_rubric", "parse_rubric"]
