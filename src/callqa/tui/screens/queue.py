"""The review queue: the calls that most need a human first (``callqa.services.review.review_queue``)."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from callqa.services.review import PRIORITY, QueueItem, QueueSettings, review_queue
from callqa.tui.widgets.format import day, score_text, status_text
from callqa.tui.widgets.modebar import ModeBar
from callqa.tui.widgets.table import MeasuredTable

REASON_STYLE = {"disputed": "bold #ff875f", "critical": "bold #ff5f5f", "unsure words": "#ffd75f",
                "uncertain roles": "#ffd75f", "poor audio": "#ffd75f", "fuzzy match": "#d7afff",
                "uncertain meaning": "#d7afff", "weekly sample": "#87afd7"}


class QueueScreen(Screen):
    TITLE = "Review queue"
    BINDINGS = [
        Binding("enter", "open", "Open call", id="queue.open", show=False),
        Binding("ctrl+r", "refresh", "Refresh", id="queue.refresh"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.items: list[QueueItem] = []
        self.loaded = False

    def compose(self) -> ComposeResult:
        yield ModeBar("queue")
        legend = "  ".join(f"{r} ({p})" for r, p in PRIORITY.items())
        yield Static(Text(f"priority: {legend}", style="dim"), classes="bar")
        yield MeasuredTable(id="queue", cursor_type="row", zebra_stripes=True)
        yield Static("loading the queue…", id="status", classes="bar")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for key, label in (("prio", "prio"), ("reasons", "why"), ("id", "#"), ("agent", "agent"), ("date", "date"),
                           ("score", "score"), ("status", "review"), ("file", "file")):
            table.add_column(label, key=key)
        table.focus()

    def on_screen_resume(self) -> None:
        self.load()  # on first show, and back from a call: a review may have settled an entry

    @work(thread=True, exclusive=True, group="queue")
    def load(self) -> None:
        try:
            rubric = self.app.rubric() if self.app.rubric_loaded else None
            with self.app.session() as session:
                items = review_queue(session, QueueSettings(), rubric=rubric, states=self.app.workspace.criteria)
        except Exception as exc:
            self.app.call_from_thread(self.notify, str(exc), title="Could not build the queue", severity="error")
            return
        self.app.call_from_thread(self._show, items)

    def _show(self, items: list[QueueItem]) -> None:
        self.items = items
        self.loaded = True
        table = self.query_one(DataTable)
        row = table.cursor_row
        table.clear()
        for item in items:
            c = item.call
            why = Text()
            for i, r in enumerate(item.reasons):
                if i:
                    why.append(", ")
                why.append(r, style=REASON_STYLE.get(r, ""))
            table.add_row(Text(f"{item.priority:g}", justify="right"), why, Text(str(c.id), style="dim"),
                          Text(c.agent), day(c.call_date), score_text(c.score), status_text(c.review_status),
                          Text(Path(c.file).name), key=str(c.id))
        if items:
            table.move_cursor(row=min(max(row, 0), len(items) - 1))
        counts: dict[str, int] = {}
        for item in items:
            for r in item.reasons:
                counts[r] = counts.get(r, 0) + 1
        summary = ", ".join(f"{n} {r}" for r, n in counts.items())
        self.query_one("#status", Static).update(
            Text(f"{len(items)} calls to review" + (f": {summary}" if summary else " — nothing waits")))

    def action_open(self) -> None:
        table = self.query_one(DataTable)
        if self.items and 0 <= table.cursor_row < len(self.items):
            ids = [i.call.id for i in self.items]
            self.app.open_call(ids[table.cursor_row], ids)
        else:
            self.notify("the queue is still loading" if not self.loaded else "nothing waits in the queue",
                        severity="warning")

    @on(DataTable.RowSelected)
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open()

    def action_refresh(self) -> None:
        self.load()
