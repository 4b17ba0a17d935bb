"""Throughput of rubric scoring: synthetic 40-turn calls scored per second, and peak memory.

    python benchmarks/score.py [--calls 1000] [--turns 40] [--rubric FILE] [--seed 0]
                               [--passes 3] [--workers N]

Calls are generated from templates with random names, amounts, dates and fillers (about
5,600 distinct utterances in 40,000); the engine keeps nothing per utterance across calls,
so a repeated utterance costs what a new one does. The spaCy model is loaded, and the rubric
compiled, before the clock starts; they are reported apart.

The machine is a shared VM whose speed varies by ±20 % from minute to minute: the calls are
scored ``--passes`` times and every pass is printed, with the median. Then the same number of
calls is scored by ``--workers`` processes at once (default: every core), as ``callqa score
FOLDER`` does: each loads the model and rubric, generates its share, and waits for the others
before its clock starts.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import resource
import statistics
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from callqa.rubric.matchers import get_nlp  # noqa: E402
from callqa.rubric.context import STATS  # noqa: E402
from callqa.rubric.engine import engine_for  # noqa: E402
from callqa.rubric.loader import load_rubric  # noqa: E402
from callqa.scoring import score_transcript  # noqa: E402
from callqa.transcript import Segment, Transcript  # noqa: E402

NAMES = ["Harper", "Price", "Chen", "Ortiz", "Lee", "Singh", "Novak", "Okafor", "Rossi", "Brown"]
FIRST = ["David", "Helen", "Maria", "Tom", "Aisha", "Ravi", "Anna", "Chidi", "Luca", "Emma"]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]
FILL = ["", "", "", "um, ", "so, ", "okay, ", "right, ", "uh "]

AGENT = [
    "Good morning, thank you for calling Northwind Energy, my name is {first}. How can I help?",
    "Can I take the first line of your address and the postcode, please?",
    "Thank you, {hon} {name}. I can see the account now.",
    "I can see a payment of {amount} dollars on the {day_n} of the month.",
    "I'm sorry to hear that, I understand how frustrating that must be.",
    "Can you tell me when you first noticed the charge on your statement?",
    "Would you mind if I put you on a short hold while I check with billing?",
    "Thank you for holding, {hon} {name}.",
    "It looks like the reading on {day} was estimated, which is why the bill went up.",
    "I'll raise a meter reading request and the engineer will call you before {day}.",
    "I don't know why the system did that, to be honest.",
    "No, we can't change the tariff this month.",
    "What I can do is move you to the fixed plan from your next bill.",
    "The standing charge is {amount} pence a day on that plan.",
    "You'll receive a confirmation email within {n} business days.",
    "So, just to recap: the refund of {amount} dollars is on its way and you'll see it by {day}.",
    "Is there anything else I can help you with today?",
    "Let me take care of that for you right now.",
    "Your contract ends in March and there's no charge to leave after that.",
    "We're really short-staffed today, so it might take a while.",
    "No problem at all, {first}.",
    "The direct debit is set for the {day_n} of each month.",
    "I've updated the phone number on your account.",
    "Thanks for being with Northwind for so long, {hon} {name}.",
    "Okay, let me just pull that up.",
    "You can find the tariff sheet on our website.",
    "Have a lovely day, {first}, goodbye.",
]
#: --parse-heavy: wordings only the spaCy parse decides (negations the phrases do not spell out)
HARD = [
    "Honestly, that's something we really don't know yet.",
    "We definitely can't backdate the reading to {day}.",
    "No, that one's not going to work for you, {first}.",
]
CUSTOMER = [
    "Hi, I'm calling about my bill, it's much higher than usual.",
    "It's {first} {name}, {n} Maple Grove.",
    "Yes, that's fine.",
    "I think you took my payment twice this month.",
    "This is the third time I've called about it, it's ridiculous.",
    "Okay.",
    "When will I get the money back?",
    "I noticed it on {day}, when I checked my bank.",
    "Can you put me on the cheaper plan?",
    "Mm-hmm.",
    "No, that's everything, thank you.",
    "That's great, thanks for sorting it out.",
    "I moved house last month, is that a problem?",
    "The reading is {amount} {n} {n}.",
    "Sure, go ahead.",
    "I'm not happy about this at all.",
]


def synthetic_call(rng: random.Random, turns: int, idx: int, agent_pool: list[str] = AGENT) -> Transcript:
    segs, t = [], 0.0
    for k in range(turns):
        speaker = "agent" if k % 2 == 0 else "customer"
        pool = agent_pool if speaker == "agent" else CUSTOMER
        tmpl = AGENT[0] if k == 0 else pool[rng.randrange(len(pool))]
        text = rng.choice(FILL) + tmpl.format(
            first=rng.choice(FIRST), name=rng.choice(NAMES), hon=rng.choice(["Mr.", "Mrs.", "Ms."]),
            amount=rng.randint(10, 400), n=rng.randint(2, 60), day=rng.choice(DAYS),
            day_n=rng.choice(["second", "third", "tenth", "fifteenth"]))
        dur = 0.35 * len(text.split()) + rng.uniform(0, 1)
        start = t + rng.uniform(-0.8, 1.5)  # some overlap, some gaps
        if rng.random() < 0.03:
            start += rng.uniform(10, 60)  # an occasional hold
        start = max(0.0, start)
        segs.append(Segment(speaker, round(start, 2), round(start + dur, 2), text))
        t = start + dur
    segs.sort(key=lambda s: (s.start, s.end))
    return Transcript(f"synthetic-{idx}.json", round(t, 2), "synthetic", "", tuple(segs), roles="labels")


def _score_share(args: argparse.Namespace, worker: int, workers: int, barrier: Any, out: Any) -> None:
    """One worker process: its share of the calls, timed from when every worker is ready."""
    get_nlp()
    rubric = load_rubric(args.rubric)
    engine_for(rubric)
    rng = random.Random(args.seed * 1000 + worker)
    pool = AGENT + HARD if args.parse_heavy else AGENT
    calls = [synthetic_call(rng, args.turns, i, pool) for i in range(worker, args.calls, workers)]
    barrier.wait()
    t0 = time.perf_counter()
    for call in calls:
        score_transcript(call, rubric)
    out.put((len(calls), t0, time.perf_counter()))


def score_in_parallel(args: argparse.Namespace, workers: int) -> tuple[int, float]:
    """Calls scored and wall seconds with ``workers`` processes scoring at once."""
    ctx = multiprocessing.get_context("spawn")  # as the batch's process pool starts its workers
    barrier, out = ctx.Barrier(workers), ctx.Queue()
    procs = [ctx.Process(target=_score_share, args=(args, w, workers, barrier, out)) for w in range(workers)]
    for p in procs:
        p.start()
    results = [out.get() for _ in procs]
    for p in procs:
        p.join()
    return sum(n for n, _, _ in results), max(e for _, _, e in results) - min(s for _, s, _ in results)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--calls", type=int, default=1000)
    ap.add_argument("--turns", type=int, default=40)
    ap.add_argument("--rubric", type=Path)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--passes", type=int, default=3, help="timed passes over the calls (median reported)")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                    help="processes for the parallel figure (default: every core; 1 skips it)")
    ap.add_argument("--parse-heavy", action="store_true",
                    help="add agent wordings that need the spaCy parse (about 1 agent turn in 10)")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    pool = AGENT + HARD if args.parse_heavy else AGENT
    calls = [synthetic_call(rng, args.turns, i, pool) for i in range(args.calls)]

    t0 = time.perf_counter()
    get_nlp()
    t1 = time.perf_counter()
    rubric = load_rubric(args.rubric)
    engine_for(rubric)
    t2 = time.perf_counter()
    print(f"spaCy model load {t1 - t0:.2f} s, rubric load + compile {t2 - t1:.2f} s")
    rates = []
    for n in range(args.passes):
        flags = 0
        STATS.clear()
        t4, c4 = time.perf_counter(), time.process_time()
        for call in calls:
            flags += len(score_transcript(call, rubric).flags)
        t5, c5 = time.perf_counter(), time.process_time()
        rates.append(args.calls / (t5 - t4))
        print(f"pass {n + 1}: {args.calls} calls x {args.turns} turns: {t5 - t4:.2f} s, {rates[-1]:.0f} calls/s "
              f"({args.calls / (c5 - c4):.0f} per CPU-second), {flags / args.calls:.1f} flags/call, "
              f"{STATS['parsed'] / args.calls:.2f} segments parsed by spaCy/call")
    print(f"one process: median {statistics.median(rates):.0f} calls/s over {args.passes} passes "
          f"(range {min(rates):.0f}–{max(rates):.0f})")
    # memory: a pass under tracemalloc (which slows Python down, so it is not timed)
    tracemalloc.start()
    for call in calls:
        score_transcript(call, rubric)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory: {peak / 2**20:.1f} MiB traced while scoring; process peak RSS {rss:.0f} MiB "
          f"(Python + spaCy model + the {args.calls} transcripts)")
    if args.workers > 1:
        n, wall = score_in_parallel(args, args.workers)
        print(f"{args.workers} processes at once: {n} calls in {wall:.2f} s, {n / wall:.0f} calls/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
