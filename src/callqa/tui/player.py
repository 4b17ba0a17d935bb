"""Play a moment of a recording with whatever audio player the machine has.

Looks, in this order, for ``ffplay`` (FFmpeg), ``paplay`` (PulseAudio / PipeWire), ``aplay``
(ALSA) and ``play`` (SoX) on PATH; ``$CALLQA_PLAYER`` picks one of them by name, or ``none``.
The clip is decoded and cut with PyAV (``callqa.audio.decode``), written as a 16-bit wav in a
temporary file, and played in the background; starting another clip stops the one playing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import wave
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

#: name → arguments before the file
PLAYERS: dict[str, tuple[str, ...]] = {
    "ffplay": ("-nodisp", "-autoexit", "-loglevel", "error"),
    "paplay": (),
    "aplay": ("-q",),
    "play": ("-q",),
}
ENV_VAR = "CALLQA_PLAYER"
#: seconds of context before and after a clip
PAD_S = 0.5


@dataclass(frozen=True)
class Player:
    name: str
    path: str

    def argv(self, wav: Path) -> list[str]:
        return [self.path, *PLAYERS.get(self.name, ()), str(wav)]


def looked_for() -> str:
    return ", ".join(PLAYERS)


def find_player(which: Callable[[str], str | None] = shutil.which) -> Player | None:
    """The first player found (see the module doc); None when there is none."""
    wanted = os.environ.get(ENV_VAR, "").strip()
    if wanted.lower() == "none":
        return None
    names = [wanted] if wanted else list(PLAYERS)
    for name in names:
        path = which(name)
        if path:
            return Player(name, path)
    return None


@lru_cache(maxsize=2)
def _decoded(path: str):
    from callqa.audio import decode

    return decode(path)


def resolve_recording(file: str, base: Path | None = None) -> Path | None:
    """The stored file path, as given or relative to ``base`` (the working folder)."""
    p = Path(file)
    for candidate in (p, (base or Path.cwd()) / p):
        if candidate.is_file():
            return candidate
    return None


def clip(path: Path, start: float, end: float, pad: float = PAD_S) -> Path:
    """Cut [start - pad, end + pad] of a recording into a temporary 16 kHz 16-bit wav."""
    from callqa.audio import SAMPLE_RATE

    audio = _decoded(str(path))
    lo = max(0, int((start - pad) * SAMPLE_RATE))
    hi = min(audio.channels.shape[1], int((end + pad) * SAMPLE_RATE))
    if hi <= lo:
        hi = min(audio.channels.shape[1], lo + SAMPLE_RATE)
    data = np.clip(audio.channels[:, lo:hi], -1, 1)
    pcm = (data.T * 32767).astype("<i2")
    fd, name = tempfile.mkstemp(prefix="callqa-clip-", suffix=".wav")
    os.close(fd)
    with wave.open(name, "wb") as out:
        out.setnchannels(audio.n_channels)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(pcm.tobytes())
    return Path(name)


class Playback:
    """At most one clip playing at a time."""

    def __init__(self, player: Player | None) -> None:
        self.player = player
        self._proc: subprocess.Popen | None = None
        self._file: Path | None = None

    def start(self, wav: Path) -> subprocess.Popen:
        self.stop()
        assert self.player is not None
        self._file = wav
        self._proc = subprocess.Popen(self.player.argv(wav), stdin=subprocess.DEVNULL,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        return self._proc

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                self._proc.kill()
        self._proc = None
        if self._file is not None:
            self._file.unlink(missing_ok=True)
            self._file = None
