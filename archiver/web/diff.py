"""Two versions of a text side by side, the words that changed marked (difflib).

Words are compared with the whitespace between them kept, so the text reads exactly as
archived (Persian with its zero-width non-joiners, any script) and only words differ.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

_TOKENS = re.compile(r"\s+|[^\s]+")


@dataclass(frozen=True)
class Piece:
    text: str
    changed: bool


def words(text: str) -> list[str]:
    """The text as words and the runs of whitespace between them; joined, the text."""
    return _TOKENS.findall(text)


def side_by_side(old: str, new: str) -> tuple[list[Piece], list[Piece]]:
    """The old and the new text as pieces; changed ones are removed (old) or added (new)."""
    a, b = words(old), words(new)
    left: list[Piece] = []
    right: list[Piece] = []
    matcher = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        same = op == "equal"
        if i2 > i1:
            left.append(Piece("".join(a[i1:i2]), not same))
        if j2 > j1:
            right.append(Piece("".join(b[j1:j2]), not same))
    return left, right
