"""The calls table: one page of stored calls at a time (never all of them), sortable and
filterable; Enter opens a call, n / N go to the next / previous call with flags to review."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Static
from textual.worker import get_current_worker

from callqa.services.review import CallFilters, CallsPage, calls_page, with_flags_to_review
from callqa.tui.widgets.format import day, duration, score_text, status_text
from callqa.tui.widgets.modebar import ModeBar
from callqa.tui.widgets.table import MeasuredTable

PAGE_SIZE = 100
#: column key → list_calls ordering
SORTS = {"date": "date", "score": "score", "agent": "agent", "duration": "duration", "flags": "flags",
         "id": "id"}
SORT_CYCLE = ("date", "score", "agent", "duration", "flags")
#: n and N share one footer entry
UNREVIEWED = Binding.Group("Next/prev unreviewed")
COLUMNS = (("id", "#"), ("agent", "agent"), ("date", "date"), ("duration", "length"), ("score", "score"),
           ("flags", "issues"), ("critical", "crit"), ("status", "review"), ("file", "file"))


class SearchInput(Input):
    """The transcript search box; Escape closes it without searching."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="search.cancel")]

    class Cancelled(Message):
        pass

    def action_cancel(self) -> None:
        self.post_message(self.Cancelled())


class CallsScreen(Screen):
    TITLE = "Calls"
    BINDINGS = [
        Binding("enter", "open", "Open call", id="calls.open", show=False),
        Binding("n", "unreviewed(1)", "Next unreviewed", id="calls.next_unreviewed", group=UNREVIEWED,
                tooltip="Next call with flags nobody reviewed (across pages)"),
        Binding("N", "unreviewed(-1)", "Prev unreviewed", key_display="N", id="calls.prev_unreviewed",
                group=UNREVIEWED, tooltip="Previous call with flags nobody reviewed"),
        Binding("f", "filter", "Filter", id="calls.filter"),
        Binding("slash", "search", "Search text", key_display="/", id="calls.search"),
        Binding("u", "toggle_unreviewed", "Not reviewed", id="calls.unreviewed"),
        Binding("s", "cycle_sort", "Sort", id="calls.sort"),
        Binding("r", "reverse_sort", "Reverse", id="calls.reverse", show=False),
        Binding("right_square_bracket", "page(1)", "Next page", key_display="]", id="calls.next_page"),
        Binding("left_square_bracket", "page(-1)", "Prev page", key_display="[", id="calls.prev_page", show=False),
        Binding("x", "clear_filters", "Clear", id="calls.clear"),
        Binding("ctrl+r", "refresh", "Refresh", id="calls.refresh", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.filters = CallFilters()
        self.sort = "date"
        self.descending = True
        self.page_offset = 0
        self.page: CallsPage | None = None
        self.total: int | None = None
        self._reload_on_resume = False

    @property
    def order_by(self) -> str:
        return ("-" if self.descending else "") + SORTS[self.sort]

    def compose(self) -> ComposeResult:
        yield ModeBar("calls")
        yield Static(id="filters", classes="bar")
        yield SearchInput(placeholder="search transcript text: Enter applies, Esc cancels", id="search")
        yield MeasuredTable(id="calls", cursor_type="row", zebra_stripes=True)
        yield Static("loading…", id="status", classes="bar")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for key, label in COLUMNS:
            table.add_column(label, key=key)
        self.query_one("#search", Input).display = False
        self._show_filters()
        self.load()
        table.focus()

    # ------------------------------------------------------------------ loading

    @work(thread=True, exclusive=True, group="calls-page")
    def load(self, count: bool = True) -> None:
        try:
            with self.app.session() as session:
                page = calls_page(session, self.filters, order_by=self.order_by, offset=self.page_offset,
                                  limit=PAGE_SIZE, count=False)
                self.app.call_from_thread(self._show_page, page)
                if count:
                    total = calls_page(session, self.filters, order_by=self.order_by, limit=0).total
                    self.app.call_from_thread(self._show_total, total)
        except Exception as exc:  # shown to the user, the UI goes on
            self.app.call_from_thread(self._failed, exc)

    def _failed(self, exc: Exception) -> None:
        self.query_one("#status", Static).update(Text(f"error: {exc}", style="bold red"))
        self.notify(str(exc), title="Could not load calls", severity="error")

    def _show_page(self, page: CallsPage, cursor: int | None = None) -> None:
        self.page = page
        self.page_offset = page.offset
        table = self.query_one(DataTable)
        row = table.cursor_row if cursor is None else cursor
        table.clear()
        for c in page.rows:
            flags = Text(str(c.negative_flags), justify="right",
                         style="#ff5f5f" if c.negative_flags >= 10 else "")
            sc = score_text(c.score)
            if c.score != c.machine_score:
                sc.append("*", style="bold #5fafff")
            table.add_row(Text(str(c.id), style="dim", justify="right"), Text(c.agent), day(c.call_date),
                          Text(duration(c.duration), justify="right"), sc, flags,
                          Text("CRIT", style="bold #ff5f5f") if c.critical_failed else Text(""),
                          status_text(c.review_status), Text(Path(c.file).name), key=str(c.id))
        if page.rows:
            table.move_cursor(row=min(max(row, 0), len(page.rows) - 1))
        self._show_status()

    def _show_total(self, total: int | None) -> None:
        self.total = total
        self._show_status()

    def _show_status(self) -> None:
        page = self.page
        arrow = "↓" if self.descending else "↑"
        if page is None:
            return
        if not page.rows:
            text = "no calls match" + ("" if self.filters.empty else " these filters (x clears them)")
            if self.total == 0 and self.filters.empty:
                text = "no scored calls yet: press 5 to score a folder, or run `callqa score FOLDER`"
        else:
            total = "…" if self.total is None else f"{self.total:,}"
            text = f"calls {page.offset + 1:,}–{page.offset + len(page.rows):,} of {total}"
        self.query_one("#status", Static).update(
            Text(f"{text}   sorted by {self.sort} {arrow}   reviewer: {self.app.reviewer}"))

    def _show_filters(self) -> None:
        self.query_one("#filters", Static).update(Text(f"filters: {self.filters.describe()}"))

    # ------------------------------------------------------------------ actions

    def apply_filters(self, filters: CallFilters) -> None:
        self.filters = filters
        self.page_offset = 0
        self.total = None
        self._show_filters()
        self.load()

    def action_open(self) -> None:
        table = self.query_one(DataTable)
        if self.page and self.page.rows and 0 <= table.cursor_row < len(self.page.rows):
            ids = [c.id for c in self.page.rows]
            self._reload_on_resume = True
            self.app.open_call(ids[table.cursor_row], ids, find=self.filters.search)
        else:
            self.notify("the calls are still loading" if self.page is None else "no call to open here",
                        severity="warning")

    def action_unreviewed(self, step: int) -> None:
        if self.page is None:
            self.notify("the calls are still loading", severity="warning")
            return
        self.find_unreviewed(step, self.page_offset, self.query_one(DataTable).cursor_row)

    @work(thread=True, exclusive=True, group="calls-unreviewed")
    def find_unreviewed(self, step: int, offset: int, row: int) -> None:
        """From the row after (before) ``row`` on, in the table's order and across pages, the first
        call with flags to review: the cursor moves there."""
        worker = get_current_worker()
        try:
            with self.app.session() as session:
                while offset >= 0 and not worker.is_cancelled:
                    page = calls_page(session, self.filters, order_by=self.order_by, offset=offset,
                                      limit=PAGE_SIZE, count=False)
                    n = len(page.rows)
                    rows = range(row + 1, n) if step > 0 else range(min(row, n) - 1, -1, -1)
                    to_review = with_flags_to_review(session, [r.id for r in page.rows])
                    hit = next((i for i in rows if page.rows[i].id in to_review), None)
                    if hit is not None:
                        self.app.call_from_thread(self._show_page, page, hit)
                        return
                    if step > 0 and n < PAGE_SIZE:
                        break
                    offset, row = offset + step * PAGE_SIZE, -1 if step > 0 else PAGE_SIZE
        except Exception as exc:
            self.app.call_from_thread(self._failed, exc)
            return
        self.app.call_from_thread(self.notify, f"no call {'after' if step > 0 else 'before'} this one has flags "
                                  "left to review", severity="warning")

    @on(DataTable.RowSelected)
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open()

    @on(DataTable.HeaderSelected)
    def _header_selected(self, event: DataTable.HeaderSelected) -> None:
        key = str(event.column_key.value)
        if key in SORTS:
            if key == self.sort:
                self.descending = not self.descending
            else:
                self.sort, self.descending = key, key in ("date", "flags")
            self.page_offset = 0
            self.load(count=False)

    def action_cycle_sort(self) -> None:
        i = SORT_CYCLE.index(self.sort) if self.sort in SORT_CYCLE else -1
        self.sort = SORT_CYCLE[(i + 1) % len(SORT_CYCLE)]
        self.descending = self.sort in ("date", "flags")
        self.page_offset = 0
        self.load(count=False)

    def action_reverse_sort(self) -> None:
        self.descending = not self.descending
        self.page_offset = 0
        self.load(count=False)

    def action_page(self, step: int) -> None:
        new = self.page_offset + step * PAGE_SIZE
        if new < 0 or (self.total is not None and new >= self.total) or \
                (step > 0 and self.page is not None and len(self.page.rows) < PAGE_SIZE):
            self.app.bell()
            return
        self.page_offset = new
        self.load(count=False)

    def action_toggle_unreviewed(self) -> None:
        self.apply_filters(self.filters.with_(unreviewed=not self.filters.unreviewed))

    def action_clear_filters(self) -> None:
        self.apply_filters(CallFilters())

    def action_refresh(self) -> None:
        self.load()

    def action_filter(self) -> None:
        from callqa.tui.screens.filters import FilterScreen

        def done(result: CallFilters | None) -> None:
            if result is not None:
                self.apply_filters(result)

        self.app.push_screen(FilterScreen(self.filters), done)

    def action_search(self) -> None:
        box = self.query_one("#search", Input)
        box.display = True
        box.value = self.filters.search or ""
        box.focus()

    @on(Input.Submitted, "#search")
    def _search_submitted(self, event: Input.Submitted) -> None:
        event.input.display = False
        self.query_one(DataTable).focus()
        self.apply_filters(self.filters.with_(search=event.value.strip() or None))

    @on(SearchInput.Cancelled)
    def _search_cancelled(self) -> None:
        self.query_one("#search", Input).display = False
        self.query_one(DataTable).focus()

    def on_screen_resume(self) -> None:
        if self._reload_on_resume:  # back from a call: its review status may have changed
            self._reload_on_resume = False
            self.load()
