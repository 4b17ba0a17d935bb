"""``callqa calibrate`` (calibration sessions) and ``callqa review --blind`` (a scripted blind review).

    callqa calibrate assign --reviewers ana,ben,cy --calls 20 [--agent NAME] [--seed N] [--name NAME]
    callqa calibrate status [--name NAME]
    callqa review CALL_ID --blind --reviewer ana [--answers FILE]

Exit codes: 0 done; 1 a blind review left criteria unanswered; 2 on error.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from rich.console import Console

from callqa.errors import CallQAError

EXIT_OK, EXIT_SHORT, EXIT_ERROR = 0, 1, 2
err = Console(stderr=True)


def add_calibrate_parsers(subparsers: argparse._SubParsersAction) -> None:
    """Add ``calibrate`` and ``review`` to the ``callqa`` subcommands."""
    from callqa.cli import add_db_option

    cal = subparsers.add_parser("calibrate", help="calibration sessions: calls every reviewer answers blind",
                                description="Draw a sample of calls that every named reviewer answers blind "
                                            "(callqa tui, mode 6, or callqa review --blind), and follow their "
                                            "progress. Agreement on the answers: callqa agreement.")
    steps = cal.add_subparsers(dest="step", required=True)
    a = steps.add_parser("assign", help="draw a stratified sample of calls and assign it to the reviewers",
                         description="The sample is stratified per agent and score third and favours calls "
                                     "with the machine's rarer answer on each criterion (see the README, "
                                     "Calibration); the same --seed draws the same sample.")
    a.add_argument("--reviewers", required=True, metavar="NAMES", help="comma-separated reviewer names: ana,ben,cy")
    a.add_argument("--calls", type=int, required=True, metavar="N", help="how many calls to sample")
    a.add_argument("--agent", metavar="NAME", help="only this agent's calls")
    a.add_argument("--seed", type=int, metavar="N", help="random seed (default: a new one, stored and printed)")
    a.add_argument("--name", metavar="NAME", help="the session's name (default: calibration-YYYY-MM-DD)")
    add_db_option(a)
    a.add_argument("--format", choices=("human", "json"), default="human", help="json: the session drawn")
    a.set_defaults(func=cmd_assign)

    s = steps.add_parser("status", help="progress per reviewer: calls done / assigned")
    s.add_argument("--name", metavar="NAME", help="one session (default: every session)")
    add_db_option(s)
    s.add_argument("--format", choices=("human", "json"), default="human",
                   help="json: a list of {session, reviewer, done, assigned}")
    s.set_defaults(func=cmd_status)

    r = subparsers.add_parser("review", help="review a call blind: answer each criterion yes / no / na",
                              description="Answer each criterion of a stored call without seeing the machine's "
                                          "verdicts, then see the comparison. Answers are stored apart from "
                                          "accept/reject reviews; answering again replaces an answer.")
    r.add_argument("call_id", type=int, metavar="CALL_ID", help="the stored call's id (callqa tui shows it)")
    r.add_argument("--blind", action="store_true", help="a blind review (the only kind on the command line)")
    r.add_argument("--reviewer", metavar="NAME",
                   help="name stored with the answers (default: $CALLQA_REVIEWER, callqa.toml, else your login name)")
    r.add_argument("--answers", type=Path, metavar="FILE",
                   help="YAML or JSON mapping criterion -> yes/no/na (default: ask on the terminal)")
    add_db_option(r)
    r.add_argument("--rubric", metavar="FILE", help="rubric YAML file for the criteria's names (default: packaged)")
    r.add_argument("--format", choices=("human", "json"), default="human",
                   help="json: {call, reviewer, done, remaining, comparison}")
    r.set_defaults(func=cmd_review)


# --------------------------------------------------------------------------- calibrate


def cmd_assign(args: argparse.Namespace) -> int:
    from callqa import services
    from callqa.cli import shown
    from callqa.services import calibration

    reviewers = [r for r in args.reviewers.split(",") if r.strip()]
    with services.session_for(args.workspace.db) as session:
        drawn = calibration.assign(session, args.name, reviewers, calls=args.calls, agent=args.agent, seed=args.seed)
    if args.format == "json":
        print(json.dumps({"name": drawn.name, "seed": drawn.seed, "reviewers": list(drawn.reviewers),
                          "calls": list(drawn.call_ids),
                          "strata": [{"agent": a, "band": b, "calls": n}
                                     for (a, b), n in sorted(drawn.strata.items()) if n]},
                         indent=1))
        return EXIT_OK
    out = Console()
    out.print(f"calibration session {shown(drawn.name)}: {len(drawn.call_ids)} calls for each of "
              f"{', '.join(shown(r) for r in drawn.reviewers)} (seed {drawn.seed})", highlight=False, soft_wrap=True)
    bands = calibration.BANDS
    agents = sorted({a for a, _ in drawn.strata})
    from rich.table import Table

    table = Table("agent", *(f"{b} third" for b in bands), title="calls drawn per agent and score third")
    for agent in agents:
        table.add_row(shown(agent), *(str(drawn.strata.get((agent, b), 0)) for b in bands))
    out.print(table)
    out.print("reviewers answer blind in callqa tui (6) or with callqa review CALL_ID --blind; "
              f"progress: callqa calibrate status --name {shown(drawn.name)}", style="dim", highlight=False,
              soft_wrap=True)
    return EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    from callqa import services
    from callqa.cli import shown
    from callqa.services import calibration

    with services.session_for(args.workspace.db) as session:
        rows = calibration.progress(session, args.name)
    if args.format == "json":
        print(json.dumps([{"session": p.session, "reviewer": p.reviewer, "done": p.done, "assigned": p.assigned}
                          for p in rows], indent=1))
        return EXIT_OK
    out = Console()
    if not rows:
        out.print("no calibration session yet: callqa calibrate assign --reviewers ana,ben --calls 20")
        return EXIT_OK
    from rich.table import Table

    table = Table("session", "reviewer", "done", "assigned", "", title="Calibration progress")
    for p in rows:
        bar = "█" * round(10 * p.done / p.assigned) if p.assigned else ""
        table.add_row(shown(p.session), shown(p.reviewer), str(p.done), str(p.assigned), f"{bar:░<10}")
    out.print(table)
    return EXIT_OK


# --------------------------------------------------------------------------- review --blind


def read_answers(path: Path) -> dict[str, Any]:
    """criterion → answer from a YAML or JSON file; CallQAError naming the file."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CallQAError(f"{path}: cannot read the answers: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise CallQAError(f"{path}: not YAML or JSON ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise CallQAError(f"{path}: expected a mapping of criterion to yes / no / na, e.g. "
                          "'greeting.opening: yes'")
    return data


def cmd_review(args: argparse.Namespace) -> int:
    from callqa import services
    from callqa.services import calibration

    if not args.blind:
        raise CallQAError("callqa review reviews blind only (--blind); to accept or reject the machine's flags, "
                          "use callqa tui")
    ws = args.workspace
    reviewer = ws.reviewer_name
    interactive = sys.stdin.isatty()
    given = read_answers(args.answers) if args.answers else None
    if given is None and not interactive:
        raise CallQAError("give the answers with --answers FILE (there is no terminal to ask them on)")
    rubric = services.load_rubric(ws.rubric)
    with services.session_for(ws.db) as session:
        asked = calibration.questions(session, args.call_id, rubric)
        if given is not None:
            outcome = calibration.record_answers(session, args.call_id, reviewer, given, source=str(args.answers))
            todo = [q for q in asked if q.criterion in outcome.remaining]
        else:
            todo = asked
        before = calibration.answers_of(session, args.call_id, reviewer)
        if todo and interactive:
            _ask(session, args.call_id, reviewer, todo, before)
        remaining = [q.criterion for q in asked
                     if q.criterion not in calibration.answers_of(session, args.call_id, reviewer)]
        rows = calibration.comparison(session, args.call_id, reviewer, rubric) if not remaining else []
    if args.format == "json":
        print(json.dumps({"call": args.call_id, "reviewer": reviewer, "done": not remaining, "remaining": remaining,
                          "comparison": [_row_json(r) for r in rows]}, indent=1, ensure_ascii=False))
    elif remaining:
        err.print(f"{len(remaining)} criteri{'a' if len(remaining) != 1 else 'on'} of call {args.call_id} still "
                  f"unanswered: {', '.join(remaining)}; the comparison is shown once every one is answered",
                  highlight=False, soft_wrap=True)
    else:
        _print_comparison(rows, args.call_id, reviewer)
    return EXIT_SHORT if remaining else EXIT_OK


def _ask(session: Any, call_id: int, reviewer: str, todo: list, before: dict[str, str]) -> None:
    """Ask each criterion on the terminal (prompts on standard error) and store each answer at once."""
    from callqa.cli import shown
    from callqa.services import calibration

    err.print(f"call {call_id}, blind review as {shown(reviewer)}: y yes, n no, a N-A "
              "(Enter keeps an earlier answer)", highlight=False)
    for i, q in enumerate(todo, 1):
        err.print(f"\n[bold][{i}/{len(todo)}][/] {shown(q.text)}  [dim]({shown(q.criterion)})[/]", highlight=False)
        if q.description:
            err.print(f"  {shown(q.description)}", style="dim", highlight=False)
        err.print(f"  {q.hint}", style="dim", highlight=False)
        while True:
            earlier = before.get(q.criterion)
            err.print(f"  answer [y/n/a]{f' ({earlier})' if earlier else ''}: ", end="", highlight=False)
            line = sys.stdin.readline()
            if not line:
                raise CallQAError("no more input: the answers given so far are stored")
            if not line.strip() and earlier:
                break
            try:
                calibration.record_answer(session, call_id, reviewer, q.criterion, line.strip())
                break
            except calibration.CalibrationError as exc:
                err.print(f"  {shown(str(exc).split(': ', 1)[-1])}", style="yellow", highlight=False)


def _row_json(row: Any) -> dict[str, Any]:
    return {"criterion": row.question.criterion, "question": row.question.text, "reviewer": row.reviewer,
            "machine": row.machine, "agree": row.agree, "flags": [f.to_dict() for f in row.flags]}


def _print_comparison(rows: list, call_id: int, reviewer: str) -> None:
    from rich.table import Table

    from callqa.cli import shown

    out = Console()
    table = Table("criterion", "you", "machine", "", "the machine's flags", title=f"Call {call_id}: "
                  f"{shown(reviewer)}'s blind answers against the machine's")
    for r in rows:
        mark = "[green]agree[/]" if r.agree else "[bold red]differ[/]"
        evidence = "\n".join(f"{_clock(f.start)} {shown(f.text)}" if f.text else shown(f.message)
                             for f in r.flags) or "—"
        table.add_row(shown(r.question.text), r.reviewer or "", r.machine, mark, evidence)
    out.print(table)
    agreed = sum(r.agree for r in rows)
    out.print(f"agreed on {agreed} of {len(rows)} criteria", highlight=False)


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes:02d}:{secs:02d}"
