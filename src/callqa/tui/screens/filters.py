"""The calls table's filter form (a modal): agent, date range, score range, category, not
reviewed yet, transcript text. Enter applies, Escape cancels."""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical
from textual.screen import ModalScreen
from textual.suggester import SuggestFromList
from textual.widgets import Button, Checkbox, Input, Label, Static

from callqa.services.review import CallFilters, parse_date, parse_score


class FilterScreen(ModalScreen[CallFilters | None]):
    TITLE = "Filter calls"
    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="filter.cancel"),
        Binding("ctrl+s", "apply", "Apply", id="filter.apply"),
    ]

    def __init__(self, filters: CallFilters) -> None:
        super().__init__()
        self.filters = filters

    def compose(self) -> ComposeResult:
        f = self.filters
        with Vertical(id="dialog", classes="dialog"):
            yield Label("Filter calls", classes="dialog-title")
            with Grid(id="filter-grid"):
                yield Label("agent")
                yield Input(f.agent or "", placeholder="any agent", id="agent")
                yield Label("from date")
                yield Input(str(f.date_from or ""), placeholder="YYYY-MM-DD", id="date_from")
                yield Label("to date")
                yield Input(str(f.date_to or ""), placeholder="YYYY-MM-DD (inclusive)", id="date_to")
                yield Label("score from")
                yield Input("" if f.score_min is None else f"{f.score_min:g}", placeholder="0", id="score_min")
                yield Label("score to")
                yield Input("" if f.score_max is None else f"{f.score_max:g}", placeholder="100", id="score_max")
                yield Label("category")
                yield Input(f.category or "", placeholder="calls with a problem of this category",
                            id="category")
                yield Label("text")
                yield Input(f.search or "", placeholder="words said in the call", id="search")
                yield Label("")
                yield Checkbox("not reviewed yet", f.unreviewed, id="unreviewed")
            yield Static(id="error", classes="error")
            with Horizontal(classes="buttons"):
                yield Button("Apply", variant="primary", id="apply")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#agent", Input).focus()
        self.load_choices()

    @work(thread=True, exclusive=True)
    def load_choices(self) -> None:
        """Agent names (a quick query) and the rubric's categories, as completions."""
        from callqa.services.review import agent_names

        try:
            with self.app.session() as session:
                agents = agent_names(session)
            self.app.call_from_thread(self._suggest, "#agent", agents)
            categories = sorted({c.category for c in self.app.rubric().criteria})
            self.app.call_from_thread(self._suggest, "#category", categories)
        except Exception as exc:  # completions are a convenience: say so and go on
            self.app.call_from_thread(self.notify, f"no completions: {exc}", severity="warning")

    def _suggest(self, selector: str, words: list[str]) -> None:
        if self.is_attached:
            self.query_one(selector, Input).suggester = SuggestFromList(words, case_sensitive=False)

    def _value(self, name: str) -> str:
        return self.query_one(f"#{name}", Input).value.strip()

    def action_apply(self) -> None:
        try:
            result = CallFilters(
                agent=self._value("agent") or None,
                date_from=parse_date(self._value("date_from")),
                date_to=parse_date(self._value("date_to")),
                score_min=parse_score(self._value("score_min")),
                score_max=parse_score(self._value("score_max")),
                category=self._value("category") or None,
                unreviewed=self.query_one("#unreviewed", Checkbox).value,
                search=self._value("search") or None,
            )
        except ValueError as exc:
            self.query_one("#error", Static).update(Text(str(exc), style="bold red"))
            return
        if result.date_from and result.date_to and result.date_from > result.date_to:
            self.query_one("#error", Static).update(Text("the from date is after the to date", style="bold red"))
            return
        if result.score_min is not None and result.score_max is not None and result.score_min > result.score_max:
            self.query_one("#error", Static).update(Text("the lowest score is above the highest", style="bold red"))
            return
        self.dismiss(result)

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Input.Submitted)
    def _submitted(self) -> None:
        self.action_apply()

    @on(Button.Pressed, "#apply")
    def _apply_pressed(self) -> None:
        self.action_apply()

    @on(Button.Pressed, "#cancel")
    def _cancel_pressed(self) -> None:
        self.action_cancel()
