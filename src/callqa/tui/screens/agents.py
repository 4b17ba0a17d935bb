"""Agents: averages, a weekly trend sparkline and the weakest sections per agent; Enter opens an
agent's calls, g builds their coaching report (``callqa.reports``)."""

from __future__ import annotations

import importlib
from typing import Any

from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Footer, Label, Sparkline, Static

from callqa.services.review import AgentOverview, agent_overviews, sparkline
from callqa.tui.widgets.format import score, score_text
from callqa.tui.widgets.modebar import ModeBar
from callqa.tui.widgets.table import MeasuredTable

TREND_WEEKS = 12


def report_builder() -> Any | None:
    """``callqa.reports.build_report`` when the reports package provides it, else None."""
    try:
        reports = importlib.import_module("callqa.reports")
    except ImportError:
        return None
    return getattr(reports, "build_report", None)


class AgentsScreen(Screen):
    TITLE = "Agents"
    BINDINGS = [
        Binding("enter", "open_calls", "Agent's calls", id="agents.calls", show=False),
        Binding("g", "report", "Coaching report", id="agents.report"),
        Binding("ctrl+r", "refresh", "Refresh", id="agents.refresh"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.agents: list[AgentOverview] = []
        self.loaded = False

    def compose(self) -> ComposeResult:
        yield ModeBar("agents")
        yield MeasuredTable(id="agents", cursor_type="row", zebra_stripes=True)
        with Vertical(id="agent-detail"):
            yield Label("", id="trend-label")
            yield Sparkline([], id="trend")
            yield Static(id="agent-sections")
        yield Static("loading…", id="status", classes="bar")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for key, label in (("agent", "agent"), ("calls", "calls"), ("score", "average"),
                           ("trend", f"trend ({TREND_WEEKS} wk)"), ("weakest", "weakest sections")):
            table.add_column(label, key=key)
        table.focus()

    def on_screen_resume(self) -> None:
        self.load()

    @work(thread=True, exclusive=True, group="agents")
    def load(self) -> None:
        try:
            with self.app.session() as session:
                agents = agent_overviews(session, weeks=TREND_WEEKS)
        except Exception as exc:
            self.app.call_from_thread(self.notify, str(exc), title="Could not load agents", severity="error")
            return
        self.app.call_from_thread(self._show, agents)

    def _show(self, agents: list[AgentOverview]) -> None:
        self.agents = agents
        self.loaded = True
        table = self.query_one(DataTable)
        row = table.cursor_row
        table.clear()
        for a in agents:
            weak = ", ".join(f"{name} {v:.0f}" for name, v in a.weakest)
            table.add_row(Text(a.agent), Text(str(a.calls), justify="right"), score_text(a.score),
                          Text(sparkline(a.trend), style="#5fafff"), Text(weak), key=a.agent)
        if agents:
            table.move_cursor(row=min(max(row, 0), len(agents) - 1))
        self.query_one("#status", Static).update(
            Text(f"{len(agents)} agents · Enter: their calls · g: coaching report" if agents else
                 "no scored calls yet"))
        self._show_detail()

    @property
    def selected(self) -> AgentOverview | None:
        """The agent of the highlighted row (the first until the cursor moves)."""
        table = self.query_one(DataTable)
        if self.agents and 0 <= table.cursor_row < len(self.agents):
            return self.agents[table.cursor_row]
        return None

    def _chosen(self) -> AgentOverview | None:
        """The highlighted agent, or None (and say why: loading, or no agents yet)."""
        if self.selected is None:
            self.notify("the agents are still loading" if not self.loaded else
                        "no agents yet: score some calls first (5)", severity="warning")
        return self.selected

    @on(DataTable.RowHighlighted)
    def _highlighted(self) -> None:
        self._show_detail()

    def _show_detail(self) -> None:
        a = self.selected
        spark = self.query_one("#trend", Sparkline)
        if a is None:
            spark.data = []
            return
        values = [v for v in a.trend if v is not None]
        spark.data = values or [0]
        spark.styles.width = max(12, min(72, 6 * len(values)))
        self.query_one("#trend-label", Label).update(
            Text(f"{a.agent}: weekly average over the last {TREND_WEEKS} weeks with calls "
                 f"({len(values)} weeks), latest {score(values[-1]) if values else '—'}"))
        t = Table(box=None, show_header=False, padding=(0, 1))
        for name, v in a.sections.items():
            t.add_row(Text(name), score_text(v), Text("█" * int((v or 0) / 5), style="#5fafff"))
        self.query_one("#agent-sections", Static).update(t)

    @on(DataTable.RowSelected)
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open_calls()

    def action_open_calls(self) -> None:
        a = self._chosen()
        if a is not None:
            self.app.show_agent_calls(a.agent)

    def action_refresh(self) -> None:
        self.load()

    def action_report(self) -> None:
        a = self._chosen()
        if a is None:
            return
        if report_builder() is None:
            self.notify("Coaching reports are not available in this installation (callqa.reports.build_report "
                        "is missing).", title="Reports not available", severity="warning")
            return
        self.notify(f"building {a.agent}'s coaching report…", timeout=3)
        self.build_report(a.agent)

    @work(thread=True, exclusive=True, group="report")
    def build_report(self, agent: str) -> None:
        build = report_builder()
        try:
            report = build(self.app.db, agent, rubric=self.app.rubric())
        except Exception as exc:
            self.app.call_from_thread(self.notify, str(exc), title="Report failed", severity="error")
            return
        self.app.call_from_thread(self.app.push_screen, ReportScreen(report))


def report_summary(report: Any) -> Text:
    """A text summary of an ``AgentReport`` (whatever of its fields are there)."""
    g = lambda name, default=None: getattr(report, name, default)  # noqa: E731
    out = Text()
    out.append(f"{g('agent', '?')}", style="bold")
    out.append(f"  {g('calls', 0)} calls  average {score(g('score'))}  (team {score(g('team_score'))})\n\n")
    strengths = g("strengths", ()) or ()
    if strengths:
        out.append("Strengths\n", style="bold #87d787")
        for s in strengths:
            out.append(f"  • {g_name(s)}\n")
    focus = g("focus", ()) or ()
    if focus:
        out.append("\nTo work on\n", style="bold #ff875f")
        for f in focus:
            out.append(f"  • {g_name(f)}")
            suggestion = getattr(f, "suggestion", None)
            if suggestion:
                out.append(f" — {suggestion}", style="dim")
            out.append("\n")
    lowest = g("lowest_calls", ()) or ()
    if lowest:
        out.append("\nLowest-scoring calls\n", style="bold")
        for c in lowest:
            out.append(f"  • {getattr(c, 'id', getattr(c, 'call_id', ''))} {score(getattr(c, 'score', None))}\n")
    return out


def g_name(item: Any) -> str:
    return str(getattr(item, "name", None) or getattr(item, "section", None) or getattr(item, "criterion", item))


class ReportScreen(ModalScreen[None]):
    TITLE = "Coaching report"
    BINDINGS = [Binding("escape", "close", "Close", id="report.close")]

    def __init__(self, report: Any) -> None:
        super().__init__()
        self.report = report

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog"):
            yield Label("Coaching report", classes="dialog-title")
            yield Static(report_summary(self.report))
            yield Label(Text("Escape closes.", style="dim"))

    def action_close(self) -> None:
        self.dismiss(None)
