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
    return parser


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


if __name__ == "__main__":
    sys.exit(main())
