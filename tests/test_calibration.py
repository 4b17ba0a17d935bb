"""Blind review and calibration sessions (issue 19): answers stored apart and replaced, an
assignment done once every criterion is answered, a stratified sample that is reproducible, the
comparison with the machine, and what the agreement statistics read (``blind_ratings``)."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from pg import postgres_url, reset_database  # noqa: F401  (postgres_url is a fixture)

from callqa import services, storage
from callqa.records import Flag
from callqa.rubric.flags import CriterionResult
from callqa.scoring import CallScore
from callqa.services import calibration, review
from callqa.services.calibration import CalibrationError
from callqa.transcript import Segment, Transcript
from callqa.workspace import Workspace

#: criterion → section; "greeting.opening" passes on most calls, "empathy.apology_without_action"
#: (a problem) is found on few
CRITERIA = {"greeting.opening": "greeting", "greeting.agent_name": "greeting", "empathy.apology": "empathy",
            "empathy.apology_without_action": "empathy"}


def store_call(session, n: int, agent: str, statuses: dict[str, str], score: float, file: str | None = None) -> int:
    """One stored call with these criterion statuses (and a flag for each negative one)."""
    segments = (Segment("agent", 0.0, 3.0, f"Hello, this is {agent}."),
                Segment("customer", 3.0, 6.0, "My bill is wrong."),
                Segment("agent", 6.0, 9.0, "I'm sorry, there is nothing I can do."))
    transcript = Transcript(file=file or f"{agent}_{n}.txt", duration=9.0, engine="import", model="text",
                            segments=segments, roles="labels")
    flags = tuple(Flag(c, c.split(".")[0], "negative", "major", "agent", 6.0, 9.0, "nothing I can do",
                       "no action followed the apology")
                  for c, s in statuses.items() if s == "fail")
    criteria = tuple(CriterionResult(c, c.split(".")[0], CRITERIA[c], s, 1.0, False,
                                     tuple(f for f in flags if f.criterion == c)) for c, s in statuses.items())
    result = CallScore(score, score, {"greeting": score, "empathy": score}, criteria, flags, (), "default", "1",
                       section_weights={"greeting": 1.0, "empathy": 1.0})
    return storage.save_scored_call(session, transcript, result, agent=agent,
                                    call_date=datetime(2026, 11, 1, tzinfo=UTC) + timedelta(days=n),
                                    content_hash=f"{n:064x}", rubric_id="default", rubric_hash="r1")


@pytest.fixture(params=["sqlite", "postgresql"])
def ws(request, tmp_path):
    if request.param == "sqlite":
        return build(f"sqlite:///{tmp_path / 'c.db'}")
    url = request.getfixturevalue("postgres_url")
    reset_database(url)
    services.open_database.cache_clear()  # an engine migrated before the reset is stale
    return build(url)


@pytest.fixture
def lite(tmp_path):
    return build(f"sqlite:///{tmp_path / 'c.db'}")


def build(url: str) -> Workspace:
    """30 calls of three agents over a spread of scores; empathy.apology_without_action fails on
    calls 7 and 22 only, greeting.agent_name on every fifth call."""
    ws = Workspace(db=url)
    with services.session_for(ws.db) as session:
        for n in range(30):
            statuses = {"greeting.opening": "pass", "greeting.agent_name": "fail" if n % 5 == 0 else "pass",
                        "empathy.apology": "na" if n % 3 == 0 else "pass",
                        "empathy.apology_without_action": "fail" if n in (7, 22) else "pass"}
            store_call(session, n, ("ana", "bo", "cy")[n % 3], statuses, 40.0 + 2 * n)
    return ws


def _all(call_id: int, answer: str = "yes") -> dict[str, str]:
    return {c: answer for c in CRITERIA}


def test_an_answer_again_replaces_the_first_and_is_kept_apart_from_reviews(ws):
    with services.session_for(ws.db) as session:
        calibration.record_answer(session, 1, "ana", "greeting.opening", "no")
        out = calibration.record_answer(session, 1, "ana", "greeting.opening", "y")
        assert out.answers == {"greeting.opening": "yes"} and not out.done
        assert len(out.remaining) == 3
        ratings = calibration.blind_ratings(session)
        assert [(r.call_id, r.criterion, r.reviewer, r.answer, r.rubric_hash) for r in ratings.answers] == [
            (1, "greeting.opening", "ana", "yes", "r1")]
        call = review.get_call(session, 1)
        assert call.reviews == () and call.call.review_status == "unreviewed"


def test_yaml_booleans_and_spelled_answers_are_read(ws):
    with services.session_for(ws.db) as session:
        out = calibration.record_answers(session, 2, "ana", {"greeting.opening": True, "greeting.agent_name": False,
                                                             "empathy.apology": "N-A",
                                                             "empathy.apology_without_action": "Yes"})
    assert out.done and out.answers == {"greeting.opening": "yes", "greeting.agent_name": "no",
                                        "empathy.apology": "na", "empathy.apology_without_action": "yes"}


def test_an_unknown_criterion_or_answer_stores_nothing_and_says_what_was_meant(ws):
    with services.session_for(ws.db) as session:
        with pytest.raises(CalibrationError, match=r"answers.yaml: unknown criterion 'greeting.openin' for call 3; "
                                                   r"did you mean 'greeting.opening'\?"):
            calibration.record_answers(session, 3, "ana", {"greeting.agent_name": "no", "greeting.openin": "yes"},
                                       source="answers.yaml")
        with pytest.raises(CalibrationError, match="empathy.apology: 'maybe' is not an answer"):
            calibration.record_answers(session, 3, "ana", {"empathy.apology": "maybe"})
        with pytest.raises(CalibrationError, match="no stored call 999"):
            calibration.record_answers(session, 999, "ana", {"greeting.opening": "yes"})
        assert calibration.answers_of(session, 3, "ana") == {}


def test_an_assignment_is_done_when_every_criterion_is_answered(ws):
    with services.session_for(ws.db) as session:
        drawn = calibration.assign(session, "nov", ["ana", "ben"], calls=4, seed=7)
        first = calibration.next_call(session, "ana", "nov")
        assert first == sorted(drawn.call_ids)[0]
        answers = _all(first)
        last = answers.pop("empathy.apology")
        calibration.record_answers(session, first, "ana", answers)
        assert calibration.next_call(session, "ana") == first  # one criterion left
        assert [(p.reviewer, p.done, p.assigned) for p in calibration.progress(session, "nov")] == [
            ("ana", 0, 4), ("ben", 0, 4)]
        assert calibration.record_answer(session, first, "ana", "empathy.apology", last).done
        assert [(p.reviewer, p.done, p.assigned) for p in calibration.progress(session, "nov")] == [
            ("ana", 1, 4), ("ben", 0, 4)]
        assert calibration.next_call(session, "ana") == sorted(drawn.call_ids)[1]
        assert calibration.next_call(session, "ben") == first
        assert {r.session for r in calibration.blind_ratings(session).answers} == {"nov"}


def test_the_sample_is_stratified_and_reproducible(ws):
    with services.session_for(ws.db) as session:
        a = calibration.assign(session, "a", ["ana"], calls=9, seed=3)
        b = calibration.assign(session, "b", ["ana"], calls=9, seed=3)
        c = calibration.assign(session, "c", ["ana"], calls=9, seed=4)
        stored = {s.name: s for s in calibration.sessions(session)}
        calls = review.calls_page(session, review.CallFilters(), limit=100).rows
    assert a.call_ids == b.call_ids and a.call_ids != c.call_ids
    assert stored["a"].seed == 3 and stored["a"].calls == 9 and stored["a"].reviewers == ("ana",)
    agents = {x.id: x.agent for x in calls}
    scores = {x.id: x.score for x in calls}
    # every agent, and every third of the scores, is in the sample
    assert {agents[i] for i in a.call_ids} == {"ana", "bo", "cy"}
    low, high = calibration.score_bands(list(scores.values()))
    assert any(scores[i] < low for i in a.call_ids) and any(scores[i] >= high for i in a.call_ids)
    # the rare failure of a criterion is in it: the machine's answer is not one value throughout
    assert {8, 23} & set(a.call_ids)  # call ids are 1-based: calls 7 and 22
    assert sum(a.strata.values()) == 9


def test_assign_refuses_a_taken_name_too_few_calls_and_no_reviewers(ws):
    with services.session_for(ws.db) as session:
        calibration.assign(session, "nov", ["ana"], calls=3, seed=1)
        with pytest.raises(CalibrationError, match="a calibration session named 'nov' exists"):
            calibration.assign(session, "nov", ["ana"], calls=3)
        with pytest.raises(CalibrationError, match="asked for 31 calls but there are 30 .* --calls 30 or fewer"):
            calibration.assign(session, "dec", ["ana"], calls=31)
        with pytest.raises(CalibrationError, match="asked for 11 calls of agent 'bo' but there are 10"):
            calibration.assign(session, "dec", ["ana"], calls=11, agent="bo")
        with pytest.raises(CalibrationError, match="name the reviewers"):
            calibration.assign(session, "dec", [" ", ""], calls=3)
        drawn = calibration.assign(session, None, ["ana"], calls=2, agent="bo")
        assert drawn.name.startswith("calibration-") and drawn.seed is not None
        assert {review.get_call(session, i).call.agent for i in drawn.call_ids} == {"bo"}
        with pytest.raises(CalibrationError, match="no calibration session named 'nob'; did you mean 'nov'"):
            calibration.progress(session, "nob")


def test_the_comparison_shows_the_machines_answer_and_its_flags(ws):
    with services.session_for(ws.db) as session:
        calibration.record_answers(session, 8, "ana", _all(8))
        rows = {r.question.criterion: r for r in calibration.comparison(session, 8, "ana")}
    assert rows["empathy.apology_without_action"].machine == "no"
    assert not rows["empathy.apology_without_action"].agree
    assert [f.text for f in rows["empathy.apology_without_action"].flags] == ["nothing I can do"]
    assert rows["greeting.opening"].machine == "yes" and rows["greeting.opening"].agree
    assert rows["greeting.opening"].flags == ()


def test_blind_ratings_hand_the_machines_answers_for_the_same_calls_and_filters(ws):
    with services.session_for(ws.db) as session:
        drawn = calibration.assign(session, "nov", ["ana", "ben"], calls=3, seed=1)
        x = sorted(drawn.call_ids)[0]
        outside = next(i for i in (1, 6, 11, 16) if i not in drawn.call_ids)  # greeting.agent_name fails
        calibration.record_answers(session, x, "ana", _all(x))
        calibration.record_answers(session, x, "ben", _all(x, "no"))
        calibration.record_answers(session, outside, "ben", {"greeting.agent_name": "no"})
        everything = calibration.blind_ratings(session)
        assert everything.reviewers == ("ana", "ben")
        assert len(everything.answers) == 9
        statuses = review.get_call(session, x)
        machine = {(m.call_id, m.criterion): m.answer for m in everything.machine}
        assert set(machine) == {(x, c) for c in CRITERIA} | {(outside, "greeting.agent_name")}
        assert machine[(outside, "greeting.agent_name")] == "no"
        assert machine[(x, "greeting.opening")] == "yes"
        assert {m.rubric_hash for m in everything.machine} == {"r1"} and statuses is not None
        assert calibration.blind_ratings(session, rubric_hash="other").answers == ()
        assert calibration.blind_ratings(session, rubric_hash="r1").answers == everything.answers
        assert calibration.blind_ratings(session, since=datetime.now(UTC) + timedelta(days=1)).answers == ()
        in_session = calibration.blind_ratings(session, session_name="nov")
        assert {(r.call_id, r.session) for r in in_session.answers} == {(x, "nov")}
        assert {m.call_id for m in in_session.machine} == {x}


# --------------------------------------------------------------------------- the command line


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    from callqa.cli import main

    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, " ".join(err.split())  # the console wraps long messages


def test_calibrate_assign_and_status_on_the_command_line(lite, capsys):
    db = lite.db
    code, out, _ = _run(capsys, "calibrate", "assign", "--reviewers", "ana, ben", "--calls", "6", "--seed", "2",
                        "--name", "nov", "--db", db, "--format", "json")
    drawn = json.loads(out)
    assert code == 0 and drawn["name"] == "nov" and drawn["seed"] == 2 and drawn["reviewers"] == ["ana", "ben"]
    assert len(drawn["calls"]) == 6 and sum(s["calls"] for s in drawn["strata"]) == 6
    code, out, _ = _run(capsys, "calibrate", "assign", "--reviewers", "cy", "--calls", "6", "--seed", "2",
                        "--name", "dec", "--db", db, "--format", "json")
    assert json.loads(out)["calls"] == drawn["calls"]  # the same seed draws the same calls
    code, _, err = _run(capsys, "calibrate", "assign", "--reviewers", "cy", "--calls", "6", "--name", "nov", "--db", db)
    assert code == 2 and "a calibration session named 'nov' exists" in err
    code, _, err = _run(capsys, "calibrate", "assign", "--reviewers", "cy", "--calls", "40", "--db", db)
    assert code == 2 and "there are 30" in err and "--calls 30 or fewer" in err

    with services.session_for(db) as session:
        calibration.record_answers(session, drawn["calls"][0], "ben", _all(0))
    code, out, _ = _run(capsys, "calibrate", "status", "--name", "nov", "--db", db, "--format", "json")
    assert code == 0 and json.loads(out) == [{"session": "nov", "reviewer": "ana", "done": 0, "assigned": 6},
                                             {"session": "nov", "reviewer": "ben", "done": 1, "assigned": 6}]
    code, out, _ = _run(capsys, "calibrate", "status", "--db", db)
    assert code == 0 and "dec" in out and "nov" in out and "ben" in out


def test_review_blind_with_an_answers_file(lite, capsys, tmp_path):
    db = lite.db
    typo = tmp_path / "typo.yaml"
    typo.write_text("greeting.openin: yes\n", encoding="utf-8")
    code, _, err = _run(capsys, "review", "8", "--blind", "--reviewer", "ana", "--answers", str(typo), "--db", db)
    assert code == 2 and "typo.yaml: unknown criterion 'greeting.openin'" in err and "'greeting.opening'" in err

    first = tmp_path / "first.yaml"  # YAML reads yes / no as booleans: taken as answers
    first.write_text("greeting.opening: yes\ngreeting.agent_name: no\nempathy.apology: n/a\n", encoding="utf-8")
    code, out, _ = _run(capsys, "review", "8", "--blind", "--reviewer", "ana", "--answers", str(first), "--db", db,
                        "--format", "json")
    partial = json.loads(out)
    assert code == 1 and not partial["done"] and partial["remaining"] == ["empathy.apology_without_action"]
    assert partial["comparison"] == []  # nothing of the machine's before every answer is in

    last = tmp_path / "last.json"
    last.write_text('{"empathy.apology_without_action": "yes"}', encoding="utf-8")
    code, out, _ = _run(capsys, "review", "8", "--blind", "--reviewer", "ana", "--answers", str(last), "--db", db,
                        "--format", "json")
    done = json.loads(out)
    rows = {r["criterion"]: r for r in done["comparison"]}
    assert code == 0 and done["done"] and done["remaining"] == []
    assert rows["empathy.apology_without_action"]["machine"] == "no" and not rows["empathy.apology_without_action"]["agree"]
    assert [f["text"] for f in rows["empathy.apology_without_action"]["flags"]] == ["nothing I can do"]
    assert rows["greeting.agent_name"] == {"criterion": "greeting.agent_name", "question": "The agent gives their name",
                                           "reviewer": "no", "machine": "yes", "agree": False, "flags": []}

    code, out, _ = _run(capsys, "review", "8", "--blind", "--reviewer", "ana", "--answers", str(last), "--db", db)
    assert code == 0 and "differ" in out and "nothing I can do" in out and "agreed on 1 of 4 criteria" in out


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_review_blind_asks_on_a_terminal(lite, capsys, monkeypatch):
    # asked in the rubric's order: greeting.opening, greeting.agent_name, empathy.apology, empathy.apology_without_action
    monkeypatch.setattr("sys.stdin", _Terminal("y\nmaybe\nn\na\nyes\n"))
    code, out, err = _run(capsys, "review", "8", "--blind", "--reviewer", "ana", "--db", lite.db)
    assert code == 0 and "'maybe' is not an answer" in err and "agreed on" in out
    with services.session_for(lite.db) as session:
        assert calibration.answers_of(session, 8, "ana") == {
            "greeting.opening": "yes", "greeting.agent_name": "no", "empathy.apology": "na",
            "empathy.apology_without_action": "yes"}


def test_review_without_blind_or_answers_off_a_terminal_is_refused(lite, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    code, _, err = _run(capsys, "review", "8", "--reviewer", "ana", "--db", lite.db)
    assert code == 2 and "--blind" in err
    code, _, err = _run(capsys, "review", "8", "--blind", "--reviewer", "ana", "--db", lite.db)
    assert code == 2 and "--answers FILE" in err


# --------------------------------------------------------------------------- the terminal UI


def _shown(screen) -> str:
    """Everything the screen's widgets show, runs of spaces as one."""
    from textual.geometry import Region
    from textual.widgets import Static

    parts = []
    for widget in screen.query(Static):
        width, height = widget.size
        parts.append(" ".join(s.text for s in widget.render_lines(Region(0, 0, width, height))))
    return " ".join(" ".join(parts).split())


async def _until(pilot, check, what: str, tries: int = 200):
    for _ in range(tries):
        await pilot.pause(0.05)
        if check():
            return
    raise AssertionError(f"timed out waiting for {what}")


async def test_the_blind_call_screen_hides_the_machines_verdicts_until_every_answer_is_in(lite):
    from callqa.tui.app import CallQAApp
    from callqa.tui.screens.blind import BlindCallScreen, BlindListScreen

    with services.session_for(lite.db) as session:
        drawn = calibration.assign(session, "nov", ["ana", "ben"], calls=3, seed=1)
        calibration.record_answers(session, sorted(drawn.call_ids)[1], "ana", _all(0))  # one done already
        machine_score = review.get_call(session, 8).call.score
    target = 8  # empathy.apology_without_action fails on it, with a flag
    with services.session_for(lite.db) as session:
        if target not in drawn.call_ids:
            calibration.record_answers(session, target, "ana", {})
    app = CallQAApp(lite, reviewer="ana", player=None)
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.press("6")
        await _until(pilot, lambda: isinstance(app.screen, BlindListScreen) and app.screen.loaded, "the list")
        text = _shown(app.screen)
        assert "nov ana 1/3" in text and "nov ben 0/3" in text
        app.push_screen(BlindCallScreen(target))
        await _until(pilot, lambda: bool(getattr(app.screen, "questions", None)), "the criteria")
        screen = app.screen
        before = _shown(screen)
        assert "Criterion 1 of 4" in before and "Opens the call with a greeting" in before
        for hidden in ("“nothing", "· machine", "≠", f"{machine_score:.1f}"):
            assert hidden not in before
        for key in ("y", "n", "a"):
            await pilot.press(key)
        assert screen.comparison is None and "≠" not in _shown(screen)
        await pilot.press("y")
        await _until(pilot, lambda: screen.comparison is not None, "the comparison")
        await pilot.pause(0.1)
        after = _shown(screen)
        assert "“nothing" in after and "≠" in after and "agree on 1" in after
    with services.session_for(lite.db) as session:
        assert calibration.answers_of(session, target, "ana") == {
            "greeting.opening": "yes", "greeting.agent_name": "no", "empathy.apology": "na",
            "empathy.apology_without_action": "yes"}


def test_the_help_screen_lists_the_blind_review_keys():
    from rich.console import Console

    from callqa.tui.screens.help import keys_table

    console = Console(width=120, record=True)
    console.print(keys_table())
    text = " ".join(console.export_text().split())
    for what in ("Blind review", "} Open the first assigned call not answered yet", "Blind call",
                 "y Yes: the call meets the criterion", "n No: the call does not meet it",
                 "a N-A: the criterion does not apply", "[ Previous criterion (answering again replaces the answer)",
                 "space / l Play the selected line"):
        assert what in text


def test_a_small_sample_still_holds_every_agent(tmp_path):
    """Twenty calls of ana, three each of bo and cy: four calls hold all three agents."""
    db = f"sqlite:///{tmp_path / 'uneven.db'}"
    with services.session_for(db) as session:
        for n in range(26):
            agent = "ana" if n < 20 else "bo" if n < 23 else "cy"
            store_call(session, n, agent, {"greeting.opening": "pass"}, 30.0 + 2.5 * n)
        for seed in range(5):
            drawn = calibration.assign(session, f"s{seed}", ["ana"], calls=4, seed=seed)
            assert {review.get_call(session, i).call.agent for i in drawn.call_ids} == {"ana", "bo", "cy"}


async def test_blind_keys_with_nothing_assigned_or_no_such_call_say_so(lite):
    from textual.binding import Binding

    from callqa.tui.app import CallQAApp
    from callqa.tui.screens.blind import BlindCallScreen, BlindListScreen

    app = CallQAApp(lite, reviewer="ana", player=None)
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.press("6")
        await _until(pilot, lambda: isinstance(app.screen, BlindListScreen) and app.screen.loaded, "the list")
        assert "no calls are assigned to ana" in _shown(app.screen)
        for key in ("enter", "right_curly_bracket"):
            await pilot.press(key)
            await pilot.pause(0.1)
        app.push_screen(BlindCallScreen(12345))
        await pilot.pause(0.5)
        for binding in Binding.make_bindings(BlindCallScreen.BINDINGS):
            if binding.key != "escape":
                await pilot.press(binding.key)
                await pilot.pause(0.05)
        said = " ".join(str(n.message) for n in app._notifications)
        assert "no call is assigned to you" in said and "no stored call 12345" in said
        assert isinstance(app.screen, BlindCallScreen)


async def test_the_blind_call_screen_plays_the_selected_line(tmp_path):
    """A stand-in player (a script) receives a wav of the selected line, padded as on the call screen."""
    import stat
    import wave

    import numpy as np
    from conftest import tone, write_audio

    from callqa.tui import player as player_mod
    from callqa.tui.app import CallQAApp
    from callqa.tui.screens.blind import BlindCallScreen

    recording = write_audio(tmp_path / "call.wav", np.stack([tone(9.0, 16000)]), 16000)
    db = f"sqlite:///{tmp_path / 'p.db'}"
    with services.session_for(db) as session:
        call_id = store_call(session, 1, "ana", {"greeting.opening": "pass"}, 80.0, file=str(recording))
    copy, script = tmp_path / "received.wav", tmp_path / "fakeplay"
    script.write_text(f"#!/bin/sh\ncp \"$1\" {copy}\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    app = CallQAApp(Workspace(db=db), reviewer="ana", player=player_mod.Player("fakeplay", str(script)))
    async with app.run_test(size=(160, 50)) as pilot:
        app.push_screen(BlindCallScreen(call_id))
        await _until(pilot, lambda: bool(getattr(app.screen, "questions", None)), "the criteria")
        app.screen.query_one("#transcript").select_segment(1)  # the customer's line, 3.0-6.0 s
        await pilot.press("l")
        await _until(pilot, copy.exists, "the player")
        await pilot.pause(0.2)
    with wave.open(str(copy)) as w:
        assert w.getnframes() / w.getframerate() == pytest.approx(3.0 + 2 * player_mod.PAD_S, abs=0.05)
