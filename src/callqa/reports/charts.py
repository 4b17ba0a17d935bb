"""Charts as inline SVG, drawn with matplotlib's SVG backend (no pyplot, no display, no files).

The SVG is made to sit inside an HTML page: no XML prologue, DOCTYPE, metadata or namespace URLs,
text as <text> in the page's font (``svg.fonttype: none``), ids stable between runs, and a width
that follows the page (the viewBox keeps the proportions).
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from datetime import date
from html import escape

from callqa.services.reports import SectionLine, TrendPoint

AGENT_COLOR = "#1f5fa8"
TEAM_COLOR = "#8a8f98"
GRID_COLOR = "#e3e6ea"
# text.parse_math off: agent and section names are drawn as written ("$\\foo{$" is no mathtext to fail on)
_RC = {"svg.fonttype": "none", "text.parse_math": False, "svg.hashsalt": "callqa-report",
       "font.family": "sans-serif", "font.size": 9, "axes.edgecolor": "#b9bec6", "axes.labelcolor": "#333",
       "xtick.color": "#555", "ytick.color": "#555"}


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=72, layout="constrained")


def _svg(fig, label: str) -> str:
    import matplotlib

    buf = io.StringIO()
    with matplotlib.rc_context(_RC):
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
    svg = buf.getvalue()
    svg = svg[svg.index("<svg"):]
    svg = re.sub(r"<metadata>.*?</metadata>\s*", "", svg, flags=re.S)
    svg = re.sub(r'\s+xmlns(:\w+)?="[^"]*"', "", svg)
    svg = re.sub(r'\s(width|height)="[\d.]+pt"', "", svg, count=2)
    return svg.replace("<svg", f'<svg role="img" aria-label="{escape(label)}" class="chart"', 1)


def _style(ax) -> None:
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis="y", color=GRID_COLOR, linewidth=0.8)
    ax.set_axisbelow(True)


def _rows_axes(fig, n: int):
    """Axes for one horizontal row per item (the first on top), with a vertical grid."""
    ax = fig.add_subplot()
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis="x", color=GRID_COLOR, linewidth=0.8)
    ax.set_axisbelow(True)
    return ax, list(range(n))[::-1]


def trend_chart(points: Sequence[TrendPoint], agent: str) -> str:
    """Weekly average score of the agent (line) against the team's (dashed)."""
    import matplotlib

    with matplotlib.rc_context(_RC):
        fig = _figure(7.2, 2.6)
        ax = fig.add_subplot()
        _style(ax)
        weeks = [p.week for p in points]
        ax.plot(weeks, [p.team if p.team is not None else float("nan") for p in points], color=TEAM_COLOR,
                linestyle="--", linewidth=1.4, marker="o", markersize=3, label="team")
        ax.plot(weeks, [p.score for p in points], color=AGENT_COLOR, linewidth=2.2, marker="o", markersize=5,
                label=agent)
        ax.set_ylim(0, 105)
        ax.set_ylabel("average score")
        _date_axis(ax, weeks)
        ax.legend(loc="lower left", frameon=False, ncols=2)
        return _svg(fig, f"Weekly average score of {agent} against the team")


def _date_axis(ax, weeks: list[date]) -> None:
    if not weeks:
        return
    if len(weeks) <= 12:
        ax.set_xticks(weeks, [f"{w.day} {w:%b}" for w in weeks])
    else:
        from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

        locator = AutoDateLocator(maxticks=10)
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    if len(weeks) == 1:
        from datetime import timedelta

        ax.set_xlim(weeks[0] - timedelta(days=7), weeks[0] + timedelta(days=7))
    ax.set_xlabel("week starting")


def sections_chart(lines: Sequence[SectionLine], agent: str) -> str:
    """Per-section average of the agent (bars) with the team's average (marks)."""
    import matplotlib

    rows = [s for s in lines if s.score is not None or s.team is not None]
    with matplotlib.rc_context(_RC):
        fig = _figure(7.2, 0.32 * len(rows) + 0.8)
        ax, y = _rows_axes(fig, len(rows))
        ax.barh(y, [s.score or 0 for s in rows], height=0.6, color=AGENT_COLOR, label=agent)
        ax.scatter([s.team for s in rows if s.team is not None], [yy for yy, s in zip(y, rows) if s.team is not None],
                   marker="|", s=220, linewidths=2.4, color="#d9822b", label="team", zorder=3)
        for yy, s in zip(y, rows):  # the value inside the bar's end (outside when the bar is short)
            if s.score is not None and s.score >= 12:
                ax.text(s.score - 1.2, yy, f"{s.score:.0f}", va="center", ha="right", fontsize=8, color="#fff",
                        fontweight="bold", zorder=4)
            else:
                ax.text((s.score or 0) + 1.2, yy, "n/a" if s.score is None else f"{s.score:.0f}", va="center",
                        fontsize=8, color="#333")
        ax.set_yticks(y, [s.name for s in rows])
        ax.set_xlim(0, 110)
        ax.set_xticks([0, 25, 50, 75, 100])
        ax.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), frameon=False, ncols=2, fontsize=8)
        return _svg(fig, f"Section scores of {agent} against the team")


def team_chart(lines: Sequence[TrendPoint]) -> str:
    """The team's weekly average score."""
    import matplotlib

    with matplotlib.rc_context(_RC):
        fig = _figure(7.2, 2.4)
        ax = fig.add_subplot()
        _style(ax)
        weeks = [p.week for p in lines]
        ax.plot(weeks, [p.score for p in lines], color=AGENT_COLOR, linewidth=2.2, marker="o", markersize=4)
        ax.set_ylim(0, 105)
        ax.set_ylabel("average score")
        _date_axis(ax, weeks)
        return _svg(fig, "Weekly average score of the team")


def interval_chart(rows: Sequence[tuple[str, float | None, float | None, float | None]], bar: float | None = None,
                   label: str = "AC1") -> str:
    """One line per (name, value, low, high): the value as a dot on its interval (-1 to 1), with the
    graduation bar as a dashed line."""
    import matplotlib

    with matplotlib.rc_context(_RC):
        fig = _figure(7.2, 0.28 * len(rows) + 0.9)
        ax, y = _rows_axes(fig, len(rows))
        for yy, (_, value, low, high) in zip(y, rows):
            if low is not None and high is not None:
                ax.plot([low, high], [yy, yy], color=TEAM_COLOR, linewidth=3, solid_capstyle="butt")
            if value is not None:
                ax.scatter([value], [yy], color=AGENT_COLOR, s=22, zorder=3)
        if bar is not None:
            ax.axvline(bar, color="#d9822b", linestyle="--", linewidth=1.2)
        ax.set_yticks(y, [r[0] for r in rows])
        ax.set_xlim(-1.02, 1.02)
        ax.set_xlabel(f"{label} with its 95% interval")
        return _svg(fig, f"{label} per criterion with 95% intervals")
