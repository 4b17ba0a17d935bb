"""Read existing transcripts: callqa JSON, plain text with speaker prefixes, WebVTT and SRT.

Speaker names are mapped to roles ("Agent", "Rep", "CSR" → agent; "Customer", "Caller" →
customer). Plain text without times gets times estimated from its word count. NUL characters
(a stray byte from a broken export, or JSON's ``\\u0000``) are dropped: PostgreSQL cannot store
them, and the words around them still score.
"""

from __future__ import annotations

import json
import math
import re
import sys
from pathlib import Path

from callqa.errors import TranscriptFormatError
from callqa.transcript import AGENT, CUSTOMER, Segment, Transcript

TRANSCRIPT_SUFFIXES = frozenset({".json", ".txt", ".vtt", ".srt"})

_ROLE_NAMES = {
    AGENT: {"agent", "rep", "representative", "csr", "support", "advisor", "adviser", "operator", "staff"},
    CUSTOMER: {"customer", "caller", "client", "user", "member", "guest"},
}
#: a JSON ``\u0000`` escape (after an even run of backslashes, so not an escaped backslash + "u0000")
_JSON_NUL = re.compile(r"(?<!\\)((?:\\\\)*)\\u0000")
#: Speaking rate used to place untimed plain-text turns on a timeline.
WORDS_PER_SECOND = 2.5


def is_transcript_file(path: Path) -> bool:
    return path.suffix.lower() in TRANSCRIPT_SUFFIXES


def role_of(name: str) -> str | None:
    key = re.sub(r"[^a-z]", "", name.lower())
    for role, names in _ROLE_NAMES.items():
        if key in names:
            return role
    return None


def load_transcript(path: str | Path) -> Transcript:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise TranscriptFormatError(f"{path}: no such file") from exc
    except UnicodeDecodeError as exc:
        raise TranscriptFormatError(f"{path}: not UTF-8 text; save the transcript as UTF-8") from exc
    except OSError as exc:
        raise TranscriptFormatError(f"{path}: cannot read ({exc.strerror})") from exc
    text = text.replace("\x00", "")
    if not text.strip():
        raise TranscriptFormatError(f"{path}: the transcript is empty")
    suffix = path.suffix.lower()
    if suffix == ".json":
        return _from_json(path, text)
    if suffix in (".vtt", ".srt"):
        return _from_cues(path, text)
    return _from_plain_text(path, text)


def _from_json(path: Path, text: str) -> Transcript:
    try:
        data = json.loads(_JSON_NUL.sub(r"\1", text))
    except json.JSONDecodeError as exc:
        raise TranscriptFormatError(f"{path}:{exc.lineno}: invalid JSON ({exc.msg})") from exc
    except RecursionError:
        raise TranscriptFormatError(f"{path}: JSON nested over {sys.getrecursionlimit()} levels deep; a callqa "
                                    'transcript is an object with a "segments" list of objects') from None
    if not isinstance(data, dict) or not isinstance(data.get("segments"), list):
        raise TranscriptFormatError(f'{path}: not a callqa transcript: expected an object with a "segments" list')
    for i, seg in enumerate(data["segments"]):
        if not isinstance(seg, dict):
            raise TranscriptFormatError(f"{path}: segments[{i}] is not an object")
        role = role_of(str(seg.get("speaker", "")))
        if role is None:
            raise TranscriptFormatError(
                f"{path}: segments[{i}].speaker is {seg.get('speaker')!r}; use \"agent\" or \"customer\"")
        seg["speaker"] = role
        _refuse_odd_times(path, f"segments[{i}]", seg)
        for j, word in enumerate(seg.get("words") or ()):
            if isinstance(word, dict):
                _refuse_odd_times(path, f"segments[{i}].words[{j}]", word)
    _refuse_odd_times(path, "", data, "duration")
    try:
        return Transcript.from_dict(data, file=str(path))
    except (KeyError, TypeError, ValueError) as exc:
        raise TranscriptFormatError(f"{path}: invalid segment ({exc})") from exc


def _refuse_odd_times(path: Path, where: str, item: dict, *keys: str) -> None:
    """NaN and infinity (JSON's NaN, Infinity) are numbers to Python but no time on a call."""
    for key in keys or ("start", "end"):
        value = item.get(key)
        if isinstance(value, float) and not math.isfinite(value):
            name = f"{where}.{key}" if where else key
            raise TranscriptFormatError(f"{path}: {name} is {'NaN' if math.isnan(value) else 'infinite'}; "
                                        "times must be seconds from the start of the call")


_PREFIX = re.compile(r"^\s*(?:\[(?P<ts>[\d:.]+)\]\s*)?(?P<name>[A-Za-z][\w .'-]{0,30}?)\s*:\s*(?P<text>.*)$")


def _from_plain_text(path: Path, text: str) -> Transcript:
    """Lines like ``Agent: Hello`` or ``[00:01:05] Customer: Hi``; other lines continue the turn."""
    turns: list[tuple[float | None, str, str]] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        match = _PREFIX.match(line)
        role = role_of(match["name"]) if match else None
        if role is not None:
            ts = _seconds(match["ts"], path, lineno) if match["ts"] else None
            turns.append((ts, role, match["text"].strip()))
        elif turns:
            ts, role, prev = turns[-1]
            turns[-1] = (ts, role, f"{prev} {line.strip()}")
        else:
            raise TranscriptFormatError(
                f"{path}:{lineno}: expected a speaker prefix such as 'Agent:' or 'Customer:', got {line.strip()[:40]!r}")
    segments, clock = [], 0.0
    for i, (ts, role, words) in enumerate(turns):
        start = ts if ts is not None else clock
        length = max(len(words.split()) / WORDS_PER_SECOND, 0.5)
        next_ts = turns[i + 1][0] if i + 1 < len(turns) else None
        end = min(start + length, next_ts) if next_ts is not None and next_ts > start else start + length
        segments.append(Segment(role, start, end, words))
        clock = end + 0.3
    timed = any(ts is not None for ts, _, _ in turns)
    return _imported(path, segments, {"times": "given" if timed else "estimated"})


_STAMP = r"\d+(?::\d+){0,2}(?:[.,]\d+)?"
#: a cue's timing line: the two times whole (a broken first time was read from its last digits)
_CUE_TIME = re.compile(rf"^\s*(?P<a>{_STAMP})\s*-->\s*(?P<b>{_STAMP})(?:\s|$)")
_VOICE = re.compile(r"<v(?:\.[\w.]+)?\s+(?P<name>[^>]+)>(?P<text>.*?)(?:</v>|$)", re.S)
_BRACKET = re.compile(r"^\s*\[(?P<name>[^\]]+)\]\s*(?P<text>.*)$", re.S)
_TAGS = re.compile(r"<[^>]+>")


def _from_cues(path: Path, text: str) -> Transcript:
    """WebVTT or SRT cues whose text names the speaker: ``<v Agent>``, ``Agent:`` or ``[Agent]``."""
    segments: list[Segment] = []
    lines = text.replace("\r\n", "\n").split("\n")
    i = 0
    while i < len(lines):
        match = _CUE_TIME.search(lines[i])
        if not match:
            if "-->" in lines[i]:
                raise TranscriptFormatError(f"{path}:{i + 1}: bad cue timing {lines[i].strip()[:60]!r}; "
                                            "expected HH:MM:SS.mmm --> HH:MM:SS.mmm")
            i += 1
            continue
        lineno = i + 1
        start, end = _seconds(match["a"], path, lineno), _seconds(match["b"], path, lineno)
        body: list[str] = []
        i += 1
        while i < len(lines) and lines[i].strip():
            body.append(lines[i].strip())
            i += 1
        cue = " ".join(body)
        role, words = _speaker_of_cue(cue)
        if role is None:
            raise TranscriptFormatError(
                f"{path}:{lineno}: cue has no speaker tag; use '<v Agent>', 'Agent:' or '[Customer]'")
        if words:
            segments.append(Segment(role, start, max(end, start), words))
    if not segments:
        raise TranscriptFormatError(f"{path}: no cues with text found; is it WebVTT or SRT?")
    return _imported(path, segments, {"times": "given"})


def _speaker_of_cue(cue: str) -> tuple[str | None, str]:
    for pattern in (_VOICE, _BRACKET, _PREFIX):
        match = pattern.match(cue.strip())
        if match and role_of(match["name"]):
            return role_of(match["name"]), _TAGS.sub("", match["text"]).strip()
    return None, cue


def _seconds(stamp: str, path: Path, lineno: int) -> float:
    try:
        parts = [float(p) for p in stamp.replace(",", ".").split(":")]
    except ValueError as exc:
        raise TranscriptFormatError(f"{path}:{lineno}: bad timestamp {stamp!r}") from exc
    seconds = 0.0
    for part in parts:
        seconds = seconds * 60 + part
    return seconds


def _imported(path: Path, segments: list[Segment], extra: dict) -> Transcript:
    if not segments:
        raise TranscriptFormatError(f"{path}: no speaker turns found")
    segments.sort(key=lambda s: (s.start, s.end))
    return Transcript(file=str(path), duration=max(s.end for s in segments), engine="import", model=path.suffix[1:],
                      segments=tuple(segments), roles="labels", role_confidence=1.0, extra=extra)
