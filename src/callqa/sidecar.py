"""Which agent took a call, and when: from a sidecar file, a file-name pattern, or one name for all.

Sidecars: a ``calls.csv`` (columns ``file,agent,date``; more are ignored) or ``calls.json``
(a list of ``{"file", "agent", "date"}``) in the recording's folder or any folder above it,
up to the folder the batch was started on (for a file named on its own, its folder; without
roots, up to a git checkout's top). File names in a sidecar are relative to it.
Pattern: e.g. ``{agent}_{date}_{id}`` matched against the file name without its suffix, or
``{agent}_{date}_{id}.wav`` against the whole name;
``{date}`` is YYYY-MM-DD or YYYYMMDD; ``{id}`` and ``{*}`` match anything.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timezone
from functools import lru_cache
from pathlib import Path

from callqa.errors import CallQAError
from callqa.records import UNASSIGNED

SIDECAR_NAMES = ("calls.csv", "calls.json")


@dataclass(frozen=True)
class CallInfo:
    agent: str
    call_date: date
    source: str  # "sidecar" | "pattern" | "option" | "stored" (kept from the database) | "none"

    @property
    def spoken_name(self) -> str | None:
        """The agent's name as the agent says it ("alice" -> "Alice", "mary-jane" -> "Mary-Jane"), or
        None for an id nobody says ("E1234", "a.smith", "team_b", no agent)."""
        name = self.agent.strip()
        if self.agent == UNASSIGNED or not _SPOKEN_NAME.fullmatch(name):
            return None
        return name if any(c.isupper() for c in name) else name.title()


#: A name someone would say: letters, with spaces, hyphens or apostrophes between them.
_SPOKEN_NAME = re.compile(r"[^\W\d_]+(?:[ '-][^\W\d_]+)*")


class AgentMapper:
    def __init__(self, pattern: str | None = None, agent: str | None = None,
                 roots: Iterable[str | Path] | None = None) -> None:
        """``roots``: the files and folders the batch was started on; no sidecar above them is read."""
        self._agent = agent
        self._pattern = compile_pattern(pattern) if pattern else None
        self._roots = None if roots is None else [
            Path(r).resolve() if Path(r).is_dir() else Path(r).resolve().parent for r in roots]
        self._root_of: dict[Path, Path] = {}

    def _root(self, path: Path) -> Path | None:
        """The deepest folder the batch was started on that holds ``path`` (the same for every
        file of a folder: found once per folder)."""
        if self._roots is None:
            return None
        folder = path.parent
        if folder not in self._root_of:
            self._root_of[folder] = max((r for r in self._roots if folder.is_relative_to(r)),
                                        key=lambda r: len(r.parts), default=folder)
        return self._root_of[folder]

    def lookup(self, path: Path) -> CallInfo:
        fallback_date = datetime.fromtimestamp(path.stat().st_mtime, tz=timezone.utc).date()
        resolved = path.resolve()
        row = _sidecar_row(resolved, self._root(resolved))
        if self._agent:  # --agent wins for the agent; a sidecar can still give the date
            return CallInfo(self._agent, (row or {}).get("date") or fallback_date, "option")
        if row and row.get("agent"):
            return CallInfo(row["agent"], row.get("date") or fallback_date, "sidecar")
        # the pattern may name the suffix ("{agent}_{date}_{id}.wav") or leave it out
        if self._pattern and (m := self._pattern.fullmatch(path.stem) or self._pattern.fullmatch(path.name)):
            found = m.groupdict()
            return CallInfo(found["agent"], _parse_date(found.get("date"), path) or fallback_date, "pattern")
        return CallInfo(UNASSIGNED, fallback_date, "none")


def compile_pattern(pattern: str) -> re.Pattern[str]:
    parts = re.split(r"(\{\w+\}|\{\*\})", pattern)
    if "{agent}" not in parts:
        raise CallQAError(f"file-name pattern {pattern!r} has no {{agent}} field")
    for field in ("{agent}", "{date}"):
        if parts.count(field) > 1:
            raise CallQAError(f"file-name pattern {pattern!r} names {field} {parts.count(field)} times; "
                              "name it once (other parts can be {*} or {id})")
    regex = ""
    for part in parts:
        if part == "{agent}":
            regex += r"(?P<agent>.+?)"
        elif part == "{date}":
            regex += r"(?P<date>\d{4}-?\d{2}-?\d{2})"
        elif part.startswith("{"):
            regex += ".+?"
        else:
            regex += re.escape(part)
    return re.compile(regex)


def _parse_date(text: str | None, where: Path) -> date | None:
    if not text:
        return None
    if not isinstance(text, str):  # calls.json: a number or a list
        raise CallQAError(f"{where}: cannot read the date {text!r}; use YYYY-MM-DD")
    for fmt in ("%Y-%m-%d", "%Y%m%d", "%Y-%m-%dT%H:%M:%S", "%d/%m/%Y"):
        try:
            return datetime.strptime(text.strip(), fmt).date()
        except ValueError:
            continue
    raise CallQAError(f"{where}: cannot read the date {text!r}; use YYYY-MM-DD")


def _sidecar_row(path: Path, root: Path | None) -> dict | None:
    for folder in _folders_up(path.parent, root):
        for name in SIDECAR_NAMES:
            table = _load_sidecar(folder / name)
            if table is not None:
                rel = path.relative_to(folder).as_posix()
                if rel in table:  # its date read here: a bad one fails this file, not the folder
                    return {"agent": table[rel]["agent"], "date": _parse_date(table[rel]["date"], folder / name)}
    return None


@lru_cache(maxsize=256)
def _folders_up(start: Path, root: Path | None) -> tuple[Path, ...]:
    """The folders whose sidecars may name a file in ``start``, nearest first: up to ``root`` or the
    top of a repository (found once per folder, not once per file)."""
    chain = []
    for folder in (start, *start.parents):
        chain.append(folder)
        if folder == root or (folder / ".git").exists():
            break
    return tuple(chain)


@lru_cache(maxsize=256)
def _load_sidecar(path: Path) -> dict[str, dict] | None:
    if not path.is_file():
        return None
    try:
        if path.suffix == ".csv":
            with open(path, newline="", encoding="utf-8-sig") as fh:
                rows = list(csv.DictReader(fh))
        else:
            rows = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, csv.Error) as exc:
        raise CallQAError(f"{path}: cannot read the sidecar ({exc})") from exc
    except RecursionError:
        raise CallQAError(f"{path}: cannot read the sidecar (JSON nested too deeply); it is a list of "
                          '{"file", "agent", "date"} objects') from None
    table = {}
    for i, row in enumerate(rows, 2):
        if not isinstance(row, dict) or not row.get("file"):
            raise CallQAError(f"{path}: row {i} has no 'file'; columns are file,agent,date")
        table[Path(row["file"]).as_posix()] = {
            "agent": (row.get("agent") or "").strip() or None,
            "date": row.get("date"),  # read when the file's row is used (_sidecar_row)
        }
    return table
