"""The flags side panel: the list of a call's flags and the details of the current one, plus the
section scores (machine, override, final) and the review history. The machine's original
stays visible: a rejected flag is struck through, not removed; an override sits next to the
machine's score. Missed criteria (nothing in the call matched) are listed apart, after the
moments in the call."""

from __future__ import annotations

import json
from collections.abc import Sequence

from rich.table import Table
from rich.text import Text
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from callqa.records import Review, SectionResult, StoredFlag
from callqa.tui.widgets.format import REJECTED_STYLE, UNSURE_FLAG_STYLE, clock, score


def is_missed(f: StoredFlag) -> bool:
    """A missed criterion: the rubric expected something nobody said, so no moment of the call has it."""
    return f.start is None or (f.details or {}).get("how") == "missing"


def in_list_order(flags: Sequence[StoredFlag]) -> tuple[StoredFlag, ...]:
    """The moments in time order, then the missed criteria (the order of ``FlagList``)."""
    return tuple(f for f in flags if not is_missed(f)) + tuple(f for f in flags if is_missed(f))


def next_unreviewed(flags: Sequence[StoredFlag], after: int | None) -> int | None:
    """The index of the first flag after ``after`` (wrapping round) nobody accepted or rejected."""
    start = -1 if after is None else after
    order = [(start + k) % len(flags) for k in range(1, len(flags) + 1)]
    return next((i for i in order if i != after and flags[i].review_status is None), None)


def flag_line(f: StoredFlag) -> Text:
    icon, style = ("✗", "#ff5f5f") if f.polarity == "negative" else ("✓", "#87d787")
    line = Text(no_wrap=True, overflow="ellipsis")
    line.append(f"{icon} ", style=style)
    if not is_missed(f):
        line.append(f"{clock(f.start)} ", style="dim")
    line.append(f.criterion, style=REJECTED_STYLE if f.review_status == "rejected" else "")
    if f.uncertain:
        line.append(" ?unsure", style=UNSURE_FLAG_STYLE)
    if f.origin == "reviewer":
        line.append(" +added", style="bold #5fafff")
    if f.review_status:
        line.append(f" {f.review_status}", style="#87d787" if f.review_status == "accepted" else "#ff875f")
    return line


class FlagList(OptionList):
    """The call's flags (``in_list_order``): the moments in time order, then, under a header, the
    missed criteria; the highlighted one is the "current flag". Flag indices skip the header."""

    moments = 0

    def set_flags(self, flags: Sequence[StoredFlag], keep: int | None = None) -> None:
        self.moments = sum(not is_missed(f) for f in flags)
        options = [Option(flag_line(f), id=f"flag-{f.id}") for f in flags]
        if self.moments < len(flags):
            header = Text(f"── missed: not in the call ({len(flags) - self.moments}) ──", style="bold")
            options.insert(self.moments, Option(header, id="missed", disabled=True))
        self.set_options(options)
        if flags:
            self.highlighted = self.option_index(min(keep or 0, len(flags) - 1))

    def option_index(self, flag: int) -> int:
        return flag + (flag >= self.moments)

    def flag_index(self, option: int) -> int:
        return option - (option > self.moments)


def flag_detail(f: StoredFlag | None, disputes: Sequence[Review] = ()) -> Table | Text:
    if f is None:
        return Text("No flag selected.", style="dim")
    t = Table.grid(padding=(0, 1))
    t.add_column(style="bold", no_wrap=True)
    t.add_column()
    polarity = Text(f.polarity, style="#ff5f5f" if f.polarity == "negative" else "#87d787")
    t.add_row("criterion", Text(f.criterion))
    t.add_row("category", Text(f"{f.category} · {f.severity} · ") + polarity)
    t.add_row("who, when", Text(f"{f.speaker or '—'} {clock(f.start)}–{clock(f.end)}"))
    if f.text:
        t.add_row("words", Text(f"“{f.text}”", style="italic"))
    if f.confidence is not None:
        heard = f"least sure word {f.confidence:.0%}"
        t.add_row("heard", Text(f"unsure ({heard}): may be misheard; space plays the moment, then a or r",
                                style=UNSURE_FLAG_STYLE) if f.uncertain else Text(f"sure ({heard})", style="dim"))
    t.add_row("message", Text(f.message or "—"))
    if f.suggestion:
        t.add_row("suggestion", Text(f.suggestion, style="#87d787"))
    if f.explanation:
        t.add_row("why", Text(f.explanation))
    if f.details:
        t.add_row("details", Text(json.dumps(f.details, ensure_ascii=False), style="dim"))
    origin = "machine" if f.origin == "machine" else "added by a reviewer"
    status = f.review_status or "not reviewed"
    t.add_row("origin", Text(f"{origin} · {status}",
                             style="strike" if f.review_status == "rejected" else ""))
    for d in disputes:
        if d.flag_id == f.id:
            t.add_row("DISPUTED", Text(f"by {d.reviewer}: {d.text or ''}", style="bold #ff875f"))
    return t


def sections_table(sections: Sequence[SectionResult]) -> Table:
    t = Table(box=None, padding=(0, 1), show_edge=False, header_style="bold")
    t.add_column("section")
    t.add_column("machine", justify="right")
    t.add_column("review", justify="right")
    t.add_column("final", justify="right")
    for s in sections:
        t.add_row(Text(s.section), score(s.score),
                  Text(score(s.override), style="bold #5fafff") if s.override is not None else Text("", style="dim"),
                  Text(score(s.final), style="bold"))
    return t


def reviews_text(reviews: Sequence[Review], flags: Sequence[StoredFlag]) -> Text:
    by_id = {f.id: f for f in flags}
    out = Text()
    if not reviews:
        return Text("No reviews yet.", style="dim")
    for r in reviews:
        when = r.created_at.strftime("%Y-%m-%d %H:%M") if r.created_at else ""
        out.append(f"{when} {r.reviewer} ", style="dim")
        out.append(r.kind.replace("_", " "), style="bold")
        if r.flag_id is not None and r.flag_id in by_id:
            out.append(f" {by_id[r.flag_id].criterion}")
        if r.section:
            out.append(f" {r.section} → {score(r.new_score)}")
        if r.text:
            out.append(f": {r.text}", style="italic")
        out.append("\n")
    out.rstrip()
    return out


class FlagDetail(Static):
    pass
