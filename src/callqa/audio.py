"""Decode any recording to 16 kHz float32, one array per channel, with PyAV (no ffmpeg binary)."""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from callqa.errors import AudioError, CallQAError
from callqa.workspace import LimitError

if TYPE_CHECKING:  # numpy loads with the first recording decoded, not to hash files
    import numpy as np

SAMPLE_RATE = 16_000
AUDIO_SUFFIXES = frozenset({".wav", ".flac", ".mp3", ".ogg", ".oga", ".opus", ".m4a", ".aac", ".webm", ".wma"})


@dataclass(frozen=True)
class Audio:
    """Decoded audio: ``channels`` has shape (n_channels, n_samples) at 16 kHz."""

    path: Path
    channels: np.ndarray
    source_rate: int

    @property
    def duration(self) -> float:
        return self.channels.shape[1] / SAMPLE_RATE

    @property
    def n_channels(self) -> int:
        return self.channels.shape[0]

    def mono(self) -> np.ndarray:
        import numpy as np

        return self.channels.mean(axis=0).astype(np.float32)


def is_audio_file(path: Path) -> bool:
    return path.suffix.lower() in AUDIO_SUFFIXES


def refuse_special_file(path: Path) -> None:
    """A named pipe or a device would be read forever (or block until a writer comes): only
    regular files are inputs. A missing or unreadable file is left to the reader's error."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return
    if not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):
        kind = "a named pipe" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode) else "a device"
        raise CallQAError(f"{path}: is {kind}, not a file; give a recording or transcript file")


def content_hash(path: Path) -> str:
    """SHA-256 of the file's bytes: the key of a recording whatever its name."""
    digest = hashlib.sha256()
    refuse_special_file(path)
    try:
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    except OSError as exc:
        raise AudioError(f"{path}: cannot read the file ({exc.strerror}); check it exists and is readable") from exc
    return digest.hexdigest()


def decode(path: str | Path, max_minutes: float | None = None) -> Audio:
    """Decode ``path`` to float32 at 16 kHz, keeping its channels apart (at most two). A recording
    over ``max_minutes`` fails before decoding when its header says how long it is, else as soon as
    decoding passes the limit."""
    import av  # local import: PyAV is heavy to import and only needed here

    path = Path(path)
    if not path.exists():
        raise AudioError(f"{path}: no such file")
    if path.is_dir():
        raise AudioError(f"{path}: is a folder, not a recording")
    try:
        size = path.stat().st_size
        if size == 0:
            raise AudioError(f"{path}: the file is empty (0 bytes); re-export the recording")
        container = av.open(str(path), metadata_errors="ignore")
    except AudioError:
        raise
    except PermissionError as exc:
        raise AudioError(f"{path}: permission denied; make the file readable") from exc
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise AudioError(f"{path}: not a readable audio file ({exc}); is it a recording in "
                         f"wav/flac/mp3/ogg/m4a/opus?") from exc
    with container:
        streams = container.streams.audio
        if not streams:
            raise AudioError(f"{path}: has no audio stream")
        stream = streams[0]
        declared = (float(stream.duration * stream.time_base) if stream.duration and stream.time_base
                    else container.duration / av.time_base if container.duration else 0.0)
        if max_minutes and declared > max_minutes * 60:
            raise _too_long(path, declared, max_minutes)
        max_samples = max_minutes * 60 * SAMPLE_RATE if max_minutes else float("inf")
        n_in = stream.codec_context.channels or 1
        layout = "stereo" if n_in >= 2 else "mono"
        resampler = av.AudioResampler(format="fltp", layout=layout, rate=SAMPLE_RATE)
        samples = _Samples(2 if n_in >= 2 else 1, int(min(declared * SAMPLE_RATE, max_samples)) + SAMPLE_RATE)
        try:
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    samples.add(out.to_ndarray())
                if samples.n > max_samples:  # a header that does not say, or lies
                    raise _too_long(path, samples.n / SAMPLE_RATE, max_minutes, "at least ")
            for out in resampler.resample(None):
                samples.add(out.to_ndarray())
        except (av.error.FFmpegError, ValueError) as exc:
            if not samples.n:
                raise AudioError(f"{path}: the audio data is corrupt ({exc}); re-export the recording") from exc
            # A truncated tail: keep what decoded, as players do.
        source_rate = stream.codec_context.sample_rate or SAMPLE_RATE
    if not samples.n:
        raise AudioError(f"{path}: contains no audio samples (zero length)")
    channels = samples.data[:, :samples.n]
    if channels.shape[1] < SAMPLE_RATE // 10:
        raise AudioError(f"{path}: shorter than 0.1 s; nothing to transcribe")
    return Audio(path=path, channels=channels, source_rate=int(source_rate))


class _Samples:
    """Decoded samples written into one array sized from the header (grown when it says less or
    nothing): a call is held once, not once in pieces and again joined (half the peak)."""

    def __init__(self, channels: int, expected: int):
        import numpy as np

        self.data = np.empty((channels, expected), dtype=np.float32)  # pages not written cost nothing
        self.n = 0

    def add(self, block: np.ndarray) -> None:
        end = self.n + block.shape[1]
        if end > self.data.shape[1]:
            import numpy as np

            grown = np.empty((self.data.shape[0], max(end, 2 * self.data.shape[1])), dtype=np.float32)
            grown[:, :self.n] = self.data[:, :self.n]
            self.data = grown
        self.data[:, self.n:end] = block
        self.n = end


def _too_long(path: Path, seconds: float, max_minutes: float, at_least: str = "") -> LimitError:
    return LimitError(path, f"the recording is {at_least}{LimitError.minutes(seconds / 60)} long", "max-call-minutes",
                      LimitError.minutes(max_minutes))
