"""Load a rubric YAML file; every error names the file, the line and the field.

Line numbers come from yaml's node tree (``yaml.compose``): each path of keys/indexes maps
to the line where it is written, and a pydantic error's ``loc`` is walked down that tree.

The default rubric ships inside the package (``callqa/rubric/default.yaml``, package data,
so a non-editable install has it); ``rubrics/default.yaml`` at the repository root is a
symlink to it, for people browsing the repository and for editors (the JSON Schema sits
next to both).
"""

from __future__ import annotations

import hashlib

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from callqa.errors import CallQAError

from .schema import CHECK_TYPES, Rubric

DEFAULT_RUBRIC = Path(__file__).with_name("default.yaml")

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class RubricIssue:
    file: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


class RubricError(CallQAError):
    """A rubric file that cannot be used; ``issues`` lists each problem with its line."""

    def __init__(self, issues: list[RubricIssue]):
        self.issues = issues
        super().__init__("invalid rubric:\n  " + "\n  ".join(map(str, issues)))


#: Nodes a rubric may reach through YAML aliases beyond those written in it: the default rubric's
#: shared cue lists add ~2,000; a "billion laughs" file (aliases of aliases) adds billions.
ALIAS_NODE_BUDGET = 100_000


def _refuse_alias_bombs(root: yaml.Node, file: str) -> None:
    """Count the nodes aliases repeat (each node once, however often it is reused) and refuse
    a file whose aliases expand past the budget, before anything walks the expansion."""
    sizes: dict[int, int] = {}  # id(node) → nodes it stands for, aliases expanded
    extra = 0

    def size(node: yaml.Node) -> int:
        nonlocal extra
        if id(node) in sizes:  # an alias: its nodes count again
            extra += sizes[id(node)]
            if extra > ALIAS_NODE_BUDGET:
                raise RubricError([RubricIssue(file, node.start_mark.line + 1, "", (
                    f"YAML aliases of the node written here expand the rubric past {ALIAS_NODE_BUDGET:,} "
                    "nodes; write the lists out or share fewer levels of aliases"))])
            return sizes[id(node)]
        children = ([n for pair in node.value for n in pair] if isinstance(node, yaml.MappingNode)
                    else node.value if isinstance(node, yaml.SequenceNode) else [])
        sizes[id(node)] = 1 + sum(size(child) for child in children)
        return sizes[id(node)]

    size(root)


def _line_map(node: yaml.Node, path: Loc = (), out: dict[Loc, int] | None = None) -> dict[Loc, int]:
    """Path → 1-based line: for a mapping value the line of its key, for a list item its own."""
    out = {} if out is None else out
    out.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            sub = path + (key.value,)
            out[sub] = key.start_mark.line + 1
            _line_map(value, sub, out)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _line_map(item, path + (i,), out)
    return out


def _locate(lines: dict[Loc, int], loc: Loc) -> tuple[int | None, Loc]:
    """The deepest written part of ``loc``: pydantic adds union tags ('phrase') and missing
    fields that the file does not contain; skip those."""
    found: Loc = ()
    for part in loc:
        if found + (part,) in lines:
            found = found + (part,)
    return lines.get(found), found


def _field(loc: Loc) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else (f".{p}" if i else str(p))
                   for i, p in enumerate(loc))


def _message(err: dict[str, Any]) -> str:
    if err["type"] == "union_tag_invalid":
        return (f"unknown check type {err['ctx']['tag']!r}; valid types: "
                + ", ".join(CHECK_TYPES))
    if err["type"] == "union_tag_not_found":
        return "missing 'type'; valid types: " + ", ".join(CHECK_TYPES)
    if err["type"] == "missing":
        return "required field is missing"
    return str(err["msg"])


def parse_rubric(text: str, file: str = "<rubric>") -> Rubric:
    try:
        loader = yaml.SafeLoader(text)  # parsed once: the node tree gives the lines, then the data
        try:
            root = loader.get_single_node()
            if root is not None:
                _refuse_alias_bombs(root, file)
            data = loader.construct_document(root) if root is not None else None
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise RubricError([RubricIssue(file, mark.line + 1 if mark else None, "",
                                       f"YAML syntax error: {getattr(exc, 'problem', exc)}")]) from None
    if not isinstance(data, dict) or root is None:
        raise RubricError([RubricIssue(file, 1, "", "a rubric is a mapping with id, name, version, "
                                                    "sections and criteria")])
    lines = _line_map(root)
    try:
        base = Path(file).parent if not file.startswith("<") else Path.cwd()
        rubric = Rubric.model_validate(data, context={"defer_cross_checks": True, "base": base})
    except ValidationError as exc:
        issues = []
        for err in exc.errors():
            loc = tuple(err["loc"])
            if err["type"] == "union_tag_invalid":  # point at the "type:" line itself
                loc = loc + ("type",)
            line, shown = _locate(lines, loc)
            if err["type"] == "missing" and loc:  # name the field that is not written
                shown = shown + (loc[-1],)
            issues.append(RubricIssue(file, line, _field(shown), _message(err)))
        raise RubricError(issues) from None
    problems = rubric.problems()
    if problems:
        raise RubricError([RubricIssue(file, _locate(lines, loc)[0], _field(loc), msg)
                           for loc, msg in problems])
    return rubric


#: the one rubric cache: (file, sha256 of its text) → the validated rubric
_LOADED: dict[tuple[str, str], Rubric] = {}


def load_rubric(path: str | Path | None = None) -> Rubric:
    """Load and validate a rubric file (the packaged default when ``path`` is None). A file read
    before with the same content gives the same Rubric object (and so the same compiled engine);
    an edited file is validated again."""
    p = Path(path) if path is not None else DEFAULT_RUBRIC
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise RubricError([RubricIssue(str(p), None, "", f"cannot read: {exc.strerror or exc}")]) from None
    key = (str(p.resolve()), hashlib.sha256(text.encode()).hexdigest())
    if key not in _LOADED:
        if len(_LOADED) >= 8:  # a long session editing one rubric keeps the latest few
            _LOADED.pop(next(iter(_LOADED)))
        _LOADED[key] = parse_rubric(text, str(p))
    return _LOADED[key]
