"""Load a rubric YAML file; every error names the file, the line and the field.

Line numbers come from yaml's node tree (``yaml.compose``): each path of keys/indexes maps
to the line where it is written, and a pydantic error's ``loc`` is walked down that tree.

The default rubric ships inside the package (``callqa/rubric/default.yaml``, package data,
so a non-editable install has it); ``rubrics/default.yaml`` at the repository root is a
symlink to it, for people browsing the repository and for editors (the JSON Schema sits
next to both).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import tempfile
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from callqa.errors import CallQAError

if TYPE_CHECKING:  # yaml, pydantic and the schema load when a file is parsed, not to look up its hash
    import yaml

    from .schema import Rubric

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
    import yaml

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
    import yaml

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
    from .schema import CHECK_TYPES

    if err["type"] == "union_tag_invalid":
        return (f"unknown check type {err['ctx']['tag']!r}; valid types: "
                + ", ".join(CHECK_TYPES))
    if err["type"] == "union_tag_not_found":
        return "missing 'type'; valid types: " + ", ".join(CHECK_TYPES)
    if err["type"] == "missing":
        return "required field is missing"
    return str(err["msg"])


def parse_rubric(text: str, file: str = "<rubric>") -> Rubric:
    return _parse(text, file)[0]


def _parse(text: str, file: str) -> tuple[Rubric, list[str]]:
    """The validated rubric, and the files it read (training sets)."""
    import yaml
    from pydantic import ValidationError

    from .schema import Rubric

    try:  # parsed once, by libyaml's C parser when PyYAML has it: the node tree gives the lines, then the data
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)(text)
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
    base = Path(file).parent if not file.startswith("<") else Path.cwd()
    context: dict[str, Any] = {"defer_cross_checks": True, "base": base}
    try:
        rubric = Rubric.model_validate(data, context=context)
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
    return rubric, sorted({path for path, _column in context.get("labelled", {})})


# --- the one rubric cache ---------------------------------------------------------------------
#
# Rubrics are kept by content hash (``Rubric.content_hash``), the latest few, each with what was
# built from it (the compiled engine). A rubric file is known by a key from its text: the first
# time it is validated, the key is written down (in memory and under the cache folder) with the
# rubric's content hash and the files it read; later, when neither the file nor those files
# changed, its content hash is known without parsing or validating (``RubricFile.known_hash``):
# a ``score`` with nothing to do never builds the rubric.

_KEEP = 8
_RUBRICS: OrderedDict[str, tuple[Rubric, dict[str, Any]]] = OrderedDict()
_FILES: dict[str, dict[str, Any]] = {}  # file key → {"rubric_hash", "files": {path: sha256}}
#: the code that decides what a file validates to: part of every file key, so that a callqa
#: upgrade which changes validation never reuses a hash written down by an older one
_VALIDATING_CODE = ("schema.py", "labels.py", "token_patterns.py", "loader.py")


def cached(rubric: Rubric) -> Rubric:
    """The cached rubric with ``rubric``'s content (this one, if none was cached): a copy that
    arrived in a worker process finds the engine compiled for the first."""
    key = rubric.content_hash
    if key in _RUBRICS:
        _RUBRICS.move_to_end(key)
    else:
        _RUBRICS[key] = (rubric, {})
        while len(_RUBRICS) > _KEEP:  # a long session editing one rubric keeps the latest few
            _RUBRICS.popitem(last=False)
    return _RUBRICS[key][0]


def derived(rubric: Rubric, name: str, build: Callable[[Rubric], Any]) -> Any:
    """What ``build`` makes of a rubric (its engine), built once per rubric content."""
    rubric = cached(rubric)
    made = _RUBRICS[rubric.content_hash][1]
    if name not in made:
        made[name] = build(rubric)
    return made[name]


def _remember(key: str, entry: dict[str, Any]) -> None:
    _FILES.pop(key, None)
    _FILES[key] = entry
    while len(_FILES) > 8 * _KEEP:
        del _FILES[next(iter(_FILES))]


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@functools.cache
def _code_fingerprint() -> bytes:
    import importlib.util

    here = Path(__file__).parent
    pydantic = Path(importlib.util.find_spec("pydantic").origin).with_name("version.py")  # not imported: ~30 ms
    return b"".join(path.read_bytes() for path in [*(here / name for name in _VALIDATING_CODE), pydantic])


def _index_path(key: str) -> Path:
    from callqa.cache import cache_dir

    return cache_dir() / "rubrics" / f"{key}.json"


@dataclass(frozen=True)
class RubricFile:
    """A rubric file, read once: ``known_hash()`` and ``load()`` see the same text."""

    path: Path
    text: str

    @functools.cached_property
    def key(self) -> str:
        where = str(self.path.absolute().parent)  # relative training files are found from here
        return _sha256(b"\0".join((_code_fingerprint(), where.encode(), self.text.encode())))[:32]

    def known_hash(self) -> str | None:
        """The content hash this file validated to before, when neither it nor any file it read
        has changed since; None when it must be validated (``load``)."""
        entry = _FILES.get(self.key)
        if entry is None:
            try:
                entry = json.loads(_index_path(self.key).read_text(encoding="utf-8"))
                str(entry["rubric_hash"]), dict(entry["files"])
            except (OSError, ValueError, KeyError, TypeError):
                return None
        for path, digest in entry["files"].items():
            try:
                if _sha256(Path(path).read_bytes()) != digest:
                    return None
            except OSError:
                return None
        _remember(self.key, entry)
        return entry["rubric_hash"]

    def load(self) -> Rubric:
        """The validated rubric (from the cache when this content was validated before)."""
        return self.rubric

    @functools.cached_property
    def rubric(self) -> Rubric:
        known = self.known_hash()
        if known is not None and known in _RUBRICS:
            return cached(_RUBRICS[known][0])
        rubric, files = _parse(self.text, str(self.path))
        rubric = cached(rubric)
        entry = {"rubric_hash": rubric.content_hash, "files": {}}
        try:
            entry["files"] = {str(Path(path).absolute()): _sha256(Path(path).read_bytes()) for path in files}
        except OSError:  # a training file that went away since: validated, not written down
            return rubric
        _remember(self.key, entry)
        try:  # an optimisation only: a cache folder that cannot be written is no error
            index = _index_path(self.key)
            index.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=index.parent, suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(entry, fh)
            os.replace(tmp, index)
        except OSError:
            pass
        return rubric


def read_rubric(path: str | Path | None = None) -> RubricFile:
    """Read a rubric file (the packaged default when ``path`` is None); validated by ``load()``."""
    p = Path(path) if path is not None else DEFAULT_RUBRIC
    try:
        return RubricFile(p, p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RubricError([RubricIssue(str(p), None, "", f"cannot read: {exc.strerror or exc}")]) from None
    except UnicodeDecodeError as exc:
        raise RubricError([RubricIssue(str(p), None, "", f"not UTF-8 text: {exc.reason}")]) from None


def load_rubric(path: str | Path | None = None) -> Rubric:
    """Load and validate a rubric file (the packaged default when ``path`` is None). A file read
    before with the same content gives the same Rubric object (and so the same compiled engine);
    an edited file (or training file) is validated again."""
    return read_rubric(path).load()
