"""How well the rubric recognises the customer's situation: the gates that decide whether a
criterion applies (a problem, frustration, a company mistake) and whether a call is a service
call at all (a request or a problem), on customer utterances labelled blind.

    python benchmarks/gates.py [--rubric FILE] [FILE ...]

Default files: ``src/callqa/rubric/labelled/customer_tune.csv`` (the gates' classifiers are
trained on it: its rows are judged out of fold, by classifiers trained without the fifth of
the rows they belong to, as ``callqa rubric calibrate`` does) and
``tests/data/labelled/blind_customer_heldout.csv`` (never tuned on).
Labels: ``problem``, ``frustration``, ``company_mistake``, ``request``. Each utterance is one
customer turn; a gate is predicted when its check (``GATES``: the gate of a criterion that needs
the situation, and the rubric's ``service_call`` check for ``problem`` or ``request``, labelled
together as ``service``) finds anything in it.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FILES = [REPO / "src/callqa/rubric/labelled/customer_tune.csv", REPO / "tests/data/labelled/blind_customer_heldout.csv"]
#: Each situation, judged by the gate of a criterion that needs it (the rubric's shared anchors
#: problem_any, company_mistake_any, frustration_any), and the service-call gate.
GATES = {"problem": lambda r: r.criterion("empathy.apology").applies_if.check,
         "company_mistake": lambda r: r.criterion("ownership.take_blame").applies_if.check,
         "frustration": lambda r: r.criterion("empathy.frustration_acknowledged").check.when.check,
         "service": lambda r: r.service_call.check}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="*", type=Path, default=FILES)
    ap.add_argument("--rubric")
    args = ap.parse_args()
    sys.path.insert(0, str(REPO / "src"))
    from callqa.rubric import calibrate as cal
    from callqa.rubric.context import CallContext
    from callqa.rubric.engine import Engine
    from callqa.rubric.loader import load_rubric
    from callqa.rubric.matchers import make_detector
    from callqa.transcript import Segment, Transcript

    rubric = load_rubric(args.rubric)

    def gate_detectors(r):
        engine = Engine(r)
        return engine, {lab: make_detector(gate(r), engine.index) for lab, gate in GATES.items()}

    for path in args.files:
        rows = list(csv.DictReader(path.open(encoding="utf-8")))
        fold, rubrics = cal.out_of_fold([r["text"] for r in rows], rubric)
        inside = [i for i, f in enumerate(fold) if f >= 0]
        judges = {f: gate_detectors(r) for f, r in rubrics.items()}
        counts = {lab: [0, 0, 0] for lab in judges[-1][1]}  # tp, fp, fn
        for i, r in enumerate(rows):
            engine, detectors = judges[fold[i]]
            labels = {x for x in r["labels"].split(";") if x}
            if labels & {"problem", "request"}:
                labels.add("service")
            t = Transcript("<u>", 4.0, "labelled", "", (Segment("customer", 0.0, 4.0, r["text"]),))
            ctx = CallContext(t, engine.index)
            for lab, det in detectors.items():
                det.prepare(ctx, [0])
                got, want = bool(det.find(ctx, [0])), lab in labels
                counts[lab][0 if got and want else 1 if got else 2] += got or want
        print(f"\n{path.relative_to(REPO) if path.is_relative_to(REPO) else path}: {len(rows)} customer utterances"
              + (f" ({len(inside)} judged out of fold)" if inside else ""))
        for lab, (tp, fp, fn) in counts.items():
            p = tp / (tp + fp) if tp + fp else 1.0
            rec = tp / (tp + fn) if tp + fn else 1.0
            print(f"  {lab:<16} precision {p:.2f} recall {rec:.2f}  (tp {tp}, fp {fp}, fn {fn})")


if __name__ == "__main__":
    main()
