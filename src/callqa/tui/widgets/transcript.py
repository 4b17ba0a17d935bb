"""The transcript of a call: one line per turn on the call's timeline, agent and customer told
apart, flagged words highlighted by polarity, words the transcript is unsure of dimmed, silences
between turns shown as gaps."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table
from rich.text import Text
from textual.binding import Binding
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from callqa.records import UNCERTAIN_BELOW, StoredFlag
from callqa.transcript import Segment, word_spans
from callqa.tui.widgets.format import POLARITY_STYLE, REJECTED_STYLE, SPEAKER_STYLE, UNSURE_WORD_STYLE, clock

#: a silence this long between turns gets a line of its own
GAP_S = 2.0


def flag_spans(text: str, flags: Sequence[StoredFlag]) -> list[tuple[int, int, StoredFlag]]:
    """Where each flag's matched words occur in a line (case-insensitive, first occurrence)."""
    folded = text.casefold()
    out = []
    for f in flags:
        needle = (f.text or "").strip().casefold()
        if not needle:
            continue
        at = folded.find(needle)
        if at >= 0:
            out.append((at, at + len(needle), f))
    return out


def unsure_spans(segment: Segment) -> list[tuple[int, int]]:
    """Where the words Whisper gave a probability under ``UNCERTAIN_BELOW`` are in the turn's text
    (none when its words do not line up with the text, as for a text transcript)."""
    spans = word_spans(segment.text, len(segment.words))
    return [span for span, w in zip(spans, segment.words) if w.probability < UNCERTAIN_BELOW]


def line_body(segment: Segment, flags: Sequence[StoredFlag]) -> Text:
    """A turn's words (literal text, never markup) with the flagged words highlighted by polarity
    (a problem in red, good behaviour in green, a rejected flag struck through) and the words the
    transcript is unsure of dimmed."""
    body = Text(segment.text, style="" if segment.speaker == "agent" else "italic")
    for start, end in unsure_spans(segment):
        body.stylize(UNSURE_WORD_STYLE, start, end)
    for start, end, f in flag_spans(segment.text, flags):
        style = REJECTED_STYLE if f.review_status == "rejected" else POLARITY_STYLE.get(f.polarity, "reverse")
        body.stylize(style, start, end)
    marks = [f for f in flags if f.polarity == "negative" and f.review_status != "rejected"]
    if marks:
        body.append(f"  ⚑{len(marks)}", style="bold #ff5f5f")
    return body


def line_text(segment: Segment, flags: Sequence[StoredFlag]) -> Table:
    """One turn: time, speaker, then the words; wrapped lines stay in the words' column."""
    who = segment.speaker
    grid = Table.grid(padding=(0, 1), expand=True)
    grid.add_column(width=7, style="dim", no_wrap=True)
    grid.add_column(width=10, no_wrap=True)
    grid.add_column(ratio=1)
    label = Text("AGENT    ▏" if who == "agent" else "CUSTOMER ▏", style=SPEAKER_STYLE.get(who, "bold"))
    grid.add_row(clock(segment.start), label, line_body(segment, flags))
    return grid


def flags_in(segment: Segment, flags: Sequence[StoredFlag]) -> list[StoredFlag]:
    """The flags whose moment falls in this turn (same speaker when the flag has one)."""
    out = []
    for f in flags:
        if f.start is None or not f.text:
            continue
        if f.speaker not in (None, "any", segment.speaker):
            continue
        if segment.start - 0.05 <= f.start <= segment.end + 0.05:
            out.append(f)
    return out


class TranscriptView(OptionList):
    """The turns of a call; the highlighted turn is the "selected line" of review actions."""

    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False),
        Binding("k", "cursor_up", "Up", show=False),
    ]

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.segments: tuple[Segment, ...] = ()

    def set_call(self, segments: Sequence[Segment], flags: Sequence[StoredFlag]) -> None:
        keep = self.selected_segment
        self.segments = tuple(segments)
        options: list[Option] = []
        previous_end = None
        for i, seg in enumerate(self.segments):
            if previous_end is not None and seg.start - previous_end >= GAP_S:
                options.append(Option(Text(f"                   ··· {seg.start - previous_end:.1f} s silence ···",
                                           style="dim italic"), id=f"gap-{i}", disabled=True))
            options.append(Option(line_text(seg, flags_in(seg, flags)), id=f"seg-{i}"))
            previous_end = seg.end if previous_end is None else max(previous_end, seg.end)
        self.set_options(options)
        if self.segments:
            self.select_segment(keep if keep is not None and keep < len(self.segments) else 0)

    @property
    def selected_segment(self) -> int | None:
        if self.highlighted is None or not self.segments:
            return None
        option = self.get_option_at_index(self.highlighted)
        if option.id and option.id.startswith("seg-"):
            return int(option.id[4:])
        return None

    def select_segment(self, index: int) -> None:
        self.highlighted = self.get_option_index(f"seg-{index}")
        self.scroll_to_highlight(top=False)
