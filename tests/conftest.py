"""Shared test helpers: where the team's shared recordings are, and audio written with PyAV."""

from __future__ import annotations

import os
import tempfile
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from callqa.cache import model_dir

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
SAMPLES = REPO / "recordings_sample"
# the sentence encoder's model file is built once, not again in every test's own cache folder
os.environ.setdefault("CALLQA_MODEL_DIR", str(model_dir()))
# no test reads the config file of the person running them (callqa.workspace)
os.environ["XDG_CONFIG_HOME"] = tempfile.mkdtemp(prefix="callqa-test-config-")


def shared_file(*parts: str) -> Path:
    """A file from ../shared/data, or skip: a user's clone does not have the team's data."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent (team-shared recordings are not part of the repository)")
    return path


# container, codec, sample format for each file suffix the tool accepts
ENCODINGS = {
    ".wav": ("wav", "pcm_s16le", "s16"),
    ".flac": ("flac", "flac", "s16"),
    ".mp3": ("mp3", "libmp3lame", "fltp"),
    ".ogg": ("ogg", "libopus", "flt"),
    ".opus": ("opus", "libopus", "flt"),
    ".m4a": ("mp4", "aac", "fltp"),
}


def write_audio(path: Path, channels: np.ndarray, rate: int) -> Path:
    """Encode float32 ``channels`` (n_channels, n_samples) into ``path``, by its suffix, with PyAV."""
    import av

    fmt, codec, sample_fmt = ENCODINGS[path.suffix]
    n_ch = channels.shape[0]
    if codec == "libopus" and rate not in (8000, 12000, 16000, 24000, 48000):
        raise ValueError("opus needs 8/12/16/24/48 kHz")
    with av.open(str(path), "w", format=fmt) as out:
        stream = out.add_stream(codec, rate=rate)
        stream.layout = "stereo" if n_ch == 2 else "mono"
        planar = sample_fmt.endswith("p")
        data = channels.astype(np.float32)
        if sample_fmt.startswith("s16"):
            data = (np.clip(data, -1, 1) * 32767).astype(np.int16)
        frame_size = 1024
        for i in range(0, data.shape[1], frame_size):
            chunk = data[:, i:i + frame_size]
            arr = chunk if planar else chunk.T.reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(arr), format=sample_fmt, layout=stream.layout.name)
            frame.sample_rate = rate
            frame.pts = i
            frame.time_base = Fraction(1, rate)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def tone(seconds: float, rate: int, freq: float = 440.0, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)
