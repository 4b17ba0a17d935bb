"""Personal data out of transcripts and quotes: card numbers, SSNs, e-mail addresses, phone numbers
and long digit runs become placeholders such as ``[CARD]``.

Speech recognisers write numbers as digits ("4111 1111 1111 1111") or, for some speakers, as
words ("four one one one..."); both are caught. Redaction happens before anything is stored
or printed when it is on.
"""

from __future__ import annotations

import re
from dataclasses import replace

from callqa.transcript import Segment, Transcript, Word

_DIGIT_WORDS = r"(?:zero|oh|one|two|three|four|five|six|seven|eight|nine|double|triple)"
_NUM = rf"(?:\d|{_DIGIT_WORDS}\b)"
_SEP = r"[\s.\-,]*"

PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("EMAIL", re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")),
    ("EMAIL", re.compile(r"\b[\w+-]+(?: dot [\w+-]+)* at [\w-]+ dot (?:com|net|org|co\.uk|co uk|edu|gov|io)\b", re.I)),
    ("CARD", re.compile(rf"\b(?:\d{_SEP}){{12,18}}\d\b")),  # 13-19 digits
    ("SSN", re.compile(r"\b\d{3}-\d{2}-\d{4}\b")),
    ("PHONE", re.compile(r"(?:\+\d{1,3}[\s.-]?)?\(?\b\d{3}\)?[\s.-]\d{3}[\s.-]\d{4}\b")),
    ("NUMBER", re.compile(rf"\b(?:{_NUM}{_SEP}){{5,}}{_NUM}", re.I)),  # 6+ digits, spoken or written
]


def redact_text(text: str) -> str:
    for label, pattern in PATTERNS:
        text = pattern.sub(f"[{label}]", text)
    return text


def redact_transcript(transcript: Transcript) -> Transcript:
    """The transcript with personal data replaced in every turn and word."""
    return replace(transcript, segments=tuple(_redact_segment(s) for s in transcript.segments))


def _redact_segment(segment: Segment) -> Segment:
    text = redact_text(segment.text)
    if text == segment.text:
        return segment
    return replace(segment, text=text, words=_redact_words(segment.words, text))


def _spans(text: str) -> list[tuple[int, int, str]]:
    """Character spans of ``text`` that redaction replaces, in order, without overlaps."""
    spans: list[tuple[int, int, str]] = []
    for label, pattern in PATTERNS:
        for m in pattern.finditer(text):
            if not any(m.start() < b and a < m.end() for a, b, _ in spans):
                spans.append((m.start(), m.end(), f"[{label}]"))
    return sorted(spans)


def _redact_words(words: tuple[Word, ...], _redacted: str) -> tuple[Word, ...]:
    """Words inside a redacted span become one placeholder word over the span's time."""
    offsets, pos = [], 0
    for w in words:
        offsets.append((pos, pos + len(w.text)))
        pos += len(w.text) + 1
    spans = _spans(" ".join(w.text for w in words))
    out: list[Word] = []
    i = 0
    while i < len(words):
        a, b = offsets[i]
        span = next((s for s in spans if s[0] < b and a < s[1]), None)
        if span is None:
            out.append(words[i])
            i += 1
            continue
        j = i
        while j + 1 < len(words) and offsets[j + 1][0] < span[1]:
            j += 1
        out.append(Word(words[i].start, words[j].end, span[2], min(w.probability for w in words[i:j + 1])))
        i = j + 1
    return tuple(out)
