"""Rubric file format: pydantic models, and the JSON Schema published from them.

A rubric has weighted sections and criteria. Each criterion has one ``check``, a tagged
union on ``type`` over a closed set (see ``CHECK_TYPES``): an unknown type is an error that
lists the valid ones. Regenerate the published schema with
``python -m callqa.rubric.schema`` (a test fails when it is stale).
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationInfo, field_validator, model_validator
from pydantic.json_schema import SkipJsonSchema

from .labels import read_labelled

Speaker = Literal["agent", "customer", "any"]
Severity = Literal["info", "minor", "major", "critical"]
Polarity = Literal["positive", "negative"]
Mode = Literal["required", "forbidden", "counted"]
METRICS = ("talk_ratio", "longest_monologue", "interruptions", "silence", "holds", "longest_hold",
           "questions")
Metric = Literal["talk_ratio", "longest_monologue", "interruptions", "silence", "holds",
                 "longest_hold", "questions"]

#: The published schema, kept next to the package so that it ships with it.
SCHEMA_PATH = Path(__file__).with_name("rubric.schema.json")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class _Counted(_Model):
    """How many matches make a pass: ``required`` ≥ min, ``forbidden`` none, ``counted`` min..max."""

    mode: Mode = "required"
    min: int = Field(1, ge=0)
    max: int | None = Field(None, ge=0)


class _Worded(_Counted):
    """A check on words (phrase, pattern, any), whose matches a meaning can confirm."""

    #: Keep a match only when its sentence also means it (a semantic check, usually trained):
    #: "no" in "No, there's no fee" is words without a refusal.
    confirm: SemanticCheck | None = None


def _check_regex(values: list[str]) -> list[str]:
    import regex  # the package that runs a rubric's regexes (with a time budget: rubric.matchers)

    for v in values:
        try:
            regex.compile(v)
        except regex.error as exc:
            raise ValueError(f"invalid regular expression {v!r}: {exc}") from None
    return values


def nests_quantifiers(pattern: str) -> bool:
    """A repeat without an upper bound around a repeat of varying length (``(a+)+``,
    ``(\\w+\\s?)*``): the shape that can backtrack exponentially when the text almost matches."""
    from re import _constants as c, _parser  # the standard library's own parse of a pattern

    def subpatterns(av: Any) -> Any:
        for x in av if isinstance(av, (tuple, list)) else (av,):
            if isinstance(x, _parser.SubPattern):
                yield x
            elif isinstance(x, (tuple, list)):
                yield from subpatterns(x)

    def varying(items: Any) -> bool:
        return any((op in (c.MAX_REPEAT, c.MIN_REPEAT) and av[0] != av[1])
                   or any(varying(sub) for sub in subpatterns(av)) for op, av in items)

    def nested(items: Any) -> bool:
        for op, av in items:
            if op in (c.MAX_REPEAT, c.MIN_REPEAT) and av[1] == c.MAXREPEAT and varying(av[2]):
                return True
            if any(nested(sub) for sub in subpatterns(av)):
                return True
        return False

    try:
        return nested(_parser.parse(pattern))
    except (re.error, RecursionError, ValueError):  # the regex package's own syntax: no opinion
        return False


class PhraseCheck(_Worded):
    """Phrases matched exactly (case, punctuation and apostrophes ignored) or fuzzily.

    ``{a|b|}`` inside a phrase expands to alternatives (an empty one makes the group
    optional): ``"you'll {have|need} to call"``. ``regex`` entries are matched on every
    segment in scope (slower: prefer phrases) against the normalized text: lowercase,
    punctuation replaced by spaces, apostrophes kept. Fuzzy matching (rapidfuzz) is tried on
    phrases of four words or more, with at most 12 alternatives, in segments holding all
    of the phrase's content words but one (and at least two of them).
    """

    type: Literal["phrase"]
    phrases: list[str] = []
    regex: list[str] = []
    #: A match overlapping one of these phrases is dropped: "no problem".
    exclude: list[str] = []
    #: Likewise for regexes over the normalized text.
    exclude_regex: list[str] = []
    fuzzy: bool = True
    threshold: float = Field(90, ge=50, le=100)
    #: Phrases shorter than this (normalized characters) are matched
    #: exactly only: one changed word in a short phrase changes its meaning
    #: ("not our fault" is not "not your fault"); so are phrases under four words.
    min_fuzzy_chars: int = Field(10, ge=1)

    @field_validator("regex", "exclude_regex")
    @classmethod
    def _valid_regex(cls, v: list[str]) -> list[str]:
        return _check_regex(v)

    @model_validator(mode="after")
    def _some(self) -> PhraseCheck:
        if not self.phrases and not self.regex:
            raise ValueError("give at least one of 'phrases' or 'regex'")
        return self


class PatternCheck(_Worded):
    """spaCy Matcher token patterns (on lemmas, POS, dependencies) over parsed segments.

    Only segments containing one of ``anchors`` (lowercase words; apostrophes dropped) are
    parsed; without anchors they are taken from the patterns' LOWER/ORTH/LEMMA values.
    ``negated``: true keeps matches whose verb has a ``neg`` dependent (false: drops them).
    ``subjects``: the matched verb's nominal subject, when it has one, must be one of these.
    """

    type: Literal["pattern"]
    patterns: list[list[dict[str, Any]]] = Field(min_length=1)
    anchors: list[str] = []
    negated: bool | None = None
    subjects: list[str] = []
    exclude: list[str] = []

    @field_validator("patterns")
    @classmethod
    def _valid_patterns(cls, v: list[list[dict[str, Any]]]) -> list[list[dict[str, Any]]]:
        from .token_patterns import validate_token_pattern  # spaCy's schema, without importing spaCy

        for i, pattern in enumerate(v):
            if not pattern:
                raise ValueError(f"pattern {i} is empty")
            errors = validate_token_pattern(pattern)
            if errors:
                raise ValueError(f"pattern {i}: " + "; ".join(errors))
        return v


class Training(_Model):
    """A classifier for a semantic check: a logistic head on the sentence vectors, trained on the
    check's ``like`` (meets it) and ``unlike`` (does not) plus every row of a labelled utterance
    file (the CSV ``callqa rubric calibrate`` reads): a row whose labels include ``label`` meets
    it, every other row does not. ``threshold`` is then the probability a sentence needs. The
    file is read when the rubric is loaded (relative to the rubric file, else to the packaged
    default rubric, so a copy of it keeps working) and its rows become part of the rubric, so
    editing the file changes the rubric's content hash (``services.rubric_hash``). ``column``
    names the file's column of labels (``agreed`` in the packaged files: what most of their
    independent labellers said)."""

    file: str
    label: str | list[str]  # several: a row with any of them meets it
    column: str = "labels"
    rows: SkipJsonSchema[tuple[tuple[str, bool], ...]] = ()

    @property
    def shown(self) -> str:
        """The label(s), as a flag or an explanation names them."""
        return self.label if isinstance(self.label, str) else " or ".join(self.label)

    @model_validator(mode="before")
    @classmethod
    def _read(cls, data: Any, info: ValidationInfo) -> Any:
        if not isinstance(data, dict) or data.get("rows") or not isinstance(data.get("file"), str):
            return data
        path = Path(data["file"])
        if not path.is_absolute():
            here = Path((info.context or {}).get("base", ".")) / path
            packaged = SCHEMA_PATH.parent / path  # a copy of the default rubric keeps its training sets
            path = here if here.exists() or not packaged.exists() else packaged
        context = info.context if isinstance(info.context, dict) else {}
        read = context.setdefault("labelled", {})  # one read per file and column in one rubric
        key = (str(path), data.get("column", "labels"))
        try:
            rows = read[key] if key in read else read.setdefault(key, read_labelled(path, key[1]))
        except Exception as exc:  # CallQAError names the file and what is wrong
            raise ValueError(str(exc)) from None
        label = data.get("label")
        wanted = {label} if isinstance(label, str) else set(label or ())
        if not any(wanted & r.labels for r in rows):
            raise ValueError(f"{path}: no row is labelled {' or '.join(sorted(wanted))}")
        return {**data, "rows": tuple((r.text, bool(wanted & r.labels)) for r in rows)}


class SemanticCheck(_Counted):
    """Sentences that mean what ``like`` says, judged by a sentence encoder (the rubric's
    ``encoder``): a sentence matches when its embedding's cosine similarity to the nearest
    ``like`` example is at least ``threshold`` and exceeds its similarity to the nearest
    ``unlike`` example (a contrast: close in words, not in meaning) by more than ``margin``.

    Turns are split into sentences (long unpunctuated runs into windows of words); each
    sentence is one candidate. With ``train`` a classifier trained on labelled utterances
    decides instead (see ``Training``; the nearest example is still reported). A match within
    ``confident`` of the threshold is marked low confidence (the review queue asks a person).
    ``exclude`` drops matches overlapping these phrases, as for phrase checks. Choose the
    threshold with ``callqa rubric calibrate``.
    """

    type: Literal["semantic"]
    like: list[str] = Field(min_length=3)
    unlike: list[str] = []
    threshold: float = Field(0.6, gt=0, lt=1)
    margin: float = Field(0.0, ge=0, lt=1)
    confident: float = Field(0.05, ge=0, lt=1)
    exclude: list[str] = []
    train: Training | None = None
    #: With ``train``: the cosine similarity a sentence needs to its nearest example that meets
    #: the criterion, besides the classifier's probability.
    similar: float = Field(0.4, ge=0, lt=1)


Detector = Annotated[Union[PhraseCheck, PatternCheck, SemanticCheck], Field(discriminator="type")]


class AnyCheck(_Worded):
    """Matches of any of several phrase/pattern/semantic checks, counted together."""

    type: Literal["any"]
    checks: list[Detector] = Field(min_length=1)


Cue = Annotated[Union[PhraseCheck, PatternCheck, SemanticCheck, AnyCheck], Field(discriminator="type")]


class Trigger(_Model):
    """Something one speaker says: a detector and whose turns it looks at."""

    speaker: Speaker = "agent"
    check: Cue


class ConditionalCheck(_Model):
    """When ``when`` is said, ``then`` must follow within ``within_turns`` turns of its speaker.

    The trigger's own turn counts as the first when both speakers are the same, so
    ``within_turns: 1`` means "in the same turn". No trigger makes the criterion N/A.
    """

    type: Literal["conditional"]
    when: Trigger
    then: Trigger
    within_turns: int = Field(2, ge=1)
    require: Literal["all", "any"] = "all"


class MetricCheck(_Model):
    """A measurement of the call's timing, compared against ``min``/``max``.

    ``min_s`` is the event threshold: overlap for interruptions, gap length for
    silence/holds. Event metrics (interruptions, silence, holds) count events;
    longest_hold is N/A without a hold; talk_ratio is the agent's share of talk time.
    """

    type: Literal["metric"]
    metric: Metric
    min: float | None = None
    max: float | None = None
    min_s: float = Field(1.0, ge=0)


class CustomerNameCheck(_Counted):
    """The agent addresses the customer by name: an honorific + surname, or a name the
    customer gave earlier ("my name is…", "it's…") or that the transcript carries in
    ``extra["customer_name"]``. N/A when no name is known and none was used."""

    type: Literal["customer_name"]


Check = Annotated[Union[PhraseCheck, PatternCheck, SemanticCheck, AnyCheck, ConditionalCheck, MetricCheck,
                        CustomerNameCheck], Field(discriminator="type")]
#: The closed set of check types, read off the union above (its one declaration).
CHECK_TYPES: tuple[str, ...] = tuple(get_args(model.model_fields["type"].annotation)[0]
                                     for model in get_args(get_args(Check)[0]))


class Window(_Model):
    """Where in the call a criterion looks: [start_s, end_s], the first or the last N seconds."""

    start_s: float | None = Field(None, ge=0)
    end_s: float | None = Field(None, ge=0)
    first_s: float | None = Field(None, gt=0)
    last_s: float | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _one_form(self) -> Window:
        forms = [self.start_s is not None or self.end_s is not None, self.first_s is not None,
                 self.last_s is not None]
        if sum(forms) != 1:
            raise ValueError("give either start_s/end_s, or first_s, or last_s")
        return self

    def bounds(self, duration: float) -> tuple[float, float]:
        if self.first_s is not None:
            return 0.0, self.first_s
        if self.last_s is not None:
            return max(0.0, duration - self.last_s), duration
        return self.start_s or 0.0, self.end_s if self.end_s is not None else duration


class AppliesIf(_Model):
    """The criterion is N/A unless this happens: a cue said by ``speaker``, or a hold (a silence
    of at least ``hold_s`` seconds). With both, either will do: a text transcript has no
    silences, but its words can say that the customer was put on hold."""

    speaker: Speaker = "customer"
    check: Cue | None = None
    hold_s: float | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _one(self) -> AppliesIf:
        if self.check is None and self.hold_s is None:
            raise ValueError("give 'check', 'hold_s' or both")
        return self


class ServiceCall(_Model):
    """A call is a service call when ``check`` is found in ``speaker``'s turns, or when they say
    at least ``words`` words (a long call is not a wrong number, whatever was missed), unless
    ``unless`` is found in anyone's turns: what says outright that the call was not for this
    company ("I meant to ring my bank", "just a test call", an agent ending a recorded message)."""

    speaker: Speaker = "customer"
    check: Cue
    words: int = Field(40, ge=0)
    unless: Cue | None = None


class Source(_Model):
    seed: str = Field(description="seed file the criterion encodes, e.g. 002_f6e8b908dceac638.txt")
    guidance: str


#: An example is one utterance by the criterion's speaker, or a tiny transcript: a list of
#: "agent: text", "customer@3-7: text" (explicit seconds) and "silence 40" lines.
Example = Union[str, list[str]]


class Examples(_Model):
    pass_: list[Example] = Field(default_factory=list, alias="pass")
    fail: list[Example] = Field(default_factory=list)


class Criterion(_Model):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$",
                    description="stable dotted id: category.name")
    name: str
    category: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    section: str
    check: Check
    speaker: Speaker = "agent"
    window: Window | None = None
    applies_if: AppliesIf | None = None
    weight: float = Field(1.0, ge=0)
    severity: Severity = "minor"
    critical: bool = Field(False, description="failing it caps the call's score (auto-fail)")
    fallback: bool = Field(False, description="a catch-all: it flags only words that no other criterion "
                           "flagged (one moment, one flag; words that earned a credit are no fault); needs "
                           "a forbidden phrase, pattern, semantic or any check")
    polarity: Polarity = Field(description="positive: good behaviour; negative: a problem")
    message: str = Field(description="what a failure means, shown on negative flags")
    praise: str = Field("", description="shown on positive flags; defaults to the name")
    suggestion: str = ""
    description: str = ""
    source: Source
    examples: Examples = Examples()

    @model_validator(mode="after")
    def _fallback_forbids(self) -> Criterion:
        if self.fallback and getattr(self.check, "mode", None) != "forbidden":
            raise ValueError("fallback: true needs a phrase, pattern, semantic or any check with mode: forbidden")
        return self


class Section(_Model):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: str
    weight: float = Field(ge=0)


def _phrase_checks(model: Any) -> Any:
    """Every phrase check inside a criterion: its check, nested checks, gates, confirmations."""
    if isinstance(model, PhraseCheck):
        yield model
    if isinstance(model, Training):  # thousands of labelled rows, no check
        return
    if isinstance(model, BaseModel):
        for name in type(model).model_fields:
            yield from _phrase_checks(getattr(model, name))
    elif isinstance(model, (list, tuple)):
        for item in model:
            yield from _phrase_checks(item)


class Rubric(_Model):
    id: str
    name: str
    version: str
    description: str = ""
    #: The overall score of a call that fails a critical criterion is capped at this.
    critical_cap: float = Field(0.0, ge=0, le=100)
    #: The sentence encoder that semantic checks use (its thresholds are tuned for it); an
    #: entry point of group ``callqa.encoders`` or "module:attribute".
    encoder: str = "minilm"
    #: What makes a call a service call (the customer asks for something or raises a problem).
    #: A call where it is not found — or where its speaker never speaks — is reported as "not a
    #: service call" and not scored: a wrong number or a test call is not a weak call.
    service_call: ServiceCall | None = None
    #: Free space for YAML anchors (``&cues``) reused by the criteria; not interpreted.
    shared: dict[str, Any] = Field(default_factory=dict)
    sections: list[Section] = Field(min_length=1)
    criteria: list[Criterion] = Field(min_length=1)
    _content_hash: str | None = PrivateAttr(None)

    @property
    def content_hash(self) -> str:
        """A short hash of the rubric's content, training rows included: any edit gives a new hash,
        so stored calls are rescored (``calls.rubric_hash``). Not the ``version:`` field, which an
        author may leave unchanged. Computed once per object (and kept when it is pickled)."""
        if self._content_hash is None:
            self._content_hash = hashlib.sha256(self.model_dump_json().encode()).hexdigest()[:16]
        return self._content_hash

    def problems(self) -> list[tuple[tuple[str | int, ...], str]]:
        """Cross-reference errors as (location, message): duplicate ids, unknown sections."""
        out: list[tuple[tuple[str | int, ...], str]] = []
        seen: set[str] = set()
        for i, s in enumerate(self.sections):
            if s.id in seen:
                out.append((("sections", i, "id"), f"duplicate section id {s.id!r}"))
            seen.add(s.id)
        ids: set[str] = set()
        for i, c in enumerate(self.criteria):
            if c.id in ids:
                out.append((("criteria", i, "id"), f"duplicate criterion id {c.id!r}"))
            ids.add(c.id)
            if c.section not in seen:
                out.append((("criteria", i, "section"),
                            f"unknown section {c.section!r}; sections: {', '.join(sorted(seen))}"))
        return out

    def warnings(self) -> list[str]:
        """What is valid but risky: regexes that nest quantifiers (each gets a time budget per
        utterance when scoring; see rubric.matchers)."""
        out = []
        for c in self.criteria:
            for check in _phrase_checks(c):
                for r in [*check.regex, *check.exclude_regex]:
                    if nests_quantifiers(r):
                        out.append(f"criterion {c.id}: regex {r!r} has nested quantifiers, which can take "
                                   "exponential time on an utterance that almost matches; rewrite it without "
                                   "the nesting (e.g. '(a+)+' as 'a+')")
        return out

    @model_validator(mode="after")
    def _cross_check(self, info: ValidationInfo) -> Rubric:
        # The loader runs problems() itself to report file lines; plain validation raises.
        if not (info.context or {}).get("defer_cross_checks"):
            probs = self.problems()
            if probs:
                raise ValueError("; ".join(".".join(map(str, loc)) + ": " + m for loc, m in probs))
        return self

    def criterion(self, cid: str) -> Criterion:
        for c in self.criteria:
            if c.id == cid:
                return c
        raise KeyError(cid)


def json_schema() -> dict[str, Any]:
    schema = Rubric.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "callqa rubric"
    return schema


def schema_text() -> str:
    return json.dumps(json_schema(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":  # python -m callqa.rubric.schema: regenerate the published schema
    SCHEMA_PATH.write_text(schema_text())
    print(f"wrote {SCHEMA_PATH}")
