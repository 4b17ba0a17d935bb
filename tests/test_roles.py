"""Speaker roles: channel turns regrouped and merged, diarized words grouped, agent chosen by cues."""

from __future__ import annotations

from callqa import roles
from callqa.asr import AsrSegment
from callqa.transcript import Word


def words(text: str, start: float, step: float = 0.3) -> tuple[Word, ...]:
    return tuple(Word(start + i * step, start + i * step + 0.25, w) for i, w in enumerate(text.split()))


def test_a_channel_segment_spanning_two_turns_is_cut_at_the_pause():
    # Whisper put the agent's two turns in one segment; the customer spoke in the gap.
    seg = AsrSegment(0.0, 9.0, "Hello there. How can I help?", words("Hello there.", 0.0) + words("How can I help?", 8.0))
    turns = roles.split_into_turns([seg], "agent")
    assert [(t.text, t.start) for t in turns] == [("Hello there.", 0.0), ("How can I help?", 8.0)]


def test_merged_timeline_orders_turns_and_keeps_overlaps():
    agent = roles.split_into_turns([AsrSegment(0, 2, "Hi", words("Hi there", 0.0)),
                                    AsrSegment(5, 7, "Sure", words("Sure thing", 5.0))], "agent")
    customer = roles.split_into_turns([AsrSegment(1, 6, "x", words("I need help with my bill please", 4.5))], "customer")
    merged = roles.merge_timeline(agent, customer)
    assert [s.speaker for s in merged] == ["agent", "customer", "agent"]
    assert merged[1].end > merged[2].start  # the agent talked over the customer: kept


def test_diarized_words_are_grouped_by_speaker():
    recognised = [AsrSegment(0, 6, "", words("thank you for calling how can I help", 0.0) + words("my bill is wrong", 3.0))]
    turns = [(0.0, 2.6, 1), (2.9, 4.5, 0)]
    labelled = roles.label_words(recognised, turns)
    agent_label, confidence = roles.choose_agent_label(labelled)
    assert agent_label == 1 and confidence > 0.7
    segments = roles.group_labelled_words(labelled, roles.roles_for(agent_label, {0, 1}))
    assert [(s.speaker, s.text) for s in segments] == [
        ("agent", "thank you for calling how can I help"), ("customer", "my bill is wrong")]


def test_agent_chosen_by_cues_even_when_the_customer_speaks_first():
    labelled = [(0, w) for w in words("hello I'm calling about my bill", 0)] + \
               [(1, w) for w in words("thank you for calling Northwind my name is Sam", 3)]
    assert roles.choose_agent_label(labelled, company="Northwind")[0] == 1
    assert roles.choose_agent_label(labelled, override="first") == (0, 1.0)
    assert roles.choose_agent_label(labelled, override="second") == (1, 1.0)


def test_no_cues_falls_back_to_first_speaker_with_low_confidence():
    labelled = [(0, w) for w in words("hello", 0)] + [(1, w) for w in words("hi", 2)]
    label, confidence = roles.choose_agent_label(labelled)
    assert label == 0 and confidence < 0.7


def test_one_turn_cut_in_two_whisper_segments_is_joined():
    first = AsrSegment(0, 2.9, "so your next", words("so your next", 0.0))
    second = AsrSegment(2.9, 4.0, "bill will come by email", words("bill will come by email", 0.95))
    turns = roles.split_into_turns([first, second], "agent")
    assert [t.text for t in turns] == ["so your next bill will come by email"]
