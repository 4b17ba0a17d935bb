"""Terminal UI at scale: time to first paint of the calls screen on 100,000 stored calls, and
the key-to-screen latency of opening a call and of opening the override form on it.

    python benchmarks/tui.py                    # 100,000 calls in a temporary SQLite file
    python benchmarks/tui.py --calls 20000 --opens 30
    python benchmarks/tui.py --db sqlite:///tmp/big.db --no-fill   # an existing database

Two measurements of each:

- in process (Textual's headless driver, ``App.run_test``): from creating the app to the first
  frame written after the first page of calls is in the table; from an Enter key event (as the
  terminal driver delivers it) to the first frame written after the call's transcript and flags
  are in their widgets; from an ``o`` key event on a call to the first frame written after the
  override form is mounted (the first time separately: nothing is loaded for it, not even the
  rubric). Target: under 200 ms.
- for real (when tmux is installed): ``python -m callqa.cli tui`` started in a 120×40 tmux pane,
  from launching the command (Python start and imports included) until ``capture-pane`` shows
  the first page, from ``send-keys Enter`` until the pane shows the call, and from ``send-keys
  o`` until the pane shows the override form. Polled every
  ~10 ms, so these figures are good to about ±15 ms.

Also times the other screens' queries on the same database (review queue, agents, agreement).
The database is filled with benchmarks/storage.py's filler (Core executemany; 10 segments and
4 flags per call). Target: first paint under 1 s.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _filler():
    spec = importlib.util.spec_from_file_location("bench_storage", HERE / "storage.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module.fill


def ms(seconds: float) -> str:
    return f"{seconds * 1000:7.1f} ms"


async def in_process(db: str, opens: int) -> tuple[float, list[float], list[float]]:
    """Times to the first frame the app writes after the data is in its widgets."""
    from textual import events

    from callqa.tui.app import CallQAApp
    from callqa.tui.screens.call import CallScreen
    from callqa.tui.screens.calls import CallsScreen
    from callqa.tui.screens.forms import OverrideForm

    frames: list[float] = []

    async def next_frame_after(moment: float) -> float:
        while not frames or frames[-1] < moment:
            await asyncio.sleep(0.0005)
        return next(f for f in frames if f >= moment)

    start = time.perf_counter()
    app = CallQAApp(db=db, reviewer="bench", player=None)
    display = app._display

    def timed_display(screen, renderable) -> None:  # every frame the app writes to the terminal
        display(screen, renderable)
        frames.append(time.perf_counter())

    app._display = timed_display  # type: ignore[method-assign]
    async with app.run_test(size=(120, 40)) as pilot:
        while not (isinstance(app.screen, CallsScreen) and app.screen.page is not None):
            await asyncio.sleep(0.0005)
        first_paint = await next_frame_after(time.perf_counter()) - start
        latencies = []
        for _ in range(opens):
            await pilot.pause()
            t = time.perf_counter()
            app._driver.send_message(events.Key("enter", "\r"))  # as a terminal sends it
            while not (isinstance(app.screen, CallScreen) and app.screen.call is not None
                       and app.screen.query_one("#transcript").option_count):
                await asyncio.sleep(0.0005)
            latencies.append(await next_frame_after(time.perf_counter()) - t)
            await pilot.pause()
            await pilot.press("escape")
            while not isinstance(app.screen, CallsScreen):
                await asyncio.sleep(0.001)
            await pilot.press("down")
        await pilot.press("enter")
        while not (isinstance(app.screen, CallScreen) and app.screen.call is not None):
            await asyncio.sleep(0.0005)
        forms = []
        for _ in range(opens):
            await pilot.pause()
            t = time.perf_counter()
            app._driver.send_message(events.Key("o", "o"))
            while not (isinstance(app.screen, OverrideForm) and app.screen.query("#reason")):
                await asyncio.sleep(0.0005)
            forms.append(await next_frame_after(time.perf_counter()) - t)
            await pilot.pause()
            await pilot.press("escape")
            while not isinstance(app.screen, CallScreen):
                await asyncio.sleep(0.001)
    return first_paint, latencies, forms


def _capture(session: str) -> str:
    return subprocess.run(["tmux", "capture-pane", "-t", session, "-p"], capture_output=True, text=True).stdout


def _wait_for(session: str, text: str, timeout: float = 30.0, gone: bool = False) -> float:
    """When ``text`` shows in the pane (with ``gone``: when it no longer does)."""
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        if (text in _capture(session)) != gone:
            return time.perf_counter()
        time.sleep(0.01)
    raise TimeoutError(f"{text!r} did not {'go' if gone else 'appear'} in {timeout:.0f} s")


def in_tmux(db: str, opens: int, ids: list[int], total: int) -> tuple[float, list[float], list[float]]:
    session = f"callqa-bench-{os.getpid()}"
    env = f"TERM=xterm-256color CALLQA_PLAYER=none {sys.executable} -m callqa.cli tui --db '{db}' --reviewer bench"
    start = time.perf_counter()
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "120", "-y", "40", env], check=True)
    try:
        first_paint = _wait_for(session, f"of {total:,}") - start
        latencies = []
        for i in range(opens):
            t = time.perf_counter()
            subprocess.run(["tmux", "send-keys", "-t", session, "Enter"], check=True)
            latencies.append(_wait_for(session, f"#{ids[i]} ") - t)
            subprocess.run(["tmux", "send-keys", "-t", session, "Escape"], check=True)
            _wait_for(session, f"of {total:,}")
            subprocess.run(["tmux", "send-keys", "-t", session, "Down"], check=True)
            time.sleep(0.05)
        subprocess.run(["tmux", "send-keys", "-t", session, "Enter"], check=True)
        _wait_for(session, f"#{ids[opens]} ")
        forms = []
        for _ in range(opens):
            t = time.perf_counter()
            subprocess.run(["tmux", "send-keys", "-t", session, "o"], check=True)
            forms.append(_wait_for(session, "Override a section score") - t)
            subprocess.run(["tmux", "send-keys", "-t", session, "Escape"], check=True)
            _wait_for(session, "Override a section score", gone=True)
            time.sleep(0.05)
        return first_paint, latencies, forms
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)


def summary(label: str, values: list[float]) -> None:
    values = sorted(values)
    p90 = values[min(len(values) - 1, int(0.9 * len(values)))]
    print(f"  {label:<44} median {ms(statistics.median(values))}   p90 {ms(p90)}   max {ms(values[-1])}"
          f"   (n={len(values)})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="database URL (default: a new SQLite file in a temporary folder)")
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--opens", type=int, default=20, help="calls to open, one after another")
    parser.add_argument("--no-fill", action="store_true", help="use the database as it is")
    parser.add_argument("--no-tmux", action="store_true", help="skip the real-terminal run")
    args = parser.parse_args()

    from sqlalchemy.orm import Session

    from callqa import storage
    from callqa.services import agreement, review

    tmp = None
    if args.db is None:
        tmp = tempfile.TemporaryDirectory(prefix="callqa-tui-bench-")
        args.db = f"sqlite:///{Path(tmp.name) / 'bench.db'}"
    engine = storage.connect(args.db)
    storage.migrate(engine)
    if not args.no_fill:
        seconds = _filler()(engine, args.calls, 50, 10, 4)
        print(f"filled {args.calls:,} calls (10 segments, 4 flags, 5 sections each) in {seconds:.1f} s")
    with Session(engine) as session:
        total = storage.count_calls(session)
        ids = [c.id for c in storage.list_calls(session, limit=args.opens + 1)]
        print(f"database: {storage.safe_url(args.db)}, {total:,} calls")
        print("queries behind the screens (first run, warm file cache):")
        no_filter = review.CallFilters()
        for label, fn in (("calls screen: first page + count", lambda: review.calls_page(session, no_filter)),
                          ("review queue (window 5,000 unreviewed)", lambda: review.review_queue(session)),
                          ("agents: averages + 12-week trends", lambda: review.agent_overviews(session)),
                          ("agreement, anchored (reviewed calls only)", lambda: agreement.anchored(session)),
                          ("open a call: get_call", lambda: storage.get_call(session, ids[0]))):
            t = time.perf_counter()
            fn()
            print(f"  {label:<44} {ms(time.perf_counter() - t)}")
    engine.dispose()

    print("in process (Textual headless driver):")
    first, opens, forms = asyncio.run(in_process(args.db, args.opens))
    print(f"  {'app start → first page of calls drawn':<44} {ms(first)}   (target < 1 s)")
    summary("Enter → call screen drawn", opens)
    print(f"  {'o → override form drawn, first time':<44} {ms(forms[0])}   (target < 200 ms)")
    summary("o → override form drawn", forms)

    if not args.no_tmux and shutil.which("tmux"):
        print("real terminal (tmux 120×40, python -m callqa.cli tui):")
        first, opens, forms = in_tmux(args.db, args.opens, ids, total)
        print(f"  {'command → first page on screen (incl. imports)':<44} {ms(first)}   (target < 1 s)")
        summary("send-keys Enter → call on screen", opens)
        print(f"  {'send-keys o → override form, first time':<44} {ms(forms[0])}   (target < 200 ms)")
        summary("send-keys o → override form on screen", forms)
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
