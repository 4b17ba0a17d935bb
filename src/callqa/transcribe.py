"""Transcription stage: a recording (or an existing transcript file) in, a speaker-labelled Transcript out.

Stereo: each channel is transcribed on its own (voice activity detection on), its words
regrouped into turns, and both channels merged on one timeline; which channel is the
agent is a setting. Mono: the whole call is transcribed, diarized into two speakers, each
word given the speaker whose turn it falls in, and roles decided from the voices and the text
(roles.assign_roles).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePath
from typing import TYPE_CHECKING

from callqa import roles
from callqa.cache import cache_dir
from callqa.audio import AUDIO_SUFFIXES, Audio, content_hash, decode, is_audio_file, refuse_special_file
from callqa.cache import TranscriptCache, cache_key
from callqa.errors import CallQAError
from callqa.importers import TRANSCRIPT_SUFFIXES, is_transcript_file, load_transcript
from callqa.parallel import default_workers, run_all, worker_count
from callqa.sidecar import SIDECAR_NAMES
from callqa.transcript import AGENT, CUSTOMER, Transcript
from callqa.workspace import MAX_CALL_MINUTES, MAX_TRANSCRIPT_MB, LimitError, Workspace

if TYPE_CHECKING:  # numpy loads with the first recording, not to score stored calls
    import numpy as np

# NB: callqa.asr is imported inside functions: importing this module loads no model.

#: Two channels this alike are one signal duplicated: treat the call as mono.
_DUPLICATE_CHANNEL_CORRELATION = 0.98


@dataclass(frozen=True)
class TranscribeSettings:
    engine: str = "faster-whisper"
    model: str = "tiny.en"
    beam_size: int = 5
    vad: bool = True
    agent_channel: str = "left"  # stereo: "left" or "right"
    mono_agent: str = "auto"  # mono: "auto" (text cues), "first" or "second" speaker
    company: str | None = None  # a company name the agent says, a cue for mono roles
    #: words given to Whisper as a prompt (the company's name first, then the vocabulary setting and
    #: the call's agent name); services add the agent's per call
    vocabulary: tuple[str, ...] = ()
    second_pass: str | None = None  # a stronger model for the segments the first was unsure of
    second_pass_below: float = 0.6  # ... those whose mean word probability is under this
    use_cache: bool = True
    threads: int = 0
    max_call_minutes: int = MAX_CALL_MINUTES
    max_transcript_mb: int = MAX_TRANSCRIPT_MB

    @classmethod
    def of(cls, ws: Workspace) -> TranscribeSettings:
        """The transcription settings of a workspace."""
        return cls(engine=ws.engine, model=ws.model, beam_size=ws.beam_size, vad=ws.vad,
                   agent_channel=ws.agent_channel, mono_agent=ws.mono_agent, company=ws.company,
                   vocabulary=ws.vocabulary, second_pass=ws.second_pass, second_pass_below=ws.second_pass_below,
                   use_cache=ws.cache, max_call_minutes=ws.max_call_minutes,
                   max_transcript_mb=ws.max_transcript_mb)

    def with_words(self, *words: str | None) -> TranscribeSettings:
        """These settings with ``words`` added to the vocabulary (a call's agent name)."""
        return replace(self, vocabulary=self.vocabulary + tuple(w for w in words if w))

    def options(self):
        from callqa.asr import EngineOptions

        words = dict.fromkeys(w.strip() for w in (self.company or "", *self.vocabulary) if w.strip())
        return EngineOptions(beam_size=self.beam_size, vad=self.vad, threads=self.threads, vocabulary=tuple(words))

    def second(self):
        from callqa.asr.second_pass import SecondPass

        return SecondPass(self.second_pass, self.second_pass_below) if self.second_pass else None

    def key_parts(self) -> tuple[str, ...]:
        second = self.second()
        return (self.engine, self.model, self.options().key(), self.agent_channel, self.mono_agent,
                self.company or "", *((second.key(),) if second else ()))


def transcribe_file(path: str | Path, settings: TranscribeSettings = TranscribeSettings()) -> Transcript:
    """Transcribe one recording, or import a transcript file; raises CallQAError on bad input."""
    path = Path(path)
    refuse_special_file(path)
    if is_transcript_file(path):
        return _imported(path, settings)
    if settings.agent_channel not in ("left", "right"):
        raise CallQAError(f"agent channel must be 'left' or 'right', not {settings.agent_channel!r}")
    digest = content_hash(path)
    cache = TranscriptCache(cache_dir() / "transcripts") if settings.use_cache else None
    key = cache_key(digest, *settings.key_parts())
    if cache and (hit := cache.get(key, str(path))) and not _stale_roles(hit):
        _refuse_long(path, f"the recording is {LimitError.minutes(hit.duration / 60)} long", hit.duration, settings)
        return hit
    audio = decode(path, max_minutes=settings.max_call_minutes)
    transcript = _transcribe_audio(audio, settings)
    transcript = replace(transcript, extra={**transcript.extra, "sha256": digest})
    if cache:
        cache.put(key, transcript)
    return transcript


def _stale_roles(cached: Transcript) -> bool:
    """A mono transcript whose roles an older ``roles.assign_roles`` decided."""
    return cached.roles != "channels" and cached.extra.get("mono_roles_version") != roles.MONO_ROLES_VERSION


def _imported(path: Path, settings: TranscribeSettings) -> Transcript:
    """A transcript file, within the size and duration limits."""
    try:
        size = path.stat().st_size
    except OSError:
        size = 0  # the importer says what is wrong with the file
    if size > settings.max_transcript_mb * 1_000_000:
        raise LimitError(path, f"the transcript is {size / 1e6:.1f} MB", "max-transcript-mb",
                         f"{settings.max_transcript_mb} MB")
    transcript = load_transcript(path)
    _refuse_long(path, f"its times run to {LimitError.minutes(transcript.duration / 60)}", transcript.duration, settings)
    return transcript


def _refuse_long(path: Path, what: str, seconds: float, settings: TranscribeSettings) -> None:
    if seconds > settings.max_call_minutes * 60:
        raise LimitError(path, what, "max-call-minutes", LimitError.minutes(settings.max_call_minutes))


def _transcribe_audio(audio: Audio, settings: TranscribeSettings) -> Transcript:
    from callqa.asr import get_transcriber

    transcriber = get_transcriber(settings.engine, settings.model, settings.threads)
    if second := settings.second():
        from callqa.asr.second_pass import TwoPassTranscriber

        transcriber = TwoPassTranscriber(transcriber, get_transcriber(settings.engine, second.model, settings.threads),
                                         second)
    options = settings.options()
    if audio.n_channels == 2 and not _is_duplicated(audio.channels):
        agent_idx = 0 if settings.agent_channel == "left" else 1
        agent = roles.split_into_turns(transcriber.transcribe(audio.channels[agent_idx], options), AGENT)
        customer = roles.split_into_turns(transcriber.transcribe(audio.channels[1 - agent_idx], options), CUSTOMER)
        segments, how, confidence, extra = roles.merge_timeline(agent, customer), "channels", 1.0, {}
    else:
        segments, confidence, extra = _mono(audio.mono(), transcriber, options, settings)
        how = "override" if settings.mono_agent != "auto" else "diarization"
    return Transcript(file=str(audio.path), duration=audio.duration, engine=transcriber.engine,
                      model=transcriber.model, segments=segments, roles=how, role_confidence=confidence,
                      extra={"channels": audio.n_channels, "source_rate": audio.source_rate, **extra})


def _mono(samples: np.ndarray, transcriber, options, settings: TranscribeSettings):
    from callqa.asr.diarize import diarize

    recognised = transcriber.transcribe(samples, options)
    turns = [(t.start, t.end, t.speaker) for t in diarize(samples)]
    decision = roles.assign_roles(recognised, turns, settings.company, settings.mono_agent)
    return decision.segments, decision.confidence, {"speakers_found": len({t[2] for t in turns}),
                                                    "turns_moved_by_text": decision.moved_by_text,
                                                    "mono_roles_version": roles.MONO_ROLES_VERSION}


def _is_duplicated(channels: np.ndarray) -> bool:
    import numpy as np

    left, right = channels[0], channels[1]
    if np.allclose(left, right, atol=1e-4):
        return True
    denom = float(np.linalg.norm(left) * np.linalg.norm(right))
    return denom > 0 and float(np.dot(left, right)) / denom > _DUPLICATE_CHANNEL_CORRELATION


# --- many files -------------------------------------------------------------------------

def is_input_file(path: Path) -> bool:
    return is_audio_file(path) or is_transcript_file(path)


def find_inputs(paths: Iterable[str | Path]) -> list[Path]:
    """Files named, plus recordings and transcripts found under folders named (recursively);
    none at all is an error."""
    return [path for path, _ in named_inputs(paths)]


def named_inputs(paths: Iterable[str | Path]) -> list[tuple[Path, PurePath]]:
    """``find_inputs`` with each file's name under the folder it was found in (a file named
    itself: its name), e.g. ``a/call.txt``: what ``transcribe -o`` names its output after."""
    paths = list(paths)
    found: list[tuple[Path, PurePath]] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            # a dangling link is kept, so that it fails with its name rather than vanishing
            found.extend((p, p.relative_to(path)) for p in sorted(
                p for p in path.rglob("*") if (p.is_file() or (p.is_symlink() and not p.exists()))
                and p.name not in SIDECAR_NAMES and is_input_file(p)))
        else:
            found.append((path, PurePath(path.name)))
    if not found:
        raise CallQAError(f"no recordings or transcripts found in {', '.join(map(str, paths))}; callqa reads "
                          f"audio ({', '.join(sorted(AUDIO_SUFFIXES))}) and transcripts "
                          f"({', '.join(sorted(TRANSCRIPT_SUFFIXES))})")
    return found


@dataclass(frozen=True)
class Outcome:
    path: Path
    transcript: Transcript | None = None
    error: str | None = None
    extra: dict = field(default_factory=dict)


def _worker(settings: TranscribeSettings, path: Path) -> Outcome:
    try:
        return Outcome(path, transcribe_file(path, settings))
    except CallQAError as exc:
        return Outcome(path, error=str(exc))
    except Exception as exc:  # a bug or a library failure on one file must not end the batch
        return Outcome(path, error=f"{path}: unexpected {type(exc).__name__}: {exc}")


def transcribe_many(paths: list[Path], settings: TranscribeSettings, workers: int | None = 1) -> Iterator[Outcome]:
    """Transcribe files in ``workers`` processes (None: every core; never more than files or
    cores; each loads the model once); yields as they finish."""
    workers = worker_count(workers, len(paths))
    if workers > 1:
        settings = replace(settings, threads=settings.threads or max(1, default_workers() // workers))
    yield from run_all(_worker, ((path,) for path in paths), workers, shared=settings)
