"""Personal data is replaced in text and in word lists, timing kept."""

from __future__ import annotations

import pytest

from callqa.redact import redact_text, redact_transcript
from callqa.transcript import Segment, Transcript, Word


@pytest.mark.parametrize("said,expected", [
    ("my card is 4111 1111 1111 1111 thanks", "my card is [CARD] thanks"),
    ("card number 4111-1111-1111-1111", "card number [CARD]"),
    ("email me at john.smith@example.com please", "email me at [EMAIL] please"),
    ("it's john dot smith at gmail dot com", "it's [EMAIL]"),
    ("call me on 555-123-4567", "call me on [PHONE]"),
    ("my social is 123-45-6789", "my social is [SSN]"),
    ("account four four seven one nine two", "account [NUMBER]"),
    ("reference 12345678", "reference [NUMBER]"),
])
def test_personal_data_is_replaced(said, expected):
    assert redact_text(said) == expected


@pytest.mark.parametrize("said", [
    "the refund of 84 dollars goes back in three business days",
    "order 12345 shipped on the 12th of November",
    "no problem at all",
])
def test_ordinary_numbers_and_words_stay(said):
    assert redact_text(said) == said


def test_words_inside_a_redacted_span_become_one_placeholder_with_its_time():
    words = tuple(Word(float(i), i + 0.5, w) for i, w in enumerate("my card is 4111 1111 1111 1111 thanks".split()))
    t = Transcript("c.wav", 10, "x", "y", (Segment("customer", 0, 8, " ".join(w.text for w in words), words),))
    seg = redact_transcript(t).segments[0]
    assert seg.text == "my card is [CARD] thanks"
    assert [w.text for w in seg.words] == ["my", "card", "is", "[CARD]", "thanks"]
    assert (seg.words[3].start, seg.words[3].end) == (3.0, 6.5)
    assert "4111" not in repr(seg)


@pytest.mark.parametrize("dash", ["\u2010", "\u2011", "\u2012", "\u2013", "\u2212", "/"])
def test_cards_ssns_and_phones_written_with_unicode_hyphens_or_slashes_are_replaced(dash):
    """Issue 16, item 2: "4111‐1111‐1111‐1111" (U+2010) and "4111/1111/1111/1111" were stored as said."""
    said = f"card 4111{dash}1111{dash}1111{dash}1111, social 123{dash}45{dash}6789, phone 555{dash}867{dash}5309."
    assert redact_text(said) == "card [CARD], social [SSN], phone [PHONE]."


def test_a_long_turn_with_many_numbers_keeps_each_placeholder_on_its_words():
    """Each of many redacted spans in one long turn (the issue's 240 KB turn took 12 times as long
    to redact as to score) lands on its own words, with their time."""
    said = "my card is 4111 1111 1111 1111 and my email jo@example.com ok " * 300
    words = tuple(Word(float(i), i + 0.5, w) for i, w in enumerate(said.split()))
    t = Transcript("c.wav", 1e4, "x", "y", (Segment("customer", 0, 1e4, " ".join(w.text for w in words), words),))
    seg = redact_transcript(t).segments[0]
    assert seg.text == "my card is [CARD] and my email [EMAIL] ok " * 299 + "my card is [CARD] and my email [EMAIL] ok"
    assert [w.text for w in seg.words] == seg.text.split()
    cards = [w for w in seg.words if w.text == "[CARD]"]
    assert len(cards) == 300 and (cards[-1].start, cards[-1].end) == (12.0 * 299 + 3, 12.0 * 299 + 6.5)


def test_an_error_message_keeps_its_file_name_and_loses_the_personal_data_it_quotes():
    from callqa.redact import redact_message

    message = "calls/0612345678.txt:1: expected a speaker prefix, got '4111 1111 1111 1111 is my card'"
    assert redact_message(message, "calls/0612345678.txt") == \
        "calls/0612345678.txt:1: expected a speaker prefix, got '[CARD] is my card'"
