"""Scoring: weighted sections and overall, N/A criteria dropping out, critical caps."""

from __future__ import annotations

import pytest

from callqa.rubric.loader import parse_rubric
from callqa.scoring import score_transcript
from callqa.transcript import Segment, Transcript

RUBRIC = """\
id: t
name: Test
version: "1"
critical_cap: {cap}
sections:
  - {{id: a, name: A, weight: 3}}
  - {{id: b, name: B, weight: 1}}
criteria:
  - id: a.greet
    name: greets
    category: greeting
    section: a
    weight: 2
    polarity: positive
    message: no greeting
    source: {{seed: s, guidance: g}}
    check: {{type: phrase, phrases: [good morning]}}
  - id: a.thanks
    name: thanks
    category: rapport
    section: a
    weight: 1
    polarity: positive
    message: no thanks
    source: {{seed: s, guidance: g}}
    check: {{type: phrase, phrases: [thank you]}}
  - id: a.questions
    name: questions (reported only)
    category: listening
    section: a
    weight: 0
    polarity: positive
    message: no question
    source: {{seed: s, guidance: g}}
    check: {{type: metric, metric: questions, min: 5}}
  - id: b.ask_hold
    name: asks before a hold
    category: hold
    section: b
    weight: 1
    applies_if: {{hold_s: 10}}
    polarity: positive
    message: no permission asked
    source: {{seed: s, guidance: g}}
    check: {{type: phrase, phrases: [can I put you on hold]}}
  - id: b.rude
    name: rude
    category: negative_phrasing
    section: b
    weight: 1
    critical: true
    polarity: negative
    message: rude
    source: {{seed: s, guidance: g}}
    check: {{type: phrase, mode: forbidden, phrases: [shut up]}}
"""


def call(*turns: tuple[str, float, float, str]) -> Transcript:
    segs = tuple(Segment(who, a, b, text) for who, a, b, text in turns)
    return Transcript("t.json", max(s.end for s in segs), "test", "", segs)


GREETING = ("agent", 0, 2, "Good morning.")
REPLY = ("customer", 2.5, 4, "Hi, I need help.")


def test_weighted_sections_and_overall_with_na_section_part() -> None:
    rubric = parse_rubric(RUBRIC.format(cap=0))
    s = score_transcript(call(GREETING, REPLY, ("agent", 4.5, 6, "Okay.")), rubric)
    status = {r.criterion: r.status for r in s.criteria}
    assert status == {"a.greet": "pass", "a.thanks": "fail", "a.questions": "fail",
                      "b.ask_hold": "na", "b.rude": "pass"}
    # a: (2×1 + 1×0) / 3; the zero-weight criterion does not count; b: the N/A one drops out
    assert s.sections == {"a": 66.7, "b": 100.0}
    assert s.score == pytest.approx((3 * 66.7 + 1 * 100) / 4, abs=0.05)
    assert s.critical_failed == ()


def test_section_with_only_na_criteria_drops_out_of_the_overall() -> None:
    text = RUBRIC.format(cap=0).replace("    critical: true\n", "")
    rubric = parse_rubric(text.replace("check: {type: phrase, mode: forbidden, phrases: [shut up]}",
                                       "applies_if: {hold_s: 10}\n    check: {type: phrase, mode: forbidden, phrases: [shut up]}"))
    s = score_transcript(call(GREETING, REPLY, ("agent", 4.5, 6, "Thank you.")), rubric)
    assert s.sections == {"a": 100.0, "b": None}
    assert s.score == 100.0


def test_hold_makes_the_hold_criterion_apply() -> None:
    rubric = parse_rubric(RUBRIC.format(cap=0))
    asked = call(GREETING, ("agent", 2, 4, "Can I put you on hold?"), ("agent", 20, 22, "Thank you."))
    silent = call(GREETING, ("agent", 2, 4, "One moment."), ("agent", 20, 22, "Thank you."))
    assert score_transcript(asked, rubric).sections["b"] == 100.0
    s = score_transcript(silent, rubric)
    assert s.sections["b"] == 50.0
    [missing] = [f for f in s.flags if f.criterion == "b.ask_hold"]
    assert missing.polarity == "negative" and missing.text == ""


@pytest.mark.parametrize("cap,expected", [(0, 0.0), (40, 40.0), (100, 50.0)])
def test_critical_failure_caps_the_score(cap: float, expected: float) -> None:
    rubric = parse_rubric(RUBRIC.format(cap=cap))
    s = score_transcript(call(GREETING, REPLY, ("agent", 4.5, 6, "Oh, shut up.")), rubric)
    assert s.critical_failed == ("b.rude",)
    assert s.raw_score == pytest.approx((3 * 66.7 + 0) / 4, abs=0.05)
    assert s.score == expected
    [rude] = [f for f in s.flags if f.criterion == "b.rude"]
    assert (rude.text, rude.polarity, rude.speaker) == ("shut up", "negative", "agent")


def test_default_rubric_no_hold_means_hold_etiquette_is_na() -> None:
    s = score_transcript(call(
        ("agent", 0, 4, "Good morning, thank you for calling Northwind Energy, my name is Alice."),
        ("customer", 4.5, 8, "Hi, I'd like to update my phone number."),
        ("agent", 8.5, 12, "Of course, I've updated the phone number on your account."),
        ("customer", 12.5, 14, "Perfect, thanks."),
        ("agent", 14.5, 17, "Is there anything else I can help with? Have a lovely day.")))
    assert s.sections["hold"] is None
    assert all(r.status == "na" for r in s.criteria if r.section == "hold")
    assert not any(f.category == "hold" for f in s.flags)
    assert s.score is not None and 0 <= s.score <= 100
    assert s.to_dict()["sections"]["hold"] is None


def test_json_forms_are_versioned() -> None:
    s = score_transcript(call(GREETING, REPLY))
    d = s.to_dict()
    assert d["version"] == 1 and d["rubric"] == "default"
    assert all(f["version"] == 1 and {"criterion", "polarity", "explanation"} <= f.keys() for f in d["flags"])


def test_overall_score_uses_section_weights_and_the_critical_cap():
    from callqa.scoring import overall_score

    assert overall_score([(1, 50.0), (3, 50.0)], False, 0) == (50.0, 50.0)
    assert overall_score([(1, 100.0), (3, 50.0), (2, None)], False, 0) == (62.5, 62.5)  # N/A drops out
    assert overall_score([(1, 100.0), (3, 50.0)], True, 40) == (40, 62.5)
    assert overall_score([(1, None)], False, 0) == (None, None)


@pytest.mark.parametrize("status, flags, expected", [
    ("fail", [("negative", "machine", None)], "fail"),  # nobody reviewed it
    ("fail", [("negative", "machine", "rejected")], "pass"),  # its only fault rejected
    ("fail", [("negative", "machine", "rejected"), ("negative", "machine", None)], "fail"),
    ("fail", [], "fail"),  # a metric that failed without a flag: nothing to reject
    ("pass", [("positive", "machine", "rejected")], "fail"),  # its credit rejected
    ("pass", [("positive", "machine", "rejected"), ("positive", "machine", "accepted")], "pass"),
    ("pass", [("negative", "reviewer", None)], "fail"),  # a reviewer added a fault
    ("pass", [("negative", "machine", None), ("positive", "machine", "accepted")], "pass"),
    ("na", [("positive", "reviewer", None)], "pass"),
    ("na", [("negative", "machine", "accepted")], "na"),  # evidence on a criterion that does not apply
])
def test_reviewed_status(status, flags, expected):
    from callqa.scoring import reviewed_status

    assert reviewed_status(status, flags) == expected
