"""Turn the packaged CTranslate2 Whisper weights into an openai-whisper checkpoint.

The model hubs are unreachable, but the same weights ship as CTranslate2 folders (see
``models.py``). openai-whisper wants a PyTorch file ``{"dims": ..., "model_state_dict": ...}``;
this module rebuilds one from ``model.bin`` (format version 6), once, into the cache folder.

``model.bin`` layout (all little-endian; a "string" is a uint16 length, then that many
bytes ending in NUL):

    uint32 version | string "WhisperSpec" | uint32 revision | uint32 variable count
    per variable: string name | uint8 rank | uint32 dims[rank] | uint8 type id
                  | uint32 byte count | raw data
    uint32 alias count | per alias: string alias | string target

The output projection is an alias of the token embedding, which openai-whisper ties anyway.
"""

from __future__ import annotations

import base64
import gzip
import json
import os
import re
import pickle
import struct
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch

from callqa.asr.models import PACKAGED_MODELS, cache_dir, ct2_model_dir
from callqa.errors import ModelError

# CTranslate2's DataType enum order (include/ctranslate2/types.h).
_DTYPES = (torch.float32, torch.int8, torch.int16, torch.int32, torch.float16, torch.bfloat16)
_LAYER = re.compile(r"(encoder|decoder)/layer_(\d+)/(.+)")
# Per-layer sub-modules whose CTranslate2 name maps one-to-one onto openai-whisper's.
_SIMPLE = {
    "self_attention/layer_norm": "attn_ln",
    "ffn/layer_norm": "mlp_ln",
    "ffn/linear_0": "mlp.0",
    "ffn/linear_1": "mlp.2",
    "attention/layer_norm": "cross_attn_ln",
    "attention/linear_0": "cross_attn.query",
    "attention/linear_2": "cross_attn.out",
    "self_attention/linear_1": "attn.out",
}
_TOP = {
    "encoder/conv1": "encoder.conv1",
    "encoder/conv2": "encoder.conv2",
    "encoder/layer_norm": "encoder.ln_post",
    "decoder/layer_norm": "decoder.ln",
    "decoder/embeddings": "decoder.token_embedding",
}
_PARAM = {"weight": "weight", "bias": "bias", "gamma": "weight", "beta": "bias"}


def _read_string(fh: BinaryIO) -> str:
    (length,) = struct.unpack("<H", fh.read(2))
    return fh.read(length)[:-1].decode("utf-8")


def read_ct2_variables(model_bin: Path) -> dict[str, torch.Tensor]:
    """All variables of a CTranslate2 ``model.bin``, aliases resolved, as CPU tensors."""
    with open(model_bin, "rb") as fh:
        (version,) = struct.unpack("<I", fh.read(4))
        spec = _read_string(fh)
        if version != 6 or spec != "WhisperSpec":
            raise ModelError(f"{model_bin}: expected a CTranslate2 Whisper model (format 6, WhisperSpec), "
                             f"found format {version} {spec!r}; re-convert it with ct2-transformers-converter")
        _revision, count = struct.unpack("<II", fh.read(8))
        variables: dict[str, torch.Tensor] = {}
        for _ in range(count):
            name = _read_string(fh)
            (rank,) = struct.unpack("<B", fh.read(1))
            dims = struct.unpack(f"<{rank}I", fh.read(4 * rank))
            type_id, nbytes = struct.unpack("<BI", fh.read(5))
            data = bytearray(fh.read(nbytes))  # a writable copy that the tensor owns
            variables[name] = torch.frombuffer(data, dtype=_DTYPES[type_id]).reshape(dims)
        (n_aliases,) = struct.unpack("<I", fh.read(4))
        for _ in range(n_aliases):
            alias, target = _read_string(fh), _read_string(fh)
            variables[alias] = variables[target]
    return variables


def _layer_count(variables: dict[str, torch.Tensor], side: str) -> int:
    return 1 + max(int(m.group(2)) for name in variables if (m := _LAYER.match(name)) and m.group(1) == side)


def _dims(v: dict[str, torch.Tensor]) -> dict[str, int]:
    """openai-whisper's ModelDimensions, read off the tensor shapes."""
    n_audio_state, n_mels, _ = v["encoder/conv1/weight"].shape
    return {
        "n_mels": n_mels,
        "n_audio_ctx": v["encoder/position_encodings/encodings"].shape[0],
        "n_audio_state": n_audio_state,
        "n_audio_head": int(v["encoder/num_heads"].item()),
        "n_audio_layer": _layer_count(v, "encoder"),
        "n_vocab": v["decoder/embeddings/weight"].shape[0],
        "n_text_ctx": v["decoder/position_encodings/encodings"].shape[0],
        "n_text_state": v["decoder/embeddings/weight"].shape[1],
        "n_text_head": int(v["decoder/num_heads"].item()),
        "n_text_layer": _layer_count(v, "decoder"),
    }


def _state_dict(v: dict[str, torch.Tensor], source: Path) -> dict[str, torch.Tensor]:
    state = {
        "encoder.positional_embedding": v["encoder/position_encodings/encodings"],
        "decoder.positional_embedding": v["decoder/position_encodings/encodings"],
    }

    def fused(dst: str, name: str, parts: tuple[str, ...]) -> None:
        """Split a fused projection; openai-whisper's key projection has no bias (CT2 stores zeros)."""
        weights = v[f"{name}/weight"].chunk(len(parts))
        biases = v[f"{name}/bias"].chunk(len(parts))
        for part, weight, bias in zip(parts, weights, biases):
            state[f"{dst}.{part}.weight"] = weight.clone()  # clone: do not save the whole fused storage
            if part == "key":
                if bias.any():
                    raise ModelError(f"{source}: {name} has a non-zero key bias, which openai-whisper cannot hold")
            else:
                state[f"{dst}.{part}.bias"] = bias.clone()

    for name, tensor in v.items():
        stem, _, param = name.rpartition("/")
        if (m := _LAYER.match(stem)) is not None:
            side, index, sub = m.groups()
            block = f"{side}.blocks.{index}"
            if sub in _SIMPLE:
                state[f"{block}.{_SIMPLE[sub]}.{_PARAM[param]}"] = tensor
            elif param == "weight" and sub == "self_attention/linear_0":
                fused(f"{block}.attn", stem, ("query", "key", "value"))
            elif param == "weight" and sub == "attention/linear_1":
                fused(f"{block}.cross_attn", stem, ("key", "value"))
        elif stem in _TOP:
            state[f"{_TOP[stem]}.{_PARAM[param]}"] = tensor
    return state


def _alignment_heads_dump(heads: list[list[int]], n_layer: int, n_head: int) -> bytes:
    """openai-whisper's encoding of alignment heads: a bool (layer, head) mask, gzipped, base85."""
    mask = np.zeros((n_layer, n_head), dtype=bool)
    for layer, head in heads:
        mask[layer, head] = True
    return base64.b85encode(gzip.compress(mask.tobytes(), mtime=0))


def convert_ct2_to_openai(ct2_dir: Path, out_path: Path) -> Path:
    """Write the openai-whisper checkpoint of the CTranslate2 Whisper folder ``ct2_dir`` to ``out_path``.

    The checkpoint loads with ``whisper.load_model(out_path)``; it also carries the word-timing
    alignment heads of config.json under ``"alignment_heads"`` (which ``load_openai_model`` applies;
    ``whisper.load_model`` ignores them for a file and falls back to its default heads).
    The file appears atomically: a crash never leaves a half-written checkpoint.
    """
    import whisper.model

    ct2_dir, out_path = Path(ct2_dir), Path(out_path)
    variables = read_ct2_variables(ct2_dir / "model.bin")
    if any(name.endswith("weight_scale") for name in variables):
        raise ModelError(f"{ct2_dir}: the weights are int8-quantized; convert a float16/float32 model instead")
    dims = _dims(variables)
    state = _state_dict(variables, ct2_dir)

    # Check names and shapes against an empty openai-whisper model (meta device: no memory used;
    # built from its two halves because Whisper() itself makes a sparse tensor, which meta lacks).
    d = whisper.model.ModelDimensions(**dims)
    with torch.device("meta"):
        halves = {"encoder": whisper.model.AudioEncoder(d.n_mels, d.n_audio_ctx, d.n_audio_state,
                                                        d.n_audio_head, d.n_audio_layer),
                  "decoder": whisper.model.TextDecoder(d.n_vocab, d.n_text_ctx, d.n_text_state,
                                                       d.n_text_head, d.n_text_layer)}
    expected = {f"{half}.{k}": t.shape for half, module in halves.items() for k, t in module.state_dict().items()}
    got = {k: t.shape for k, t in state.items()}
    if got != expected:
        diff = sorted(set(got.items()) ^ set(expected.items()))[:5]
        raise ModelError(f"{ct2_dir}: the weights do not fit openai-whisper's model (first differences: {diff})")

    checkpoint = {"dims": dims, "model_state_dict": state}
    config = json.loads((ct2_dir / "config.json").read_text(encoding="utf-8"))
    if config.get("alignment_heads"):
        checkpoint["alignment_heads"] = _alignment_heads_dump(config["alignment_heads"],
                                                              dims["n_text_layer"], dims["n_text_head"])

    out_path.parent.mkdir(parents=True, exist_ok=True)
    partial = out_path.with_name(f".{out_path.name}.{os.getpid()}.partial")
    try:
        torch.save(checkpoint, partial)
        partial.replace(out_path)
    finally:
        partial.unlink(missing_ok=True)
    return out_path


def openai_checkpoint(name: str) -> Path:
    """The openai-whisper checkpoint for ``name``: a packaged model (converted once, then reused) or a .pt path."""
    if name in PACKAGED_MODELS:
        target = cache_dir() / "models" / f"openai-whisper-{name}.pt"
        if not target.is_file():
            convert_ct2_to_openai(ct2_model_dir(name), target)
        return target
    path = Path(name).expanduser()
    if path.suffix == ".pt":
        if not path.is_file():
            raise ModelError(f"{path}: no such openai-whisper checkpoint; check the path, "
                             f"or use a packaged model ({', '.join(PACKAGED_MODELS)})")
        return path
    raise ModelError(f"{name!r} is neither a packaged model ({', '.join(PACKAGED_MODELS)}) nor a .pt checkpoint")


def load_openai_model(path: Path, device: str = "cpu"):
    """Load a checkpoint like ``whisper.load_model(path)`` does, plus its stored alignment heads."""
    import whisper.model

    try:
        checkpoint = torch.load(path, map_location=device, weights_only=True)
        model = whisper.model.Whisper(whisper.model.ModelDimensions(**checkpoint["dims"]))
        model.load_state_dict(checkpoint["model_state_dict"])
    except (OSError, RuntimeError, KeyError, TypeError, ValueError, EOFError, pickle.UnpicklingError) as exc:
        raise ModelError(f"{path}: not a loadable openai-whisper checkpoint ({exc}); "
                         f"delete it if it is a cached conversion, or pass another .pt file") from exc
    if checkpoint.get("alignment_heads"):
        model.set_alignment_heads(checkpoint["alignment_heads"])
    return model.to(device)
