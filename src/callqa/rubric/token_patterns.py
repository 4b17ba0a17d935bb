"""spaCy Matcher token patterns, validated without importing spaCy.

spaCy's own validator (``spacy.schemas.validate_token_pattern``) imports spaCy, thinc and torch
(~2.6 s, 270 MiB): too much for ``callqa rubric check`` or a ``score`` with nothing to do. These
models are spaCy 3.8's ``TokenPatternSchema`` (MIT; plain pydantic, no spaCy types) and give the
same messages; tests/test_rubric_loader.py compares the two on valid and broken patterns.
"""

from __future__ import annotations

from collections import defaultdict
from enum import Enum
from typing import Any, Literal, Optional, Union

from pydantic import (BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr, ValidationError,
                      constr, field_validator)


class _NoNone(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @field_validator("*", mode="before")
    @classmethod
    def _raise_for_none(cls, v: Any) -> Any:
        if v is None:
            raise ValueError("None / null is not allowed")
        return v


_Fuzzy = Optional[Union[StrictStr, "TokenPatternString"]]


class TokenPatternString(_NoNone):
    REGEX: _Fuzzy = Field(None, alias="regex")
    IN: Optional[list[StrictStr]] = Field(None, alias="in")
    NOT_IN: Optional[list[StrictStr]] = Field(None, alias="not_in")
    IS_SUBSET: Optional[list[StrictStr]] = Field(None, alias="is_subset")
    IS_SUPERSET: Optional[list[StrictStr]] = Field(None, alias="is_superset")
    INTERSECTS: Optional[list[StrictStr]] = Field(None, alias="intersects")
    FUZZY: _Fuzzy = Field(None, alias="fuzzy")
    FUZZY1: _Fuzzy = Field(None, alias="fuzzy1")
    FUZZY2: _Fuzzy = Field(None, alias="fuzzy2")
    FUZZY3: _Fuzzy = Field(None, alias="fuzzy3")
    FUZZY4: _Fuzzy = Field(None, alias="fuzzy4")
    FUZZY5: _Fuzzy = Field(None, alias="fuzzy5")
    FUZZY6: _Fuzzy = Field(None, alias="fuzzy6")
    FUZZY7: _Fuzzy = Field(None, alias="fuzzy7")
    FUZZY8: _Fuzzy = Field(None, alias="fuzzy8")
    FUZZY9: _Fuzzy = Field(None, alias="fuzzy9")


_Num = Optional[Union[StrictInt, StrictFloat]]


class TokenPatternNumber(_NoNone):
    REGEX: Optional[StrictStr] = Field(None, alias="regex")
    IN: Optional[list[StrictInt]] = Field(None, alias="in")
    NOT_IN: Optional[list[StrictInt]] = Field(None, alias="not_in")
    IS_SUBSET: Optional[list[StrictInt]] = Field(None, alias="is_subset")
    IS_SUPERSET: Optional[list[StrictInt]] = Field(None, alias="is_superset")
    INTERSECTS: Optional[list[StrictInt]] = Field(None, alias="intersects")
    EQ: _Num = Field(None, alias="==")
    NEQ: _Num = Field(None, alias="!=")
    GEQ: _Num = Field(None, alias=">=")
    LEQ: _Num = Field(None, alias="<=")
    GT: _Num = Field(None, alias=">")
    LT: _Num = Field(None, alias="<")


class TokenPatternOperatorSimple(str, Enum):
    plus = "+"
    star = "*"
    question = "?"
    exclamation = "!"


_Operator = Union[TokenPatternOperatorSimple, constr(pattern=r"^(\{\d+\}|\{\d+,\d*\}|\{\d*,\d+\})$")]
_String = Optional[Union[TokenPatternString, StrictStr]]
_Number = Optional[Union[TokenPatternNumber, StrictInt, StrictFloat]]
_Underscore = Union[TokenPatternString, TokenPatternNumber, str, int, float, list, bool]
_Bool = Optional[StrictBool]


class TokenPattern(_NoNone):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, alias_generator=str.upper)

    orth: _String = None
    text: _String = None
    lower: _String = None
    pos: _String = None
    tag: _String = None
    morph: _String = None
    dep: _String = None
    lemma: _String = None
    shape: _String = None
    ent_type: _String = None
    ent_iob: Optional[Literal["", "I", "O", "B", 0, 1, 2, 3]] = None
    ent_id: _String = None
    ent_kb_id: _String = None
    norm: _String = None
    length: _Number = None
    spacy: _Bool = None
    is_alpha: _Bool = None
    is_ascii: _Bool = None
    is_digit: _Bool = None
    is_lower: _Bool = None
    is_upper: _Bool = None
    is_title: _Bool = None
    is_punct: _Bool = None
    is_space: _Bool = None
    is_bracket: _Bool = None
    is_quote: _Bool = None
    is_left_punct: _Bool = None
    is_right_punct: _Bool = None
    is_currency: _Bool = None
    is_stop: _Bool = None
    is_sent_start: _Bool = None
    sent_start: _Bool = None
    like_num: _Bool = None
    like_url: _Bool = None
    like_email: _Bool = None
    op: Optional[_Operator] = None
    underscore: Optional[dict[StrictStr, _Underscore]] = Field(None, alias="_")


class TokenPatternSchema(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pattern: list[TokenPattern] = Field(..., min_length=1)


def validate_token_pattern(pattern: Any) -> list[str]:
    """The problems of one Matcher pattern (a list of token dicts), as spaCy words them:
    ``[pattern -> 0 -> LOWERR] Extra inputs are not permitted``; empty when it is valid."""
    try:
        TokenPatternSchema(pattern=pattern)
        return []
    except ValidationError as exc:
        found: dict[str, list[str]] = defaultdict(list)
        for error in exc.errors():
            found[" -> ".join(str(p) for p in error.get("loc", []))].append(error.get("msg", ""))
        return [f"[{loc}] {', '.join(msgs)}" for loc, msgs in found.items()]
