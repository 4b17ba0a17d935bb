"""Agreement per criterion from blind answers (``callqa.services.agreement``): the machine against
each reviewer, reviewers against each other, with 95 % intervals, a warning where too few calls
were answered, and the state graduation proposes; lowest AC1 first. ``f`` switches to the
anchored figure (accept / reject of flags the reviewer saw), labelled as such."""

from __future__ import annotations

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from callqa.services import agreement as ag
from callqa.tui.widgets.modebar import ModeBar
from callqa.tui.widgets.table import MeasuredTable

BLIND_HELP = ("Blind answers, per criterion: n calls (! under "
              f"{ag.SMALL_N}: too few to decide), yes = share of answers 'yes', agree = raw agreement, figure and 95% "
              "interval (bootstrap over calls). * skewed (one answer ≥ 90%): kappa falls toward 0 even when raters "
              "agree, as chance agreement is high; AC1 does not, and graduation reads it.")
ANCHORED_HELP = ("ANCHORED, not blind: reviewers saw the machine's flags and accepted or rejected them, so this "
                 "overstates agreement. both / machine only / reviewer only / neither flag the problem.")


def _figure(stat: ag.Stat | None) -> Text:
    if stat is None:
        return Text("")
    if stat.value is None:
        return Text("n/a", style="dim", justify="right")
    style = "#ff5f5f" if stat.value < 0.4 else "#ffd75f" if stat.value < 0.6 else "#87d787"
    text = Text(f"{stat.value:.2f}", style=style, justify="right")
    if stat.low is not None:
        text.append(f" {stat.low:.2f}–{stat.high:.2f}", style="dim")
    return text


class AgreementScreen(Screen):
    TITLE = "Agreement"
    BINDINGS = [Binding("ctrl+r", "refresh", "Refresh", id="agreement.refresh"),
                Binding("f", "anchored", "Blind / anchored", id="agreement.anchored",
                        tooltip="Switch between blind answers and the anchored accept/reject of shown flags")]

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[ag.Comparison] = []
        self.proposals: dict[str, ag.Proposal] = {}
        self.anchored: list[ag.AnchoredAgreement] = []
        self.show_anchored = False

    def compose(self) -> ComposeResult:
        yield ModeBar("agreement")
        yield Static(Text(BLIND_HELP, style="dim"), id="explain", classes="bar")
        yield MeasuredTable(id="agreement", cursor_type="row", zebra_stripes=True)
        yield Static("loading…", id="status", classes="bar")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one(DataTable).focus()

    def on_screen_resume(self) -> None:
        self.load()

    @work(thread=True, exclusive=True, group="agreement")
    def load(self) -> None:
        try:
            with self.app.session() as session:
                report, _ = ag.agreement_report(session, self.app.workspace, with_drift=False)
                anchored = ag.anchored(session)
        except Exception as exc:
            self.app.call_from_thread(self.notify, str(exc), title="Could not compute agreement", severity="error")
            return
        self.app.call_from_thread(self._show, report, anchored)

    def _show(self, report: ag.AgreementReport, anchored: list[ag.AnchoredAgreement]) -> None:
        low = (lambda c: c.ac1.value if c.ac1.value is not None else 2.0)
        self.rows = sorted(report.comparisons, key=lambda c: (low(c), c.criterion, c.raters))
        self.proposals = {p.criterion: p for p in report.proposals}
        self.anchored = sorted(anchored, key=lambda a: (a.kappa is None, a.kappa if a.kappa is not None else 0,
                                                        a.criterion))
        self._fill()
        if self.show_anchored:
            text = (f"anchored: {len(self.anchored)} criteria over "
                    f"{max((a.items for a in self.anchored), default=0)} reviewed calls · f: blind answers")
        elif report.comparisons:
            text = (f"{len({c.criterion for c in self.rows})} criteria, {report.calls} calls answered blind by "
                    f"{', '.join(report.reviewers)} · {ag.RESAMPLES} resamples · {report.rule.describe()} · "
                    "callqa agreement --apply to apply · f: anchored")
        else:
            text = "no blind answers yet: answer calls blind (a calibration session) and come back · f: anchored"
        self.query_one("#status", Static).update(Text(text))

    def _fill(self) -> None:
        table = self.query_one(DataTable)
        table.clear(columns=True)
        self.query_one("#explain", Static).update(Text(ANCHORED_HELP if self.show_anchored else BLIND_HELP,
                                                       style="dim"))
        if self.show_anchored:
            for key, label in (("criterion", "criterion"), ("items", "calls"), ("both", "both"),
                               ("machine", "machine only"), ("reviewer", "reviewer only"), ("neither", "neither"),
                               ("rate", "agree"), ("kappa", "kappa (anchored)")):
                table.add_column(label, key=key)
            for a in self.anchored:
                num = [Text(str(v), justify="right") for v in (a.items, a.both, a.machine_only, a.reviewer_only,
                                                                a.neither)]
                rate = Text("—" if a.rate is None else f"{a.rate:.0%}", justify="right")
                kappa = _figure(ag.Stat(a.kappa))
                table.add_row(Text(a.criterion), *num, rate, kappa, key=a.criterion)
            return
        for key, label in (("criterion", "criterion"), ("raters", "raters"), ("n", "n"), ("yes", "yes"),
                           ("agree", "agree"), ("kappa", "kappa/Fleiss"), ("ac1", "AC1"), ("state", "state")):
            table.add_column(label, key=key)
        for c in self.rows:
            p = self.proposals.get(c.criterion)
            state = Text(p.current if p else "human")
            if p and p.change:
                state.append(f" → {p.proposed}", style="bold")
            n = Text(str(c.n), justify="right")
            if c.small:
                n.append("!", style="bold #ffd75f")
            yes = Text("—" if c.prevalence is None else f"{c.prevalence:.0%}", justify="right")
            if c.skewed:
                yes.append("*", style="bold")
            table.add_row(Text(c.criterion), Text(c.label), n, yes,
                          Text("—" if c.agreement.value is None else f"{c.agreement.value:.0%}", justify="right"),
                          _figure(c.kappa or c.fleiss), _figure(c.ac1), state,
                          key=f"{c.criterion}|{'|'.join(c.raters)}")

    def action_anchored(self) -> None:
        self.show_anchored = not self.show_anchored
        self.load()

    def action_refresh(self) -> None:
        self.load()
