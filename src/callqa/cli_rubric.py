"""``callqa rubric check|explain|test``: validate, document and test rubric files.

Exit codes: 0 ok, 1 failures (an invalid rubric, a failing example or golden call), 2 error
(a file that cannot be read, an unknown criterion).

Golden calls (``rubric test --golden DIR``, transcripts with ``NAME.expect.yaml`` sidecars) are
checked by :mod:`callqa.rubric.golden`, which documents the sidecar format.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from callqa.errors import CallQAError

if TYPE_CHECKING:  # the rubric engine is imported by the commands, not to build `callqa --help`
    from callqa.rubric.schema import Criterion, Rubric

EXIT_OK, EXIT_FAIL, EXIT_ERROR = 0, 1, 2


def add_rubric_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``rubric`` with its sub-commands to the ``callqa`` parser's subparsers."""
    p = subparsers.add_parser("rubric", help="check, explain and test rubric files")
    sub = p.add_subparsers(dest="rubric_command", required=True)

    ck = sub.add_parser("check", help="validate a rubric file (errors name file, line and field)")
    ck.add_argument("file", type=Path, metavar="FILE")
    ck.set_defaults(func=cmd_check)

    ex = sub.add_parser("explain", help="print a criterion's documentation and examples")
    ex.add_argument("id", metavar="ID", help="criterion id, e.g. negative_phrasing.dont_know")
    ex.add_argument("--rubric", type=Path, help="rubric file (default: the workspace rubric, else the packaged default)")
    ex.add_argument("--format", choices=("human", "json"), default="human", help="json: the criterion as the rubric holds it")
    ex.set_defaults(func=cmd_explain)

    te = sub.add_parser("test", help="run a rubric's own pass/fail examples, and golden calls")
    te.add_argument("file", type=Path, nargs="?", metavar="FILE", help="rubric file (default: the workspace rubric, else the packaged default)")
    te.add_argument("--golden", type=Path, metavar="DIR",
                    help="folder of transcripts with NAME.expect.yaml sidecars (score band, flags)")
    te.set_defaults(func=cmd_test)

    ca = sub.add_parser("calibrate", help="precision and recall per label on a labelled utterance file; "
                                          "choose semantic thresholds on its tune rows")
    ca.add_argument("labelled", type=Path, metavar="FILE", nargs="+",
                    help="CSV with columns text, labels (criterion ids or categories, ';'-separated), "
                         "optional split (tune/heldout), speaker, note; several files are read as one")
    ca.add_argument("--rubric", type=Path, help="rubric file (default: the workspace rubric, else the packaged default)")
    ca.add_argument("--choose", action="store_true",
                    help="choose each semantic criterion's threshold on the tune rows, report the held-out rows")
    ca.add_argument("--prefer", choices=("f1", "precision"), default="f1",
                    help="with --choose: the best F1 (default), or F0.5, which weighs precision twice as much as recall")
    ca.add_argument("--split", choices=("all", "tune", "heldout"), default="all",
                    help="rows to report (default all; with --choose: heldout, when the file has one)")
    ca.add_argument("--labels", default="labels", metavar="COLUMN",
                    help="the column holding the labels (default labels; the packaged sets also have agreed: "
                         "what most of their independent labellers said)")
    ca.add_argument("--errors", action="store_true", help="list the utterances labelled differently")
    ca.add_argument("--format", choices=("human", "json"), default="human", help="json: one object per labelled file")
    ca.set_defaults(func=cmd_calibrate)
    return p


def _load(path: Path | str | None) -> Rubric:
    """The rubric file given (None: the packaged default)."""
    from callqa.rubric.loader import load_rubric

    path = Path(path) if path is not None else None
    if path is not None and not path.is_file():
        raise CallQAError(f"{path}: no such rubric file")
    return load_rubric(path)


def cmd_check(args: argparse.Namespace) -> int:
    from callqa.rubric.loader import RubricError, load_rubric

    if not args.file.is_file():
        raise CallQAError(f"{args.file}: no such rubric file")
    try:
        rubric = load_rubric(args.file)
    except RubricError as exc:
        for issue in exc.issues:
            print(issue)
        return EXIT_FAIL
    for warning in rubric.warnings():
        print(f"{args.file}: warning: {warning}")
    print(f"{args.file}: ok: rubric {rubric.id!r} version {rubric.version}, "
          f"{len(rubric.criteria)} criteria in {len(rubric.sections)} sections")
    return EXIT_OK


def explain(crit: Criterion) -> str:
    """A criterion's documentation as plain text."""
    out = [f"{crit.id}: {crit.name}",
           f"  category {crit.category}, section {crit.section}, speaker {crit.speaker}, "
           f"polarity {crit.polarity}, severity {crit.severity}, weight {crit.weight:g}"
           + (", CRITICAL (auto-fail)" if crit.critical else "")]
    if crit.description:
        out.append(f"  {crit.description}")
    if crit.window:
        out.append(f"  window: {crit.window.model_dump(exclude_none=True)}")
    if crit.applies_if:
        cond = crit.applies_if
        when = ([f"a hold of {cond.hold_s:g} s"] if cond.hold_s is not None else []) \
            + ([f"the {cond.speaker} says: {_check_summary(cond.check)}"] if cond.check is not None else [])
        out.append("  applies only if: " + ", or ".join(when))
    out.append(f"  check: {_check_summary(crit.check)}")
    out.append(f"  message: {crit.message}")
    if crit.suggestion:
        out.append(f"  suggestion: {crit.suggestion}")
    out.append(f"  source: {crit.source.seed}: {crit.source.guidance}")
    for label, examples in (("pass", crit.examples.pass_), ("fail", crit.examples.fail)):
        for ex in examples:
            out.append(f"  {label}: " + (ex if isinstance(ex, str) else " | ".join(ex)))
    return "\n".join(out)


def _semantic_summary(check: Any) -> str:
    like = ", ".join(json.dumps(x) for x in check.like[:3]) + (f", … ({len(check.like)} in all)" if len(check.like) > 3 else "")
    if check.train is not None:
        return (f"meaning: classifier for {check.train.shown!r} trained on {check.train.file} ({len(check.train.rows)} rows) "
                f"and {len(check.like)} like / {len(check.unlike)} unlike examples, probability ≥ {check.threshold:g} "
                f"and similarity ≥ {check.similar:g} to an example that meets it; like {like}")
    return (f"meaning: similarity ≥ {check.threshold:g} to the nearest of {len(check.like)} like examples "
            f"({like}), more than to the nearest of {len(check.unlike)} unlike ones")


def _without_rows(node: Any) -> Any:
    """A dumped criterion with each trained check's rows replaced by their count."""
    if isinstance(node, dict):
        return {k: (len(v) if k == "rows" else _without_rows(v)) for k, v in node.items()}
    if isinstance(node, list):
        return [_without_rows(v) for v in node]
    return node


def _check_summary(check: Any, child: bool = False) -> str:
    if check.type == "semantic":
        return _semantic_summary(check)
    d = check.model_dump(exclude_defaults=True)
    kind = d.pop("type", check.type)
    confirm = getattr(check, "confirm", None)
    if confirm is not None and kind in ("phrase", "pattern", "any"):
        plain = check.model_copy(update={"confirm": None})
        return f"{_check_summary(plain, child)}, each match confirmed by [{_semantic_summary(confirm)}]"
    if kind in ("phrase", "pattern", "any"):
        mode = "any" if child else getattr(check, "mode", "required")
        items = d.get("phrases", []) + d.get("regex", [])
        shown = ", ".join(json.dumps(i) for i in items[:8]) + (f", … ({len(items)} in all)" if len(items) > 8 else "")
        if kind == "any":
            return f"any ({mode}) of: " + "; ".join(_check_summary(c, child=True) for c in check.checks)
        if kind == "pattern":
            return f"pattern{'' if child else f' ({mode})'} {json.dumps(d['patterns'])}" + (
                f", negated={check.negated}" if check.negated is not None else "")
        return f"phrase{'' if child else f' ({mode})'}: {shown}"
    if kind == "conditional":
        return (f"when the {check.when.speaker} says [{_check_summary(check.when.check)}], "
                f"the {check.then.speaker} must say [{_check_summary(check.then.check)}] "
                f"within {check.within_turns} turn(s)")
    return f"{kind} {json.dumps(d)}"


def cmd_explain(args: argparse.Namespace) -> int:
    rubric = _load(args.workspace.rubric)
    try:
        crit = rubric.criterion(args.id)
    except KeyError:
        from rapidfuzz import process

        close = [m[0] for m in process.extract(args.id, [c.id for c in rubric.criteria], limit=3)]
        raise CallQAError(f"no criterion {args.id!r} in rubric {rubric.id!r}; did you mean: {', '.join(close)}?") from None
    if args.format == "json":
        print(json.dumps(_without_rows(crit.model_dump(mode="json", by_alias=True)), indent=2))
    else:
        print(explain(crit))
    return EXIT_OK


def run_examples(rubric: Rubric) -> tuple[int, list[str]]:
    from callqa.rubric.examples import run_example

    """(examples run, what went wrong) for every criterion's pass/fail examples."""
    problems, n = [], 0
    for crit in rubric.criteria:
        if not crit.examples.pass_ or not crit.examples.fail:
            problems.append(f"{crit.id}: needs at least one pass and one fail example")
        for kind, examples in (("pass", crit.examples.pass_), ("fail", crit.examples.fail)):
            for ex in examples:
                n += 1
                try:
                    problem = run_example(rubric, crit, ex, kind)
                except ValueError as exc:
                    problem = f"{crit.id}: {exc}"
                if problem:
                    problems.append(problem)
    return n, problems


def cmd_test(args: argparse.Namespace) -> int:
    from callqa.rubric.golden import check_golden
    from callqa.rubric.loader import DEFAULT_RUBRIC

    rubric = _load(args.file or args.workspace.rubric)
    n, problems = run_examples(rubric)
    label = args.file or DEFAULT_RUBRIC
    print(f"{label}: {n} examples, {len(problems)} problem(s)")
    if args.golden:
        g, golden = check_golden(rubric, args.golden)
        print(f"{args.golden}: {g} golden call(s), {len(golden)} problem(s)")
        problems += golden
    for p in problems:
        print(f"FAIL {p}")
    return EXIT_FAIL if problems else EXIT_OK


def cmd_calibrate(args: argparse.Namespace) -> int:
    from collections import Counter

    from callqa.rubric import calibrate as cal

    rubric = _load(args.workspace.rubric)
    rows = [row for path in args.labelled for row in cal.read_labelled(path, args.labels)]
    name = ", ".join(map(str, args.labelled))
    if not rows:
        raise CallQAError(f"{name}: no labelled rows")
    labels = {lab for r in rows for lab in r.labels}
    cal.check_labels(labels, rubric)
    evidence = cal.collect(rows, rubric)
    scorer = cal.Scorer(rubric, labels)
    current = cal.semantic_thresholds(rubric)
    thresholds = current
    split = args.split
    if args.choose:
        tune = [i for i, r in enumerate(rows) if r.split in ("tune", "")]
        if not tune:
            raise CallQAError(f"{name}: no tune rows to choose thresholds on (every row is held out); "
                              "give a tune file too: callqa rubric calibrate TUNE.csv HELDOUT.csv --choose")
        if not current:
            raise CallQAError(f"rubric {rubric.id!r} has no semantic criterion to calibrate")
        thresholds = cal.choose_thresholds([rows[i] for i in tune], [evidence[i] for i in tune], scorer, current,
                                           beta=0.5 if args.prefer == "precision" else 1.0)
        if split == "all" and any(r.split == "heldout" for r in rows):
            split = "heldout"
    chosen = [i for i, r in enumerate(rows) if split == "all" or r.split == split]
    if not chosen:
        raise CallQAError(f"{name}: no rows with split {split!r}")
    counts, wrong = cal.confusion([rows[i] for i in chosen], [evidence[i] for i in chosen], scorer, thresholds)
    total = sum(counts.values(), Counter())
    if args.format == "json":
        out = {"file": name, "rows": len(chosen), "split": split,
               "labels": {lab: dict(zip(("precision", "recall", "f1"), map(lambda x: round(x, 3), cal.figures(c))))
                          | {k: c[k] for k in ("tp", "fp", "fn", "tn")} for lab, c in counts.items()},
               "all": dict(zip(("precision", "recall", "f1"), map(lambda x: round(x, 3), cal.figures(total)))),
               "thresholds": {cid: {"current": current[cid], "chosen": thresholds[cid]} for cid in current}}
        print(json.dumps(out, indent=2))
        return EXIT_OK
    print(f"{name}: {len(chosen)} rows ({split})" + (", thresholds chosen on the tune rows" if args.choose else ""))
    print(f"{'label':<28} {'prec':>5} {'recall':>6} {'F1':>5} {'tp':>4} {'fp':>4} {'fn':>4} {'n':>4}")
    for lab in sorted(counts):
        c = counts[lab]
        p, r, f = cal.figures(c)
        print(f"{lab:<28} {p:5.2f} {r:6.2f} {f:5.2f} {c['tp']:4} {c['fp']:4} {c['fn']:4} {c['tp'] + c['fn']:4}")
    p, r, f = cal.figures(total)
    print(f"{'all':<28} {p:5.2f} {r:6.2f} {f:5.2f} {total['tp']:4} {total['fp']:4} {total['fn']:4}")
    if current:
        print("semantic thresholds" + (" (current → chosen):" if args.choose else ":"))
        for cid in sorted(current):
            print(f"  {cid:<36} {current[cid]:.2f}" + (f" → {thresholds[cid]:.2f}" if args.choose else ""))
    if args.errors:
        for row, got in wrong:
            print(f"- {row.text!r}\n    labelled  {sorted(row.labels)}\n    predicted {sorted(got)}")
    return EXIT_OK
