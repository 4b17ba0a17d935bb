"""One call: the transcript on its timeline with the flags in place, the flags panel, section
scores and reviews; the review actions (accept / reject a flag, then on to the next flag nobody
reviewed; accept them all; add a missed flag on the selected line, override a section, comment,
disputes), playback of the flagged moment, and on to the next call with flags to review."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import OptionList, Static

from callqa.services import review
from callqa.records import StoredCall, StoredFlag
from callqa.tui.screens.playing import MAX_CLIP_S, PlaysAudio, call_layout
from callqa.tui.screens.forms import (
    ConfirmForm,
    DisputeAnswer,
    DisputeForm,
    MissedFlagAnswer,
    MissedFlagForm,
    OverrideAnswer,
    OverrideForm,
    TextForm,
)
from callqa.tui.widgets.flags import (
    FlagDetail,
    FlagList,
    flag_detail,
    flag_line,
    in_list_order,
    is_missed,
    next_unreviewed,
    reviews_text,
    sections_table,
)
from callqa.tui.widgets.format import clock, day, duration, score, status_text
from callqa.tui.widgets.timeline import Timeline
from callqa.tui.widgets.transcript import TranscriptView

#: flags listed in the accept-all question (the rest are counted)
MAX_LISTED = 12


class CallScreen(PlaysAudio, Screen):
    TITLE = "Call"
    BINDINGS = [
        Binding("escape", "back", "Back", id="call.back"),
        Binding("n", "next_flag", "Next flag", id="call.next_flag",
                tooltip="Next flag: moments in time order, then missed criteria"),
        Binding("p", "previous_flag", "Prev flag", id="call.previous_flag", show=False, tooltip="Previous flag"),
        Binding("a", "accept", "Accept", id="call.accept",
                tooltip="Accept the flag, on to the next nobody reviewed"),
        Binding("r,x", "reject", "Reject", id="call.reject",
                tooltip="Reject the flag (score follows), on to the next"),
        Binding("A", "accept_all", "All", key_display="A", id="call.accept_all",
                tooltip="Accept every flag nobody reviewed yet (asks first)"),
        Binding("right_curly_bracket", "unreviewed(1)", "To review", key_display="}",
                id="call.next_unreviewed", tooltip="Next call of the list with flags nobody reviewed"),
        Binding("left_curly_bracket", "unreviewed(-1)", "Prev to review", key_display="{",
                id="call.prev_unreviewed", show=False, tooltip="Previous call of the list with flags nobody reviewed"),
        Binding("m", "add_flag", "Missed", id="call.add_flag", tooltip="Add a flag the machine missed on the "
                "selected line"),
        Binding("o", "override", "Override", id="call.override", tooltip="Override a section score, with a reason"),
        Binding("c", "comment", "Comment", id="call.comment"),
        Binding("d", "dispute", "Dispute", id="call.dispute", tooltip="Record the agent's dispute of the flag "
                "(or the call)"),
        Binding("D", "resolve", "Resolve dispute", key_display="D", id="call.resolve", show=False),
        Binding("space", "play_flag", "Play", id="call.play", tooltip="Play the flagged moment"),
        Binding("l", "play_line", "Play line", id="call.play_line", show=False, tooltip="Play the selected line"),
        Binding("slash", "find", "Find text", key_display="/", id="call.find", show=False),
        Binding("right_square_bracket", "sibling(1)", "Next call", key_display="]", id="call.next_call",
                show=False),
        Binding("left_square_bracket", "sibling(-1)", "Prev call", key_display="[", id="call.prev_call",
                show=False),
    ]

    def __init__(self, call_id: int, siblings: list[int] | None = None, find: str | None = None) -> None:
        super().__init__()
        self.call_id = call_id
        self.call_ids = siblings or [call_id]
        self.call: StoredCall | None = None
        self.flag_index: int | None = None
        #: flag id → "accepted" / "rejected": decisions shown before their write is done (a reload
        #: that a quicker write brought must not undo them)
        self.pending: dict[int, str] = {}
        self.find_text = find or ""

    def compose(self) -> ComposeResult:
        yield from call_layout(self._side)

    def _side(self) -> ComposeResult:
        yield FlagList(id="flags")
        with VerticalScroll(id="detail-scroll"):
            yield FlagDetail(id="flag-detail")
            yield Static(id="sections")
            yield Static(id="reviews")

    def on_mount(self) -> None:
        self.query_one("#flags", FlagList).border_title = "Flags  (n/p)"
        self.query_one("#transcript", TranscriptView).border_title = "Transcript"
        self.query_one("#detail-scroll").border_title = "Details"
        self._show_player("space plays the current flag, l the selected line")
        self.load()

    # ------------------------------------------------------------------ loading

    @work(thread=True, exclusive=True, group="call")
    def load(self) -> None:
        try:
            with self.app.session() as session:
                call = review.get_call(session, self.call_id)
        except Exception as exc:
            self.app.call_from_thread(self.notify, str(exc), title="Could not load the call", severity="error")
            return
        self.app.call_from_thread(self._show, call)

    def _show(self, call: StoredCall | None) -> None:
        if call is None:
            self.query_one("#call-header", Static).update(Text(f"no stored call {self.call_id}", style="red"))
            return
        first = self.call is None or self.call.call.id != call.call.id
        call = replace(call, flags=in_list_order(
            tuple(replace(f, review_status=self.pending[f.id]) if f.id in self.pending else f for f in call.flags)))
        self.call = call
        c = call.call
        self.sub_title = f"call {c.id}"
        head = Text()
        head.append(f"#{c.id} ", style="dim")
        head.append(c.agent, style="bold")
        head.append(f"  {day(c.call_date)}  {duration(c.duration)}  {Path(c.file).name}\n")
        head.append("score ")
        head.append(score(c.score), style="bold")
        if c.score != c.machine_score:
            head.append(f" (machine {score(c.machine_score)})", style="#5fafff")
        head.append("  ")
        head.append_text(status_text(c.review_status))
        if c.critical_failed:
            head.append("  CRITICAL FAILED", style="bold #ff5f5f")
        roles = f"  roles: {c.roles} {c.role_confidence:.2f}"
        head.append(roles, style="bold #ff875f" if c.role_confidence < 0.8 else "dim")
        head.append(f"  {c.engine} {c.model}", style="dim")
        self.query_one("#call-header", Static).update(head)

        transcript = self.query_one("#transcript", TranscriptView)
        transcript.set_call(call.segments, call.flags)
        self.query_one("#timeline", Timeline).set_call(c.duration, call.segments, call.flags)
        keep = (next_unreviewed(call.flags, None) or 0) if first else self.flag_index
        self.query_one("#flags", FlagList).set_flags(call.flags, keep)
        self.query_one("#flags", FlagList).border_title = f"Flags ({len(call.flags)})  n/p"
        self.query_one("#sections", Static).update(sections_table(call.sections))
        self.query_one("#reviews", Static).update(reviews_text(call.reviews, call.flags))
        self.flag_index = None if not call.flags else min(keep, len(call.flags) - 1)
        self._show_flag(move_transcript=first)
        if first:
            transcript.focus()
            if self.find_text:  # opened from a text search: show the first place it was said
                self.find_next(self.find_text, from_start=True)

    # ------------------------------------------------------------------ flags

    @property
    def current_flag(self) -> StoredFlag | None:
        if self.call is None or self.flag_index is None or not self.call.flags:
            return None
        return self.call.flags[self.flag_index]

    def _show_flag(self, move_transcript: bool = True) -> None:
        f = self.current_flag
        disputes = review.open_disputes(self.call) if self.call else []
        self.query_one("#flag-detail", FlagDetail).update(flag_detail(f, disputes))
        self.query_one("#timeline", Timeline).current_flag = self.flag_index
        if f is not None and self.call is not None and move_transcript and not is_missed(f):
            seg = review.segment_at(self.call.segments, f.start, f.speaker)
            if seg is not None:
                self.query_one("#transcript", TranscriptView).select_segment(seg)

    def go_to_flag(self, index: int) -> None:
        call = self._loaded()
        if call is None:
            return
        if not call.flags:
            self.notify("this call has no flags", severity="warning")
            return
        self.flag_index = index % len(call.flags)
        flags = self.query_one("#flags", FlagList)
        flags.highlighted = flags.option_index(self.flag_index)
        flags.scroll_to_highlight()
        self._show_flag()

    def action_next_flag(self) -> None:
        self.go_to_flag(0 if self.flag_index is None else self.flag_index + 1)

    def action_previous_flag(self) -> None:
        self.go_to_flag(0 if self.flag_index is None else self.flag_index - 1)

    @on(OptionList.OptionHighlighted, "#flags")
    def _flag_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        index = self.query_one("#flags", FlagList).flag_index(event.option_index)
        if index != self.flag_index:
            self.flag_index = index
            self._show_flag()

    @on(OptionList.OptionHighlighted, "#transcript")
    def _line_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        view = self.query_one("#transcript", TranscriptView)
        seg = view.selected_segment
        if seg is not None:
            self.query_one("#timeline", Timeline).position = view.segments[seg].start

    @on(OptionList.OptionSelected, "#transcript")
    def _line_selected(self) -> None:
        self.action_play_line()

    # ------------------------------------------------------------------ review actions

    @work(thread=True, exclusive=True, group="call-write")
    def _write(self, fn: Callable[[Any], Any], done: str, flag_id: int | None = None) -> None:
        """Run one review write, then reload the call and say what was stored (``flag_id``: the
        flag whose pending decision this write stores)."""
        try:
            with self.app.session() as session:
                fn(session)
                call = review.get_call(session, self.call_id)
        except Exception as exc:
            self.app.call_from_thread(self._settled, flag_id)
            self.app.call_from_thread(self.notify, str(exc), title="Not saved", severity="error")
            self.app.call_from_thread(self.load)  # show what is stored, not what was not saved
            return
        self.app.call_from_thread(self._settled, flag_id)
        self.app.call_from_thread(self._show, call)
        self.app.call_from_thread(self.notify, done, title=f"Saved as {self.app.reviewer}")

    def _settled(self, flag_id: int | None) -> None:
        self.pending.pop(flag_id, None)

    def _loaded(self) -> StoredCall | None:
        """The call, or None (and say so) while it is loading."""
        if self.call is None:
            self.notify("the call is not loaded yet", severity="warning")
        return self.call

    def _decide(self, accept: bool) -> None:
        """Accept or reject the current flag, and move on to the next flag nobody reviewed. The
        list marks the decision at once (the next flag is chosen knowing it) and the stored call
        replaces it when the write is done."""
        call, f = self._loaded(), self.current_flag
        if call is None:
            return
        if f is None:
            self.notify("no flag selected: n / p pick one" if call.flags else "this call has no flags",
                        severity="warning")
            return
        call_id, who = self.call_id, self.app.reviewer
        decided = replace(f, review_status="accepted" if accept else "rejected")
        self.pending[f.id] = decided.review_status
        self.call = replace(call, flags=tuple(decided if x.id == f.id else x for x in call.flags))
        self.query_one("#flags", FlagList).replace_option_prompt(f"flag-{f.id}", flag_line(decided))
        after = next_unreviewed(self.call.flags, self.flag_index)
        where = "" if is_missed(f) else f" at {clock(f.start)}"
        self._write(lambda s: review.decide_flag(s, call_id, f.id, accept=accept, reviewer=who),
                    f"{decided.review_status} {f.criterion}{where}"
                    + ("" if after is not None else "; every flag of this call is reviewed: } opens the next "
                       "call to review"), f.id)
        if after is not None:
            self.go_to_flag(after)

    def action_accept(self) -> None:
        self._decide(True)

    def action_reject(self) -> None:
        self._decide(False)

    def action_accept_all(self) -> None:
        """Accept every flag of the call nobody has accepted or rejected yet, once the reviewer
        confirms (the question lists them)."""
        call = self._loaded()
        if call is None:
            return
        todo = [f for f in call.flags if f.review_status is None]
        if not todo:
            self.notify("every flag of this call is reviewed already" if call.flags else "this call has no flags",
                        severity="warning")
            return
        call_id, who, ids = self.call_id, self.app.reviewer, [f.id for f in todo]
        missed = sum(is_missed(f) for f in todo)
        moments = len(todo) - missed
        question = Text(f"Accept the {len(todo)} flags of this call nobody has reviewed yet "
                        f"({moments} moment{'s' * (moments != 1)}, {missed} missed "
                        f"criteri{'a' if missed != 1 else 'on'})?\n")
        for f in todo[:MAX_LISTED]:
            question.append("\n")
            question.append_text(flag_line(f))
        if len(todo) > MAX_LISTED:
            question.append(f"\n… and {len(todo) - MAX_LISTED} more", style="dim")

        def done(yes: bool | None) -> None:
            if yes:
                self._write(lambda s: review.accept_flags(s, call_id, ids, reviewer=who),
                            f"accepted the {len(ids)} flags nobody had reviewed")

        self.app.push_screen(ConfirmForm("Accept the remaining flags", question, f"Accept {len(todo)}"), done)

    def action_comment(self) -> None:
        who = self.app.reviewer

        def done(text: str | None) -> None:
            if text:
                self._write(lambda s: review.comment(s, self.call_id, text, reviewer=who), "comment stored")

        self.app.push_screen(TextForm("Comment on this call", "comment"), done)

    def action_override(self) -> None:
        """The form needs only the call's sections, and storing an override needs no rubric
        (storage rescores the call; only a call stored before criterion results were kept loads
        the rubric, in the write's worker)."""
        call, who = self._loaded(), self.app.reviewer
        if call is None:
            return

        def done(answer: OverrideAnswer | None) -> None:
            if answer:
                self._write(lambda s: review.override_section(s, call, answer.section, answer.score, answer.reason,
                                                              reviewer=who, rubric=self.app.rubric),
                            f"{answer.section} overridden to {answer.score:g}")

        self.app.push_screen(OverrideForm([(s.section, s.final) for s in call.sections]), done)

    def action_add_flag(self) -> None:
        """The form opens at once; its criteria fill in when the rubric is loaded."""
        call = self._loaded()
        if call is None:
            return
        seg_index = self.query_one("#transcript", TranscriptView).selected_segment
        if seg_index is None:
            self.notify("select a transcript line first (j / k), then m" if call.segments else
                        "this call has no transcript lines", severity="warning")
            return
        segment = call.segments[seg_index]
        call_id, who = self.call_id, self.app.reviewer
        form = MissedFlagForm(None, segment.text, segment.speaker)

        def done(answer: MissedFlagAnswer | None) -> None:
            if answer:
                self._with_rubric(lambda rubric: self._write(
                    lambda s: review.add_missed_flag(s, call_id, rubric, answer.criterion, segment, reviewer=who,
                                                     note=answer.note),
                    f"added {answer.criterion} at {clock(segment.start)}"))

        def criteria(rubric: Any) -> None:
            mine = [(c.id, c.name) for c in rubric.criteria if c.speaker in (segment.speaker, "any")] or \
                [(c.id, c.name) for c in rubric.criteria]
            form.set_criteria(mine, [c.id for c in rubric.criteria if c.id not in {i for i, _ in mine}])

        self.app.push_screen(form, done)
        self._with_rubric(criteria)

    def action_dispute(self) -> None:
        call, f = self._loaded(), self.current_flag
        if call is None:
            return

        def done(answer: DisputeAnswer | None) -> None:
            if answer:
                flag_id = None if answer.whole_call or f is None else f.id
                self._write(lambda s: review.dispute(s, self.call_id, answer.text, by=answer.by, flag_id=flag_id),
                            "dispute recorded: the call stays in the review queue until it is resolved")

        self.app.push_screen(DisputeForm(call.call.agent, f.criterion if f else None), done)

    def action_resolve(self) -> None:
        call = self._loaded()
        if call is None:
            return
        if not review.open_disputes(call):
            self.notify("no open dispute on this call", severity="warning")
            return
        who = self.app.reviewer

        def done(text: str | None) -> None:
            if text is not None:
                self._write(lambda s: review.resolve_dispute(s, self.call_id, text, reviewer=who),
                            "disputes resolved")

        self.app.push_screen(TextForm("Resolve the disputes", "decision (optional)", required=False), done)

    @work(thread=True, group="rubric")
    def _with_rubric(self, then: Callable[[Any], None]) -> None:
        """Load the rubric (once; a second or two) off the UI thread, then continue on it."""
        if not self.app.rubric_loaded:
            self.app.call_from_thread(self.notify, "loading the rubric…", timeout=2)
        try:
            rubric = self.app.rubric()
        except Exception as exc:
            self.app.call_from_thread(self.notify, str(exc), title="No rubric", severity="error")
            return
        self.app.call_from_thread(then, rubric)

    # ------------------------------------------------------------------ find

    def action_find(self) -> None:
        def done(text: str | None) -> None:
            if text:
                self.find_text = text
                self.find_next(text)

        self.app.push_screen(TextForm("Find in the transcript", "words (Enter: next match)", value=self.find_text),
                             done)

    def find_next(self, text: str, from_start: bool = False) -> None:
        """Select the next line (after the selected one, wrapping) that contains ``text``."""
        if self.call is None:
            return
        hits = review.find_in_segments(self.call.segments, text)
        if not hits:
            self.notify(f"“{text}” is not in this transcript", severity="warning")
            return
        view = self.query_one("#transcript", TranscriptView)
        current = -1 if from_start or view.selected_segment is None else view.selected_segment
        target = next((i for i in hits if i > current), hits[0])
        view.select_segment(target)
        self.notify(f"“{text}”: match {hits.index(target) + 1} of {len(hits)}", timeout=2)

    # ------------------------------------------------------------------ playback

    def recording(self) -> str | None:
        return None if self.call is None else self.call.call.file

    def action_play_flag(self) -> None:
        f = self.current_flag
        if f is None or f.start is None:
            self.action_play_line()
            return
        end = f.end if f.end is not None else f.start + 3
        self._play(f.start, min(end, f.start + MAX_CLIP_S), f"{f.criterion} at {clock(f.start)}")

    # ------------------------------------------------------------------ navigation

    def action_back(self) -> None:
        self.app.playback.stop()
        self.app.pop_screen()

    def action_unreviewed(self, step: int) -> None:
        """On to the next (previous) call of the list this one was opened from with a flag nobody
        has accepted or rejected yet."""
        self._find_unreviewed(step, list(self.call_ids), self.call_id)

    @work(thread=True, exclusive=True, group="call-unreviewed")
    def _find_unreviewed(self, step: int, ids: list[int], current: int) -> None:
        i = ids.index(current)
        candidates = ids[i + 1:] if step > 0 else ids[:i][::-1]
        try:
            with self.app.session() as session:
                to_review = review.with_flags_to_review(session, candidates)
                found = next((c for c in candidates if c in to_review), None)
        except Exception as exc:
            self.app.call_from_thread(self.notify, str(exc), title="Could not look", severity="error")
            return
        self.app.call_from_thread(self._go_to_call, found, step)

    def _go_to_call(self, call_id: int | None, step: int) -> None:
        if call_id is None:
            self.notify(f"no call {'after' if step > 0 else 'before'} this one in the list has flags left to "
                        "review", severity="warning")
            return
        self.call_id = call_id
        self.load()

    def action_sibling(self, step: int) -> None:
        if self.call_id not in self.call_ids:
            return
        i = self.call_ids.index(self.call_id) + step
        if not 0 <= i < len(self.call_ids):
            self.app.bell()
            return
        self.call_id = self.call_ids[i]
        self.load()
