"""The default rubric's precision and recall on the labelled utterances must not regress.

The floors are the figures measured when the set was last extended, minus a small margin;
``python benchmarks/precision_recall.py --errors`` shows them and the misses."""

from __future__ import annotations

import importlib.util
from collections import Counter
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "precision_recall.py"
spec = importlib.util.spec_from_file_location("precision_recall", SCRIPT)
assert spec and spec.loader
pr = importlib.util.module_from_spec(spec)
spec.loader.exec_module(pr)

# measured on 450 utterances: (precision, recall). 2026-12-02, with the semantic checks at
# threshold 0.68: empathy precision 1.00 → 0.98, ownership 0.97 → 0.93 (the encoder hears
# ownership in "I'm happy to help with that"); recall unchanged. 2026-12-03, classifiers trained
# on 1,064 utterances written blind (src/callqa/rubric/labelled) and a negative-phrasing veto:
# empathy 0.98 → 0.91 precision, ownership 0.93 → 0.81, rapport 0.98 → 0.80, resolution 0.96 →
# 0.90, negative-phrasing recall 0.99 → 0.93. Part is label convention (this set calls "what I
# can do is…" ownership, the blind sets resolution; a warm closing is closing here, rapport
# there), part is real error ("We won't be able to refund that" heard as ownership until the
# heads got excludes). The gains are on the blind held-out sets (README). 2026-12-03, the
# encoder tuned on the blind tune files (minilm-callqa): empathy precision 0.91 → 0.88,
# ownership 0.81 → 0.76 (it hears ownership in more offers to help); negative-phrasing recall
# 0.93 → 0.95, resolution 0.90 → 0.96 precision. These are the floors now, lowered on purpose;
# raise them as the errors are fixed. 2026-12-03, the negative-phrasing catch-all
# (negative_phrasing.by_meaning): negative-phrasing precision 0.98 → 0.89 ("We don't charge for
# that", "The meter doesn't need replacing": negated facts the classifier hears as refusals),
# recall 0.95 → 0.98; on the blind held-out sets its recall rose 0.61 → 0.82 (README).
# 2026-12-04, author O added, thresholds chosen again, the phrase lists read as the blind
# definitions do: this set calls a bare "thank you" / "I completely understand" rapport /
# empathy and "thanks for calling" greeting only, the definitions the other way round: empathy
# recall 0.91 → 0.86, rapport recall 1.00 → 0.86; "Sorry for the wait" is heard as an apology
# too and "Right, bear with me" as hold etiquette (hold 0.96 / 1.00 → 0.92 / 0.96); ownership
# 0.76 / 1.00 → 0.79 / 0.96, resolution recall 0.96 → 0.93, negative-phrasing precision 0.89 →
# 0.92, empathy precision 0.88 → 0.91. 2026-12-07, authors Q, S and T added and the encoder
# retrained (held out, agreed labels: ownership recall 0.69 → 0.75, rapport 0.80 → 0.84,
# resolution 0.79 → 0.82): here resolution precision 0.96 → 0.92 and recall 0.93 → 0.95 (a next
# step heard in "What I can do is move your appointment", which this set calls ownership, and in
# "Let me just go over what we've done today"), negative phrasing 0.92 / 0.98 → 0.94 / 0.96,
# empathy precision 0.91 → 0.89, rapport 0.80 → 0.79.
MEASURED = {
    "closing": (1.00, 1.00), "empathy": (0.89, 0.86), "greeting": (1.00, 1.00),
    "hold": (0.92, 0.96), "listening": (1.00, 1.00), "negative_phrasing": (0.94, 0.96),
    "ownership": (0.79, 0.96), "rapport": (0.79, 0.86), "resolution": (0.92, 0.95),
}
MARGIN = 0.03


@pytest.fixture(scope="module")
def counts() -> dict:
    return pr.measure()[0]


def test_the_set_is_large_enough() -> None:
    rows = pr.read_rows()
    assert len(rows) >= 300
    assert sum(1 for _, labels, _ in rows if not labels) >= 50  # tricky non-flags


@pytest.mark.parametrize("category", sorted(MEASURED))
def test_precision_and_recall_do_not_regress(counts: dict, category: str) -> None:
    precision, recall = pr.figures(counts[category])
    floor_p, floor_r = MEASURED[category]
    assert precision >= floor_p - MARGIN, f"{category} precision {precision:.2f}"
    assert recall >= floor_r - MARGIN, f"{category} recall {recall:.2f}"


def test_the_second_authors_set_does_not_regress() -> None:
    """160 utterances by another author who never saw the rubric; but the rules were tuned on them
    (0.90/0.72 before, 0.95/0.95 after), so this is a regression check, not a blind figure.
    2026-12-03: precision 0.95 → 0.89 with the trained classifiers, → 0.85 (recall 0.95 → 0.93) with the tuned
    encoder (see MEASURED)."""
    counts = pr.measure(path=pr.CSV.with_name("utterances_second_author_tuned.csv"))[0]
    precision, recall = pr.figures(sum(counts.values(), Counter()))
    assert precision >= 0.85 - MARGIN, f"precision {precision:.2f}"
    assert recall >= 0.93 - MARGIN, f"recall {recall:.2f}"
