"""The calibration report: agreement per criterion with intervals (a chart and tables), the
confusion tables, graduation proposals, drift per rubric version and month, and the calls where
raters disagreed with the machine's evidence there (``services.agreement`` gathers it)."""

from __future__ import annotations

from collections.abc import Sequence

from callqa.reports import charts
from callqa.reports.render import environment
from callqa.services import agreement as ag


def render_agreement_html(report: ag.AgreementReport, moments: Sequence[ag.Moment] = ()) -> str:
    pairs = [c for c in report.comparisons if len(c.raters) == 2]
    rows = [(f"{c.criterion} · {c.label}", c.ac1.value, c.ac1.low, c.ac1.high) for c in pairs]
    chart = charts.interval_chart(rows, report.rule.automatic_ac1) if rows else ""
    drift = [(s, c) for s in report.drift for c in s.comparisons if c.machine]
    return environment().get_template("agreement.html.j2").render(
        report=report, pairs=pairs, groups=[c for c in report.comparisons if len(c.raters) > 2], chart=chart,
        drift=drift, moments=moments, machine=ag.MACHINE, small_n=ag.SMALL_N, resamples=ag.RESAMPLES)
