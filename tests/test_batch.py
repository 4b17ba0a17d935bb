"""Batch scoring end to end, through the ``callqa`` command: broken files are recorded and the rest
scored, a run killed with SIGKILL and run again stores every file exactly once, two processes
share one SQLite file, reruns skip, a changed rubric rescores without Whisper, agents come from a
sidecar or the file name, redaction keeps personal data out of the database, exit codes.

Inputs are mostly transcript files (copies of samples/reference/*.json made distinct by an extra
field, so each has its own content hash) with two real recordings from recordings_sample/ that
Whisper transcribes (once per test session: the transcript cache is a temporary folder shared by
this module's tests).
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from pg import postgres_url, reset_database  # noqa: F401  (postgres_url is a fixture)
from sqlalchemy import text

from callqa import services
from callqa.audio import content_hash
from callqa.cli import main
from callqa.rubric.loader import load_rubric
from callqa.scoring import score_transcript
from callqa.storage import connect, list_calls, stored_transcript
from callqa.workspace import Workspace
from conftest import REPO, SAMPLES

REFERENCE = REPO / "samples" / "reference"
RUBRIC = REPO / "rubrics" / "default.yaml"
STEREO = SAMPLES / "c10_alice_contact_update.ogg"  # 71 s, agent left
MONO = SAMPLES / "c06_carmen_solar.mp3"  # 70 s, diarized


# ----------------------------------------------------------------------------- helpers

def write_transcripts(folder: Path, n: int, prefix: str = "call") -> dict[Path, int]:
    """``n`` distinct transcript files in ``folder``; returns {path: number of segments}."""
    refs = sorted(REFERENCE.glob("*.json"))
    folder.mkdir(parents=True, exist_ok=True)
    made = {}
    for i in range(n):
        data = json.loads(refs[i % len(refs)].read_text(encoding="utf-8"))
        data["batch_copy"] = f"{prefix}-{i}"  # other bytes, other content hash, same transcript
        path = folder / f"{prefix}_{i:04d}.json"
        path.write_text(json.dumps(data), encoding="utf-8")
        made[path] = len(data["segments"])
    return made


def cli_env(cache: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CALLQA_DB", "CALLQA_REDACT")}
    # a wide console: rich must not fold file names in messages
    return env | {"CALLQA_CACHE_DIR": str(cache), "COLUMNS": "300", "PYTHONUNBUFFERED": "1"}


def callqa(*args: str | Path, cache: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "callqa.cli", *map(str, args)], capture_output=True,
                          text=True, env=cli_env(cache), timeout=timeout)


def outcomes(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


def query(url: str, sql: str, **params) -> list[tuple]:
    engine = connect(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql), params)]
    finally:
        engine.dispose()


def stored_per_hash(url: str) -> dict[str, tuple[int, int]]:
    """content hash → (stored calls, stored segments of those calls)."""
    rows = query(url, "SELECT c.content_hash, COUNT(DISTINCT c.id), COUNT(s.id) FROM calls c "
                      "LEFT JOIN segments s ON s.call_id = c.id GROUP BY c.content_hash")
    return {h: (n, segs) for h, n, segs in rows}


def assert_each_stored_once(url: str, expected: dict[Path, int | None]) -> None:
    """Every file stored as exactly one call with all its segments; nothing else stored."""
    stored = stored_per_hash(url)
    want = {content_hash(p): n for p, n in expected.items()}
    assert set(stored) == set(want), f"missing {len(set(want) - set(stored))}, extra {len(set(stored) - set(want))}"
    assert query(url, "SELECT COUNT(*) FROM calls")[0][0] == len(want)
    for digest, segments in want.items():
        calls, stored_segments = stored[digest]
        assert calls == 1
        assert stored_segments == segments if segments is not None else stored_segments > 0


@pytest.fixture(scope="module")
def whisper_cache(tmp_path_factory) -> Path:
    """This module's transcript cache: Whisper runs once per recording, in the first test that
    scores it."""
    return tmp_path_factory.mktemp("whisper-cache")


@pytest.fixture
def in_process(monkeypatch, whisper_cache):
    """``callqa`` in this process (for monkeypatching), with the module's cache."""
    monkeypatch.setenv("CALLQA_CACHE_DIR", str(whisper_cache))
    monkeypatch.delenv("CALLQA_DB", raising=False)
    monkeypatch.delenv("CALLQA_REDACT", raising=False)
    return main


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'callqa.db'}"
    url = request.getfixturevalue("postgres_url")
    reset_database(url)
    services.open_database.cache_clear()  # a migrated engine for the dropped schema is stale
    return url


# ----------------------------------------------------------------------------- broken files

def make_broken_batch(folder: Path) -> tuple[dict[Path, int | None], dict[Path, str], list[Path]]:
    """Good and broken inputs: returns (good: {path: segments or None for audio},
    broken: {path: pattern its error message must match}, extra command-line paths)."""
    good: dict[Path, int | None] = dict(write_transcripts(folder, 6))
    uni = folder / "Ünïcødé 通话"
    uni.mkdir()
    shutil.copy(STEREO, uni / "Ünïcødé 通话 ☎.ogg")
    shutil.copy(MONO, folder / "mono.mp3")
    good[uni / "Ünïcødé 通话 ☎.ogg"] = None
    good[folder / "mono.mp3"] = None
    ref = json.loads((REFERENCE / "c03_bob_moving_house.json").read_text(encoding="utf-8"))
    (uni / "Ünïcødé ☎.json").write_text(json.dumps({**ref, "batch_copy": "unicode"}, ensure_ascii=False),
                                        encoding="utf-8")
    good[uni / "Ünïcødé ☎.json"] = len(ref["segments"])

    broken: dict[Path, str] = {}
    (folder / "corrupt.wav").write_bytes(bytes(range(256)) * 12)
    broken[folder / "corrupt.wav"] = "not a readable audio file|corrupt"
    (folder / "truncated.ogg").write_bytes(STEREO.read_bytes()[:4000])
    broken[folder / "truncated.ogg"] = "not a readable audio file|corrupt"
    (folder / "empty.mp3").write_bytes(b"")
    broken[folder / "empty.mp3"] = "empty"
    (folder / "notes.mp3").write_text("meeting notes, not a recording\n")
    broken[folder / "notes.mp3"] = "not a readable audio file"
    import wave

    with wave.open(str(folder / "zero.wav"), "wb") as w:  # a valid header and no samples
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
    broken[folder / "zero.wav"] = "no audio samples"
    (folder / "bad.json").write_text('{"segments": [\n')
    broken[folder / "bad.json"] = r"bad\.json:2: invalid JSON"
    (folder / "silent.json").write_text('{"segments": []}')
    broken[folder / "silent.json"] = "no speech"
    (folder / "folder.wav").mkdir()  # a folder with an audio name: walked, not an input
    dangling = folder.parent / "dangling.ogg"  # named on the command line
    dangling.symlink_to(folder / "gone.ogg")
    broken[dangling] = "cannot read the file"
    if os.geteuid() != 0:  # root reads anything
        locked = folder / "locked.wav"
        shutil.copy(SAMPLES / "c01_alice_double_charge.ogg", locked)
        locked.chmod(0)
        broken[locked] = "cannot read|permission"
    return good, broken, [dangling, folder / "folder.wav"]


@pytest.mark.slow  # Whisper transcribes real recordings (unless this module's cache has them)
def test_a_batch_with_broken_files_records_each_failure_and_scores_the_rest(tmp_path, whisper_cache):
    folder = tmp_path / "calls"
    good, broken, extra = make_broken_batch(folder)
    url = f"sqlite:///{tmp_path / 'q.db'}"
    run = callqa("score", folder, *extra, "--db", url, "--format", "json", "-j", "2", cache=whisper_cache)

    assert run.returncode == 2, run.stderr  # failures: exit 2, after the whole batch
    assert "Traceback" not in run.stderr
    by_file = {Path(o["file"]): o for o in outcomes(run.stdout)}
    assert set(by_file) == set(good) | set(broken)
    assert {p for p, o in by_file.items() if o["status"] == "scored"} == set(good)
    assert_each_stored_once(url, good)

    errors = {Path(f): m for f, m in query(url, "SELECT file, message FROM errors")}
    assert set(errors) == set(broken)
    for path, pattern in broken.items():
        assert str(path) in errors[path]  # the message names the file...
        assert re.search(pattern, errors[path]), errors[path]  # ...and says what is wrong
        assert errors[path] in run.stderr  # and is listed at the end of the run
    audio = [c for c in list_calls_of(url) if c.file.endswith((".ogg", ".mp3"))]
    assert {c.engine for c in audio} == {"faster-whisper"}  # really transcribed, not imported


def list_calls_of(url: str):
    with services.session_for(url) as session:
        return list_calls(session, limit=1000)


def test_a_dangling_symlink_inside_a_folder_is_recorded_as_a_failure(tmp_path, whisper_cache):
    folder = tmp_path / "calls"
    write_transcripts(folder, 1)
    (folder / "gone.ogg").symlink_to(tmp_path / "nowhere.ogg")
    url = f"sqlite:///{tmp_path / 'q.db'}"
    run = callqa("score", folder, "--db", url, "-j", "1", cache=whisper_cache)
    assert run.returncode == 2
    assert [Path(f).name for (f,) in query(url, "SELECT file FROM errors")] == ["gone.ogg"]


def hostile_transcripts(folder: Path) -> dict[Path, str]:
    """Transcripts that raised instead of failing with a reason (issue 16, item 17):
    {path: pattern the error must match}."""
    folder.mkdir(parents=True, exist_ok=True)
    opening = "Agent: Thank you for calling, how can I help?\nCustomer: My internet is down.\n"
    cases = {
        "nan.json": ('{"segments": [{"speaker": "agent", "start": NaN, "end": NaN, "text": "Hello, how can I help?"},'
                     ' {"speaker": "customer", "start": 2, "end": Infinity, "text": "My internet is down."}]}',
                     r"segments\[0\]\.start is NaN; times must be seconds"),
        "deep.json": ('{"segments": [], "x": ' + "[" * 100_000 + "]" * 100_000 + "}",
                      r"nested over \d+ levels deep"),
        "long.txt": (opening + "Agent: " + "I do not know, we cannot do that. " * 30_000 + "\n",
                     r"turn at 0:0\d is 1,0\d\d,\d\d\d characters long; callqa scores turns of up to 1,000,000"),
    }
    for name, (content, _) in cases.items():
        (folder / name).write_text(content, encoding="utf-8")
    return {folder / name: pattern for name, (_, pattern) in cases.items()}


def test_hostile_transcripts_fail_with_a_reason_and_the_batch_goes_on(tmp_path, in_process, capsys):
    """Issue 16, item 17: NaN times (TypeError), deeply nested JSON (RecursionError) and a
    turn over 1M characters (spaCy E088, after minutes of matching) came out as "unexpected"."""
    folder = tmp_path / "calls"
    good = write_transcripts(folder, 1)
    broken = hostile_transcripts(folder)
    url = f"sqlite:///{tmp_path / 'q.db'}"
    # the long turn's estimated times (2.5 words a second) pass the default call-length limit (item 2)
    # first: raised here, so that the turn-length check itself is what refuses it
    assert in_process(["score", str(folder), "--db", url, "-j", "1", "--format", "json",
                       "--max-call-minutes", "2000"]) == 2
    run = capsys.readouterr()
    assert_each_stored_once(url, good)
    errors = {Path(f): m for f, m in query(url, "SELECT file, message FROM errors")}
    assert set(errors) == set(broken)
    for path, pattern in broken.items():
        assert errors[path].startswith(str(path)) and "unexpected" not in errors[path], errors[path]
        assert re.search(pattern, errors[path]), errors[path]
        assert errors[path] in run.err


SHORT_CALL = ("Agent: Thank you for calling Northwind Energy, my name is Dana. How can I help you today?\n"
              "Customer: Hi, my internet is down again and I need it fixed.\n"
              "Agent: I'm sorry about that, let me look into it for you right away.\n")


def test_a_long_call_and_a_large_transcript_are_refused_naming_the_limit_and_how_to_raise_it(
        tmp_path, in_process, capsys, monkeypatch):
    """Issue 16, item 2 (and item 17's 1e21 s timestamp, which was scored): limits a user sees and
    changes, by flag, environment or callqa.toml."""
    folder = tmp_path / "calls"
    folder.mkdir()
    (folder / "short.txt").write_text(SHORT_CALL, encoding="utf-8")
    (folder / "big.txt").write_text(SHORT_CALL * 6_000)  # 1.3 MB
    (folder / "forever.json").write_text(json.dumps({"segments": [
        {"speaker": "agent", "start": 0, "end": 2, "text": "Thank you for calling Northwind Energy, how can I help?"},
        {"speaker": "customer", "start": 1e21, "end": 1e21 + 2, "text": SHORT_CALL.splitlines()[1][10:]}]}))
    shutil.copy(STEREO, folder / "stereo.ogg")  # 71 s
    url = f"sqlite:///{tmp_path / 'q.db'}"

    defaults = ["score", str(folder / "short.txt"), str(folder / "forever.json"), "--db", url, "-j", "1"]
    assert in_process(defaults) == 2  # the defaults: 240 minutes, 50 MB
    capsys.readouterr()
    assert [Path(f).name for (f,) in query(url, "SELECT file FROM errors")] == ["forever.json"]
    assert "1.667e+19 minutes; the limit is 240 minutes (max-call-minutes)" in query(url, "SELECT message FROM errors")[0][0]

    url = f"sqlite:///{tmp_path / 'limited.db'}"
    monkeypatch.setenv("CALLQA_MAX_CALL_MINUTES", "1")
    assert in_process(["score", str(folder), "--db", url, "-j", "1", "--max-transcript-mb", "1"]) == 2
    run = capsys.readouterr()
    assert [Path(f).name for f, *_ in query(url, "SELECT file FROM calls")] == ["short.txt"]
    errors = {Path(f).name: m for f, m in query(url, "SELECT file, message FROM errors")}
    assert set(errors) == {"big.txt", "forever.json", "stereo.ogg"}
    assert errors["big.txt"] == (f"{folder / 'big.txt'}: the transcript is 1.3 MB; the limit is 1 MB (max-transcript-mb). "
                                 "To raise it: --max-transcript-mb N, $CALLQA_MAX_TRANSCRIPT_MB or "
                                 "max-transcript-mb = N in callqa.toml")
    assert re.fullmatch(re.escape(f"{folder / 'stereo.ogg'}: the recording is ") + r"1\.18\d minutes long; "
                        + re.escape("the limit is 1 minute (max-call-minutes). To raise it: --max-call-minutes N, "
                                    "$CALLQA_MAX_CALL_MINUTES or max-call-minutes = N in callqa.toml"),
                        errors["stereo.ogg"]), errors["stereo.ogg"]
    assert all(message in run.err for message in errors.values())


def test_a_fifo_or_a_device_is_refused_not_read_forever(tmp_path, whisper_cache):
    """Issue 16, item 14: a FIFO or /dev/zero given as input hung the batch."""
    good = write_transcripts(tmp_path / "calls", 1)
    fifos = [tmp_path / "pipe.txt", tmp_path / "pipe.wav"]
    for fifo in fifos:
        os.mkfifo(fifo)
    url = f"sqlite:///{tmp_path / 'q.db'}"
    run = callqa("score", *fifos, "/dev/zero", *good, "--db", url, "-j", "1", cache=whisper_cache, timeout=120)
    assert run.returncode == 2, run.stderr
    assert_each_stored_once(url, good)
    errors = dict(query(url, "SELECT file, message FROM errors"))
    assert errors == {str(fifos[0]): f"{fifos[0]}: is a named pipe, not a file; give a recording or transcript file",
                      str(fifos[1]): f"{fifos[1]}: is a named pipe, not a file; give a recording or transcript file",
                      "/dev/zero": "/dev/zero: is a device, not a file; give a recording or transcript file"}
    run = callqa("transcribe", fifos[0], "/dev/zero", cache=whisper_cache, timeout=120)
    assert run.returncode == 2 and "is a named pipe" in run.stderr and "is a device" in run.stderr


# ----------------------------------------------------------------------------- killed and rerun

def test_a_batch_killed_half_way_and_run_again_stores_every_file_exactly_once(tmp_path, whisper_cache):
    files = write_transcripts(tmp_path / "calls", 240)
    db = tmp_path / "q.db"
    url = f"sqlite:///{db}"
    proc = subprocess.Popen([sys.executable, "-m", "callqa.cli", "score", str(tmp_path / "calls"), "--db", url,
                             "-j", "2", "--format", "json"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env=cli_env(whisper_cache), start_new_session=True)
    import sqlite3

    stored, deadline = 0, time.monotonic() + 180
    try:
        while stored < 40:
            assert proc.poll() is None, f"the batch ended before it could be killed: {proc.stderr.read()}"
            assert time.monotonic() < deadline, "no calls were stored in 180 s"
            time.sleep(0.02)
            if db.exists():
                with sqlite3.connect(db, timeout=30) as conn:
                    try:
                        stored = conn.execute("SELECT COUNT(*) FROM calls").fetchone()[0]
                    except sqlite3.OperationalError:  # not migrated yet
                        stored = 0
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the command and its worker processes
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    at_kill = query(url, "SELECT COUNT(*) FROM calls")[0][0]
    assert 40 <= at_kill < len(files), "killed half-way"

    rerun = callqa("score", tmp_path / "calls", "--db", url, "-j", "2", "--format", "json", cache=whisper_cache)
    assert rerun.returncode == 0, rerun.stderr
    statuses = [o["status"] for o in outcomes(rerun.stdout)]
    assert statuses.count("skipped") == at_kill
    assert statuses.count("scored") == len(files) - at_kill
    assert_each_stored_once(url, files)
    assert query(url, "SELECT COUNT(*) FROM errors")[0][0] == 0


def test_ctrl_c_mid_batch_keeps_every_call_scored_and_a_rerun_stores_the_rest_once(tmp_path, whisper_cache):
    """The batch writes many calls per transaction (issue 17): on Ctrl-C the calls its workers had
    handed back are written, not dropped with the transaction, and every call reported as scored is
    stored."""
    files = write_transcripts(tmp_path / "calls", 240)
    url = f"sqlite:///{tmp_path / 'q.db'}"
    proc = subprocess.Popen([sys.executable, "-m", "callqa.cli", "score", str(tmp_path / "calls"), "--db", url,
                             "-j", "2", "--format", "json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=cli_env(whisper_cache), start_new_session=True,
                            # as from a terminal: a test run in the background (`cmd &` in a script)
                            # ignores SIGINT, and Python then never turns Ctrl-C into KeyboardInterrupt
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    lines = []
    try:
        while not any('"status": "scored"' in line for line in lines):  # the first calls are stored
            line = proc.stdout.readline()
            assert line, f"the batch ended before it could be interrupted: {proc.stderr.read()}"
            lines.append(line)
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C: the command and its workers
        out, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    reported = {o["file"] for o in outcomes("".join(lines) + out) if o["status"] == "scored"}
    stored = {f for (f,) in query(url, "SELECT file FROM calls")}
    assert reported <= stored and len(stored) < len(files), "interrupted half-way"

    rerun = callqa("score", tmp_path / "calls", "--db", url, "-j", "2", "--format", "json", cache=whisper_cache)
    assert rerun.returncode == 0, rerun.stderr
    statuses = [o["status"] for o in outcomes(rerun.stdout)]
    assert statuses.count("skipped") == len(stored)
    assert statuses.count("scored") == len(files) - len(stored)
    assert_each_stored_once(url, files)


def children(pid: int) -> set[int]:
    """Live processes whose parent is ``pid`` (zombies, already dead, are not counted)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.add(int(stat.parent.name))
    return found


def alive(pids: set[int]) -> set[int]:
    out = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            out.add(pid)
    return out


def start_batch(folder: Path, url: str, workers: int, cache: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "callqa.cli", "score", str(folder), "--db", url, "-j", str(workers)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=cli_env(cache),
                            start_new_session=True)


def wait_for_workers(proc: subprocess.Popen, at_least: int) -> set[int]:
    deadline = time.monotonic() + 120
    while len(workers := children(proc.pid)) < at_least:
        assert proc.poll() is None, "the batch ended before its workers were seen"
        assert time.monotonic() < deadline, "no worker processes in 120 s"
        time.sleep(0.01)
    return workers


def test_workers_die_when_the_batch_is_killed(tmp_path, whisper_cache):
    """Issue 16, item 6: after kill -9 of `callqa score`, its workers lived on (PPID 1) for minutes."""
    write_transcripts(tmp_path / "calls", 40)
    proc = start_batch(tmp_path / "calls", f"sqlite:///{tmp_path / 'q.db'}", 2, whisper_cache)
    workers: set[int] = set()
    try:
        workers = wait_for_workers(proc, 2)
        time.sleep(1)  # the workers are at work (importing, scoring)
        os.kill(proc.pid, signal.SIGKILL)  # the command only: a kill -9 passes nothing on
        proc.wait()
        deadline = time.monotonic() + 10
        while alive(workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not alive(workers), f"{len(alive(workers))} of {len(workers)} workers outlived the batch"
    finally:
        for pid in alive(workers):
            os.kill(pid, signal.SIGKILL)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_workers_are_capped_at_the_files_and_cores(tmp_path, whisper_cache):
    """Issue 16, item 19: `-j 40` on 3 files started 40 workers."""
    write_transcripts(tmp_path / "calls", 3)
    proc = start_batch(tmp_path / "calls", f"sqlite:///{tmp_path / 'q.db'}", 40, whisper_cache)
    try:
        seen = wait_for_workers(proc, 1)
        deadline = time.monotonic() + 2  # a pool starts its workers together: watch a while
        while time.monotonic() < deadline and proc.poll() is None:
            seen |= children(proc.pid)
            time.sleep(0.01)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert 1 <= len(seen) <= min(3, os.cpu_count() or 1)


@pytest.fixture
def immutable(tmp_path):
    """chattr +i on paths (root cannot be kept out of a file by its mode); undone at the end."""
    made: list[Path] = []

    def make(*paths: Path) -> None:
        for path in paths:
            if subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode:
                pytest.skip("chattr +i is not allowed here")
            made.append(path)
    yield make
    for path in made:
        subprocess.run(["chattr", "-i", str(path)])


@pytest.mark.parametrize("what", ["file", "folder"])
def test_a_read_only_database_can_be_read_and_scoring_into_it_fails_before_any_work(what, tmp_path, immutable):
    """Issue 16, item 16: a read-only database broke even `callqa agents`; an immutable one crashed
    after transcribing, with a raw SQLAlchemy traceback."""
    folder = tmp_path / "db"
    folder.mkdir()
    db = folder / "q.db"
    cache = tmp_path / "cache"
    write_transcripts(tmp_path / "calls", 1)
    assert callqa("score", tmp_path / "calls", "--db", db, "--agent", "dana", "-j", "1", cache=cache).returncode == 0
    immutable(db, *([folder] if what == "folder" else []))

    run = callqa("agents", "--db", db, "--format", "json", cache=cache)
    assert run.returncode == 0, run.stderr
    assert [(a["agent"], a["calls"]) for a in json.loads(run.stdout)] == [("dana", 1)]

    shutil.copy(STEREO, tmp_path / "new.ogg")
    run = callqa("score", tmp_path / "new.ogg", "--db", db, "-j", "1", cache=cache)
    assert run.returncode == 2 and "Traceback" not in run.stderr, run.stderr
    assert f"cannot write to the database {db}" in " ".join(run.stderr.split()), run.stderr
    assert not list((cache / "transcripts").glob("*")), "it transcribed before finding it cannot store"


def test_a_rerun_replaces_a_failing_files_error_instead_of_adding_one(tmp_path, in_process, capsys):
    """Issue 16, item 20: each rerun added another error row per failing file."""
    folder = tmp_path / "calls"
    good = write_transcripts(folder, 1)
    (folder / "broken.json").write_text('{"segments": [')
    (folder / "untagged.txt").write_text("no speaker here\n")
    url = f"sqlite:///{tmp_path / 'q.db'}"
    for _ in range(3):
        assert in_process(["score", str(folder), "--db", url, "-j", "1"]) == 2
    capsys.readouterr()
    assert_each_stored_once(url, good)
    assert sorted((Path(f).name, n) for f, n in query(url, "SELECT file, COUNT(*) FROM errors GROUP BY file")) == \
        [("broken.json", 1), ("untagged.txt", 1)]
    (folder / "broken.json").write_text('{"segments": "none"}')  # another fault: the row says the latest one
    assert in_process(["score", str(folder), "--db", url, "-j", "1"]) == 2
    assert [m for f, m in query(url, "SELECT file, message FROM errors") if f.endswith("broken.json")] == \
        [f'{folder / "broken.json"}: not a callqa transcript: expected an object with a "segments" list']


# ----------------------------------------------------------------------------- two writers

def test_two_batches_write_to_one_sqlite_file_at_once_without_locking_errors_or_lost_rows(tmp_path, whisper_cache):
    own_a = write_transcripts(tmp_path / "a", 100, "a")
    own_b = write_transcripts(tmp_path / "b", 100, "b")
    shared = write_transcripts(tmp_path / "shared", 20, "s")  # both processes score these
    url = f"sqlite:///{tmp_path / 'q.db'}"
    procs = [subprocess.Popen([sys.executable, "-m", "callqa.cli", "score", str(tmp_path / name),
                               str(tmp_path / "shared"), "--db", url, "-j", "1", "--format", "json"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=cli_env(whisper_cache))
             for name in ("a", "b")]
    results = [p.communicate(timeout=300) for p in procs]
    for proc, (out, err) in zip(procs, results):
        assert proc.returncode == 0, err
        assert "locked" not in (out + err).lower()
        assert {o["status"] for o in outcomes(out)} <= {"scored", "skipped"}
    assert_each_stored_once(url, own_a | own_b | shared)
    assert query(url, "SELECT COUNT(*) FROM errors")[0][0] == 0
    # the two really wrote at the same time: their calls interleave in insertion order
    order = [Path(f).parent.name for (f,) in query(url, "SELECT file FROM calls ORDER BY id")]
    order = [name for name in order if name != "shared"]
    switches = sum(1 for x, y in zip(order, order[1:]) if x != y)
    assert switches >= 2, f"the batches did not overlap ({switches} switches)"


def test_two_batches_on_one_folder_score_each_file_once(db_url, tmp_path, whisper_cache):
    """Issue 16, item 20: two batches on the same folder scored the same files twice. Each batch
    claims a file before scoring it; the other skips it."""
    folder = tmp_path / "calls"
    good = write_transcripts(folder, 40)
    broken = {folder / "broken.json": '{"segments": [', folder / "untagged.txt": "no speaker here\n"}
    for path, text_ in broken.items():
        path.write_text(text_)
    for run in range(2):
        procs = [subprocess.Popen([sys.executable, "-m", "callqa.cli", "score", str(folder), "--db", db_url, "-j", "1",
                                   "--format", "json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  env=cli_env(whisper_cache)) for _ in range(2)]
        results = [p.communicate(timeout=600) for p in procs]
        for proc, (_, err) in zip(procs, results):
            # 2: this batch failed the broken files; 0: the other batch had claimed them (files are
            # claimed 64 at a time, so a batch that starts second may find every file claimed)
            assert proc.returncode in (0, 2), err
            assert "Traceback" not in err and "locked" not in err.lower()
        assert 2 in [p.returncode for p in procs]
        seen: dict[str, list[str]] = {}
        for out, _ in results:
            for o in outcomes(out):
                seen.setdefault(Path(o["file"]).name, []).append(o["status"])
        assert set(seen) == {p.name for p in good} | {p.name for p in broken}
        scored_twice = sorted(name for name, s in seen.items() if s.count("scored") > 1)
        assert scored_twice == [], f"run {run}: {len(scored_twice)} files scored by both batches"
        assert all(s.count("scored") == (run == 0) for name, s in seen.items() if folder / name in good)
        assert all("failed" in seen[p.name] for p in broken)
        assert_each_stored_once(db_url, good)
        assert sorted(Path(f).name for (f,) in query(db_url, "SELECT file FROM errors")) == sorted(p.name for p in broken)
        assert query(db_url, "SELECT COUNT(*) FROM claims") == [(0,)]


def test_a_claim_left_by_a_killed_batch_is_taken_over(db_url, tmp_path, whisper_cache):
    """A batch holds its claim while it scores a file: a second batch skips the file, saying so.
    Killed with kill -9, the first batch leaves its claim behind; the next batch sees its process
    is gone and scores the file instead of skipping it forever."""
    folder = tmp_path / "calls"
    folder.mkdir()
    long = folder / "long.txt"  # scoring it takes a few seconds: time to see the claim
    long.write_text(as_text_transcript(REFERENCE / "c03_bob_moving_house.json") * 30, encoding="utf-8")
    first = subprocess.Popen([sys.executable, "-m", "callqa.cli", "score", str(folder), "--db", db_url, "-j", "1"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=cli_env(whisper_cache),
                             start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        while True:
            assert first.poll() is None, "the first batch ended before its claim was seen"
            assert time.monotonic() < deadline, "no claim in 300 s"
            try:
                if query(db_url, "SELECT pid FROM claims") == [(first.pid,)]:
                    os.killpg(first.pid, signal.SIGSTOP)  # it holds the claim as long as the test needs
                    break
            except Exception:  # the tables are not there yet
                pass
            time.sleep(0.1)
        second = callqa("score", folder, "--db", db_url, "-j", "1", "--format", "json", cache=whisper_cache)
        assert second.returncode == 0, second.stderr
        [skipped] = outcomes(second.stdout)
        assert skipped["status"] == "skipped"
        assert f"being scored by another batch (process {first.pid} on " in skipped["error"]
        assert "1 being scored by another batch" in second.stderr
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    assert query(db_url, "SELECT COUNT(*) FROM calls") == [(0,)]
    assert query(db_url, "SELECT pid FROM claims") == [(first.pid,)]  # left behind

    third = callqa("score", folder, "--db", db_url, "-j", "1", "--format", "json", cache=whisper_cache)
    assert third.returncode == 0, third.stderr
    assert [o["status"] for o in outcomes(third.stdout)] == ["scored"]
    assert_each_stored_once(db_url, {long: None})
    assert query(db_url, "SELECT COUNT(*) FROM claims") == [(0,)]


# ----------------------------------------------------------------------------- store, skip, list

def test_score_then_rerun_skips_and_agents_lists_them(db_url, tmp_path, whisper_cache):
    files = write_transcripts(tmp_path / "calls", 6)
    names = sorted(files)
    with open(tmp_path / "calls" / "calls.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["file", "agent", "date"])
        for i, p in enumerate(names):
            w.writerow([p.name, ("dana", "erin")[i % 2], f"2026-11-{i + 1:02d}"])

    first = callqa("score", tmp_path / "calls", "--db", db_url, "--format", "json", "-j", "1", cache=whisper_cache)
    assert first.returncode == 0, first.stderr
    assert [o["status"] for o in outcomes(first.stdout)] == ["scored"] * 6
    assert_each_stored_once(db_url, files)

    again = callqa("score", tmp_path / "calls", "--db", db_url, "--format", "json", "-j", "1", cache=whisper_cache)
    assert again.returncode == 0, again.stderr
    assert [o["status"] for o in outcomes(again.stdout)] == ["skipped"] * 6
    assert "skipped 6" in again.stderr
    assert_each_stored_once(db_url, files)

    listed = callqa("agents", "--db", db_url, "--format", "json", cache=whisper_cache)
    assert listed.returncode == 0, listed.stderr
    agents = json.loads(listed.stdout)
    assert [set(a) for a in agents] == [{"agent", "calls", "score", "sections"}] * 2
    scores = {o["file"]: o for o in outcomes(first.stdout)}
    for a in agents:
        mine = [scores[str(p)] for i, p in enumerate(names) if ("dana", "erin")[i % 2] == a["agent"]]
        assert a["calls"] == 3
        assert a["score"] == pytest.approx(sum(o["score"] for o in mine) / 3)
        assert set(a["sections"]) == set(mine[0]["sections"])
    table = list(csv.reader(io.StringIO(callqa("agents", "--db", db_url, "--format", "csv",
                                               cache=whisper_cache).stdout)))
    assert table[0][:3] == ["agent", "calls", "score"] and sorted(table[0][3:]) == sorted(agents[0]["sections"])
    assert [(r[0], int(r[1]), float(r[2])) for r in table[1:]] == \
        [(a["agent"], a["calls"], pytest.approx(a["score"], abs=0.051)) for a in agents]
    with services.session_for(db_url) as session:
        calls = sorted(list_calls(session), key=lambda c: c.file)
    assert [(c.file, c.agent, c.call_date.day) for c in calls] == \
        [(str(p), ("dana", "erin")[i % 2], i + 1) for i, p in enumerate(names)]


def as_text_transcript(reference: Path) -> str:
    """A reference call as a plain-text transcript (``Agent: ...`` lines)."""
    data = json.loads(reference.read_text(encoding="utf-8"))
    return "".join(f"{s['speaker'].capitalize()}: {s['text']}\n" for s in data["segments"])


def test_data_postgresql_cannot_hold_fails_that_file_only_on_both_databases(db_url, tmp_path, whisper_cache):
    """Issue 16, item 1: a NUL byte in a transcript or an agent name over 200 characters made
    PostgreSQL raise DataError: exit 1, a traceback, nothing stored. SQLite took both."""
    folder = tmp_path / "calls"
    good = write_transcripts(folder, 2)
    nul = folder / "nul.txt"  # a stray NUL: the call is still scorable, stored without it
    nul.write_text(as_text_transcript(REFERENCE / "c03_bob_moving_house.json").replace("Agent: ", "Agent: hi\0 ", 1),
                   encoding="utf-8")
    long_name = folder / "long.json"
    data = json.loads((REFERENCE / "c03_bob_moving_house.json").read_text(encoding="utf-8"))
    long_name.write_text(json.dumps({**data, "batch_copy": "long"}), encoding="utf-8")
    with open(folder / "calls.csv", "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([["file", "agent", "date"], ["long.json", "x" * 201, "2026-11-02"]])

    run = callqa("score", folder, "--db", db_url, "--format", "json", "-j", "1", cache=whisper_cache)
    assert run.returncode == 2, run.stderr
    assert "Traceback" not in run.stderr
    status = {Path(o["file"]).name: (o["status"], o["error"]) for o in outcomes(run.stdout)}
    assert {name: s for name, (s, _) in status.items()} == \
        {"call_0000.json": "scored", "call_0001.json": "scored", "nul.txt": "scored", "long.json": "failed"}
    error = status["long.json"][1]
    assert str(long_name) in error and "201 characters" in error and "200" in error
    assert query(db_url, "SELECT message FROM errors") == [(error,)]
    assert_each_stored_once(db_url, {**good, nul: None})
    texts = [t for (t,) in query(db_url, "SELECT s.text FROM segments s JOIN calls c ON c.id = s.call_id "
                                          "WHERE c.file = :f ORDER BY s.idx", f=str(nul))]
    assert texts[0].startswith("hi ") and not any("\0" in t for t in texts)


@pytest.mark.parametrize("pattern", ["(a+)+$", "(a|a)+$"])
def test_a_backtracking_rubric_regex_cannot_hang_a_batch(pattern, tmp_path, whisper_cache):
    """Issue 16, item 3: `regex: ["(a+)+$"]` hung scoring on `Agent: aaaa…b` (40 a's: > 60 s).
    Rubric regexes run with a time budget per utterance: a regex that runs out of it fails that
    call, naming the criterion; the other calls are scored."""
    from test_rubric_loader import GOOD

    rubric = tmp_path / "risky.yaml"
    rubric.write_text(GOOD.replace("phrases: [thank you]", f"phrases: [thank you]\n      regex: [{pattern!r}]"))
    folder = tmp_path / "calls"
    folder.mkdir()
    (folder / "good.txt").write_text("Agent: Thank you for calling.\nCustomer: Thanks, bye.\n")
    (folder / "aaa.txt").write_text("Agent: " + "a" * 40 + "b\nCustomer: What?\n")
    url = f"sqlite:///{tmp_path / 'q.db'}"
    run = callqa("score", folder, "--db", url, "--rubric", rubric, "--format", "json", "-j", "1",
                 cache=whisper_cache, timeout=120)
    status = {Path(o["file"]).name: (o["status"], o["error"]) for o in outcomes(run.stdout)}
    assert status["good.txt"] == ("scored", None)
    if pattern == "(a+)+$":  # the regex package matches this one without backtracking
        assert run.returncode == 0, run.stderr
        assert status["aaa.txt"] == ("scored", None)
    else:
        assert run.returncode == 2, run.stderr
        state, error = status["aaa.txt"]
        assert state == "failed" and "main.thanks" in error and pattern in error and str(folder / "aaa.txt") in error
        assert "Traceback" not in run.stderr


# ----------------------------------------------------------------------------- rescoring

def edited_rubric(path: Path, section: str = "rapport", weight: int = 60) -> Path:
    """A copy of the default rubric with one section's weight changed."""
    text_ = RUBRIC.read_text(encoding="utf-8")
    text_, n = re.subn(rf"(\{{id: {section}, name: [^,]+, weight: )\d+\}}", rf"\g<1>{weight}}}", text_)
    assert n == 1
    path.write_text(text_, encoding="utf-8")
    return path


@pytest.mark.slow  # Whisper transcribes real recordings (unless this module's cache has them)
def test_a_changed_rubric_rescores_stored_transcripts_without_whisper(tmp_path, in_process, monkeypatch, capsys):
    folder = tmp_path / "calls"
    files = write_transcripts(folder, 3)
    shutil.copy(STEREO, folder / "stereo.ogg")
    url = f"sqlite:///{tmp_path / 'q.db'}"
    assert in_process(["score", str(folder), "--db", url, "-j", "1", "--format", "json"]) == 0
    before = {o["file"]: o["score"] for o in outcomes(capsys.readouterr().out)}
    assert len(before) == 4

    def no_whisper(*args, **kwargs):
        raise AssertionError("rescoring must not transcribe or decode anything")

    monkeypatch.setattr(services, "transcribe_file", no_whisper)
    monkeypatch.setattr("callqa.transcribe.decode", no_whisper)
    monkeypatch.setenv("CALLQA_CACHE_DIR", str(tmp_path / "empty-cache"))  # no cached transcript either
    rubric = edited_rubric(tmp_path / "edited.yaml")
    assert in_process(["score", str(folder), "--db", url, "-j", "1", "--format", "json", "--rubric", str(rubric)]) == 0
    after = outcomes(capsys.readouterr().out)
    assert [o["status"] for o in after] == ["rescored"] * 4

    edited = load_rubric(rubric)
    with services.session_for(url) as session:
        for call in list_calls(session):
            expected = score_transcript(stored_transcript(session, call.id), edited)
            assert call.score == pytest.approx(expected.score)
            assert call.rubric_hash == services.rubric_hash(edited)
    by_file = {o["file"]: o["score"] for o in after}
    assert by_file[str(folder / "stereo.ogg")] != before[str(folder / "stereo.ogg")]  # rapport 66.7 weighs more
    assert all(o["sections"]["rapport"] is not None for o in after)

    # the same rubric again: skipped; --rescore forces it, still without Whisper
    assert in_process(["score", str(folder), "--db", url, "-j", "1", "--format", "json", "--rubric", str(rubric)]) == 0
    assert {o["status"] for o in outcomes(capsys.readouterr().out)} == {"skipped"}
    assert in_process(["score", str(folder), "--db", url, "-j", "1", "--format", "json", "--rubric", str(rubric),
                       "--rescore"]) == 0
    assert {o["status"] for o in outcomes(capsys.readouterr().out)} == {"rescored"}
    assert_each_stored_once(url, {**files, folder / "stereo.ogg": None})

    # --rescore with no PATH: every stored call, even with the folder gone; back to the default rubric
    shutil.rmtree(folder)
    assert in_process(["score", "--rescore", "--db", url, "--format", "json"]) == 0
    again = outcomes(capsys.readouterr().out)
    assert sorted(o["file"] for o in again) == sorted(before)
    assert all(o["status"] == "rescored" for o in again)
    assert {o["file"]: o["score"] for o in again} == pytest.approx(before)
    assert query(url, "SELECT COUNT(*) FROM calls")[0][0] == 4


# ----------------------------------------------------------------------------- agents, privacy, exit codes

def test_agents_come_from_the_sidecar_then_the_file_name_pattern(tmp_path, in_process, capsys):
    folder = tmp_path / "calls"
    week = folder / "week46"
    ref = json.loads((REFERENCE / "c10_alice_contact_update.json").read_text(encoding="utf-8"))
    names = {week / "x.json": "dana", week / "erin_2026-11-03_0042.json": "erin",
             week / "frank_20261104_7.json": "frank", folder / "odd name.json": "unassigned"}
    week.mkdir(parents=True)
    for i, path in enumerate(names):
        path.write_text(json.dumps({**ref, "n": i}), encoding="utf-8")
    (folder / "calls.csv").write_text("file,agent,date\nweek46/x.json,dana,2026-11-02\n")
    url = f"sqlite:///{tmp_path / 'q.db'}"
    assert in_process(["score", str(folder), "--db", url, "-j", "1", "--format", "json",
                       "--name-pattern", "{agent}_{date}_{id}"]) == 0
    capsys.readouterr()
    with services.session_for(url) as session:
        stored = {c.file: (c.agent, c.call_date.date().isoformat()) for c in list_calls(session)}
    assert {Path(f): a for f, (a, _) in stored.items()} == names
    assert stored[str(week / "x.json")][1] == "2026-11-02"
    assert stored[str(week / "erin_2026-11-03_0042.json")][1] == "2026-11-03"
    assert stored[str(week / "frank_20261104_7.json")][1] == "2026-11-04"
    assert in_process(["agents", "--db", url, "--format", "json"]) == 0
    assert sorted((a["agent"], a["calls"]) for a in json.loads(capsys.readouterr().out)) == \
        [("dana", 1), ("erin", 1), ("frank", 1)]  # the call nobody named is no agent's


def test_a_sidecar_above_the_folder_named_is_not_read(tmp_path, in_process, capsys):
    """Issue 16, item 18: a calls.csv two levels above the folder given assigned the agent, and a
    bad date in it failed every file below."""
    top = tmp_path / "archive"
    batch = top / "2026" / "week46"
    write_transcripts(batch, 2)
    (top / "calls.csv").write_text("file,agent,date\n2026/week46/call_0000.json,zed,2026-11-02\n"
                                   "2026/week46/call_0001.json,zed,not-a-date\n")
    (batch / "calls.csv").write_text("file,agent,date\ncall_0000.json,dana,2026-11-03\n")
    url = f"sqlite:///{tmp_path / 'q.db'}"
    assert in_process(["score", str(batch), "--db", url, "-j", "1", "--format", "json"]) == 0
    capsys.readouterr()
    assert {Path(f).name: a for f, a in query(url, "SELECT c.file, a.name FROM calls c JOIN agents a "
                                                   "ON a.id = c.agent_id")} == \
        {"call_0000.json": "dana", "call_0001.json": "unassigned"}  # the folder named's own sidecar still counts
    # a file named on its own: its folder is the root
    (batch / "calls.csv").unlink()
    write_transcripts(batch, 3, "solo")
    assert in_process(["score", str(batch / "solo_0002.json"), "--db", url, "-j", "1", "--format", "json"]) == 0
    assert [a for (a,) in query(url, "SELECT a.name FROM calls c JOIN agents a ON a.id = c.agent_id "
                                     "WHERE c.file LIKE '%solo_0002.json'")] == ["unassigned"]


def test_the_agents_table_fits_a_narrow_terminal_with_the_weakest_sections(tmp_path, in_process, capsys,
                                                                            monkeypatch):
    folder = tmp_path / "calls"
    write_transcripts(folder, 2, "dana")
    url = f"sqlite:///{tmp_path / 'q.db'}"
    assert in_process(["score", str(folder), "--db", url, "-j", "1", "--agent", "dana"]) == 0
    capsys.readouterr()
    [dana] = services.agent_summaries(Workspace(db=url))
    weakest = sorted((v, k) for k, v in dana.sections.items() if v is not None)[0][1]
    monkeypatch.setenv("COLUMNS", "80")
    assert in_process(["agents", "--db", url]) == 0
    out = capsys.readouterr().out
    assert max(map(len, out.splitlines())) <= 80
    row = next(line for line in out.splitlines() if "dana" in line)
    assert f"{dana.score:.1f}" in row and weakest in row
    monkeypatch.setenv("COLUMNS", "200")
    assert in_process(["agents", "--db", url]) == 0
    wide = capsys.readouterr().out
    assert all(name in wide for name in dana.sections)


def test_a_calls_json_sidecar_is_not_scored_as_a_transcript(tmp_path, in_process, capsys):
    folder = tmp_path / "calls"
    write_transcripts(folder, 1, "x")
    (folder / "calls.json").write_text(json.dumps([{"file": "x_0000.json", "agent": "dana", "date": "2026-11-02"}]))
    url = f"sqlite:///{tmp_path / 'q.db'}"
    code = in_process(["score", str(folder), "--db", url, "-j", "1", "--format", "json"])
    assert [(Path(o["file"]).name, o["status"], o["agent"]) for o in outcomes(capsys.readouterr().out)] == \
        [("x_0000.json", "scored", "dana")]
    assert code == 0


PII_CALL = {"version": 1, "duration": 30.0, "engine": "script", "model": "", "roles": "labels", "segments": [
    {"speaker": "agent", "start": 0.5, "end": 5.0,
     "text": "Thank you for calling Northwind Energy, my name is Sam. How can I help you today?"},
    {"speaker": "customer", "start": 5.5, "end": 12.0,
     "text": "You charged my card 4111 1111 1111 1111 twice, my email is jane.doe@example.com."},
    {"speaker": "agent", "start": 12.5, "end": 20.0,
     "text": "I can see card 4111 1111 1111 1111 here, and I'll write to jane.doe@example.com today."},
    {"speaker": "agent", "start": 25.5, "end": 30.0, "text": "Is there anything else? Thank you, goodbye."}]}
PII = ("4111", "jane.doe", "example.com")


def pii_rubric(path: Path) -> Path:
    """The default rubric plus a criterion whose flag quotes what the agent read out."""
    rubric = yaml.safe_load(RUBRIC.read_text(encoding="utf-8"))
    rubric["criteria"].append({
        "id": "negative_phrasing.reads_data_aloud", "name": "Reads personal data aloud", "category": "compliance",
        "section": "negative_phrasing", "speaker": "agent", "weight": 1, "severity": "major", "polarity": "negative",
        "message": "The agent read personal data aloud.", "source": {"seed": "test", "guidance": "test"},
        "check": {"type": "phrase", "mode": "forbidden", "regex": [r"card (?:\d+ ?){4}", r"write to \S+"]}})
    path.write_text(yaml.safe_dump(rubric, sort_keys=False), encoding="utf-8")
    return path


def stored_text(url: str) -> str:
    rows = query(url, "SELECT text, COALESCE(CAST(words AS TEXT), '') FROM segments UNION ALL "
                      "SELECT text, COALESCE(message, '') || ' ' || COALESCE(explanation, '') || ' ' || "
                      "COALESCE(CAST(details AS TEXT), '') FROM flags")
    return "\n".join(" ".join(r) for r in rows)


def test_redact_keeps_card_numbers_and_emails_out_of_the_database(tmp_path, in_process, capsys):
    (tmp_path / "calls").mkdir()
    call = tmp_path / "calls" / "pii.json"
    call.write_text(json.dumps(PII_CALL))
    rubric = pii_rubric(tmp_path / "pii.yaml")
    plain, redacted = f"sqlite:///{tmp_path / 'plain.db'}", f"sqlite:///{tmp_path / 'redacted.db'}"
    assert in_process(["score", str(call), "--db", plain, "--rubric", str(rubric), "-j", "1"]) == 0
    assert in_process(["score", str(call), "--db", redacted, "--rubric", str(rubric), "-j", "1", "--redact"]) == 0
    capsys.readouterr()
    assert all(p in stored_text(plain) for p in PII)  # without --redact the data is there: the check can fail
    assert "4111" in " ".join(t for (t,) in query(plain, "SELECT text FROM flags"))
    kept = stored_text(redacted)
    assert not [p for p in PII if p in kept]
    assert "[CARD]" in kept and "[EMAIL]" in kept


@pytest.mark.parametrize("again", [["{call}", "--redact", "--rescore"], ["--rescore", "--redact"]])
def test_a_rescore_with_redaction_redacts_the_calls_stored_before(again, tmp_path, in_process, capsys):
    """Issue 16, item 2: after a plain `score`, `score --redact --rescore` and `score --rescore
    --redact` left the card number in the stored segments and flags."""
    call = tmp_path / "pii.json"
    call.write_text(json.dumps(PII_CALL))
    rubric, url = pii_rubric(tmp_path / "pii.yaml"), f"sqlite:///{tmp_path / 'r.db'}"
    assert in_process(["score", str(call), "--db", url, "--rubric", str(rubric), "-j", "1"]) == 0
    assert all(p in stored_text(url) for p in PII)
    again = [str(call) if a == "{call}" else a for a in again]
    assert in_process(["score", *again, "--db", url, "--rubric", str(rubric), "-j", "1"]) == 0
    assert "rescored 1" in capsys.readouterr().out
    kept = stored_text(url)
    assert not [p for p in PII if p in kept] and "[CARD]" in kept and "[EMAIL]" in kept


def test_redaction_reaches_error_messages_that_quote_the_bad_line(tmp_path, in_process, capsys):
    """Issue 16, item 2: a transcript's bad line was quoted as it was, card number and all, in
    the message printed and in the errors table."""
    bad = tmp_path / "calls" / "0612345678.txt"
    bad.parent.mkdir()
    bad.write_text("4111 1111 1111 1111 is my card\nAgent: thanks\n", encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'e.db'}"
    assert in_process(["score", str(bad), "--db", url, "-j", "1", "--redact"]) == 2
    shown = capsys.readouterr()
    stored = query(url, "SELECT message FROM errors")[0][0]
    for text_ in (shown.out + shown.err, stored):
        assert "4111" not in text_ and "[CARD] is my card" in text_ and "0612345678.txt" in text_


def test_callqa_redact_redacts_what_is_stored_and_score_says_when_it_is_needed(db_url, tmp_path, in_process,
                                                                               capsys):
    """Issue 16, item 2: nothing redacted calls stored before redaction was on, and nothing said
    they were there. `score --redact` now says so once and names `callqa redact`, which redacts
    segments, flags, error messages and review comments and counts each."""
    from callqa.services import review

    call, bad = tmp_path / "pii.json", tmp_path / "bad.txt"
    call.write_text(json.dumps(PII_CALL))
    bad.write_text("my card is 4111 1111 1111 1111\n", encoding="utf-8")
    rubric = pii_rubric(tmp_path / "pii.yaml")
    assert in_process(["score", str(call), str(bad), "--db", db_url, "--rubric", str(rubric), "-j", "1"]) == 2
    with services.session_for(db_url) as session:
        call_id = list_calls(session)[0].id
        review.comment(session, call_id, "read out 4111 1111 1111 1111 on the call", reviewer="rita")
    capsys.readouterr()
    assert in_process(["score", str(call), "--db", db_url, "--rubric", str(rubric), "-j", "1", "--redact"]) == 0
    err = capsys.readouterr().err
    assert err.count("callqa redact") == 1 and "1 stored call" in err
    assert "4111" in stored_text(db_url)  # skipped: stored as it was, until redacted

    assert in_process(["redact", "--db", db_url]) == 0
    out = capsys.readouterr().out
    assert "redacted 1 call: 2 segments, 2 flags, 1 error message, 1 review" in out
    everything = stored_text(db_url) + " ".join(
        str(v) for sql in ("SELECT message FROM errors", "SELECT text FROM reviews") for (v,) in query(db_url, sql))
    assert not [p for p in PII if p in everything] and "[CARD]" in everything
    assert in_process(["score", str(call), "--db", db_url, "--rubric", str(rubric), "-j", "1", "--redact"]) == 0
    assert "callqa redact" not in capsys.readouterr().err
    assert in_process(["redact", "--db", db_url]) == 0
    assert "redacted 0 calls" in capsys.readouterr().out


def test_reviews_written_with_redaction_on_are_stored_redacted(db_url, tmp_path, in_process, capsys):
    """Issue 16, "redaction as a property of the database": a reviewer's comment, override reason,
    dispute or missed-flag note quoting a card number was stored as typed, on a call stored
    redacted too. Reviews of a redacted call, and any review written with redaction on (the TUI
    of `callqa tui --redact`), are stored redacted."""
    from callqa.services import review
    from callqa.tui.app import CallQAApp

    plain, redacted = tmp_path / "plain.json", tmp_path / "redacted.json"
    plain.write_text(json.dumps(PII_CALL))
    redacted.write_text(json.dumps({**PII_CALL, "batch_copy": "redacted"}))
    rubric_path = pii_rubric(tmp_path / "pii.yaml")
    assert in_process(["score", str(plain), "--db", db_url, "--rubric", str(rubric_path), "-j", "1"]) == 0
    assert in_process(["score", str(redacted), "--db", db_url, "--rubric", str(rubric_path), "-j", "1",
                       "--redact"]) == 0
    capsys.readouterr()
    rubric = load_rubric(rubric_path)
    said = "she read out 4111 1111 1111 1111 and jane.doe@example.com"

    def write_reviews(session, call_id: int) -> None:
        call = review.get_call(session, call_id)
        review.comment(session, call_id, said, reviewer="rita")
        review.override_section(session, call, call.sections[0].section, 50.0, said, reviewer="rita", rubric=rubric)
        review.dispute(session, call_id, said, by="sam")
        review.add_missed_flag(session, call_id, rubric, "negative_phrasing.reads_data_aloud", call.segments[2],
                               reviewer="rita", note=said)

    def stored_reviews(call_id: int) -> str:
        return " ".join(str(v) for (v,) in query(db_url, "SELECT text FROM reviews WHERE call_id = :c", c=call_id)) + \
            " ".join(" ".join(map(str, r)) for r in query(
                db_url, "SELECT text, explanation, CAST(details AS TEXT) FROM flags WHERE call_id = :c "
                        "AND origin = 'reviewer'", c=call_id))

    with services.session_for(db_url) as session:
        ids = {Path(c.file).name: c.id for c in list_calls(session)}
        write_reviews(session, ids["plain.json"])  # redaction off, a call stored as it was: kept as typed
        write_reviews(session, ids["redacted.json"])  # a redacted call: its reviews are redacted
    assert all(p in stored_reviews(ids["plain.json"]) for p in PII)  # the check can fail
    kept = stored_reviews(ids["redacted.json"])
    assert not [p for p in PII if p in kept] and "[CARD]" in kept and "[EMAIL]" in kept

    app = CallQAApp(Workspace(db=db_url, redact=True), player=None)  # `callqa tui --redact`
    with app.session() as session:
        before = len(review.get_call(session, ids["plain.json"]).reviews)
        write_reviews(session, ids["plain.json"])
    new = query(db_url, "SELECT text FROM reviews WHERE call_id = :c ORDER BY id", c=ids["plain.json"])[before:]
    assert len(new) == 4 and not [p for p in PII if p in str(new)] and "[CARD]" in str(new)


def test_a_new_sqlite_database_is_readable_by_its_owner_only(tmp_path, in_process, capsys):
    """Issue 16, item 2: the database file was created 0644 (the transcript cache 0600)."""
    call = tmp_path / "pii.json"
    call.write_text(json.dumps(PII_CALL))
    db = tmp_path / "new" / "callqa.db"
    db.parent.mkdir()
    assert in_process(["score", str(call), "--db", str(db), "-j", "1"]) == 0
    files = sorted(p.name for p in db.parent.iterdir())
    assert "callqa.db" in files and "callqa.db-wal" in files  # the engine is still open
    assert {p.name: oct(p.stat().st_mode & 0o777) for p in db.parent.iterdir()} == {n: "0o600" for n in files}


def test_fail_under_exits_1_and_still_stores(tmp_path, in_process, capsys):
    files = write_transcripts(tmp_path / "calls", 10)  # the ten references: good, poor and mixed calls
    url = f"sqlite:///{tmp_path / 'q.db'}"
    assert in_process(["score", str(tmp_path / "calls"), "--db", url, "-j", "1", "--format", "json",
                       "--fail-under", "50"]) == 1
    scores = [o["score"] for o in outcomes(capsys.readouterr().out)]
    assert min(scores) < 50 <= max(scores)
    assert_each_stored_once(url, files)
    other = f"sqlite:///{tmp_path / 'other.db'}"
    assert in_process(["score", str(tmp_path / "calls"), "--db", other, "-j", "1", "--fail-under",
                       str(min(scores))]) == 0


@pytest.mark.parametrize("command", ["score", "transcribe"])
def test_a_folder_with_nothing_to_score_is_an_error(command, tmp_path, in_process, capsys):
    """Issue 16, item 15: `score` on an empty folder said "scored 0", exit 0; `transcribe` an error."""
    empty, other = tmp_path / "empty", tmp_path / "notes"
    empty.mkdir()
    other.mkdir()
    (other / "minutes.pdf").write_bytes(b"%PDF-1.4")
    url = f"sqlite:///{tmp_path / 'q.db'}"
    assert in_process([command, str(empty), str(other), *(["--db", url] if command == "score" else [])]) == 2
    run = capsys.readouterr()
    assert f"error: no recordings or transcripts found in {empty}, {other}" in " ".join(run.err.split())
    assert "scored 0" not in run.out + run.err


def test_a_bad_rubric_exits_2_naming_file_and_line_before_any_work(tmp_path, whisper_cache):
    write_transcripts(tmp_path / "calls", 2)
    rubric = edited_rubric(tmp_path / "bad.yaml", "hold", -5)
    line = next(i for i, s in enumerate(rubric.read_text().splitlines(), 1) if "weight: -5" in s)
    run = callqa("score", tmp_path / "calls", "--db", tmp_path / "q.db", "--rubric", rubric, cache=whisper_cache)
    assert run.returncode == 2
    assert f"{rubric}:{line}:" in run.stderr and "weight" in run.stderr
    assert "Traceback" not in run.stderr
    assert not (tmp_path / "q.db").exists()


def test_a_wrong_number_is_reported_as_not_a_service_call_and_not_scored(tmp_path, in_process, capsys):
    calls = tmp_path / "calls"
    calls.mkdir()
    (calls / "wrong_number.txt").write_text(
        "Agent: Good morning, Northwind Energy, Sam speaking.\n"
        "Customer: Oh sorry, I think I've got the wrong number, I was after the dentist.\n"
        "Agent: No worries at all, have a good day.\nCustomer: Bye.\n")
    (calls / "real.txt").write_text(
        "Agent: Good morning, Northwind Energy, Sam speaking.\n"
        "Customer: Hi, you've charged my card twice this month.\n"
        "Agent: I'm sorry about that, let me fix it for you now.\n")
    db = f"sqlite:///{tmp_path / 'c.db'}"
    assert in_process(["score", str(calls), "--db", db, "-j", "1"]) == 0  # not a failure
    out = capsys.readouterr()
    assert "not a service call 1" in out.out
    assert "wrong_number.txt: not a service call" in out.err + out.out
    assert {Path(c.file).name for c in list_calls_of(db)} == {"real.txt"}


def test_a_caller_who_meant_to_ring_someone_else_is_not_a_service_call_though_they_state_a_problem(tmp_path) -> None:
    from callqa.importers import load_transcript
    from callqa.scoring import score_transcript

    wrong = tmp_path / "bank.txt"
    wrong.write_text("Agent: Grand Quay Hotel, Marco speaking.\n"
                     "Customer: Hi, I need to freeze my debit card, there are payments on it I didn't make.\n"
                     "Agent: This is the Grand Quay Hotel, I think you may have meant to call your bank?\n"
                     "Customer: Oh no, sorry, yes, I meant to ring my bank. Sorry!\n", encoding="utf-8")
    unsure = tmp_path / "bin.txt"
    unsure.write_text("Agent: Westmoor Council, Gemma speaking, how can I help?\n"
                      "Customer: Hi, I might have the wrong number here. My green bin didn't get emptied on Tuesday.\n"
                      "Agent: You've got the right place. I've booked a return collection for Thursday.\n", encoding="utf-8")
    assert score_transcript(load_transcript(wrong)).score is None
    assert score_transcript(load_transcript(unsure)).score is not None
