"""Every criterion of the default rubric passes its own pass examples and fails its fail ones."""

from __future__ import annotations

import pytest

from callqa.rubric.examples import run_example
from callqa.rubric.loader import load_rubric

RUBRIC = load_rubric()
CASES = [pytest.param(c.id, kind, i, id=f"{c.id}-{kind}{i}")
         for c in RUBRIC.criteria
         for kind, examples in (("pass", c.examples.pass_), ("fail", c.examples.fail))
         for i in range(len(examples))]


@pytest.mark.parametrize("cid,kind,i", CASES)
def test_criterion_example(cid: str, kind: str, i: int) -> None:
    crit = RUBRIC.criterion(cid)
    example = (crit.examples.pass_ if kind == "pass" else crit.examples.fail)[i]
    problem = run_example(RUBRIC, crit, example, kind)
    assert problem is None, problem


def test_every_criterion_has_pass_and_fail_examples() -> None:
    missing = [c.id for c in RUBRIC.criteria if not c.examples.pass_ or not c.examples.fail]
    assert not missing, f"criteria without pass and fail examples: {missing}"
