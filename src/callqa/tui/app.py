"""``callqa tui``: the reviewer's terminal UI (Textual).

Six modes, one key each: Calls (1), Review queue (2), Agents (3), Agreement (4), Score (5), Blind
review (6);
a call opens on top of the mode it was opened from. Every database read or write runs in a
thread worker (``@work(thread=True)``) through ``callqa.services`` (``services.review`` for reviewing), and the
result comes back to the UI with ``call_from_thread``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from functools import partial
from typing import Any

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from callqa.workspace import Workspace

from callqa.tui.player import Playback, Player, find_player
from callqa.tui.screens.agents import AgentsScreen
from callqa.tui.screens.agreement import AgreementScreen
from callqa.tui.screens.blind import BlindListScreen
from callqa.tui.screens.calls import CallsScreen
from callqa.tui.screens.help import HelpScreen
from callqa.tui.screens.queue import QueueScreen
from callqa.tui.screens.score import ScoreScreen
from callqa.tui.widgets.format import CONTROL_CHARACTERS

MODE_TITLES = {"calls": "Calls", "queue": "Review queue", "agents": "Agents", "agreement": "Agreement",
               "score": "Score a folder", "blind": "Blind review"}


class CallQAApp(App[None]):
    """The QA reviewer's workbench."""

    TITLE = "callqa"
    CSS_PATH = "app.tcss"
    MODES = {"calls": CallsScreen, "queue": QueueScreen, "agents": AgentsScreen, "agreement": AgreementScreen,
             "score": ScoreScreen, "blind": BlindListScreen}
    DEFAULT_MODE = "calls"
    BINDINGS = [
        Binding("1", "mode('calls')", "Calls", id="mode.calls", show=False),
        Binding("2", "mode('queue')", "Queue", id="mode.queue", show=False),
        Binding("3", "mode('agents')", "Agents", id="mode.agents", show=False),
        Binding("4", "mode('agreement')", "Agreement", id="mode.agreement", show=False),
        Binding("5", "mode('score')", "Score", id="mode.score", show=False),
        Binding("6", "mode('blind')", "Blind review", id="mode.blind", show=False),
        Binding("question_mark", "help", "Help", key_display="?", id="app.help"),
        Binding("q", "quit", "Quit", id="app.quit"),
    ]

    def __init__(self, workspace: Workspace | None = None, *, db: str | None = None, reviewer: str | None = None,
                 player: Player | None | str = "auto") -> None:
        """``workspace``: the settings of ``callqa tui`` (database, rubric, redaction, …); ``db`` and
        ``reviewer`` replace its values (for tests and scripts)."""
        super().__init__()
        workspace = workspace or Workspace()
        self.workspace = replace(workspace, db=db or workspace.db, reviewer=reviewer or workspace.reviewer)
        self.reviewer = self.workspace.reviewer_name.strip() or "reviewer"
        self.player: Player | None = find_player() if player == "auto" else player  # type: ignore[assignment]
        self.playback = Playback(self.player)
        self._rubric: Any = None
        self._rubric_lock = threading.Lock()

    @property
    def db(self) -> str | None:
        return self.workspace.db

    # ------------------------------------------------------------------ user text in the frame

    def get_line_filters(self) -> list[Any]:
        return [*super().get_line_filters(), CONTROL_CHARACTERS]

    def notify(self, message: str, *, markup: bool = False, **kwargs: Any) -> None:
        """Notifications quote names, search words and errors: never read as markup."""
        super().notify(message, markup=False, **kwargs)

    # ------------------------------------------------------------------ services

    @contextmanager
    def session(self) -> Iterator[Any]:
        """A database session (call from a worker thread: opening may migrate the database)."""
        from callqa import services

        with services.session_for(self.db, redact=self.workspace.redact) as session:
            yield session

    def rubric(self) -> Any:
        """The workspace's rubric, loaded once (takes a second or two: call from a worker)."""
        with self._rubric_lock:
            if self._rubric is None:
                from callqa.services import load_rubric

                self._rubric = load_rubric(self.workspace.rubric)
            return self._rubric

    @property
    def rubric_loaded(self) -> bool:
        return self._rubric is not None

    # ------------------------------------------------------------------ navigation

    def action_mode(self, mode: str) -> None:
        self.switch_mode(mode)

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def open_call(self, call_id: int, siblings: list[int] | None = None, find: str | None = None) -> None:
        from callqa.tui.screens.call import CallScreen

        self.push_screen(CallScreen(call_id, siblings or [call_id], find=find))

    def show_agent_calls(self, agent: str) -> None:
        """Switch to the calls table, filtered to one agent."""
        from callqa.services.review import CallFilters

        self.switch_mode("calls")
        while len(self.screen_stack) > 1:
            self.pop_screen()
        base = self.screen_stack[0]
        if isinstance(base, CallsScreen):
            base.apply_filters(CallFilters(agent=agent))

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """Command palette: every key binding of the app and of the screen it was opened on."""
        yield from super().get_system_commands(screen)
        seen: set[str] = set()
        for owner, title in ((screen, getattr(screen, "TITLE", None) or type(screen).__name__), (self, "callqa")):
            for binding in getattr(type(owner), "BINDINGS", []):
                if not isinstance(binding, Binding) or not binding.description or binding.action in seen:
                    continue
                seen.add(binding.action)
                key = binding.key_display or binding.key
                yield SystemCommand(f"{title}: {binding.description}", f"key {key}",
                                    partial(owner.run_action, binding.action))

    def on_unmount(self) -> None:
        self.playback.stop()
