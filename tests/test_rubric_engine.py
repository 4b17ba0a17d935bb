"""The engine on hand-built transcripts: phrases (exact, fuzzy, guards), negation through the
parse, conditionals, windows, timing metrics, spans, and the blank-pipeline fallback."""

from __future__ import annotations

import json

import pytest

from callqa.rubric import matchers as checks
from callqa.rubric.engine import Engine
from callqa.rubric.flags import CriterionResult
from callqa.rubric.loader import load_rubric, parse_rubric
from callqa.transcript import Segment, Transcript, Word


def one(check: dict, speaker: str = "agent", polarity: str = "negative", **extra: object) -> Engine:
    crit = {"id": "t.c", "name": "c", "category": "t", "section": "t", "speaker": speaker,
            "polarity": polarity, "message": "m", "suggestion": "s",
            "source": {"seed": "s", "guidance": "g"}, "check": check, **extra}
    doc = {"id": "t", "name": "t", "version": "1", "sections": [{"id": "t", "name": "t", "weight": 1}],
           "criteria": [crit]}
    return Engine(parse_rubric(json.dumps(doc)))


def call(*turns: tuple[str, float, float, str]) -> Transcript:
    segs = tuple(sorted((Segment(w, a, b, t) for w, a, b, t in turns), key=lambda s: s.start))
    return Transcript("t", max(s.end for s in segs), "test", "", segs)


def agent(text: str) -> Transcript:
    return call(("agent", 0, 4, text))


def result(engine: Engine, t: Transcript) -> CriterionResult:
    [r] = engine.evaluate(t)
    return r


DEFAULT = Engine(load_rubric())


def default(t: Transcript, cid: str) -> CriterionResult:
    return next(r for r in DEFAULT.evaluate(t) if r.criterion == cid)


# --- phrases ----------------------------------------------------------------------------------

FORBID = {"type": "phrase", "mode": "forbidden", "phrases": ["that's not my department", "you'll have to call"]}


@pytest.mark.parametrize("text", ["That's not my department.", "thats not my department",
                                  "THAT IS NOT MY DEPARTMENT!", "um, that's not my department, sorry"])
def test_phrase_matches_despite_case_punctuation_and_apostrophes(text: str) -> None:
    r = result(one(FORBID), agent(text))
    assert r.status == "fail" and r.flags[0].polarity == "negative"


def test_fuzzy_match_reports_its_score_and_the_matched_words() -> None:
    engine = one({"type": "phrase", "phrases": ["I understand how frustrating that must be"]}, polarity="positive")
    r = result(engine, agent("Oh I understand how frustrated that must be, honestly."))
    [flag] = r.flags
    assert flag.text == "I understand how frustrated that must be"
    assert flag.details["how"] == "fuzzy" and 90 <= flag.details["score"] < 100
    assert "fuzzy" in flag.explanation and "i understand how frustrating that must be" in flag.explanation
    assert result(engine, agent("I understand how much that must cost.")).status == "fail"


def test_short_phrase_does_not_match_inside_a_longer_word() -> None:
    engine = one({"type": "phrase", "mode": "forbidden", "phrases": ["calling you", "whatever"]})
    assert result(engine, agent("I'm recalling your account details now.")).status == "pass"
    assert result(engine, agent("Whatevers next on the list.")).status == "pass"
    assert result(engine, agent("Whatever.")).status == "fail"


def test_fuzzy_match_cannot_drop_or_add_a_negation() -> None:
    engine = one({"type": "phrase", "mode": "forbidden", "phrases": ["I can't do that for you"]})
    assert result(engine, agent("I can do that for you right now.")).status == "pass"
    assert result(engine, agent("I cant do that for you.")).status == "fail"


def test_exclusions_and_alternative_groups() -> None:
    engine = one({"type": "phrase", "mode": "forbidden", "phrases": ["you'll {have|need} to {call|ring}"],
                  "exclude": ["you'll need to call us back if it {happens|recurs}"]})
    assert result(engine, agent("You'll need to ring the meter team.")).status == "fail"
    assert result(engine, agent("You'll need to call us back if it happens again, but I doubt it.")).status == "pass"


def test_required_phrase_missing_gives_one_negative_flag_without_text() -> None:
    engine = one({"type": "phrase", "phrases": ["anything else"]}, polarity="positive")
    r = result(engine, agent("Okay, bye."))
    assert r.status == "fail"
    [flag] = r.flags
    assert (flag.polarity, flag.text, flag.start, flag.end) == ("negative", "", 0.0, 4.0)
    ok = result(engine, agent("Is there anything else?"))
    assert ok.status == "pass" and ok.flags[0].polarity == "positive" and ok.flags[0].severity == "info"


def test_counted_mode_and_speaker() -> None:
    engine = one({"type": "phrase", "mode": "counted", "phrases": ["thank you"], "min": 2, "max": 3},
                 polarity="positive")
    t = call(("agent", 0, 2, "Thank you."), ("customer", 2, 4, "Thank you."), ("agent", 4, 6, "Thank you."))
    assert result(engine, t).value == 2 and result(engine, t).status == "pass"
    assert result(engine, call(("agent", 0, 2, "Thank you."), ("customer", 2, 4, "thank you"))).status == "fail"


def test_window_first_and_last_seconds() -> None:
    engine = one({"type": "phrase", "phrases": ["good morning"]}, polarity="positive", window={"first_s": 10})
    assert result(engine, call(("agent", 0, 3, "Good morning."), ("agent", 50, 53, "Bye."))).status == "pass"
    assert result(engine, call(("agent", 0, 3, "Hello."), ("agent", 50, 53, "Good morning."))).status == "fail"
    late = one({"type": "phrase", "phrases": ["goodbye"]}, polarity="positive", window={"last_s": 10})
    assert result(late, call(("agent", 0, 3, "Goodbye."), ("agent", 50, 53, "Okay."))).status == "fail"


def test_flag_times_come_from_word_timestamps_or_interpolation() -> None:
    words = tuple(Word(10 + i, 10.8 + i, w) for i, w in enumerate("Well, that's not my department, sorry.".split()))
    seg = Segment("agent", 10, 16, "Well, that's not my department, sorry.", words)
    [flag] = result(one(FORBID), Transcript("t", 16, "", "", (seg,))).flags
    assert (flag.start, flag.end) == (11.0, 14.8)
    [flag] = result(one(FORBID), Transcript("t", 16, "", "", (Segment("agent", 10, 16, seg.text),))).flags
    assert 10.5 < flag.start < 11.5 and 14 < flag.end < 15.5


# --- negation through the parse ---------------------------------------------------------------

@pytest.mark.parametrize("text,flagged", [
    ("I don't know.", True),
    ("That I don't know.", True),
    ("I wouldn't know, sorry.", True),
    ("We really don't know why it happened.", True),
    ("I know exactly what you mean.", False),
    ("You know, the new tariff is cheaper.", False),
    ("Let me know if it arrives.", False),
    ("No problem at all.", False),
    ("There's no charge for that.", False),
    ("I don't know if you've heard about our new plan.", False),
])
def test_dont_know_is_negation_aware(text: str, flagged: bool) -> None:
    assert (default(agent(text), "negative_phrasing.dont_know").status == "fail") is flagged


def test_pattern_negation_and_subject_filters() -> None:
    engine = one({"type": "pattern", "mode": "forbidden", "patterns": [[{"LEMMA": "refund", "POS": "VERB"}]],
                  "negated": True, "subjects": ["we"]})
    assert result(engine, agent("We really cannot refund that payment.")).status == "fail"
    assert result(engine, agent("We won't be able to refund that.")).status == "fail"
    assert result(engine, agent("We will refund that today.")).status == "pass"
    assert result(engine, agent("They don't refund anything, the bank I mean.")).status == "pass"
    assert result(engine, agent("The cancellation fee applies.")).status == "pass"  # no anchor: not parsed


@pytest.mark.parametrize("text,flagged", [
    ("No.", True), ("No, we can't do that.", True), ("There's nothing I can do.", True),
    ("No, but what I can do is set up a payment plan.", False),
    ("No worries, take your time.", False), ("no problem", False), ("Not a problem.", False),
    ("No, you're fine.", False), ("We don't charge for that.", False),
])
def test_bare_no_needs_an_alternative(text: str, flagged: bool) -> None:
    assert (default(agent(text), "negative_phrasing.bare_no").status == "fail") is flagged


def test_blank_pipeline_fallback_warns_and_disables_parse_based_patterns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALLQA_SPACY_MODEL", "no_such_spacy_model_xx")
    checks.reset_nlp()
    try:
        with pytest.warns(RuntimeWarning, match="blank English pipeline"):
            engine = Engine(load_rubric())
            results = {r.criterion: r for r in engine.evaluate(agent(TWO_GAPS))}
        # the phrase tier still works; the wording only the parse finds is missed
        [flag] = results["negative_phrasing.dont_know"].flags
        assert flag.text == "I don't know"
        assert not checks.get_nlp().pipe_names  # blank: no tagger, no parser
    finally:
        monkeypatch.delenv("CALLQA_SPACY_MODEL")
        checks.reset_nlp()
    assert checks.get_nlp().has_pipe("parser")
    assert len(default(agent(TWO_GAPS), "negative_phrasing.dont_know").flags) == 2


TWO_GAPS = "We honestly don't know. I don't know."


# --- conditional --------------------------------------------------------------------------------

FRUSTRATED = ("customer", 0, 4, "This is ridiculous, it's the third time I've called.")


def test_frustration_acknowledged_within_two_agent_turns() -> None:
    cid = "empathy.frustration_acknowledged"
    quick = call(FRUSTRATED, ("agent", 4, 6, "Can I take your account number?"), ("customer", 6, 7, "1234."),
                 ("agent", 7, 10, "Thanks. I completely understand, let me fix it."))
    r = default(quick, cid)
    assert r.status == "pass" and r.flags[0].polarity == "positive" and r.flags[0].speaker == "agent"
    late = call(FRUSTRATED, ("agent", 4, 6, "Account number?"), ("customer", 6, 7, "1234."),
                ("agent", 7, 8, "One moment."), ("customer", 8, 9, "Okay."), ("agent", 9, 11, "I'm so sorry about that."))
    r = default(late, cid)
    assert r.status == "fail"
    [flag] = r.flags
    assert flag.polarity == "negative" and flag.speaker == "customer" and flag.text == "ridiculous"
    assert default(call(("customer", 0, 3, "Hi, I'm moving house."), ("agent", 3, 5, "Sure.")), cid).status == "na"


def test_apology_without_action_looks_at_the_same_and_next_agent_turn() -> None:
    cid = "empathy.apology_without_action"
    assert default(agent("I'm sorry to hear that."), cid).status == "fail"
    assert default(call(("agent", 0, 2, "I'm sorry to hear that."), ("customer", 2, 3, "Yes."),
                        ("agent", 3, 6, "I've already started the refund.")), cid).status == "pass"
    assert default(agent("Okay."), cid).status == "na"


# --- metrics ------------------------------------------------------------------------------------

def test_interruptions_from_overlapping_segments() -> None:
    engine = one({"type": "metric", "metric": "interruptions", "min_s": 1.0, "max": 0})
    over = call(("customer", 0, 6, "My bill doubled and I don't know why."), ("agent", 3, 8, "Right, let me look."))
    r = result(engine, over)
    assert r.status == "fail" and r.value == 1
    assert (r.flags[0].start, r.flags[0].end, r.flags[0].speaker) == (3, 6, "agent")
    brief = call(("customer", 0, 6, "My bill doubled."), ("agent", 5.5, 8, "Mm, let me look."))
    assert result(engine, brief).status == "pass"  # 0.5 s of overlap: a backchannel
    customer_over_agent = call(("agent", 0, 6, "Let me explain."), ("customer", 2, 8, "Wait, no."))
    assert result(engine, customer_over_agent).value == 0


def test_silence_and_holds() -> None:
    long_hold = call(("agent", 0, 3, "One moment."), ("agent", 45, 48, "Thanks for waiting."))
    assert default(long_hold, "hold.long_hold").status == "fail"
    [flag] = default(long_hold, "hold.long_hold").flags
    assert (flag.start, flag.end) == (3, 45)
    assert default(long_hold, "hold.over_five_minutes").status == "pass"
    assert default(call(("agent", 0, 3, "One moment."), ("agent", 400, 403, "Back.")), "hold.over_five_minutes").status == "fail"
    # overlapping speech is not silence
    busy = call(("agent", 0, 20, "a"), ("customer", 10, 40, "b"), ("agent", 39, 60, "c"))
    assert default(busy, "hold.long_hold").status == "na"
    longest = one({"type": "metric", "metric": "longest_hold", "min_s": 5, "max": 60})
    assert result(longest, busy).status == "na"
    assert result(longest, long_hold).value == 42


def test_a_hold_that_only_the_words_show_is_still_a_hold() -> None:
    # a text transcript: turns back to back, no silence to measure
    asked = call(("agent", 0, 3, "Would you mind if I put you on hold while I check?"), ("customer", 3, 4, "Sure."),
                 ("agent", 4, 7, "Thanks for holding, I've found it."))
    assert default(asked, "hold.ask_permission").status == "pass"
    assert default(asked, "hold.thank_after").status == "pass"
    unasked = call(("agent", 0, 3, "Hold on."), ("customer", 3, 6, "I've been on hold for ten minutes now."),
                   ("agent", 6, 9, "Right, so the laptop is covered."))
    assert default(unasked, "hold.ask_permission").status == "fail"
    assert default(unasked, "hold.thank_after").status == "fail"
    no_hold = call(("agent", 0, 3, "Let me check that."), ("agent", 3, 6, "Right, it's covered."))
    assert default(no_hold, "hold.ask_permission").status == "na"


def test_talk_ratio_and_monologue() -> None:
    ratio = one({"type": "metric", "metric": "talk_ratio", "max": 0.7})
    r = result(ratio, call(("agent", 0, 30, "x"), ("customer", 30, 40, "y")))
    assert r.value == 0.75 and r.status == "fail"
    assert result(ratio, agent("only the agent")).status == "na"
    mono = one({"type": "metric", "metric": "longest_monologue", "min_s": 1.5, "max": 60})
    # a one-second "mm-hmm" does not break a monologue; a real turn does
    assert result(mono, call(("agent", 0, 40, "x"), ("customer", 40, 41, "mm"), ("agent", 41, 80, "y"))).value == 80
    assert result(mono, call(("agent", 0, 40, "x"), ("customer", 40, 45, "I see"), ("agent", 45, 80, "y"))).value == 40
    # nor does a pause while the customer does what they were asked
    assert result(mono, call(("agent", 0, 40, "x"), ("agent", 44, 80, "y"))).value == 40


def test_questions_counted_with_or_without_punctuation() -> None:
    engine = one({"type": "metric", "metric": "questions", "min": 2}, polarity="positive")
    assert result(engine, agent("When did it start? So what happened then")).value == 2
    assert result(engine, agent("The bill is ready.")).status == "fail"


def test_customer_name_from_an_introduction_or_an_honorific() -> None:
    cid = "rapport.customer_name"
    intro = call(("customer", 0, 3, "Hi, my name is Helen Price."), ("agent", 3, 6, "Thanks Helen, let me look."))
    assert default(intro, cid).status == "pass"
    assert default(call(("customer", 0, 3, "It's Helen Price."), ("agent", 3, 6, "Okay.")), cid).status == "fail"
    assert default(agent("Thank you, Mrs. Price."), cid).status == "pass"
    assert default(agent("You didn't miss anything."), cid).status == "na"


def _two(fallback_check: dict) -> Engine:
    base = {"category": "np", "section": "t", "speaker": "agent", "polarity": "negative", "message": "m",
            "source": {"seed": "s", "guidance": "g"}}
    doc = {"id": "t", "name": "t", "version": "1", "sections": [{"id": "t", "name": "t", "weight": 1}],
           "criteria": [{**base, "id": "np.dept", "name": "dept",
                         "check": {"type": "phrase", "phrases": ["not my department"], "mode": "forbidden"}},
                        {**base, "id": "np.other", "name": "other", "fallback": True, "check": fallback_check}]}
    return Engine(parse_rubric(json.dumps(doc)))


def test_a_fallback_criterion_flags_only_what_its_category_left_unflagged() -> None:
    engine = _two({"type": "phrase", "phrases": ["department", "not us"], "mode": "forbidden"})
    by_id = {r.criterion: r for r in engine.evaluate(agent("Sorry, that's not my department."))}
    assert by_id["np.dept"].status == "fail" and by_id["np.other"].status == "pass"
    assert by_id["np.other"].flags == ()  # one moment, one flag
    # another sentence of the same turn is a moment of its own
    by_id = {r.criterion: r for r in engine.evaluate(agent("That's not my department. It's the council, not us."))}
    assert by_id["np.dept"].status == "fail"
    assert by_id["np.other"].status == "fail" and [f.text for f in by_id["np.other"].flags] == ["not us"]


def test_a_fallback_criterion_must_forbid() -> None:
    with pytest.raises(Exception, match="fallback: true needs"):
        _two({"type": "phrase", "phrases": ["department"]})
