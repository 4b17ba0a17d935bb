"""A strip over the whole call: who speaks when (agent above, customer below), where the flags
are (▼ a problem, ▽ good behaviour; a missed criterion has no place in the call, so no mark),
and where the cursor is."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from callqa.records import StoredFlag
from callqa.transcript import Segment
from callqa.tui.widgets.flags import is_missed
from callqa.tui.widgets.format import SPEAKER_STYLE, clock


class Timeline(Widget):
    DEFAULT_CSS = """
    Timeline { height: 4; }
    """

    position: reactive[float | None] = reactive(None)
    current_flag: reactive[int | None] = reactive(None)

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.duration = 0.0
        self.segments: tuple[Segment, ...] = ()
        self.flags: tuple[StoredFlag, ...] = ()

    def set_call(self, duration: float, segments: Sequence[Segment], flags: Sequence[StoredFlag]) -> None:
        self.duration = max(duration, max((s.end for s in segments), default=0.0), 0.1)
        self.segments = tuple(segments)
        self.flags = tuple(flags)
        self.refresh()

    def _col(self, seconds: float, width: int) -> int:
        return min(width - 1, max(0, int(seconds / self.duration * width)))

    def render(self) -> Text:
        width = max(10, self.size.width)
        if not self.segments:
            return Text("")
        agent = [False] * width
        customer = [False] * width
        for s in self.segments:
            row = agent if s.speaker == "agent" else customer
            for c in range(self._col(s.start, width), self._col(s.end, width) + 1):
                row[c] = True
        marks: list[tuple[str, str] | None] = [None] * width
        for i, f in enumerate(self.flags):
            if is_missed(f) or f.review_status == "rejected":
                continue
            c = self._col(f.start, width)
            if i == self.current_flag:
                marks[c] = ("◆", "bold #ffffff")
            elif marks[c] is None or (f.polarity == "negative" and marks[c][0] != "◆"):
                marks[c] = ("▼", "#ff5f5f") if f.polarity == "negative" else ("▽", "#87d787")
        cursor = None if self.position is None else self._col(self.position, width)
        out = Text(no_wrap=True, overflow="crop")
        for c in range(width):
            mark = marks[c]
            out.append(mark[0] if mark else " ", style=mark[1] if mark else "")
        out.append("\n")
        for c in range(width):
            style = SPEAKER_STYLE["agent"] + (" reverse" if c == cursor else "")
            out.append("▀" if agent[c] else ("│" if c == cursor else " "), style=style)
        out.append("\n")
        for c in range(width):
            style = SPEAKER_STYLE["customer"] + (" reverse" if c == cursor else "")
            out.append("▄" if customer[c] else ("│" if c == cursor else " "), style=style)
        out.append("\n")
        left, right = "00:00", clock(self.duration)
        legend = " ▀ agent  ▄ customer  ▼ problem  ▽ good  ◆ current "
        gap = width - len(left) - len(right)
        middle = legend.center(gap) if gap >= len(legend) else " " * max(0, gap)
        out.append(left + middle + right, style="dim")
        return out

    def watch_position(self) -> None:
        self.refresh()

    def watch_current_flag(self) -> None:
        self.refresh()
