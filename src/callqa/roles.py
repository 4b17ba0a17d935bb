"""Who is the agent: speaker roles from stereo channels, or on mono calls from diarized voices
and what each turn says (``assign_roles``).

Pure functions over plain data; no model is imported here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from callqa.transcript import AGENT, CUSTOMER, Segment, Word

#: Raise when ``assign_roles`` decides differently: cached mono transcripts made by another
#: version are transcribed again (``transcribe.transcribe_file``); stereo ones stay valid.
MONO_ROLES_VERSION = 2

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


# ---------------------------------------------------------------- mono: voice clusters + text

#: Part of a sentence shorter than this is one the voice encoder had little to go on (its windows
#: are 1.5 s): the sentence rule may give it the voice of the rest of the sentence.
SPLIT_REPAIR_S = 2.5
#: Sentences shorter than this (together) whose words say the other role clearly (STRONG_CUE or
#: more) are given to that role: text sure, and a whole introduction is a few 1.5 s voice windows.
TEXT_OVERRIDE_S = 8.0
STRONG_CUE = 2
#: Words that are a reply on their own ("okay", "yeah"): the other speaker may say them inside a
#: sentence, so the sentence rule leaves them with the voice the diarizer heard.
_BACKCHANNEL = {"okay", "ok", "yeah", "yes", "yep", "yup", "right", "mm", "mhm", "mm-hmm", "uh-huh", "hmm",
                "sure", "alright", "oh", "uh", "um", "no", "great", "perfect", "cool", "thanks"}

# Text cues: (pattern, weight). Positive: the agent says it (introduces themselves with the
# company, offers help, asks for the account, holds, transfers, thanks for calling: "you for
# calling", as tiny.en often hears "thank" as "and" or "send"); negative:
# the customer (describes the problem, gives their own details). "my name is" is in neither: both
# introduce themselves ("Hi, Terry. My name is Suzanne").
_CUES = [
    (r"(thanks|you) for calling", 2), (r"how (can|may|might) i (help|assist)", 2), (r"you'?ve reached", 2),
    (r"you'?re (through|speaking) (to|with)", 2), (r"(who )?am i speaking (with|to)", 2),
    (r"anything else (i|we) can", 2), (r"is there anything else", 2), (r"(can|could|may) i (have|get|take) your", 2),
    (r"thank(s| you) for (holding|waiting|your patience)", 2), (r"(put|place) you on (a )?hold", 2),
    (r"(transfer|put) you (through|over) to", 2), (r"i'?ll transfer you", 2),
    (r"(confirm|verify) (your|the) (name|address|date|account|identity|details|postcode)", 2),
    (r"for (security|verification)", 1), (r"\w+ speaking\b", 1),
    (r"let me (check|look|pull|see|take|read)", 1), (r"i'?ll (check|look|make sure|send)", 1),
    (r"account number", 1), (r"have a (great|good|nice|lovely|wonderful) (day|evening|weekend|one)", 1),
    (r"bear with me", 1), (r"customer (service|support)", 1), (r"you'?ll (have|need) to", 1),
    (r"i can see (your|the|that)", 1), (r"on our (side|end|website|system)", 1), (r"we(?: are|'re) (short|busy)", 1),
    (r"one (second|moment)", 1), (r"(happy|glad) to help", 1),
    (r"i'?m (calling|ringing)", -2), (r"\bmy (bill|account|order|package|payment|service|power|refund|panels?|car)\b", -1),
    (r"i (want|need|would like|wanted) to", -1), (r"i was (charged|billed|told)", -1),
    (r"can you (at least |please )?(help|tell|transfer)", -1), (r"i have a problem", -1),
    (r"i(?:'ve| have)? (just )?(had|got|bought|ordered|moved)\b", -1), (r"will i (get|be)", -1),
    (r"take my business", -1), (r"is there (someone|anyone)", -1), (r"you saved me", -1),
    (r"\bmy (address|postcode|zip code|phone number|date of birth) is", -1),
    (r"\b(i'?m|we'?re|i am|we are) (moving|trying to|looking to|hoping to)", -1),
]
_CUE_RES = [(re.compile(p), w) for p, w in _CUES]


def cue_score(text: str, company: str | None = None) -> int:
    """Text evidence of one turn: the weights of agent cues minus those of customer cues found in
    it (> 0 sounds like the agent); the company's name counts as a strong agent cue, spaces and
    punctuation aside (tiny.en writes "Northwind Energy" as "North wind energy")."""
    text = text.lower()
    score = sum(w * len(rx.findall(text)) for rx, w in _CUE_RES)
    if company and (name := _letters(company)) and name in _letters(text):
        score += STRONG_CUE
    return score


def _letters(text: str) -> str:
    return "".join(c for c in text.lower() if c.isalnum())


@dataclass
class _Stretch:
    """Consecutive words of one voice label (after the sentence rule)."""

    label: int
    words: list[Word]
    moved: int = 0  # words the sentence rule gave another voice than the diarizer did

    @property
    def duration(self) -> float:
        return self.words[-1].end - self.words[0].start

    @property
    def text(self) -> str:
        return _text(self.words)


def _ends_sentence(word: Word) -> bool:
    text = word.text.strip()
    return bool(text) and text[-1] in ".?!"


def _is_backchannel(words: Sequence[Word]) -> bool:
    return all(w.text.strip().strip(".,?!").lower() in _BACKCHANNEL for w in words)


def _one_voice_per_sentence(labelled: list[tuple[int, Word]]) -> list[bool]:
    """The sentence rule: Whisper's sentences (cut at . ? ! and at pauses over TURN_GAP_S) are one
    speaker's. Where the diarizer gave part of a sentence the other voice, and that part is shorter
    than SPLIT_REPAIR_S (the voice encoder's windows are 1.5 s: it had little to go on) and than
    half the rest, and is more than a bare reply ("okay", "yeah"), it takes the voice of the rest.
    Relabels ``labelled`` in place; returns which words moved."""
    moved = [False] * len(labelled)
    start = 0
    for i in range(len(labelled)):
        last = i + 1 == len(labelled)
        if not (last or _ends_sentence(labelled[i][1])
                or labelled[i + 1][1].start - labelled[i][1].end > TURN_GAP_S):
            continue
        sentence = range(start, i + 1)
        start = i + 1
        seconds: dict[int, float] = {}
        for j in sentence:
            label, w = labelled[j]
            seconds[label] = seconds.get(label, 0.0) + max(w.end - w.start, 0.01)
        if len(seconds) < 2:
            continue
        main = max(seconds, key=lambda label: seconds[label])
        rest = [j for j in sentence if labelled[j][0] != main]
        other = sum(seconds.values()) - seconds[main]
        if other < min(SPLIT_REPAIR_S, seconds[main] / 2) and not _is_backchannel([labelled[j][1] for j in rest]):
            for j in rest:
                labelled[j] = (main, labelled[j][1])
                moved[j] = True
    return moved


def _stretches(labelled: Sequence[tuple[int, Word]], moved: Sequence[bool], gap: float = TURN_GAP_S) -> list[_Stretch]:
    out: list[_Stretch] = []
    for (label, word), m in zip(labelled, moved):
        if out and out[-1].label == label and word.start - out[-1].words[-1].end <= gap:
            out[-1].words.append(word)
            out[-1].moved += m
        else:
            out.append(_Stretch(label, [word], int(m)))
    return out


@dataclass(frozen=True)
class RoleDecision:
    """The mono call's turns with roles, which voice label is the agent, and how sure."""

    segments: tuple[Segment, ...]
    agent_label: int
    confidence: float  # 0.5 = a coin toss, 1.0 = voice and text agree throughout (or the user chose)
    moved_by_text: int  # turns given to the other speaker than their voice said


def assign_roles(recognised: Iterable[TimedText], turns: Sequence[tuple[float, float, int]],
                 company: str | None = None, override: str = "auto") -> RoleDecision:
    """Roles of a diarized mono call from voice clusters and what each turn says.

    1. Each word takes the voice label of the diarized turn it falls in.
    2. Sentence rule (``_one_voice_per_sentence``): a short part of one of Whisper's sentences that
       the diarizer gave the other voice takes the voice of the rest of the sentence. Consecutive
       words of one label are then a stretch.
    3. The agent's voice is the label whose stretches carry more agent cues (``cue_score`` of each
       stretch, capped at STRONG_CUE either way so that one turn cannot outvote the call, summed
       over the whole call: evidence late in the call, "anything else I can help with", corrects
       an opening that pointed the other way), plus one for whoever spoke first (inbound calls).
       ``override`` "first"/"second" names the agent's voice instead.
    4. Text over voice: in a stretch, the sentences from the first to the last whose cues say the
       other role by STRONG_CUE or more take that role when they last under TEXT_OVERRIDE_S (the
       agent's introduction diarized into the caller's voice).
    5. Confidence: agree is the cue weight of sentences whose words fit their voice's role,
       disagree the weight of those against it plus one per stretch the sentence rule changed;
       0.5 + 0.5 * (agree - disagree) / max(agree + disagree, 4), at least 0.5 (a coin toss);
       1.0 when the user chose.
    """
    labelled = label_words(recognised, turns)
    if not labelled:
        return RoleDecision((), 0, 0.5, 0)
    stretches = _stretches(labelled, _one_voice_per_sentence(labelled))
    order = list(dict.fromkeys(s.label for s in stretches))
    if override in ("first", "second"):
        agent = order[0 if override == "first" or len(order) == 1 else 1]
    else:
        totals = dict.fromkeys(order, 0)
        for s in stretches:
            totals[s.label] += max(-STRONG_CUE, min(STRONG_CUE, cue_score(s.text, company)))
        totals[order[0]] += 1
        agent = max(order, key=lambda label: (totals[label], label == order[0]))
    agree = disagree = moved = 0
    pieces: list[Segment] = []
    for s in stretches:
        voice = AGENT if s.label == agent else CUSTOMER
        sentences = _sentences(s.words)
        scores = [cue_score(_text(sent), company) * (1 if voice == AGENT else -1) for sent in sentences]
        agree += sum(max(0, v) for v in scores)
        disagree += sum(max(0, -v) for v in scores) + (s.moved > 0)
        moved += s.moved > 0
        against = [i for i, v in enumerate(scores) if v <= -STRONG_CUE]
        if against:
            a, b = against[0], against[-1] + 1
            span = [w for sent in sentences[a:b] for w in sent]
            if span[-1].end - span[0].start < TEXT_OVERRIDE_S:
                other = CUSTOMER if voice == AGENT else AGENT
                parts = [(voice, sentences[:a]), (other, sentences[a:b]), (voice, sentences[b:])]
                pieces += [_segment_from_words(role, [w for sent in part for w in sent]) for role, part in parts if part]
                moved += 1
                continue
        pieces.append(_segment_from_words(voice, s.words))
    if override in ("first", "second"):
        confidence = 1.0
    elif len(order) == 1:
        confidence = 0.5
    else:
        confidence = round(max(0.5, 0.5 + 0.5 * (agree - disagree) / max(agree + disagree, 4)), 2)
    return RoleDecision(_join_turns(merge_timeline(p for p in pieces if p.text)), agent, confidence, moved)


def _sentences(words: Sequence[Word]) -> list[list[Word]]:
    out: list[list[Word]] = [[]]
    for w in words:
        out[-1].append(w)
        if _ends_sentence(w):
            out.append([])
    return [sent for sent in out if sent]


def _text(words: Sequence[Word]) -> str:
    return " ".join(w.text.strip() for w in words if w.text.strip())


def _join_turns(segments: Sequence[Segment], gap: float = TURN_GAP_S) -> tuple[Segment, ...]:
    """Consecutive segments of one role less than ``gap`` apart are one turn."""
    out: list[Segment] = []
    for seg in segments:
        if out and out[-1].speaker == seg.speaker and seg.start - out[-1].end <= gap:
            out[-1] = _segment_from_words(seg.speaker, out[-1].words + seg.words)
        else:
            out.append(seg)
    return tuple(out)
