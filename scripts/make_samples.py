#!/usr/bin/env python3
"""Synthesize the project's sample call recordings from the scripts in samples/calls/.

    python scripts/make_samples.py            # all calls
    python scripts/make_samples.py c04_bob_refund

For each ``samples/calls/<id>.yaml`` this writes:

* ``recordings_sample/<id>.<format>``: the call, stereo (agent LEFT, customer RIGHT) or mono
  (both speakers mixed), at the script's sample rate and format (flac, ogg vorbis or mp3);
* ``samples/reference/<id>.json``: the reference transcript in callqa's transcript JSON form
  (``Transcript.to_dict``), engine "script", with the real start/end of every synthesized turn;
* ``recordings_sample/calls.csv``: file, agent, date, call_id for every call.

Each turn is synthesized with espeak-ng (a fixed voice per speaker), resampled with sox, trimmed
to its audible part and placed on a common timeline; ``pause_before`` sets the gap before a turn,
``overlap`` starts a turn that many seconds before the previous one ends (an interruption), and a
``{hold: seconds}`` entry is silence on both channels. A call with ``sample_rate: 8000`` is made
telephone-like (300-3400 Hz band, mu-law quantization). sox runs with ``-R``, so the output is
byte-identical from run to run on the same espeak-ng/sox versions.

Needs: espeak-ng, sox (with libsox-fmt-mp3 for mp3), numpy, pyyaml.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from callqa.transcript import AGENT, CUSTOMER, Segment, Transcript  # noqa: E402

CALLS_DIR = REPO / "samples" / "calls"
REFERENCE_DIR = REPO / "samples" / "reference"
OUT_DIR = REPO / "recordings_sample"

LAYOUTS = ("stereo", "mono")
RATES = (8000, 16000)
#: sox output options per format and layout: -C is the compression level (flac), the quality
#: (ogg vorbis) or the bit rate in kbit/s (mp3); chosen to keep recordings_sample/ under 4 MB.
ENCODE = {
    ("flac", "stereo"): ["-C", "8"], ("flac", "mono"): ["-C", "8"],
    ("ogg", "stereo"): ["-C", "0"], ("ogg", "mono"): ["-C", "0"],
    ("mp3", "stereo"): ["-C", "32"], ("mp3", "mono"): ["-C", "24"],
}
FORMATS = ("flac", "ogg", "mp3")
#: LAME's encoder delay plus the mp3 decoder delay (576 + 529 samples at 16 kHz). sox writes no
#: LAME/Xing header, so decoders (PyAV/ffmpeg, sox) play that many samples of silence first;
#: they are dropped from the lead-in before encoding so decoded audio lines up with the reference.
MP3_DELAY = {16000: 1105}
#: Fixed gain on espeak's output: lossy codecs overshoot espeak's peaks (~0.87) past full scale.
GAIN = 0.7
DEFAULT_SPEED = 165          # espeak-ng words per minute
DEFAULT_PITCH = 50           # espeak-ng default pitch (0-99)
LEAD_IN = 0.5                # silence before the first turn, seconds
TAIL = 0.8                   # silence after the last turn, seconds
DEFAULT_GAP = 0.6            # pause between turns when the script gives none, seconds
SPEECH_RANGE = (45.0, 120.0)  # seconds of speech a call is written to have
TRIM_THRESHOLD = 200         # int16 amplitude counted as audible when trimming espeak's silence
TRIM_MARGIN = 0.02           # seconds kept around the audible part
TELEPHONE_BAND = "300-3400"


class ScriptError(Exception):
    pass


@dataclass
class Call:
    id: str
    agent: str
    date: str
    layout: str
    rate: int
    format: str
    voices: dict[str, tuple[str, int, int]]  # speaker -> (voice, speed, pitch)
    turns: list[dict]
    source: Path

    @property
    def file_name(self) -> str:
        return f"{self.id}.{self.format}"

    @property
    def telephone(self) -> bool:
        return self.rate == 8000


def load_call(path: Path) -> Call:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    where = path.relative_to(REPO)

    def need(key: str):
        if key not in data:
            raise ScriptError(f"{where}: missing '{key}'")
        return data[key]

    call_id = str(need("id"))
    if call_id != path.stem:
        raise ScriptError(f"{where}: id {call_id!r} must equal the file name {path.stem!r}")
    layout, rate, fmt = need("layout"), int(need("sample_rate")), need("format")
    if layout not in LAYOUTS:
        raise ScriptError(f"{where}: layout must be one of {LAYOUTS}")
    if rate not in RATES:
        raise ScriptError(f"{where}: sample_rate must be one of {RATES}")
    if fmt not in FORMATS:
        raise ScriptError(f"{where}: format must be one of {FORMATS}")
    if fmt == "mp3" and rate not in MP3_DELAY:
        raise ScriptError(f"{where}: mp3 is only set up for {tuple(MP3_DELAY)} Hz")
    voices = {}
    for speaker in (AGENT, CUSTOMER):
        voices[speaker] = (str(need(f"{speaker}_voice")),
                           int(data.get(f"{speaker}_speed", DEFAULT_SPEED)),
                           int(data.get(f"{speaker}_pitch", DEFAULT_PITCH)))
    if voices[AGENT][0] == voices[CUSTOMER][0]:
        raise ScriptError(f"{where}: agent and customer need different voices")
    turns = need("turns")
    for i, turn in enumerate(turns):
        if "hold" in turn:
            if float(turn["hold"]) <= 0:
                raise ScriptError(f"{where}: turns[{i}].hold must be positive")
            continue
        if turn.get("speaker") not in (AGENT, CUSTOMER) or not str(turn.get("text", "")).strip():
            raise ScriptError(f"{where}: turns[{i}] needs speaker (agent|customer) and text, or hold")
        if "overlap" in turn and (i == 0 or "hold" in turns[i - 1]
                                  or turns[i - 1].get("speaker") == turn["speaker"]):
            raise ScriptError(f"{where}: turns[{i}].overlap must follow a turn of the other speaker")
    return Call(id=call_id, agent=str(need("agent")), date=str(need("date")), layout=layout,
                rate=rate, format=fmt, voices=voices, turns=turns, source=path)


# --- synthesis ------------------------------------------------------------------------------

def espeak_wav(text: str, voice: str, speed: int, pitch: int) -> bytes:
    """espeak-ng's WAV output (22050 Hz mono) for ``text``."""
    cmd = ["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "--stdout", "--", text]
    return subprocess.run(cmd, check=True, capture_output=True).stdout


def to_rate(wav: bytes, rate: int, telephone: bool) -> np.ndarray:
    """Resample espeak's WAV to ``rate`` with sox; int16 samples."""
    effects = ["sinc", TELEPHONE_BAND] if telephone else []
    cmd = ["sox", "-R", "-t", "wav", "-", "-t", "raw", "-e", "signed", "-b", "16", "-c", "1",
           "-r", str(rate), "-", *effects]
    raw = subprocess.run(cmd, input=wav, check=True, capture_output=True).stdout
    return np.frombuffer(raw, dtype="<i2").astype(np.int16)


def check_voice(voice: str) -> None:
    """Refuse a voice whose '+variant' espeak-ng ignores (``en-gb+f3`` sounds exactly like
    ``en-gb``: the en-gb alias drops the variant; ``en+f3`` works)."""
    if "+" not in voice:
        return
    probe = "Thank you for calling."
    base = voice.split("+", 1)[0]
    if espeak_wav(probe, voice, DEFAULT_SPEED, DEFAULT_PITCH) == espeak_wav(probe, base, DEFAULT_SPEED, DEFAULT_PITCH):
        raise ScriptError(f"espeak-ng ignores the variant in voice {voice!r} (it sounds exactly like "
                          f"{base!r}); use a base voice that takes variants, e.g. 'en+{voice.split('+')[1]}'")


def trim(samples: np.ndarray, rate: int) -> np.ndarray:
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > TRIM_THRESHOLD)
    if loud.size == 0:
        raise ScriptError("espeak-ng produced silence")
    margin = int(TRIM_MARGIN * rate)
    return samples[max(0, loud[0] - margin): loud[-1] + margin + 1]


def mu_law(x: np.ndarray) -> np.ndarray:
    """Round-trip float samples in [-1, 1] through 8-bit mu-law (telephone quantization)."""
    mu = 255.0
    y = np.sign(x) * np.log1p(mu * np.abs(x)) / np.log1p(mu)
    q = np.round(y * 127.0) / 127.0
    return np.sign(q) * np.expm1(np.abs(q) * np.log1p(mu)) / mu


@dataclass
class Built:
    call: Call
    tracks: dict[str, np.ndarray]  # speaker -> int16 track on the common timeline
    segments: list[Segment]
    holds: list[tuple[float, float]]
    duration: float
    speech: float


def build(call: Call) -> Built:
    rate = call.rate
    placed: list[tuple[str, int, np.ndarray, str]] = []  # speaker, start sample, samples, text
    holds: list[tuple[float, float]] = []
    last_end = 0           # sample index where the latest-ending turn so far ends
    prev_end = 0           # sample index where the previous turn ends (for overlap)
    after_hold = False
    for i, turn in enumerate(call.turns):
        if "hold" in turn:
            start = last_end
            last_end += round(float(turn["hold"]) * rate)
            holds.append((start / rate, last_end / rate))
            after_hold = True
            continue
        speaker, text = turn["speaker"], " ".join(str(turn["text"]).split())
        voice, speed, pitch = call.voices[speaker]
        audio = trim(to_rate(espeak_wav(text, voice, speed, pitch), rate, call.telephone), rate)
        if "overlap" in turn:
            start = prev_end - round(float(turn["overlap"]) * rate)
            if start <= placed[-1][1]:
                raise ScriptError(f"{call.source.name}: turns[{i}].overlap is longer than the turn before it")
        else:
            default = 0.0 if after_hold else (LEAD_IN if not placed else DEFAULT_GAP)
            start = last_end + round(float(turn.get("pause_before", default)) * rate)
        placed.append((speaker, start, audio, text))
        prev_end = start + len(audio)
        last_end = max(last_end, prev_end)
        after_hold = False
    n = last_end + round(TAIL * rate)
    tracks = {s: np.zeros(n, dtype=np.float64) for s in (AGENT, CUSTOMER)}
    segments = []
    for speaker, start, audio, text in placed:
        tracks[speaker][start:start + len(audio)] += audio * (GAIN / 32768.0)
        segments.append(Segment(speaker, round(start / rate, 3), round((start + len(audio)) / rate, 3), text))
    for speaker in tracks:
        if call.telephone:
            tracks[speaker] = mu_law(np.clip(tracks[speaker], -1.0, 1.0))
        tracks[speaker] = np.clip(np.round(tracks[speaker] * 32767.0), -32768, 32767).astype(np.int16)
    segments.sort(key=lambda s: (s.start, s.end))
    speech = sum(len(a) for _, _, a, _ in placed) / rate
    return Built(call, tracks, segments, holds, round(n / rate, 3), speech)


# --- output ---------------------------------------------------------------------------------

def write_audio(built: Built, out_dir: Path, tmp: Path) -> Path:
    call = built.call
    agent, customer = built.tracks[AGENT], built.tracks[CUSTOMER]
    if call.layout == "stereo":
        frames = np.stack([agent, customer], axis=1)  # agent LEFT, customer RIGHT
    else:
        mixed = agent.astype(np.int32) + customer.astype(np.int32)
        frames = np.clip(mixed, -32768, 32767).astype(np.int16)[:, None]
    if call.format == "mp3":
        delay = MP3_DELAY[call.rate]
        if frames[:delay].any():
            raise ScriptError(f"{call.source.name}: the first turn starts too early for mp3's delay")
        frames = frames[delay:]  # lead-in silence; see MP3_DELAY
    wav_path = tmp / f"{call.id}.wav"
    with wave.open(str(wav_path), "wb") as w:
        w.setnchannels(frames.shape[1])
        w.setsampwidth(2)
        w.setframerate(call.rate)
        w.writeframes(frames.astype("<i2").tobytes())
    out = out_dir / call.file_name
    cmd = ["sox", "-R", str(wav_path), "--comment", f"callqa sample {call.id}",
           *ENCODE[call.format, call.layout], str(out)]
    subprocess.run(cmd, check=True, capture_output=True)
    return out


def reference(built: Built, audio_file: str) -> dict:
    transcript = Transcript(file=audio_file, duration=built.duration, engine="script", model="",
                            segments=tuple(built.segments), roles="labels", role_confidence=1.0)
    return transcript.to_dict()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("ids", nargs="*", help="call ids to make (default: all)")
    args = parser.parse_args(argv)
    for tool in ("espeak-ng", "sox"):
        if shutil.which(tool) is None:
            print(f"error: {tool} is not installed (apt-get install espeak-ng sox libsox-fmt-mp3)",
                  file=sys.stderr)
            return 2
    try:
        calls = [load_call(p) for p in sorted(CALLS_DIR.glob("*.yaml"))]
        unknown = set(args.ids) - {c.id for c in calls}
        if unknown:
            raise ScriptError(f"no such call script: {', '.join(sorted(unknown))}")
        for voice in sorted({v for c in calls for v, _, _ in c.voices.values()}):
            check_voice(voice)
        OUT_DIR.mkdir(exist_ok=True)
        REFERENCE_DIR.mkdir(parents=True, exist_ok=True)
        rows = []
        print(f"{'id':32} {'agent':7} {'layout':6} {'rate':>5} {'fmt':4} {'speech':>7} {'dur':>7} {'bytes':>8}  holds")
        with tempfile.TemporaryDirectory() as tmp:
            for call in calls:
                if args.ids and call.id not in args.ids:
                    continue
                built = build(call)
                low, high = SPEECH_RANGE
                note = "" if low <= built.speech <= high else f"  (speech outside {low:.0f}-{high:.0f} s)"
                out = write_audio(built, OUT_DIR, Path(tmp))
                ref = reference(built, f"{OUT_DIR.name}/{call.file_name}")
                (REFERENCE_DIR / f"{call.id}.json").write_text(
                    json.dumps(ref, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
                size = out.stat().st_size
                rows.append((call, built, size))
                holds = ", ".join(f"{b - a:.0f}s at {a:.1f}" for a, b in built.holds) or "-"
                print(f"{call.id:32} {call.agent:7} {call.layout:6} {call.rate:5d} {call.format:4} "
                      f"{built.speech:6.1f}s {built.duration:6.1f}s {size:8d}  {holds}{note}")
        # calls.csv always lists every script, whichever ones were rebuilt this time
        with open(OUT_DIR / "calls.csv", "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh, lineterminator="\n")
            writer.writerow(["file", "agent", "date", "call_id"])
            for call in calls:
                writer.writerow([call.file_name, call.agent, call.date, call.id])
    except ScriptError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except subprocess.CalledProcessError as exc:
        print(f"error: {' '.join(exc.cmd[:3])}... failed: {exc.stderr.decode(errors='replace').strip()}",
              file=sys.stderr)
        return 1
    total = sum(p.stat().st_size for p in OUT_DIR.iterdir() if p.is_file())
    digest = hashlib.sha256()
    for p in sorted(OUT_DIR.iterdir()):
        if p.is_file():
            digest.update(p.name.encode() + p.read_bytes())
    print(f"\n{len(rows)} call(s) written; {OUT_DIR.name}/ holds {total / 1e6:.2f} MB "
          f"(sha256 of the folder {digest.hexdigest()[:16]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
