"""Who is the agent: speaker roles from stereo channels or from diarized turns plus text cues.

Pure functions over plain data; no model is imported here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Protocol

from callqa.transcript import AGENT, CUSTOMER, Segment, Word

#: A pause longer than this between two words of one speaker starts a new turn.
TURN_GAP_S = 0.8


class TimedText(Protocol):
    """Recognised speech from one stream, before roles (what asr.AsrSegment provides)."""

    start: float
    end: float
    text: str
    words: tuple[Word, ...]


def split_into_turns(segments: Iterable[TimedText], speaker: str, gap: float = TURN_GAP_S) -> list[Segment]:
    """Regroup one speaker's recognised words into turns, cutting only at pauses longer than ``gap``.

    Whisper segments can span two turns of a channel with the other speaker's turn in
    between (silence on this channel), or cut one turn in two mid-sentence; regrouping the
    words by pauses puts each turn at its own time, so the merged timeline reads in the
    order the call was spoken.
    """
    turns: list[Segment] = []
    current: list[Word] = []
    for seg in segments:
        if not seg.words:  # an engine without word times: keep its segment as a turn
            if current:
                turns.append(_segment_from_words(speaker, current))
                current = []
            if seg.text:
                turns.append(Segment(speaker, seg.start, max(seg.end, seg.start), seg.text))
            continue
        for word in seg.words:
            if current and word.start - current[-1].end > gap:
                turns.append(_segment_from_words(speaker, current))
                current = []
            current.append(word)
    if current:
        turns.append(_segment_from_words(speaker, current))
    return [t for t in turns if t.text]


def _segment_from_words(speaker: str, words: Sequence[Word]) -> Segment:
    text = " ".join(w.text for w in words if w.text).replace(" ,", ",")
    return Segment(speaker, words[0].start, max(words[-1].end, words[0].start), text, tuple(words))


def merge_timeline(*streams: Iterable[Segment]) -> tuple[Segment, ...]:
    """All speakers' turns on one timeline, ordered by start; overlaps are kept."""
    return tuple(sorted((s for stream in streams for s in stream), key=lambda s: (s.start, s.end)))


def label_words(segments: Iterable[TimedText], turns: Sequence[tuple[float, float, int]]) -> list[tuple[int, Word]]:
    """Give each recognised word the diarized speaker label whose turn overlaps it most.

    ``turns`` are (start, end, label) from diarization; a word outside every turn takes
    the nearest turn's label.
    """
    labelled: list[tuple[int, Word]] = []
    for seg in segments:
        words = seg.words or (Word(seg.start, seg.end, seg.text),)
        for word in words:
            labelled.append((_label_at(turns, word.start, word.end), word))
    return labelled


def _label_at(turns: Sequence[tuple[float, float, int]], start: float, end: float) -> int:
    best, best_overlap, nearest, nearest_gap = 0, 0.0, 0, float("inf")
    for t_start, t_end, label in turns:
        overlap = min(end, t_end) - max(start, t_start)
        if overlap > best_overlap:
            best, best_overlap = label, overlap
        gap = max(t_start - end, start - t_end, 0.0)
        if gap < nearest_gap:
            nearest, nearest_gap = label, gap
    return best if best_overlap > 0 else nearest


def group_labelled_words(labelled: Sequence[tuple[int, Word]], roles: dict[int, str],
                         gap: float = TURN_GAP_S) -> tuple[Segment, ...]:
    """Consecutive words of one label become one turn; a change of label or a long pause cuts."""
    segments: list[Segment] = []
    current: list[Word] = []
    current_label: int | None = None
    for label, word in labelled:
        if current and (label != current_label or word.start - current[-1].end > gap):
            segments.append(_segment_from_words(roles[current_label], current))
            current = []
        current.append(word)
        current_label = label
    if current:
        segments.append(_segment_from_words(roles[current_label], current))
    return merge_timeline(s for s in segments if s.text)


# Cues that a speaker is the agent (greets with the company, offers help) or the customer.
_AGENT_CUES = [
    r"thank(s| you) for calling", r"how (can|may|might) i (help|assist)", r"my name is",
    r"this is \w+( \w+)? speaking", r"you'?ve reached", r"(can|could|may) i (have|get|take) your",
    r"anything else i can", r"let me (check|look|pull|see|take|read)", r"i'?ll (check|look|make sure|send)",
    r"account number", r"have a (great|good|nice|lovely|wonderful) (day|evening|weekend)", r"speaking with",
    r"thank you for (holding|waiting|your patience)", r"bear with me", r"customer (service|support)",
    r"you'?ll (have|need) to", r"i can see (your|the|that)", r"on our (side|end|website)",
    r"we(?: are|'re) (short|busy)", r"(put you|place you) on (a )?hold",
]
_CUSTOMER_CUES = [
    r"i'?m calling", r"\bmy (bill|account|order|package|payment|service|power|refund|panels?)\b",
    r"i (want|need|would like|wanted) to", r"i was (charged|billed|told)", r"can you (at least |please )?(help|tell|transfer)",
    r"i have a problem", r"i(?:'ve| have)? (just )?(had|got|bought|ordered|moved)\b", r"will i (get|be)",
    r"take my business", r"is there (someone|anyone)",
]
_AGENT_RE = re.compile("|".join(f"(?:{c})" for c in _AGENT_CUES))
_CUSTOMER_RE = re.compile("|".join(f"(?:{c})" for c in _CUSTOMER_CUES))


def agent_cue_score(texts: Iterable[str], company: str | None = None) -> int:
    """Agent cues minus customer cues found in one speaker's words."""
    text = " ".join(texts).lower()
    score = len(_AGENT_RE.findall(text)) - len(_CUSTOMER_RE.findall(text))
    if company and company.lower() in text:
        score += 1
    return score


def choose_agent_label(labelled: Sequence[tuple[int, Word]], company: str | None = None,
                       override: str = "auto") -> tuple[int, float]:
    """Which diarized label is the agent, and how sure (0.5 = a coin toss, 1.0 = certain).

    ``override``: "auto" (text cues, then who spoke first), "first" (the first speaker
    is the agent: inbound calls), or "second".
    """
    order: list[int] = []
    for label, _ in labelled:
        if label not in order:
            order.append(label)
    if not order:
        return 0, 0.5
    if override in ("first", "second"):
        idx = 0 if override == "first" or len(order) == 1 else 1
        return order[idx], 1.0
    if len(order) == 1:
        return order[0], 0.5
    words_of = {label: [w.text for lab, w in labelled if lab == label] for label in order}
    scores = {label: agent_cue_score(words_of[label], company) for label in order}
    scores[order[0]] += 1  # inbound calls: the agent usually answers, so speaks first
    a, b = order[0], order[1]
    margin = scores[a] - scores[b]
    if margin == 0:
        return a, 0.55  # the evidence is balanced: a guess
    winner = a if margin > 0 else b
    return winner, min(1.0, 0.5 + 0.1 * abs(margin))


def roles_for(agent_label: int, labels: Iterable[int]) -> dict[int, str]:
    return {label: (AGENT if label == agent_label else CUSTOMER) for label in labels}
