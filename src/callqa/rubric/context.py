"""One transcript as the checks see it: ``CallContext``, built by the engine once per transcript.

It holds what is computed once per transcript (normalized texts, token sets, scopes, the
detectors' memo) and what the detectors asked for in their ``prepare`` pass, so that spaCy and the
sentence encoder run once per call: ``matchers.parsed_doc`` fills ``docs``, ``semantic.sentence_vectors``
fills ``vectors``, ``metrics.call_gaps`` memoizes the silent gaps.

It sits at the bottom of rubric/: checks, matchers, metrics and semantic import it, and it imports
none of them (nor the engine); an import-linter contract in pyproject.toml keeps it so.
"""

from __future__ import annotations

import bisect
from collections import Counter
from typing import TYPE_CHECKING, Any, Protocol

from callqa.transcript import Segment, Transcript, Word, word_spans

from .text import normalize, tokens

if TYPE_CHECKING:
    from .schema import Window


#: Segments parsed by spaCy in this process (benchmarks report it).
STATS: Counter[str] = Counter()


class CandidateIndex(Protocol):
    """What the context needs of the phrase index (``matchers.PhraseIndex``)."""

    def candidates(self, seg_tokens: list[frozenset[str]]) -> dict[int, dict[int, set[int]]]: ...


class CallContext:
    def __init__(self, transcript: Transcript, index: CandidateIndex):
        self.transcript = transcript
        self.segments: tuple[Segment, ...] = transcript.segments
        self.duration = max(transcript.duration, max((s.end for s in self.segments), default=0.0))
        #: names and terms the call may hold, as Whisper was prompted with them (the company, the
        #: vocabulary setting, the agent's name): ``services`` puts them in ``extra["vocabulary"]``
        self.vocabulary: tuple[str, ...] = tuple(transcript.extra.get("vocabulary") or ())
        self.normed = [normalize(s.text) for s in self.segments]
        self.tokens = [tokens(n) for n in self.normed]
        self._index = index
        self._candidates: dict[int, dict[int, set[int]]] | None = None
        #: Detectors' results for this transcript, by (detector, segments).
        self.memo: dict[tuple[Any, ...], Any] = {}
        self._scopes: dict[tuple[str, Window | None], list[int]] = {}
        #: segments some pattern check will parse (``want_parse``), and the spaCy Docs parsed
        #: (``matchers.parsed_doc``)
        self.parse_wanted: set[int] = set()
        self.docs: dict[int, Any] = {}
        #: segments some semantic check will embed, per encoder (``want_vectors``), and their
        #: sentence spans and vectors (``semantic.sentence_vectors``)
        self.vectors_wanted: dict[str, set[int]] = {}
        self.vectors: dict[tuple[str, int], tuple[list[tuple[int, int]], Any]] = {}
        self._word_starts: dict[int, list[int]] = {}

    def scope(self, speaker: str, window: Window | None) -> list[int]:
        """Indexes of the segments by ``speaker`` ("any": all) overlapping ``window``."""
        key = (speaker, window)
        if key not in self._scopes:
            lo, hi = self.bounds(window)
            self._scopes[key] = [i for i, s in enumerate(self.segments)
                                 if (speaker == "any" or s.speaker == speaker)
                                 and (window is None or (s.start < hi and s.end > lo))]
        return self._scopes[key]

    def bounds(self, window: Window | None) -> tuple[float, float]:
        return window.bounds(self.duration) if window else (0.0, self.duration)

    def candidates(self, det: int) -> dict[int, set[int]]:
        """Segment → indexes of phrase detector ``det``'s phrases sharing an anchor word with it."""
        if self._candidates is None:
            self._candidates = self._index.candidates(self.tokens)
        return self._candidates.get(det, {})

    def want_parse(self, segs: list[int]) -> None:
        self.parse_wanted.update(segs)

    def want_vectors(self, encoder: str, segs: list[int]) -> None:
        self.vectors_wanted.setdefault(encoder, set()).update(segs)

    def time(self, seg: int, a: int, b: int) -> tuple[float, float]:
        """Seconds for characters [a, b) of a segment: from its words' timestamps when they
        line up with the text's words, else interpolated along the segment."""
        s = self.segments[seg]
        words = self.words_at(seg, a, b)
        if words:
            return words[0].start, words[-1].end
        n = len(s.text)
        if n == 0:
            return s.start, s.end
        return s.start + s.duration * a / n, s.start + s.duration * b / n

    def words_at(self, seg: int, a: int, b: int) -> tuple[Word, ...]:
        """The recognised words that characters [a, b) of a segment cover (the flag's evidence);
        () when the segment has no words or they do not line up with its text."""
        s = self.segments[seg]
        if not s.words:
            return ()
        starts = self._word_starts.get(seg)
        if starts is None:
            starts = self._word_starts[seg] = [a for a, _ in word_spans(s.text, len(s.words))]
        if not starts:
            return ()
        wi = max(0, bisect.bisect_right(starts, a) - 1)
        wj = max(wi, bisect.bisect_left(starts, b) - 1)
        return s.words[wi:wj + 1]

    def confidence(self, seg: int, a: int, b: int) -> float | None:
        """How sure the transcript is of characters [a, b): the lowest probability of the words
        they cover; None without words."""
        return min((w.probability for w in self.words_at(seg, a, b)), default=None)
