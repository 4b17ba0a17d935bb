"""What the call screen and the blind call screen share: their layout (a header, the timeline, the
transcript beside a side panel of their own, the player bar) and playing the call's recording (the
selected line, or a moment) through the app's audio player."""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Footer, Header, Static

from callqa.tui.player import clip, looked_for, resolve_recording
from callqa.tui.widgets.format import clock
from callqa.tui.widgets.timeline import Timeline
from callqa.tui.widgets.transcript import TranscriptView

#: longest clip played for a flag that spans a window ("no greeting in the first 30 s")
MAX_CLIP_S = 15.0


def call_layout(side: Callable[[], ComposeResult]) -> ComposeResult:
    """A call screen's widgets, ``side`` composing what goes beside the transcript."""
    yield Header()
    yield Static("loading…", id="call-header", classes="bar")
    yield Timeline(id="timeline")
    with Horizontal(id="call-body"):
        yield TranscriptView(id="transcript")
        with Vertical(id="side"):
            yield from side()
    yield Static(id="player", classes="bar")
    yield Footer(compact=True)


class PlaysAudio:
    """For a Screen with a ``#transcript`` TranscriptView and a ``#player`` Static; ``recording``
    says which file the call shown was scored from (None while it loads)."""

    def recording(self) -> str | None:
        raise NotImplementedError

    def _show_player(self, keys: str) -> None:
        player = self.app.player
        if player is None:
            text = Text(f"audio: no player found (looked for {looked_for()}): install one to hear flagged moments",
                        style="bold #ff875f")
        else:
            text = Text(f"audio: {player.name} ({player.path}) · {keys}", style="dim")
        self.query_one("#player", Static).update(text)

    def action_play_line(self) -> None:
        view = self.query_one("#transcript", TranscriptView)
        seg = view.selected_segment
        if seg is None:
            self.notify("select a transcript line first (j / k)" if view.segments else
                        "this call has no transcript lines", severity="warning")
            return
        s = view.segments[seg]
        self._play(s.start, s.end, f"line at {clock(s.start)}")

    def _play(self, start: float, end: float, what: str) -> None:
        if self.app.player is None:
            self.notify(f"No audio player found (looked for {looked_for()}).", title="Cannot play",
                        severity="warning")
            return
        file = self.recording()
        if file is not None:
            self._play_worker(file, start, end, what)

    @work(thread=True, exclusive=True, group="play")
    def _play_worker(self, file: str, start: float, end: float, what: str) -> None:
        path = resolve_recording(file)
        if path is None:
            self.app.call_from_thread(self.notify, f"recording not found: {file} (run callqa tui from the folder "
                                      "it was scored from)", title="Cannot play", severity="warning")
            return
        try:
            wav = clip(path, start, end)
            proc = self.app.playback.start(wav)
        except Exception as exc:
            self.app.call_from_thread(self.notify, str(exc), title="Cannot play", severity="error")
            return
        self.app.call_from_thread(self.notify, f"playing {what} with {self.app.player.name}", timeout=2)
        try:
            code = proc.wait(timeout=MAX_CLIP_S + 5)
        except Exception:
            return
        if code not in (0, None, -15):
            err = (proc.stderr.read().decode(errors="replace").strip().splitlines() or [""])[-1] if proc.stderr else ""
            self.app.call_from_thread(self.notify, f"{self.app.player.name} exited with {code}: {err}",
                                      title="Playback failed", severity="warning")

