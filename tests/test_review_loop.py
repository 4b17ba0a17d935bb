"""The review loop closes: a reviewer's decision on a flag changes the call's reviewed score, by
the same formula as the machine's, and the TUI, the reports, the agents' averages and the export
all show it beside the machine's."""

from __future__ import annotations

import json

import pytest

from callqa import services
from callqa.services import review
from callqa.cli import main
from callqa.workspace import Workspace

CALL = """\
Agent: Thank you for calling Northwind Energy, my name is Dana. How can I help you today?
Customer: My bill doubled this month and I don't understand why.
Agent: I don't know. That's not my department.
Customer: Well, who should I talk to then?
Agent: I'm sorry about the confusion. Let me look into it for you right now.
Agent: I can see a meter reading was estimated. I'll correct it and you'll get a new bill by Friday.
Customer: Great, thank you.
Agent: Is there anything else I can help you with today? Thanks for calling, have a good day.
"""


@pytest.fixture
def scored(tmp_path, monkeypatch):
    monkeypatch.setenv("CALLQA_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "calls").mkdir()
    (tmp_path / "calls" / "dana_2026-12-01_1.txt").write_text(CALL, encoding="utf-8")
    ws = Workspace(db=f"sqlite:///{tmp_path / 'r.db'}", name_pattern="{agent}_{date}_{id}")
    [outcome] = services.score_paths([tmp_path / "calls"], ws).outcomes
    assert outcome.status == "scored"
    return ws, outcome.call_id


def _call(ws, call_id):
    with services.session_for(ws.db) as session:
        return review.get_call(session, call_id)


def _decide(ws, call_id, flag_id, accept):
    with services.session_for(ws.db) as session:
        review.decide_flag(session, call_id, flag_id, accept=accept, reviewer="ana")
    return _call(ws, call_id)


def test_rejecting_a_fault_raises_the_reviewed_score_and_accepting_it_again_restores_it(scored):
    ws, call_id = scored
    call = _call(ws, call_id)
    machine = call.call.machine_score
    assert call.call.score == machine < 100
    fault = next(f for f in call.flags if f.polarity == "negative" and f.text and "know" in f.text.lower())
    after = _decide(ws, call_id, fault.id, accept=False)
    assert after.call.score > machine and after.call.machine_score == machine
    section = next(s for s in after.sections if s.override is not None)
    assert section.final > section.score  # the fault's section scores again without it
    assert _decide(ws, call_id, fault.id, accept=True).call.score == machine


def test_rejecting_a_credit_lowers_the_reviewed_score(scored):
    ws, call_id = scored
    call = _call(ws, call_id)
    credit = next(f for f in call.flags if f.polarity == "positive" and f.criterion.startswith("empathy"))
    assert _decide(ws, call_id, credit.id, accept=False).call.score < call.call.machine_score


def test_the_reviewed_score_reaches_agents_export_and_report(scored, tmp_path, capsys):
    ws, call_id = scored
    call = _call(ws, call_id)
    fault = next(f for f in call.flags if f.polarity == "negative" and f.text)
    reviewed = _decide(ws, call_id, fault.id, accept=False).call.score
    assert reviewed != call.call.machine_score
    [dana] = services.agent_summaries(ws)
    assert dana.score == pytest.approx(reviewed)
    [row] = services.export_calls(ws)
    assert (row["score"], row["machine_score"]) == (pytest.approx(reviewed), call.call.machine_score)
    assert main(["report", "dana", "--db", ws.db, "--format", "json", "-o", str(tmp_path / "d.json")]) == 0
    assert json.loads((tmp_path / "d.json").read_text())["score"] == pytest.approx(reviewed)
    # a rescore keeps the review and the reviewed score
    assert main(["score", str(tmp_path / "calls"), "--db", ws.db, "--rescore"]) == 0
    assert _call(ws, call_id).call.score == pytest.approx(reviewed)


async def test_the_tui_shows_the_reviewed_score_beside_the_machines(scored):
    from callqa.tui.app import CallQAApp

    ws, call_id = scored
    call = _call(ws, call_id)
    fault = next(f for f in call.flags if f.polarity == "negative" and f.text)
    reviewed = _decide(ws, call_id, fault.id, accept=False).call.score
    app = CallQAApp(ws, reviewer="ana", player=None)
    async with app.run_test(size=(160, 50)) as pilot:
        app.open_call(call_id)
        for _ in range(100):
            await pilot.pause(0.05)
            text = " ".join(str(w.render()) for w in app.screen.query("Static"))
            if "machine" in text:
                break
        assert f"{reviewed:.1f}" in text and f"(machine {call.call.machine_score:.1f})" in text


def test_the_review_queue_holds_each_agents_lowest_scoring_call(scored, tmp_path):
    ws, first = scored
    weak = CALL.replace("Let me look into it for you right now.", "Calm down.").replace(
        "I'll correct it and you'll get a new bill by Friday.", "You have to call billing.")
    (tmp_path / "calls" / "dana_2026-12-02_2.txt").write_text(weak, encoding="utf-8")
    (tmp_path / "calls" / "erin_2026-12-02_3.txt").write_text(CALL.replace("Dana", "Erin"), encoding="utf-8")
    services.score_paths([tmp_path / "calls"], ws)
    with services.session_for(ws.db) as session:
        items = review.review_queue(session, review.QueueSettings(per_agent_week=0))
    lowest = {(i.call.agent, i.call.file.rsplit("/", 1)[-1]) for i in items if "lowest score" in i.reasons}
    assert lowest == {("dana", "dana_2026-12-02_2.txt"), ("erin", "erin_2026-12-02_3.txt")}
    item = next(i for i in items if i.call.agent == "dana" and "lowest score" in i.reasons)
    assert item.call.score < _call(ws, first).call.score
    assert "lowest of its newest unreviewed calls" in item.notes["lowest score"]
