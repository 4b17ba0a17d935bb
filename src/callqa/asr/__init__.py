"""Speech recognition engines behind one small protocol.

This package is the only place that imports whisper, faster-whisper, torch or the
diarization model. Engines load their model once per process, lazily, on first use.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

import numpy as np

from callqa.errors import ModelError
from callqa.transcript import Word

ENGINES = ("faster-whisper", "openai-whisper")
DEFAULT_ENGINE = "faster-whisper"
DEFAULT_MODEL = "tiny.en"


@dataclass(frozen=True, slots=True)
class EngineOptions:
    """Decoding settings; part of the transcript cache key."""

    beam_size: int = 5
    vad: bool = True
    word_timestamps: bool = True
    language: str | None = "en"
    #: CPU threads per engine (0: the library's default).
    threads: int = 0
    #: Words the call may hold that Whisper would not guess (company, products, places, the
    #: agent's name): given to the model as the prompt of its first 30 s window of speech.
    vocabulary: tuple[str, ...] = ()

    def prompt(self) -> str | None:
        """The vocabulary as Whisper's prompt text ("Northwind Energy, Alice."), or None."""
        return ", ".join(self.vocabulary) + "." if self.vocabulary else None

    def key(self) -> str:
        key = f"beam{self.beam_size}-vad{int(self.vad)}-words{int(self.word_timestamps)}-{self.language}"
        return key + (f"-prompt:{self.prompt()}" if self.vocabulary else "")


@dataclass(frozen=True, slots=True)
class AsrSegment:
    """A stretch of recognised speech from one audio stream, before speaker roles."""

    start: float
    end: float
    text: str
    words: tuple[Word, ...] = ()
    #: the decoder's mean log-probability per token (0.0: not known)
    avg_logprob: float = 0.0

    @property
    def confidence(self) -> float:
        """Mean word probability (1.0 without words)."""
        return sum(w.probability for w in self.words) / len(self.words) if self.words else 1.0


class Transcriber(Protocol):
    engine: str
    model: str

    def transcribe(self, samples: np.ndarray, options: EngineOptions) -> list[AsrSegment]:
        """Transcribe 16 kHz mono float32 samples."""
        ...


@lru_cache(maxsize=4)
def get_transcriber(engine: str = DEFAULT_ENGINE, model: str = DEFAULT_MODEL, threads: int = 0) -> Transcriber:
    """The process-wide transcriber for ``engine`` and ``model`` (created once, loads lazily)."""
    if engine == "faster-whisper":
        from callqa.asr.faster import FasterWhisperTranscriber

        return FasterWhisperTranscriber(model, threads=threads)
    if engine == "openai-whisper":
        from callqa.asr.openai_engine import OpenAIWhisperTranscriber

        return OpenAIWhisperTranscriber(model, threads=threads)
    raise ModelError(f"unknown engine {engine!r}; choose one of: {', '.join(ENGINES)}")
