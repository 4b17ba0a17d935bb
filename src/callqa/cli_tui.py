"""``callqa tui``: the reviewer's terminal UI (see ``callqa.tui.app``)."""

from __future__ import annotations

import argparse


def add_tui_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``tui`` command to the ``callqa`` subcommands."""
    from callqa.cli import add_workspace_options

    p = subparsers.add_parser("tui", help="review calls in a terminal UI (calls, queue, agents, agreement)")
    add_workspace_options(p)  # the same settings as `callqa score`: the UI scores folders too
    p.add_argument("--reviewer", metavar="NAME",
                   help="name stored with your reviews (default: $CALLQA_REVIEWER, callqa.toml, else your login name)")
    p.set_defaults(func=cmd_tui)
    return p


def cmd_tui(args: argparse.Namespace) -> int:
    from callqa import services
    from callqa.tui.app import CallQAApp

    services.open_database(args.workspace.db)  # a bad --db fails here (exit 2, its message), not inside the UI
    CallQAApp(args.workspace).run()
    return 0

