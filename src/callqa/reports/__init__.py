"""Per-agent coaching reports: what a team lead and an agent look at together each week.

    report = build_report(db_url_or_session, "alice", date_from=date(2026, 10, 1))
    Path("alice.html").write_text(render_html(report))   # self-contained, print it to PDF
    render_markdown(report)                               # for a ticket or a chat
    report_json(report)                                   # for other tools

    overview = build_team_overview(db_url_or_session)     # every agent; overview.reports
    render_overview_html(overview)

``callqa.services.reports`` gathers the content (how it is chosen is documented there), ``reports.render``
turns it into HTML / Markdown / JSON with the Jinja2 templates in ``reports/templates``, and
``reports.charts`` draws the inline SVG charts.
"""

from callqa.services.reports import (
    REPORT_JSON_VERSION,
    AgentReport,
    AgentRow,
    CallRef,
    FocusItem,
    ListeningMetric,
    PhraseCount,
    Quote,
    SectionLine,
    Strength,
    TeamOverview,
    TrendPoint,
    UnknownAgentError,
    build_report,
    build_team_overview,
)
from callqa.reports.render import (
    overview_json,
    render_html,
    render_markdown,
    render_overview_html,
    report_filename,
    report_json,
)

__all__ = [
    "REPORT_JSON_VERSION", "AgentReport", "AgentRow", "CallRef", "FocusItem", "ListeningMetric", "PhraseCount",
    "Quote", "SectionLine", "Strength", "TeamOverview", "TrendPoint", "UnknownAgentError", "build_report",
    "build_team_overview", "overview_json", "render_html", "render_markdown", "render_overview_html",
    "report_filename", "report_json",
]
