"""What callqa writes for people to read (terminal, HTML, Markdown, CSV): user text made printable."""

from __future__ import annotations

#: Terminal control characters (C0 but tab and newline, DEL, C1): each becomes "?".
_CONTROL = {c: "?" for c in (*range(0x20), 0x7F, *range(0x80, 0xA0)) if c not in (0x09, 0x0A)}


def printable(text: str) -> str:
    """``text`` with terminal control characters as "?": a file or agent name holding "\\x1b[2J"
    cannot clear the screen of whoever views the console, the report or the CSV."""
    return text.translate(_CONTROL)
