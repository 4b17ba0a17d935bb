"""How good are speaker roles on mono calls? Word-level role accuracy against the truth.

    python benchmarks/roles.py

Truth: for the bundled mono sample calls, the reference script's segment times; for
../shared/data/aws-call-49 (a real role-played call, agent and caller on separate tracks),
the track that carries more energy at each word's midpoint. The mono recording (or the
two tracks summed) goes through the full pipeline (Whisper + diarization + text cues).
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
AWS = REPO.parent / "shared" / "data" / "aws-call-49"


def truth_from_reference(ref: dict):
    segs = [(s["start"], s["end"], s["speaker"]) for s in ref["segments"]]

    def speaker_at(t: float) -> str | None:
        hits = [sp for a, b, sp in segs if a - 0.3 <= t <= b + 0.3]
        return hits[0] if len(set(hits)) == 1 else None
    return speaker_at


def truth_from_tracks(agent: np.ndarray, caller: np.ndarray, rate: int = 16000):
    def energy(x: np.ndarray, t: float) -> float:
        i = int(t * rate)
        window = x[max(0, i - rate // 10): i + rate // 10]
        return float(np.sqrt((window ** 2).mean())) if window.size else 0.0

    def speaker_at(t: float) -> str | None:
        a, c = energy(agent, t), energy(caller, t)
        if max(a, c) < 1e-3 or 0.5 < a / max(c, 1e-9) < 2.0:
            return None  # silence or both talking: no clear truth
        return "agent" if a > c else "customer"
    return speaker_at


def word_accuracy(transcript, speaker_at) -> tuple[float, int]:
    right = total = 0
    for seg in transcript.segments:
        for w in seg.words:
            truth = speaker_at((w.start + w.end) / 2)
            if truth is None:
                continue
            total += 1
            right += truth == seg.speaker
    return right / max(total, 1), total


def main() -> None:
    sys.path.insert(0, str(REPO / "tests"))
    from conftest import write_audio

    from callqa.audio import decode
    from callqa.transcribe import TranscribeSettings, transcribe_file

    settings = TranscribeSettings(use_cache=False)
    print(f"{'call':40} {'words':>6} {'role acc':>8} {'agent found':>11} {'confidence':>10} {'wall s':>6}")
    for ref_path in sorted((REPO / "samples" / "reference").glob("*.json")):
        ref = json.loads(ref_path.read_text())
        audio = next(p for p in (REPO / "recordings_sample").glob(ref_path.stem + ".*"))
        if decode(audio).n_channels != 1:
            continue
        start = time.perf_counter()
        t = transcribe_file(audio, settings)
        acc, n = word_accuracy(t, truth_from_reference(ref))
        print(f"{audio.name:40} {n:6d} {acc:8.3f} {str(acc > 0.5):>11} {t.role_confidence:10.2f} "
              f"{time.perf_counter() - start:6.1f}")
    if AWS.exists():
        agent, caller = decode(AWS / "agent.wav").mono(), decode(AWS / "caller.wav").mono()
        with tempfile.TemporaryDirectory() as tmp:
            mono = write_audio(Path(tmp) / "aws-call-49-mono.wav", (agent + caller)[None, :], 16000)
            start = time.perf_counter()
            t = transcribe_file(mono, settings)
            acc, n = word_accuracy(t, truth_from_tracks(agent, caller))
            print(f"{'aws-call-49 (tracks summed to mono)':40} {n:6d} {acc:8.3f} {str(acc > 0.5):>11} "
                  f"{t.role_confidence:10.2f} {time.perf_counter() - start:6.1f}")
    else:
        print(f"({AWS} absent: real-call figure skipped)")


if __name__ == "__main__":
    main()
