"""Scoring time grows linearly with a call's length (issue 16, item 4): the three places that once
compared every item of a long call with every other, each timed at n and 4n items.

    python benchmarks/long_calls.py

Prints the CPU time (best of three) at each size and the ratio: ~4 is linear (n log n a little
more), ~16 quadratic. The quadratic versions took 12-20 s (catch-all, 8,000 flags), ~14 s
(conditional, 15,000 triggers) and ~7 s (confirmation, 16,000 matches). The tests in
tests/test_long_calls.py check the same operations' results; the timing lives here, not there.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "src"), str(REPO / "tests")]

from test_long_calls import Found, alternating, catch_all_case, conditional_engine, confirmation_case  # noqa: E402

from callqa.rubric.engine import CallContext, _fallback  # noqa: E402
from callqa.rubric.matchers import ConfirmedDetector  # noqa: E402


def best_of_three(run) -> float:
    times = []
    for _ in range(3):
        t = time.process_time()
        run()
        times.append(time.process_time() - t)
    return min(times)


def catch_all(n: int) -> float:
    mine, other = catch_all_case(n)
    return best_of_three(lambda: _fallback(mine, [other, mine]))


def conditional(n: int) -> float:
    engine = conditional_engine()
    ctx = CallContext(alternating(n), engine.index)
    item = engine.items[0]
    item.evaluator.prepare(ctx, item.criterion)
    item.evaluator.evaluate(ctx, item.criterion)  # the phrase matching, memoised
    return best_of_three(lambda: item.evaluator.evaluate(ctx, item.criterion))


def confirmation(n: int) -> float:
    words, meant = confirmation_case(n)
    detector = ConfirmedDetector(Found(words), Found(meant))
    return best_of_three(lambda: detector.find(None, list(range(n))))


def main() -> None:
    for name, run, n in (("catch-all vs other flags", catch_all, 2000), ("conditional triggers", conditional, 4000),
                         ("confirmed matches", confirmation, 4000)):
        small, large = run(n), run(4 * n)
        print(f"{name:<26} n={n:>6}: {small * 1000:8.1f} ms   4n: {large * 1000:8.1f} ms   "
              f"ratio {large / max(small, 1e-9):5.1f} (linear ~4, quadratic ~16)")


if __name__ == "__main__":
    main()
