"""Storage on a migrated database, on SQLite (a temporary file) and on a real PostgreSQL server."""

from __future__ import annotations

import multiprocessing
import os
import traceback
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from pg import postgres_url, reset_database  # noqa: F401  (postgres_url is a fixture)
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from callqa.errors import CallQAError
from callqa.storage import (
    Flag,
    ReviewError,
    StorageError,
    add_review,
    agent_summaries,
    connect,
    count_calls,
    database_url,
    get_call,
    is_scored,
    list_calls,
    list_errors,
    migrate,
    record_error,
    safe_url,
    call_rows,
    save_scored_call,
    save_scored_calls,
    stored_transcript,
    stored_transcripts,
)
from callqa.storage.db import current_revision
from callqa.storage.models import Base, Call, FlagRow, SegmentRow
from callqa.storage.models import Review as ReviewRow
from callqa.transcript import Segment, Transcript, Word

HEAD = "0007"  # the newest migration


# ----------------------------------------------------------------------------- stand-ins
# The attributes of callqa.scoring's Flag / CallScore; storage accepts any object that has them.

@dataclass(frozen=True)
class FakeFlag:
    criterion: str
    category: str
    polarity: str
    severity: str
    speaker: str | None
    start: float | None
    end: float | None
    text: str = ""
    message: str = ""
    suggestion: str | None = None
    explanation: str | None = None
    details: dict = field(default_factory=dict)
    confidence: float | None = None


@dataclass(frozen=True)
class FakeScore:
    score: float
    sections: dict[str, float | None]
    flags: tuple[FakeFlag, ...] = ()
    critical_failed: bool = False


def make_transcript(file: str = "calls/a.wav", n: int = 3, words: bool = True, text: str = "") -> Transcript:
    segments = []
    for i in range(n):
        speaker = "agent" if i % 2 == 0 else "customer"
        line = text or f"line {i} from the {speaker}"
        ws = (Word(i * 2.0, i * 2.0 + 0.5, "line", 0.91), Word(i * 2.0 + 0.5, i * 2.0 + 1.25, str(i), 0.8)) \
            if words and i == 0 else ()
        segments.append(Segment(speaker, i * 2.0, i * 2.0 + 1.75, line, ws))
    return Transcript(file=file, duration=n * 2.0, engine="faster-whisper", model="tiny.en",
                      segments=tuple(segments), roles="diarization", role_confidence=0.75)


RUDE = FakeFlag("empathy.no_dismissive", "empathy", "negative", "major", "agent", 2.0, 3.5,
                "that's not my problem", "Dismissive phrase", "I understand, let me help",
                "matched phrase 'not my problem' (score 96)",
                {"check": "existence", "phrase": "not my problem", "score": 96.0}, 0.31)
GREETING = FakeFlag("opening.greeting", "opening", "positive", "minor", "agent", 0.0, 1.0,
                    "thank you for calling", "Greeted the customer", None, "matched phrase")
DEAD_AIR = FakeFlag("listening.dead_air", "listening", "negative", "minor", None, None, None,
                    "", "Long silences", "Tell the customer what you are doing", "3 gaps over 8 s")


def save(session: Session, *, hash_: str, agent: str = "alice", score: float = 80.0,
         sections: dict | None = None, flags: tuple = (RUDE, GREETING), when: date | datetime = date(2026, 3, 2),
         transcript: Transcript | None = None, rubric_hash: str = "v1") -> int:
    return save_scored_call(
        session, transcript or make_transcript(f"calls/{hash_}.wav"),
        FakeScore(score, sections if sections is not None else {"opening": 100.0, "empathy": None},
                  flags),
        agent=agent, call_date=when, content_hash=hash_, rubric_id="default", rubric_hash=rubric_hash)


# ----------------------------------------------------------------------------- fixtures

@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'callqa.db'}"
    url = request.getfixturevalue("postgres_url")
    reset_database(url)
    return url


@pytest.fixture
def engine(db_url):
    engine = connect(db_url)
    migrate(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine):
    with Session(engine) as session:
        yield session


# ----------------------------------------------------------------------------- schema

def test_migrate_from_empty_creates_the_tables_of_the_models(db_url):
    engine = connect(db_url)
    try:
        assert current_revision(engine) is None
        migrate(engine)
        assert current_revision(engine) == HEAD
        migrate(engine)  # already at head: nothing to do, no error
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True})
            assert compare_metadata(ctx, Base.metadata) == []
    finally:
        engine.dispose()


def test_a_database_at_0003_upgrades_keeping_every_row_and_its_rubric_hash(db_url):
    """0004 renames calls.rubric_version (a content hash) to rubric_hash on a database that has
    rows: none is lost (a batch rename on SQLite would drop and recreate calls, and the
    foreign-key cascade would empty segments, flags, section scores and reviews)."""
    engine = connect(db_url)
    try:
        migrate(engine, "0003")
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO agents (id, name) VALUES (1, 'alice')"))
            conn.execute(text(
                "INSERT INTO calls (id, agent_id, file, content_hash, call_date, duration, engine, model, rubric_id,"
                " rubric_version, score, machine_score, critical_failed, roles, role_confidence, negative_flags,"
                " critical_cap) VALUES (1, 1, 'a.wav', :h, :d, 60.0, 'whisper', 'base', 'default', 'abc123def4567890',"
                " 75.0, 80.0, false, 'stereo', 1.0, 1, 0)"), {"h": "h" * 64, "d": datetime(2026, 3, 2, tzinfo=UTC)})
            conn.execute(text("INSERT INTO segments (call_id, idx, speaker, start_s, end_s, text)"
                              " VALUES (1, 0, 'agent', 0.0, 2.0, 'Thank you for calling')"))
            conn.execute(text("INSERT INTO flags (id, call_id, criterion, category, polarity, severity, text, message)"
                              " VALUES (1, 1, 'greeting', 'opening', 'positive', 'info', 'Thank you', 'greeted')"))
            conn.execute(text("INSERT INTO section_scores (call_id, section, agent_id, call_date, score, override)"
                              " VALUES (1, 'opening', 1, :d, 100.0, 90.0)"), {"d": datetime(2026, 3, 2, tzinfo=UTC)})
            conn.execute(text("INSERT INTO criterion_results (call_id, criterion, section, status, weight, critical)"
                              " VALUES (1, 'greeting', 'opening', 'pass', 1.0, false)"))
            conn.execute(text("INSERT INTO reviews (call_id, flag_id, kind, reviewer) VALUES (1, 1, 'accept', 'rita')"))
        tables = ("agents", "calls", "segments", "flags", "section_scores", "criterion_results", "reviews")
        with engine.connect() as conn:
            before = {t: conn.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar() for t in tables}
        assert set(before.values()) == {1}

        migrate(engine)
        assert current_revision(engine) == HEAD
        with engine.connect() as conn:
            assert {t: conn.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar() for t in tables} == before
            ctx = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True})
            assert compare_metadata(ctx, Base.metadata) == []
        with Session(engine) as session:
            call = get_call(session, 1)
            assert call.call.rubric_hash == "abc123def4567890" and call.call.score == 75.0
            assert is_scored(session, "h" * 64, "abc123def4567890")
            assert [s.text for s in call.segments] == ["Thank you for calling"]
            assert [(f.criterion, f.review_status) for f in call.flags] == [("greeting", None)]
            assert [r.kind for r in call.reviews] == ["accept"]
    finally:
        engine.dispose()


def test_sqlite_connections_enforce_foreign_keys_and_wait_for_locks(tmp_path):
    engine = connect(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 10_000
    engine.dispose()


# ----------------------------------------------------------------------------- calls

def test_a_scored_call_reads_back_as_it_was_saved(session):
    transcript = make_transcript("calls/Ünïcode call.wav")
    before = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1)
    call_id = save_scored_call(
        session, transcript,
        FakeScore(62.5, {"opening": 100.0, "empathy": None, "closing": 25.0}, (RUDE, GREETING, DEAD_AIR), True),
        agent="Alice Smith", call_date=datetime(2026, 3, 2, 14, 30, tzinfo=UTC), content_hash="h" * 64,
        rubric_id="default", rubric_hash="abc123")

    stored = get_call(session, call_id)
    assert stored is not None
    call = stored.call
    assert (call.agent, call.file, call.content_hash) == ("Alice Smith", "calls/Ünïcode call.wav", "h" * 64)
    assert (call.score, call.machine_score, call.critical_failed) == (62.5, 62.5, True)
    assert (call.rubric_id, call.rubric_hash) == ("default", "abc123")
    assert (call.engine, call.model) == ("faster-whisper", "tiny.en")
    assert (call.roles, call.role_confidence, call.duration) == ("diarization", 0.75, 6.0)
    assert call.call_date == datetime(2026, 3, 2, 14, 30, tzinfo=UTC)
    assert call.call_date.tzinfo is not None and call.scored_at.tzinfo is not None
    assert before <= call.scored_at <= datetime.now(UTC) + timedelta(seconds=1)
    assert (call.negative_flags, call.review_status) == (2, "unreviewed")

    # sections in rubric order, N/A kept as None
    assert [(s.section, s.score, s.override) for s in stored.sections] == [
        ("opening", 100.0, None), ("empathy", None, None), ("closing", 25.0, None)]
    by_criterion = {f.criterion: f for f in stored.flags}
    rude = by_criterion["empathy.no_dismissive"]
    assert (rude.polarity, rude.severity, rude.speaker) == ("negative", "major", "agent")
    assert (rude.start, rude.end) == (2.0, 3.5)
    assert (rude.text, rude.message, rude.suggestion) == (RUDE.text, RUDE.message, RUDE.suggestion)
    assert rude.explanation == RUDE.explanation and rude.details == RUDE.details
    assert (rude.origin, rude.review_status) == ("machine", None)
    # how sure the transcript was of the flag's words survives storage (issue 18)
    assert (rude.confidence, rude.uncertain) == (0.31, True)
    dead = by_criterion["listening.dead_air"]
    assert (dead.speaker, dead.start, dead.end) == (None, None, None)
    assert (dead.confidence, dead.uncertain) == (None, False)

    # the transcript comes back whole (words included) for rescoring without Whisper
    assert stored.segments == transcript.segments
    assert stored_transcript(session, call_id) == transcript
    assert is_scored(session, "h" * 64, "abc123")
    assert not is_scored(session, "h" * 64, "another-rubric-version")
    assert not is_scored(session, "x" * 64, "abc123")
    assert get_call(session, call_id + 1000) is None
    with pytest.raises(StorageError):
        stored_transcript(session, call_id + 1000)


def test_saving_the_same_recording_again_replaces_it_and_keeps_matching_reviews(session):
    first = save(session, hash_="same", score=40.0, flags=(RUDE, GREETING, DEAD_AIR))
    flags = {f.criterion: f.id for f in get_call(session, first).flags}
    add_review(session, first, "accept", reviewer="rita", flag_id=flags["empathy.no_dismissive"])
    add_review(session, first, "reject", reviewer="rita", flag_id=flags["listening.dead_air"])
    add_review(session, first, "comment", reviewer="rita", text="rude on the refund")
    add_review(session, first, "override", reviewer="rita", section="opening", new_score=50, text="late greeting")

    # rescored with a changed rubric: dead-air no longer flagged, one segment more
    again = save(session, hash_="same", score=70.0, flags=(RUDE, GREETING),
                 sections={"opening": 90.0, "empathy": 80.0}, transcript=make_transcript("calls/same.wav", n=4),
                 rubric_hash="v2")
    assert again == first
    assert session.scalar(select(func.count()).select_from(Call)) == 1
    assert session.scalar(select(func.count()).select_from(SegmentRow)) == 4
    stored = get_call(session, first)
    assert (stored.call.score, stored.call.rubric_hash) == (70.0, "v2")
    assert sorted(f.criterion for f in stored.flags) == ["empathy.no_dismissive", "opening.greeting"]
    rude = next(f for f in stored.flags if f.criterion == "empathy.no_dismissive")
    assert rude.review_status == "accepted"
    kinds = sorted((r.kind, r.flag_id) for r in stored.reviews)
    # the reject went with its flag; the accept moved to the same flag re-created
    assert kinds == sorted([("accept", rude.id), ("comment", None), ("override", None)])
    assert stored.section("opening").score == 90.0 and stored.section("opening").override == 50.0
    assert stored.call.review_status == "reviewed"
    assert session.scalar(select(func.count()).select_from(FlagRow)) == 2


def _snapshot(session: Session) -> list:
    """Every call as a reader sees it: row, segments, flags, sections and reviews, without ids."""
    out = []
    for c in sorted(list_calls(session), key=lambda c: c.content_hash):
        got = get_call(session, c.id)
        out.append((c.content_hash, c.agent, c.file, c.score, c.rubric_hash, c.review_status, c.negative_flags,
                     got.segments, sorted((f.criterion, f.text, f.review_status) for f in got.flags),
                     [(x.section, x.score, x.override) for x in got.sections],
                     sorted((r.kind, r.section, r.text) for r in got.reviews)))
    return out


def test_a_batch_of_calls_written_in_one_transaction_stores_what_one_by_one_stores(engine):
    """A batch writes many calls per transaction (issue 17): the same rows as saving each alone,
    a reviewed call's reviews kept, a rescore that keeps its stored segments, agents resolved once,
    and a recording twice in one batch stored once (the later wins)."""
    def calls(rubric: str) -> list:
        out = []
        for i in range(6):
            transcript = make_transcript(f"calls/{i}.wav", n=2 + i + (rubric == "v2"))
            score = FakeScore(50.0 + i, {"opening": 100.0 - i, "empathy": None}, (RUDE, GREETING)[:1 + i % 2])
            out.append((transcript, score, ("alice", "bob", "carmen")[i % 3], f"h{i}"))
        return out + [(make_transcript("calls/again.wav", n=3), FakeScore(99.0, {"opening": 1.0}), "dana", "h0")]

    snapshots = []
    for batched in (False, True):
        with Session(engine) as session:
            session.execute(text("DELETE FROM reviews"))
            session.execute(text("DELETE FROM calls"))
            session.commit()
            first = calls("v1")
            for transcript, score, agent, hash_ in first[:3]:  # stored before, one reviewed
                save_scored_call(session, transcript, score, agent=agent, call_date=date(2026, 3, 2),
                                 content_hash=hash_, rubric_id="default", rubric_hash="v1")
            reviewed = list_calls(session, order_by="id")[1].id
            rude = next(f.id for f in get_call(session, reviewed).flags if f.criterion == RUDE.criterion)
            add_review(session, reviewed, "reject", reviewer="rita", flag_id=rude)
            add_review(session, reviewed, "override", reviewer="rita", section="opening", new_score=10, text="x")
            rows = [call_rows(t, sc, agent=a, call_date=date(2026, 3, 2), content_hash=h, rubric_id="default",
                              rubric_hash="v2", keep_segments=h == "h2") for t, sc, a, h in calls("v2")]
            if batched:
                ids = save_scored_calls(session, rows)
                assert ids[0] == ids[-1]  # one recording, one call
            else:
                ids = [save_scored_calls(session, [r])[0] for r in rows]
            snapshots.append(_snapshot(session))
            assert session.scalar(select(func.count()).select_from(Call)) == 6
            kept = stored_transcripts(session, ids)
            assert [len(kept[i].segments) for i in ids[:4]] == [3, 4, 4, 6]  # h2 kept its v1 segments
            assert kept[ids[1]] == stored_transcript(session, ids[1])
    assert snapshots[0] == snapshots[1]
    h1 = next(c for c in snapshots[1] if c[0] == "h1")
    assert h1[5] == "reviewed" and h1[8] == [("empathy.no_dismissive", RUDE.text, "rejected"),
                                            ("opening.greeting", GREETING.text, None)]
    assert next(c for c in snapshots[1] if c[0] == "h0")[1:3] == ("dana", "calls/again.wav")


def test_agent_summaries_average_the_scores_that_count(session):
    save(session, hash_="a1", agent="alice", score=80, sections={"opening": 100.0, "empathy": None})
    save(session, hash_="a2", agent="alice", score=60, sections={"opening": 50.0, "empathy": 40.0})
    save(session, hash_="a3", agent="alice", score=70, sections={"opening": 0.0, "empathy": 70.0},
         when=date(2026, 4, 1))
    b1 = save(session, hash_="b1", agent="bob", score=90, sections={"opening": 100.0, "empathy": 100.0})
    save(session, hash_="b2", agent="bob", score=50, sections={"opening": None, "empathy": None})

    summaries = {s.agent: s for s in agent_summaries(session)}
    assert list(summaries) == ["alice", "bob"]
    alice, bob = summaries["alice"], summaries["bob"]
    assert (alice.calls, alice.score) == (3, pytest.approx(70.0))
    assert alice.sections == {"opening": pytest.approx(50.0), "empathy": pytest.approx(55.0)}  # N/A not averaged
    assert (bob.calls, bob.score) == (2, pytest.approx(70.0))
    assert bob.sections == {"opening": pytest.approx(100.0), "empathy": pytest.approx(100.0)}
    assert bob.to_dict()["sections"]["opening"] == pytest.approx(100.0)

    # a reviewer's override and overall score count instead of the machine's
    add_review(session, b1, "override", reviewer="rita", section="empathy", new_score=40, call_score=60,
               text="no empathy at all")
    bob = next(s for s in agent_summaries(session) if s.agent == "bob")
    assert (bob.score, bob.sections["empathy"]) == (pytest.approx(55.0), pytest.approx(40.0))

    march = {s.agent: s for s in agent_summaries(session, date_from=date(2026, 3, 1), date_to=date(2026, 3, 31))}
    assert (march["alice"].calls, march["alice"].score) == (2, pytest.approx(70.0))
    assert [s.agent for s in agent_summaries(session, date_from=date(2026, 4, 1))] == ["alice"]


def test_list_calls_filters_sorts_and_pages(session):
    ids = {}
    for i in range(12):
        agent = ("alice", "bob", "carol")[i % 3]
        ids[i] = save(session, hash_=f"c{i:02d}", agent=agent, score=float(40 + 5 * i),
                      when=datetime(2026, 3, 1 + i, 9, 0, tzinfo=UTC),
                      flags=(RUDE,) if i % 4 == 0 else (GREETING,),
                      transcript=make_transcript(f"calls/c{i:02d}.wav",
                                                 text="I need a REFUND of 100% now" if i == 7 else ""))
    add_review(session, ids[3], "comment", reviewer="rita", text="fine")
    add_review(session, ids[5], "dispute", reviewer="bob", text="I was polite")

    newest = list_calls(session)
    assert [c.id for c in newest] == [ids[i] for i in reversed(range(12))]
    assert [c.content_hash for c in list_calls(session, agent="bob")] == ["c10", "c07", "c04", "c01"]
    in_range = list_calls(session, date_from=date(2026, 3, 3), date_to=date(2026, 3, 5))  # whole last day
    assert sorted(c.content_hash for c in in_range) == ["c02", "c03", "c04"]
    assert [c.score for c in list_calls(session, score_min=60, score_max=70, order_by="score")] == [60.0, 65.0, 70.0]
    assert {c.content_hash for c in list_calls(session, unreviewed=False)} == {"c03", "c05"}
    assert len(list_calls(session, unreviewed=True)) == 10
    assert [c.content_hash for c in list_calls(session, review_status="disputed")] == ["c05"]
    assert [c.content_hash for c in list_calls(session, search="refund of 100%")] == ["c07"]
    assert list_calls(session, search="100%%") == []  # % is a character, not a wildcard
    assert {c.content_hash for c in list_calls(session, category="empathy")} == {"c00", "c04", "c08"}
    assert count_calls(session, agent="alice", score_max=60) == 2  # 40 and 55 (70, 85 above)
    assert count_calls(session) == 12

    pages = [list_calls(session, order_by="-score", limit=5, offset=o) for o in (0, 5, 10)]
    assert [len(p) for p in pages] == [5, 5, 2]
    flat = [c.score for p in pages for c in p]
    assert flat == sorted(flat, reverse=True) and len({c.id for p in pages for c in p}) == 12
    with pytest.raises(ValueError, match="valid"):
        list_calls(session, order_by="colour")


def test_reviews_are_stored_with_reviewer_and_time_and_change_what_counts(session):
    call_id = save(session, hash_="r1", score=55.0, flags=(RUDE, GREETING, DEAD_AIR),
                   sections={"opening": 100.0, "empathy": 20.0})
    flags = {f.criterion: f.id for f in get_call(session, call_id).flags}
    before = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1)

    rejected = add_review(session, call_id, "reject", reviewer="Rita QA", flag_id=flags["listening.dead_air"],
                          text="hold music, not dead air", call_score=65.0)
    assert (rejected.reviewer, rejected.kind, rejected.text) == ("Rita QA", "reject", "hold music, not dead air")
    assert before <= rejected.created_at <= datetime.now(UTC) + timedelta(seconds=1)
    override = add_review(session, call_id, "override", reviewer="Rita QA", section="empathy", new_score=60.0,
                          text="apologised later")
    added = add_review(session, call_id, "add_flag", reviewer="Rita QA",
                       flag=Flag("empathy.interrupts", "empathy", "negative", "major", "agent", 4.0, 5.0,
                                 "let me stop you", "Interrupted the customer"))
    stored = get_call(session, call_id)
    assert stored.call.review_status == "reviewed"
    assert (stored.call.score, stored.call.machine_score) == (65.0, 55.0)  # the machine's original stays
    assert stored.section("empathy").score == 20.0 and stored.section("empathy").final == 60.0
    by_id = {f.id: f for f in stored.flags}
    assert by_id[flags["listening.dead_air"]].review_status == "rejected"
    assert (by_id[added.flag_id].origin, by_id[added.flag_id].criterion) == ("reviewer", "empathy.interrupts")
    assert stored.call.negative_flags == 2  # rude + the added one; the rejected dead-air no longer counts
    assert [r.id for r in stored.reviews] == [rejected.id, override.id, added.id]
    assert all(r.reviewer == "Rita QA" and r.created_at.tzinfo is not None for r in stored.reviews)

    add_review(session, call_id, "dispute", reviewer="alice", flag_id=flags["empathy.no_dismissive"],
               text="the customer said it first")
    assert get_call(session, call_id).call.review_status == "disputed"
    assert [c.id for c in list_calls(session, review_status="disputed")] == [call_id]
    add_review(session, call_id, "resolve_dispute", reviewer="Rita QA", flag_id=flags["empathy.no_dismissive"],
               text="upheld")
    assert get_call(session, call_id).call.review_status == "reviewed"

    for kwargs, message in [
        ({"kind": "accept", "flag_id": 10_000}, "no flag"),
        ({"kind": "override", "section": "empathy", "new_score": 120}, "0 to 100"),
        ({"kind": "override", "section": "closing", "new_score": 50}, "no section"),
        ({"kind": "comment", "text": "  "}, "text"),
        ({"kind": "approve"}, "valid kinds"),
    ]:
        with pytest.raises(ReviewError, match=message):
            add_review(session, call_id, reviewer="Rita QA", **kwargs)
    with pytest.raises(ReviewError, match="reviewer"):
        add_review(session, call_id, "comment", reviewer="", text="who am I")
    with pytest.raises(ReviewError, match="no stored call"):
        add_review(session, call_id + 99, "comment", reviewer="Rita QA", text="hello")
    assert session.scalar(select(func.count()).select_from(ReviewRow)) == 5  # failed ones left nothing


def test_a_claim_is_taken_over_only_from_an_owner_that_is_gone(session):
    """storage.claims: a claim held by a running process blocks; one whose process ended on this
    machine is taken over at once; one from another machine after CLAIM_TIMEOUT without renewal."""
    import subprocess
    import sys

    from callqa.storage import claims

    me, now = claims.this_process(), datetime.now(UTC)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    running = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        rows = {"alive": (me.host, running.pid, claims._started(running.pid), now),
                "dead": (me.host, gone.pid, f"{claims._boot_id()}:1", now),
                "far-recent": ("elsewhere", 1, "x:1", now - claims.CLAIM_TIMEOUT / 2),
                "far-old": ("elsewhere", 2, "x:2", now - claims.CLAIM_TIMEOUT * 2)}
        with session.begin():
            for digest, (host, pid, started, at) in rows.items():
                session.execute(claims.ClaimRow.__table__.insert().values(
                    content_hash=digest, host=host, pid=pid, started=started, claimed_at=at))
        held = {digest: claims.claim(session, digest) for digest in rows}
        assert held == {"alive": claims.Claimant(me.host, running.pid, claims._started(running.pid)),
                        "dead": None, "far-recent": claims.Claimant("elsewhere", 1, "x:1"), "far-old": None}
        assert claims.claim(session, "new") is None and claims.claim(session, "new") is None  # ours already
        claims.release_claims(session)
        left = sorted(session.execute(select(claims.ClaimRow.content_hash)).scalars())
        assert left == ["alive", "far-recent"]
    finally:
        running.kill()
        running.wait()


def test_errors_are_recorded(session):
    record_error(session, "calls/broken.wav", None, "cannot decode: invalid data")
    record_error(session, "calls/empty.wav", "e" * 64, "empty recording")
    errors = list_errors(session)
    assert [(e.file, e.content_hash) for e in errors] == [("calls/empty.wav", "e" * 64), ("calls/broken.wav", None)]
    assert all(e.created_at.tzinfo is not None for e in errors)


# ----------------------------------------------------------------------------- concurrency

PER_PROCESS, SHARED = 40, 15


def _writer(url: str, name: str, barrier, errors) -> None:
    try:
        engine = connect(url)
        barrier.wait(timeout=60)
        migrate(engine)  # both processes migrate the empty database at the same moment
        with Session(engine) as session:
            for i in range(PER_PROCESS):
                call_id = save(session, hash_=f"{name}-{i}", agent=name, score=float(i),
                               transcript=make_transcript(f"{name}/{i}.wav", n=30),
                               flags=(RUDE, GREETING, DEAD_AIR) * 3)
                if i % 4 == 0:  # reads the call first, then writes
                    add_review(session, call_id, "comment", reviewer=name, text="checked")
                if i < SHARED:  # the same recording, saved by both at about the same time
                    save(session, hash_=f"shared-{i}", agent="shared", transcript=make_transcript(n=20))
                if i % 10 == 0:
                    record_error(session, f"{name}/bad-{i}.wav", None, "corrupt")
                assert is_scored(session, f"{name}-{i}", "v1")
        engine.dispose()
    except BaseException:
        errors.put(f"{name}: {traceback.format_exc()}")
        raise


def test_two_processes_write_at_once_without_locking_errors_or_lost_rows(db_url):
    ctx = multiprocessing.get_context("spawn")
    barrier, errors = ctx.Barrier(2), ctx.Queue()
    procs = [ctx.Process(target=_writer, args=(db_url, name, barrier, errors)) for name in ("p1", "p2")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=300)
    problems = []
    while not errors.empty():
        problems.append(errors.get())
    assert not problems, "\n".join(problems)
    assert [p.exitcode for p in procs] == [0, 0]

    engine = connect(db_url)
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(Call)) == 2 * PER_PROCESS + SHARED
        per_call = session.execute(select(Call.content_hash, func.count(SegmentRow.id))
                                   .join(SegmentRow, SegmentRow.call_id == Call.id)
                                   .group_by(Call.content_hash)).all()
        assert {h: n for h, n in per_call if h.startswith("shared")} == {f"shared-{i}": 20 for i in range(SHARED)}
        assert all(n == 30 for h, n in per_call if not h.startswith("shared"))
        assert session.scalar(select(func.count()).select_from(FlagRow)) == 2 * PER_PROCESS * 9 + SHARED * 2
        assert len(list_errors(session)) == 2 * (PER_PROCESS // 10)
        assert session.scalar(select(func.count()).select_from(ReviewRow)) == 2 * (PER_PROCESS // 4)
        summaries = {s.agent: s.calls for s in agent_summaries(session)}
        assert summaries == {"p1": PER_PROCESS, "p2": PER_PROCESS, "shared": SHARED}
    engine.dispose()


# ----------------------------------------------------------------------------- URLs and errors

SECRET = "s3cr3t-P@ss"


@pytest.mark.parametrize("url", [
    "postgresql+psycopg://qa:s3cr3t-P%40ss@db.example:5432/callqa",
    "postgresql://qa:s3cr3t-P@ss@db.example/callqa",  # unescaped @: not even a valid URL
    "postgresql+psycopg://qa@db.example/callqa?password=s3cr3t-P@ss&sslmode=require",
    "postgresql+psycopg://qa:s3cr3t-P@ss@/callqa?host=/run/postgresql",
])
def test_safe_url_never_shows_the_password(url):
    shown = safe_url(url)
    assert "s3cr3t" not in shown and "***" in shown
    assert "qa" in shown and "callqa" in shown


# Passwords whose special characters were not percent-encoded. The URL parser ends the password
# at the first "@" and takes the rest ("T4il...") for the host or the database.
RAW_SECRET_URLS = [
    "postgresql://qa:s3cr3t@T4il@127.0.0.1:1/callqa",
    "postgresql://qa:s3cr3t@T4il@/callqa?host=/run/postgresql",
    "postgresql://qa:s3cr3t@T4il/more@127.0.0.1:1/callqa",  # the rest parsed as host "T4il", db "more@..."
    "postgresql://qa:s3cr3t@T4il:W0rd@127.0.0.1:1/callqa",  # the rest's ":W0rd/" parsed as a port
    "postgresql://qa:s3cr3t@T4il@db.example/callqa?password=s3cr3t@T4il&sslmode=require",
]


@pytest.mark.parametrize("url", RAW_SECRET_URLS)
def test_safe_url_hides_the_whole_password_when_it_holds_an_unencoded_at(url):
    """Issue 16: 'a password with an unencoded @ in --db prints the part after the @'. safe_url
    rendered the parsed URL (password "s3cr3t", host "T4il@127.0.0.1") and masked only up to the
    first '@'."""
    shown = safe_url(url)
    assert "s3cr3t" not in shown and "T4il" not in shown and "W0rd" not in shown and "***" in shown


@pytest.mark.parametrize("url", RAW_SECRET_URLS[:4])
def test_a_password_with_an_unencoded_at_is_refused_before_connecting_and_never_shown(url, tmp_path):
    """It reached the driver: the password's tail was sent to the DNS resolver as a host name and
    printed back ("failed to resolve host 'T4il@127.0.0.1'"), or ':W0rd' ended in a ValueError
    traceback. Now it is refused up front, saying how to write it."""
    import subprocess
    import sys

    for command in (["agents"], ["config"]):
        run = subprocess.run([sys.executable, "-m", "callqa.cli", *command, "--db", url], capture_output=True,
                             text=True, timeout=60,
                             env={**os.environ, "COLUMNS": "300", "CALLQA_CACHE_DIR": str(tmp_path)})
        out = run.stdout + run.stderr
        assert "s3cr3t" not in out and "T4il" not in out and "W0rd" not in out, out
        assert "Traceback" not in out
    assert run.returncode == 0  # config shows the masked URL
    with pytest.raises(StorageError, match="%40") as info:
        connect(database_url(url))
    assert "resolve" not in str(info.value)


def test_database_url_takes_the_given_url_or_a_file_in_the_user_data_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    default = database_url(None)
    assert default.startswith("sqlite:///") and default.endswith("callqa.db") and str(tmp_path) in default
    assert (tmp_path / "data" / "callqa").is_dir()
    assert database_url("postgresql://qa@db/callqa") == "postgresql+psycopg://qa@db/callqa"
    assert database_url(str(tmp_path / "mine.db")) == f"sqlite:///{tmp_path / 'mine.db'}"
    assert database_url("sqlite:///x.db") == "sqlite:///x.db"


def test_an_unreachable_database_is_a_clear_error_without_the_password(tmp_path):
    import socket
    from urllib.parse import quote

    with socket.socket() as s:  # a port where nothing listens
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(StorageError) as info:
        connect(f"postgresql+psycopg://qa:{quote(SECRET, safe='')}@127.0.0.1:{port}/callqa",
                connect_args={"connect_timeout": 5})
    message = str(info.value)
    assert isinstance(info.value, CallQAError)
    assert "s3cr3t" not in message and f"127.0.0.1:{port}" in message and "server is running" in message

    missing = tmp_path / "no such folder" / "callqa.db"
    with pytest.raises(StorageError, match="no such folder") as info:
        connect(f"sqlite:///{missing}")
    assert "--db" in str(info.value)


def test_a_server_that_accepts_and_never_answers_is_an_error_naming_the_host(tmp_path):
    """Issue 16, item 10: a PostgreSQL port that accepts TCP and never answers gave no error after
    130 s. Now the connect times out (10 s by default) with the host named and the password not."""
    import socket
    import subprocess
    import sys

    with socket.socket() as silent:  # the kernel accepts connections; nobody ever answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        run = subprocess.run([sys.executable, "-m", "callqa.cli", "agents", "--db",
                              f"postgresql://qa:hunter2@127.0.0.1:{port}/callqa"],
                             capture_output=True, text=True, timeout=40, env={**os.environ, "COLUMNS": "300"})
    assert run.returncode == 2, run.stderr
    assert f"127.0.0.1:{port}" in run.stderr and "timeout" in run.stderr and "hunter2" not in run.stderr
    assert "Traceback" not in run.stderr


def test_postgres_fixture_serves_a_real_server(request):
    engine = connect(request.getfixturevalue("postgres_url"))
    with engine.connect() as conn:
        assert conn.execute(text("SHOW server_version")).scalar().startswith("15")
    engine.dispose()


def test_postgres_sessions_get_a_statement_timeout_that_the_url_can_change(request):
    url = request.getfixturevalue("postgres_url")
    for query, expected in (("", "5min"), ("?options=-c%20statement_timeout%3D0", "0")):
        engine = connect(url + query)
        with engine.connect() as conn:
            assert conn.execute(text("SHOW statement_timeout")).scalar() == expected
        engine.dispose()


def test_opening_a_new_sqlite_file_waits_while_another_process_holds_its_write_lock(tmp_path) -> None:
    """Two batches started at once on a new file: the second must wait to switch it to WAL, not
    fail with "database is locked" (SQLite refuses that switch at once, without its busy handler)."""
    import sqlite3
    import threading

    from callqa.storage.db import connect

    path = tmp_path / "new.db"
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("CREATE TABLE t(x)")  # a new file, still in rollback-journal mode
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("INSERT INTO t VALUES (1)")
    release = threading.Timer(0.3, lambda: holder.execute("COMMIT"))
    release.start()
    try:
        engine = connect(f"sqlite:///{path}")
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        engine.dispose()
    finally:
        release.join()
        holder.close()


def test_the_head_revision_is_read_from_the_migration_files_as_alembic_reads_it():
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from callqa.storage.db import MIGRATIONS, head_revision

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    assert head_revision() == ScriptDirectory.from_config(config).get_current_head()
