"""How long ``callqa agreement`` takes to compute its figures (``services.agreement.build``: every
comparison per criterion with 2,000 bootstrap resamples, graduation, drift per rubric version and
month), on synthetic blind answers of a calibration: calls × criteria × reviewers plus the machine.

    python benchmarks/agreement.py                       # 60 calls, 43 criteria, 3 reviewers
    python benchmarks/agreement.py --calls 200 --reviewers 5 --months 3

Prints the load average beside each figure (the cores are shared).
"""

from __future__ import annotations

import argparse
import os
import random
import time
from datetime import UTC, datetime

from callqa.records import BlindRating, MachineAnswer
from callqa.services import agreement as ag


def ratings(calls: int, criteria: int, reviewers: int, months: int, seed: int = 19):
    rng = random.Random(seed)
    answers, machine = [], []
    for c in range(calls):
        when = datetime(2026, 1 + c % months, 5, tzinfo=UTC)
        rubric = f"r{1 + c % 2}"
        for k in range(criteria):
            truth = rng.choices(("yes", "no", "na"), (0.8, 0.15, 0.05))[0]
            machine.append(MachineAnswer(c, f"crit{k}", truth if rng.random() < 0.9 else "no", rubric))
            for r in range(reviewers):
                said = truth if rng.random() < 0.85 else rng.choice(("yes", "no", "na"))
                answers.append(BlindRating(c, f"crit{k}", f"rev{r}", said, rubric, when))
    return answers, machine


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--calls", type=int, default=60)
    p.add_argument("--criteria", type=int, default=43)
    p.add_argument("--reviewers", type=int, default=3)
    p.add_argument("--months", type=int, default=2)
    p.add_argument("--runs", type=int, default=2)
    args = p.parse_args()
    answers, machine = ratings(args.calls, args.criteria, args.reviewers, args.months)
    t = time.perf_counter()
    import irrCAC.raw, krippendorff, statsmodels.stats.inter_rater  # noqa: E401,F401  (imports, timed apart)
    print(f"imports (statsmodels, pandas, scipy, krippendorff, irrCAC): {time.perf_counter() - t:.2f} s, "
          f"load {os.getloadavg()[0]:.1f}")
    print(f"{args.calls} calls × {args.criteria} criteria × {args.reviewers} reviewers + machine, "
          f"{ag.RESAMPLES} resamples per comparison")
    for run in range(args.runs):
        for with_drift, what in ((False, "figures + graduation (the TUI)"), (True, "with drift (callqa agreement)")):
            t = time.perf_counter()
            report = ag.build(answers, machine, {}, with_drift=with_drift)
            seconds = time.perf_counter() - t
            n = len(report.comparisons) + sum(len(s.comparisons) for s in report.drift)
            print(f"run {run + 1}, {what}: {n} comparisons in {seconds:.2f} s ({1000 * seconds / n:.1f} ms each), "
                  f"load {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
