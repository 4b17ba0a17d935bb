"""Cost of semantic criteria: the sentence encoder, fresh scoring, rescoring from the cache, and
the share of an audio call's end-to-end time.

    python benchmarks/semantic.py [--audio N]

Everything runs with its own empty cache folder (CALLQA_CACHE_DIR), so "fresh" means no
sentence was embedded before. Figures:

1. encoder load (MiniLM on ONNX Runtime; the first builds the model file) and its rate on distinct agent utterances (the labelled sets);
2. fresh scoring: those utterances as one-turn calls through the default rubric, utterances/s
   (spaCy, phrases and the encoder together), and the same with every vector already cached;
   then the labelled whole calls, fresh and cached, in agent utterances/s (a call's sentences
   go to the encoder in one batch; a one-turn call pays a whole forward pass, whose cost is
   streaming the 90 MB of weights, for one sentence);
3. rescoring from the cache: the labelled whole calls scored again with warm vectors, calls/s,
   and how many sentences that sent to the encoder (0 expected);
4. audio: N sample recordings transcribed (faster-whisper tiny.en, no transcript cache) and
   scored fresh; the semantic share is (fresh scoring - scoring with warm vectors) / total.
Targets (issue 14): >= 300 agent utterances/s fresh, >= 500 calls/s from cache, <= 5 % of audio.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LABELLED = [REPO / "tests/data/utterances.csv", REPO / "tests/data/utterances_second_author_tuned.csv",
            REPO / "tests/data/labelled/blind_utterances_heldout.csv",
            REPO / "src/callqa/rubric/labelled/utterances_tune.csv"]
CALLS = [REPO / "tests/data/labelled/calls_tune", REPO / "tests/data/labelled/calls_heldout"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--audio", type=int, default=3, help="sample recordings to transcribe (0: skip)")
    args = ap.parse_args()
    os.environ["CALLQA_CACHE_DIR"] = tempfile.mkdtemp(prefix="callqa-bench-")
    sys.path.insert(0, str(REPO / "src"))
    from threadpoolctl import threadpool_limits

    threadpool_limits(1, user_api="blas")  # as `callqa score` runs: services._one_blas_thread
    from callqa.encoders.minilm import MiniLMEncoder
    from callqa.importers import is_transcript_file, load_transcript
    from callqa.rubric import semantic
    from callqa.scoring import default_rubric, score_transcript
    from callqa.transcript import Segment, Transcript

    texts = list(dict.fromkeys(r["text"] for f in LABELLED for r in csv.DictReader(f.open(encoding="utf-8"))))
    t = time.perf_counter()
    enc = MiniLMEncoder()
    build = time.perf_counter() - t
    t = time.perf_counter()
    enc = MiniLMEncoder()
    print(f"encoder: first load {build:.2f} s (builds its ONNX model), then {time.perf_counter() - t:.2f} s")
    t = time.perf_counter()
    enc.encode(texts)
    print(f"encoder alone: {len(texts) / (time.perf_counter() - t):.0f} utterances/s ({len(texts)} distinct)")

    rubric = default_rubric()
    calls = [Transcript(f"u{i}", 4.0, "bench", "", (Segment("agent", 0.0, 4.0, x),)) for i, x in enumerate(texts)]
    score_transcript(Transcript("warm", 4.0, "bench", "", (Segment("agent", 0.0, 4.0, "Hello there."),)), rubric)
    for label in ("fresh", "vectors cached"):  # the rubric's own examples were embedded by the warm-up
        t = time.perf_counter()
        for c in calls:
            score_transcript(c, rubric)
        dt = time.perf_counter() - t
        print(f"scoring one-turn calls, {label}: {len(calls) / dt:.0f} utterances/s")

    whole = [load_transcript(p) for d in CALLS for p in sorted(d.iterdir()) if is_transcript_file(p)]
    agent_turns = sum(1 for c in whole for seg in c.segments if seg.speaker == "agent")
    for label in ("fresh", "vectors cached"):
        t = time.perf_counter()
        for c in whole:
            score_transcript(c, rubric)
        dt = time.perf_counter() - t
        print(f"scoring {len(whole)} whole calls, {label}: {agent_turns / dt:.0f} agent utterances/s "
              f"({agent_turns} agent turns, {len(whole) / dt:.1f} calls/s)")
    before = semantic.get_encoder("minilm").encoded
    reps = 5
    t = time.perf_counter()
    for _ in range(reps):
        for c in whole:
            score_transcript(c, rubric)
    dt = time.perf_counter() - t
    print(f"rescoring {len(whole)} whole calls x{reps} from the cache: {reps * len(whole) / dt:.0f} calls/s, "
          f"{semantic.get_encoder('minilm').encoded - before} sentences encoded")

    if args.audio:
        from callqa.transcribe import TranscribeSettings, transcribe_file

        paths = sorted(p for p in (REPO / "recordings_sample").iterdir() if p.suffix in (".ogg", ".mp3", ".flac"))
        paths = paths[:args.audio]
        asr = fresh = warm = 0.0
        for p in paths:
            t = time.perf_counter()
            tr = transcribe_file(p, TranscribeSettings(use_cache=False))
            asr += time.perf_counter() - t
            semantic.reset_encoders()
            os.environ["CALLQA_EMBEDDING_CACHE"] = "0"  # nothing embedded yet for this call
            t = time.perf_counter()
            score_transcript(tr, rubric)
            fresh += time.perf_counter() - t
            os.environ.pop("CALLQA_EMBEDDING_CACHE")
            t = time.perf_counter()
            score_transcript(tr, rubric)  # vectors now in memory
            warm += time.perf_counter() - t
        total = asr + fresh
        print(f"audio, {len(paths)} calls: transcription {asr:.1f} s, scoring {fresh:.2f} s fresh / {warm:.2f} s warm; "
              f"semantic share {100 * (fresh - warm) / total:.1f} % of {total:.1f} s end to end")


if __name__ == "__main__":
    main()
