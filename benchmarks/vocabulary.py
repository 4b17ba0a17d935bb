"""Custom vocabulary and the second pass: word error rate, name recognition and speed, side by side.

    python benchmarks/vocabulary.py [--runs 2] [--second-model base] [--below 0.5 0.6 0.7 0.8]

Calls: the bundled sample calls (reference: the scripts, samples/reference/; vocabulary: the
company "Northwind Energy" and the agent's name from recordings_sample/calls.csv) and, where
present, ../shared/data/aws-call-49 (real 8 kHz telephone speech, one track per speaker;
reference: tests/data/aws-call-49.reference.json; vocabulary: the make and model the dealership
services and the agent's name). Each recording is decoded with faster-whisper tiny.en, beam 5,
VAD, as `callqa score` does, once without and once with the vocabulary per run; the second pass
re-decodes, with the stronger model, only the segments under the highest threshold asked for,
one at a time, so every lower threshold is read off the same decodes (its time is the sum of
the segments it re-decodes). Models are loaded before the clock starts.

Name recognition: a name counts for a call when the call's reference says it; it is recognised
when the transcript has it as a word. A name the transcript has and the reference does not is
a false one (a prompt can make Whisper hear names that were never said).
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import os
import re
import time
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SAMPLES = REPO / "recordings_sample"
REFERENCES = REPO / "samples" / "reference"
AWS = REPO.parent / "shared" / "data" / "aws-call-49"
AWS_REFERENCE = REPO / "tests" / "data" / "aws-call-49.reference.json"
COMPANY = "Northwind Energy"
AWS_VOCABULARY = ("Hyundai", "Elantra")


def _normaliser():
    """Whisper's English normaliser, loaded from its folder: importing the whisper package itself
    pulls in numba and torch, which this benchmark does not need."""
    spec = importlib.util.find_spec("whisper")
    folder = Path(next(iter(spec.submodule_search_locations))) / "normalizers" if spec else None
    if folder is None or not folder.is_dir():
        return lambda text: " ".join(re.sub(r"[^a-z0-9' ]+", " ", text.lower().replace("-", " ")).split())
    loader = importlib.util.spec_from_file_location("_whisper_normalizers", folder / "__init__.py",
                                                    submodule_search_locations=[str(folder)])
    module = importlib.util.module_from_spec(loader)
    import sys

    sys.modules["_whisper_normalizers"] = module
    loader.loader.exec_module(module)
    return module.EnglishTextNormalizer()


NORMALISE = _normaliser()


@dataclass
class Stream:
    """One thing Whisper decodes: a channel (stereo), a whole mono call, or one track."""
    samples: object
    reference: str
    skip_s: float = 0.0  # words ending before this are left out (an unreadable part of the reference)


@dataclass
class Call:
    name: str
    duration: float
    streams: list[Stream]
    vocabulary: tuple[str, ...]
    names: dict[str, str]  # kind ("company", "agent", ...) -> the name's word
    telephone: bool = False
    real: bool = False
    results: dict = field(default_factory=dict)


def load_calls() -> list[Call]:
    from callqa.audio import decode
    from callqa.sidecar import CallInfo

    agents = {row["file"]: row["agent"] for row in csv.DictReader(open(SAMPLES / "calls.csv"))}
    calls = []
    for ref_path in sorted(REFERENCES.glob("*.json")):
        ref = json.loads(ref_path.read_text())
        path = next(p for p in SAMPLES.glob(ref_path.stem + ".*"))
        audio = decode(path)
        agent = CallInfo(agents[path.name], date.today(), "sidecar").spoken_name
        said = {role: " ".join(s["text"] for s in ref["segments"] if s["speaker"] == role) for role in ("agent", "customer")}
        if audio.n_channels == 2:
            streams = [Stream(audio.channels[0], said["agent"]), Stream(audio.channels[1], said["customer"])]
        else:
            streams = [Stream(audio.mono(), " ".join(s["text"] for s in ref["segments"]))]
        calls.append(Call(path.stem, audio.duration, streams, (COMPANY, agent), {"company": "Northwind", "agent": agent},
                          telephone=audio.source_rate <= 8000))
    if AWS.is_dir() and AWS_REFERENCE.is_file():
        ref = json.loads(AWS_REFERENCE.read_text())
        agent, caller = decode(AWS / "agent.wav"), decode(AWS / "caller.wav")
        calls.append(Call("aws-call-49 (real, 8 kHz)", agent.duration,
                          [Stream(agent.channels[0], ref["agent"], ref["skip_agent_s"]), Stream(caller.channels[0], ref["caller"])],
                          (*AWS_VOCABULARY, ref["names"]["agent"]),
                          {"agent": ref["names"]["agent"], "make": "Hyundai", "model": "Elantra"},
                          telephone=True, real=True))
    return calls


def text_of(segments, skip_s: float) -> str:
    if not skip_s:
        return " ".join(s.text for s in segments)
    return " ".join(w.text for s in segments for w in s.words if w.end > skip_s)


def errors(reference: str, hypothesis: str) -> tuple[int, int]:
    """(word errors, reference words) after Whisper's normaliser."""
    import jiwer

    ref, hyp = NORMALISE(reference), NORMALISE(hypothesis) or "<empty>"
    out = jiwer.process_words(ref, hyp)
    return out.substitutions + out.deletions + out.insertions, len(ref.split())


def has_word(text: str, word: str) -> bool:
    return re.search(rf"\b{re.escape(NORMALISE(word))}\b", NORMALISE(text)) is not None


def run(calls: list[Call], first, stronger, second, thresholds: list[float], run_no: int) -> None:
    from callqa.asr import EngineOptions
    from callqa.asr.second_pass import TwoPassTranscriber

    top = max(thresholds)
    two = TwoPassTranscriber(first, stronger, replace(second, below=top))
    for call in calls:
        for setting, vocabulary in (("default", ()), ("vocabulary", call.vocabulary)):
            options = EngineOptions(beam_size=5, vad=True, vocabulary=vocabulary)
            per_stream = []
            for stream in call.streams:
                t0 = time.perf_counter()
                segments = first.transcribe(stream.samples, options)
                took = time.perf_counter() - t0
                redo = []  # (confidence, [segment kept at this threshold], seconds)
                for seg in segments:
                    if seg.words and seg.confidence < top:
                        t0 = time.perf_counter()
                        redo.append((seg.confidence, two.refine(stream.samples, [seg], options), time.perf_counter() - t0))
                    else:
                        redo.append((1.0, [seg], 0.0))
                per_stream.append((stream, segments, took, redo))
            out = call.results.setdefault((setting, run_no), {})
            out["first_s"] = sum(p[2] for p in per_stream)
            out["first_text"] = [text_of(p[1], p[0].skip_s) for p in per_stream]
            for th in thresholds:
                texts, secs, redone = [], 0.0, 0
                for stream, segments, _, redo in per_stream:
                    kept = []
                    for seg, (conf, again, s) in zip(segments, redo):
                        if conf < th:
                            kept += again
                            secs += s
                            redone += 1
                        else:
                            kept.append(seg)
                    texts.append(text_of(kept, stream.skip_s))
                out[th] = {"text": texts, "second_s": secs, "redone": redone}


def report(calls: list[Call], runs: int, thresholds: list[float], model: str) -> None:
    def figures(setting: str, run_no: int, th: float | None, group) -> tuple[float, float, int, int, int, int]:
        errs = words = audio = 0
        wall = 0.0
        said = found = false = 0
        for call in group:
            res = call.results[(setting, run_no)]
            texts = res["first_text"] if th is None else res[th]["text"]
            wall += res["first_s"] + (0 if th is None else res[th]["second_s"])
            audio += call.duration
            for stream, text in zip(call.streams, texts):
                e, n = errors(stream.reference, text)
                errs, words = errs + e, words + n
            whole_ref, whole_hyp = " ".join(s.reference for s in call.streams), " ".join(texts)
            for name in call.names.values():
                if has_word(whole_ref, name):
                    said += 1
                    found += has_word(whole_hyp, name)
                elif has_word(whole_hyp, name):
                    false += 1
        return errs / words, audio / wall, said, found, false, words

    groups = [("sample calls, 16 kHz", [c for c in calls if not c.telephone]),
              ("sample c07, 8 kHz synth", [c for c in calls if c.telephone and not c.real]),
              ("aws-call-49, real 8 kHz", [c for c in calls if c.real]),
              ("all", calls)]
    print(f"\nfaster-whisper tiny.en int8, beam 5, VAD; second pass: {model}, beam 5, on segments whose mean "
          f"word probability is under the threshold. WER with Whisper's normaliser; x RT = call seconds / "
          f"decoding seconds (models preloaded). Load average at the end: {os.getloadavg()[0]:.1f}")
    print(f"\n{'setting':34} {'run':>3} " + " ".join(f"{g[:24]:>24}" for g, _ in groups))
    print(f"{'':34} {'':>3} " + " ".join(f"{'WER   xRT names  false':>24}" for _ in groups))
    for setting in ("default", "vocabulary"):
        for th in (None, *thresholds):
            label = setting + ("" if th is None else f" + 2nd pass < {th:g}")
            for run_no in range(runs):
                cells = []
                for _, group in groups:
                    if not group:
                        cells.append(f"{'-':>24}")
                        continue
                    wer, xrt, said, found, false, _ = figures(setting, run_no, th, group)
                    cells.append(f"{wer:6.3f} {xrt:5.1f} {found:2d}/{said:<2d} {false:5d}")
                print(f"{label:34} {run_no + 1:>3} " + " ".join(f"{c:>24}" for c in cells))
    print("\nSegments re-decoded per threshold (vocabulary, run 1): "
          + ", ".join(f"< {th:g}: {sum(c.results[('vocabulary', 0)][th]['redone'] for c in calls)}" for th in thresholds))
    print("\nPer call, names said -> recognised (run 1):")
    for call in calls:
        row = []
        for setting in ("default", "vocabulary"):
            text = " ".join(call.results[(setting, 0)]["first_text"])
            ref = " ".join(s.reference for s in call.streams)
            row.append(" ".join(n + (("+" if has_word(text, n) else "-") if has_word(ref, n)
                                     else ("!" if has_word(text, n) else ".")) for n in call.names.values()))
        print(f"  {call.name:34} default: {row[0]:30} vocabulary: {row[1]}")
    print("  (+ recognised, - said and missed, . not said and not heard, ! heard but never said)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--second-model", default="base")
    parser.add_argument("--below", type=float, nargs="+", default=[0.5, 0.6, 0.7, 0.8])
    args = parser.parse_args()
    from callqa.asr import get_transcriber
    from callqa.asr.second_pass import SecondPass

    calls = load_calls()
    first, stronger = get_transcriber("faster-whisper", "tiny.en"), get_transcriber("faster-whisper", args.second_model)
    first._load(), stronger._load()
    for run_no in range(args.runs):
        run(calls, first, stronger, SecondPass(args.second_model), sorted(args.below), run_no)
    report(calls, args.runs, sorted(args.below), args.second_model)


if __name__ == "__main__":
    main()
