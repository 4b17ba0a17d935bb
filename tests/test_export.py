"""`callqa export` for a BI tool: filters, section scores (machine and after reviews), reviews and
comments, a versioned column list, and cells a spreadsheet will not run as formulas."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import sqlite3

import pytest

from callqa import services
from callqa.services import review
from callqa.cli import EXIT_ERROR, main
from callqa.workspace import Workspace

GOOD = """\
Agent: Thank you for calling Northwind Energy, my name is Dana. How can I help you today?
Customer: My bill doubled this month and I don't understand why.
Agent: I'm sorry about that, I can see why that's worrying. Let me look into it for you right now.
Agent: The reading was estimated. I'll correct it and you'll get a new bill by Friday.
Customer: Great, thank you.
Agent: Is there anything else I can help you with today? Thanks for calling, have a good day.
"""
POOR = """\
Agent: Yeah.
Customer: My bill doubled this month and I don't understand why.
Agent: I don't know. That's not my department.
Customer: Well, who should I talk to then?
Agent: You'll have to call billing.
"""


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("export")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CALLQA_CACHE_DIR", str(tmp / "cache"))
        calls = tmp / "calls"
        calls.mkdir()
        (calls / "dana_2026-11-02_1.txt").write_text(GOOD, encoding="utf-8")
        (calls / "dana_2026-11-20_2.txt").write_text(POOR, encoding="utf-8")
        ws = Workspace(db=f"sqlite:///{tmp / 'e.db'}", name_pattern="{agent}_{date}_{id}")
        hostile = tmp / "other_2026-11-05_3.txt"
        hostile.write_text(GOOD.replace("Dana", "Sam"), encoding="utf-8")
        outcomes = services.score_paths([calls], ws).outcomes + services.score_paths([hostile], ws, agent="=HYPERLINK(1)").outcomes
        assert [o.status for o in outcomes] == ["scored"] * 3
        yield ws


def _export(ws, capsys, *args: str) -> str:
    capsys.readouterr()
    assert main(["export", "--db", ws.db, *args]) == 0
    return capsys.readouterr().out


def _json(ws, capsys, *args: str) -> list[dict]:
    return [json.loads(line) for line in _export(ws, capsys, "--format", "json", *args).splitlines()]


def test_filters_select_calls_by_agent_date_and_score(db, capsys):
    everything = _json(db, capsys)
    assert len(everything) == 3 and {r["export_version"] for r in everything} == {3}
    # version 3: the rubric's content hash is `rubric_hash`; `rubric_version` (which held it) is gone
    assert {r["rubric_hash"] for r in everything} == {services.rubric_hash(services.load_rubric(None))}
    assert not any("rubric_version" in r for r in everything)
    assert {r["agent"] for r in _json(db, capsys, "--agent", "dana")} == {"dana"}
    assert [r["call_date"] for r in _json(db, capsys, "--agent", "dana", "--from", "2026-11-10")] == ["2026-11-20"]
    assert [r["call_date"] for r in _json(db, capsys, "--to", "2026-11-02")] == ["2026-11-02"]
    poor = min(everything, key=lambda r: r["score"])
    assert [r["call_id"] for r in _json(db, capsys, "--max-score", str(poor["score"]))] == [poor["call_id"]]
    assert poor["call_id"] not in {r["call_id"] for r in _json(db, capsys, "--min-score", str(poor["score"] + 0.1))}
    assert _json(db, capsys, "--rubric-id", "no-such-rubric") == []
    assert len(_json(db, capsys, "--rubric-id", everything[0]["rubric_id"])) == 3


def test_a_reversed_date_range_is_an_error(db, capsys):
    assert main(["export", "--db", db.db, "--from", "2026-12-01", "--to", "2026-11-01"]) == EXIT_ERROR
    assert "--from 2026-12-01 is after --to 2026-11-01" in capsys.readouterr().err


def test_sections_reviews_and_comments_are_exported(db, capsys, tmp_path):
    with sqlite3.connect(db.db.removeprefix("sqlite:///")) as src, sqlite3.connect(tmp_path / "copy.db") as dst:
        src.backup(dst)  # reviews go to a copy: the other tests keep theirs unreviewed
    db = dataclasses.replace(db, db=f"sqlite:///{tmp_path / 'copy.db'}")
    poor = min(_json(db, capsys, "--agent", "dana"), key=lambda r: r["score"])
    with services.session_for(db.db) as session:
        call = review.get_call(session, poor["call_id"])
        fault = next(f for f in call.flags if f.polarity == "negative" and f.text and "know" in f.text.lower())
        review.decide_flag(session, call.call.id, fault.id, accept=False, reviewer="ana")
        review.comment(session, call.call.id, "Coach on owning the transfer", reviewer="ana")
    [row] = [r for r in _json(db, capsys, "--agent", "dana") if r["call_id"] == poor["call_id"]]
    assert [(r["kind"], r["reviewer"]) for r in row["reviews"]] == [("reject", "ana"), ("comment", "ana")]
    assert row["reviews"][0]["criterion"] == fault.criterion
    section = row["sections"][fault.criterion.split(".")[0]]
    assert section["reviewed"] > section["machine"]  # the rejected fault no longer counts
    assert row["score"] > row["machine_score"]

    table = list(csv.DictReader(io.StringIO(_export(db, capsys, "--agent", "dana"))))
    mine = [r for r in table if r["call_id"] == str(poor["call_id"])]
    assert {r["comments"] for r in mine} == {"Coach on owning the transfer"}
    assert {r["reviews"] for r in mine} == {"2"}
    assert {r["export_version"] for r in table} == {"3"}
    sections = [k for k in table[0] if k.startswith("section:")]
    assert sections[:2] == ["section:greeting", "section:rapport"]  # the rubric's order
    assert float(mine[0][f"section:{fault.criterion.split('.')[0]}"]) == pytest.approx(section["reviewed"], abs=0.05)


def test_csv_cells_are_never_formulas(db, capsys):
    rows = list(csv.reader(io.StringIO(_export(db, capsys))))
    agents = {r[rows[0].index("agent")] for r in rows[1:]}
    assert agents == {"dana", "'=HYPERLINK(1)"}
    agents_csv = _run_agents(db, capsys)
    assert "'=HYPERLINK(1)" in agents_csv and "\n=HYPERLINK" not in agents_csv


def _run_agents(ws, capsys) -> str:
    capsys.readouterr()
    assert main(["agents", "--db", ws.db, "--format", "csv"]) == 0
    return capsys.readouterr().out


def test_suggestions_are_said_as_this_agent_and_company_would(tmp_path, monkeypatch):
    """'My name is Alice' on Bob's call was a fixed string; now the rubric says {agent}, {company}."""
    monkeypatch.setenv("CALLQA_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "bob_2026-11-02_1.txt").write_text(POOR, encoding="utf-8")
    (tmp_path / "nobody.txt").write_text(POOR.replace("Yeah.", "Hm."), encoding="utf-8")
    ws = Workspace(db=f"sqlite:///{tmp_path / 's.db'}", name_pattern="{agent}_{date}_{id}", company="Acme Water")
    outcomes = services.score_paths([tmp_path / "bob_2026-11-02_1.txt", tmp_path / "nobody.txt"], ws).outcomes
    bob, nobody = sorted(outcomes, key=lambda o: o.agent != "bob")
    assert (bob.agent, nobody.agent) == ("bob", "unassigned")
    with services.session_for(ws.db) as session:
        said = {f.criterion: f.suggestion for f in review.get_call(session, bob.call_id).flags}
        stand_in = {f.criterion: f.suggestion for f in review.get_call(session, nobody.call_id).flags}
    assert said["greeting.agent_name"] == 'Introduce yourself: "My name is Bob."'
    assert "thank you for calling Acme Water, my name is Bob" in said["greeting.opening"]
    assert stand_in["greeting.agent_name"] == 'Introduce yourself: "My name is [your name]."'
    assert not any("{" in s for s in said.values())


def test_export_replaces_a_planted_symlink_instead_of_writing_through_it(db, tmp_path, capsys):
    """Issue 16, item 11: `export -o` wrote through a link at its destination; now the link itself
    is replaced, atomically."""
    target = tmp_path / "precious.txt"
    target.write_text("keep me", encoding="utf-8")
    (tmp_path / "calls.csv").symlink_to(target)
    assert main(["export", "--db", db.db, "-o", str(tmp_path / "calls.csv")]) == 0
    assert target.read_text(encoding="utf-8") == "keep me"
    assert not (tmp_path / "calls.csv").is_symlink()
    assert (tmp_path / "calls.csv").read_text(encoding="utf-8").startswith("export_version,")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["calls.csv", "precious.txt"]
