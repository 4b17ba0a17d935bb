"""Text normalization shared by the call context and the matchers: the bottom of rubric/.

Every segment is normalized once (lowercase, punctuation → spaces: the same length as the
original, so spans map back) and split into a token set. It imports nothing from rubric/.
"""

from __future__ import annotations

_ASCII_PUNCT = '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~'
_PUNCT = str.maketrans({**{c: " " for c in _ASCII_PUNCT + "“”…–—"}, "’": "'", "‘": "'"})
#: The same for ASCII text, as a byte table (bytes.translate is several times faster).
_ASCII_TABLE = bytes.maketrans(_ASCII_PUNCT.encode(), b" " * len(_ASCII_PUNCT))


def normalize(text: str) -> str:
    """Lowercase, curly quotes straightened, punctuation → spaces; same length as ``text``."""
    low = text.lower()
    if low.isascii():
        return low.encode("ascii").translate(_ASCII_TABLE).decode("ascii")
    if len(low) != len(text):  # a few characters lowercase to two ("İ"): keep offsets
        low = "".join(c.lower()[:1] or c for c in text)
    return low.translate(_PUNCT)


def tokens(normed: str) -> frozenset[str]:
    return frozenset(normed.replace("'", "").split())
