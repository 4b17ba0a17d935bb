"""Blind review (``callqa.services.calibration``): the calls assigned to the reviewer with their
progress, and a call answered criterion by criterion (yes / no / N-A) with the transcript and the
recording but none of the machine's verdicts; once every criterion is answered, the comparison."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, OptionList, Static

from callqa.services import calibration
from callqa.services.calibration import AssignedCall, BlindCall, Comparison, Question
from callqa.tui.screens.playing import PlaysAudio, call_layout
from callqa.tui.widgets.format import clock, day, duration
from callqa.tui.widgets.modebar import ModeBar
from callqa.tui.widgets.table import MeasuredTable
from callqa.tui.widgets.timeline import Timeline
from callqa.tui.widgets.transcript import TranscriptView

ANSWER_STYLE = {"yes": "#87d787", "no": "#ff5f5f", "na": "#8a8a8a"}


def answer_text(answer: str | None) -> Text:
    return Text("—" if answer is None else "N-A" if answer == "na" else answer, style=ANSWER_STYLE.get(answer or "", "dim"))


class BlindListScreen(Screen):
    """The calls assigned to the reviewer in calibration sessions, and everyone's progress."""

    TITLE = "Blind review"
    BINDINGS = [
        Binding("enter", "open", "Answer call", id="blind.open", show=False),
        Binding("right_curly_bracket", "next_todo", "Next to answer", key_display="}", id="blind.next",
                tooltip="Open the first assigned call not answered yet"),
        Binding("ctrl+r", "refresh", "Refresh", id="blind.refresh"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[AssignedCall] = []
        self.loaded = False

    def compose(self) -> ComposeResult:
        yield ModeBar("blind")
        yield Static(Text("Calls assigned to you in calibration sessions (callqa calibrate assign). Answer each "
                          "criterion yes / no / N-A without the machine's verdicts; the comparison follows.",
                          style="dim"), classes="bar")
        yield MeasuredTable(id="blind-calls", cursor_type="row", zebra_stripes=True)
        yield Static("loading…", id="progress", classes="bar")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for key, label in (("session", "session"), ("id", "#"), ("agent", "agent"), ("date", "date"),
                           ("length", "length"), ("answered", "answered"), ("file", "file")):
            table.add_column(label, key=key)
        table.focus()

    def on_screen_resume(self) -> None:
        self.load()

    @work(thread=True, exclusive=True, group="blind-list")
    def load(self) -> None:
        try:
            with self.app.session() as session:
                calls = calibration.assigned_calls(session, self.app.reviewer)
                progress = calibration.progress(session)
        except Exception as exc:
            self.app.call_from_thread(self.notify, str(exc), title="Could not list the calls", severity="error")
            return
        self.app.call_from_thread(self._show, calls, progress)

    def _show(self, calls: list[AssignedCall], progress: list[calibration.Progress]) -> None:
        self.calls, self.loaded = calls, True
        table = self.query_one(DataTable)
        row = table.cursor_row
        table.clear()
        for c in calls:
            done = Text("✓ done", style="#87d787") if c.done else Text(f"{c.answered}/{c.asked}")
            table.add_row(Text(c.session), Text(str(c.call_id), style="dim"), Text(c.agent), day(c.call_date),
                          Text(duration(c.duration)), done, Text(Path(c.file).name), key=f"{c.session}:{c.call_id}")
        if calls:
            table.move_cursor(row=min(max(row, 0), len(calls) - 1))
        sessions = {p.session for p in progress if p.reviewer == self.app.reviewer}
        text = Text()
        for p in progress:
            if p.session in sessions:
                text.append(f"{p.session} ", style="dim")
                text.append(p.reviewer, style="bold" if p.reviewer == self.app.reviewer else "")
                text.append(f" {p.done}/{p.assigned}   ")
        if not calls:
            text = Text(f"no calls are assigned to {self.app.reviewer}: callqa calibrate assign --reviewers "
                        f"{self.app.reviewer},… --calls 20")
        self.query_one("#progress", Static).update(text)

    def _open(self, index: int) -> None:
        todo = [c.call_id for c in self.calls if not c.done]
        call_id = self.calls[index].call_id
        self.app.push_screen(BlindCallScreen(call_id, todo if call_id in todo else [call_id, *todo]))

    def action_open(self) -> None:
        table = self.query_one(DataTable)
        if self.calls and 0 <= table.cursor_row < len(self.calls):
            self._open(table.cursor_row)
        else:
            self.notify("the list is still loading" if not self.loaded else "no call is assigned to you",
                        severity="warning")

    def action_next_todo(self) -> None:
        index = next((i for i, c in enumerate(self.calls) if not c.done), None)
        if index is None:
            self.notify("every call assigned to you is answered" if self.loaded else "the list is still loading",
                        severity="warning")
            return
        self._open(index)

    @on(DataTable.RowSelected)
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open()

    def action_refresh(self) -> None:
        self.load()


class BlindCallScreen(PlaysAudio, Screen):
    """One call answered blind: one criterion at a time, then the comparison with the machine."""

    TITLE = "Blind call"
    BINDINGS = [
        Binding("escape", "back", "Back", id="blind_call.back"),
        Binding("y", "answer('yes')", "Yes", id="blind_call.yes", tooltip="Yes: the call meets the criterion"),
        Binding("n", "answer('no')", "No", id="blind_call.no", tooltip="No: the call does not meet it"),
        Binding("a", "answer('na')", "N-A", id="blind_call.na", tooltip="N-A: the criterion does not apply"),
        Binding("left_square_bracket", "step(-1)", "Prev criterion", key_display="[", id="blind_call.prev",
                tooltip="Previous criterion (answering again replaces the answer)"),
        Binding("right_square_bracket", "step(1)", "Next criterion", key_display="]", id="blind_call.next",
                tooltip="Next criterion, leaving this one as it is"),
        Binding("space,l", "play_line", "Play line", key_display="space / l", id="blind_call.play",
                tooltip="Play the selected line"),
        Binding("right_curly_bracket", "next_call", "Next call", key_display="}", id="blind_call.next_call",
                tooltip="Next assigned call not answered yet"),
    ]

    def __init__(self, call_id: int, todo: list[int] | None = None) -> None:
        super().__init__()
        self.call_id = call_id
        self.todo = todo or [call_id]
        self.call: BlindCall | None = None
        self.questions: list[Question] = []
        self.answers: dict[str, str] = {}
        self.index = 0
        #: the comparison, once every criterion is answered (None before: nothing of the machine's)
        self.comparison: list[Comparison] | None = None
        self.showing_comparison = False

    def compose(self) -> ComposeResult:
        yield from call_layout(self._side)

    def _side(self) -> ComposeResult:
        yield Static(id="question")
        with VerticalScroll(id="detail-scroll"):
            yield Static(id="blind-answers")

    def on_mount(self) -> None:
        self.query_one("#transcript", TranscriptView).border_title = "Transcript"
        self.query_one("#question").border_title = "Criterion"
        self._show_player("space / l plays the selected line")
        self.load()

    # ------------------------------------------------------------------ loading

    @work(thread=True, exclusive=True, group="blind-call")
    def load(self) -> None:
        try:
            try:
                rubric = self.app.rubric()  # the criteria's names; without it they show by id
            except Exception:
                rubric = None
            with self.app.session() as session:
                call = calibration.blind_call(session, self.call_id)
                asked = calibration.questions(session, self.call_id, rubric)
                mine = calibration.answers_of(session, self.call_id, self.app.reviewer)
                rows = (calibration.comparison(session, self.call_id, self.app.reviewer, rubric)
                        if asked and all(q.criterion in mine for q in asked) else None)
        except Exception as exc:
            self.app.call_from_thread(self.notify, str(exc), title="Could not load the call", severity="error")
            return
        self.app.call_from_thread(self._show, call, asked, mine, rows)

    def _show(self, call: BlindCall, asked: list[Question], mine: dict[str, str],
              rows: list[Comparison] | None) -> None:
        self.call, self.questions, self.answers, self.comparison = call, asked, dict(mine), rows
        self.sub_title = f"call {call.id}, blind"
        self._show_state()
        transcript = self.query_one("#transcript", TranscriptView)
        transcript.set_call(call.segments, ())
        self.query_one("#timeline", Timeline).set_call(call.duration, call.segments, ())
        self.index = self._next_unanswered(-1) if rows is None else 0
        self.showing_comparison = rows is not None
        self._refresh_side()
        transcript.focus()

    def _next_unanswered(self, after: int) -> int:
        n = len(self.questions)
        for step in range(1, n + 1):
            i = (after + step) % n
            if self.questions[i].criterion not in self.answers:
                return i
        return max(0, min(after + 1, n - 1))

    # ------------------------------------------------------------------ the side panel

    def _show_state(self) -> None:
        """The header's second line: blind, or answered."""
        call = self.call
        if call is None:
            return
        head = Text()
        head.append(f"#{call.id} ", style="dim")
        head.append(call.agent, style="bold")
        head.append(f"  {day(call.call_date)}  {duration(call.duration)}  {Path(call.file).name}\n")
        if self.comparison is None:
            head.append(f"blind review as {self.app.reviewer}: the machine's verdicts stay hidden until every "
                        "criterion is answered", style="dim")
        else:
            head.append(f"answered blind by {self.app.reviewer}: the machine's answers are shown beside yours",
                        style="dim")
        self.query_one("#call-header", Static).update(head)

    def _refresh_side(self) -> None:
        question = self.query_one("#question", Static)
        body = self.query_one("#blind-answers", Static)
        if not self.questions:
            question.update(Text("this call has no stored criterion results to answer", style="bold #ff875f"))
            body.update("")
            return
        done = sum(q.criterion in self.answers for q in self.questions)
        if self.showing_comparison and self.comparison is not None:
            agreed = sum(r.agree for r in self.comparison)
            question.border_title = "Comparison"
            question.update(Text(f"All {len(self.questions)} criteria answered: you and the machine agree on "
                                 f"{agreed}. [ / ] change an answer, }} next call.", style="bold"))
            body.update(comparison_text(self.comparison))
            self.query_one("#detail-scroll").border_title = "You against the machine"
            return
        q = self.questions[self.index]
        question.border_title = f"Criterion {self.index + 1} of {len(self.questions)} · {done} answered"
        text = Text()
        text.append(q.text + "\n", style="bold")
        text.append(f"{q.criterion} ({q.section})\n", style="dim")
        if q.description:
            text.append(q.description + "\n")
        text.append(q.hint + "\n", style="dim")
        text.append("your answer: ")
        text.append_text(answer_text(self.answers.get(q.criterion)))
        text.append("    y yes · n no · a N-A", style="dim")
        question.update(text)
        self.query_one("#detail-scroll").border_title = "Your answers"
        lines = Text()
        for i, other in enumerate(self.questions):
            lines.append("▶ " if i == self.index else "  ", style="bold")
            lines.append_text(answer_text(self.answers.get(other.criterion)))
            lines.append(f"  {other.text}\n", style="bold" if i == self.index else "")
        body.update(lines)

    # ------------------------------------------------------------------ answering

    def action_answer(self, answer: str) -> None:
        if self.call is None or not self.questions:
            self.notify("the call is still loading" if self.call is None else "nothing to answer on this call",
                        severity="warning")
            return
        if self.showing_comparison:
            self.notify("every criterion is answered: [ / ] pick one to change", severity="warning")
            return
        q = self.questions[self.index]
        self.answers[q.criterion] = answer
        self._store(q.criterion, answer)
        if len(self.answers) < len(self.questions):
            self.index = self._next_unanswered(self.index)
        self._refresh_side()

    @work(thread=True, group="blind-write")
    def _store(self, criterion: str, answer: str) -> None:
        try:
            with self.app.session() as session:
                outcome = calibration.record_answer(session, self.call_id, self.app.reviewer, criterion, answer)
                rows = (calibration.comparison(session, self.call_id, self.app.reviewer,
                                               self.app.rubric() if self.app.rubric_loaded else None)
                        if outcome.done else None)
        except Exception as exc:
            self.app.call_from_thread(self.notify, str(exc), title="Not saved", severity="error")
            self.app.call_from_thread(self.load)
            return
        self.app.call_from_thread(self._stored, outcome.answers, rows)

    def _stored(self, answers: dict[str, str], rows: list[Comparison] | None) -> None:
        self.answers.update(answers)
        if rows is not None and len(self.answers) == len(self.questions):
            first = self.comparison is None
            self.comparison, self.showing_comparison = rows, True
            self._show_state()
            self._refresh_side()
            if first:
                self.notify(f"call {self.call_id} answered: the comparison is shown", title=f"Saved as {self.app.reviewer}")

    def action_step(self, step: int) -> None:
        if not self.questions:
            return
        if self.showing_comparison:
            self.showing_comparison = False
            self.index = 0 if step > 0 else len(self.questions) - 1
        else:
            self.index = (self.index + step) % len(self.questions)
        self._refresh_side()

    # ------------------------------------------------------------------ transcript and navigation

    def recording(self) -> str | None:
        return None if self.call is None else self.call.file

    @on(OptionList.OptionHighlighted, "#transcript")
    def _line_highlighted(self) -> None:
        view = self.query_one("#transcript", TranscriptView)
        if view.selected_segment is not None:
            self.query_one("#timeline", Timeline).position = view.segments[view.selected_segment].start

    @on(OptionList.OptionSelected, "#transcript")
    def _line_selected(self) -> None:
        self.action_play_line()

    def action_back(self) -> None:
        self.app.playback.stop()
        self.app.pop_screen()

    def action_next_call(self) -> None:
        later = [c for c in self.todo if c != self.call_id]
        if not later:
            self.notify("no other assigned call waits for your answers", severity="warning")
            return
        self.todo = later
        self.call_id = later[0]
        self.call, self.comparison, self.showing_comparison = None, None, False
        self.load()


def comparison_text(rows: list[Comparison]) -> Text:
    """Each criterion, where you and the machine differ first: both answers and the machine's flags
    behind its answer (the words and when, or what was missing)."""
    out = Text()
    for r in sorted(rows, key=lambda r: r.agree):
        out.append("✓ " if r.agree else "≠ ", style="#87d787" if r.agree else "bold #ff5f5f")
        out.append(r.question.text + "\n", style="" if r.agree else "bold")
        out.append("    you ", style="dim")
        out.append_text(answer_text(r.reviewer))
        out.append(" · machine ", style="dim")
        out.append_text(answer_text(r.machine))
        out.append("\n")
        for f in r.flags:
            if f.text:
                out.append(f"    {clock(f.start)} ", style="dim")
                out.append(f"“{f.text}”\n")
            else:
                out.append(f"    {f.message}\n", style="dim")
    return out
