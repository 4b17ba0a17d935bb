"""ASR benchmark: word error rate, speed and peak memory of each engine and model, side by side.

    python benchmarks/asr.py [--quick]

Each engine/model runs in its own subprocess (so peak memory is its own) over the bundled
sample calls (reference: the scripts they were synthesized from, samples/reference/) and,
where present, ../shared/data/faster-whisper/jfk.flac (its well-known text). Then a batch
of all sample calls is transcribed the way `callqa transcribe` does it (2 worker processes,
models loaded inside the timing) to give the batch speed in x real time.
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "recordings_sample"
REFERENCES = REPO / "samples" / "reference"
JFK = REPO.parent / "shared" / "data" / "faster-whisper" / "jfk.flac"
JFK_TEXT = "And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country."

CONFIGS = [  # (engine, model, beam size)
    ("faster-whisper", "tiny.en", 5),
    ("faster-whisper", "tiny.en", 1),
    ("faster-whisper", "base", 5),
    ("openai-whisper", "tiny.en", 5),
    ("openai-whisper", "base", 5),
]


def normalise(text: str) -> str:
    """Whisper's own English normaliser (numbers, spellings, fillers), as WER reports use."""
    try:
        from whisper.normalizers import EnglishTextNormalizer
    except ImportError:  # openai-whisper not installed: a plain lowercase, no-punctuation form
        return " ".join(re.sub(r"[^a-z0-9' ]+", " ", text.lower().replace("-", " ")).split())
    return EnglishTextNormalizer()(text)


def wer(reference: str, hypothesis: str) -> float:
    import jiwer

    return jiwer.wer(normalise(reference), normalise(hypothesis) or "<empty>")


def sample_calls() -> list[tuple[Path, dict]]:
    calls = []
    for ref in sorted(REFERENCES.glob("*.json")):
        data = json.loads(ref.read_text())
        audio = next((p for p in SAMPLES.glob(ref.stem + ".*") if p.suffix != ".json"), None)
        if audio:
            calls.append((audio, data))
    return calls


def run_one(engine: str, model: str, beam: int) -> dict:
    """Transcribe every reference file with one engine (model loaded before the clock starts)."""
    from callqa.asr import get_transcriber
    from callqa.transcribe import TranscribeSettings, transcribe_file

    settings = TranscribeSettings(engine=engine, model=model, beam_size=beam, use_cache=False)
    t0 = time.perf_counter()
    get_transcriber(engine, model, 0)._load()
    load_s = time.perf_counter() - t0
    rows, audio_s, wall_s = [], 0.0, 0.0
    refs = [(p, " ".join(s["text"] for s in d["segments"]), d) for p, d in sample_calls()]
    if JFK.exists():
        refs.append((JFK, JFK_TEXT, None))
    for path, ref_text, ref in refs:
        start = time.perf_counter()
        t = transcribe_file(path, settings)
        took = time.perf_counter() - start
        hyp = " ".join(s.text for s in t.segments)
        row = {"file": path.name, "duration": t.duration, "wall": took, "wer": wer(ref_text, hyp), "roles": t.roles,
               "telephone": t.extra.get("source_rate", 16000) <= 8000}
        if ref:  # speaker-attributed: each role's words against that role's script
            per_role = [wer(" ".join(s["text"] for s in ref["segments"] if s["speaker"] == role),
                            " ".join(s.text for s in t.segments if s.speaker == role)) for role in ("agent", "customer")]
            row["role_wer"] = sum(per_role) / 2
        rows.append(row)
        if path != JFK:
            audio_s += t.duration
            wall_s += took
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"engine": engine, "model": model, "beam": beam, "load_s": load_s, "rows": rows,
            "audio_s": audio_s, "wall_s": wall_s, "peak_mb": peak_mb}


def run_batch(workers: int) -> dict:
    from callqa.transcribe import TranscribeSettings, find_inputs, transcribe_many

    paths = [p for p in find_inputs([SAMPLES]) if p.suffix != ".json"]
    start = time.perf_counter()
    outcomes = list(transcribe_many(paths, TranscribeSettings(use_cache=False), workers=workers))
    wall = time.perf_counter() - start
    audio = sum(o.transcript.duration for o in outcomes if o.transcript)
    return {"workers": workers, "files": len(paths), "failed": sum(1 for o in outcomes if o.error),
            "audio_s": audio, "wall_s": wall, "x_realtime": audio / wall}


def child(args: list[str]) -> dict:
    out = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"benchmark child {args} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="faster-whisper tiny.en and openai tiny.en only")
    parser.add_argument("--one", nargs=3, metavar=("ENGINE", "MODEL", "BEAM"), help=argparse.SUPPRESS)
    parser.add_argument("--batch", type=int, metavar="WORKERS", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one[0], args.one[1], int(args.one[2]))))
        return
    if args.batch:
        print(json.dumps(run_batch(args.batch)))
        return
    if not sample_calls():
        raise SystemExit("no sample calls with references: run scripts/make_samples.py")
    configs = CONFIGS[:1] + CONFIGS[3:4] if args.quick else CONFIGS
    results = [child(["--one", e, m, str(b)]) for e, m, b in configs]

    print(f"\nPer engine, over {len(results[0]['rows']) - JFK.exists()} sample calls "
          f"({results[0]['audio_s']:.0f} s of audio), model preloaded, one process, 2 threads\n")
    print(f"{'engine':16} {'model':8} {'beam':>4} {'WER':>6} {'roleWER':>7} {'WER 8k':>6} {'WER jfk':>7} "
          f"{'x RT':>6} {'RTF':>6} {'load s':>6} {'peak MB':>7}")
    for r in results:
        calls = [x for x in r["rows"] if x["file"] != JFK.name]
        jfk = next((x["wer"] for x in r["rows"] if x["file"] == JFK.name), float("nan"))
        eight_k = [x["wer"] for x in calls if x["telephone"]]
        mean = sum(x["wer"] for x in calls) / len(calls)
        role = sum(x.get("role_wer", 0) for x in calls) / len(calls)
        print(f"{r['engine']:16} {r['model']:8} {r['beam']:>4} {mean:6.3f} {role:7.3f} "
              f"{(sum(eight_k) / len(eight_k)) if eight_k else float('nan'):6.3f} {jfk:7.3f} "
              f"{r['audio_s'] / r['wall_s']:6.1f} {r['wall_s'] / r['audio_s']:6.3f} {r['load_s']:6.2f} {r['peak_mb']:7.0f}")
    fw = next(r for r in results if r["engine"] == "faster-whisper" and r["model"] == "tiny.en" and r["beam"] == 5)
    ow = next((r for r in results if r["engine"] == "openai-whisper" and r["model"] == "tiny.en"), None)
    if ow:
        print(f"\nfaster-whisper tiny.en int8 vs openai-whisper tiny.en, both beam 5, same calls: "
              f"{ow['wall_s'] / fw['wall_s']:.2f}x faster (target >= 2x, aim 4x)")
    print("\nPer call (faster-whisper tiny.en beam 5):")
    for x in fw["rows"]:
        print(f"  {x['file']:34} {x['duration']:6.1f} s  WER {x['wer']:.3f}  roles {x['roles']}")
    for workers in (1, 2):
        b = child(["--batch", str(workers)])
        print(f"\nBatch of {b['files']} sample calls, {workers} worker(s), faster-whisper tiny.en, models loaded "
              f"inside the timing: {b['audio_s']:.0f} s audio in {b['wall_s']:.1f} s = {b['x_realtime']:.1f}x real time "
              f"(target >= 20x, aim 30x); failed {b['failed']}")


if __name__ == "__main__":
    main()
