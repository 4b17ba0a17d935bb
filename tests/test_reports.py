"""Coaching reports: what they say (quotes, top issues, strengths, listening), that reviewer
decisions are counted in, that transcript text is escaped and personal data redacted, and that
HTML, Markdown and JSON say the same.

Two databases, built without Whisper: the sample calls (reference transcripts scored with the
packaged rubric, agents and dates from recordings_sample/calls.csv), and hand-built calls scored
with a small rubric written here, so that the ranking can be checked exactly.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
from datetime import date
from pathlib import Path

import pytest
from pg import postgres_url, reset_database  # noqa: F401  (postgres_url is a fixture)
from sqlalchemy.orm import Session

from callqa import storage
from callqa.importers import load_transcript
from callqa.reports import (
    UnknownAgentError,
    build_report,
    build_team_overview,
    render_html,
    render_markdown,
    render_overview_html,
    report_json,
)
from callqa.reports.render import md
from callqa.rubric.loader import load_rubric
from callqa.scoring import score_transcript
from callqa.storage import report_queries
from callqa.transcript import Segment, Transcript

REPO = Path(__file__).resolve().parents[1]
REFERENCE = REPO / "samples" / "reference"
CALLS_CSV = REPO / "recordings_sample" / "calls.csv"

RUBRIC_YAML = """
id: coach-test
name: Coaching test rubric
version: "1"
sections:
  - {id: greeting, name: Greeting, weight: 20}
  - {id: phrasing, name: Phrasing, weight: 60}
  - {id: ownership, name: Ownership, weight: 20}
criteria:
  - id: greeting.hello
    name: Greets the customer
    category: greeting
    section: greeting
    window: {first_s: 20}
    polarity: positive
    praise: Opens with a greeting
    message: The agent did not greet the customer.
    suggestion: 'Open with "Thank you for calling Northwind."'
    source: {seed: 003_190defcb58314eab.txt, guidance: "Creating positive first impressions."}
    check: {type: phrase, phrases: ["thank you for calling"], fuzzy: false}
  - id: phrasing.dont_know
    name: Says I don't know
    category: phrasing
    section: phrasing
    weight: 3
    severity: major
    polarity: negative
    message: The agent said they don't know.
    suggestion: 'Say "I''ll find out".'
    source: {seed: 002_f6e8b908dceac638.txt, guidance: "A representative should not say I don't know."}
    check: {type: phrase, mode: forbidden, phrases: ["i don't know"], fuzzy: false}
  - id: phrasing.have_to_call
    name: You have to call
    category: phrasing
    section: phrasing
    weight: 1
    polarity: negative
    message: The agent pushed the customer to call someone else.
    suggestion: 'Say "Let me put you through."'
    source: {seed: 000_da4d35bca5019383.txt, guidance: "Take the extra step."}
    check: {type: phrase, mode: forbidden, phrases: ["you have to call"], fuzzy: false}
  - id: ownership.take_care
    name: Takes ownership
    category: ownership
    section: ownership
    polarity: positive
    message: The agent never took ownership.
    suggestion: 'Say "Let me take care of that."'
    source: {seed: 003_190defcb58314eab.txt, guidance: "Outstanding service conveys I care."}
    check: {type: phrase, phrases: ["let me take care of that"], fuzzy: false}
"""


# ----------------------------------------------------------------------------- building calls

def _migrated(path: Path) -> str:
    url = f"sqlite:///{path}"
    engine = storage.connect(url)
    storage.migrate(engine)
    engine.dispose()
    return url


def _store(session: Session, transcript: Transcript, rubric, *, agent: str, when: date, key: str) -> int:
    return storage.save_scored_call(session, transcript, score_transcript(transcript, rubric), agent=agent,
                                    call_date=when, content_hash=key.ljust(64, "0")[:64], rubric_id=rubric.id,
                                    rubric_hash="test")


def call(file: str, *turns: tuple[str, float, float, str]) -> Transcript:
    segments = tuple(Segment(speaker, start, end, text) for speaker, start, end, text in turns)
    return Transcript(file=file, duration=max(s.end for s in segments), engine="reference", model="test",
                      segments=segments)


def _greeted(file: str, middle: str, closing: str = "Anything else? Bye now.") -> Transcript:
    return call(file,
                ("agent", 0.5, 4.0, "Thank you for calling Northwind, how can I help?"),
                ("customer", 4.5, 10.0, "My bill is wrong and I am not happy about it at all."),
                ("agent", 10.5, 16.0, middle),
                ("customer", 16.5, 20.0, "Okay then."),
                ("agent", 20.5, 23.0, closing))


def dana_calls() -> list[tuple[str, date, Transcript]]:
    """Dana: "I don't know" on three calls, "you have to call" on one, no greeting on one,
    ownership taken on two of four."""
    return [
        ("dana", date(2026, 3, 2), _greeted("calls/d1.wav", "I don't know why it went up. Let me take care of that.")),
        ("dana", date(2026, 3, 4), _greeted("calls/d2.wav", "Hmm. I don't know, you have to call billing.")),
        ("dana", date(2026, 3, 10), call("calls/d3.wav",
                                         ("agent", 0.5, 4.0, "Yeah, what is it?"),
                                         ("customer", 4.5, 10.0, "My meter reading is wrong."),
                                         ("agent", 10.5, 16.0, "Right. Let me take care of that for you."),
                                         ("customer", 16.5, 20.0, "Thanks."))),
        ("dana", date(2026, 3, 12), _greeted("calls/d4.wav", "Honestly I don't know what happened there.")),
        ("erin", date(2026, 3, 3), _greeted("calls/e1.wav", "Let me take care of that right now.")),
        ("erin", date(2026, 3, 11), _greeted("calls/e2.wav", "I don't know yet. Let me take care of that.")),
    ]


@pytest.fixture(scope="module")
def coach_rubric(tmp_path_factory):
    path = tmp_path_factory.mktemp("rubric") / "coach.yaml"
    path.write_text(RUBRIC_YAML, encoding="utf-8")
    return load_rubric(path)


@pytest.fixture(params=["sqlite", "postgresql"])
def coach_db(request, tmp_path, coach_rubric):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'coach.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
        reset_database(url)
    engine = storage.connect(url)
    storage.migrate(engine)
    with Session(engine) as session:
        for i, (agent, when, transcript) in enumerate(dana_calls()):
            _store(session, transcript, coach_rubric, agent=agent, when=when, key=f"{i:x}")
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def sample_db(tmp_path_factory) -> str:
    """The 10 sample calls: reference transcripts scored with the packaged rubric."""
    rubric = load_rubric()
    url = _migrated(tmp_path_factory.mktemp("sample") / "sample.db")
    engine = storage.connect(url)
    with Session(engine) as session, CALLS_CSV.open() as fh:
        for row in csv.DictReader(fh):
            transcript = load_transcript(REFERENCE / f"{row['call_id']}.json")
            _store(session, transcript, rubric, agent=row["agent"], when=date.fromisoformat(row["date"]),
                   key=row["call_id"].encode().hex())
    engine.dispose()
    return url


def _report(engine, agent: str = "dana", rubric=None, **kw):
    with Session(engine) as session:
        return build_report(session, agent, rubric=rubric, **kw)


def _words(html: str) -> str:
    """The page's text: tags out, entities decoded, whitespace squeezed."""
    import html as html_mod

    return re.sub(r"\s+", " ", html_mod.unescape(re.sub(r"<[^>]+>", "", html)))


# ----------------------------------------------------------------------------- content

def test_top_issues_are_ranked_by_points_lost_and_quote_the_agents_own_words(coach_db, coach_rubric):
    r = _report(coach_db, rubric=coach_rubric)
    assert r.calls == 4 and r.team_calls == 6 and r.team_agents == 2
    # points per failure: dont_know 100·3/4·0.6 = 45 → 3 of 4 calls; hello 20 → 1 of 4;
    # have_to_call 15 → 1 of 4; take_care 20 → 2 of 4, but missed over whole calls: nothing to quote
    assert [f.criterion for f in r.focus] == ["phrasing.dont_know", "greeting.hello", "phrasing.have_to_call"]
    assert [f.criterion for f in r.also] == ["ownership.take_care"]
    dont_know = r.focus[0]
    assert (dont_know.failed_calls, dont_know.calls, dont_know.impact) == (3, 4, 33.75)
    assert dont_know.team_rate == pytest.approx(4 / 6)  # erin said it once too
    # one quote per call, newest first, the sentence around the words, with where and when
    assert [(q.file, q.text, q.match) for q in dont_know.quotes] == [
        ("calls/d4.wav", "Honestly I don't know what happened there.", "I don't know"),
        ("calls/d2.wav", "I don't know, you have to call billing.", "I don't know"),
        ("calls/d1.wav", "I don't know why it went up.", "I don't know"),
    ]
    assert all(10.5 <= q.start <= 16 and q.timestamp in ("0:10", "0:11", "0:12", "0:13") for q in dont_know.quotes)
    assert dont_know.suggestion == 'Say "I\'ll find out".'
    assert (dont_know.seed, dont_know.guidance) == ("002_f6e8b908dceac638.txt",
                                                    "A representative should not say I don't know.")
    # the missing greeting: what Dana said in the window instead, as context
    hello = r.focus[1]
    assert hello.context and [(q.file, q.text, q.match) for q in hello.quotes] == [
        ("calls/d3.wav", "Yeah, what is it?", None)]
    # most frequent phrases: "I don't know" three times, on three calls
    assert [(p.phrase, p.count, p.calls) for p in r.phrases] == [("I don't know", 3, 3), ("you have to call", 1, 1)]


def test_strengths_quote_a_good_moment_of_the_agents_own(coach_db, coach_rubric):
    r = _report(coach_db, rubric=coach_rubric)
    greeting = next(s for s in r.strengths if s.section == "greeting")
    assert greeting.score == 75.0 and greeting.praise == "Opens with a greeting"
    assert greeting.example.file.startswith("calls/d") and greeting.example.match.lower() == "thank you for calling"
    assert "ownership" not in {s.section for s in r.strengths}  # 50: not a strength


def test_the_sample_agents_quotes_are_their_own_words_at_the_right_time(sample_db):
    rows = list(csv.DictReader(CALLS_CSV.open()))
    engine = storage.connect(sample_db)
    r = _report(engine, "alice")
    alice = {f"{row['call_id']}.json" for row in rows if row["agent"] == "alice"}
    assert r.calls == len(alice)
    turns = {name: load_transcript(REFERENCE / name).segments for name in alice}
    quotes = [q for f in r.focus for q in f.quotes] + [s.example for s in r.strengths]
    assert quotes
    for q in quotes:
        name = Path(q.file).name
        assert name in alice, f"{q.file} is not one of alice's calls"
        said = [s for s in turns[name] if s.speaker == q.speaker and s.start - 0.5 <= q.start <= s.end + 0.5]
        assert any(q.text.strip("…") in s.text for s in said), (q, said)
    # "I don't know" is one of her top issues, quoted at every place she said it
    dont_know = next(f for f in r.focus if f.criterion == "negative_phrasing.dont_know")
    said_it = [(name, s) for name, segs in turns.items() for s in segs
               if s.speaker == "agent" and "i don't know" in s.text.lower()]
    assert len(dont_know.quotes) == min(3, len(said_it))
    for q in dont_know.quotes:
        assert q.match == "I don't know"
        assert any(Path(q.file).name == name and s.start <= q.start <= s.end for name, s in said_it), q
    assert "I'll find out" in dont_know.suggestion and dont_know.seed.startswith("002_")
    # scores against the team, as stored
    with Session(engine) as session:
        summaries = {a.agent: a for a in storage.agent_summaries(session)}
        team = storage.list_calls(session, limit=1000)
    assert r.score == pytest.approx(summaries["alice"].score)
    assert r.team_score == pytest.approx(sum(c.score for c in team) / len(team))
    assert {s.section: s.score for s in r.sections} == pytest.approx(summaries["alice"].sections)
    engine.dispose()


def test_listening_measures_come_from_the_turns(coach_db, coach_rubric):
    with Session(coach_db) as session:
        _store(session, call("calls/talky.wav",
                             ("agent", 0.0, 10.0, "Thank you for calling, let me explain everything."),
                             ("customer", 10.0, 16.0, "But what about my refund and the"),
                             ("agent", 13.0, 20.0, "Let me stop you there."),  # 3 s over the customer
                             ("agent", 60.0, 64.0, "Thanks for waiting.")),  # 40 s of silence before
               coach_rubric, agent="fay", when=date(2026, 3, 5), key="fa")
        r = build_report(session, "fay", rubric=coach_rubric)
    m = {x.key: x for x in r.listening}
    assert m["talk_share"].value == pytest.approx(100 * 21 / 27)  # agent 0-10, 13-20, 60-64; customer 10-16
    assert m["interruptions"].value == 1 and m["holds"].value == 1 and m["longest_gap"].value == 40
    assert m["holds"].concern and m["interruptions"].concern


def test_date_range_keeps_only_those_calls(coach_db, coach_rubric):
    r = _report(coach_db, rubric=coach_rubric, date_from=date(2026, 3, 5), date_to=date(2026, 3, 10))
    assert r.calls == 1 and r.team_calls == 1 and r.first_call == r.last_call == date(2026, 3, 10)
    assert [f.criterion for f in r.focus] == ["greeting.hello"]
    assert [p.week for p in r.trend] == [date(2026, 3, 9)]


# ----------------------------------------------------------------------------- reviews

def test_a_rejected_flag_stops_counting_and_a_reviewer_flag_starts(coach_db, coach_rubric):
    before = _report(coach_db, rubric=coach_rubric)
    with Session(coach_db) as session:
        d4 = next(c for c in storage.list_calls(session, agent="dana") if c.file == "calls/d4.wav")
        flag = next(f for f in storage.get_call(session, d4.id).flags if f.criterion == "phrasing.dont_know")
        storage.add_review(session, d4.id, "reject", flag_id=flag.id, reviewer="lead")
        d1 = next(c for c in storage.list_calls(session, agent="dana") if c.file == "calls/d1.wav")
        storage.add_review(session, d1.id, "add_flag", reviewer="lead", flag=storage.Flag(
            "phrasing.have_to_call", "phrasing", "negative", "minor", "agent", 10.6, 11.5, "why it went up"))
        storage.add_review(session, d1.id, "override", section="greeting", new_score=0.0, reviewer="lead",
                           text="greeted the wrong company")
    after = _report(coach_db, rubric=coach_rubric)

    def item(r, crit):
        return next((f for f in (*r.focus, *r.also) if f.criterion == crit), None)

    assert item(before, "phrasing.dont_know").failed_calls == 3
    dont_know = item(after, "phrasing.dont_know")
    assert dont_know.failed_calls == 2
    assert "calls/d4.wav" not in {q.file for q in dont_know.quotes}
    assert "Honestly I don't know" in _words(render_html(before))
    assert "Honestly I don't know" not in _words(render_html(after))
    assert next(p for p in after.phrases if p.phrase == "I don't know").count == 2
    # the reviewer's flag counts against her, quoted like a machine flag
    have_to_call = item(after, "phrasing.have_to_call")
    assert have_to_call.failed_calls == 2
    assert ("calls/d1.wav", "why it went up") in {(q.file, q.match) for q in have_to_call.quotes}
    # the section override wins: greeting 100 on d1 → 0
    greeting = {s.section: s.score for s in after.sections}["greeting"]
    assert greeting == pytest.approx(50.0) and {s.section: s.score for s in before.sections}["greeting"] == 75.0
    assert (after.reviews.rejected_flags, after.reviews.added_flags, after.reviews.section_overrides) == (1, 1, 1)


# ----------------------------------------------------------------------------- escaping, redaction

def _hostile_db(coach_db, coach_rubric):
    with Session(coach_db) as session:
        _store(session, _greeted("calls/<b>x</b>.wav",
                                 "<script>alert('x')</script> I don't know why card 4111 1111 1111 1111 was "
                                 "charged, mail me at jo@example.com."),
               coach_rubric, agent="gus <i>", when=date(2026, 3, 6), key="ee")


def test_transcript_text_is_escaped_in_html_and_markdown(coach_db, coach_rubric):
    _hostile_db(coach_db, coach_rubric)
    r = _report(coach_db, "gus <i>", rubric=coach_rubric)
    quote = r.focus[0].quotes[0]
    assert "<script>" in quote.text
    html = render_html(r)
    assert "<script" not in html.lower() and "<b>x" not in html and "gus <i>" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    assert "gus &lt;i&gt;" in html  # the agent's name, in the title and heading
    text = render_markdown(r)
    assert "<script" not in text and "&lt;script&gt;" in text


def test_personal_data_in_quotes_is_redacted_unless_asked_not_to(coach_db, coach_rubric):
    _hostile_db(coach_db, coach_rubric)
    r = _report(coach_db, "gus <i>", rubric=coach_rubric)
    quote = r.focus[0].quotes[0]
    assert "[CARD]" in quote.text and "4111" not in quote.text and "[EMAIL]" in quote.text
    for out in (render_html(r), render_markdown(r), json.dumps(report_json(r))):
        assert "4111" not in out and "jo@example.com" not in out
    plain = _report(coach_db, "gus <i>", rubric=coach_rubric, redact=False)
    assert "4111 1111 1111 1111" in plain.focus[0].quotes[0].text
    assert "4111 1111 1111 1111" in render_html(plain)


# ----------------------------------------------------------------------------- the three forms

def test_markdown_and_json_say_what_the_html_says(sample_db):
    engine = storage.connect(sample_db)
    r = _report(engine, "alice")
    engine.dispose()
    html, text, data = _words(render_html(r)), render_markdown(r), report_json(r)
    data = json.loads(json.dumps(data))  # it is JSON
    assert data["version"] == 1 and data["agent"] == "alice" and data["calls"] == r.calls
    assert [f["criterion"] for f in data["focus"]] == [f.criterion for f in r.focus]
    for f, jf in zip(r.focus, data["focus"]):
        assert f.name in html and md(f.name) in text
        assert f.suggestion in html and md(f.suggestion) in text and jf["suggestion"] == f.suggestion
        assert [q["text"] for q in jf["quotes"]] == [q.text for q in f.quotes]
        for q in f.quotes:
            assert q.text in html, q.text
            assert all(md(part).strip() in text for part in q.parts() if part.strip())
            assert f"at {q.timestamp}" in html and f"at {q.timestamp}" in text
    for s in r.strengths:
        assert s.name in html and md(s.name) in text and s.example.text in html
    for p in r.phrases:
        assert f"“{p.phrase}”" in html and f"“{md(p.phrase)}”" in text
    assert f"{r.score:.1f}" in html and f"{r.score:.1f}" in text


def test_html_is_one_self_contained_printable_file(sample_db):
    engine = storage.connect(sample_db)
    html = render_html(_report(engine, "alice"))
    engine.dispose()
    assert html.startswith("<!DOCTYPE html>")
    for external in ("http://", "https://", "<link", "<script", "src=", "@import"):
        assert external not in html, external
    assert not re.search(r"url\((?!#)", html)  # only the SVG's own clip paths
    assert html.count("<svg") == 2  # trend and section charts, inline
    assert "@media print" in html and "@page" in html


def test_unknown_agent_names_the_known_ones(sample_db):
    engine = storage.connect(sample_db)
    with pytest.raises(UnknownAgentError) as exc:
        _report(engine, "dave")
    engine.dispose()
    assert exc.value.known == ("alice", "bob", "carmen")
    assert "alice, bob, carmen" in str(exc.value)


# ----------------------------------------------------------------------------- command line

def _cli(argv: list[str]) -> int:
    from callqa.cli_report import add_report_parser
    from callqa.workspace import resolve

    parser = argparse.ArgumentParser(prog="callqa")
    add_report_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    args.workspace = resolve(args)  # as callqa.cli.main does
    return args.func(args)


def test_cli_exits_2_for_an_unknown_agent_and_lists_the_known(sample_db, capsys):
    assert _cli(["report", "dave", "--db", sample_db]) == 2
    err = capsys.readouterr().err
    assert "dave" in err and "alice, bob, carmen" in err


def test_cli_writes_one_agent_in_each_format(sample_db, tmp_path, capsys):
    assert _cli(["report", "bob", "--db", sample_db, "--format", "json", "--from", "2026-10-15"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["agent"] == "bob" and data["calls"] == 2 and data["first_call"] == "2026-10-20"
    assert _cli(["report", "bob", "--db", sample_db, "--format", "md", "-o", str(tmp_path / "bob.md")]) == 0
    assert (tmp_path / "bob.md").read_text().startswith("## Coaching report · bob")


def test_cli_all_writes_every_agent_and_a_team_overview(sample_db, tmp_path):
    out = tmp_path / "reports"
    assert _cli(["report", "--all", "-o", str(out), "--db", sample_db]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["agent-alice.html", "agent-bob.html", "agent-carmen.html",
                                                       "index.html"]
    index = (out / "index.html").read_text()
    for agent in ("alice", "bob", "carmen"):
        assert f'href="agent-{agent}.html"' in index
        assert "Coaching report · " + agent in (out / f"agent-{agent}.html").read_text()
    assert 'href="index.html"' in (out / "agent-alice.html").read_text()


def test_team_overview_lists_every_agent_with_their_top_issue(coach_db, coach_rubric):
    with Session(coach_db) as session:
        o = build_team_overview(session, rubric=coach_rubric)
    assert [(a.agent, a.calls) for a in o.agents] == [("dana", 4), ("erin", 2)]
    assert o.agents[0].top_focus == "Says I don't know"
    assert o.calls == 6 and [r.agent for r in o.reports] == ["dana", "erin"]
    html = render_overview_html(o)
    assert 'href="agent-dana.html"' in html and "Says I don&#39;t know" in html


def test_report_queries_leave_out_rejected_flags(coach_db):
    with Session(coach_db) as session:
        dana = report_queries.agent_id(session, "dana")
        flags = report_queries.standing_flags(session, dana)
        storage.add_review(session, flags[0].call_id, "reject", flag_id=flags[0].id, reviewer="lead")
        assert flags[0].id not in {f.id for f in report_queries.standing_flags(session, dana)}
        assert report_queries.review_counts(session, dana).rejected_flags == 1


def test_a_period_without_calls_gives_an_empty_report_not_an_error(coach_db, coach_rubric):
    r = _report(coach_db, rubric=coach_rubric, date_from=date(2027, 1, 1))
    assert (r.calls, r.score, r.focus, r.strengths, r.trend) == (0, None, (), (), ())
    assert "No scored calls for dana in this period" in render_html(r)
    assert "Calls scored:** 0" in render_markdown(r)


def test_an_agent_named_in_mathtext_does_not_break_everyones_report(tmp_path, monkeypatch):
    """Issue 16, item 7: an agent named ``$\\foo{$`` made ``report --all`` fail for every agent
    (matplotlib ParseFatalException); the name is drawn as written."""
    from callqa.cli import main

    monkeypatch.setenv("CALLQA_CACHE_DIR", str(tmp_path / "cache"))
    db = str(tmp_path / "m.db")
    for name, agent in (("m.txt", "$\\foo{$"), ("n.txt", "nina")):
        (tmp_path / name).write_text(
            "Agent: Thank you for calling, how can I help?\nCustomer: My bill is wrong.\n"
            f"Agent: I'm sorry, {agent}, let me fix that.\n", encoding="utf-8")  # two calls, not one
        assert main(["score", str(tmp_path / name), "--db", db, "--agent", agent]) == 0
    out = tmp_path / "out"
    assert main(["report", "--all", "-o", str(out), "--db", db]) == 0
    written = sorted(p.name for p in out.iterdir())
    assert written == ["agent-foo.html", "agent-nina.html", "index.html"]
    assert "$\\foo{$" in (out / "agent-foo.html").read_text()


def test_terminal_control_characters_never_reach_html_markdown_or_csv(tmp_path, monkeypatch, capsys):
    """Issue 16, item 9: an escape sequence in a file or agent name ("\\x1b[2J" clears a terminal
    that shows the file) reached HTML and Markdown reports and CSV exports as it was."""
    from callqa.cli import main

    monkeypatch.setenv("CALLQA_CACHE_DIR", str(tmp_path / "cache"))
    db = str(tmp_path / "c.db")
    call = tmp_path / "x\x1b[2Jcall\x9b1m.txt"
    call.write_text("Agent: Hello, how can I help?\nCustomer: My bill is wrong.\nAgent: I don't know.\n",
                    encoding="utf-8")
    assert main(["score", str(call), "--db", db, "--agent", "eve\x1b]0;owned\x07"]) == 0
    written = {}
    for fmt in ("html", "md"):
        written[fmt] = tmp_path / f"eve.{fmt}"
        assert main(["report", "eve\x1b]0;owned\x07", "--db", db, "--format", fmt, "-o", str(written[fmt])]) == 0
    written["all"] = tmp_path / "all"
    assert main(["report", "--all", "-o", str(written["all"]), "--db", db]) == 0
    written["csv"] = tmp_path / "calls.csv"
    assert main(["export", "--db", db, "-o", str(written["csv"])]) == 0
    capsys.readouterr()
    assert main(["agents", "--db", db, "--format", "csv"]) == 0
    texts = {"agents.csv": capsys.readouterr().out}
    texts |= {p.name: p.read_text(encoding="utf-8") for path in written.values()
              for p in ([path] if path.is_file() else path.iterdir())}
    for name, text in texts.items():
        assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", text.replace("\r\n", "\n")), name  # CSV rows end CRLF
    assert "eve?]0;owned?" in texts["eve.html"] and "x?[2Jcall?1m.txt" in texts["eve.md"]
    assert "x?[2Jcall?1m.txt" in texts["calls.csv"] and "eve?]0;owned?" in texts["agents.csv"]


def test_reports_replace_a_planted_symlink_instead_of_writing_through_it(sample_db, tmp_path):
    """Issue 16, item 11: a link planted at out/agent-alice.html made `report --all -o out`
    overwrite the link's target; the report now replaces the link itself."""
    target = tmp_path / "precious.txt"
    target.write_text("keep me", encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    (out / "agent-alice.html").symlink_to(target)
    (tmp_path / "bob.md").symlink_to(target)
    assert _cli(["report", "--all", "-o", str(out), "--db", sample_db]) == 0
    assert _cli(["report", "bob", "--format", "md", "-o", str(tmp_path / "bob.md"), "--db", sample_db]) == 0
    assert target.read_text(encoding="utf-8") == "keep me"
    for path in (out / "agent-alice.html", tmp_path / "bob.md"):
        assert not path.is_symlink() and "Coaching report · " in path.read_text(encoding="utf-8")
    assert sorted(p.name for p in out.iterdir()) == ["agent-alice.html", "agent-bob.html", "agent-carmen.html",
                                                       "index.html"]  # no temporary file left behind
