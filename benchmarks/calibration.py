"""Calibration at scale: a database of 100,000 scored calls (``storage.py``'s filler, plus criterion
results), then time drawing a calibration session, a reviewer's list of assigned calls, answering
a call, progress and ``blind_ratings``.

    python benchmarks/calibration.py                     # SQLite file in a temporary folder
    python benchmarks/calibration.py --calls 20000 --criteria 43

Each step runs 3 times (the draws under new names); the figures are the first run and the best of 3.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

from sqlalchemy.orm import Session
from storage import SECTIONS, fill, timed

from callqa.services import calibration
from callqa.storage import connect, migrate
from callqa.storage.models import CriterionResultRow

CHUNK = 50_000


def fill_criteria(engine, n_calls: int, n_criteria: int, seed: int = 7) -> float:
    """Criterion results for every call: most pass, a few criteria fail rarely, some are N-A."""
    rng = random.Random(seed)
    rates = [rng.choice((0.03, 0.1, 0.3, 0.5)) for _ in range(n_criteria)]
    start = time.perf_counter()
    rows = []
    with Session(engine) as session:
        for cid in range(1, n_calls + 1):
            for i, rate in enumerate(rates):
                r = rng.random()
                status = "na" if r < 0.1 else "fail" if r < 0.1 + rate else "pass"
                rows.append({"call_id": cid, "criterion": f"{SECTIONS[i % len(SECTIONS)]}.c{i:02d}",
                             "section": SECTIONS[i % len(SECTIONS)], "status": status, "weight": 1.0,
                             "critical": False})
            if len(rows) >= CHUNK:
                session.execute(CriterionResultRow.__table__.insert(), rows)
                rows.clear()
        if rows:
            session.execute(CriterionResultRow.__table__.insert(), rows)
        session.commit()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--criteria", type=int, default=20)
    parser.add_argument("--sample", type=int, default=20, help="calls per calibration session")
    parser.add_argument("--db", help="an empty database (default: a SQLite file in a temporary folder)")
    args = parser.parse_args()
    url = args.db or f"sqlite:///{Path(tempfile.mkdtemp(prefix='callqa-cal-')) / 'cal.db'}"
    engine = connect(url)
    migrate(engine)
    print(f"filling {args.calls:,} calls ({args.agents} agents) ... {fill(engine, args.calls, args.agents, 0, 1):.1f} s")
    print(f"criterion results ({args.criteria} per call) ... {fill_criteria(engine, args.calls, args.criteria):.1f} s")
    with engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
        conn.commit()
    names = iter(range(1_000_000))
    reviewers = ["ana", "ben", "cy"]
    with Session(engine) as session:
        timed(f"assign {args.sample} calls x {len(reviewers)} reviewers",
              lambda: calibration.assign(session, f"s{next(names)}", reviewers, calls=args.sample, seed=1).call_ids)
        one = min(200, args.calls // args.agents // 2)
        timed(f"assign {one} calls of one agent",
              lambda: calibration.assign(session, f"a{next(names)}", reviewers, calls=one, agent="agent007", seed=1).call_ids)
        timed("a reviewer's assigned calls (blind list)", lambda: calibration.assigned_calls(session, "ana"))
        first = calibration.next_call(session, "ana")
        asked = [q.criterion for q in calibration.questions(session, first)]
        timed("answer every criterion of a call", lambda: calibration.record_answers(
            session, first, "ana", {c: "yes" for c in asked}).answers)
        timed("progress of every session", lambda: calibration.progress(session))
        for call_id in [a.call_id for a in calibration.assignments(session, "ben")][:args.sample]:
            calibration.record_answers(session, call_id, "ben", {c: "no" for c in asked})
        timed("blind_ratings (every answer and the machine's)", lambda: calibration.blind_ratings(session).answers)
    print(f"database: {url}")


if __name__ == "__main__":
    main()
