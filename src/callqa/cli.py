"""The ``callqa`` command line. Exit codes: 0 ok, 1 fell short of what was asked, 2 error."""

from __future__ import annotations

import argparse
import difflib
import json
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from callqa import __version__
from callqa.errors import CallQAError
from callqa.output import atomic_write, printable
from callqa.transcript import Transcript
from callqa.workspace import MAX_CALL_MINUTES, MAX_TRANSCRIPT_MB

EXIT_OK, EXIT_SHORT, EXIT_ERROR = 0, 1, 2

err = Console(stderr=True)


class Parser(argparse.ArgumentParser):
    """argparse with a did-you-mean for a mistyped command, choice or option."""

    def error(self, message: str) -> NoReturn:
        if m := re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message):
            choices = re.findall(r"'([^']*)'", m.group(2))
            close = difflib.get_close_matches(m.group(1), choices, n=1)
            if close:
                message += f"; did you mean {close[0]!r}?"
        elif m := re.search(r"unrecognized arguments: (.*)", message):
            known = {o for p in _parsers(self) for a in p._actions for o in a.option_strings}
            hints = [(arg, close[0]) for arg in m.group(1).split() if arg.startswith("--")
                     for close in [difflib.get_close_matches(arg.split("=")[0], known, n=1)] if close]
            if len(hints) == 1:
                message += f"; did you mean {hints[0][1]}?"
            elif hints:
                message += "; did you mean " + ", ".join(f"{close} for {arg}" for arg, close in hints) + "?"
        super().error(message)


def _parsers(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from _parsers(sub)


#: What `callqa completion` offers for a file argument (shtab.FILE, without importing shtab here).
COMPLETE_FILES = {"bash": "_shtab_compgen_files", "zsh": "_files", "tcsh": "f"}


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="callqa", description=__doc__)
    parser.add_argument("--version", action="version", version=f"callqa {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    tr = sub.add_parser("transcribe", help="transcribe recordings into speaker-labelled transcripts")
    tr.add_argument("files", nargs="+", metavar="FILE",
                    help="recordings, transcripts, or folders of them").complete = COMPLETE_FILES  # type: ignore[attr-defined]
    add_transcription_options(tr)
    tr.add_argument("--format", choices=("text", "json"), default="text",
                    help="text: readable; json: one JSON object per file per line")
    tr.add_argument("-o", "--output", type=Path,
                    help="write one JSON file per input into this folder: a folder's a/call.wav as a/call.wav.json")
    tr.set_defaults(func=cmd_transcribe)

    sc = sub.add_parser("score", help="score recordings or transcripts (files or folders) into the database")
    sc.add_argument("paths", nargs="*", metavar="PATH",
                    help="recordings, transcripts, or folders of them").complete = COMPLETE_FILES  # type: ignore[attr-defined]
    sc.add_argument("--agent", help="the agent of every call (default: from calls.csv / calls.json, or --name-pattern; "
                                    "a call stored before keeps its agent)")
    add_workspace_options(sc)
    sc.add_argument("--format", choices=("human", "json"), default="human",
                    help="json: one JSON object per call per line (see the README)")
    sc.add_argument("--rescore", action="store_true",
                    help="rescore stored calls from their stored transcripts even if the rubric did not change; "
                         "with no PATH, every stored call (only --agent's when given)")
    sc.add_argument("--executor", help="dask://HOST:PORT: transcribe on a dask.distributed cluster")
    sc.add_argument("--fail-under", type=float, metavar="N", help="exit 1 if any call scores under N")
    sc.set_defaults(func=cmd_score)

    rd = sub.add_parser("redact", help="replace personal data in everything already stored",
                        description="Card numbers, SSNs, e-mail addresses, phone numbers and long digit runs become "
                                    "[CARD], [SSN], ... in stored transcripts, flags, error messages and reviews, as "
                                    "--redact does for what is scored from now on. Prints what changed.")
    add_db_option(rd)
    rd.set_defaults(func=cmd_redact)

    ag = sub.add_parser("agents", help="list agents with call counts and average scores")
    add_db_option(ag)
    ag.add_argument("--format", choices=("human", "json", "csv"), default="human",
                    help="human: a table; json: a list of {agent, calls, score, sections}; csv: one row per agent")
    ag.set_defaults(func=cmd_agents)

    from callqa.cli_report import parse_day

    ex = sub.add_parser("export", help="export stored calls with their flags, section scores and reviews",
                        description="Columns and keys are listed in the README (Export); export_version says "
                                    "which list a file follows.")
    add_db_option(ex)
    ex.add_argument("--format", choices=("csv", "json"), default="csv",
                    help="csv: one row per flag (calls without flags get one row); json: one object per call per line")
    ex.add_argument("-o", "--output", type=Path, help="write to this file (default: standard output)")
    ex.add_argument("--agent", action="append", default=[], metavar="NAME",
                    help="only this agent's calls (repeat for several)")
    ex.add_argument("--from", dest="date_from", type=parse_day, metavar="DATE", help="first call date (YYYY-MM-DD)")
    ex.add_argument("--to", dest="date_to", type=parse_day, metavar="DATE", help="last call date, inclusive (YYYY-MM-DD)")
    ex.add_argument("--rubric-id", metavar="ID", help="only calls scored with this rubric id (as stored)")
    ex.add_argument("--min-score", type=float, metavar="N", help="only calls scoring at least N (after reviews)")
    ex.add_argument("--max-score", type=float, metavar="N", help="only calls scoring at most N (after reviews)")
    ex.set_defaults(func=cmd_export)

    cf = sub.add_parser("config", help="show the settings in force and where each one comes from",
                        description="Settings come from the command line, then CALLQA_* environment variables, "
                                    "then callqa.toml (or [tool.callqa] in pyproject.toml) in the working folder, "
                                    "then callqa.toml in your user config folder, then the defaults.")
    add_workspace_options(cf)
    cf.add_argument("--reviewer", metavar="NAME", help="name stored with your reviews (default: your login name)")
    cf.add_argument("--format", choices=("human", "json"), default="human",
                    help="json: {setting: {value, from}}")
    cf.set_defaults(func=cmd_config)

    co = sub.add_parser("completion", help="print a tab-completion script for bash, zsh or tcsh",
                        description="Tab completion of commands, options and their choices. "
                                    "bash: add  eval \"$(callqa completion bash)\"  to ~/.bashrc; "
                                    "zsh: callqa completion zsh > ~/.zfunc/_callqa (a folder on your fpath); "
                                    "tcsh: eval `callqa completion tcsh`.")
    co.add_argument("shell", choices=("bash", "zsh", "tcsh"), help="the shell to complete in")
    co.set_defaults(func=cmd_completion)

    from callqa.cli_agreement import add_agreement_parser
    from callqa.cli_calibrate import add_calibrate_parsers
    from callqa.cli_report import add_report_parser
    from callqa.cli_rubric import add_rubric_parser
    from callqa.cli_tui import add_tui_parser

    add_rubric_parser(sub)
    add_report_parser(sub)
    add_tui_parser(sub)
    add_calibrate_parsers(sub)
    add_agreement_parser(sub)
    for p in (sc,):
        out = p.add_mutually_exclusive_group()
        out.add_argument("-q", "--quiet", action="store_true",
                         help="print only the summary and errors, not a line per file")
        out.add_argument("-v", "--verbose", action="store_true",
                         help="print every file, skipped ones too")
    return parser


# Options that are workspace settings have no argparse default: None means "not given here", and
# the value comes from the environment, a config file or the default (callqa.workspace).

def add_db_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", metavar="URL",
                   help="database URL or SQLite file (default: $CALLQA_DB, callqa.toml, else a SQLite file in "
                        "your user data folder)")


def add_workspace_options(p: argparse.ArgumentParser) -> None:
    """The settings every command that scores takes (score, tui): database, rubric, redaction,
    agent names, transcription."""
    add_db_option(p)
    p.add_argument("--rubric", metavar="FILE", help="rubric YAML file (default: the packaged default rubric)")
    p.add_argument("--redact", action=argparse.BooleanOptionalAction,
                   help="replace card numbers, SSNs, e-mails, phone numbers and long digit runs before storing")
    p.add_argument("--name-pattern", metavar="PATTERN",
                   help="read agent and date from file names, e.g. '{agent}_{date}_{id}'")
    add_transcription_options(p)


def add_transcription_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--engine", choices=("faster-whisper", "openai-whisper"),
                   help="speech recognition engine (default: faster-whisper)")
    p.add_argument("--model", help="tiny.en (default) or base (packaged, offline), a model folder / .pt file, "
                                   "or a hub model name")
    p.add_argument("--agent-channel", choices=("left", "right"),
                   help="stereo recordings: the channel the agent is on (default: left)")
    p.add_argument("--mono-agent", choices=("auto", "first", "second"),
                   help="mono recordings: which diarized speaker is the agent (default auto: from what they say)")
    p.add_argument("--company", help="your company's name, a cue for finding the agent in mono calls")
    p.add_argument("--vocabulary", metavar="WORDS",
                   help="names and terms Whisper should expect, commas between them (company, products, places); "
                        "the company and each call's agent name are added")
    p.add_argument("--second-pass", metavar="MODEL",
                   help="decode the segments the model was unsure of again with MODEL (e.g. base), keeping the "
                        "likelier text; off (default) turns it off")
    p.add_argument("--second-pass-below", type=float, metavar="P",
                   help="... the segments whose mean word probability is under P (default: 0.6)")
    p.add_argument("--beam-size", type=int, metavar="N", help="beam search width (default: 5)")
    p.add_argument("--vad", action=argparse.BooleanOptionalAction,
                   help="skip silence before recognition (default: on)")
    p.add_argument("--cache", action=argparse.BooleanOptionalAction,
                   help="read and write the transcript cache (default: on)")
    p.add_argument("-j", "--workers", type=int, metavar="N", help="worker processes (default: all cores)")
    p.add_argument("--max-call-minutes", type=int, metavar="N",
                   help="refuse a recording longer than N minutes, or a transcript whose times run past them "
                        f"(default: {MAX_CALL_MINUTES})")
    p.add_argument("--max-transcript-mb", type=int, metavar="N",
                   help=f"refuse a transcript file larger than N MB (default: {MAX_TRANSCRIPT_MB})")


def progress_bar() -> Progress:
    return Progress(TextColumn("[progress.description]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(), console=err, transient=True)


def cmd_transcribe(args: argparse.Namespace) -> int:
    from callqa.transcribe import TranscribeSettings, named_inputs, transcribe_many

    named = named_inputs(args.files)  # none: an error
    failures = 0
    # -o: OUT/<the file's path under the folder given>.json (a/call.txt -> OUT/a/call.txt.json); two
    # inputs with one output name fail rather than one transcript overwriting the other
    targets: dict[Path, Path | None] = {}
    owners: dict[Path, Path] = {}
    for path, name in named:
        target = args.output / name.with_name(name.name + ".json") if args.output else None
        if target is not None and target in owners:
            failures += 1
            err.print(f"[red]error:[/] {shown(path)}: not transcribed, its output {shown(target)} is "
                      f"{shown(owners[target])}'s; give their folder instead", highlight=False, soft_wrap=True)
            continue
        owners[target] = path
        targets[path] = target
    paths = list(targets)
    with progress_bar() as progress:
        task = progress.add_task("transcribing", total=len(paths))
        for outcome in transcribe_many(paths, TranscribeSettings.of(args.workspace), workers=args.workspace.workers):
            progress.advance(task)
            if outcome.error:
                failures += 1
                progress.console.print(f"[red]error:[/] {shown(outcome.error)}", highlight=False, soft_wrap=True)
                continue
            emit(outcome.transcript, args.format, targets[outcome.path])
    if failures:
        err.print(f"{failures} of {len(named)} files failed")
    return EXIT_ERROR if failures else EXIT_OK


def cmd_score(args: argparse.Namespace) -> int:
    from callqa import services

    if not args.paths and not args.rescore:
        err.print("[red]error:[/] give recordings, transcripts or folders to score "
                  "(or --rescore alone to rescore every stored call)")
        return EXIT_ERROR
    ws = args.workspace
    below = 0
    results = Console()  # per-call results and the summary on standard output; progress on standard error
    with progress_bar() as progress:
        task = progress.add_task("scoring", total=None)

        def on_outcome(outcome) -> None:
            nonlocal below
            progress.advance(task)
            if (outcome.score and outcome.score.score is not None and args.fail_under is not None
                    and outcome.score.score < args.fail_under):
                below += 1
            if args.format == "json":
                print(json.dumps(outcome.to_json(args.workspace.criteria), ensure_ascii=False), flush=True)
            elif args.quiet:  # the summary lists the failures
                return
            elif outcome.status == "failed":  # a log line: standard error
                progress.console.print(f"[red]failed:[/] {shown(outcome.error)}", highlight=False, soft_wrap=True)
            elif outcome.status == "not_service":
                results.print(f"[yellow]not scored:[/] {shown(outcome.error)}", highlight=False, soft_wrap=True)
            elif outcome.status == "skipped":
                if args.verbose:
                    why = "being scored by another batch" if outcome.error else "already stored with this rubric"
                    results.print(f"skipped  {shown(outcome.agent or ''):12} {shown(outcome.file)}  ({why})",
                                  highlight=False, soft_wrap=True)
            else:  # a result: standard output
                s = outcome.score
                negatives = sum(1 for f in s.flags if f.polarity == "negative")
                results.print(f"{s.score:5.1f}  {shown(outcome.agent):12} {shown(outcome.file)}  "
                              f"({negatives} issues{', CRITICAL' if s.critical_failed else ''})",
                              highlight=False, soft_wrap=True)

        set_total = lambda n: progress.update(task, total=n)  # noqa: E731
        if args.paths:
            summary = services.score_paths(args.paths, ws, agent=args.agent, rescore=args.rescore,
                                           executor=args.executor, on_outcome=on_outcome, on_total=set_total)
        else:  # --rescore alone: every stored call (of --agent), from its stored transcript
            summary = services.rescore_stored(ws, agent=args.agent, rescore=True, on_outcome=on_outcome,
                                              on_total=set_total)
    scored, rescored, skipped = summary.count("scored"), summary.count("rescored"), summary.count("skipped")
    out = err if args.format == "json" else results
    not_service = summary.count("not_service")
    elsewhere = sum(1 for o in summary.outcomes if o.status == "skipped" and o.error)
    out.print(f"\nscored {scored}, rescored {rescored}, skipped {skipped} (already stored"
              + (f"; {elsewhere} being scored by another batch" if elsewhere else "") + "), "
              + (f"not a service call {not_service}, " if not_service else "")
              + f"failed {len(summary.failed)}  → {services.database_label(ws)}", highlight=False, soft_wrap=True)
    for failure in summary.failed:
        out.print(f"  [red]failed:[/] {shown(failure.error)}", highlight=False, soft_wrap=True)
    if summary.unredacted:  # redaction is on, and calls stored without it may hold what it replaces
        n = summary.unredacted
        db = f" --db {services.database_label(ws)}" if ws.sources.get("db") == "--db" else ""
        err.print(f"[yellow]note:[/] {n} stored call{'s were' if n != 1 else ' was'} stored without redaction "
                  f"and may hold personal data: run `callqa redact{shown(db)}`", highlight=False, soft_wrap=True)
    touched = {o.agent for o in summary.outcomes if o.agent}
    if args.format == "human" and touched:
        _print_agents([a for a in services.agent_summaries(ws) if a.agent in touched], out)
        _print_unassigned(services.unassigned_calls(ws), out)
    if summary.failed:
        return EXIT_ERROR
    return EXIT_SHORT if below else EXIT_OK


def cmd_redact(args: argparse.Namespace) -> int:
    from callqa import services

    n = services.redact_stored(args.workspace)
    Console().print(f"redacted {_count(n['calls'], 'call')}: {_count(n['segments'], 'segment')}, "
                    f"{_count(n['flags'], 'flag')}, {_count(n['errors'], 'error message')}, "
                    f"{_count(n['reviews'], 'review')}  → {shown(services.database_label(args.workspace))}",
                    highlight=False, soft_wrap=True)
    return EXIT_OK


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def cmd_agents(args: argparse.Namespace) -> int:
    from callqa import services

    agents = services.agent_summaries(args.workspace)
    if args.format == "json":
        print(json.dumps([a.to_dict() for a in agents], indent=1))
    elif args.format == "csv":
        import csv

        sections = sorted({name for a in agents for name in a.sections})
        writer = csv.writer(sys.stdout)
        writer.writerow(["agent", "calls", "score", *sections])
        for a in agents:
            writer.writerow([csv_cell(a.agent), a.calls, _fmt(a.score), *(_fmt(a.sections.get(s)) for s in sections)])
    else:
        _print_agents(agents, Console())
        _print_unassigned(services.unassigned_calls(args.workspace), Console())
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    import contextlib
    import csv

    from callqa import services
    from callqa.cli_report import reversed_range
    from callqa.services import EXPORT_CALL_FIELDS, EXPORT_FLAG_FIELDS

    if reversed_range(args):
        return EXIT_ERROR
    where = services.ExportFilter(tuple(args.agent), args.date_from, args.date_to, args.rubric_id,
                                  args.min_score, args.max_score)
    with contextlib.ExitStack() as stack:
        try:
            out = stack.enter_context(atomic_write(args.output, newline="")) if args.output else sys.stdout
        except OSError as exc:
            raise CallQAError(f"{args.output}: cannot write the export: {exc.strerror or exc}") from None
        writer = csv.writer(out) if args.format == "csv" else None
        sections = services.export_sections(args.workspace, where) if writer else []
        if writer:
            writer.writerow(["export_version", *EXPORT_CALL_FIELDS, *(f"section:{s}" for s in sections),
                             "reviews", "comments", *EXPORT_FLAG_FIELDS])
        count = 0
        for row in services.export_calls(args.workspace, where):
            count += 1
            if writer is None:
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
                continue
            notes = " | ".join(r["text"] for r in row["reviews"] if r["kind"] in ("comment", "dispute") and r["text"])
            call = [row["export_version"], *(row[k] for k in EXPORT_CALL_FIELDS),
                    *(_fmt(row["sections"].get(s, {}).get("reviewed")) for s in sections), len(row["reviews"]), notes]
            for flag in row["flags"] or [{}]:
                writer.writerow([csv_cell(v) for v in (*call, *(flag.get(k, "") for k in EXPORT_FLAG_FIELDS))])
    if args.output:
        err.print(f"exported {count} calls to {shown(args.output)}", highlight=False)
    return EXIT_OK


def csv_cell(value: object) -> object:
    """A cell a spreadsheet will not run: text starting with = + - @ (or a tab / CR) gets a leading
    apostrophe (CSV formula injection: an agent name "=HYPERLINK(…)" is data, not a formula);
    terminal control characters become "?" (``printable``)."""
    if not isinstance(value, str):
        return value
    return "'" + printable(value) if value[:1] in ("=", "+", "-", "@", "\t", "\r") else printable(value)


def cmd_completion(args: argparse.Namespace) -> int:
    try:
        import shtab
    except ImportError:
        raise CallQAError("shell completion needs the package shtab: pip install shtab") from None
    print(shtab.complete(build_parser(), shell=args.shell))
    return EXIT_OK


def cmd_config(args: argparse.Namespace) -> int:
    from callqa.services import database_label
    from callqa.workspace import config_searched

    ws = args.workspace
    values = ws.values()
    values["db"] = database_label(ws)
    values["reviewer"] = ws.reviewer_name
    if args.format == "json":
        print(json.dumps({key: {"value": value, "from": ws.sources[key]} for key, value in values.items()}, indent=1))
        return EXIT_OK
    from rich.table import Table

    table = Table("setting", "value", "from", title="callqa settings")
    for key, value in values.items():
        value_text = ("(packaged default)" if key == "rubric" else "") if value is None \
            else str(value).lower() if isinstance(value, bool) else ", ".join(value) if isinstance(value, tuple) \
            else str(value)
        table.add_row(key, shown(value_text), ws.sources[key])
    out = Console()
    out.print(table)
    for path, found in config_searched():
        out.print(f"{'read' if found else 'none'}: {shown(path)}", style=None if found else "dim", highlight=False,
                  soft_wrap=True)
    return EXIT_OK


def shown(value: object) -> str:
    """User text (a file or agent name, an error quoting one) for console markup: shown as
    written, never read as markup ("[/bad]" would end the batch with a MarkupError) nor as a
    terminal control sequence."""
    from rich.markup import escape

    return escape(printable(str(value)))


def _fmt(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


def _print_unassigned(n: int, console: Console) -> None:
    if n:
        console.print(f"{n} call{'s' if n != 1 else ''} with no agent named (not in any average or report): "
                      "give --agent, a calls.csv or --name-pattern and score again", style="yellow",
                      highlight=False, soft_wrap=True)


def _print_agents(agents, console: Console) -> None:
    from rich.table import Table

    if not agents:
        console.print("no scored calls yet: run `callqa score FOLDER`")
        return
    sections = list(agents[0].sections)
    wide = console.width >= 34 + 11 * len(sections)  # every section fits: show them all
    columns = sections if wide else ["weakest sections"]
    table = Table("agent", "calls", "score", *columns, title="Per-agent averages")
    for a in agents:
        if wide:
            cells = [_fmt(a.sections.get(s)) for s in sections]
        else:
            scored = sorted((v, name) for name, v in a.sections.items() if v is not None)
            cells = [", ".join(f"{name} {v:.0f}" for v, name in scored[:3])]
        table.add_row(shown(a.agent), str(a.calls), _fmt(a.score), *cells)
    console.print(table)
    if not wide:
        console.print("every section: callqa agents --format csv (or json)", style="dim")


def emit(transcript: Transcript, fmt: str, target: Path | None) -> None:
    if target:
        target.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(target) as fh:
            fh.write(json.dumps(transcript.to_dict(), indent=1))
    if fmt == "json":
        print(json.dumps(transcript.to_dict(), ensure_ascii=False), flush=True)
        return
    print(f"== {transcript.file}  ({transcript.duration:.1f} s, {transcript.engine} {transcript.model}, "
          f"roles from {transcript.roles}, confidence {transcript.role_confidence:.2f})")
    for seg in transcript.segments:
        print(f"[{_clock(seg.start)}-{_clock(seg.end)}] {seg.speaker.capitalize():8} {seg.text}")
    print(flush=True)


def _clock(seconds: float) -> str:
    minutes, secs = divmod(seconds, 60)
    return f"{int(minutes):02d}:{secs:04.1f}"


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        from callqa.workspace import resolve

        args.workspace = resolve(args)  # the one settings object of this process
        return args.func(args)
    except CallQAError as exc:
        err.print(f"[red]error:[/] {shown(exc)}", highlight=False)
        return EXIT_ERROR
    except KeyboardInterrupt:
        err.print("interrupted")
        return 130
    except BrokenPipeError:  # output piped into `head` and the like: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
