"""Decoding: every accepted format and channel layout to 16 kHz float32; clear errors on bad files."""

from __future__ import annotations

import os
import wave

import numpy as np
import pytest

from callqa.audio import SAMPLE_RATE, content_hash, decode
from callqa.errors import AudioError
from conftest import ENCODINGS, shared_file, tone, write_audio


@pytest.mark.parametrize("suffix", sorted(ENCODINGS))
@pytest.mark.parametrize("layout", ["mono", "stereo"])
@pytest.mark.parametrize("rate", [8000, 48000])
def test_decodes_format_and_layout_to_16k(tmp_path, suffix, layout, rate):
    left = tone(2.0, rate, 440)
    channels = np.stack([left, np.zeros_like(left)]) if layout == "stereo" else left[None, :]
    path = write_audio(tmp_path / f"call{suffix}", channels, rate)

    audio = decode(path)

    assert audio.channels.dtype == np.float32
    assert audio.n_channels == (2 if layout == "stereo" else 1)
    assert audio.duration == pytest.approx(2.0, abs=0.1)  # codecs pad a few ms
    # Opus always decodes at 48 kHz, whatever rate it was fed
    assert audio.source_rate == (48000 if ENCODINGS[suffix][1] == "libopus" else rate)
    rms = np.sqrt((audio.channels ** 2).mean(axis=1))
    assert rms[0] > 0.2  # the 0.5-amplitude tone survived
    if layout == "stereo":
        assert rms[1] < 0.02  # the silent right channel stayed apart from the left


def test_resampling_keeps_pitch(tmp_path):
    path = write_audio(tmp_path / "t.wav", tone(1.0, 44100, 1000)[None, :], 44100)
    audio = decode(path)
    assert audio.channels.shape[1] == pytest.approx(SAMPLE_RATE, abs=50)
    spectrum = np.abs(np.fft.rfft(audio.channels[0]))
    peak_hz = np.argmax(spectrum) * SAMPLE_RATE / audio.channels.shape[1]
    assert peak_hz == pytest.approx(1000, abs=5)


def test_real_recordings_decode():
    jfk = decode(shared_file("faster-whisper", "jfk.flac"))
    assert jfk.duration == pytest.approx(11.0, abs=0.05)
    agent = decode(shared_file("aws-call-49", "agent.wav"))  # 8 kHz telephone audio
    assert agent.source_rate == 8000 and agent.duration == pytest.approx(237.56, abs=0.05)


@pytest.mark.parametrize("name,content,expected", [
    ("empty.wav", b"", "empty"),
    ("notes.mp3", b"these are meeting notes, not audio\n" * 20, "not a readable audio file"),
    ("corrupt.flac", b"fLaC" + bytes(range(256)) * 40, "not a readable audio file"),
], ids=["empty", "text", "corrupt"])
def test_bad_files_name_the_file_and_the_problem(tmp_path, name, content, expected):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(AudioError) as info:
        decode(path)
    assert str(path) in str(info.value) and expected in str(info.value)


def test_zero_length_wav(tmp_path):
    path = tmp_path / "zero.wav"
    with wave.open(str(path), "wb") as w:  # a valid header and no samples
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(16000)
    with pytest.raises(AudioError, match="zero length|no audio samples"):
        decode(path)


def test_truncated_file_keeps_what_decoded(tmp_path):
    path = write_audio(tmp_path / "long.flac", tone(3.0, 16000)[None, :], 16000)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    audio = decode(path)
    assert 0.5 < audio.duration < 3.0


def test_missing_and_folder(tmp_path):
    with pytest.raises(AudioError, match="no such file"):
        decode(tmp_path / "nope.wav")
    with pytest.raises(AudioError, match="is a folder"):
        decode(tmp_path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their permissions")
def test_unreadable_file(tmp_path):
    path = write_audio(tmp_path / "locked.wav", tone(1.0, 16000)[None, :], 16000)
    path.chmod(0)
    with pytest.raises(AudioError, match="permission denied|cannot read"):
        content_hash(path)


def test_content_hash_ignores_the_name(tmp_path):
    a = write_audio(tmp_path / "a.wav", tone(1.0, 16000)[None, :], 16000)
    b = tmp_path / "renamed ünïcode.wav"
    b.write_bytes(a.read_bytes())
    assert content_hash(a) == content_hash(b)


def test_decoding_holds_a_long_call_once(tmp_path):
    """Issue 16, item 13: decoding held a call twice over (its pieces, then the pieces joined):
    4 hours of silence peaked at 1.9 GB for a 0.9 GB array. Measured in a fresh process."""
    import subprocess
    import sys

    path = write_audio(tmp_path / "silence.flac", np.zeros((1, 30 * 60 * 8000), dtype=np.float32), 8000)
    # the peak of this process's memory (VmHWM: ru_maxrss would count the parent's, kept across exec)
    probe = ("import re, sys, av, numpy\n"
             "from callqa.audio import decode\n"
             "peak = lambda: int(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read())[1]) * 1024\n"
             "before = peak()\n"
             "audio = decode(sys.argv[1])\n"
             "print(peak() - before, audio.channels.nbytes)\n")
    grew, held = map(int, subprocess.run([sys.executable, "-c", probe, str(path)], capture_output=True, text=True,
                                         check=True).stdout.split())
    assert held == 30 * 60 * SAMPLE_RATE * 4
    assert grew < 1.4 * held, f"decoding 30 minutes grew the process by {grew / held:.2f}x the call's samples"
