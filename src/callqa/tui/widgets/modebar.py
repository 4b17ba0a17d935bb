"""The strip at the top of every mode's screen: the six modes and their keys, the current one
lit, and who is reviewing."""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

MODES = (("1", "calls", "Calls"), ("2", "queue", "Review queue"), ("3", "agents", "Agents"),
         ("4", "agreement", "Agreement"), ("5", "score", "Score a folder"), ("6", "blind", "Blind review"))


class ModeBar(Widget):
    DEFAULT_CSS = """
    ModeBar { height: 1; background: $panel; }
    """

    def __init__(self, current: str, **kwargs) -> None:
        super().__init__(**kwargs)
        self.current = current

    def render(self) -> Text:
        out = Text(" callqa ", style="bold reverse")
        for key, mode, title in MODES:
            out.append("  ")
            if mode == self.current:
                out.append(f" {key} {title} ", style="bold reverse")
            else:
                out.append(f"{key} ", style="bold")
                out.append(title, style="dim")
        out.append(f"   ? help   reviewer: {self.app.reviewer}", style="dim")
        return out
