"""Labelled utterance files: the CSV that ``rubric calibrate`` measures a rubric on and that a
trained semantic check (``schema.Training``) learns from.

A labelled utterance file is CSV with a header:

- ``text``: one utterance (scored as a one-turn call by ``speaker``, default the agent);
- ``labels``: what it shows, ``;``-separated: criterion ids (``empathy.apology``) or categories
  (``apology``); empty when it shows none. ``X:positive`` / ``X:negative`` name a flag polarity
  and take the id's prefix as the category (the form of the older sets). Another column of the
  same form can be read instead (``column``): the packaged sets carry ``agreed``, the labels
  most of their independent labellers gave;
- optional ``split`` (``tune`` or ``heldout``), ``speaker``, ``note``, ``source``.
  (The older form with ``category`` and ``polarity`` columns is read too.)

It imports nothing from rubric/, so the schema can read a training file without reaching the
engine (``calibrate`` imports the engine).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from callqa.errors import CallQAError


@dataclass(frozen=True)
class Row:
    text: str
    labels: frozenset[str]
    split: str = ""
    speaker: str = "agent"
    note: str = ""


def read_labelled(path: Path, column: str = "labels") -> list[Row]:
    """The rows of a labelled file, their labels read from ``column``."""
    try:
        fh = path.open(newline="", encoding="utf-8")
    except OSError as exc:
        raise CallQAError(f"{path}: cannot read the labelled file: {exc.strerror or exc}") from None
    rows = []
    with fh:
        reader = csv.DictReader(fh)
        cols = set(reader.fieldnames or ())
        if "text" not in cols or not ({column} <= cols or (column == "labels" and {"category", "polarity"} <= cols)):
            raise CallQAError(f"{path}: a labelled file is CSV with columns 'text' and {column!r} "
                              f"(optional 'split', 'speaker', 'note'); found: {', '.join(sorted(cols)) or 'none'}")
        for n, rec in enumerate(reader, start=2):
            if column in cols:
                labels = [x.strip() for x in (rec.get(column) or "").split(";") if x.strip()]
            else:
                cats = [c for c in (rec.get("category") or "").split(";") if c]
                pols = [p for p in (rec.get("polarity") or "").split(";") if p]
                if len(cats) != len(pols):
                    raise CallQAError(f"{path}:{n}: categories and polarities differ in number")
                labels = [f"{c}:{p}" for c, p in zip(cats, pols)]
            speaker = (rec.get("speaker") or "agent").strip()
            if speaker not in ("agent", "customer"):
                raise CallQAError(f"{path}:{n}: speaker must be agent or customer, not {speaker!r}")
            rows.append(Row(rec["text"] or "", frozenset(labels), (rec.get("split") or "").strip(), speaker,
                            rec.get("note") or ""))
    return rows
