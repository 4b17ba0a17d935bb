"""Batch throughput: audio-minutes scored per wall-minute, text transcripts scored and rescored
per second, and listing agents over 100,000 calls.

    python benchmarks/batch.py                         # ~20 minutes on 2 cores
    python benchmarks/batch.py --workers 1 2 4 --calls 100000
    python benchmarks/batch.py --skip-audio --skip-agents --transcripts 2000
    python benchmarks/batch.py --skip-audio --skip-transcripts --db postgresql+psycopg://postgres@127.0.0.1:5432/bench

1. ``callqa score recordings_sample/`` with 1 and 2 worker processes, each run with a fresh
   temporary SQLite file and a fresh transcript cache, so Whisper (faster-whisper tiny.en, the
   default) really transcribes every call; the wall time is the whole command's (start-up and
   model loading included), as a user sees it. Audio minutes are the durations of the calls stored.
2. ``callqa score FOLDER`` over ``--transcripts`` generated text transcripts (benchmarks/score.py's
   40-turn calls, ``Agent:``/``Customer:`` lines, 5 agents): fresh with ``-j 1`` and ``-j 2`` (each
   into a new SQLite file), then the ``-j 2`` database rescored with an edited rubric (the default
   with one section weight changed: every call is rescored from its stored transcript). Each run
   is a whole command, start-up included, and runs ``--repeat`` times; the figures print side by
   side with the ratios. The embedding cache (a copy of yours, which holds the rubric's examples)
   is warmed first by an untimed run (its time is printed): a folder of real calls embeds its new
   sentences once, which this leaves out.
3. The agents list over 100,000 stored calls, filled with benchmarks/storage.py's filler (50
   agents, 9 sections and 4 flags per call; no transcript segments, which the list never reads):
   ``callqa agents --format json`` as a command (a new process: imports, connect, migration
   check, query, output) and ``services.agent_summaries`` in a process that has already opened
   the database (first run and best of 3).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import platformdirs

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


def write_transcripts(folder: Path, n: int) -> None:
    sys.path.insert(0, str(REPO / "benchmarks"))
    import random

    from score import synthetic_call  # benchmarks/score.py

    folder.mkdir(parents=True)
    rng = random.Random(0)
    agents = ["alice", "bob", "carmen", "dev", "erin"]
    for i in range(n):
        call = synthetic_call(rng, 40, i)
        lines = [f"{s.speaker.capitalize()}: {s.text}\n" for s in call.segments]
        (folder / f"call{i:05d}_{agents[i % len(agents)]}.txt").write_text("".join(lines), encoding="utf-8")


def edited_rubric(tmp: Path) -> Path:
    """The default rubric with one section weight changed, its training files still found."""
    source = REPO / "src/callqa/rubric/default.yaml"
    text = source.read_text(encoding="utf-8")
    edited = text.replace("{id: greeting, name: Greeting, weight: 5}", "{id: greeting, name: Greeting, weight: 6}", 1)
    edited = edited.replace("file: labelled/", f"file: {source.parent}/labelled/")
    assert edited != text
    path = tmp / "edited.yaml"
    path.write_text(edited, encoding="utf-8")
    return path


def timed_score(folder: Path, db: Path, workers: int, cache: Path, *extra: str) -> tuple[float, float, dict]:
    """One ``callqa score`` command: wall seconds, CPU seconds (it and its workers), statuses."""
    env = {k: v for k, v in os.environ.items() if k not in ("CALLQA_DB", "CALLQA_REDACT", "CALLQA_RUBRIC")}
    env |= {"CALLQA_CACHE_DIR": str(cache), "CALLQA_MODEL_DIR": os.environ.get("CALLQA_MODEL_DIR")
            or str(Path(platformdirs.user_cache_dir("callqa")) / "models")}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    run = subprocess.run([sys.executable, "-m", "callqa.cli", "score", str(folder), "--db", str(db),
                          "-j", str(workers), "--format", "json", *extra], capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if run.returncode != 0:
        print(run.stderr[-2000:])
        raise SystemExit(f"callqa score failed with exit code {run.returncode}")
    statuses: dict[str, int] = {}
    for line in run.stdout.splitlines():
        status = json.loads(line)["status"]
        statuses[status] = statuses.get(status, 0) + 1
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return wall, cpu, statuses


def score_transcripts(n: int, repeat: int, tmp: Path) -> None:
    folder, cache = tmp / "transcripts", tmp / "cache"
    write_transcripts(folder, n)
    cache.mkdir()
    mine = Path(os.environ.get("CALLQA_CACHE_DIR") or platformdirs.user_cache_dir("callqa")) / "embeddings.sqlite"
    if mine.exists():  # the rubric's examples and training rows: embedding them is not what is measured
        with sqlite3.connect(mine) as source, sqlite3.connect(cache / "embeddings.sqlite") as copy:
            source.backup(copy)
    wall, cpu, _ = timed_score(folder, tmp / "warm.db", 2, cache)
    print(f"  warm-up (fills the embedding cache, not compared): {wall:.1f} s wall, {cpu:.1f} s CPU", flush=True)
    rubric = edited_rubric(tmp)
    for r in range(repeat):
        figures = {}
        for name, workers in (("fresh -j 1", 1), ("fresh -j 2", 2)):
            db = tmp / f"{name[-1]}-{r}.db"
            figures[name] = (*timed_score(folder, db, workers, cache), os.getloadavg()[0])
        figures["rescore -j 2, edited rubric"] = (*timed_score(folder, db, 2, cache, "--rubric", str(rubric)),
                                                 os.getloadavg()[0])
        for name, (wall, cpu, statuses, load) in figures.items():
            done = statuses.get("rescored" if name.startswith("rescore") else "scored", 0)
            assert done == n, f"{name}: {statuses}"
            print(f"  run {r + 1}  {name:27} {wall:6.1f} s wall {n / wall:6.1f} calls/s  {cpu:6.1f} s CPU "
                  f"({cpu / n * 1000:4.1f} ms/call)  load {load:.1f}", flush=True)
        j1, j2, re_ = (figures[k][0] for k in figures)
        print(f"  run {r + 1}  -j 2 is {j1 / j2:.2f}x -j 1; rescoring is {j2 / re_:.2f}x fresh -j 2", flush=True)


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
    parser.add_argument("--skip-audio", action="store_true", help="no Whisper run over the sample recordings")
    parser.add_argument("--transcripts", type=int, default=2000, help="generated text transcripts to score")
    parser.add_argument("--repeat", type=int, default=2, help="runs of the transcript figures")
    parser.add_argument("--skip-transcripts", action="store_true")
    parser.add_argument("--skip-agents", action="store_true")
    args = parser.parse_args()
    print(f"callqa batch benchmark: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f}", flush=True)
    with tempfile.TemporaryDirectory(prefix="callqa-batch-") as tmp:
        if not args.skip_audio:
            print(f"scoring {SAMPLES.relative_to(REPO)}/ (fresh database and transcript cache per run):")
            for workers in args.workers:
                score_sample(workers, Path(tmp))
        if not args.skip_transcripts:
            print(f"scoring {args.transcripts:,} text transcripts (fresh databases; the embedding cache warm):")
            score_transcripts(args.transcripts, args.repeat, Path(tmp))
        if not args.skip_agents:
            print(f"listing agents over {args.calls:,} stored calls:")
            list_agents(args.db or f"sqlite:///{Path(tmp) / 'agents.db'}", args.calls)


if __name__ == "__main__":
    main()
