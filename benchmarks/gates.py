"""How well the rubric recognises the customer's situation: the gates that decide whether a
criterion applies (a problem, frustration, a company mistake) and whether a call is a service
call at all (a request or a problem), on customer utterances labelled blind.

    python benchmarks/gates.py [--rubric FILE] [FILE ...]

Default files: ``src/callqa/rubric/labelled/customer_tune.csv`` (the gates' classifiers are
trained on it: its rows are judged out of fold, by classifiers trained without the fifth of
the rows they belong to, as ``callqa rubric calibrate`` does) and
``tests/data/labelled/blind_customer_heldout.csv`` (never tuned on).
Labels: ``problem``, ``frustration``, ``company_mistake``, ``request``. Each utterance is one
customer turn; a gate is predicted when its check (the rubric's shared anchors ``problem_any``,
``frustration_any``, ``company_mistake_any``, and the rubric's ``service_call`` check for
``problem`` or ``request``, labelled together as ``service``) finds anything in it.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FILES = [REPO / "src/callqa/rubric/labelled/customer_tune.csv", REPO / "tests/data/labelled/blind_customer_heldout.csv"]
GATES = {"problem": "problem_any", "frustration": "frustration_any", "company_mistake": "company_mistake_any"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="*", type=Path, default=FILES)
    ap.add_argument("--rubric")
    args = ap.parse_args()
    sys.path.insert(0, str(REPO / "src"))
    from pydantic import TypeAdapter

    from callqa.rubric.engine import CallContext, Engine
    from callqa.rubric.loader import load_rubric
    from callqa.rubric.matchers import make_detector
    from callqa.rubric.schema import Cue
    from callqa.transcript import Segment, Transcript

    from callqa.rubric import calibrate as cal

    rubric = load_rubric(args.rubric)
    base = rubric.model_dump(by_alias=True)
    adapter = TypeAdapter(Cue)
    context = {"base": REPO / "src/callqa/rubric"}

    def gate_detectors(r):
        engine = Engine(r)
        # the shared anchors are raw YAML in the rubric: the trained rows come from the checks
        # that use them (the same anchor is one object), so take them from a criterion's dump
        rows = {}
        for check in cal._semantic_checks(r.model_dump(by_alias=True)):
            if check.get("train") and "rows" in check["train"]:
                rows[str(check["train"]["label"])] = check["train"]["rows"]
        dets = {}
        for lab, name in GATES.items():
            cue = _with_rows(r.shared[name], rows)
            dets[lab] = make_detector(adapter.validate_python(cue, context=context), engine.index)
        if r.service_call is not None:
            dets["service"] = make_detector(r.service_call.check, engine.index)
        return engine, dets

    seen = cal.trained_on(rubric)
    for path in args.files:
        rows = list(csv.DictReader(path.open(encoding="utf-8")))
        inside = [i for i, r in enumerate(rows) if r["text"] in seen]
        fold_of = {i: n % cal.FOLDS for n, i in enumerate(inside)}
        judges = {-1: gate_detectors(rubric)}
        for fold in range(cal.FOLDS if inside else 0):
            judges[fold] = gate_detectors(cal._without(base, {rows[i]["text"] for i in inside[fold::cal.FOLDS]}))
        counts = {lab: [0, 0, 0] for lab in judges[-1][1]}  # tp, fp, fn
        for i, r in enumerate(rows):
            engine, detectors = judges[fold_of.get(i, -1)]
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


def _with_rows(node, rows):
    """A raw shared anchor with each trained check's rows filled in from the validated rubric."""
    if isinstance(node, dict):
        out = {k: _with_rows(v, rows) for k, v in node.items()}
        if out.get("type") == "semantic" and out.get("train") and str(out["train"]["label"]) in rows:
            out["train"] = {**out["train"], "rows": rows[str(out["train"]["label"])]}
        return out
    if isinstance(node, list):
        return [_with_rows(v, rows) for v in node]
    return node


if __name__ == "__main__":
    main()
