"""The caches under one folder (``CALLQA_CACHE_DIR`` or the user cache folder):

- transcripts: audio content hash + engine + model + options → transcript JSON. Rescoring with
  a changed rubric reads transcripts from here and never re-runs Whisper. Entries are written
  atomically (temp file + rename), so a killed run leaves no half entry.
- embeddings: encoder id + sentence → its vector (``EmbeddingCache``), so rescoring a stored
  call with an edited rubric embeds only the rubric's new examples.
- models: files built once per machine from packaged weights (the sentence encoder's ONNX graph),
  under ``models/`` or ``CALLQA_MODEL_DIR``; deleting them only costs a rebuild.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from platformdirs import user_cache_dir

from callqa.transcript import Transcript

if TYPE_CHECKING:  # numpy loads with the first vector, not to find the cache folder
    import numpy as np


def cache_dir() -> Path:
    return Path(os.environ.get("CALLQA_CACHE_DIR") or user_cache_dir("callqa"))


def model_dir() -> Path:
    """Where built model files live (tests share one across their per-test cache folders)."""
    return Path(os.environ.get("CALLQA_MODEL_DIR") or cache_dir() / "models")


class TranscriptCache:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str, file: str) -> Transcript | None:
        try:
            data = json.loads(self._path(key).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None  # absent or unreadable: transcribe again
        try:
            transcript = Transcript.from_dict(data, file=file)
        except (KeyError, TypeError, ValueError):
            return None
        return Transcript(**{**_fields(transcript), "extra": {**data.get("extra", {}), "cache": "hit"}})

    def put(self, key: str, transcript: Transcript) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        data = transcript.to_dict() | {"extra": transcript.extra}
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh)
        os.replace(tmp, path)


def _fields(t: Transcript) -> dict:
    return {name: getattr(t, name) for name in t.__dataclass_fields__}


def cache_key(content_hash: str, *parts: str) -> str:
    """One file name from the audio hash and every setting that changes the transcript."""
    import hashlib

    settings = hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]
    return f"{content_hash}-{settings}"


class EmbeddingCache:
    """Sentence vectors by (encoder id, text), in one SQLite file shared by every process.

    Several batch workers read and write it at once (WAL, a busy timeout; a write that still
    fails is skipped: the cache is an optimisation, never a reason for a call to fail)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = None

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fresh = not self.path.exists()
            self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            if fresh:
                os.chmod(self.path, 0o600)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("CREATE TABLE IF NOT EXISTS vectors (key BLOB PRIMARY KEY, dim INTEGER, vec BLOB)")
        return self._db

    @staticmethod
    def key(encoder: str, text: str) -> bytes:
        return hashlib.blake2b(f"{encoder}\0{text}".encode(), digest_size=16).digest()

    def get(self, encoder: str, texts: Sequence[str]) -> dict[str, np.ndarray]:
        import numpy as np

        keys = {self.key(encoder, t): t for t in texts}
        out: dict[str, np.ndarray] = {}
        items = list(keys)
        try:
            db = self._conn()
            for i in range(0, len(items), 500):
                chunk = items[i:i + 500]
                rows = db.execute(f"SELECT key, vec FROM vectors WHERE key IN ({','.join('?' * len(chunk))})", chunk)
                for k, vec in rows:
                    out[keys[k]] = np.frombuffer(vec, dtype=np.float32)
        except sqlite3.Error:
            return out
        return out

    def put(self, encoder: str, vectors: dict[str, np.ndarray]) -> None:
        import numpy as np

        rows = [(self.key(encoder, t), v.shape[0], np.ascontiguousarray(v, dtype=np.float32).tobytes())
                for t, v in vectors.items()]
        try:
            db = self._conn()
            db.execute("BEGIN")
            db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?, ?)", rows)
            db.execute("COMMIT")
        except sqlite3.Error:
            if self._db is not None and self._db.in_transaction:
                self._db.execute("ROLLBACK")
