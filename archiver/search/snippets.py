"""Highlighted snippets: a window of a record's text, HTML-escaped, matches in `<mark>`.

Pure code over the analyzer's terms, so a match is marked however the text was typed
(`druzabnih` marks `družabnih`, `كمك` marks `کمک`) and every engine marks the same.
"""

from __future__ import annotations

from html import escape

from archiver.search import analyzer
from archiver.search.engine import MatchTerms

WIDTH = 240  # characters of text in a snippet
LEAD = 40  # characters shown before the first match of the window


def match_spans(text: str, match: MatchTerms) -> list[tuple[int, int]]:
    """The character spans of `text` whose terms the query looks for, merged, in order."""
    spans = sorted((t.start, t.end) for t in analyzer.terms(text) if match.matches(t.text))
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _window(text: str, spans: list[tuple[int, int]], width: int) -> tuple[int, int]:
    if len(text) <= width:
        return 0, len(text)
    if not spans:
        start = 0
    else:  # the window that shows the most matches, starting a little before the first
        best, most, j = 0, 0, 0
        for i, (first, _) in enumerate(spans):
            j = max(j, i)
            while j < len(spans) and spans[j][1] <= first + width - LEAD:
                j += 1
            if j - i > most:
                best, most = i, j - i
        start = max(0, spans[best][0] - LEAD)
        space = text.rfind(" ", 0, start)
        if space != -1 and start - space < 20:
            start = space + 1
    end = min(len(text), start + width)
    space = text.find(" ", end)
    if end < len(text) and space != -1 and space - end < 20:
        end = space
    return start, end


def snippet(text: str, match: MatchTerms, *, width: int = WIDTH) -> str:
    """HTML for element content: the part of `text` with the most matches, `<`, `>` and
    `&` escaped, each match in <mark>."""
    if not text:
        return ""
    spans = match_spans(text, match)
    start, end = _window(text, spans, width)
    out = ["…" if start > 0 else ""]
    at = start
    for s, e in spans:
        if e <= start or s >= end:
            continue
        s, e = max(s, start), min(e, end)
        out.append(escape(text[at:s], quote=False))
        out.append(f"<mark>{escape(text[s:e], quote=False)}</mark>")
        at = e
    out.append(escape(text[at:end], quote=False))
    out.append("…" if end < len(text) else "")
    return "".join(out)
