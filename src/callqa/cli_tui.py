"""``callqa tui``: the reviewer's terminal UI (see ``callqa.tui.app``)."""

from __future__ import annotations

import argparse


def add_tui_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``tui`` command to the ``callqa`` subcommands."""
    p = subparsers.add_parser("tui", help="review calls in a terminal UI (calls, queue, agents, agreement)")
    p.add_argument("--db", metavar="URL",
                   help="database URL (default: $CALLQA_DB, else a SQLite file in your user data folder)")
    p.add_argument("--reviewer", metavar="NAME",
                   help="name stored with your reviews (default: $CALLQA_REVIEWER, else your login name)")
    p.set_defaults(func=cmd_tui)
    return p


def cmd_tui(args: argparse.Namespace) -> int:
    from callqa import services
    from callqa.tui.app import CallQAApp

    services.open_database(args.db)  # a bad --db fails here (exit 2, its message), not inside the UI
    CallQAApp(db=args.db, reviewer=args.reviewer).run()
    return 0

