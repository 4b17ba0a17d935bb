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
