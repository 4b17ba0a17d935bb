"""Whole-call scores against a QA lead's ratings: the labelled call sets and the shared real call.

    python benchmarks/calls.py [--rubric FILE] [FOLDER ...]

Each folder holds transcripts and ``labels.csv`` (file, rating 0-100, band, service_call, why;
``short_calls`` has service_call and split only), written blind (see each folder's README):
``tests/data/labelled/calls_tune`` (the scale was tuned on it), ``calls_heldout`` (never tuned
on: its figures are the honest ones) and ``short_calls`` (24 short calls, half not service
calls; the not-a-service-call rule was written from its ``tune`` rows). ../shared/data/aws-call-49 is added where present (a QA lead's rating of ~90).
Prints each call's score beside its rating, whether excellent calls score >= 85 and poor ones
<= 50, whether a non-service call is reported as such, and Spearman's rank correlation.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
AWS = REPO.parent / "shared/data/aws-call-49"
SETS = [REPO / "tests/data/labelled/calls_tune", REPO / "tests/data/labelled/calls_heldout",
        REPO / "tests/data/labelled/short_calls"]


def spearman(a: list[float], b: list[float]) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(a, b).statistic)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folders", nargs="*", type=Path, default=SETS)
    ap.add_argument("--rubric")
    args = ap.parse_args()
    sys.path.insert(0, str(REPO / "src"))
    from callqa.importers import load_transcript
    from callqa.rubric.loader import load_rubric
    from callqa.scoring import score_transcript

    rubric = load_rubric(args.rubric)
    for folder in args.folders:
        rows = list(csv.DictReader((folder / "labels.csv").open(encoding="utf-8")))
        print(f"\n{folder.relative_to(REPO) if folder.is_relative_to(REPO) else folder}")
        rated, scored, misses = [], [], []
        for r in rows:
            s = score_transcript(load_transcript(folder / r["file"]), rubric)
            shown = "not a service call" if s.score is None else f"{s.score:5.1f}"
            where = f" ({r['split']})" if r.get("split") else ""
            print(f"  {r['file']:<48} rating {r.get('rating') or '-':>3} {r.get('band', ''):<9} score {shown}{where}")
            if r["service_call"].strip().lower() == "no":
                if s.score is not None:
                    misses.append(f"{r['file']}{where}: not a service call, scored {s.score}")
                continue
            if s.score is None:
                misses.append(f"{r['file']}{where}: a service call reported as none")
                continue
            if not r.get("rating"):
                continue
            rated.append(float(r["rating"]))
            scored.append(s.score)
            if r["band"] == "excellent" and s.score < 85 or r["band"] == "poor" and s.score > 50:
                misses.append(f"{r['file']}: {r['band']} but scored {s.score}")
        ranked = f"Spearman {spearman(rated, scored):.2f} over {len(rated)} calls; " if len(rated) > 2 else ""
        print(f"  {ranked}misses {len(misses)}" + "".join(f"\n    {m}" for m in misses))

    if (AWS / "agent.wav").is_file():
        score_aws(rubric)


def score_aws(rubric) -> None:
    import tempfile
    import wave

    import numpy as np

    from callqa.audio import decode
    from callqa.scoring import score_transcript
    from callqa.transcribe import transcribe_file

    agent, caller = (decode(AWS / f"{n}.wav").channels[0] for n in ("agent", "caller"))
    n = min(len(agent), len(caller))
    pcm = (np.clip(np.stack([agent[:n], caller[:n]], axis=1), -1, 1) * 32767).astype("<i2")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "aws-call-49.wav"
        with wave.open(str(path), "wb") as w:
            w.setnchannels(2)
            w.setsampwidth(2)
            w.setframerate(16000)
            w.writeframes(pcm.tobytes())
        s = score_transcript(transcribe_file(path), rubric)
    print(f"\naws-call-49 (real, stereo, agent left): score {s.score} (a QA lead would rate it ~90); "
          f"sections {s.sections}")


if __name__ == "__main__":
    main()
