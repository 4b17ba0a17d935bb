"""Golden calls (``callqa rubric test --golden DIR``): every transcript in DIR (.json, .txt, .vtt,
.srt) that has a sidecar ``NAME.expect.yaml`` is scored and checked against it::

    score: [70, 100]            # inclusive band for the overall score (or {min: 70, max: 100})
    sections: {hold: null, empathy: [80, 100]}   # null: the section must be N/A
    critical_failed: []         # exactly these critical criteria fail
    flags:
      present: [greeting.opening, "negative_phrasing.dont_know:negative"]
      absent: [negative_phrasing.bare_no]

A flag is named by its criterion id, optionally ":positive" or ":negative". A key left out is not
checked; a sidecar that does not fit :class:`Expect` (an unknown key, a wrong type, a YAML syntax
error) fails its call with the file, line and key.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Discriminator, Field, StrictFloat, Tag, ValidationError

from callqa.errors import CallQAError
from callqa.importers import is_transcript_file, load_transcript
from callqa.scoring import score_transcript

from .loader import RubricIssue, _field, _line_map, _locate
from .schema import Rubric


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Range(_Closed):
    """A band written as a mapping; a missing end is 0 or 100."""
    min: StrictFloat = 0
    max: StrictFloat = 100


Band = Annotated[Annotated[list[StrictFloat], Field(min_length=2, max_length=2), Tag("pair")]
                 | Annotated[Range, Tag("range")],
                 Discriminator(lambda v: "range" if isinstance(v, dict) else "pair")] | None


class Flags(_Closed):
    present: list[str] = []
    absent: list[str] = []


class Expect(_Closed):
    """A ``NAME.expect.yaml`` sidecar."""
    score: Band = None
    sections: dict[str, Band] | None = None
    critical_failed: list[str] | None = None
    flags: Flags | None = None


def _message(err: Any) -> str:
    if err["type"] != "extra_forbidden":
        return str(err["msg"]).split(" or instance of ")[0]  # not pydantic's class names
    loc = err["loc"]  # (key,), ("flags", key) or (..., "range", key)
    keys = list((Expect if len(loc) == 1 else Flags if loc[0] == "flags" else Range).model_fields)
    close = difflib.get_close_matches(str(loc[-1]), keys, n=1)
    return "unknown key" + (f"; did you mean {close[0]!r}?" if close else ";") + " valid keys: " + ", ".join(keys)


def _read_expect(sidecar: Path) -> tuple[dict[str, Any] | None, list[str]]:
    """(the sidecar's mapping, None when it is unusable; its problems, each with file, line and key)."""
    text, file = sidecar.read_text(encoding="utf-8"), str(sidecar)
    try:
        data, root = yaml.safe_load(text), yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        return None, [str(RubricIssue(file, mark.line + 1 if mark else None, "",
                                      f"YAML syntax error: {getattr(exc, 'problem', exc)}"))]
    if data is None:
        return {}, []
    if not isinstance(data, dict):
        return None, [str(RubricIssue(file, root.start_mark.line + 1, "",
                                      "an expect file is a mapping of " + ", ".join(Expect.model_fields)))]
    try:
        Expect.model_validate(data)
    except ValidationError as exc:
        lines, issues = _line_map(root), []
        for err in exc.errors():
            line, shown = _locate(lines, tuple(err["loc"]))
            issues.append(RubricIssue(file, line, _field(shown), _message(err)))
        return None, [str(i) for i in sorted(issues, key=lambda i: i.line or 0)]
    return data, []


def _band(value: float | None, band: Any) -> bool:
    if band is None:
        return value is None
    lo, hi = band if isinstance(band, (list, tuple)) else (band.get("min", 0), band.get("max", 100))
    return value is not None and lo <= value <= hi


def check_golden(rubric: Rubric, folder: Path) -> tuple[int, list[str]]:
    """(golden calls checked, what went wrong) for a folder of transcripts with sidecars."""
    if not folder.is_dir():
        raise CallQAError(f"{folder}: no such folder")
    problems, n = [], 0
    for path in sorted(folder.iterdir()):
        sidecar = path.with_name(path.stem + ".expect.yaml")
        if not is_transcript_file(path) or not sidecar.is_file():
            continue
        n += 1
        expect, invalid = _read_expect(sidecar)
        if expect is None:
            problems += invalid
            continue
        result = score_transcript(load_transcript(path), rubric)
        name = path.name
        if "score" in expect and not _band(result.score, expect["score"]):
            problems.append(f"{name}: score {result.score} outside {expect['score']}")
        for sec, band in (expect.get("sections") or {}).items():
            if not _band(result.sections.get(sec), band):
                problems.append(f"{name}: section {sec} scored {result.sections.get(sec)}, expected {band}")
        if "critical_failed" in expect and sorted(expect["critical_failed"] or []) != sorted(result.critical_failed):
            problems.append(f"{name}: critical failures {list(result.critical_failed)}, expected {expect['critical_failed']}")
        got = {(f.criterion, f.polarity) for f in result.flags}
        flags = expect.get("flags") or {}
        for want, present in [(w, True) for w in flags.get("present", [])] + [(w, False) for w in flags.get("absent", [])]:
            cid, _, pol = str(want).partition(":")
            seen = any(c == cid and (not pol or p == pol) for c, p in got)
            if seen != present:
                problems.append(f"{name}: flag {want} {'missing' if present else 'present'}")
    return n, problems
