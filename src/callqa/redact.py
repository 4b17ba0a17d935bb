"""Personal data out of transcripts and quotes: card numbers, SSNs, e-mail addresses, phone numbers
and long digit runs become placeholders such as ``[CARD]``.

Speech recognisers write numbers as digits ("4111 1111 1111 1111") or, for some speakers, as
words ("four one one one..."); both are caught. Redaction happens before anything is stored
or printed when it is on.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from callqa.transcript import Segment, Transcript, Word

_DIGIT_WORDS = r"(?:zero|oh|one|two|three|four|five|six|seven|eight|nine|double|triple)"
_NUM = rf"(?:\d|{_DIGIT_WORDS}\b)"
#: what may join the groups of a card, SSN or phone number: hyphens (Unicode ones too), slashes
_JOIN = "\\-/\u2010\u2011\u2012\u2013\u2014\u2212"
_SEP = rf"[\s.,{_JOIN}]*"

PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("EMAIL", re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")),
    ("EMAIL", re.compile(r"\b[\w+-]+(?: dot [\w+-]+)* at [\w-]+ dot (?:com|net|org|co\.uk|co uk|edu|gov|io)\b", re.I)),
    ("CARD", re.compile(rf"\b(?:\d{_SEP}){{12,18}}\d\b")),  # 13-19 digits
    ("SSN", re.compile(rf"\b\d{{3}}[{_JOIN}]\d{{2}}[{_JOIN}]\d{{4}}\b")),
    ("PHONE", re.compile(rf"(?:\+\d{{1,3}}[\s.{_JOIN}]?)?\(?\b\d{{3}}\)?[\s.{_JOIN}]\d{{3}}[\s.{_JOIN}]\d{{4}}\b")),
    ("NUMBER", re.compile(rf"\b(?:{_NUM}{_SEP}){{5,}}{_NUM}", re.I)),  # 6+ digits, spoken or written
]


def redact_text(text: str) -> str:
    return _replaced(text, _spans(text))


def redact_message(message: str, *files: str) -> str:
    """An error message with the personal data it quotes replaced; the file names it gives
    (``files``) are kept as they are (a file named with digits is no [NUMBER])."""
    names = sorted({f for f in files if f}, key=len, reverse=True)
    if not names:
        return redact_text(message)
    parts = re.split("(" + "|".join(map(re.escape, names)) + ")", message)
    return "".join(part if i % 2 else redact_text(part) for i, part in enumerate(parts))


def redact_value(value: Any) -> Any:
    """JSON data (a flag's details) with every string in it redacted."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: redact_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_value(v) for v in value]
    return value


def redact_transcript(transcript: Transcript) -> Transcript:
    """The transcript with personal data replaced in every turn and word, marked
    ``extra["redacted"]`` (stored with the call: ``calls.redacted``)."""
    return replace(transcript, segments=tuple(redact_segment(s) for s in transcript.segments),
                   extra={**transcript.extra, "redacted": True})


def redact_segment(segment: Segment) -> Segment:
    spans = _spans(segment.text)
    if not spans:
        return segment
    return replace(segment, text=_replaced(segment.text, spans), words=_redact_words(segment.words))


def _spans(text: str) -> list[tuple[int, int, str]]:
    """Character spans of ``text`` that redaction replaces, sorted: each pattern in turn searches
    the text the ones before it left (their placeholders in place), in one pass per pattern."""
    spans: list[tuple[int, int, str]] = []
    for label, pattern in PATTERNS:
        current = _replaced(text, spans)
        found: list[tuple[int, int, str]] = []
        k, shift = 0, 0  # spans before the match, and how much longer the text they replaced was
        for m in pattern.finditer(current):
            while k < len(spans) and m.start() >= spans[k][0] - shift + len(spans[k][2]):
                shift += spans[k][1] - spans[k][0] - len(spans[k][2])
                k += 1
            # a match never covers a placeholder: no pattern matches "[" or "]"
            found.append((m.start() + shift, m.end() + shift, f"[{label}]"))
        spans = sorted(spans + found)
    return spans


def _replaced(text: str, spans: list[tuple[int, int, str]]) -> str:
    parts, pos = [], 0
    for a, b, placeholder in spans:
        parts += (text[pos:a], placeholder)
        pos = b
    parts.append(text[pos:])
    return "".join(parts)


def _redact_words(words: tuple[Word, ...]) -> tuple[Word, ...]:
    """Words inside a redacted span become one placeholder word over the span's time."""
    spans = _spans(" ".join(w.text for w in words))
    out: list[Word] = []
    i, pos, k = 0, 0, 0  # the word, where it starts in the joined text, the next span
    while i < len(words):
        a, b = pos, pos + len(words[i].text)
        while k < len(spans) and spans[k][1] <= a:
            k += 1
        if k == len(spans) or spans[k][0] >= b:  # no span on this word
            out.append(words[i])
            i, pos = i + 1, b + 1
            continue
        j = i
        while j + 1 < len(words) and b + 1 < spans[k][1]:  # the words the span reaches into
            j += 1
            b += 1 + len(words[j].text)
        out.append(Word(words[i].start, words[j].end, spans[k][2], min(w.probability for w in words[i:j + 1])))
        i, pos = j + 1, b + 1
    return tuple(out)
