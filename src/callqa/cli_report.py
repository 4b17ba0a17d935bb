"""``callqa report``: coaching reports per agent (HTML, Markdown, JSON) and the team overview.

    callqa report alice -o alice.html                     # one agent, self-contained HTML
    callqa report alice --format md --from 2026-10-01     # Markdown on standard output
    callqa report --all -o reports/                       # every agent + reports/index.html

Exit codes: 0 written; 2 on error (unknown agent: the message lists the known ones).
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path

from rich.console import Console

from callqa.output import atomic_write

EXIT_OK, EXIT_ERROR = 0, 2
err = Console(stderr=True)
SUFFIXES = {"html": ".html", "md": ".md", "json": ".json"}


def parse_day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date: {text!r} (use YYYY-MM-DD)") from None


def reversed_range(args: argparse.Namespace) -> bool:
    """True (and said on standard error) when ``--from`` is after ``--to``."""
    if args.date_from and args.date_to and args.date_from > args.date_to:
        err.print(f"[red]error:[/] --from {args.date_from} is after --to {args.date_to}", highlight=False)
        return True
    return False


def add_report_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "report", help="coaching report for an agent (or --all) as HTML, Markdown or JSON",
        description="A coaching report drawn from an agent's stored calls: scores against the team, the top 3 "
                    "things to work on with quotes and what to say instead, strengths, listening measures.")
    p.add_argument("agent", nargs="?", metavar="AGENT", help="the agent's name, as `callqa agents` lists it")
    p.add_argument("--all", action="store_true", help="every agent, plus a team overview index.html, into -o DIR")
    p.add_argument("--from", dest="date_from", type=parse_day, metavar="DATE", help="first call date (YYYY-MM-DD)")
    p.add_argument("--to", dest="date_to", type=parse_day, metavar="DATE", help="last call date, inclusive (YYYY-MM-DD)")
    p.add_argument("--format", choices=tuple(SUFFIXES), default="html",
                   help="html: one self-contained page (default); md: for a ticket or chat; json: for other tools")
    p.add_argument("-o", "--output", type=Path, metavar="PATH",
                   help="file to write (default: standard output); with --all, the folder to write into")
    from callqa.cli import add_db_option

    add_db_option(p)
    p.add_argument("--rubric", metavar="FILE",
                   help="rubric YAML file for names, suggestions and guidance (default: the packaged default)")
    p.add_argument("--no-redact", dest="redact", action="store_false",
                   help="show card numbers, e-mails and phone numbers in quotes as they were said")
    p.set_defaults(func=cmd_report)
    return p


def cmd_report(args: argparse.Namespace) -> int:
    from callqa.cli import shown

    from callqa import reports
    from callqa.errors import CallQAError

    if args.all == bool(args.agent):
        err.print("[red]error:[/] give an AGENT, or --all with -o DIR", highlight=False)
        return EXIT_ERROR
    if args.all and args.output is None:
        err.print("[red]error:[/] --all writes one file per agent: give the folder with -o DIR", highlight=False)
        return EXIT_ERROR
    if reversed_range(args):
        return EXIT_ERROR
    from callqa.services import load_rubric

    ws = args.workspace
    rubric = load_rubric(ws.rubric)
    try:
        if args.all:
            return _write_all(args, rubric)
        report = reports.build_report(ws.db, args.agent, date_from=args.date_from, date_to=args.date_to,
                                      rubric=rubric, redact=args.redact, states=ws.criteria)
    except CallQAError as exc:
        err.print(f"[red]error:[/] {shown(exc)}", highlight=False)
        return EXIT_ERROR
    if report.calls == 0:
        err.print(f"[yellow]note:[/] {shown(args.agent)} has no scored calls in this period", highlight=False)
    text = _render(report, args.format)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(args.output) as fh:
            fh.write(text)
        err.print(f"wrote {shown(args.agent)}'s report ({report.calls} calls) to {shown(args.output)}", highlight=False)
    else:
        sys.stdout.write(text)
    return EXIT_OK


def _render(report, fmt: str, **html_options) -> str:
    from callqa import reports

    if fmt == "html":
        return reports.render_html(report, **html_options)
    if fmt == "md":
        return reports.render_markdown(report)
    return json.dumps(reports.report_json(report), indent=1, ensure_ascii=False) + "\n"


def _write_all(args: argparse.Namespace, rubric) -> int:
    from callqa.cli import shown

    from callqa import reports

    overview = reports.build_team_overview(args.workspace.db, date_from=args.date_from, date_to=args.date_to,
                                           rubric=rubric, redact=args.redact, states=args.workspace.criteria)
    out: Path = args.output
    out.mkdir(parents=True, exist_ok=True)
    names = [r.agent for r in overview.reports]
    suffix = SUFFIXES[args.format]
    files = {reports.report_filename(r.agent, names, suffix): _render(r, args.format, back_link="index.html")
             for r in overview.reports}
    files["index.html"] = reports.render_overview_html(overview, suffix=suffix)
    if args.format == "json":
        files["index.json"] = json.dumps(reports.overview_json(overview), indent=1, ensure_ascii=False) + "\n"
    for name, text in files.items():
        with atomic_write(out / name) as fh:
            fh.write(text)
    index = out / "index.html"
    err.print(f"wrote {len(names)} agent report{'s' if len(names) != 1 else ''} and the team overview to "
              f"{shown(index)}", highlight=False)
    return EXIT_OK
