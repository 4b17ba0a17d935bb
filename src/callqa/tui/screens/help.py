"""The help screen: every key of every screen, written from their declared bindings."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static


def _screens() -> list[tuple[str, type]]:
    from callqa.tui.app import CallQAApp
    from callqa.tui.screens.agents import AgentsScreen
    from callqa.tui.screens.agreement import AgreementScreen
    from callqa.tui.screens.call import CallScreen
    from callqa.tui.screens.calls import CallsScreen
    from callqa.tui.screens.queue import QueueScreen
    from callqa.tui.screens.score import ScoreScreen

    return [("Everywhere", CallQAApp), ("Calls", CallsScreen), ("Call", CallScreen), ("Review queue", QueueScreen),
            ("Agents", AgentsScreen), ("Agreement", AgreementScreen), ("Score a folder", ScoreScreen)]


EXTRA = {
    "Everywhere": [("ctrl+p", "Command palette: every action by name")],
    "Calls": [("click a header", "Sort by that column")],
    "Call": [("tab / shift+tab", "Focus: transcript → flags → details"), ("enter", "Play the selected line"),
             ("j / k", "Line down / up")],
}


def keys_table() -> Table:
    t = Table(box=None, show_header=False, padding=(0, 2))
    t.add_column(style="bold #5fafff", no_wrap=True)
    t.add_column()
    for title, owner in _screens():
        t.add_row(Text(title, style="bold underline"), "")
        for b in getattr(owner, "BINDINGS", []):
            if isinstance(b, Binding) and b.description:
                t.add_row(Text(b.key_display or b.key), Text(b.description))
        for key, what in EXTRA.get(title, []):
            t.add_row(Text(key), Text(what))
        t.add_row("", "")
    return t


class HelpScreen(ModalScreen[None]):
    TITLE = "Help"
    BINDINGS = [Binding("escape", "close", "Close", id="help.close"),
                Binding("question_mark", "close", "Close", key_display="?", id="help.close2", show=False)]

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog", id="help"):
            yield Label("callqa — keys", classes="dialog-title")
            yield Static(keys_table(), id="keys")
            player = self.app.player
            from callqa.tui.player import looked_for

            note = (f"Audio: {player.name} ({player.path})." if player else
                    f"Audio: no player found (looked for {looked_for()}); set CALLQA_PLAYER to choose one.")
            yield Static(Text(f"{note}\nReviews are stored as {self.app.reviewer} (--reviewer NAME). Escape closes.",
                              style="dim"))

    def action_close(self) -> None:
        self.dismiss(None)
