"""Small modal forms of the review actions. Each returns its answer with ``dismiss`` (None when
cancelled); Enter in the last field or Ctrl+S submits, Escape cancels. ``ConfirmForm`` asks
yes or no before an action that changes many things at once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.suggester import SuggestFromList
from textual.widgets import Button, Checkbox, Input, Label, Static

from callqa.services.review import parse_score


class _Form(ModalScreen):
    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="form.cancel"),
        Binding("ctrl+s", "submit", "Save", id="form.submit"),
    ]
    TITLE = "Form"
    SUBMIT = "Save"

    def compose_fields(self) -> ComposeResult:
        yield from ()

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.TITLE, classes="dialog-title")
            yield from self.compose_fields()
            yield Static(id="error", classes="error")
            with Horizontal(classes="buttons"):
                yield Button(self.SUBMIT, variant="primary", id="submit")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        inputs = self.query(Input)
        (inputs.first() if inputs else self.query_one("#submit", Button)).focus()

    def error(self, message: str) -> None:
        self.query_one("#error", Static).update(Text(message, style="bold red"))

    def value(self, name: str) -> str:
        return self.query_one(f"#{name}", Input).value.strip()

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_submit(self) -> None:  # overridden
        self.dismiss(None)

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        inputs = list(self.query(Input))
        i = inputs.index(event.input)
        if i + 1 < len(inputs):
            inputs[i + 1].focus()
        else:
            self.action_submit()

    @on(Button.Pressed, "#submit")
    def _submit_pressed(self) -> None:
        self.action_submit()

    @on(Button.Pressed, "#cancel")
    def _cancel_pressed(self) -> None:
        self.action_cancel()


class TextForm(_Form):
    """One line of text (a comment, a resolution note)."""

    def __init__(self, title: str, label: str, *, required: bool = True, placeholder: str = "",
                 value: str = "") -> None:
        super().__init__()
        self.TITLE = title
        self.label = label
        self.required = required
        self.placeholder = placeholder
        self.initial = value

    def compose_fields(self) -> ComposeResult:
        yield Label(self.label)
        yield Input(self.initial, placeholder=self.placeholder, id="text")

    def action_submit(self) -> None:
        text = self.value("text")
        if self.required and not text:
            self.error("write something first (Escape cancels)")
            return
        self.dismiss(text)


class ConfirmForm(_Form):
    """Yes or no: ``y`` or Enter (on the focused first button) says yes, ``n`` or Escape no.
    Returns True, or None when cancelled."""

    BINDINGS = [Binding("y", "submit", "Yes", id="confirm.yes", tooltip="Yes, to a question"),
                Binding("n", "cancel", "No", id="confirm.no", tooltip="No, to a question")]

    def __init__(self, title: str, question: Text | str, yes: str) -> None:
        super().__init__()
        self.TITLE = title
        self.question = question
        self.SUBMIT = yes

    def compose_fields(self) -> ComposeResult:
        yield Static(self.question, id="question")

    def action_submit(self) -> None:
        self.dismiss(True)


@dataclass(frozen=True)
class OverrideAnswer:
    section: str
    score: float
    reason: str


class OverrideForm(_Form):
    """Override one section's score, with a reason."""

    TITLE = "Override a section score"

    def __init__(self, sections: Sequence[tuple[str, float | None]]) -> None:
        super().__init__()
        self.sections = list(sections)

    def compose_fields(self) -> ComposeResult:
        shown = ", ".join(f"{n} {'—' if v is None else f'{v:.0f}'}" for n, v in self.sections)
        yield Label(Text(f"sections: {shown}", style="dim"))
        yield Label("section")
        yield Input(placeholder="section name", id="section",
                    suggester=SuggestFromList([n for n, _ in self.sections], case_sensitive=False))
        yield Label("new score (0-100)")
        yield Input(placeholder="e.g. 80", id="score")
        yield Label("reason (required)")
        yield Input(placeholder="why the machine's score is wrong", id="reason")

    def action_submit(self) -> None:
        section = self.value("section")
        names = [n for n, _ in self.sections]
        if section not in names:
            self.error(f"no section {section!r}; one of: {', '.join(names)}")
            return
        try:
            score = parse_score(self.value("score"))
        except ValueError as exc:
            self.error(str(exc))
            return
        if score is None:
            self.error("give the new score")
            return
        reason = self.value("reason")
        if not reason:
            self.error("an override needs a reason")
            return
        self.dismiss(OverrideAnswer(section, score, reason))


@dataclass(frozen=True)
class MissedFlagAnswer:
    criterion: str
    note: str


class MissedFlagForm(_Form):
    """Add a flag the machine missed on the selected transcript line. It opens at once; the
    criteria to complete come with ``set_criteria`` when the rubric is loaded."""

    TITLE = "Add a missed flag"

    def __init__(self, criteria: Sequence[tuple[str, str]] | None, line: str, speaker: str = "",
                 others: Sequence[str] = ()) -> None:
        super().__init__()
        self.criteria = None if criteria is None else list(criteria)  # (id, name): for this line's speaker
        self.line = line
        self.speaker = speaker
        self.others = set(others)  # criteria of the rubric about the other speaker

    def compose_fields(self) -> ComposeResult:
        who = f"the {self.speaker}'s line" if self.speaker else "the line"
        yield Label(Text(f"on {who}: “{self.line}”", style="italic"))
        yield Label("criterion (loading the rubric…)", id="criterion-label")
        yield Input(placeholder="e.g. empathy.dismissive", id="criterion")
        yield Label("note")
        yield Input(placeholder="optional: what the machine missed", id="note")

    def on_mount(self) -> None:
        super().on_mount()
        self._show_criteria()

    def set_criteria(self, criteria: Sequence[tuple[str, str]], others: Sequence[str] = ()) -> None:
        self.criteria, self.others = list(criteria), set(others)
        self._show_criteria()

    def _show_criteria(self) -> None:
        labels = self.query("#criterion-label")
        if self.criteria is None or not labels:  # not loaded yet; or not composed yet, or closed
            return
        labels.first(Label).update("criterion (type to complete, → accepts)")
        self.query_one("#criterion", Input).suggester = SuggestFromList([c for c, _ in self.criteria],
                                                                        case_sensitive=False)

    def action_submit(self) -> None:
        if self.criteria is None:
            self.error("the rubric is still loading: try again in a moment")
            return
        crit = self.value("criterion")
        ids = {c for c, _ in self.criteria}
        if crit in self.others:
            self.error(f"{crit} is about the other speaker, not the {self.speaker}; pick another line")
            return
        if crit not in ids:
            close = sorted(c for c in ids if crit and crit.split(".")[0] in c)[:6]
            self.error(f"no criterion {crit!r}" + (f"; did you mean {', '.join(close)}?" if close else ""))
            return
        self.dismiss(MissedFlagAnswer(crit, self.value("note")))


@dataclass(frozen=True)
class DisputeAnswer:
    by: str
    text: str
    whole_call: bool


class DisputeForm(_Form):
    """Record an agent's dispute of the current flag (or of the whole call)."""

    TITLE = "Record a dispute"

    def __init__(self, agent: str, flag: str | None) -> None:
        super().__init__()
        self.agent = agent
        self.flag = flag

    def compose_fields(self) -> ComposeResult:
        yield Label(Text(f"flag: {self.flag or '(none: the whole call)'}", style="dim"))
        yield Label("disputed by")
        yield Input(self.agent, id="by")
        yield Label("reason")
        yield Input(placeholder="what the agent says", id="text")
        yield Checkbox("the whole call, not this flag", self.flag is None, id="whole")

    def action_submit(self) -> None:
        by, text = self.value("by"), self.value("text")
        if not by or not text:
            self.error("say who disputes and why")
            return
        self.dismiss(DisputeAnswer(by, text, self.query_one("#whole", Checkbox).value))
