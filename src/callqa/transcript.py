"""The transcript: plain frozen data passed from transcription to every later stage.

A Transcript is a list of Segments on one timeline; each Segment is one speaker's turn
with its words. Overlapping segments of different speakers are kept as they are:
they are interruptions, and later stages measure them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

AGENT = "agent"
CUSTOMER = "customer"
SPEAKERS = (AGENT, CUSTOMER)

#: Version of the JSON form written by ``Transcript.to_dict``.
JSON_VERSION = 1


def word_spans(text: str, n: int) -> list[tuple[int, int]]:
    """The character spans of a turn's ``n`` recognised words in its ``text``: its
    whitespace-separated tokens, when there are ``n`` of them; [] when they do not line up (a turn
    without words, an imported one)."""
    spans = [m.span() for m in re.finditer(r"\S+", text)]
    return spans if n and len(spans) == n else []


@dataclass(frozen=True, slots=True)
class Word:
    start: float
    end: float
    text: str
    probability: float = 1.0

    def to_dict(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "text": self.text, "probability": self.probability}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Word:
        return cls(float(data["start"]), float(data["end"]), str(data["text"]),
                   float(data.get("probability", 1.0)))


@dataclass(frozen=True, slots=True)
class Segment:
    speaker: str
    start: float
    end: float
    text: str
    words: tuple[Word, ...] = ()

    def __post_init__(self) -> None:
        if self.speaker not in SPEAKERS:
            raise ValueError(f"speaker must be one of {SPEAKERS}, got {self.speaker!r}")
        if self.end < self.start:
            raise ValueError(f"segment ends ({self.end}) before it starts ({self.start})")

    @property
    def duration(self) -> float:
        return self.end - self.start

    def to_dict(self) -> dict[str, Any]:
        return {"speaker": self.speaker, "start": self.start, "end": self.end,
                "text": self.text, "words": [w.to_dict() for w in self.words]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Segment:
        return cls(str(data["speaker"]).lower(), float(data["start"]), float(data["end"]),
                   str(data["text"]).strip(),
                   tuple(Word.from_dict(w) for w in data.get("words") or ()))


@dataclass(frozen=True, slots=True)
class Transcript:
    file: str
    duration: float
    engine: str
    model: str
    segments: tuple[Segment, ...]
    #: How speaker roles were decided: "channels" (stereo), "diarization" (mono),
    #: "labels" (an imported transcript named them), "override" (the user chose).
    roles: str = "channels"
    #: 0..1, how sure the role decision is (1.0 for channels and labels).
    role_confidence: float = 1.0
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def turns(self, speaker: str) -> tuple[Segment, ...]:
        return tuple(s for s in self.segments if s.speaker == speaker)

    @property
    def text(self) -> str:
        return "\n".join(f"{s.speaker.capitalize()}: {s.text}" for s in self.segments)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": JSON_VERSION,
            "file": self.file,
            "duration": self.duration,
            "engine": self.engine,
            "model": self.model,
            "roles": self.roles,
            "role_confidence": self.role_confidence,
            "segments": [s.to_dict() for s in self.segments],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], file: str | None = None) -> Transcript:
        segments = tuple(sorted((Segment.from_dict(s) for s in data["segments"]),
                                key=lambda s: (s.start, s.end)))
        duration = float(data.get("duration") or max((s.end for s in segments), default=0.0))
        return cls(
            file=file or str(data.get("file", "")),
            duration=duration,
            engine=str(data.get("engine", "import")),
            model=str(data.get("model", "")),
            segments=segments,
            roles=str(data.get("roles", "labels")),
            role_confidence=float(data.get("role_confidence", 1.0)),
        )
