"""The one settings object: resolved once per process, passed to the CLI, the TUI and the reports.

Each setting comes from the first place that gives it: a command-line option, then an environment
variable (``CALLQA_DB``, ``CALLQA_RUBRIC``, ``CALLQA_REDACT``, … : ``CALLQA_`` and the key in
capitals, ``-`` as ``_``), then the project's config file (``callqa.toml`` in the working folder,
else ``[tool.callqa]`` in its pyproject.toml; ``$CALLQA_CONFIG`` names another file), then the
user's config file (``callqa.toml`` in the user config folder), then the default. Config keys are
the long option names (``db``, ``rubric``, ``redact``, ``name-pattern``, …); a relative path in a
config file is taken from the file's folder. ``callqa config`` shows each value and where it came
from.
"""

from __future__ import annotations

import argparse
import difflib
import getpass
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from callqa.errors import CallQAError

CONFIG_FILE = "callqa.toml"
CONFIG_ENV = "CALLQA_CONFIG"


class ConfigError(CallQAError):
    """A config file or environment variable holds a value callqa cannot use; the message names it."""


class LimitError(CallQAError):
    """A file over a limit that the setting ``key`` sets: the message names the file, the limit and
    how to raise it."""

    def __init__(self, file: object, what: str, key: str, limit: str):
        super().__init__(f"{file}: {what}; the limit is {limit} ({key}). To raise it: --{key} N, "
                         f"${env_name(key)} or {key} = N in {CONFIG_FILE}")

    @staticmethod
    def minutes(n: float) -> str:
        return f"{n:.4g} minute{'' if n == 1 else 's'}"


def env_name(key: str) -> str:
    """The environment variable of a setting: ``CALLQA_`` and the key in capitals, ``-`` as ``_``."""
    return "CALLQA_" + key.upper().replace("-", "_")


def _choice(*allowed: str) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        if value not in allowed:
            raise ValueError(f"must be one of {', '.join(allowed)}")
        return value
    return parse


def _text(value: Any) -> str | None:
    if not isinstance(value, str):
        raise ValueError("must be a string")
    return value.strip() or None


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("1", "true", "yes", "on"):
        return True
    if isinstance(value, str) and value.strip().lower() in ("0", "false", "no", "off", ""):
        return False
    raise ValueError("must be true or false")


def _count(minimum: int) -> Callable[[Any], int]:
    def parse(value: Any) -> int:
        if isinstance(value, bool) or not str(value).strip().isdigit() or int(value) < minimum:
            raise ValueError(f"must be a whole number of at least {minimum}")
        return int(value)
    return parse


#: A criterion's state (``callqa agreement`` proposes changes, a person applies them): scored by a
#: person, pre-filled by the machine and confirmed by a person, or left to the machine. A criterion
#: with no entry is ``human``: nothing shows yet that the machine agrees with blind reviewers on it.
CRITERION_STATES = ("human", "assisted", "automatic")
#: what reports print beside a criterion that is not automatic yet, and the legend under them
STATE_MARKERS = {"human": "†", "assisted": "‡"}
STATE_LEGEND = ("† human: the machine's verdict on this criterion is not yet shown to agree with blind reviewers; "
                "a person should confirm it. ‡ assisted: the machine pre-fills, a reviewer confirms.")
#: the graduation rule's keys (``services.agreement.GraduationRule`` holds their defaults)
GRADUATION_KEYS = {"automatic-ac1": float, "automatic-calls": int, "assisted-ac1": float, "assisted-calls": int}


def _flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``greeting.opening = "automatic"`` unquoted in TOML is a nested table: read it back as the id."""
    out: dict[str, Any] = {}
    for key, value in table.items():
        if isinstance(value, Mapping):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _pairs(value: Any, what: str) -> dict[str, Any]:
    """A TOML table, or ``key=value,key=value`` (an environment variable)."""
    if isinstance(value, str):
        pairs = [p.split("=", 1) for p in value.split(",") if p.strip()]
        if any(len(p) != 2 for p in pairs):
            raise ValueError(f"must be {what} pairs separated by commas")
        return {k.strip(): v.strip() for k, v in pairs}
    if not isinstance(value, Mapping):
        raise ValueError(f"must be a table of {what}")
    return _flatten(value)


def _states(value: Any) -> dict[str, str]:
    states = _pairs(value, "criterion = state")
    for criterion, state in states.items():
        if state not in CRITERION_STATES:
            raise ValueError(f"{criterion}: {state!r} is not a state ({', '.join(CRITERION_STATES)})")
    return states


def _graduation(value: Any) -> dict[str, float]:
    rule: dict[str, float] = {}
    for key, raw in _pairs(value, "rule = number").items():
        if key not in GRADUATION_KEYS:
            raise ValueError(f"{key!r} is not a graduation setting ({', '.join(GRADUATION_KEYS)})")
        try:
            rule[key] = GRADUATION_KEYS[key](raw)
        except (TypeError, ValueError):
            raise ValueError(f"{key} must be a number") from None
    return rule


def _words(value: Any) -> tuple[str, ...]:
    """A list of words or phrases: a TOML list, or one string with commas between them."""
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not all(isinstance(w, str) for w in items):
        raise ValueError("must be a list of words or phrases (in an option or variable: commas between them)")
    return tuple(dict.fromkeys(w.strip() for w in items if w.strip()))


def _model_or_off(value: Any) -> str | None:
    text = _text(value)
    return None if text is None or text.lower() in ("off", "none", "false", "no") else text


def _fraction(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = -1.0
    if isinstance(value, bool) or not 0.0 <= number <= 1.0:
        raise ValueError("must be a number from 0 to 1")
    return number


#: The limits' defaults, written here only (SETTINGS, Workspace, TranscribeSettings and the flags'
#: help read them): four hours of call, a 50 MB transcript file.
MAX_CALL_MINUTES = 240
MAX_TRANSCRIPT_MB = 50

#: key → (parser, default, whether it is a path a config file gives relative to itself)
SETTINGS: dict[str, tuple[Callable[[Any], Any], Any, bool]] = {
    "db": (_text, None, True),  # None: a SQLite file in the user data folder
    "rubric": (_text, None, True),  # None: the packaged default rubric
    "redact": (_flag, False, False),
    "name-pattern": (_text, None, False),
    "agent-channel": (_choice("left", "right"), "left", False),
    "mono-agent": (_choice("auto", "first", "second"), "auto", False),
    "company": (_text, None, False),
    "engine": (_choice("faster-whisper", "openai-whisper"), "faster-whisper", False),
    "model": (_text, "tiny.en", False),
    # words Whisper should expect (company, products, places): its prompt, with the company and
    # each call's agent name
    "vocabulary": (_words, (), False),
    "second-pass": (_model_or_off, None, False),  # a model for the segments the first was unsure of
    "second-pass-below": (_fraction, 0.6, False),  # ... those whose mean word probability is under this
    "beam-size": (_count(1), 5, False),
    "vad": (_flag, True, False),
    "cache": (_flag, True, False),
    "workers": (_count(0), 0, False),  # 0: all cores
    # limits: a file over one fails with its name, the limit and how to raise it
    "max-call-minutes": (_count(1), MAX_CALL_MINUTES, False),  # a recording's length, or an imported transcript's times
    "max-transcript-mb": (_count(1), MAX_TRANSCRIPT_MB, False),  # an imported transcript's size
    "reviewer": (_text, None, False),  # None: the login name
    # [criteria]: criterion id → human | assisted | automatic; [graduation]: the rule's bars
    "criteria": (_states, {}, False),
    "graduation": (_graduation, {}, False),
    # a fault on words the transcript is unsure of counts against the agent (scoring.uncounted)
    "uncertain-flags-count": (_flag, False, False),
}


@dataclass(frozen=True)
class Workspace:
    db: str | None = None
    rubric: str | None = None
    redact: bool = False
    name_pattern: str | None = None
    agent_channel: str = "left"
    mono_agent: str = "auto"
    company: str | None = None
    engine: str = "faster-whisper"
    model: str = "tiny.en"
    vocabulary: tuple[str, ...] = ()
    second_pass: str | None = None
    second_pass_below: float = 0.6
    beam_size: int = 5
    vad: bool = True
    cache: bool = True
    workers: int = 0
    max_call_minutes: int = MAX_CALL_MINUTES
    max_transcript_mb: int = MAX_TRANSCRIPT_MB
    reviewer: str | None = None
    criteria: Mapping[str, str] = field(default_factory=dict)
    graduation: Mapping[str, float] = field(default_factory=dict)
    uncertain_flags_count: bool = False
    #: key → where its value came from ("--db", "$CALLQA_DB", a file, "default")
    sources: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)

    @property
    def reviewer_name(self) -> str:
        if self.reviewer:
            return self.reviewer
        try:
            return getpass.getuser()
        except Exception:  # no user name in this environment
            return "reviewer"

    def values(self) -> dict[str, Any]:
        """key → value, in the order of SETTINGS (what ``callqa config`` shows)."""
        return {key: getattr(self, key.replace("-", "_")) for key in SETTINGS}


def resolve(flags: Mapping[str, Any] | argparse.Namespace | None = None, *, cwd: Path | None = None,
            environ: Mapping[str, str] | None = None) -> Workspace:
    """The workspace for this process: ``flags`` (options given on the command line, by key or by
    argparse dest; None means not given) > environment > project config > user config > default."""
    if isinstance(flags, argparse.Namespace):
        flags = vars(flags)
    flags = {k.replace("_", "-"): str(v) if isinstance(v, Path) else v for k, v in (flags or {}).items()
             if v is not None}
    environ = os.environ if environ is None else environ
    cwd = cwd or Path.cwd()
    layers: list[tuple[str, Mapping[str, Any], Path | None]] = [
        (f"--{key}", {key: flags[key]}, None) for key in SETTINGS if key in flags]
    for key in SETTINGS:
        name = env_name(key)
        if name in environ:
            layers.append((f"${name}", {key: environ[name]}, None))
    for path, table in config_files(cwd, environ):
        layers.append((str(path), table, path.parent))
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for source, table, folder in layers:
        for key, raw in table.items():
            if key in values:
                continue
            parse, _, is_path = SETTINGS[key]
            try:
                value = parse(raw)
            except ValueError as exc:
                raise ConfigError(f"{source}: {key} = {raw!r} {exc}") from None
            if folder is not None and is_path and value:
                value = _from_folder(value, folder)
            values[key], sources[key] = value, source
    for key, (_, default, _) in SETTINGS.items():
        values.setdefault(key, dict(default) if isinstance(default, dict) else default)
        sources.setdefault(key, "default")
    return Workspace(**{k.replace("-", "_"): v for k, v in values.items()}, sources=sources)


def config_files(cwd: Path, environ: Mapping[str, str]) -> list[tuple[Path, dict[str, Any]]]:
    """(file, its settings) for the project config and then the user config, the ones that exist."""
    found: list[tuple[Path, dict[str, Any]]] = []
    project, user = _candidates(cwd, environ)
    if environ.get(CONFIG_ENV) and not project[0].is_file():
        raise ConfigError(f"${CONFIG_ENV} names {project[0]}, which is not a file")
    for path in project:  # the first project file that has settings
        if path.is_file() and (table := _read(path)) is not None:
            found.append((path, table))
            break
    if user.is_file():
        found.append((user, _read(user) or {}))
    return found


def config_searched(cwd: Path | None = None, environ: Mapping[str, str] | None = None) -> list[tuple[Path, bool]]:
    """Every config file callqa looks for, and whether it was read (``callqa config`` lists them)."""
    cwd, environ = cwd or Path.cwd(), os.environ if environ is None else environ
    read = {path for path, _ in config_files(cwd, environ)}
    project, user = _candidates(cwd, environ)
    return [(path, path in read) for path in (*project, user)]


def _candidates(cwd: Path, environ: Mapping[str, str]) -> tuple[list[Path], Path]:
    from platformdirs import user_config_dir

    user = Path(user_config_dir("callqa")) / CONFIG_FILE
    if environ.get(CONFIG_ENV):
        return [Path(environ[CONFIG_ENV]).expanduser()], user
    return [cwd / CONFIG_FILE, cwd / "pyproject.toml"], user


def _read(path: Path) -> dict[str, Any] | None:
    """A config file's settings (None: a pyproject.toml without [tool.callqa]); unknown keys are errors."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read it ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    where = str(path)
    if path.name == "pyproject.toml":
        data = data.get("tool", {}).get("callqa")
        if data is None:
            return None
        where = f"{path} [tool.callqa]"
    for key in data:
        if key not in SETTINGS:
            close = difflib.get_close_matches(key.replace("_", "-"), SETTINGS, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ConfigError(f"{where}: unknown setting {key!r}{hint} (settings: {', '.join(SETTINGS)})")
    return data


def _from_folder(value: str, folder: Path) -> str:
    """A path (or a sqlite:/// URL with a relative path) written in a config file, from its folder."""
    if value.startswith("sqlite:///") and not value.startswith("sqlite:////"):
        rest = value[len("sqlite:///"):]
        return f"sqlite:///{(folder / rest).resolve()}" if rest and rest != ":memory:" else value
    if "://" in value:
        return value
    return str((folder / Path(value).expanduser()).resolve())


def criteria_file(ws: Workspace, cwd: Path | None = None, environ: Mapping[str, str] | None = None) -> Path:
    """The config file that ``callqa agreement --apply`` writes criterion states to: the one they
    came from, else the project's (``$CALLQA_CONFIG``, else callqa.toml in the working folder)."""
    source = ws.sources.get("criteria", "default")
    if source not in ("default",) and not source.startswith(("$", "--")):
        return Path(source)
    cwd, environ = cwd or Path.cwd(), os.environ if environ is None else environ
    return _candidates(cwd, environ)[0][0]


def write_criteria(path: Path, states: Mapping[str, str]) -> None:
    """Replace the ``[criteria]`` table of a config file (``[tool.callqa.criteria]`` in a
    pyproject.toml) with ``states``, keeping every other line; the file is created if missing."""
    header = "[tool.callqa.criteria]" if path.name == "pyproject.toml" else "[criteria]"
    lines = path.read_text(encoding="utf-8").splitlines() if path.is_file() else []
    kept: list[str] = []
    inside = False
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("["):
            inside = stripped.replace(" ", "") == header
        if not inside:
            kept.append(line)
    while kept and not kept[-1].strip():
        kept.pop()
    table = [header] + [f'"{c}" = "{s}"' for c, s in sorted(states.items())]
    text = "\n".join(kept + ([""] if kept else []) + table) + "\n"
    tomllib.loads(text)  # never write a file callqa cannot read back
    path.write_text(text, encoding="utf-8")
