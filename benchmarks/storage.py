"""Storage at scale: fill a database with 100,000 scored calls, then time the queries the CLI,
TUI and reports run first.

    python benchmarks/storage.py                      # SQLite file in a temporary folder
    python benchmarks/storage.py --calls 20000 --segments 20
    python benchmarks/storage.py --db postgresql+psycopg://postgres@127.0.0.1:5432/bench

The database must be empty (it is migrated first). Rows go in with Core executemany in chunks;
then each query runs 3 times and the figures printed are the first run and the best of 3 (the
operating system's file cache is warm from the fill, as it is on a database in daily use).
Targets: agents list and first page of calls well under 1 s.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from callqa.storage import (
    Flag,
    agent_summaries,
    connect,
    count_calls,
    get_call,
    list_calls,
    migrate,
    safe_url,
    save_scored_call,
)
from callqa.storage.models import Agent, Call, FlagRow, SectionScore, SegmentRow
from callqa.storage.models import Review as ReviewRow
from callqa.transcript import Segment, Transcript

SECTIONS = ("opening", "empathy", "resolution", "compliance", "closing")
CRITERIA = [("opening.greeting", "opening", "positive"), ("empathy.dismissive", "empathy", "negative"),
            ("resolution.ownership", "resolution", "negative"), ("listening.dead_air", "listening", "negative"),
            ("closing.summary", "closing", "positive"), ("compliance.disclosure", "compliance", "negative")]
WORDS = ("thank you for calling how can I help refund order account card delivery sorry "
         "understand let me check that for you one moment please anything else today").split()
CHUNK = 20_000


def fill(engine, n_calls: int, n_agents: int, n_segments: int, n_flags: int, seed: int = 7) -> float:
    rng = random.Random(seed)
    start = time.perf_counter()
    base = datetime(2025, 1, 1, tzinfo=UTC)
    with Session(engine) as session:
        session.execute(Agent.__table__.insert(), [{"id": a + 1, "name": f"agent{a:03d}"} for a in range(n_agents)])
        for lo in range(0, n_calls, CHUNK):
            ids = range(lo + 1, min(lo + CHUNK, n_calls) + 1)
            calls, sections, flags, segments = [], [], [], []
            for cid in ids:
                score = round(rng.uniform(20, 100), 1)
                negatives = 0
                for _ in range(n_flags):
                    criterion, category, polarity = rng.choice(CRITERIA)
                    negatives += polarity == "negative"
                    t = rng.uniform(0, 300)
                    flags.append({"call_id": cid, "criterion": criterion, "category": category,
                                  "polarity": polarity, "severity": "major", "speaker": "agent",
                                  "start_s": t, "end_s": t + 2, "text": " ".join(rng.sample(WORDS, 4)),
                                  "message": "message", "suggestion": "say this instead",
                                  "explanation": "matched phrase", "details": {"score": 91.0},
                                  "origin": "machine", "review_status": None})
                agent_id, when = rng.randrange(n_agents) + 1, base + timedelta(minutes=5 * cid)
                calls.append({"id": cid, "agent_id": agent_id, "file": f"calls/{cid}.wav",
                              "content_hash": f"{cid:064x}", "call_date": when,
                              "duration": rng.uniform(60, 900), "engine": "faster-whisper", "model": "tiny.en",
                              "rubric_id": "default", "rubric_hash": "v1", "score": score,
                              "machine_score": score, "critical_failed": rng.random() < 0.05,
                              "roles": "channels", "role_confidence": 1.0, "negative_flags": negatives,
                              "review_status": "reviewed" if rng.random() < 0.05 else "unreviewed"})
                for p, name in enumerate(SECTIONS):
                    sections.append({"call_id": cid, "section": name, "position": p, "override": None,
                                     "agent_id": agent_id, "call_date": when,
                                     "score": None if rng.random() < 0.1 else round(rng.uniform(0, 100), 1)})
                for i in range(n_segments):
                    segments.append({"call_id": cid, "idx": i, "speaker": ("agent", "customer")[i % 2],
                                     "start_s": i * 6.0, "end_s": i * 6.0 + 5, "words": None,
                                     "text": " ".join(rng.choices(WORDS, k=12))})
            session.execute(Call.__table__.insert(), calls)
            session.execute(SectionScore.__table__.insert(), sections)
            session.execute(FlagRow.__table__.insert(), flags)
            if segments:
                session.execute(SegmentRow.__table__.insert(), segments)
            session.commit()
        if engine.dialect.name == "postgresql":  # explicit ids: move the sequences past them
            for table in ("agents", "calls"):
                session.execute(func.setval(f"{table}_id_seq", select(func.max(Agent.id if table == "agents"
                                                                              else Call.id)).scalar_subquery()))
            session.commit()
    with engine.connect() as conn:  # fresh statistics for the planner, as a real database has
        conn.exec_driver_sql("ANALYZE")
        conn.commit()
    return time.perf_counter() - start


def timed(label: str, fn, runs: int = 3) -> None:
    times, result = [], None
    for _ in range(runs):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    size = len(result) if hasattr(result, "__len__") else result
    print(f"  {label:<48} first {times[0] * 1000:8.1f} ms   best {min(times) * 1000:8.1f} ms   ({size})")


class _Score:
    def __init__(self, score, sections, flags):
        self.score, self.sections, self.flags, self.critical_failed = score, sections, flags, False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="database URL (default: a new SQLite file in a temporary folder)")
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--segments", type=int, default=10, help="transcript segments per call")
    parser.add_argument("--flags", type=int, default=4, help="flags per call")
    args = parser.parse_args()

    tmp = None
    if args.db is None:
        tmp = tempfile.TemporaryDirectory(prefix="callqa-bench-")
        args.db = f"sqlite:///{Path(tmp.name) / 'bench.db'}"
    engine = connect(args.db)
    migrate(engine)
    print(f"database: {safe_url(args.db)}")
    seconds = fill(engine, args.calls, args.agents, args.segments, args.flags)
    rows = args.calls * (1 + len(SECTIONS) + args.flags + args.segments)
    print(f"filled {args.calls:,} calls, {args.agents} agents, {args.calls * args.flags:,} flags, "
          f"{args.calls * args.segments:,} segments ({rows:,} rows) in {seconds:.1f} s "
          f"({rows / seconds:,.0f} rows/s, Core executemany)")
    if tmp is not None:
        size = sum(p.stat().st_size for p in Path(tmp.name).iterdir())
        print(f"SQLite file size: {size / 1e6:.0f} MB")

    with Session(engine) as s:
        first = s.scalar(select(Call.id).order_by(Call.call_date.desc()).limit(1))
        mid = s.scalar(select(Call.id).where(Call.id == args.calls // 2))
        s.execute(ReviewRow.__table__.insert(), [{"call_id": mid, "kind": "comment", "text": "ok",
                                                  "reviewer": "bench"}])
        s.execute(update(Call).where(Call.id == mid).values(review_status="reviewed"))
        s.commit()
        print("queries:")
        timed("agent_summaries (all agents, sections)", lambda: agent_summaries(s))
        timed("agent_summaries (one month)", lambda: agent_summaries(
            s, date_from=datetime(2025, 3, 1, tzinfo=UTC), date_to=datetime(2025, 4, 1, tzinfo=UTC)))
        timed("list_calls first page (newest)", lambda: list_calls(s))
        timed("list_calls page 100 (offset 4,950)", lambda: list_calls(s, offset=4_950))
        timed("list_calls unreviewed, newest", lambda: list_calls(s, unreviewed=True))
        timed("list_calls one agent, newest", lambda: list_calls(s, agent="agent007"))
        timed("list_calls lowest score first", lambda: list_calls(s, order_by="score"))
        timed("list_calls score 40-50, one month", lambda: list_calls(
            s, score_min=40, score_max=50, date_from=datetime(2025, 3, 1, tzinfo=UTC),
            date_to=datetime(2025, 4, 1, tzinfo=UTC)))
        timed("list_calls category 'compliance'", lambda: list_calls(s, category="compliance"))
        timed("list_calls disputed (none)", lambda: list_calls(s, review_status="disputed"))
        timed("count_calls (all)", lambda: count_calls(s))
        timed("count_calls unreviewed", lambda: count_calls(s, unreviewed=True))
        timed("list_calls search common word", lambda: list_calls(s, search="refund"))
        timed("list_calls search absent text (full scan)", lambda: list_calls(s, search="zebra crossing"), runs=1)
        timed("get_call (segments, flags, reviews)", lambda: get_call(s, first).segments)

        transcript = Transcript("calls/new.wav", 300.0, "faster-whisper", "tiny.en",
                                tuple(Segment(("agent", "customer")[i % 2], i * 6.0, i * 6.0 + 5, "hello there")
                                      for i in range(30)))
        flags = [Flag(c, cat, pol, "major", "agent", 6.0 * k, 6.0 * k + 2, "hello there", "message")
                 for k, (c, cat, pol) in enumerate(CRITERIA[:4])]
        t = time.perf_counter()
        n = 200
        for i in range(n):
            save_scored_call(s, transcript, _Score(75.0, dict.fromkeys(SECTIONS, 80.0), flags),
                             agent=f"agent{i % 50:03d}", call_date=datetime(2026, 1, 1, tzinfo=UTC),
                             content_hash=f"new{i:061d}", rubric_id="default", rubric_hash="v1")
        per = (time.perf_counter() - t) / n
        print(f"  save_scored_call (30 segments, 5 sections, 4 flags), mean of {n}: {per * 1000:.1f} ms per call")
    engine.dispose()
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
