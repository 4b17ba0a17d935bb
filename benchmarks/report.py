"""Coaching reports at scale: fill a database with 10,000 scored calls (the packaged rubric's
criteria and sections, 16 turns and 10 flags a call), then time one agent's report.

    python benchmarks/report.py                    # 10,000 calls, 5 agents; then all 10,000 for one agent
    python benchmarks/report.py --calls 50000 --agents 20
    python benchmarks/report.py --db postgresql+psycopg://postgres@127.0.0.1:5432/bench

The database must be empty (it is migrated first). Rows go in with Core executemany, as in
benchmarks/storage.py. Each step runs 3 times; figures are the first run and the best of 3.
Target: building one agent's report (the team's figures included) under 2 s at 10,000 calls.
The packaged rubric is loaded once before timing (about 1.5 s: it imports spaCy to validate its
patterns); `callqa report` pays that once per run, however many agents it writes.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.orm import Session

from callqa.reports import build_report, render_html, render_markdown, report_json
from callqa.scoring import default_rubric
from callqa.storage import connect, migrate, safe_url
from callqa.storage.models import Agent, Call, FlagRow, SectionScore, SegmentRow

CHUNK = 20_000
AGENT_LINES = ["Thank you for calling Northwind Energy, my name is Sam, how can I help?",
               "I'm sorry to hear that, let me take a look at your account.",
               "I don't know why that happened, to be honest.", "You have to call the billing team for that.",
               "Let me take care of that for you right now.", "Is there anything else I can help you with today?",
               "You'll see the refund within three business days.", "Thank you for calling, have a lovely day."]
CUSTOMER_LINES = ["Hi, my bill doubled this month and I don't understand why.", "Okay, that's fine.",
                  "This is ridiculous, it's the third time I've called.", "Great, thanks for sorting it."]


def fill(engine, n_calls: int, n_agents: int, n_segments: int = 16, n_flags: int = 10, seed: int = 11) -> float:
    rubric = default_rubric()
    criteria = [(c.id, c.category, c.polarity, c.severity, c.message, c.suggestion) for c in rubric.criteria]
    sections = [s.id for s in rubric.sections]
    rng = random.Random(seed)
    base = datetime(2026, 1, 5, 9, tzinfo=UTC)
    start = time.perf_counter()
    with Session(engine) as session:
        session.execute(Agent.__table__.insert(), [{"id": a + 1, "name": f"agent{a:03d}"} for a in range(n_agents)])
        for lo in range(0, n_calls, CHUNK):
            calls, scores, flags, segments = [], [], [], []
            for cid in range(lo + 1, min(lo + CHUNK, n_calls) + 1):
                agent_id = rng.randrange(n_agents) + 1
                when = base + timedelta(minutes=int(cid * 60 * 24 * 180 / n_calls))  # half a year
                turns, t = [], 0.0
                for i in range(n_segments):
                    speaker = ("agent", "customer")[i % 2]
                    line = rng.choice(AGENT_LINES if speaker == "agent" else CUSTOMER_LINES)
                    length = len(line) / 15
                    t_start = max(0.0, t - (1.5 if rng.random() < 0.05 else 0.0)) + (
                        35 if rng.random() < 0.02 else rng.uniform(0.2, 1.5))
                    turns.append((speaker, t_start, t_start + length, line))
                    t = t_start + length
                    segments.append({"call_id": cid, "idx": i, "speaker": speaker, "start_s": t_start,
                                     "end_s": t_start + length, "text": line, "words": None})
                negatives = 0
                for _ in range(n_flags):
                    crit, category, polarity, severity, message, suggestion = rng.choice(criteria)
                    flagged = rng.random() < 0.5 or polarity == "negative"
                    pol = "negative" if (polarity == "negative" or not flagged) else "positive"
                    speaker, s, e, line = rng.choice([x for x in turns if x[0] == "agent"])
                    words = line.split()[:4]
                    missing = pol == "negative" and polarity == "positive"
                    negatives += pol == "negative"
                    flags.append({"call_id": cid, "criterion": crit, "category": category, "polarity": pol,
                                  "severity": severity, "speaker": "agent", "start_s": 0.0 if missing else s,
                                  "end_s": t if missing else e, "text": "" if missing else " ".join(words),
                                  "message": message, "suggestion": suggestion,
                                  "explanation": "benchmark", "details": {"how": "missing" if missing else "exact"},
                                  "origin": "machine", "review_status": None})
                score = round(rng.uniform(30, 100), 1)
                calls.append({"id": cid, "agent_id": agent_id, "file": f"calls/{cid}.wav",
                              "content_hash": f"{cid:064x}", "call_date": when, "duration": t,
                              "engine": "faster-whisper", "model": "tiny.en", "rubric_id": rubric.id,
                              "rubric_hash": "bench", "score": score, "machine_score": score,
                              "critical_failed": False, "roles": "channels", "role_confidence": 1.0,
                              "negative_flags": negatives, "review_status": "unreviewed"})
                for p, name in enumerate(sections):
                    scores.append({"call_id": cid, "section": name, "position": p, "agent_id": agent_id,
                                   "call_date": when, "override": None,
                                   "score": None if rng.random() < 0.15 else round(rng.uniform(0, 100), 1)})
            session.execute(Call.__table__.insert(), calls)
            session.execute(SectionScore.__table__.insert(), scores)
            session.execute(FlagRow.__table__.insert(), flags)
            session.execute(SegmentRow.__table__.insert(), segments)
            session.commit()
        if engine.dialect.name == "postgresql":
            session.execute(text("SELECT setval('agents_id_seq', (SELECT max(id) FROM agents))"))
            session.execute(text("SELECT setval('calls_id_seq', (SELECT max(id) FROM calls))"))
            session.commit()
    with engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
        conn.commit()
    return time.perf_counter() - start


def timed(label: str, fn, runs: int = 3):
    times, result = [], None
    for _ in range(runs):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    print(f"  {label:<44} first {times[0] * 1000:8.1f} ms   best {min(times) * 1000:8.1f} ms")
    return result


def bench(url: str, n_calls: int, n_agents: int) -> None:
    engine = connect(url)
    migrate(engine)
    seconds = fill(engine, n_calls, n_agents)
    print(f"filled {n_calls:,} calls for {n_agents} agent(s) in {seconds:.1f} s ({safe_url(url)})")
    rubric = default_rubric()
    with Session(engine) as session:
        report = timed("build_report (one agent, with team figures)",
                       lambda: build_report(session, "agent000", rubric=rubric))
        print(f"    agent000: {report.calls:,} of {report.team_calls:,} calls, top issue: "
              f"{report.focus[0].name if report.focus else '-'}")
        timed("render_html (2 inline SVG charts)", lambda: render_html(report))
        timed("render_markdown", lambda: render_markdown(report))
        timed("report_json", lambda: report_json(report))
        timed("build + render_html", lambda: render_html(build_report(session, "agent000", rubric=rubric)))
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="database URL (must be empty; default: new SQLite files in a temporary folder)")
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--agents", type=int, default=5)
    args = parser.parse_args()

    t = time.perf_counter()
    default_rubric()
    print(f"packaged rubric loaded in {time.perf_counter() - t:.2f} s (once per process, not timed below)")
    if args.db:
        bench(args.db, args.calls, args.agents)
        return
    with tempfile.TemporaryDirectory(prefix="callqa-report-bench-") as tmp:
        print(f"\n== {args.calls:,} calls, {args.agents} agents")
        bench(f"sqlite:///{Path(tmp) / 'team.db'}", args.calls, args.agents)
        print(f"\n== {args.calls:,} calls, all of one agent")
        bench(f"sqlite:///{Path(tmp) / 'one.db'}", args.calls, 1)


if __name__ == "__main__":
    main()
