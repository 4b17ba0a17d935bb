"""Small text helpers shared by the screens (rich ``Text``: never parsed as markup)."""

from __future__ import annotations

from datetime import datetime

from rich.segment import Segment
from rich.text import Text
from textual.color import Color
from textual.filter import LineFilter

from callqa.output import printable

SPEAKER_STYLE = {"agent": "bold #5fafff", "customer": "bold #d7af5f"}
POLARITY_STYLE = {"negative": "bold #ffffff on #a02828", "positive": "bold #000000 on #5faf5f"}
REJECTED_STYLE = "strike dim"
#: words the transcript is unsure of (``records.UNCERTAIN_BELOW``), and a flag resting on them
UNSURE_WORD_STYLE = "dim"
UNSURE_FLAG_STYLE = "bold #ffd75f"


def clock(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    minutes, secs = divmod(max(0.0, seconds), 60)
    return f"{int(minutes):02d}:{secs:04.1f}"


def score(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def day(value: datetime | None) -> str:
    return "" if value is None else value.strftime("%Y-%m-%d")


def duration(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes}:{secs:02d}"


def score_text(value: float | None) -> Text:
    """A score coloured by band: red under 50, yellow under 75, green from 75."""
    if value is None:
        return Text("—", style="dim")
    style = "#ff5f5f" if value < 50 else "#ffd75f" if value < 75 else "#87d787"
    return Text(f"{value:5.1f}", style=style, justify="right")


def status_text(status: str) -> Text:
    style = {"unreviewed": "dim", "reviewed": "#87d787", "disputed": "bold #ff875f"}.get(status, "")
    return Text(status, style=style)


def plain(text: object) -> Text:
    """Any value as literal text: brackets stay brackets."""
    return Text("" if text is None else str(text))


class ControlCharacters(LineFilter):
    """Leaves terminal control characters out of every line the TUI draws: an ESC in an agent's
    name, a file name or a transcript (rich removes only a few controls) would begin an escape
    sequence that the terminal runs (clear the screen, set the title). They take no cell, so what
    is left lines up as measured."""

    def apply(self, segments: list[Segment], background: Color) -> list[Segment]:
        return [Segment(text.translate(_DROP), style, control) if control is None else Segment(text, style, control)
                for text, style, control in segments]


_DROP = {ord(ch): None for ch in map(chr, range(0xA0)) if printable(ch) != ch}
CONTROL_CHARACTERS = ControlCharacters()
