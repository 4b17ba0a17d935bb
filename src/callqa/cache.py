"""Transcript cache: audio content hash + engine + model + options → transcript JSON.

Rescoring with a changed rubric reads transcripts from here and never re-runs Whisper.
Entries are written atomically (temp file + rename), so a killed run leaves no half entry.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from callqa.transcript import Transcript


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
