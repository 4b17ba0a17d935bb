"""The terminal UI, driven by keys (Textual Pilot) on a migrated SQLite database of the ten
sample calls (reference transcripts scored with the packaged rubric: no Whisper), plus the
review logic it shows (``callqa.services.review``) and snapshots of each screen
(pytest-textual-snapshot; ``pytest --snapshot-update`` rewrites them after a deliberate change).
"""

from __future__ import annotations

import csv
import dataclasses
import json
import shutil
import stat
import wave
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from callqa import storage
from callqa.services import review
from callqa.importers import load_transcript
from callqa.scoring import default_rubric, score_transcript
from callqa.transcript import Segment, Transcript
from callqa.tui import player as player_mod
from callqa.tui.app import CallQAApp

REPO = Path(__file__).resolve().parents[1]
REFERENCE = REPO / "samples" / "reference"
RECORDINGS = REPO / "recordings_sample"
REVIEWER = "tester"
SIZE = (120, 40)
#: the call stored with uncertain speaker roles, and the one stored as failing a critical item
UNCERTAIN = "c06_carmen_solar"
CRITICAL = "c04_bob_refund"
MARKUP_TEXT = "[bold red]not markup[/] and [link=https://x]brackets[/link] stay literal"


# --------------------------------------------------------------------------- the database


def _sample_rows() -> list[dict[str, str]]:
    with open(RECORDINGS / "calls.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def _fill(url: str) -> None:
    engine = storage.connect(url)
    storage.migrate(engine)
    rubric = default_rubric()
    with Session(engine) as session:
        for row in _sample_rows():
            stem = Path(row["file"]).stem
            t = load_transcript(REFERENCE / f"{stem}.json")
            # stored under the recording's absolute path, so that playback finds it from any folder
            t = dataclasses.replace(t, file=str(RECORDINGS / row["file"]))
            if stem == UNCERTAIN:
                t = dataclasses.replace(t, roles="diarization", role_confidence=0.6)
            result = score_transcript(t, rubric)
            if stem == CRITICAL:  # a call that failed a critical item, as the queue's first rule needs
                result = dataclasses.replace(result, critical_failed=("negative_phrasing.blame_customer",))
            storage.save_scored_call(session, t, result, agent=row["agent"],
                                     call_date=date.fromisoformat(row["date"]), content_hash=stem,
                                     rubric_id=rubric.id, rubric_hash="test")
        markup = Transcript("calls/markup.wav", 20.0, "import", "", (
            Segment("agent", 0.5, 5.0, "Thank you for calling, how can I help you today?"),
            Segment("customer", 5.5, 12.0, MARKUP_TEXT), Segment("customer", 12.5, 15.0, "I'd like to check my bill.")),
            roles="labels")
        storage.save_scored_call(session, markup, score_transcript(markup, rubric), agent="dave",
                                 call_date=date(2026, 9, 1), content_hash="markup", rubric_id=rubric.id,
                                 rubric_hash="test")
    engine.dispose()  # closes the last connection: the WAL is folded into the file


@pytest.fixture(scope="session")
def template_db(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("tui-template") / "calls.db"
    _fill(f"sqlite:///{path}")
    return path


@pytest.fixture
def db_url(template_db: Path, tmp_path: Path) -> str:
    """A fresh copy of the sample database for each test (tests write reviews)."""
    path = tmp_path / "calls.db"
    shutil.copy(template_db, path)
    return f"sqlite:///{path}"


def make_app(db_url: str, **kwargs) -> CallQAApp:
    kwargs.setdefault("player", None)
    return CallQAApp(db=db_url, reviewer=REVIEWER, **kwargs)


def read(db_url: str, fn, *args, **kwargs):
    engine = storage.connect(db_url)
    try:
        with Session(engine) as session:
            return fn(session, *args, **kwargs)
    finally:
        engine.dispose()


def all_calls(db_url: str) -> list[storage.CallSummary]:
    return read(db_url, storage.list_calls, limit=1000)


async def settle(pilot) -> None:
    """Let every worker finish (and what it handed back run), except DirectoryTree's loader, and
    every DataTable measure its rows: until nothing changed for three pauses in a row."""
    from textual.widgets import DataTable

    app = pilot.app
    quiet = 0
    for _ in range(200):
        await pilot.pause(0.01)
        running = [w for w in app.workers if w.group != "_loader" and not w.is_finished]
        if running:
            await app.workers.wait_for_complete(running)
        # DataTable sizes its columns when its message queue is idle
        pending = [t for t in app.screen.query(DataTable)
                   if t._require_update_dimensions or t._updated_cells or t._new_rows]
        quiet = 0 if running or pending else quiet + 1
        if quiet >= 3:
            break
    await pilot.pause()


def table_rows(screen, selector: str = "DataTable") -> list[list[str]]:
    from textual.widgets import DataTable

    table = screen.query_one(selector, DataTable)
    return [[str(getattr(c, "plain", c)) for c in table.get_row_at(i)] for i in range(table.row_count)]


def shown(widget) -> str:
    """The text a widget shows (all its lines as rendered, runs of spaces and line ends as one space)."""
    from textual.geometry import Region

    width, height = widget.size
    return " ".join(" ".join(strip.text for strip in widget.render_lines(Region(0, 0, width, height))).split())


def status(screen) -> str:
    return shown(screen.query_one("#status"))


def notifications(app) -> list[str]:
    return [f"{n.title} {n.message}" for n in app._notifications]


# --------------------------------------------------------------------------- calls screen


async def test_calls_screen_shows_newest_first_with_count(db_url):
    app = make_app(db_url)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        stored = all_calls(db_url)
        rows = table_rows(app.screen)
        assert len(rows) == len(stored)
        assert [int(r[0]) for r in rows] == [c.id for c in sorted(stored, key=lambda c: (c.call_date, c.id),
                                                                   reverse=True)]
        assert f"calls 1–{len(stored)} of {len(stored)}" in status(app.screen)


async def test_filter_form_filters_by_agent_and_score(db_url):
    app = make_app(db_url)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("f")
        await settle(pilot)
        await pilot.press(*"bob")
        app.screen.query_one("#score_min").value = "50"
        await pilot.press("enter")
        await settle(pilot)
        expected = [c.id for c in all_calls(db_url) if c.agent == "bob" and c.score >= 50]
        rows = table_rows(app.screen)
        assert sorted(int(r[0]) for r in rows) == sorted(expected)
        assert {r[1] for r in rows} == {"bob"}
        assert "agent=bob" in shown(app.screen.query_one("#filters"))


async def test_filter_form_rejects_a_bad_date_and_keeps_the_table(db_url):
    app = make_app(db_url)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        before = table_rows(app.screen)
        await pilot.press("f")
        await settle(pilot)
        app.screen.query_one("#date_from").value = "2026-13-40"
        await pilot.press("enter")
        await settle(pilot)
        assert "not a date" in shown(app.screen.query_one("#error"))
        await pilot.press("escape")
        await settle(pilot)
        assert table_rows(app.screen) == before


async def test_date_range_and_not_reviewed_filters(db_url):
    calls = all_calls(db_url)
    target = calls[0]
    read(db_url, review.comment, target.id, "looked at it", reviewer=REVIEWER)
    app = make_app(db_url)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("u")
        await settle(pilot)
        ids = {int(r[0]) for r in table_rows(app.screen)}
        assert target.id not in ids and len(ids) == len(calls) - 1
        await pilot.press("x", "f")
        await settle(pilot)
        app.screen.query_one("#date_from").value = "2026-10-14"
        app.screen.query_one("#date_to").value = "2026-10-28"
        await pilot.press("enter")
        await settle(pilot)
        expected = {c.id for c in calls if date(2026, 10, 14) <= c.call_date.date() <= date(2026, 10, 28)}
        assert {int(r[0]) for r in table_rows(app.screen)} == expected


async def test_search_finds_calls_by_transcript_text(db_url):
    word = "refund"
    with_word = {p.stem for p in REFERENCE.glob("*.json")
                 if any(word in s["text"].lower() for s in json.loads(p.read_text())["segments"])}
    assert with_word  # the samples talk about refunds
    app = make_app(db_url)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("slash", *word, "enter")
        await settle(pilot)
        files = {Path(r[-1]).stem for r in table_rows(app.screen)}
        assert files == with_word
        assert f'text contains "{word}"' in shown(app.screen.query_one("#filters"))


async def test_sort_by_score_and_reverse(db_url):
    app = make_app(db_url)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("s")  # date → score, lowest first
        await settle(pilot)
        scores = [float(r[4].rstrip("*")) for r in table_rows(app.screen)]
        assert scores == sorted(scores) and scores[0] < scores[-1]
        await pilot.press("r")
        await settle(pilot)
        assert [float(r[4].rstrip("*")) for r in table_rows(app.screen)] == sorted(scores, reverse=True)


async def test_pages_through_calls_without_loading_them_all(db_url, monkeypatch):
    from callqa.tui.screens import calls as calls_screen

    monkeypatch.setattr(calls_screen, "PAGE_SIZE", 4)
    total = len(all_calls(db_url))
    app = make_app(db_url)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        first = table_rows(app.screen)
        assert len(first) == 4
        await pilot.press("right_square_bracket")
        await settle(pilot)
        second = table_rows(app.screen)
        assert len(second) == 4 and not {r[0] for r in first} & {r[0] for r in second}
        assert f"calls 5–8 of {total}" in status(app.screen)
        await pilot.press("left_square_bracket")
        await settle(pilot)
        assert table_rows(app.screen) == first


# --------------------------------------------------------------------------- call screen


async def open_first_call(pilot, agent: str | None = None):
    await settle(pilot)
    if agent:
        pilot.app.screen.apply_filters(review.CallFilters(agent=agent))
        await settle(pilot)
    await pilot.press("enter")
    await settle(pilot)
    return pilot.app.screen


async def test_next_and_previous_flag_move_the_transcript(db_url):
    app = make_app(db_url)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_first_call(pilot)
        call = screen.call
        assert type(screen).__name__ == "CallScreen" and call.flags
        assert screen.flag_index == 0
        await pilot.press("n", "n", "n")
        await pilot.pause()
        assert screen.flag_index == 3
        flag = call.flags[3]
        seg = screen.query_one("#transcript").selected_segment
        assert seg == review.segment_at(call.segments, flag.start, flag.speaker)
        assert flag.criterion in shown(screen.query_one("#flag-detail"))
        await pilot.press("p")
        await pilot.pause()
        assert screen.flag_index == 2
        await pilot.press("p", "p", "p")  # wraps round to the last flag
        await pilot.pause()
        assert screen.flag_index == len(call.flags) - 1


async def test_flagged_words_are_highlighted_by_polarity(db_url):
    from callqa.tui.widgets.format import POLARITY_STYLE
    from callqa.tui.widgets.transcript import flags_in, line_body

    app = make_app(db_url)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_first_call(pilot)
        call = screen.call
        checked = 0
        for seg in call.segments:
            for f in flags_in(seg, call.flags):
                body = line_body(seg, [f])
                at = seg.text.casefold().find(f.text.strip().casefold())
                if at < 0:
                    continue
                styles = {str(span.style) for span in body.spans if span.start <= at < span.end}
                assert POLARITY_STYLE[f.polarity] in styles
                checked += 1
        assert checked > 0


async def test_accept_and_reject_store_reviews_and_move_on_to_the_next_flag_to_review(db_url):
    from callqa.tui.widgets.flags import in_list_order

    call_id = all_calls(db_url)[0].id
    flags = in_list_order(read(db_url, storage.get_call, call_id).flags)
    read(db_url, review.decide_flag, call_id, flags[1].id, accept=True, reviewer="someone")
    app = make_app(db_url)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_first_call(pilot)
        assert screen.call_id == call_id and screen.flag_index == 0
        await pilot.press("a")  # flags[1] is reviewed already: on to flags[2]
        await settle(pilot)
        assert screen.flag_index == 2
        await pilot.press("r")
        await settle(pilot)
        assert screen.flag_index == 3
        await pilot.press("x")  # x rejects too, as before
        await settle(pilot)
        assert screen.flag_index == 4
        stored = read(db_url, storage.get_call, call_id)
        by_id = {f.id: f.review_status for f in stored.flags}
        assert [by_id[f.id] for f in flags[:5]] == ["accepted", "accepted", "rejected", "rejected", None]
        kinds = [(r.kind, r.flag_id, r.reviewer) for r in stored.reviews]
        assert kinds == [("accept", flags[1].id, "someone"), ("accept", flags[0].id, REVIEWER),
                         ("reject", flags[2].id, REVIEWER), ("reject", flags[3].id, REVIEWER)]
        assert all(r.created_at is not None for r in stored.reviews)
        # the machine's flag is still listed, marked rejected
        assert "rejected" in str(screen.query_one("#flags").get_option_at_index(2).prompt)
        assert stored.call.review_status == "reviewed"


async def test_override_section_keeps_machine_score_visible(db_url):
    app = make_app(db_url)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_first_call(pilot)
        section = next(s for s in screen.call.sections if s.score is not None and s.score < 100)
        await pilot.press("o")
        await settle(pilot)
        form = app.screen
        form.query_one("#section").value = section.section
        form.query_one("#score").value = "100"
        form.query_one("#reason").value = "the customer asked for it"
        await pilot.press("ctrl+s")
        await settle(pilot)
        stored = read(db_url, storage.get_call, screen.call_id)
        result = stored.section(section.section)
        assert result.override == 100 and result.score == section.score
        last = stored.reviews[-1]
        assert (last.kind, last.section, last.text, last.reviewer) == ("override", section.section,
                                                                         "the customer asked for it", REVIEWER)
        assert stored.call.score > stored.call.machine_score
        assert f"machine {stored.call.machine_score:.1f}" in shown(screen.query_one("#call-header"))


async def test_add_missed_flag_on_selected_line(db_url):
    app = make_app(db_url)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_first_call(pilot)
        transcript = screen.query_one("#transcript")
        transcript.focus()
        transcript.select_segment(2)
        await pilot.pause()
        segment = screen.call.segments[2]
        criterion = next(c for c in default_rubric().criteria
                         if c.polarity == "negative" and c.speaker == segment.speaker)
        await pilot.press("m")
        await settle(pilot)
        app.screen.query_one("#criterion").value = criterion.id
        app.screen.query_one("#note").value = "missed this one"
        await pilot.press("ctrl+s")
        await settle(pilot)
        stored = read(db_url, storage.get_call, screen.call_id)
        added = [f for f in stored.flags if f.origin == "reviewer"]
        assert len(added) == 1
        f = added[0]
        assert (f.criterion, f.start, f.speaker, f.text) == (criterion.id, segment.start, segment.speaker,
                                                             segment.text)
        assert stored.reviews[-1].kind == "add_flag" and stored.reviews[-1].reviewer == REVIEWER


async def test_add_missed_flag_refuses_an_unknown_criterion(db_url):
    app = make_app(db_url)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_first_call(pilot)
        await pilot.press("m")
        await settle(pilot)
        app.screen.query_one("#criterion").value = "empathy.nonsense"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert "no criterion 'empathy.nonsense'" in shown(app.screen.query_one("#error"))
        assert not [f for f in read(db_url, storage.get_call, screen.call_id).flags if f.origin == "reviewer"]


async def test_comment_is_stored(db_url):
    app = make_app(db_url)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_first_call(pilot)
        await pilot.press("c")
        await settle(pilot)
        await pilot.press(*"good recovery", "enter")
        await settle(pilot)
        stored = read(db_url, storage.get_call, screen.call_id)
        assert [(r.kind, r.text, r.reviewer) for r in stored.reviews] == [("comment", "good recovery", REVIEWER)]
        assert "good recovery" in shown(screen.query_one("#reviews"))


async def test_transcript_text_is_not_parsed_as_markup(db_url):
    app = make_app(db_url)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_first_call(pilot, agent="dave")
        from rich.console import Console

        console = Console(width=300, color_system=None)
        with console.capture() as captured:
            for option in screen.query_one("#transcript").options:
                console.print(option.prompt)
        assert MARKUP_TEXT in captured.get()


async def test_dispute_stays_in_queue_until_resolved(db_url):
    app = make_app(db_url)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_first_call(pilot)
        call_id = screen.call_id
        await pilot.press("d")
        await settle(pilot)
        app.screen.query_one("#text").value = "I did say my name"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert read(db_url, storage.get_call, call_id).call.review_status == "disputed"
        await pilot.press("escape", "2")
        await settle(pilot)
        queue = app.screen
        item = next(i for i in queue.items if i.call.id == call_id)
        assert item.reasons[0] == "disputed" and queue.items[0] is item
        # open it from the queue and settle the dispute
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen.call_id == call_id
        await pilot.press("D")
        await settle(pilot)
        await pilot.press(*"checked the audio", "enter")
        await settle(pilot)
        await pilot.press("escape")
        await settle(pilot)
        assert call_id not in {i.call.id for i in app.screen.items if "disputed" in i.reasons}
        assert read(db_url, storage.get_call, call_id).call.review_status == "reviewed"


async def test_no_player_is_said_clearly(db_url):
    app = make_app(db_url, player=None)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_first_call(pilot)
        line = shown(screen.query_one("#player"))
        assert "no player found" in line and "ffplay, paplay, aplay, play" in line
        await pilot.press("space")
        await pilot.pause()
        assert any("No audio player found (looked for ffplay, paplay, aplay, play)" in n for n in notifications(app))


async def test_plays_the_flagged_moment_with_a_player(db_url, tmp_path):
    """A stand-in player (a script) receives a wav of the flagged moment, padded by half a second."""
    copy = tmp_path / "received.wav"
    script = tmp_path / "fakeplay"
    script.write_text(f"#!/bin/sh\ncp \"$1\" {copy}\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    app = make_app(db_url, player=player_mod.Player("fakeplay", str(script)))
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_first_call(pilot)
        index = next(i for i, f in enumerate(screen.call.flags) if f.text and f.start and f.start > 1)
        screen.go_to_flag(index)
        flag = screen.call.flags[index]
        await pilot.press("space")
        await settle(pilot)
        with wave.open(str(copy)) as w:
            seconds = w.getnframes() / w.getframerate()
        assert seconds == pytest.approx(flag.end - flag.start + 2 * player_mod.PAD_S, abs=0.05)


def test_find_player_order_and_opt_out(monkeypatch):
    monkeypatch.delenv(player_mod.ENV_VAR, raising=False)
    have = {"aplay": "/usr/bin/aplay", "play": "/usr/bin/play"}
    assert player_mod.find_player(have.get) == player_mod.Player("aplay", "/usr/bin/aplay")
    assert player_mod.find_player(lambda name: None) is None
    monkeypatch.setenv(player_mod.ENV_VAR, "none")
    assert player_mod.find_player(have.get) is None
    monkeypatch.setenv(player_mod.ENV_VAR, "play")
    assert player_mod.find_player(have.get).name == "play"


# --------------------------------------------------------------------------- reviewer flow


def accept_flags(db_url: str, call_ids, leave: int = 0) -> None:
    """Accept every flag of these calls but the first ``leave`` (in one session)."""
    def run(session):
        for call_id in call_ids:
            for f in storage.get_call(session, call_id).flags[leave:]:
                review.decide_flag(session, call_id, f.id, accept=True, reviewer=REVIEWER)

    read(db_url, run)


def newest_first(db_url: str) -> list[int]:
    return [c.id for c in sorted(all_calls(db_url), key=lambda c: (c.call_date, c.id), reverse=True)]


async def test_next_and_previous_call_to_review_from_the_table(db_url, monkeypatch):
    from textual.widgets import DataTable

    from callqa.tui.screens import calls as calls_screen

    monkeypatch.setattr(calls_screen, "PAGE_SIZE", 4)
    order = newest_first(db_url)
    accept_flags(db_url, order[1:5])  # the rest of the first page, and the first call of the second
    accept_flags(db_url, order[5:6], leave=1)  # one flag left to review is enough
    app = make_app(db_url)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        screen = app.screen
        shown_keys = {b.binding.id for b in screen.active_bindings.values() if b.binding.show}
        assert {"calls.next_unreviewed", "calls.prev_unreviewed"} <= shown_keys  # in the footer

        def current() -> int:
            return screen.page.rows[screen.query_one(DataTable).cursor_row].id

        assert current() == order[0]
        await pilot.press("n")
        await settle(pilot)
        assert current() == order[5] and f"calls 5–8 of {len(order)}" in status(screen)
        await pilot.press("n")
        await settle(pilot)
        assert current() == order[6]
        await pilot.press("N", "N")
        await settle(pilot)
        assert current() == order[0] and screen.page_offset == 0
        await pilot.press("N")
        await settle(pilot)
        assert current() == order[0]
        assert any("no call before this one has flags left to review" in n for n in notifications(app))


async def test_next_and_previous_call_to_review_from_a_call(db_url):
    order = newest_first(db_url)
    accept_flags(db_url, order[1:3])
    app = make_app(db_url)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_first_call(pilot)
        assert screen.call_id == order[0]
        await pilot.press("right_curly_bracket")
        await settle(pilot)
        assert screen.call_id == order[3] and screen.call.call.id == order[3]
        await pilot.press("left_curly_bracket")
        await settle(pilot)
        assert screen.call.call.id == order[0]
        await pilot.press("left_curly_bracket")
        await settle(pilot)
        assert screen.call.call.id == order[0]
        assert any("no call before this one in the list has flags left to review" in n
                   for n in notifications(app))


async def test_accept_all_asks_then_accepts_every_flag_left_to_review(db_url):
    from callqa.tui.screens.forms import ConfirmForm

    call_id = all_calls(db_url)[0].id
    rejected = read(db_url, storage.get_call, call_id).flags[0]
    read(db_url, review.decide_flag, call_id, rejected.id, accept=False, reviewer=REVIEWER)
    app = make_app(db_url)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_first_call(pilot)
        count = len(screen.call.flags)
        todo = [f for f in screen.call.flags if f.review_status is None]
        await pilot.press("A")
        await settle(pilot)
        form = app.screen
        assert isinstance(form, ConfirmForm)
        question = shown(form.query_one("#question"))
        assert f"Accept the {count - 1} flags of this call nobody has reviewed yet" in question
        assert todo[0].criterion in question and rejected.criterion not in question.split("?", 1)[1]
        assert app.focused is form.query_one("#submit") and str(app.focused.label) == f"Accept {count - 1}"
        await pilot.press("n")  # no: nothing is stored
        await settle(pilot)
        assert app.screen is screen and len(read(db_url, storage.get_call, call_id).reviews) == 1
        await pilot.press("A")
        await settle(pilot)
        await pilot.press("escape")  # Escape says no too
        await settle(pilot)
        assert app.screen is screen and len(read(db_url, storage.get_call, call_id).reviews) == 1
        await pilot.press("A")
        await settle(pilot)
        await pilot.press("enter")  # on the focused button: yes
        await settle(pilot)
        assert app.screen is screen
        stored = read(db_url, storage.get_call, call_id)
        assert {f.id: f.review_status for f in stored.flags} == \
            {f.id: "rejected" if f.id == rejected.id else "accepted" for f in stored.flags}
        assert all(f.review_status for f in screen.call.flags)
        assert all(("rejected" if f.id == rejected.id else "accepted") in str(
            screen.query_one("#flags").get_option(f"flag-{f.id}").prompt) for f in stored.flags)
        assert any(f"accepted the {count - 1} flags nobody had reviewed" in n for n in notifications(app))
        await pilot.press("A")
        await pilot.pause()
        assert app.screen is screen
        assert any("every flag of this call is reviewed already" in n for n in notifications(app))


async def test_rejecting_a_fault_shows_the_reviewed_score_beside_the_machines(db_url):
    """What the reviewer sees: the flag struck through and marked rejected, the call's score up
    with the machine's beside it, the section's reviewed score, the focus where it was, and the
    calls table marking the score as reviewed."""
    app = make_app(db_url)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_first_call(pilot)
        machine = screen.call.call.machine_score
        header = shown(screen.query_one("#call-header"))
        assert f"score {machine:.1f}" in header and "machine" not in header
        flags = screen.call.flags
        faults = [f.criterion for f in flags if f.polarity == "negative"]
        # its criterion passes once it is rejected
        index = next(i for i, f in enumerate(flags) if f.polarity == "negative" and faults.count(f.criterion) == 1)
        fault = screen.call.flags[index]
        screen.go_to_flag(index)
        focused = app.focused
        await pilot.press("r")
        await settle(pilot)
        reviewed = screen.call.call.score
        assert reviewed > machine
        header = shown(screen.query_one("#call-header"))
        assert f"score {reviewed:.1f} (machine {machine:.1f})" in header
        prompt = screen.query_one("#flags").get_option(f"flag-{fault.id}").prompt
        assert "rejected" in str(prompt) and any("strike" in str(span.style) for span in prompt.spans)
        section = next(s for s in screen.call.sections if s.override is not None)
        assert f"{section.section} {section.score:.1f} {section.override:.1f} {section.final:.1f}" in \
            shown(screen.query_one("#sections"))
        assert app.focused is focused
        assert read(db_url, storage.get_call, screen.call_id).call.score == reviewed
        await pilot.press("escape")
        await settle(pilot)
        row = next(r for r in table_rows(app.screen) if r[0] == str(screen.call_id))
        assert f"{reviewed:.1f}*" in " ".join(row)


async def test_a_decision_shows_at_once_while_the_database_is_slow(db_url):
    """a / r mark the flag and move on before the write is done: pressing a faster than the
    database stores decides each flag once, in order."""
    import threading
    from contextlib import contextmanager

    gate = threading.Event()
    app = make_app(db_url)
    real = app.session

    @contextmanager
    def slow_session():
        gate.wait(30)
        with real() as session:
            yield session

    async with app.run_test(size=SIZE) as pilot:
        screen = await open_first_call(pilot)
        flags = screen.call.flags
        app.session = slow_session
        await pilot.press("a", "r", "a")
        await pilot.pause()
        assert screen.flag_index == 3
        listing = screen.query_one("#flags")
        assert [str(listing.get_option(f"flag-{f.id}").prompt).split()[-1] for f in flags[:3]] == \
            ["accepted", "rejected", "accepted"]
        assert not read(db_url, storage.get_call, screen.call_id).reviews  # not stored yet
        gate.set()
        await settle(pilot)
        stored = {f.id: f.review_status for f in read(db_url, storage.get_call, screen.call_id).flags}
        assert [stored[f.id] for f in flags[:4]] == ["accepted", "rejected", "accepted", None]
        assert [f.review_status for f in screen.call.flags[:4]] == ["accepted", "rejected", "accepted", None]


async def test_tab_and_shift_tab_move_the_focus(db_url):
    app = make_app(db_url)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_first_call(pilot)
        detail = screen.query_one("#detail-scroll")
        border = detail.styles.border_top
        focused = []
        for key in ("tab", "tab", "tab", "shift+tab", "shift+tab"):
            await pilot.press(key)
            await pilot.pause()
            focused.append(app.focused.id)
            if app.focused is detail:  # the details panel shows that it has the focus
                assert detail.styles.border_top != border
        assert focused == ["flags", "detail-scroll", "transcript", "detail-scroll", "flags"]
        await pilot.press("escape", "f")
        await settle(pilot)
        await pilot.press("tab")
        assert app.focused.id == "date_from"
        await pilot.press("shift+tab")
        assert app.focused.id == "agent"


#: how to reach an input (keys from the calls table) and which one
INPUTS = {"calls search": (("slash",), "#search"), "filter form": (("f",), "#agent"),
          "comment": (("enter", "c"), "#text"), "override": (("enter", "o"), "#section"),
          "score a folder": (("5",), "#agent")}


@pytest.mark.parametrize("where", INPUTS)
async def test_keys_typed_into_an_input_are_typed_not_run(db_url, where):
    from textual.widgets import Input

    keys, selector = INPUTS[where]
    app = make_app(db_url)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press(*keys)
        await settle(pilot)
        box = app.screen.query_one(selector, Input)
        box.focus()
        await pilot.pause()
        mode, screen, before = app.current_mode, app.screen, box.value
        await pilot.press("1", "q", "2", "n", "a", "A", "question_mark")
        await settle(pilot)
        assert box.value == before + "1q2naA?"
        assert (app.current_mode, app.screen, app.is_running) == (mode, screen, True)


async def test_missed_criteria_are_listed_after_the_moments(db_url):
    from callqa.tui.widgets.flags import is_missed

    app = make_app(db_url)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_first_call(pilot)
        flags = screen.call.flags
        missed = [f for f in flags if is_missed(f)]
        moments = flags[:len(flags) - len(missed)]
        assert missed and list(flags[len(moments):]) == missed  # every missed criterion after every moment
        assert [f.start for f in moments] == sorted(f.start for f in moments)
        listing = screen.query_one("#flags")
        header = listing.get_option_at_index(len(moments))
        assert header.disabled and f"missed: not in the call ({len(missed)})" in str(header.prompt)
        first_missed = str(listing.get_option_at_index(len(moments) + 1).prompt)
        assert missed[0].criterion in first_missed and "00:00" not in first_missed
        await pilot.press("p")  # from the first flag round to the last: the header is skipped
        await pilot.pause()
        assert screen.flag_index == len(flags) - 1 and listing.highlighted == len(flags)
        assert missed[-1].criterion in shown(screen.query_one("#flag-detail"))
        listing.focus()
        await pilot.press("home")
        for _ in range(len(moments)):
            await pilot.press("down")
        await pilot.pause()
        assert listing.highlighted == len(moments) + 1 and screen.current_flag == missed[0]


@pytest.fixture
def empty_db(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    engine = storage.connect(url)
    storage.migrate(engine)
    engine.dispose()
    return url


async def test_every_key_of_every_screen_works_with_nothing_to_select(empty_db, tmp_path):
    """No call, agent or queue entry to act on: each key of each screen acts or says what is
    missing; none raises (run_test re-raises what the app raised)."""
    from textual.binding import Binding
    from textual.widgets import DataTable

    from callqa.tui.screens.call import CallScreen

    said: set[str] = set()

    async def press_every_key(base) -> None:
        for binding in Binding.make_bindings(type(base).BINDINGS):
            if binding.key == "escape":
                continue
            tables = base.query(DataTable)
            base.set_focus(tables.first() if tables else None)
            await pilot.press(binding.key)
            await settle(pilot)
            said.update(notifications(app))
            while app.screen is not base:  # a form or a report opened: close it
                app.pop_screen()
                await settle(pilot)

    app = make_app(empty_db)
    async with app.run_test(size=SIZE) as pilot:
        for mode in app.MODES:
            app.switch_mode(mode)
            await settle(pilot)
            if mode == "score":
                app.screen.query_one("#path").value = str(tmp_path / "nothing")  # no such folder: nothing scored
            await press_every_key(app.screen)
        app.open_call(12345)  # no such call
        await settle(pilot)
        assert isinstance(app.screen, CallScreen) and app.screen.call is None
        await press_every_key(app.screen)
        for text in ("no call to open here", "no call after this one has flags left to review",
                     "nothing waits in the queue", "no agents yet", "the call is not loaded yet"):
            assert any(text in n for n in said), text


async def test_call_keys_with_no_flag_or_line_selected(db_url):
    app = make_app(db_url)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_first_call(pilot)
        screen.query_one("#transcript").highlighted = None
        screen.query_one("#flags").highlighted = None
        screen.flag_index = None
        await pilot.pause()
        for key in ("a", "r", "x", "m", "l", "space"):
            await pilot.press(key)
            await settle(pilot)
            assert app.screen is screen
        said = notifications(app)
        for text in ("no flag selected: n / p pick one", "select a transcript line first (j / k), then m",
                     "select a transcript line first (j / k)"):
            assert any(text in n for n in said)
        assert not read(db_url, storage.get_call, screen.call_id).reviews  # nothing was stored
        await pilot.press("d")  # a dispute with no flag selected is about the whole call
        await settle(pilot)
        assert app.screen.query_one("#whole").value is True
        await pilot.press("escape", "n")
        await pilot.pause()
        assert screen.flag_index == 0  # n starts at the first flag


async def test_forms_open_before_the_rubric_is_loaded(db_url):
    """The override and missed-flag forms open at once; the missed flag's criteria wait for the
    rubric, an override needs none (storage rescores the call): it is stored while the rubric
    is still loading."""
    import threading

    gate, rubric, asked = threading.Event(), default_rubric(), []

    def slow_rubric():
        asked.append(threading.current_thread().name)
        return gate.wait(30) and rubric  # loading takes until the gate opens

    app = make_app(db_url)
    app.rubric = slow_rubric
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_first_call(pilot)
        await pilot.press("m")
        await pilot.pause()
        form = app.screen
        assert type(form).__name__ == "MissedFlagForm"
        assert "loading the rubric" in shown(form.query_one("#criterion-label"))
        form.query_one("#criterion").value = "empathy.dismissive"
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert "the rubric is still loading" in shown(form.query_one("#error"))
        await pilot.press("escape")
        assert len(asked) == 1
        section = screen.call.sections[0].section
        await pilot.press("o")
        await pilot.pause()
        form = app.screen
        assert type(form).__name__ == "OverrideForm"
        form.query_one("#section").value = section
        form.query_one("#score").value = "55"
        form.query_one("#reason").value = "the customer hung up"
        await pilot.press("ctrl+s")
        for _ in range(500):
            await pilot.pause(0.02)
            if screen.call.section(section).override == 55:
                break
        assert app.screen is screen and not gate.is_set() and len(asked) == 1
        assert read(db_url, storage.get_call, screen.call_id).section(section).override == 55
        assert screen.call.section(section).override == 55
        gate.set()
        await settle(pilot)


# --------------------------------------------------------------------------- queue, agents, agreement


async def test_queue_ranks_critical_then_uncertain_roles(db_url):
    calls = {Path(c.file).stem: c for c in all_calls(db_url)}
    app = make_app(db_url)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("2")
        await settle(pilot)
        items = app.screen.items
        assert items[0].call.id == calls[CRITICAL].id and "critical" in items[0].reasons
        uncertain = next(i for i in items if i.call.id == calls[UNCERTAIN].id)
        assert "uncertain roles" in uncertain.reasons
        priorities = [i.priority for i in items]
        assert priorities == sorted(priorities, reverse=True)
        # every agent with calls in the last 4 weeks has a sampled call
        recent_agents = {c.agent for c in calls.values() if c.call_date.date() >= date(2026, 10, 26)}
        sampled = {i.call.agent for i in items if "weekly sample" in i.reasons}
        assert sampled == recent_agents
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen.call_id == items[0].call.id


async def test_reviewed_call_leaves_the_queue(db_url):
    app = make_app(db_url)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("2")
        await settle(pilot)
        top = app.screen.items[0].call.id
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("a")
        await settle(pilot)
        await pilot.press("escape")
        await settle(pilot)
        assert top not in {i.call.id for i in app.screen.items}


async def test_agents_screen_opens_an_agents_calls(db_url):
    app = make_app(db_url)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("3")
        await settle(pilot)
        rows = table_rows(app.screen)
        summaries = read(db_url, storage.agent_summaries)
        assert [r[0] for r in rows] == [s.agent for s in summaries]
        assert [int(r[1]) for r in rows] == [s.calls for s in summaries]
        await pilot.press("down", "enter")  # the second agent
        await settle(pilot)
        assert type(app.screen).__name__ == "CallsScreen"
        agents = {r[1] for r in table_rows(app.screen)}
        assert agents == {summaries[1].agent}


async def test_coaching_report_key(db_url, monkeypatch):
    from callqa.tui.screens import agents as agents_screen

    monkeypatch.setattr(agents_screen, "report_builder", lambda: None)
    app = make_app(db_url)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("3")
        await settle(pilot)
        await pilot.press("g")
        await pilot.pause()
        assert any("Reports not available" in n for n in notifications(app))

    built = []

    def fake_build(db, agent, **options):
        built.append((db, agent))
        return type("Report", (), {"agent": agent, "calls": 4, "score": 63.7, "team_score": 64.2})()

    monkeypatch.setattr(agents_screen, "report_builder", lambda: fake_build)
    app = make_app(db_url)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("3")
        await settle(pilot)
        await pilot.press("g")
        await settle(pilot)
        assert built == [(db_url, "alice")]
        assert type(app.screen).__name__ == "ReportScreen"


async def test_agreement_screen_shows_blind_figures_with_intervals_and_anchored_apart(db_url):
    from callqa.services import calibration

    call = all_calls(db_url)[0]
    stored = read(db_url, storage.get_call, call.id)
    negative = [f for f in stored.flags if f.polarity == "negative"]
    rejected = negative[0]
    read(db_url, review.decide_flag, call.id, rejected.id, accept=False, reviewer=REVIEWER)
    blind = all_calls(db_url)[:4]
    for c in blind:
        asked = [q.criterion for q in read(db_url, calibration.questions, c.id)]
        read(db_url, calibration.record_answers, c.id, "ana", {q: "yes" for q in asked})
    app = make_app(db_url)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("4")
        await settle(pilot)
        pairs = [c for c in app.screen.rows if c.raters == ("machine", "ana")]
        assert pairs and all(c.n == len(blind) and c.small for c in pairs)
        shown_rows = table_rows(app.screen)
        assert any(r[1] == "machine vs ana" and r[2] == f"{len(blind)}!" for r in shown_rows)  # too few calls
        assert "4 calls answered blind by ana" in shown(app.screen.query_one("#status"))
        await pilot.press("f")
        await settle(pilot)
        assert "ANCHORED, not blind" in shown(app.screen.query_one("#explain"))
        rows = {a.criterion: a for a in app.screen.anchored}
        other_negatives = [f for f in negative if f.criterion == rejected.criterion and f.id != rejected.id]
        a = rows[rejected.criterion]
        assert a.rejected == 1
        assert (a.machine_only, a.both) == ((0, 1) if other_negatives else (1, 0))
        anchored_rows = {r[0]: r for r in table_rows(app.screen)}
        assert rejected.criterion in anchored_rows


# --------------------------------------------------------------------------- help, palette, score


async def test_help_screen_lists_keys(db_url):
    app = make_app(db_url)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        assert type(app.screen).__name__ == "HelpScreen"
        text = shown(app.screen.query_one("#keys"))
        for what in ("Next flag", "Accept", "Override", "Filter", "Coaching report", "Start scoring",
                     "A Accept every flag nobody reviewed yet (asks first)",
                     "n Next call with flags nobody reviewed (across pages)",
                     "} Next call of the list with flags nobody reviewed", "y Yes, to a question",
                     "tab / shift+tab Focus the next / previous widget",
                     "Typed keys go into the field: no key above runs"):
            assert what in text
        await pilot.press("escape")
        assert type(app.screen).__name__ == "CallsScreen"


async def test_command_palette_has_an_entry_per_action(db_url):
    app = make_app(db_url)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_first_call(pilot)
        titles = {c.title for c in app.get_system_commands(screen)}
        for b in type(screen).BINDINGS:
            assert f"Call: {b.description}" in titles
        assert "callqa: Queue" in titles
        command = next(c for c in app.get_system_commands(screen) if c.title == "Call: Next flag")
        await command.callback()
        assert screen.flag_index == 1


async def test_score_a_folder_from_the_ui(db_url, tmp_path):
    folder = tmp_path / "incoming"
    folder.mkdir()
    for name in ("c01_alice_double_charge", "c02_alice_outage"):
        data = json.loads((REFERENCE / f"{name}.json").read_text())
        data["segments"] = data["segments"][:-1]  # not the stored recording: a new call
        (folder / f"{name}.json").write_text(json.dumps(data))
    before = len(all_calls(db_url))
    app = make_app(db_url)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("5")
        await settle(pilot)
        screen = app.screen
        screen.query_one("#path").value = str(folder)
        screen.query_one("#agent").value = "erin"
        await pilot.press("ctrl+s")
        await settle(pilot)
        assert screen.query_one("#progress").total == 2 and screen.query_one("#progress").progress == 2
        assert "done: scored 2" in shown(screen.query_one("#score-status"))
    calls = all_calls(db_url)
    assert len(calls) == before + 2 and sum(c.agent == "erin" for c in calls) == 2


# --------------------------------------------------------------------------- review logic


def test_an_override_loads_the_rubric_only_for_a_call_stored_without_criterion_results(db_url):
    """A call with its criterion results is rescored by storage; one stored before they were kept
    takes the rubric's weights, loaded for it alone. Either way the overall score follows."""
    from sqlalchemy import text

    modern, legacy = (c.id for c in all_calls(db_url)[:2])
    engine = storage.connect(db_url)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM criterion_results WHERE call_id = :c"), {"c": legacy})
    engine.dispose()
    loads = []

    def load_rubric():
        loads.append(1)
        return default_rubric()

    def override(session, call_id):
        call = storage.get_call(session, call_id)
        section = next(s for s in call.sections if s.score)
        review.override_section(session, call, section.section, 0, "nothing of it was done", reviewer=REVIEWER,
                                rubric=load_rubric)
        return call.call.machine_score, storage.get_call(session, call_id).call.score

    machine, reviewed = read(db_url, override, modern)
    assert reviewed < machine and loads == []
    machine, reviewed = read(db_url, override, legacy)
    assert reviewed < machine and loads == [1]


def test_rank_puts_disputes_first_and_counts_extra_reasons():
    ranked = review.rank({1: {"weekly sample"}, 2: {"poor audio", "fuzzy match"}, 3: {"disputed"},
                          4: {"poor audio"}, 5: set()})
    assert [r[0] for r in ranked] == [3, 2, 4, 1]
    assert ranked[1][1] == ("poor audio", "fuzzy match")
    assert ranked[1][2] == review.PRIORITY["poor audio"] + 1


def test_reasons_of_equal_priority_come_in_the_same_order_in_every_process():
    """A set of strings iterates in a per-process order (hash randomisation): the queue's reasons
    once read "uncertain meaning, fuzzy match" on one run and the other way round on the next."""
    assert review.PRIORITY["fuzzy match"] == review.PRIORITY["uncertain meaning"]
    for given in (["uncertain meaning", "fuzzy match"], ["fuzzy match", "uncertain meaning"]):
        assert review.rank({1: dict.fromkeys(given)})[0][1] == ("fuzzy match", "uncertain meaning")


def test_weekly_sample_one_per_agent_week_and_reproducible():
    calls = [(i, agent, datetime(2026, 11, 2 + (i % 14), tzinfo=UTC)) for i in range(1, 200)
             for agent in ("a",)] + [(1000 + i, "b", datetime(2026, 11, 2 + i % 7, tzinfo=UTC)) for i in range(30)]
    chosen = review.weekly_sample(calls, per_week=1)
    weeks = {(agent, review._week(when)) for _, agent, when in calls}
    assert len(chosen) == len(weeks)
    assert review.weekly_sample(list(reversed(calls)), per_week=1) == chosen
    assert len(review.weekly_sample(calls, per_week=2)) == 2 * len(weeks)


def test_weekly_trend_and_sparkline():
    monday = date(2026, 11, 2)
    trend = review.weekly_trend([(date(2026, 11, 3), 2, 100.0), (date(2026, 11, 4), 1, 80.0),
                                 (date(2026, 11, 17), 1, 20.0)], monday, 3)
    assert trend == (60.0, None, 20.0)
    assert review.sparkline(trend) == "▅ ▂"


# --------------------------------------------------------------------------- snapshots


def _snap_app(db_url: str) -> CallQAApp:
    return make_app(db_url, player=None)


def test_snapshot_calls(db_url, snap_compare):
    assert snap_compare(_snap_app(db_url), terminal_size=SIZE, run_before=settle)


def test_snapshot_call_with_flag(db_url, snap_compare):
    async def before(pilot):
        await open_first_call(pilot)
        await pilot.press("n", "n", "n", "n")
        await settle(pilot)

    assert snap_compare(_snap_app(db_url), terminal_size=SIZE, run_before=before)


def test_snapshot_filter_form(db_url, snap_compare):
    async def before(pilot):
        await settle(pilot)
        await pilot.press("f")
        await settle(pilot)
        for box in pilot.app.screen.query("Input"):
            box.cursor_blink = False  # the cursor shown, however long a loaded machine took to get here
        await pilot.pause()

    assert snap_compare(_snap_app(db_url), terminal_size=SIZE, run_before=before)


def test_snapshot_queue(db_url, snap_compare):
    async def before(pilot):
        await settle(pilot)
        await pilot.press("2")
        await settle(pilot)

    assert snap_compare(_snap_app(db_url), terminal_size=SIZE, run_before=before)


def test_snapshot_agents(db_url, snap_compare):
    async def before(pilot):
        await settle(pilot)
        await pilot.press("3")
        await settle(pilot)

    assert snap_compare(_snap_app(db_url), terminal_size=SIZE, run_before=before)


def test_snapshot_agreement(db_url, snap_compare):
    call = all_calls(db_url)[0]
    flags = read(db_url, storage.get_call, call.id).flags
    read(db_url, review.decide_flag, call.id, flags[0].id, accept=False, reviewer=REVIEWER)
    read(db_url, review.decide_flag, call.id, flags[1].id, accept=True, reviewer=REVIEWER)
    from callqa.services import calibration

    for i, c in enumerate(all_calls(db_url)):  # ana and ben answer blind: ben says no where ana says N-A
        asked = [q.criterion for q in read(db_url, calibration.questions, c.id)]
        read(db_url, calibration.record_answers, c.id, "ana", {q: "na" if (i + j) % 7 == 0 else "yes"
                                                                for j, q in enumerate(asked)})
        read(db_url, calibration.record_answers, c.id, "ben", {q: "no" if (i + j) % 7 == 0 else "yes"
                                                                for j, q in enumerate(asked)})

    async def before(pilot):
        await settle(pilot)
        await pilot.press("4")
        await settle(pilot)

    assert snap_compare(_snap_app(db_url), terminal_size=SIZE, run_before=before)


def test_snapshot_help(db_url, snap_compare):
    async def before(pilot):
        await settle(pilot)
        await pilot.press("question_mark")
        await settle(pilot)

    assert snap_compare(_snap_app(db_url), terminal_size=SIZE, run_before=before)


async def test_search_result_opens_at_the_words_and_find_moves_on(db_url):
    word = "refund"
    app = make_app(db_url)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("slash", *word, "enter")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        screen = app.screen
        hits = review.find_in_segments(screen.call.segments, word)
        view = screen.query_one("#transcript")
        assert hits and view.selected_segment == hits[0]
        await pilot.press("slash")
        await settle(pilot)
        assert app.screen.query_one("#text").value == word  # the last search, ready for "next"
        await pilot.press("enter")
        await settle(pilot)
        assert view.selected_segment == (hits[1] if len(hits) > 1 else hits[0])


# --------------------------------------------------------------------------- hostile text


#: terminal control sequences (clear the screen, set the window title, a C1 CSI, a bell) and rich
#: markup, in an agent's name, a file's name and what was said
HOSTILE_AGENT = "eve\x1b[2J\x1b]0;owned\x07[reverse]FAKE[/reverse][/]"
HOSTILE_FILE = "calls/\x1b[31mred\x9b2J[reverse]x.wav"
HOSTILE_TEXT = "I'd like to check my bill.\x1b[2J\x1b[H[/bold] \x08\x7f[link=https://x]pay here[/link]"


def _control(frame: str) -> list[str]:
    return sorted({repr(ch) for ch in frame if ch != "\n" and (ord(ch) < 32 or 0x7f <= ord(ch) < 0xa0)})


async def test_control_characters_and_markup_in_names_and_text_never_reach_the_frame(tmp_path):
    """Issue 16, item 9: terminal control characters in file and agent names reached the TUI
    frame (an ESC from a name is an escape sequence run by the terminal); markup in them must
    show as typed. Every screen that shows them: calls, a call, queue, agents."""
    url = f"sqlite:///{tmp_path / 'hostile.db'}"
    engine = storage.connect(url)
    storage.migrate(engine)
    rubric = default_rubric()
    t = Transcript(HOSTILE_FILE, 20.0, "import", "", (
        Segment("agent", 0.5, 5.0, "Thank you for calling, how can I help you today?\x1b[5m"),
        Segment("customer", 5.5, 12.0, HOSTILE_TEXT)), roles="labels")
    with Session(engine) as session:
        storage.save_scored_call(session, t, score_transcript(t, rubric), agent=HOSTILE_AGENT,
                                 call_date=date(2026, 9, 1), content_hash="hostile", rubric_id=rubric.id,
                                 rubric_hash="test")
    engine.dispose()

    app = make_app(url)
    async with app.run_test(size=SIZE) as pilot:
        frames = {}
        await settle(pilot)
        for key, name in (("2", "queue"), ("3", "agents"), ("1", "calls")):
            await pilot.press(key)
            await settle(pilot)
            frames[name] = "\n".join(s.text for s in app.screen._compositor.render_strips())
        await pilot.press("enter")
        await settle(pilot)
        frames["call"] = "\n".join(s.text for s in app.screen._compositor.render_strips())
        app.screen.find_next("[/bold]")  # a notification quoting it
        await settle(pilot)
        said = notifications(app)
    assert {name: _control(frame) for name, frame in frames.items()} == \
        {"queue": [], "agents": [], "calls": [], "call": []}
    assert " “[/bold]”: match 1 of 1" in said
    assert "[reverse]FAKE" in frames["agents"] and "[reverse]FAKE" in frames["calls"]
    assert "[31mred2J[reverse]x.wav" in frames["call"]
    assert "[link=https://x]pay here[/link]" in frames["call"]
