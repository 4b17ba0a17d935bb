"""Semantic checks: does a sentence mean what a criterion's examples mean?

A ``SemanticDetector`` compares each sentence in scope with the criterion's ``like`` and
``unlike`` examples by cosine similarity of sentence embeddings. The embeddings come from an
``Encoder`` (texts in, unit vectors out) that the rubric names; encoders are plugins outside
the core (entry point group ``callqa.encoders``; callqa ships ``minilm`` in
``callqa.encoders``), loaded lazily, once per process, and only when a sentence is not in the
embedding cache already: a rescore of stored calls with an edited rubric embeds only the new
examples, and a rubric without semantic checks never loads an encoder.
"""

from __future__ import annotations

import importlib
import os
import re
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, Protocol, Sequence

import numpy as np

from callqa.cache import EmbeddingCache, cache_dir
from callqa.errors import CallQAError

from .schema import SemanticCheck

if TYPE_CHECKING:
    from .context import CallContext
    from .matchers import Hit, PhraseIndex


class Encoder(Protocol):
    """Sentences → L2-normalised float32 vectors, one row per text. ``id`` names the model and
    its version: vectors from different ids are never mixed (the cache is keyed by it)."""

    id: str

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


class EncoderError(CallQAError):
    """An encoder that cannot be loaded; the message names the package and the install command."""


ENTRY_POINT_GROUP = "callqa.encoders"
#: Encoders callqa ships, so that a source checkout works before its entry points are installed.
BUILTIN = {"minilm": "callqa.encoders.minilm:MiniLMEncoder",
           "minilm-callqa": "callqa.encoders.minilm:TunedMiniLMEncoder"}


class CachedEncoder:
    """An encoder behind the embedding cache; the real one is loaded on the first cache miss."""

    def __init__(self, name: str, factory: Any, cache: EmbeddingCache | None):
        self.name, self._factory, self.cache = name, factory, cache
        self._inner: Encoder | None = None
        self._memory: dict[str, np.ndarray] = {}
        self.id = getattr(factory, "ID", name)
        self.encoded = 0  # sentences this process sent to the model (benchmarks report it)

    def inner(self) -> Encoder:
        if self._inner is None:
            self._inner = self._factory()
            self.id = self._inner.id
        return self._inner

    def vectors(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """Each distinct text's vector, from memory, the cache file or the model."""
        want = [t for t in dict.fromkeys(texts) if t not in self._memory]
        if want and self.cache is not None:
            self._memory.update(self.cache.get(self.id, want))
            want = [t for t in want if t not in self._memory]
        if want:
            fresh = self.inner().encode(want)
            new = {t: np.asarray(v, dtype=np.float32) for t, v in zip(want, fresh)}
            self.encoded += len(want)
            self._memory.update(new)
            if self.cache is not None:
                self.cache.put(self.id, new)
        if len(self._memory) > 200_000:  # a long batch: keep memory flat (the file keeps them)
            keep = set(texts)
            self._memory = {t: v for t, v in self._memory.items() if t in keep}
        return {t: self._memory[t] for t in texts}

    def matrix(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        got = self.vectors(texts)
        return np.stack([got[t] for t in texts])


_ENCODERS: dict[str, CachedEncoder] = {}
#: Fitted classifiers of trained checks, by encoder and examples: (weights, bias, positive vectors, their texts).
_HEADS: dict[tuple[Any, ...], tuple[np.ndarray, float, np.ndarray, list[str]]] = {}
#: one number per distinct way of judging (``SemanticDetector.judging``)
_JUDGING: dict[tuple[Any, ...], int] = {}


def _factory(name: str) -> Any:
    target = None
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name == name:
            target = ep.value
    target = target or BUILTIN.get(name) or (name if ":" in name else None)
    if target is None:
        raise EncoderError(f"unknown sentence encoder {name!r}; installed: "
                           + ", ".join(sorted({*BUILTIN, *(ep.name for ep in entry_points(group=ENTRY_POINT_GROUP))})))
    module, _, attr = target.partition(":")
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise EncoderError(f"cannot load sentence encoder {name!r} ({target}): {exc}") from None


def get_encoder(name: str) -> CachedEncoder:
    """The encoder ``name`` for this process (cached), behind the embedding cache."""
    if name not in _ENCODERS:
        use_cache = os.environ.get("CALLQA_EMBEDDING_CACHE", "1") != "0"
        cache = EmbeddingCache(cache_dir() / "embeddings.sqlite") if use_cache else None
        _ENCODERS[name] = CachedEncoder(name, _factory(name), cache)
    return _ENCODERS[name]


def reset_encoders() -> None:
    """Forget loaded encoders and the classifiers fitted with them (tests switch them)."""
    _ENCODERS.clear()
    _HEADS.clear()


# ---------------------------------------------------------------- sentences

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=\S)")
#: A sentence longer than this many words (an unpunctuated run) is judged in windows.
MAX_WORDS, WINDOW, STEP = 24, 16, 8
_WORDS = re.compile(r"\S+")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of the sentences of a turn; long ones as overlapping word windows."""
    spans: list[tuple[int, int]] = []
    start = 0
    bounds = [m.start() for m in _SENTENCE_END.finditer(text)] + [len(text)]
    for end in bounds:
        piece = text[start:end]
        words = [(m.start() + start, m.end() + start) for m in _WORDS.finditer(piece)]
        if len(words) > MAX_WORDS:
            for i in range(0, len(words) - STEP, STEP):
                w = words[i:i + WINDOW]
                spans.append((w[0][0], w[-1][1]))
        elif words:
            spans.append((words[0][0], words[-1][1]))
        start = end
    return spans


# ---------------------------------------------------------------- the detector

@dataclass(frozen=True, slots=True)
class Judgement:
    """How one sentence compares with a criterion's examples."""

    similarity: float  # to the nearest ``like`` example
    example: str
    contrast: float  # to the nearest ``unlike`` example (-1 without any)
    contrast_example: str
    matched: bool
    probability: float | None = None  # the trained classifier's, when the check has one

    @property
    def score(self) -> float:
        """What the threshold is compared with."""
        return self.similarity if self.probability is None else self.probability


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 0.25, steps: int = 25) -> tuple[np.ndarray, float]:
    """Weights and bias of an L2-regularised logistic regression, classes weighted to balance,
    by Newton's method from zero: a fixed computation, so the same examples give the same head."""
    x = np.hstack([x.astype(np.float64), np.ones((len(x), 1))])
    y = y.astype(np.float64)
    pos = y.sum()
    weight = np.where(y > 0, len(y) / (2 * max(pos, 1)), len(y) / (2 * max(len(y) - pos, 1)))
    reg = np.full(x.shape[1], l2)
    reg[-1] = 0.0  # the bias is not shrunk
    w = np.zeros(x.shape[1])
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-(x @ w)))
        grad = x.T @ (weight * (p - y)) + reg * w
        hess = (x * (weight * p * (1 - p))[:, None]).T @ x + np.diag(reg)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return w[:-1].astype(np.float32), float(w[-1])


#: Cosine similarity at which a sentence is taken to be a given example (the same words, give or
#: take case and punctuation).
SAME = 0.995


class SemanticDetector:
    def __init__(self, cfg: SemanticCheck, index: PhraseIndex, encoder: str = "minilm"):
        from .matchers import _exclusion

        self.cfg = cfg
        self.encoder_name = encoder
        self.exclude = _exclusion(cfg.exclude)
        self._examples: tuple[np.ndarray, np.ndarray] | None = None
        self._head: tuple[np.ndarray, float, np.ndarray, list[str]] | None = None
        # detectors that judge alike (one anchor serves several criteria: the negative-phrasing
        # confirmation, ten) share one judgement of a call's sentences (``find``)
        alike = (encoder, tuple(cfg.like), tuple(cfg.unlike), cfg.train.rows if cfg.train else None,
                 cfg.threshold, cfg.margin, cfg.similar)
        self.judging = _JUDGING.setdefault(alike, len(_JUDGING))

    def examples(self) -> tuple[np.ndarray, np.ndarray]:
        if self._examples is None:
            enc = get_encoder(self.encoder_name)
            self._examples = (enc.matrix(self.cfg.like), enc.matrix(self.cfg.unlike))
        return self._examples

    def head(self) -> tuple[np.ndarray, float, np.ndarray, list[str]]:
        """The trained classifier (``train``), fitted on first use: weights, bias, and the
        vectors and texts of every example that meets the criterion (for the nearest one)."""
        if self._head is None:
            cfg = self.cfg
            assert cfg.train is not None
            # one anchor serves several criteria (the negative-phrasing confirmation, ten): fit once
            key = (self.encoder_name, tuple(cfg.like), tuple(cfg.unlike), cfg.train.rows)
            if key not in _HEADS:
                texts = [*cfg.like, *cfg.unlike, *(t for t, _ in cfg.train.rows)]
                y = np.array([1] * len(cfg.like) + [0] * len(cfg.unlike) + [int(p) for _, p in cfg.train.rows])
                x = get_encoder(self.encoder_name).matrix(texts)
                w, b = fit_logistic(x, y)
                _HEADS[key] = (w, b, x[y == 1], [t for t, keep in zip(texts, y) if keep])
            self._head = _HEADS[key]
        return self._head

    def own_examples(self, vectors: np.ndarray, like_sims: np.ndarray) -> np.ndarray:
        """Per sentence: 1 when it is one of the ``like`` examples (its cosine similarity to one,
        ``like_sims``, is >= ``SAME``), -1 when one of the ``unlike``, else 0. A trained
        classifier can disagree with the examples it learnt from ("You've charged me twice."
        0.41 on the service gate); the rubric's author has the last word, in scoring and in
        ``rubric calibrate`` alike."""
        unlike = self.examples()[1]
        out = np.zeros(len(vectors), dtype=np.int8)
        if len(unlike):
            out[(vectors @ unlike.T).max(axis=1) >= SAME] = -1
        out[like_sims.max(axis=1) >= SAME] = 1
        return out

    def judge(self, vectors: np.ndarray) -> list[Judgement]:
        """Judge sentence vectors (rows) against the examples (or the trained classifier)."""
        cfg = self.cfg
        if cfg.train is not None:
            # the classifier decides, and the sentence must resemble some example that meets the
            # criterion (``similar``): a linear head on 384 dimensions also fires far from its data
            w, b, pos, texts = self.head()
            probs = 1.0 / (1.0 + np.exp(-(vectors @ w + b)))
            sims = vectors @ pos.T  # ``pos`` begins with the ``like`` examples (``head``)
            best = sims.argmax(axis=1)
            own = self.own_examples(vectors, sims[:, :len(cfg.like)])
            out = []
            for i, (j, p) in enumerate(zip(best, probs)):
                sim, p = round(float(sims[i, j]), 3), round(float(p), 3)
                if own[i]:  # one of the criterion's own examples: its author has said what it is
                    p = 1.0 if own[i] > 0 else 0.0
                out.append(Judgement(sim, texts[j], -1.0, "", p >= cfg.threshold and sim >= cfg.similar, p))
            return out
        like, unlike = self.examples()
        sims = vectors @ like.T
        best = sims.argmax(axis=1)
        pos = [round(float(x), 3) for x in sims[np.arange(len(best)), best]]
        if len(unlike):
            csims = vectors @ unlike.T
            cbest = csims.argmax(axis=1)
            con = [round(float(x), 3) for x in csims[np.arange(len(cbest)), cbest]]
        else:
            cbest, con = np.zeros(len(best), dtype=int), [-1.0] * len(best)
        return [Judgement(p, cfg.like[b], c, cfg.unlike[cb] if len(unlike) else "",
                          p >= cfg.threshold and round(p - c, 3) > cfg.margin)
                for p, b, c, cb in zip(pos, best, con, cbest)]

    def prepare(self, ctx: CallContext, segs: list[int]) -> None:
        ctx.want_vectors(self.encoder_name, segs)

    def find(self, ctx: CallContext, segs: list[int]) -> list[Hit]:
        from .matchers import Hit, _drop_excluded

        key = (id(self), tuple(segs))
        if key in ctx.memo:
            return ctx.memo[key]  # type: ignore[no-any-return]
        hits: list[Hit] = []
        cfg = self.cfg
        # every sentence of these segments judged in one product: the examples' matrix (up to a
        # few thousand rows) is read once per call instead of once per turn
        embedded = [(seg, *sentence_vectors(ctx, self.encoder_name, seg)) for seg in segs]
        embedded = [(seg, spans, vectors) for seg, spans, vectors in embedded if spans]
        shared = ("judged", self.judging, tuple(segs))
        if shared not in ctx.memo:
            ctx.memo[shared] = self.judge(np.vstack([v for _, _, v in embedded])) if embedded else []
        judged = iter(ctx.memo[shared])  # type: ignore[call-overload]
        for seg, spans, _ in embedded:
            for (a, b), j in zip(spans, judged):
                if j.matched:
                    low = j.score < cfg.threshold + cfg.confident
                    extra = (("threshold", cfg.threshold), ("contrast", j.contrast),
                             ("contrast_example", j.contrast_example), ("low_confidence", low))
                    if j.probability is not None:
                        extra += (("similarity", j.similarity), ("classifier", cfg.train.shown))  # type: ignore[union-attr]
                    hits.append(Hit(seg, a, b, "semantic", j.example, j.score, extra))
        hits = ctx.memo[key] = _dedupe_windows(_drop_excluded(ctx, hits, self.exclude))
        return hits


def _dedupe_windows(hits: list[Hit]) -> list[Hit]:
    """Overlapping windows of one run that both match are one finding: keep the best."""
    kept: list[Hit] = []
    for h in sorted(hits, key=lambda h: (h.seg, h.start)):
        if kept and kept[-1].seg == h.seg and h.start < kept[-1].end:
            if h.score > kept[-1].score:
                kept[-1] = h
            continue
        kept.append(h)
    return kept


def sentence_vectors(ctx: CallContext, encoder: str, seg: int) -> tuple[list[tuple[int, int]], Any]:
    """A segment's sentence spans and their vectors (rows); every segment a semantic detector
    asked for in ``prepare`` (``ctx.want_vectors``) is embedded in one batch."""
    if (encoder, seg) not in ctx.vectors:
        todo = sorted(i for i in ctx.vectors_wanted.get(encoder, set()) | {seg} if (encoder, i) not in ctx.vectors)
        spans = {i: sentence_spans(ctx.segments[i].text) for i in todo}
        texts = [ctx.segments[i].text[a:b] for i in todo for a, b in spans[i]]
        rows = get_encoder(encoder).matrix(texts)  # one batch for the call
        at = 0
        for i in todo:
            n = len(spans[i])
            ctx.vectors[(encoder, i)] = (spans[i], rows[at:at + n] if n else None)
            at += n
    return ctx.vectors[(encoder, seg)]
