"""Start-up: commands that have little or nothing to do, timed beside the floor (issue 17).

    python benchmarks/startup.py [--calls 2000] [--runs 5] [--workdir DIR]

The floor is the least a ``score`` with nothing to do must do: a 15-line script (FLOOR below) that
hashes each input file and makes one indexed SQLite lookup per file. Setup (once per workdir):
``--calls`` text transcripts are written and scored into a SQLite database with ``callqa score``.
Then each command runs ``--runs`` times as a fresh process, commands interleaved so that a burst
of load on the shared machine hits them all alike; the median wall time and the median CPU time
(user + system of the process) are printed beside the floor's from the same run, with the ratios:
on a loaded machine the CPU figures are the steadier. Each command also runs once under a check of
``sys.modules``: which heavy modules it imported (spaCy, thinc, torch, a sentence encoder,
Alembic, numpy). The load average is printed at the start and the end.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("spacy", "thinc", "torch", "onnxruntime", "sentence_transformers", "callqa.encoders", "alembic", "numpy",
         "callqa.rubric.engine", "callqa.rubric.schema")

FLOOR = '''\
import hashlib, sqlite3, sys
from pathlib import Path
db, rubric_hash, folder = sys.argv[1:4]
conn = sqlite3.connect(db)
stored = 0
for path in sorted(Path(folder).rglob("*.txt")):
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        digest.update(fh.read())
    row = conn.execute("SELECT 1 FROM calls WHERE content_hash = ? AND rubric_hash = ?",
                       (digest.hexdigest(), rubric_hash)).fetchone()
    stored += row is not None
conn.close()
print(f"{stored} stored")
'''

CALL = """Agent: Thank you for calling Northwind Energy, my name is Sam. How can I help you today?
Customer: Hi, I've been charged twice for my bill this month, the reference is {ref}.
Agent: I'm sorry to hear that, I understand how frustrating that is. Can I take your postcode, please?
Customer: It's NW{n} 4AB.
Agent: Thank you. I can see the duplicate payment of {amount} dollars; I'll refund it today and you'll see it in three to five days.
Customer: Great, thanks.
Agent: Is there anything else I can help you with? Thank you for calling, goodbye.
"""


def callqa(*args: str) -> list[str]:
    return [sys.executable, "-m", "callqa.cli", *args]


def setup(work: Path, calls: int, env: dict[str, str]) -> tuple[Path, Path]:
    folder, db = work / "calls", work / "calls.db"
    if db.exists() and folder.is_dir() and len(list(folder.glob("*.txt"))) == calls:
        return folder, db
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(calls):
        (folder / f"call_{i:05d}.txt").write_text(CALL.format(ref=f"NE{100000 + i}", n=i % 20 + 1,
                                                              amount=20 + i % 80), encoding="utf-8")
    start = time.perf_counter()
    subprocess.run(callqa("score", str(folder), "--db", str(db), "--agent", "sam", "-q"), env=env, check=True,
                   stdout=subprocess.DEVNULL)
    print(f"setup: {calls} calls scored into {db} in {time.perf_counter() - start:.0f} s")
    return folder, db


def imported(argv: list[str], env: dict[str, str]) -> list[str]:
    """The heavy modules a command imports (run once in a process that reports sys.modules)."""
    probe = ("import json, sys\nfrom callqa.cli import main\n"
             "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
             "sys.stderr.write('\\nMODULES ' + json.dumps(sorted(sys.modules)) + '\\n')\n")
    out = subprocess.run([sys.executable, "-c", probe, *argv[3:]], env=env, capture_output=True, text=True)
    line = next(x for x in out.stderr.splitlines() if x.startswith("MODULES "))
    modules = set(json.loads(line[len("MODULES "):]))
    return [m for m in HEAVY if m in modules]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--calls", type=int, default=2000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--workdir", type=Path, help="keep the transcripts and database here (reused when present)")
    args = ap.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="callqa-startup-"))
    work.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(REPO / "src"))
    from callqa.cache import model_dir

    # the benchmark's own caches and no user's config file, but the sentence encoder built once per machine
    env = os.environ | {"PYTHONPATH": str(REPO / "src"), "CALLQA_CACHE_DIR": str(work / "cache"),
                        "CALLQA_MODEL_DIR": str(model_dir()), "XDG_CONFIG_HOME": str(work / "config")}
    print(f"load average at start: {os.getloadavg()[0]:.2f} (1 min), {os.cpu_count()} cores")
    folder, db = setup(work, args.calls, env)
    rubric_hash = subprocess.run(
        [sys.executable, "-c", "from callqa.rubric.loader import load_rubric; print(load_rubric().content_hash)"],
        env=env, capture_output=True, text=True, check=True).stdout.strip()
    floor_script = work / "floor.py"
    floor_script.write_text(FLOOR)
    commands = {
        "floor (hash + 1 lookup per file)": [sys.executable, str(floor_script), str(db), rubric_hash, str(folder)],
        "python -c pass": [sys.executable, "-c", "pass"],
        "callqa --help": callqa("--help"),
        f"score, {args.calls} stored, nothing to do": callqa("score", str(folder), "--db", str(db), "-q"),
        "rubric check (default rubric)": callqa("rubric", "check", str(REPO / "rubrics" / "default.yaml")),
        "rubric explain": callqa("rubric", "explain", "negative_phrasing.dont_know"),
        "agents": callqa("agents", "--db", str(db)),
        f"export --format json ({args.calls} calls)": callqa("export", "--db", str(db), "--format", "json",
                                                             "-o", str(work / "export.jsonl")),
    }
    times: dict[str, list[float]] = {name: [] for name in commands}
    cpu: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(args.runs):
        for name, argv in commands.items():
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            done = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            times[name].append(time.perf_counter() - start)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu[name].append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
            if done.returncode != 0:
                sys.exit(f"{name} failed ({done.returncode}): {done.stderr}")
    floor = statistics.median(times["floor (hash + 1 lookup per file)"])
    floor_cpu = statistics.median(cpu["floor (hash + 1 lookup per file)"])
    print(f"\n{'command':44} {'wall s':>7} {'x floor':>8} {'CPU s':>7} {'x floor':>8}  heavy modules imported")
    for name, argv in commands.items():
        heavy = ", ".join(imported(argv, env)) if argv[1:3] == ["-m", "callqa.cli"] else ""
        med, med_cpu = statistics.median(times[name]), statistics.median(cpu[name])
        print(f"{name:44} {med:7.3f} {med / floor:8.2f} {med_cpu:7.3f} {med_cpu / floor_cpu:8.2f}  {heavy or '-'}")
    print(f"\nmedians of {args.runs} runs; load average at the end: {os.getloadavg()[0]:.2f} (1 min)")


if __name__ == "__main__":
    main()
