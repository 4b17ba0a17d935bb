"""Reliability of batch scoring, proved with real runs of the ``callqa score`` command.

    python benchmarks/reliability.py                    # ~1-2 minutes on 2 cores
    python benchmarks/reliability.py --transcripts 1000 --keep

Three scenarios, each on fresh temporary folders and SQLite files:

(a) broken files: corrupt, truncated, empty, non-audio, zero-length (a WAV header, no samples),
    an invalid and an empty transcript, unreadable (dangling symlinks, a folder named x.wav), and
    unicode names, among good transcripts and real recordings (Whisper runs: fresh cache).
    Every failure must be in the errors table with its message, every good file scored.
(b) SIGKILL half-way: the command (and its worker processes) is killed with kill -9 once half
    the files are stored (polling the database), then run again. Every file must end up stored
    exactly once, with all its transcript segments.
(c) two writers: two ``callqa score`` processes on one SQLite file at once, each with a folder of
    its own plus one folder both score. Both must finish with no "database is locked" error and
    no lost or duplicated rows.

The bulk of the inputs are transcripts (copies of samples/reference/*.json made distinct with an
extra field, so that each has its own content hash); a few are real recordings from
recordings_sample/. Figures: files given, scored, failed (recorded), failures not recorded,
duplicated calls (extra rows for one content hash, or a call whose segments do not match its
input), missing files, wall time.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import wave
from dataclasses import dataclass
from pathlib import Path

from callqa.audio import content_hash

REPO = Path(__file__).resolve().parents[1]
REFERENCE = REPO / "samples" / "reference"
SAMPLES = REPO / "recordings_sample"


# ----------------------------------------------------------------------------- helpers

def write_transcripts(folder: Path, n: int, prefix: str = "call", start: int = 0) -> dict[Path, int]:
    refs = sorted(REFERENCE.glob("*.json"))
    folder.mkdir(parents=True, exist_ok=True)
    made = {}
    for i in range(start, start + n):
        data = json.loads(refs[i % len(refs)].read_text(encoding="utf-8"))
        data["batch_copy"] = f"{prefix}-{i}"
        path = folder / f"{prefix}_{i:05d}.json"
        path.write_text(json.dumps(data), encoding="utf-8")
        made[path] = len(data["segments"])
    return made


def env_for(cache: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CALLQA_DB", "CALLQA_REDACT")}
    return env | {"CALLQA_CACHE_DIR": str(cache), "COLUMNS": "300"}


def command(*args: str | Path) -> list[str]:
    return [sys.executable, "-m", "callqa.cli", "score", *map(str, args), "--format", "json"]


def statuses(stdout: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for line in stdout.splitlines():
        if line.startswith("{"):
            status = json.loads(line)["status"]
            counts[status] = counts.get(status, 0) + 1
    return counts


def sql(db: Path, query: str) -> list[tuple]:
    with sqlite3.connect(db, timeout=60) as conn:
        return conn.execute(query).fetchall()


@dataclass
class Check:
    files: int
    stored: int
    missing: int
    duplicates: int  # extra rows per content hash + calls whose segments differ from the input


def check_stored(db: Path, expected: dict[Path, int | None]) -> Check:
    """Compare the database with the files that must be stored (segments: None = any > 0)."""
    rows = sql(db, "SELECT c.content_hash, COUNT(DISTINCT c.id), COUNT(s.id) FROM calls c "
                   "LEFT JOIN segments s ON s.call_id = c.id GROUP BY c.content_hash")
    stored = {h: (n, segs) for h, n, segs in rows}
    want = {content_hash(p): n for p, n in expected.items()}
    missing = sum(1 for h in want if h not in stored)
    duplicates = sum(n - 1 for n, _ in stored.values()) + sum(
        1 for h, n in want.items() if h in stored and (stored[h][1] != n if n is not None else stored[h][1] == 0))
    extra = sum(1 for h in stored if h not in want)
    return Check(len(want), len(stored), missing, duplicates + extra)


ROWS: list[tuple] = []


def row(scenario: str, files: int, scored: int, failed: int, unrecorded: int, duplicates: int, missing: int,
        wall: float, note: str = "") -> None:
    ROWS.append((scenario, files, scored, failed, unrecorded, duplicates, missing, wall, note))
    print(f"  {scenario}: files {files}, scored {scored}, failed {failed}, failures not recorded {unrecorded}, "
          f"duplicates {duplicates}, missing {missing}, {wall:.1f} s {note}", flush=True)


# ----------------------------------------------------------------------------- (a) broken files

def broken_files(root: Path, n_transcripts: int) -> bool:
    print("(a) a batch with broken files", flush=True)
    folder = root / "calls"
    good: dict[Path, int | None] = dict(write_transcripts(folder, n_transcripts))
    uni = folder / "Ünïcødé 通话"
    uni.mkdir()
    for src, dst in ((SAMPLES / "c10_alice_contact_update.ogg", uni / "Ünïcødé 通话 ☎.ogg"),
                     (SAMPLES / "c06_carmen_solar.mp3", folder / "c06 (mono).mp3"),
                     (SAMPLES / "c07_alice_payment_plan.flac", uni / "Ελληνικά – 8 kHz.flac")):
        shutil.copy(src, dst)
        good[dst] = None
    for i, ref in enumerate(sorted(REFERENCE.glob("*.json"))[:3]):
        data = json.loads(ref.read_text(encoding="utf-8")) | {"batch_copy": f"unicode-{i}"}
        path = uni / f"通话 {i} ☎ Ünïcødé.json"
        path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
        good[path] = len(data["segments"])

    broken: dict[Path, str] = {}
    (folder / "corrupt.wav").write_bytes(os.urandom(4096))
    broken[folder / "corrupt.wav"] = "corrupt (random bytes)"
    (folder / "truncated.ogg").write_bytes((SAMPLES / "c01_alice_double_charge.ogg").read_bytes()[:4000])
    broken[folder / "truncated.ogg"] = "truncated recording"
    (folder / "empty.mp3").write_bytes(b"")
    broken[folder / "empty.mp3"] = "empty (0 bytes)"
    (folder / "notes.mp3").write_text("not a recording\n")
    broken[folder / "notes.mp3"] = "non-audio"
    with wave.open(str(folder / "zero.wav"), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
    broken[folder / "zero.wav"] = "zero-length (WAV header only)"
    (folder / "bad.json").write_text('{"segments": [\n')
    broken[folder / "bad.json"] = "invalid transcript JSON"
    (folder / "silent.json").write_text('{"segments": []}')
    broken[folder / "silent.json"] = "transcript without speech"
    (root / "dangling.ogg").symlink_to(root / "nowhere.ogg")
    broken[root / "dangling.ogg"] = "dangling symlink, named on the command line"
    (folder / "dangling-in-folder.ogg").symlink_to(root / "nowhere.ogg")
    broken[folder / "dangling-in-folder.ogg"] = "dangling symlink, inside the folder"
    (folder / "folder.wav").mkdir()  # a folder: walked like any folder, not an input
    if os.geteuid() != 0:
        locked = folder / "locked.wav"
        shutil.copy(SAMPLES / "c10_alice_contact_update.ogg", locked)
        locked.chmod(0)
        broken[locked] = "unreadable (mode 000)"

    db = root / "a.db"
    t = time.perf_counter()
    run = subprocess.run(command(folder, root / "dangling.ogg", folder / "folder.wav", "--db", db, "-j", "2"),
                         capture_output=True, text=True, env=env_for(root / "cache"))
    wall = time.perf_counter() - t
    errors = dict(sql(db, "SELECT file, message FROM errors"))
    print(f"  exit code {run.returncode} (2: some files failed); errors table:")
    for path, what in broken.items():
        message = errors.get(str(path))
        shown = (message or "").replace(f"{folder}/", "").replace(f"{root}/", "")
        print(f"    {what:<44} {'recorded    ' if message else 'NOT RECORDED'} {shown[:110]}")
    check = check_stored(db, good)
    counts = statuses(run.stdout)
    engines = sql(db, "SELECT engine, COUNT(*) FROM calls GROUP BY engine")
    print(f"  stored calls by engine: {dict(engines)}")
    unrecorded = sum(1 for p in broken if str(p) not in errors)
    row("(a) broken files", len(good) + len(broken), counts.get("scored", 0), len(errors), unrecorded,
        check.duplicates, check.missing, wall, "(3 recordings transcribed by Whisper)")
    return "Traceback" not in run.stderr and check.missing == check.duplicates == unrecorded == 0 and \
        set(errors) <= {str(p) for p in broken}


# ----------------------------------------------------------------------------- (b) SIGKILL

def killed_and_rerun(root: Path, n_transcripts: int) -> bool:
    print("(b) a batch killed with SIGKILL half-way, then run again", flush=True)
    folder = root / "calls"
    files: dict[Path, int | None] = dict(write_transcripts(folder, n_transcripts))
    for i, src in enumerate((SAMPLES / "c03_bob_moving_house.ogg", SAMPLES / "c09_carmen_missed_appointment.mp3")):
        dst = folder / f"call_{n_transcripts // 2 - 8 + i * 4:05d}{src.suffix}"  # in the middle of the batch
        shutil.copy(src, dst)
        files[dst] = None
    db = root / "b.db"
    cache = root / "cache"
    t = time.perf_counter()
    proc = subprocess.Popen(command(folder, "--db", db, "-j", "2"), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=env_for(cache), start_new_session=True)
    stored = 0
    while stored < len(files) // 2:
        if proc.poll() is not None:
            print("  the batch ended before it could be killed: use more --transcripts")
            return False
        time.sleep(0.02)
        try:
            stored = sql(db, "SELECT COUNT(*) FROM calls")[0][0] if db.exists() else 0
        except sqlite3.OperationalError:
            stored = 0
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    first = time.perf_counter() - t
    at_kill = sql(db, "SELECT COUNT(*) FROM calls")[0][0]
    print(f"  killed with SIGKILL after {first:.1f} s: {at_kill} of {len(files)} calls stored "
          f"(exit {proc.returncode}); WAL left behind: {Path(str(db) + '-wal').exists()}")
    t = time.perf_counter()
    run = subprocess.run(command(folder, "--db", db, "-j", "2"), capture_output=True, text=True, env=env_for(cache))
    wall = time.perf_counter() - t
    counts = statuses(run.stdout)
    print(f"  rerun: exit {run.returncode}, {counts}")
    check = check_stored(db, files)
    errors = sql(db, "SELECT COUNT(*) FROM errors")[0][0]
    row("(b) killed + rerun", len(files), at_kill + counts.get("scored", 0), errors, 0, check.duplicates,
        check.missing, first + wall, f"(killed at {at_kill}, rerun scored {counts.get('scored', 0)}, "
                                     f"skipped {counts.get('skipped', 0)}; rerun {wall:.1f} s)")
    return run.returncode == 0 and check.missing == check.duplicates == errors == 0 and \
        counts.get("skipped", 0) == at_kill


# ----------------------------------------------------------------------------- (c) two writers

def two_writers(root: Path, n_own: int, n_shared: int) -> bool:
    print("(c) two batch processes writing to one SQLite file at once", flush=True)
    own_a = write_transcripts(root / "a", n_own, "a")
    own_b = write_transcripts(root / "b", n_own, "b")
    shared = write_transcripts(root / "shared", n_shared, "s")
    db = root / "c.db"
    t = time.perf_counter()
    procs = [subprocess.Popen(command(root / name, root / "shared", "--db", db, "-j", "1"), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env_for(root / "cache"))
             for name in ("a", "b")]
    results = [p.communicate() for p in procs]
    wall = time.perf_counter() - t
    locked = sum((out + err).lower().count("database is locked") for out, err in results)
    for name, p, (out, _) in zip("ab", procs, results):
        print(f"  process {name}: exit {p.returncode}, {statuses(out)}")
    order = [Path(f).parent.name for (f,) in sql(db, "SELECT file FROM calls ORDER BY id")]
    order = [x for x in order if x != "shared"]
    switches = sum(1 for x, y in zip(order, order[1:]) if x != y)
    print(f"  'database is locked' messages: {locked}; a/b calls interleave {switches} times in insertion order")
    check = check_stored(db, own_a | own_b | shared)
    errors = sql(db, "SELECT COUNT(*) FROM errors")[0][0]
    scored = sum(statuses(out).get("scored", 0) for out, _ in results)
    row("(c) two writers", check.files, scored, errors, 0, check.duplicates, check.missing, wall,
        f"(of the {n_shared} shared files, {max(0, scored - check.files)} were scored by both processes, "
        f"the others skipped by the later one; {locked} lock errors)")
    return all(p.returncode == 0 for p in procs) and locked == errors == check.missing == check.duplicates == 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transcripts", type=int, default=300, help="transcript files per scenario")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folders (printed)")
    args = parser.parse_args()
    print(f"callqa reliability, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    ok = []
    tmp = Path(tempfile.mkdtemp(prefix="callqa-reliability-"))
    try:
        for i, (scenario, *params) in enumerate(((broken_files, args.transcripts),
                                                 (killed_and_rerun, args.transcripts),
                                                 (two_writers, args.transcripts, args.transcripts // 3))):
            root = tmp / "abc"[i]
            root.mkdir()
            ok.append(scenario(root, *params))
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print()
    print(f"{'scenario':<20} {'files':>6} {'scored':>7} {'failed':>7} {'unrecorded':>11} {'duplicates':>11} "
          f"{'missing':>8} {'wall s':>7}")
    for scenario, files, scored, failed, unrecorded, dup, missing, wall, _ in ROWS:
        print(f"{scenario:<20} {files:>6} {scored:>7} {failed:>7} {unrecorded:>11} {dup:>11} {missing:>8} "
              f"{wall:>7.1f}")
    print("\n(unrecorded: a broken file that is in no error row and no call; see the (a) list above)")
    print("all properties hold" if all(ok) else "A PROPERTY DOES NOT HOLD: see above")
    return 0 if all(ok) else 1


if __name__ == "__main__":
    sys.exit(main())
