"""Reviewer-vs-machine agreement per criterion: agreement rate and Cohen's kappa, worst first,
so a QA lead sees which criteria the machine gets wrong (``callqa.services.review.agreement``)."""

from __future__ import annotations

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from callqa.services.review import Agreement, agreement
from callqa.tui.widgets.modebar import ModeBar
from callqa.tui.widgets.table import MeasuredTable


def _kappa_text(k: float | None) -> Text:
    if k is None:
        return Text("n/a", style="dim", justify="right")
    style = "#ff5f5f" if k < 0.4 else "#ffd75f" if k < 0.6 else "#87d787"
    return Text(f"{k:.2f}", style=style, justify="right")


class AgreementScreen(Screen):
    TITLE = "Agreement"
    BINDINGS = [Binding("ctrl+r", "refresh", "Refresh", id="agreement.refresh")]

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[Agreement] = []

    def compose(self) -> ComposeResult:
        yield ModeBar("agreement")
        yield Static(Text("Per criterion, over the calls a reviewer looked at: both / machine only / reviewer "
                          "only / neither flag the problem; acc./rej.: flags accepted / rejected; added: flags "
                          "the machine missed. Worst kappa first: < 0.4 poor, 0.4-0.6 moderate, > 0.6 good; "
                          "n/a: the same answer every time.", style="dim"), classes="bar")
        yield MeasuredTable(id="agreement", cursor_type="row", zebra_stripes=True)
        yield Static("loading…", id="status", classes="bar")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for key, label in (("criterion", "criterion"), ("items", "calls"), ("both", "both"),
                           ("machine", "machine only"), ("reviewer", "reviewer only"), ("neither", "neither"),
                           ("accepted", "acc."), ("rejected", "rej."), ("added", "added"),
                           ("rate", "agree"), ("kappa", "kappa")):
            table.add_column(label, key=key)
        table.focus()

    def on_screen_resume(self) -> None:
        self.load()

    @work(thread=True, exclusive=True, group="agreement")
    def load(self) -> None:
        try:
            with self.app.session() as session:
                rows = agreement(session)
        except Exception as exc:
            self.app.call_from_thread(self.notify, str(exc), title="Could not compute agreement", severity="error")
            return
        self.app.call_from_thread(self._show, rows)

    def _show(self, rows: list[Agreement]) -> None:
        rows = sorted(rows, key=lambda a: (a.kappa is None, a.kappa if a.kappa is not None else 0, a.criterion))
        self.rows = rows
        table = self.query_one(DataTable)
        table.clear()
        for a in rows:
            num = [Text(str(v), justify="right") for v in (a.items, a.both, a.machine_only, a.reviewer_only,
                                                            a.neither, a.accepted, a.rejected, a.added)]
            rate = Text("—" if a.rate is None else f"{a.rate:.0%}", justify="right")
            table.add_row(Text(a.criterion), *num, rate, _kappa_text(a.kappa), key=a.criterion)
        reviewed = max((a.items for a in rows), default=0)
        text = (f"{len(rows)} criteria over {reviewed} reviewed calls" if rows else
                "no reviewed calls yet: accept or reject flags on a call (a / x) and come back")
        self.query_one("#status", Static).update(Text(text))

    def action_refresh(self) -> None:
        self.load()
