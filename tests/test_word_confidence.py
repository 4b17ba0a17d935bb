"""Word confidence end to end (issue 18): Whisper's word probabilities survive import, redaction,
storage and rescoring; a flag on words the transcript is unsure of is uncertain, does not count
against the agent unless ``uncertain-flags-count``, is never quoted as said in a coaching report,
ranks high in the review queue, and shows as such in the TUI."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from callqa import services
from callqa.importers import load_transcript
from callqa.records import UNCERTAIN_BELOW
from callqa.redact import redact_transcript
from callqa.rubric.loader import parse_rubric
from callqa.scoring import score_transcript
from callqa.services import review
from callqa.services.reports import build_report
from callqa.transcript import Segment, Transcript, Word
from callqa.workspace import Workspace, resolve

RUBRIC = """\
id: wc
name: Word confidence
version: "1"
sections:
  - {id: a, name: A, weight: 1}
  - {id: b, name: B, weight: 1}
criteria:
  - id: a.greet
    name: greets
    category: greeting
    section: a
    weight: 1
    polarity: positive
    message: no greeting
    window: {first_s: 10}
    source: {seed: s, guidance: g}
    check: {type: phrase, phrases: [good morning]}
  - id: b.rude
    name: rude
    category: negative_phrasing
    section: b
    weight: 1
    polarity: negative
    message: rude
    suggestion: Let me help
    source: {seed: s, guidance: g}
    check: {type: phrase, mode: forbidden, phrases: [shut up]}
  - id: b.disown
    name: disowns
    category: negative_phrasing
    section: b
    weight: 1
    polarity: negative
    message: disowned the problem
    suggestion: Let me look into it
    source: {seed: s, guidance: g}
    check: {type: phrase, mode: forbidden, phrases: [not my problem]}
"""


def turn(speaker: str, start: float, *words: tuple[str, float]) -> Segment:
    ws = tuple(Word(start + i * 0.4, start + i * 0.4 + 0.3, text, p) for i, (text, p) in enumerate(words))
    return Segment(speaker, start, ws[-1].end, " ".join(t for t, _ in words), ws)


def heard(*segments: Segment) -> Transcript:
    return Transcript("call.json", max(s.end for s in segments), "faster-whisper", "tiny.en", segments)


GREETING = turn("agent", 0.0, ("Good", 0.97), ("morning,", 0.95), ("how", 0.99), ("can", 0.99), ("I", 0.99),
                ("help?", 0.98))
CARD = turn("customer", 4.0, ("My", 0.99), ("card", 0.98), ("is", 0.99), ("4111", 0.9), ("1111", 0.45),
            ("1111", 0.9), ("1111", 0.88), ("and", 0.97), ("the", 0.99), ("bill", 0.95), ("is", 0.99),
            ("wrong.", 0.97))
#: "Shut up" heard unsurely (the agent may have said "What's up"): an uncertain fault
UNSURE_RUDE = turn("agent", 10.0, ("Oh,", 0.9), ("shut", 0.21), ("up.", 0.8))
SURE_DISOWN = turn("agent", 14.0, ("That", 0.97), ("is", 0.99), ("not", 0.96), ("my", 0.98), ("problem.", 0.95))


@pytest.fixture(scope="module")
def rubric():
    return parse_rubric(RUBRIC)


def flag_of(result, criterion):
    return next(f for f in result.flags if f.criterion == criterion)


@pytest.mark.parametrize("probs,confidence", [((0.9, 0.21, 0.8), 0.21), ((0.05, 0.9, 0.8), 0.8)])
def test_a_flag_carries_the_lowest_probability_of_its_own_words(rubric, probs, confidence):
    words = tuple(zip(("Oh,", "shut", "up."), probs))
    result = score_transcript(heard(GREETING, turn("agent", 10.0, *words)), rubric)
    rude = flag_of(result, "b.rude")
    # "Oh," is not part of the match: a word beside the evidence does not make it uncertain
    assert rude.confidence == confidence and rude.uncertain is (confidence < UNCERTAIN_BELOW)
    assert rude.to_dict()["confidence"] == confidence and rude.to_dict()["uncertain"] is rude.uncertain


def test_an_uncertain_fault_does_not_count_unless_the_setting_says_so(rubric):
    call = heard(GREETING, CARD, UNSURE_RUDE, SURE_DISOWN)
    apart = score_transcript(call, rubric)
    status = {r.criterion: r.status for r in apart.criteria}
    assert status == {"a.greet": "pass", "b.rude": "pass", "b.disown": "fail"}
    assert flag_of(apart, "b.rude").uncertain  # the flag stays, for review
    assert "uncertain fault(s) not counted" in next(r.detail for r in apart.criteria if r.criterion == "b.rude")
    counted = score_transcript(call, rubric, uncertain_count=True)
    assert (apart.sections["b"], counted.sections["b"]) == (50.0, 0.0)
    assert apart.score > counted.score


def test_a_missing_behaviour_has_no_words_and_always_counts(rubric):
    mumbled = turn("agent", 0.0, ("Mm", 0.1), ("hello", 0.15))
    result = score_transcript(heard(mumbled, SURE_DISOWN), rubric)
    missing = flag_of(result, "a.greet")
    assert missing.text == "" and missing.confidence is None and not missing.uncertain
    assert result.sections["a"] == 0.0


def test_imported_transcripts_json_keeps_probabilities_text_has_none(tmp_path, rubric):
    with_probs = heard(GREETING, UNSURE_RUDE).to_dict()
    (tmp_path / "a.json").write_text(json.dumps(with_probs), encoding="utf-8")
    assert load_transcript(tmp_path / "a.json").segments == heard(GREETING, UNSURE_RUDE).segments
    for seg in with_probs["segments"]:  # a JSON transcript whose words give no probability: taken as sure
        for w in seg["words"]:
            del w["probability"]
    (tmp_path / "b.json").write_text(json.dumps(with_probs), encoding="utf-8")
    b = load_transcript(tmp_path / "b.json")
    assert {w.probability for s in b.segments for w in s.words} == {1.0}
    assert not flag_of(score_transcript(b, rubric), "b.rude").uncertain
    (tmp_path / "c.txt").write_text("Agent: Good morning.\nAgent: Oh, shut up.\n", encoding="utf-8")
    c = load_transcript(tmp_path / "c.txt")  # a text transcript has no words, so no confidence
    assert all(not s.words for s in c.segments)
    rude = flag_of(score_transcript(c, rubric), "b.rude")
    assert rude.confidence is None and not rude.uncertain


def test_a_redacted_word_keeps_the_lowest_probability_of_the_words_it_replaces():
    redacted = redact_transcript(heard(CARD))
    [seg] = redacted.segments
    [card] = [w for w in seg.words if w.text == "[CARD]"]
    assert card.probability == 0.45 and (card.start, card.end) == (CARD.words[3].start, CARD.words[6].end)
    assert [w.probability for w in seg.words if w.text != "[CARD]"] == [
        w.probability for w in CARD.words[:3] + CARD.words[7:]]


def test_the_setting_comes_from_the_config_and_is_off_by_default(tmp_path):
    assert resolve(cwd=tmp_path, environ={}).uncertain_flags_count is False
    (tmp_path / "callqa.toml").write_text("uncertain-flags-count = true\n", encoding="utf-8")
    assert resolve(cwd=tmp_path, environ={}).uncertain_flags_count is True


def _store(tmp_path, monkeypatch, *segments: Segment):
    monkeypatch.setenv("CALLQA_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "rubric.yaml").write_text(RUBRIC, encoding="utf-8")
    (tmp_path / "calls").mkdir()
    path = tmp_path / "calls" / "call.json"
    path.write_text(json.dumps(heard(*segments).to_dict()), encoding="utf-8")
    ws = Workspace(db=f"sqlite:///{tmp_path / 'q.db'}", rubric=str(tmp_path / "rubric.yaml"), redact=True)
    [outcome] = services.score_paths([path], ws, agent="dana").outcomes
    assert outcome.status == "scored"
    return ws, path, outcome.call_id


@pytest.fixture
def stored(tmp_path, monkeypatch):
    """The call scored into a database from a JSON transcript, redacted, with the small rubric."""
    return _store(tmp_path, monkeypatch, GREETING, CARD, UNSURE_RUDE, SURE_DISOWN)


def _call(ws, call_id):
    with services.session_for(ws.db) as session:
        return review.get_call(session, call_id)


def test_storage_and_rescoring_keep_word_and_flag_confidence(stored):
    ws, path, call_id = stored
    call = _call(ws, call_id)
    words = {w.text: w.probability for s in call.segments for w in s.words}
    assert words["[CARD]"] == 0.45 and words["shut"] == 0.21  # redacted, stored, read back
    before = {f.criterion: (f.confidence, f.uncertain) for f in call.flags}
    assert before["b.rude"] == (0.21, True) and before["b.disown"] == (0.95, False)
    assert before["a.greet"] == (0.95, False)
    [again] = services.rescore_stored(ws, rescore=True).outcomes  # from the stored transcript
    assert again.status == "rescored"
    assert {f.criterion: (f.confidence, f.uncertain) for f in _call(ws, call_id).flags} == before


def test_changing_the_setting_rescores_stored_calls_and_moves_the_score(stored):
    ws, path, call_id = stored
    apart = _call(ws, call_id).call.score
    [same] = services.score_paths([path], ws, agent="dana").outcomes
    assert same.status == "skipped"
    [counted] = services.score_paths([path], replace(ws, uncertain_flags_count=True), agent="dana").outcomes
    assert counted.status == "rescored"  # the setting is part of what decides a rescore
    assert _call(ws, call_id).call.score < apart


def test_accepting_an_uncertain_fault_makes_it_count(stored):
    ws, _, call_id = stored
    call = _call(ws, call_id)
    rude = next(f for f in call.flags if f.criterion == "b.rude")
    with services.session_for(ws.db) as session:
        review.decide_flag(session, call_id, rude.id, accept=True, reviewer="ana")
    assert _call(ws, call_id).call.score < call.call.score


def test_the_review_queue_puts_a_call_with_an_uncertain_flag_high(stored):
    ws, _, call_id = stored
    with services.session_for(ws.db) as session:
        [item] = [i for i in review.review_queue(session, review.QueueSettings(per_agent_week=0))
                  if i.call.id == call_id]
    assert item.reasons[0] == "unsure words"
    assert item.priority > review.PRIORITY["uncertain roles"]
    assert "b.rude" in item.notes["unsure words"] and "0.21" in item.notes["unsure words"]


def test_a_coaching_report_never_quotes_an_uncertain_flag_as_said(stored, rubric):
    ws, _, call_id = stored
    with services.session_for(ws.db) as session:
        report = build_report(session, "dana", rubric=rubric)
    focus = {f.criterion: f for f in report.focus}
    assert "b.rude" not in focus and "b.rude" not in {f.criterion for f in report.also}
    assert not any("shut" in p.phrase.lower() for p in report.phrases)
    [quote] = focus["b.disown"].quotes  # the sentence around the flagged words: all sure
    assert quote.text == "That is not my problem." and quote.match == "not my problem"
    assert quote.sureness == "transcript sure (least sure word 95%)"
    [unsure] = report.unsure
    assert unsure.criterion == "b.rude" and unsure.quote.match.lower() == "shut up"
    assert unsure.quote.sureness == "transcript unsure: check the recording (least sure word 21%)"
    from callqa.reports.render import render_html, render_markdown

    assert "Check the recording" in render_html(report)
    md = render_markdown(report)
    assert "### Check the recording" in md and "transcript unsure: check the recording" in md
    assert md.index("not my problem") < md.index("### Check the recording") < md.index("**shut up**")


def test_a_fault_neither_uncertain_nor_sure_enough_to_quote_counts_unquoted(tmp_path, monkeypatch, rubric):
    half = turn("agent", 14.0, ("That", 0.97), ("is", 0.99), ("not", 0.55), ("my", 0.98), ("problem.", 0.95))
    ws, _, call_id = _store(tmp_path, monkeypatch, GREETING, half)
    disown = next(f for f in _call(ws, call_id).flags if f.criterion == "b.disown")
    assert (disown.confidence, disown.uncertain, disown.quotable) == (0.55, False, False)
    with services.session_for(ws.db) as session:
        report = build_report(session, "dana", rubric=rubric)
    assert [f.criterion for f in report.also] == ["b.disown"] and not report.focus and not report.unsure
    assert not report.phrases


def test_a_quote_leaves_out_the_unsure_words_around_the_flagged_ones(tmp_path, monkeypatch, rubric):
    mumbled = turn("agent", 14.0, ("Well", 0.5), ("that", 0.97), ("is", 0.99), ("not", 0.96), ("my", 0.98),
                   ("problem.", 0.95))
    ws, _, _ = _store(tmp_path, monkeypatch, GREETING, mumbled)
    with services.session_for(ws.db) as session:
        [quote] = build_report(session, "dana", rubric=rubric).focus[0].quotes
    assert (quote.text, quote.confidence) == ("not my problem", 0.95)


def test_the_tui_dims_unsure_words_and_marks_uncertain_flags(stored):
    from callqa.tui.widgets.flags import flag_detail, flag_line
    from callqa.tui.widgets.transcript import line_body

    ws, _, call_id = stored
    call = _call(ws, call_id)
    seg = next(s for s in call.segments if "shut" in s.text)
    body = line_body(seg, [])
    dimmed = [body.plain[s.start:s.end] for s in body.spans if "dim" in str(s.style)]
    assert dimmed == ["shut"]
    rude = next(f for f in call.flags if f.criterion == "b.rude")
    disown = next(f for f in call.flags if f.criterion == "b.disown")
    assert "?unsure" in flag_line(rude).plain and "?unsure" not in flag_line(disown).plain
    from rich.console import Console

    console = Console(width=120, record=True)
    console.print(flag_detail(rude))
    assert "space plays the moment" in console.export_text()
