"""Word confidence: how often a word Whisper gives probability p is misheard, and the sample calls'
scores with uncertain flags counted and not.

    python benchmarks/word_confidence.py [--no-aws] [--no-scores]

Each bundled sample recording (reference: the script it was synthesized from,
samples/reference/) is transcribed with the default settings (faster-whisper tiny.en, through the
transcript cache: each file is decoded once per machine); its words are aligned with the script's
(jiwer, lower case without punctuation) and every recognised word is
counted right (equal) or misheard (substituted or inserted) in its probability bin. Each speaker's
words are aligned with that speaker's lines (where they overlap, the two interleave in time), so a
word given to the wrong speaker of a mono call counts as misheard too. The real
8 kHz call ../shared/data/aws-call-49 has no script: its tiny.en words are aligned against base's
transcript (beam 5) instead, a weaker reference (base errs too), printed apart.
Then each sample call is scored from its script and from tiny.en's transcript, with
``uncertain-flags-count`` off (the default) and on. Last, the sample recordings and aws-call-49 are
scored into a throwaway database and every agent's coaching report is built: each quoted example
(things to work on, strengths) is checked word by word against the alignment above (a quoted word
that was misheard is counted), and so is each flag listed apart as unsure.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import wave
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

SAMPLES = REPO / "recordings_sample"
REFERENCES = REPO / "samples" / "reference"
AWS = REPO.parent / "shared" / "data" / "aws-call-49"
BINS = (0.0, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.01)


def norm(word: str) -> str:
    return re.sub(r"[^a-z0-9']+", "", word.lower().replace("-", ""))


def timed_words(transcript) -> list:
    """The recognised words that have text once normalised, in time order."""
    words = sorted((w for s in transcript.segments for w in s.words), key=lambda w: (w.start, w.end))
    return [w for w in words if norm(w.text)]


def judged(reference: list[str], hyp: list[tuple[str, float]]) -> list[tuple[float, bool]]:
    """(probability, misheard) per recognised word: aligned equal is right; substituted or
    inserted is misheard."""
    import jiwer

    out = jiwer.process_words(" ".join(reference), " ".join(w for w, _ in hyp))
    wrong = [False] * len(hyp)
    for chunk in out.alignments[0]:
        if chunk.type in ("substitute", "insert"):
            for j in range(chunk.hyp_start_idx, chunk.hyp_end_idx):
                wrong[j] = True
    return [(p, bad) for (_, p), bad in zip(hyp, wrong)]


def judged_by_speaker(reference, transcript) -> list[tuple[float, bool]]:
    """``judged`` per speaker (agent's words against the reference's agent turns, customer's
    against the customer's: overlapping speech interleaves the two in time), in the order of
    ``timed_words(transcript)``."""
    words = timed_words(transcript)
    speaker_of = {id(w): s.speaker for s in transcript.segments for w in s.words}
    out: dict[int, tuple[float, bool]] = {}
    for speaker in ("agent", "customer"):
        ref = [norm(w) for s in reference.segments if s.speaker == speaker for w in s.text.split() if norm(w)]
        mine = [w for w in words if speaker_of[id(w)] == speaker]
        for w, row in zip(mine, judged(ref, [(norm(w.text), w.probability) for w in mine])):
            out[id(w)] = row
    return [out[id(w)] for w in words]


def curve(rows: list[tuple[float, bool]], title: str) -> None:
    print(f"\n{title}: {len(rows)} words, {sum(b for _, b in rows)} misheard")
    print(f"{'probability':>13} {'n':>6} {'misheard':>9} {'share':>6}   {'below (cum.)':>13}")
    for lo, hi in zip(BINS, BINS[1:]):
        inbin = [b for p, b in rows if lo <= p < hi]
        below = [b for p, b in rows if p < hi]
        share = sum(inbin) / len(inbin) if inbin else float("nan")
        cum = sum(below) / len(below) if below else float("nan")
        print(f"{lo:5.2f}-{min(hi, 1):4.2f} {len(inbin):6d} {sum(inbin):9d} {share:6.2f}   "
              f"{cum:6.2f} of {len(below):<5d}")


def aws_stereo(folder: str) -> Path:
    import numpy as np

    from callqa.audio import decode

    agent, caller = (decode(AWS / f"{n}.wav").channels[0] for n in ("agent", "caller"))
    n = min(len(agent), len(caller))
    pcm = (np.clip(np.stack([agent[:n], caller[:n]], axis=1), -1, 1) * 32767).astype("<i2")
    path = Path(folder) / "aws-call-49.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(16000)  # as benchmarks/calls.py writes it: the same bytes, one cache entry
        w.writeframes(pcm.tobytes())
    return path


def main() -> None:
    from callqa.records import UNCERTAIN_BELOW
    from callqa.transcribe import TranscribeSettings, transcribe_file
    from callqa.transcript import Transcript

    parser = argparse.ArgumentParser()
    parser.add_argument("--no-aws", action="store_true")
    parser.add_argument("--no-scores", action="store_true")
    args = parser.parse_args()
    tiny = TranscribeSettings()
    samples = []
    for ref in sorted(REFERENCES.glob("*.json")):
        audio = next((p for p in SAMPLES.glob(ref.stem + ".*") if p.suffix not in (".json", ".csv")), None)
        if audio:
            script = Transcript.from_dict(json.loads(ref.read_text()), file=str(audio))
            samples.append((audio, script, transcribe_file(audio, tiny)))
    rows = []
    misheard: dict[str, list[tuple[float, bool]]] = {}  # file stem → per timed word
    for audio, script, heard in samples:
        misheard[audio.stem] = judged_by_speaker(script, heard)
        rows += misheard[audio.stem]
    curve(rows, f"{len(samples)} sample calls, tiny.en against the scripts")
    tmp = tempfile.TemporaryDirectory()
    aws_path = None
    if not args.no_aws and AWS.exists():
        aws_path = aws_stereo(tmp.name)
        small = transcribe_file(aws_path, tiny)
        base = transcribe_file(aws_path, TranscribeSettings(model="base"))
        aws = misheard[aws_path.stem] = judged_by_speaker(base, small)
        curve(aws, "aws-call-49 (real, 8 kHz), tiny.en against base's transcript (no script)")
        curve(rows + aws, "both, pooled")
    print(f"\ncut-off in use (callqa.records.UNCERTAIN_BELOW): {UNCERTAIN_BELOW}")
    if not args.no_scores:
        scores(samples)
        quotes(samples, aws_path, misheard, tmp.name)
    tmp.cleanup()


def scores(samples) -> None:
    from callqa.scoring import default_rubric, score_transcript

    rubric = default_rubric()
    print("\nScores: from the script; from tiny.en's transcript with uncertain faults not counted (the "
          "default) and counted (as before)")
    print(f"{'call':32} {'script':>7} {'tiny.en':>8} {'counted':>8} {'uncertain flags (neg)':>22}")
    for audio, script, heard in samples:
        s_script = score_transcript(script, rubric)
        s_off = score_transcript(heard, rubric)
        s_on = score_transcript(heard, rubric, uncertain_count=True)
        unsure = [f for f in s_off.flags if f.uncertain]
        neg = sum(f.polarity == "negative" for f in unsure)
        print(f"{audio.stem:32} {s_script.score:7.1f} {s_off.score:8.1f} {s_on.score:8.1f} "
              f"{len(unsure):15d} ({neg})")


def quotes(samples, aws_path, misheard, tmp: str) -> None:
    """Every coaching report's quotes, checked against the alignment (see the module doc)."""
    from callqa import services
    from callqa.services.reports import build_report
    from callqa.transcribe import TranscribeSettings, transcribe_file
    from callqa.workspace import Workspace

    ws = Workspace(db=f"sqlite:///{tmp}/quotes.db")
    services.score_paths([SAMPLES], ws)
    heard = {audio.stem: h for audio, _, h in samples}
    if aws_path is not None:
        services.score_paths([aws_path], ws, agent="aws")
        heard[aws_path.stem] = transcribe_file(aws_path, TranscribeSettings())

    def check(quote, whole: bool = False) -> list[str]:
        """The quoted words that were misheard (by the alignment): the flagged words (``match``),
        or with ``whole`` every word the quote shows (the sentence around them, or the turn),
        found as the same run of the quote's speaker's words nearest the quote's time."""
        stem = Path(quote.file).stem
        speaker_of = {id(w): s.speaker for s in heard[stem].segments for w in s.words}
        mine = [(w, bad) for w, (_, bad) in zip(timed_words(heard[stem]), misheard[stem])
                if speaker_of[id(w)] == quote.speaker]
        shown = quote.text if whole or not quote.match else quote.match
        want = [norm(x) for x in shown.split() if norm(x) and "…" not in x]  # a shortened turn ends in "…"
        key = want[:5]
        starts = [i for i in range(len(mine) - len(key) + 1)
                  if [norm(w.text) for w, _ in mine[i:i + len(key)]] == key]
        if not want or not starts:
            return ["(not found)"]
        first = min(starts, key=lambda i: abs(mine[i][0].start - quote.start))
        return [w.text for w, bad in mine[first:first + len(want)] if bad]

    n_quotes = bad_quotes = bad_shown = n_unsure = bad_unsure = 0
    print("\nCoaching reports: quoted examples checked against the alignment (a word misheard = bad)")
    with services.session_for(ws.db) as session:
        for agent in ("alice", "bob", "carmen") + (("aws",) if aws_path is not None else ()):
            report = build_report(session, agent)
            quoted = [qt for f in report.focus if not f.context for qt in f.quotes] + \
                     [s.example for s in report.strengths if s.example]
            for qt in quoted:
                wrong, shown = check(qt), check(qt, whole=True)
                n_quotes += 1
                bad_quotes += bool(wrong)
                bad_shown += bool(shown)
                mark = f"MISHEARD {wrong}" if wrong else "ok"
                print(f"  {agent:7} quote  {Path(qt.file).stem[:24]:24} {qt.timestamp:>5} "
                      f"{(qt.match or qt.text)[:40]!r:44} {qt.sureness:48} {mark}"
                      + (f"; around it misheard: {shown}" if shown else ""))
            for u in report.unsure:
                wrong = check(u.quote)
                n_unsure += 1
                bad_unsure += bool(wrong)
                print(f"  {agent:7} unsure {Path(u.quote.file).stem[:24]:24} {u.quote.timestamp:>5} "
                      f"{(u.quote.match or '')[:40]!r:44} {u.quote.sureness:48} "
                      f"{'MISHEARD ' + str(wrong) if wrong else 'heard right'}")
    print(f"quoted as said: {n_quotes}, a misheard word among the flagged words: {bad_quotes}, anywhere in what "
          f"the quote shows: {bad_shown}; listed apart as unsure: {n_unsure}, misheard: {bad_unsure}")


if __name__ == "__main__":
    main()
