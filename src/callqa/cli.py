"""The ``callqa`` command line. Exit codes: 0 ok, 1 fell short of what was asked, 2 error."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from callqa import __version__
from callqa.errors import CallQAError
from callqa.transcript import Transcript

EXIT_OK, EXIT_SHORT, EXIT_ERROR = 0, 1, 2

err = Console(stderr=True)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="callqa", description=__doc__)
    parser.add_argument("--version", action="version", version=f"callqa {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    tr = sub.add_parser("transcribe", help="transcribe recordings into speaker-labelled transcripts")
    tr.add_argument("files", nargs="+", metavar="FILE", help="recordings, transcripts, or folders of them")
    add_transcription_options(tr)
    tr.add_argument("--format", choices=("text", "json"), default="text",
                    help="text: readable; json: one JSON object per file per line")
    tr.add_argument("-o", "--output", type=Path, help="write one <name>.json per file into this folder")
    tr.set_defaults(func=cmd_transcribe)

    sc = sub.add_parser("score", help="score recordings or transcripts (files or folders) into the database")
    sc.add_argument("paths", nargs="*", metavar="PATH", help="recordings, transcripts, or folders of them")
    sc.add_argument("--rubric", help="rubric YAML file (default: the packaged default rubric)")
    sc.add_argument("--agent", help="the agent of every call (default: from calls.csv / calls.json, or --name-pattern)")
    sc.add_argument("--name-pattern", help="read agent and date from file names, e.g. '{agent}_{date}_{id}'")
    add_db_option(sc)
    sc.add_argument("--format", choices=("human", "json"), default="human",
                    help="json: one JSON object per call per line (see the README)")
    sc.add_argument("--rescore", action="store_true",
                    help="rescore stored calls from their stored transcripts even if the rubric did not change; "
                         "with no PATH, every stored call (only --agent's when given)")
    sc.add_argument("--redact", action="store_true",
                    help="replace card numbers, SSNs, e-mails, phone numbers and long digit runs before storing")
    sc.add_argument("--executor", help="dask://HOST:PORT: transcribe on a dask.distributed cluster")
    sc.add_argument("--fail-under", type=float, metavar="N", help="exit 1 if any call scores under N")
    add_transcription_options(sc)
    sc.set_defaults(func=cmd_score)

    ag = sub.add_parser("agents", help="list agents with call counts and average scores")
    add_db_option(ag)
    ag.add_argument("--format", choices=("human", "json", "csv"), default="human")
    ag.set_defaults(func=cmd_agents)

    ex = sub.add_parser("export", help="export stored calls and their flags")
    add_db_option(ex)
    ex.add_argument("--format", choices=("csv", "json"), default="csv",
                    help="csv: one row per flag (calls without flags get one row); json: one object per call per line")
    ex.add_argument("-o", "--output", type=Path, help="write to this file (default: standard output)")
    ex.set_defaults(func=cmd_export)

    from callqa.cli_report import add_report_parser
    from callqa.cli_rubric import add_rubric_parser
    from callqa.cli_tui import add_tui_parser

    add_rubric_parser(sub)
    add_report_parser(sub)
    add_tui_parser(sub)
    return parser


def add_db_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", metavar="URL",
                   help="database URL (default: $CALLQA_DB, else a SQLite file in your user data folder)")


def add_transcription_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--engine", choices=("faster-whisper", "openai-whisper"), default="faster-whisper")
    p.add_argument("--model", default="tiny.en",
                   help="tiny.en or base (packaged, offline), a model folder / .pt file, or a hub model name")
    p.add_argument("--agent-channel", choices=("left", "right"), default="left",
                   help="stereo recordings: the channel the agent is on")
    p.add_argument("--mono-agent", choices=("auto", "first", "second"), default="auto",
                   help="mono recordings: which diarized speaker is the agent (auto: from what they say)")
    p.add_argument("--company", help="your company's name, a cue for finding the agent in mono calls")
    p.add_argument("--beam-size", type=int, default=5)
    p.add_argument("--no-vad", action="store_true", help="do not skip silence before recognition")
    p.add_argument("--no-cache", action="store_true", help="ignore and do not write the transcript cache")
    p.add_argument("-j", "--workers", type=int, default=0, help="worker processes (default: all cores)")


def transcription_settings(args: argparse.Namespace):
    from callqa.transcribe import TranscribeSettings

    return TranscribeSettings(engine=args.engine, model=args.model, beam_size=args.beam_size, vad=not args.no_vad,
                              agent_channel=args.agent_channel, mono_agent=args.mono_agent, company=args.company,
                              use_cache=not args.no_cache)


def progress_bar() -> Progress:
    return Progress(TextColumn("[progress.description]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(), console=err, transient=True)


def cmd_transcribe(args: argparse.Namespace) -> int:
    from callqa.transcribe import find_inputs, transcribe_many

    paths = find_inputs(args.files)
    if not paths:
        err.print("[red]error:[/] no recordings or transcripts found in " + ", ".join(args.files))
        return EXIT_ERROR
    workers = args.workers or min(len(paths), os.cpu_count() or 1)
    if args.output:
        args.output.mkdir(parents=True, exist_ok=True)
    failures = 0
    with progress_bar() as progress:
        task = progress.add_task("transcribing", total=len(paths))
        for outcome in transcribe_many(paths, transcription_settings(args), workers=workers):
            progress.advance(task)
            if outcome.error:
                failures += 1
                progress.console.print(f"[red]error:[/] {outcome.error}", highlight=False, soft_wrap=True)
                continue
            emit(outcome.transcript, args.format, args.output)
    if failures:
        err.print(f"{failures} of {len(paths)} files failed")
    return EXIT_ERROR if failures else EXIT_OK


def cmd_score(args: argparse.Namespace) -> int:
    from callqa import services
    from callqa.storage import database_url, safe_url

    if not args.paths and not args.rescore:
        err.print("[red]error:[/] give recordings, transcripts or folders to score "
                  "(or --rescore alone to rescore every stored call)")
        return EXIT_ERROR
    settings = services.ScoreSettings(
        transcription=transcription_settings(args), rubric=args.rubric, db=args.db, agent=args.agent,
        name_pattern=args.name_pattern, workers=args.workers, executor=args.executor, rescore=args.rescore,
        redact=args.redact or _env_flag("CALLQA_REDACT"))
    below = 0
    with progress_bar() as progress:
        task = progress.add_task("scoring", total=None)

        def on_outcome(outcome) -> None:
            nonlocal below
            progress.advance(task)
            if (outcome.score and outcome.score.score is not None and args.fail_under is not None
                    and outcome.score.score < args.fail_under):
                below += 1
            if args.format == "json":
                print(json.dumps(outcome.to_json(), ensure_ascii=False), flush=True)
            elif outcome.status == "failed":
                progress.console.print(f"[red]failed:[/] {outcome.error}", highlight=False, soft_wrap=True)
            elif outcome.status == "not_service":
                progress.console.print(f"[yellow]not scored:[/] {outcome.error}", highlight=False, soft_wrap=True)
            elif outcome.status != "skipped":
                s = outcome.score
                negatives = sum(1 for f in s.flags if f.polarity == "negative")
                progress.console.print(f"{s.score:5.1f}  {outcome.agent:12} {outcome.file}  "
                                       f"({negatives} issues{', CRITICAL' if s.critical_failed else ''})",
                                       highlight=False, soft_wrap=True)

        set_total = lambda n: progress.update(task, total=n)  # noqa: E731
        if args.paths:
            summary = services.score_paths(args.paths, settings, on_outcome, on_total=set_total)
        else:  # --rescore alone: every stored call (of --agent), from its stored transcript
            summary = services.rescore_stored(settings, on_outcome, on_total=set_total)
    scored, rescored, skipped = summary.count("scored"), summary.count("rescored"), summary.count("skipped")
    out = err if args.format == "json" else Console()
    not_service = summary.count("not_service")
    out.print(f"\nscored {scored}, rescored {rescored}, skipped {skipped} (already stored), "
              + (f"not a service call {not_service}, " if not_service else "")
              + f"failed {len(summary.failed)}  → {safe_url(database_url(args.db))}", highlight=False, soft_wrap=True)
    for failure in summary.failed:
        out.print(f"  [red]failed:[/] {failure.error}", highlight=False, soft_wrap=True)
    touched = {o.agent for o in summary.outcomes if o.agent}
    if args.format == "human" and touched:
        _print_agents([a for a in services.agent_summaries(args.db) if a.agent in touched], out)
    if summary.failed:
        return EXIT_ERROR
    return EXIT_SHORT if below else EXIT_OK


def cmd_agents(args: argparse.Namespace) -> int:
    from callqa import services

    agents = services.agent_summaries(args.db)
    if args.format == "json":
        print(json.dumps([a.to_dict() for a in agents], indent=1))
    elif args.format == "csv":
        import csv

        sections = sorted({name for a in agents for name in a.sections})
        writer = csv.writer(sys.stdout)
        writer.writerow(["agent", "calls", "score", *sections])
        for a in agents:
            writer.writerow([a.agent, a.calls, _fmt(a.score), *(_fmt(a.sections.get(s)) for s in sections)])
    else:
        _print_agents(agents, Console())
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    import csv
    import contextlib

    from callqa import services
    from callqa.storage.repository import EXPORT_CALL_FIELDS, EXPORT_FLAG_FIELDS

    with contextlib.ExitStack() as stack:
        out = stack.enter_context(open(args.output, "w", newline="", encoding="utf-8")) if args.output else sys.stdout
        writer = csv.writer(out) if args.format == "csv" else None
        if writer:
            writer.writerow([*EXPORT_CALL_FIELDS, *EXPORT_FLAG_FIELDS])
        count = 0
        for row in services.export_calls(args.db):
            count += 1
            if writer is None:
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
                continue
            call = [row[k] for k in EXPORT_CALL_FIELDS]
            for flag in row["flags"] or [{}]:
                writer.writerow([*call, *(flag.get(k, "") for k in EXPORT_FLAG_FIELDS)])
    if args.output:
        err.print(f"exported {count} calls to {args.output}")
    return EXIT_OK


def _fmt(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


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
        table.add_row(a.agent, str(a.calls), _fmt(a.score), *cells)
    console.print(table)
    if not wide:
        console.print("every section: callqa agents --format csv (or json)", style="dim")


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").lower() in ("1", "true", "yes", "on")


def emit(transcript: Transcript, fmt: str, output: Path | None) -> None:
    if output:
        target = output / (Path(transcript.file).stem + ".json")
        target.write_text(json.dumps(transcript.to_dict(), indent=1), encoding="utf-8")
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
        return args.func(args)
    except CallQAError as exc:
        err.print(f"[red]error:[/] {exc}", highlight=False)
        return EXIT_ERROR
    except KeyboardInterrupt:
        err.print("interrupted")
        return 130
    except BrokenPipeError:  # output piped into `head` and the like: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
