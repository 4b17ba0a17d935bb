"""What callqa writes for people to read (terminal, HTML, Markdown, CSV): user text made
printable, and files written atomically."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TextIO

#: Terminal control characters (C0 but tab and newline, DEL, C1): each becomes "?".
_CONTROL = {c: "?" for c in (*range(0x20), 0x7F, *range(0x80, 0xA0)) if c not in (0x09, 0x0A)}


def printable(text: str) -> str:
    """``text`` with terminal control characters as "?": a file or agent name holding "\\x1b[2J"
    cannot clear the screen of whoever views the console, the report or the CSV."""
    return text.translate(_CONTROL)


@contextmanager
def atomic_write(path: Path, newline: str | None = None) -> Iterator[TextIO]:
    """A text file that appears at ``path`` whole or not at all: written to a temporary file in
    the same folder, then renamed over ``path``. A symlink at ``path`` is replaced, never written
    through (a link planted in a report folder cannot aim a report at another file)."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # as a plain open() would create it (mkstemp: 0600)
        with open(fd, "w", encoding="utf-8", newline=newline) as fh:
            yield fh
        os.replace(temporary, path)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
