"""``callqa agreement``: how far blind reviewers and the machine agree on each criterion, with
intervals, which criteria may graduate (human -> assisted -> automatic), and drift.

    callqa agreement                                  # per criterion, proposals, on the terminal
    callqa agreement --session nov --format json      # one calibration session, for other tools
    callqa agreement --format csv > agreement.csv     # every figure, also per rubric version and month
    callqa agreement --html calibration.html          # the calibration report
    callqa agreement --apply                          # write the proposed states into callqa.toml

Exit codes: 0 done (no blind answer yet is said, not an error); 2 on error.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

from rich.console import Console

from callqa.output import atomic_write

EXIT_OK, EXIT_ERROR = 0, 2
err = Console(stderr=True)


def add_agreement_parser(subparsers) -> argparse.ArgumentParser:
    from callqa.cli import add_db_option
    from callqa.cli_report import parse_day

    p = subparsers.add_parser(
        "agreement", help="agreement of blind reviewers and the machine per criterion, and graduation",
        description="Per criterion, from blind answers: n, prevalence, raw agreement, Cohen's kappa, Fleiss' kappa, "
                    "Krippendorff's alpha and Gwet's AC1 with 95%% bootstrap intervals; the states the graduation "
                    "rule proposes; the same per rubric version and month (json, csv, html).")
    p.add_argument("--since", type=parse_day, metavar="DATE", help="blind answers given on or after DATE (YYYY-MM-DD)")
    p.add_argument("--rubric", dest="rubric_filter", metavar="HASH_OR_FILE",
                   help="answers given on calls scored with this rubric (a rubric file, or its hash or the start of it)")
    p.add_argument("--session", metavar="NAME", help="answers of one calibration session")
    p.add_argument("--format", choices=("human", "json", "csv"), default="human",
                   help="human: tables on the terminal (default); json: stable, for other tools (see the README); "
                        "csv: one row per comparison, also per rubric version and month")
    p.add_argument("--html", type=Path, metavar="FILE", help="also write the calibration report as one HTML page")
    p.add_argument("--apply", action="store_true",
                   help="write the proposed criterion states into the config file ([criteria] of callqa.toml)")
    add_db_option(p)
    p.set_defaults(func=cmd_agreement)
    return p


def _rubric_hash(text: str | None) -> str | None:
    if not text:
        return None
    if Path(text).is_file():
        from callqa import services

        return services.rubric_hash(services.load_rubric(text))
    return text.strip()


def cmd_agreement(args: argparse.Namespace) -> int:
    from callqa.cli import shown

    from callqa import services
    from callqa.services import agreement as ag
    from callqa.workspace import criteria_file, write_criteria

    ws = args.workspace
    with services.session_for(ws.db) as session:
        report, found = ag.agreement_report(session, ws, since=args.since, rubric_hash=_rubric_hash(args.rubric_filter),
                                            session_name=args.session)
        moments = ag.moments(session, found) if args.html else []
    if not report.comparisons:
        err.print("[yellow]note:[/] no blind answers match: answer calls blind first (callqa review, or the TUI's "
                  "blind review)", highlight=False)
    if args.format == "json":
        sys.stdout.write(json.dumps(ag.report_json(report), indent=1, ensure_ascii=False) + "\n")
    elif args.format == "csv":
        out = csv.DictWriter(sys.stdout, fieldnames=ag.CSV_FIELDS, lineterminator="\n")
        out.writeheader()
        out.writerows(ag.csv_rows(report))
    else:
        _human(report, ws)
    if args.html:
        from callqa.reports.agreement import render_agreement_html

        args.html.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(args.html) as fh:
            fh.write(render_agreement_html(report, moments))
        err.print(f"wrote the calibration report to {shown(args.html)}", highlight=False)
    changes = {p.criterion: p.proposed for p in report.proposals if p.change}
    if args.apply:
        if not changes:
            err.print("nothing to apply: every criterion is in the state the rule proposes", highlight=False)
            return EXIT_OK
        path = criteria_file(ws)
        write_criteria(path, {**ws.criteria, **changes})
        err.print(f"wrote {len(changes)} criterion state{'s' if len(changes) != 1 else ''} to {shown(path)}",
                  highlight=False)
    return EXIT_OK


def _fig(stat) -> str:
    if stat is None:
        return ""
    if stat.value is None:
        return "n/a"
    if stat.low is None:
        return f"{stat.value:.2f}"
    return f"{stat.value:.2f} {stat.low:.2f}–{stat.high:.2f}"


def _human(report, ws) -> None:
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    from callqa.services import agreement as ag

    out = Console()
    # a terminal under 120 columns gets the figures graduation reads: kappa without its interval,
    # AC1 with it, no alpha (in --format json / csv), notes as ! and *
    wide = out.width >= 120
    table = Table(title=f"Agreement per criterion, blind answers ({report.calls} calls, reviewers: "
                        f"{', '.join(report.reviewers) or 'none'}); figure and 95% interval", title_justify="left",
                  **({} if wide else {"box": box.SIMPLE_HEAD, "pad_edge": False}))
    for name, narrow in (("criterion", 19), ("raters", 14)):
        table.add_column(name, no_wrap=True, max_width=28 if wide else narrow, overflow="ellipsis")
    figures = ("n", "yes", "agree", "kappa/Fleiss", "alpha", "AC1") if wide else ("n", "agree", "kappa", "AC1")
    for name in figures:
        table.add_column(name, justify="right", no_wrap=True, min_width=len(name))
    if wide:
        table.add_column("note")
    else:
        table.add_column("", no_wrap=True, min_width=2)
    last = None
    for c in report.comparisons:
        notes = [n for n, on in ((f"n < {ag.SMALL_N}", c.small), ("skewed: read AC1", c.skewed)) if on]
        agree = "–" if c.agreement.value is None else f"{c.agreement.value:.0%}"
        kappa = c.kappa or c.fleiss
        if wide:
            cells = [str(c.n), "–" if c.prevalence is None else f"{c.prevalence:.0%}", agree, _fig(kappa),
                     _fig(c.alpha), _fig(c.ac1), ", ".join(notes)]
        else:
            cells = [str(c.n), agree, "n/a" if kappa is None or kappa.value is None else f"{kappa.value:.2f}",
                     _fig(c.ac1), ("!" if c.small else "") + ("*" if c.skewed else "")]
        table.add_row(escape(c.criterion) if c.criterion != last else "", escape(c.label), *cells, end_section=False)
        last = c.criterion
    if not report.comparisons:  # the note on standard error said why
        return
    out.print(table)
    out.print(f"[dim]95% intervals: {ag.RESAMPLES} bootstrap resamples of the calls. {'n < ' if wide else '! n < '}{ag.SMALL_N}: too few "
              f"calls to decide. {'Skewed' if wide else '* skewed'} (one answer ≥ 90%): kappa and alpha drop toward 0 even when raters agree, "
              "because chance agreement is high; AC1 does not. N-A counts as a third answer.[/]", highlight=False)
    grad = Table("criterion", "state", "proposed", "why", title=f"Graduation ({report.rule.describe()})",
                 title_justify="left")
    for p in report.proposals:
        grad.add_row(escape(p.criterion), p.current, "–" if p.proposed is None else
                     (f"[bold]{p.proposed}[/]" if p.change else p.proposed), escape(p.reason))
    out.print(grad)
    changes = {p.criterion: p.proposed for p in report.proposals if p.change}
    if changes:
        out.print("To apply: callqa agreement --apply, or put this in callqa.toml:", highlight=False)
        out.print(ag.toml_snippet({**ws.criteria, **changes}), highlight=False, markup=False)
    if report.drift:
        versions = sum(1 for s in report.drift if s.kind == "rubric")
        months = sum(1 for s in report.drift if s.kind == "month")
        out.print(f"[dim]Drift over {versions} rubric version(s) and {months} month(s): --format json / csv or "
                  "--html.[/]", highlight=False)
