"""A second pass where it pays: the segments the first model was unsure of, decoded again.

A segment whose mean word probability is under ``SecondPass.below`` is cut from the audio (a
little margin either side) and decoded by a stronger model with a wider beam (the engines keep
Whisper's temperature fallback: a hypothesis that repeats itself or scores under -1 per token is
decoded again hotter). Of the two hypotheses the one with the higher mean log-probability per
token (each model's own ``avg_logprob``) is kept. Segments the first model was sure of are never
decoded twice, so the cost follows how hard the call is.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace

import numpy as np

from callqa.asr import AsrSegment, EngineOptions, Transcriber
from callqa.transcript import Word

SAMPLE_RATE = 16_000


@dataclass(frozen=True, slots=True)
class SecondPass:
    """The second pass's settings; part of the transcript cache key."""

    model: str = "base"
    #: re-decode a segment whose mean word probability is under this
    below: float = 0.6
    beam_size: int = 5
    #: seconds of audio kept either side of the segment
    margin_s: float = 0.2

    def key(self) -> str:
        return f"second:{self.model}-below{self.below:g}-beam{self.beam_size}-margin{self.margin_s:g}"


def segment_score(segments: list[AsrSegment]) -> float:
    """Mean log-probability per token of several segments, weighted by their words."""
    weights = [max(1, len(s.words)) for s in segments]
    return sum(s.avg_logprob * w for s, w in zip(segments, weights)) / sum(weights) if segments else float("-inf")


class TwoPassTranscriber:
    """A transcriber (``asr.Transcriber``) that decodes with ``first``, then its unsure segments with
    ``stronger``. ``stats`` counts segments: decoded (first pass), redecoded, replaced."""

    def __init__(self, first: Transcriber, stronger: Transcriber, second: SecondPass) -> None:
        self.first, self.stronger, self.second = first, stronger, second
        self.engine = first.engine
        self.model = f"{first.model}+{stronger.model}"
        self.stats: Counter[str] = Counter()

    def transcribe(self, samples: np.ndarray, options: EngineOptions) -> list[AsrSegment]:
        return self.refine(samples, self.first.transcribe(samples, options), options)

    def refine(self, samples: np.ndarray, segments: list[AsrSegment], options: EngineOptions) -> list[AsrSegment]:
        """``segments`` (the first pass over ``samples``) with each unsure one replaced by the
        stronger model's hypothesis where that scores better."""
        stronger = replace(options, beam_size=self.second.beam_size)
        out: list[AsrSegment] = []
        for seg in segments:
            self.stats["decoded"] += 1
            if not seg.words or seg.confidence >= self.second.below:
                out.append(seg)
                continue
            self.stats["redecoded"] += 1
            a = max(0, int((seg.start - self.second.margin_s) * SAMPLE_RATE))
            b = min(len(samples), int((seg.end + self.second.margin_s) * SAMPLE_RATE))
            again = [_shifted(s, a / SAMPLE_RATE) for s in self.stronger.transcribe(samples[a:b], stronger)]
            again = [s for s in again if s.text]
            if again and segment_score(again) > seg.avg_logprob:
                self.stats["replaced"] += 1
                out.extend(again)
            else:
                out.append(seg)
        return out


def _shifted(seg: AsrSegment, offset: float) -> AsrSegment:
    words = tuple(Word(w.start + offset, w.end + offset, w.text, w.probability) for w in seg.words)
    return AsrSegment(seg.start + offset, seg.end + offset, seg.text, words, seg.avg_logprob)
