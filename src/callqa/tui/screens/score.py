"""Score a folder from the UI: ``services.score_paths`` runs in a thread worker and reports each
call as it is stored; the screen stays responsive (the progress bar moves, other modes work)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Button, Checkbox, DirectoryTree, Footer, Input, Label, ProgressBar, RichLog
from textual.worker import Worker, WorkerState, get_current_worker

from callqa.tui.widgets.modebar import ModeBar


class _Stop(Exception):
    """Raised from the progress callback to end a cancelled batch between two calls."""


class ScoreScreen(Screen):
    TITLE = "Score a folder"
    BINDINGS = [
        Binding("ctrl+s", "start", "Start scoring", id="score.start"),
        Binding("ctrl+x", "cancel", "Stop", id="score.cancel"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.worker: Worker | None = None
        self.done = 0
        self.counts: dict[str, int] = {}

    def compose(self) -> ComposeResult:
        yield ModeBar("score")
        with Horizontal(id="score-body"):
            yield DirectoryTree(Path.cwd(), id="tree")
            with Vertical(id="score-form"):
                yield Label("folder or file to score (pick one on the left, or type a path)")
                yield Input(str(Path.cwd()), id="path")
                yield Label("agent for every call (blank: from calls.csv / calls.json or the pattern)")
                yield Input(placeholder="e.g. alice", id="agent")
                yield Label("file-name pattern (optional)")
                yield Input(self.app.workspace.name_pattern or "", placeholder="{agent}_{date}_{id}", id="pattern")
                yield Checkbox("rescore calls already stored", id="rescore")
                with Horizontal(classes="buttons"):
                    yield Button("Start (Ctrl+S)", variant="primary", id="start")
                    yield Button("Stop (Ctrl+X)", id="stop", disabled=True)
                yield ProgressBar(id="progress", show_eta=True)
                yield Label("", id="score-status")
                yield RichLog(id="log", wrap=True, markup=False, highlight=False)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.query_one("#tree", DirectoryTree).focus()  # mode keys (1-5) keep working until you type

    @on(DirectoryTree.DirectorySelected)
    def _dir_selected(self, event: DirectoryTree.DirectorySelected) -> None:
        self.query_one("#path", Input).value = str(event.path)

    @on(DirectoryTree.FileSelected)
    def _file_selected(self, event: DirectoryTree.FileSelected) -> None:
        self.query_one("#path", Input).value = str(event.path)

    @on(Input.Submitted)
    def _submitted(self) -> None:
        self.action_start()

    @on(Button.Pressed, "#start")
    def _start_pressed(self) -> None:
        self.action_start()

    @on(Button.Pressed, "#stop")
    def _stop_pressed(self) -> None:
        self.action_cancel()

    @property
    def running(self) -> bool:
        return self.worker is not None and self.worker.state in (WorkerState.PENDING, WorkerState.RUNNING)

    def action_start(self) -> None:
        if self.running:
            self.notify("a batch is already running", severity="warning")
            return
        path = Path(self.query_one("#path", Input).value.strip() or ".").expanduser()
        if not path.exists():
            self.notify(f"{path}: no such file or folder", severity="error")
            return
        self.done = 0
        self.counts = {}
        self.query_one("#log", RichLog).clear()
        self.query_one("#progress", ProgressBar).update(total=None, progress=0)
        self._status(f"looking for recordings and transcripts in {path}…")
        self.query_one("#start", Button).disabled = True
        self.query_one("#stop", Button).disabled = False
        self.worker = self.score(path, self.query_one("#agent", Input).value.strip() or None,
                                 self.query_one("#pattern", Input).value.strip() or None,
                                 self.query_one("#rescore", Checkbox).value)

    def action_cancel(self) -> None:
        if self.running and self.worker is not None:
            self.worker.cancel()
            self._status("stopping after the call in progress…")

    @work(thread=True, exclusive=True, group="score")
    def score(self, path: Path, agent: str | None, pattern: str | None, rescore: bool) -> None:
        from callqa import services

        worker = get_current_worker()
        # one process: the batch runs in this thread, beside the UI (no fork of a threaded process)
        ws = self.app.workspace  # the same settings as `callqa score`: rubric, redaction, agent channel, …
        ws = replace(ws, workers=1, name_pattern=pattern or ws.name_pattern)

        def on_total(n: int) -> None:
            self.app.call_from_thread(self._total, n)

        def on_outcome(outcome) -> None:
            self.app.call_from_thread(self._outcome, outcome)
            if worker.is_cancelled:
                raise _Stop

        try:
            summary = services.score_paths([path], ws, agent=agent, rescore=rescore, on_outcome=on_outcome,
                                           on_total=on_total)
        except _Stop:
            self.app.call_from_thread(self._finished, "stopped")
            return
        except Exception as exc:
            self.app.call_from_thread(self._finished, f"error: {exc}")
            return
        self.app.call_from_thread(
            self._finished, f"done: scored {summary.count('scored')}, rescored {summary.count('rescored')}, "
                            f"skipped {summary.count('skipped')}, failed {len(summary.failed)}")

    def _status(self, text: str) -> None:
        self.query_one("#score-status", Label).update(Text(text))

    def _total(self, n: int) -> None:
        self.query_one("#progress", ProgressBar).update(total=max(n, 1) if n else 1, progress=0 if n else 1)
        self._status(f"{n} files to score" if n else "no recordings or transcripts found there")

    def _outcome(self, outcome) -> None:
        self.done += 1
        self.counts[outcome.status] = self.counts.get(outcome.status, 0) + 1
        self.query_one("#progress", ProgressBar).advance(1)
        line = Text()
        style = {"scored": "#87d787", "rescored": "#5fafff", "skipped": "dim", "failed": "bold #ff5f5f"}
        line.append(f"{outcome.status:9}", style=style.get(outcome.status, ""))
        if outcome.score is not None and outcome.score.score is not None:
            line.append(f"{outcome.score.score:5.1f}  ")
        line.append(f"{outcome.agent or '':10} {Path(outcome.file).name}")
        if outcome.error:
            line.append(f"  {outcome.error}", style="#ff5f5f")
        self.query_one("#log", RichLog).write(line)
        self._status(", ".join(f"{n} {s}" for s, n in self.counts.items()))

    def _finished(self, text: str) -> None:
        self._status(text)
        self.query_one("#start", Button).disabled = False
        self.query_one("#stop", Button).disabled = True
        self.notify(text, title="Scoring")
