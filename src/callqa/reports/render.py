"""Reports as HTML (one self-contained file), Markdown and JSON, from the same content.

HTML: Jinja2 with autoescape on, so every piece of transcript text, file name and agent name is
escaped; the only markup let through unescaped is the SVG the chart module draws. CSS is inline,
charts are inline SVG, there is no external URL: the file can be mailed, archived or printed to
PDF. Markdown escapes what Markdown and HTML would interpret (``*``, ``_``, ``<``...), so a quote
cannot turn into markup in a ticket or chat.
"""

from __future__ import annotations

import re
from datetime import date
from functools import lru_cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from callqa.output import printable
from callqa.reports import charts
from callqa.services.reports import REPORT_JSON_VERSION, AgentReport, TeamOverview, as_jsonable


def _num(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _delta(value: float | None, other: float | None, digits: int = 1) -> str:
    if value is None or other is None:
        return ""
    d = round(value - other, digits) + 0.0  # no "−0.0"
    return f"{'+' if d >= 0 else '−'}{abs(d):.{digits}f}"


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.0f}%"


def _day(value: date | None) -> str:
    return "" if value is None else f"{value.day} {value:%b %Y}"


def _short_day(value: date | None) -> str:
    return "" if value is None else f"{value.day} {value:%b}"


def _basename(path: str) -> str:
    return re.split(r"[\\/]", path)[-1]


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|~>-])")


def md(text: Any) -> str:
    """Text made inert for Markdown (and the HTML that Markdown lets through)."""
    s = str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    s = _MD_SPECIAL.sub(r"\\\1", s)
    return re.sub(r"\s+", " ", s)


def _metric(value: float | None, unit: str) -> str:
    if value is None:
        return "–"
    if unit == "%":
        return f"{value:.0f}%"
    if unit == "s":
        return f"{value:.0f} s"
    return f"{value:.1f}"


def _printable(value: Any) -> Any:
    """Every value a template writes, without terminal control characters (the charts' SVG too)."""
    if isinstance(value, Markup):
        return Markup(printable(str(value)))
    return printable(value) if isinstance(value, str) else value


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(loader=PackageLoader("callqa.reports", "templates"), finalize=_printable,
                      autoescape=select_autoescape(enabled_extensions=("html", "html.j2"),
                                                   default_for_string=True, default=False),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters.update(num=_num, delta=_delta, pct=_pct, day=_day, short_day=_short_day, basename=_basename,
                       md=md, metric=_metric)
    return env


def _links(agents: list[str], suffix: str = ".html") -> dict[str, str]:
    return {a: report_filename(a, agents, suffix) for a in agents}


def report_filename(agent: str, agents: list[str] | None = None, suffix: str = ".html") -> str:
    """A safe file name for an agent's report in a folder of reports (unique among ``agents``)."""
    base = re.sub(r"[^A-Za-z0-9._-]+", "-", agent).strip("-.") or "agent"
    if agents is not None:
        clashes = sorted(a for a in agents if (re.sub(r"[^A-Za-z0-9._-]+", "-", a).strip("-.") or "agent") == base)
        if len(clashes) > 1:
            base += f"-{clashes.index(agent) + 1}"
    return f"agent-{base}{suffix}"


def render_html(report: AgentReport, *, back_link: str | None = None) -> str:
    """The report as one self-contained HTML page."""
    agent = printable(report.agent)  # matplotlib would warn of control characters as missing glyphs
    trend_svg = charts.trend_chart(report.trend, agent) if report.trend else ""
    sections_svg = charts.sections_chart(report.sections, agent) if report.sections else ""
    return environment().get_template("report.html.j2").render(
        r=report, trend_svg=trend_svg, sections_svg=sections_svg, back_link=back_link,
        version=REPORT_JSON_VERSION)


def render_markdown(report: AgentReport) -> str:
    """The report in Markdown, for a ticket or a chat message."""
    return environment().get_template("report.md.j2").render(r=report)


def report_json(report: AgentReport) -> dict[str, Any]:
    """The report as plain JSON data (stable; ``version`` changes when its shape does)."""
    data = as_jsonable(report)
    for item in data["focus"]:
        item["rate"] = round(item["failed_calls"] / item["calls"], 3) if item["calls"] else 0.0
    return {"version": REPORT_JSON_VERSION, "kind": "agent_report", **data}


def render_overview_html(overview: TeamOverview, *, suffix: str = ".html") -> str:
    """The team page of ``callqa report --all``, linking each agent's report (``report_filename``)."""
    links = _links([a.agent for a in overview.agents], suffix)
    section_names = [(s.section, s.name) for s in overview.sections]
    return environment().get_template("overview.html.j2").render(
        o=overview, links=links, section_names=section_names,
        trend_svg=charts.team_chart(overview.trend) if overview.trend else "")


def overview_json(overview: TeamOverview) -> dict[str, Any]:
    data = as_jsonable(overview)
    data.pop("reports", None)
    return {"version": REPORT_JSON_VERSION, "kind": "team_overview", **data}
