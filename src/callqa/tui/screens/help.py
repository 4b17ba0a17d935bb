"""The help screen: every key of every screen, written from their declared bindings (a
binding's ``tooltip`` says more than its footer label, when it has one)."""

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
    from callqa.tui.screens.blind import BlindCallScreen, BlindListScreen
    from callqa.tui.screens.call import CallScreen
    from callqa.tui.screens.calls import CallsScreen
    from callqa.tui.screens.forms import ConfirmForm
    from callqa.tui.screens.queue import QueueScreen
    from callqa.tui.screens.score import ScoreScreen

    return [("Everywhere", CallQAApp), ("Calls", CallsScreen), ("Call", CallScreen), ("Review queue", QueueScreen),
            ("Agents", AgentsScreen), ("Agreement", AgreementScreen), ("Score a folder", ScoreScreen),
            ("Blind review", BlindListScreen), ("Blind call", BlindCallScreen), ("Forms", ConfirmForm)]


EXTRA = {
    "Everywhere": [("ctrl+p", "Command palette: every action by name"),
                   ("tab / shift+tab", "Focus the next / previous widget")],
    "Calls": [("click a header", "Sort by that column")],
    "Call": [("tab / shift+tab", "Focus: transcript → flags → details"), ("enter", "Play the selected line"),
             ("j / k", "Line down / up")],
    "Blind call": [("j / k", "Line down / up"), ("enter", "Play the selected line")],
    "Forms": [("enter", "Next field; in the last one, save"),
              ("", "Typed keys go into the field: no key above runs")],
}


def _all_bindings(owner: type) -> list[Binding]:
    """The bindings ``owner`` declares and those it inherits from callqa's own classes (a form's
    Save and Cancel)."""
    out: list[Binding] = []
    for cls in reversed(owner.__mro__):
        if cls.__module__.startswith("callqa."):
            out.extend(b for b in cls.__dict__.get("BINDINGS", []) if isinstance(b, Binding))
    return out


def keys_table() -> Table:
    t = Table(box=None, show_header=False, padding=(0, 2))
    t.add_column(style="bold #5fafff", no_wrap=True)
    t.add_column()
    for title, owner in _screens():
        t.add_row(Text(title, style="bold underline"), "")
        for b in _all_bindings(owner):
            if b.description:
                t.add_row(Text(b.key_display or b.key), Text(b.tooltip or b.description))
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
