"""Batch throughput: audio-minutes scored per wall-minute, and listing agents over 100,000 calls.

    python benchmarks/batch.py                         # ~5 minutes on 2 cores
    python benchmarks/batch.py --workers 1 2 4 --calls 100000
    python benchmarks/batch.py --skip-audio --db postgresql+psycopg://postgres@127.0.0.1:5432/bench

1. ``callqa score recordings_sample/`` with 1 and 2 worker processes, each run with a fresh
   temporary SQLite file and a fresh transcript cache, so Whisper (faster-whisper tiny.en, the
   default) really transcribes every call; the wall time is the whole command's (start-up and
   model loading included), as a user sees it. Audio minutes are the durations of the calls stored.
2. The agents list over 100,000 stored calls, filled with benchmarks/storage.py's filler (50
   agents, 9 sections and 4 flags per call; no transcript segments, which the list never reads):
   ``callqa agents --format json`` as a command (a new process: imports, connect, migration
   check, query, output) and ``services.agent_summaries`` in a process that has already opened
   the database (first run and best of 3).
"""

from __future__ import annotations

import argparse
import os
import platform
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "recordings_sample"


def score_sample(workers: int, tmp: Path) -> None:
    run_dir = Path(tempfile.mkdtemp(prefix=f"j{workers}-", dir=tmp))
    db = run_dir / "q.db"
    env = {k: v for k, v in os.environ.items() if k not in ("CALLQA_DB", "CALLQA_REDACT")}
    env |= {"CALLQA_CACHE_DIR": str(run_dir / "cache")}  # empty: Whisper runs on every call
    t = time.perf_counter()
    run = subprocess.run([sys.executable, "-m", "callqa.cli", "score", str(SAMPLES), "--db", str(db),
                          "-j", str(workers), "--format", "json"], capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t
    if run.returncode != 0:
        print(run.stderr[-2000:])
        raise SystemExit(f"callqa score failed with exit code {run.returncode}")
    with sqlite3.connect(db) as conn:
        calls, seconds, engines = conn.execute(
            "SELECT COUNT(*), SUM(duration), GROUP_CONCAT(DISTINCT engine || ' ' || model) FROM calls").fetchone()
    minutes = seconds / 60
    print(f"  {workers} worker{'s' if workers > 1 else ' '}: {calls} calls, {minutes:.1f} audio-min in "
          f"{wall:.1f} s wall  →  {minutes / (wall / 60):5.1f} audio-min per wall-min ({engines})", flush=True)


def list_agents(url: str, n_calls: int) -> None:
    sys.path.insert(0, str(REPO / "benchmarks"))
    from storage import fill  # benchmarks/storage.py

    from callqa import services
    from callqa.storage import connect, count_calls, migrate, safe_url
    from callqa.workspace import Workspace

    engine = connect(url)
    migrate(engine)
    with engine.connect() as conn:
        from sqlalchemy import text

        if conn.execute(text("SELECT COUNT(*) FROM calls")).scalar_one():
            raise SystemExit(f"{safe_url(url)} is not empty: give an empty database")
    seconds = fill(engine, n_calls, n_agents=50, n_segments=0, n_flags=4)
    engine.dispose()
    with services.session_for(url) as session:
        print(f"  filled {count_calls(session):,} calls in {seconds:.1f} s  ({safe_url(url)})", flush=True)

    env = {k: v for k, v in os.environ.items() if k != "CALLQA_DB"}
    times = []
    for _ in range(3):
        t = time.perf_counter()
        run = subprocess.run([sys.executable, "-m", "callqa.cli", "agents", "--db", url, "--format", "json"],
                             capture_output=True, text=True, env=env)
        times.append(time.perf_counter() - t)
        if run.returncode != 0:
            raise SystemExit(run.stderr)
    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import callqa.cli"], check=True)
    startup = time.perf_counter() - t
    print(f"  `callqa agents --format json` (a new process): first {times[0]:.2f} s, best {min(times):.2f} s "
          f"(of which Python + import callqa.cli: {startup:.2f} s)")
    times = []
    for _ in range(3):
        t = time.perf_counter()
        agents = services.agent_summaries(Workspace(db=url))
        times.append(time.perf_counter() - t)
    print(f"  services.agent_summaries, database already open: first {times[0] * 1000:.0f} ms, "
          f"best {min(times) * 1000:.0f} ms ({len(agents)} agents, {sum(a.calls for a in agents):,} calls)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--db", help="an EMPTY database for the agents list (default: a temporary SQLite file)")
    parser.add_argument("--skip-audio", action="store_true", help="only the agents list")
    args = parser.parse_args()
    print(f"callqa batch benchmark: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory(prefix="callqa-batch-") as tmp:
        if not args.skip_audio:
            print(f"scoring {SAMPLES.relative_to(REPO)}/ (fresh database and transcript cache per run):")
            for workers in args.workers:
                score_sample(workers, Path(tmp))
        print(f"listing agents over {args.calls:,} stored calls:")
        list_agents(args.db or f"sqlite:///{Path(tmp) / 'agents.db'}", args.calls)


if __name__ == "__main__":
    main()
