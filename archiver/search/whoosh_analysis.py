"""The analyzer (`archiver.search.analyzer`) as Whoosh analyzers: a Tokenizer and Filters.

Whoosh calls an analyzer with `mode="index"` when indexing and `mode="query"` when the
query parser analyzes a term; `tokenize=False` (wildcards, prefixes) passes the whole
value through, normalized, so `druž*` and `druz*` are the same prefix.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from whoosh.analysis import Filter, Token, Tokenizer

from archiver.search import analyzer


class WordTokenizer(Tokenizer):
    """Raw words of any script (`analyzer.split_words`), with positions and spans."""

    def __call__(self, value: str, positions: bool = False, chars: bool = False,
                 keeporiginal: bool = False, removestops: bool = True, start_pos: int = 0,
                 start_char: int = 0, tokenize: bool = True, mode: str = "",
                 **kwargs: Any) -> Iterator[Token]:
        t = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        t.whole = not tokenize
        t.boost = 1.0
        t.stopped = False
        if not tokenize:
            t.original = t.text = value
            t.pos, t.startchar, t.endchar = start_pos, start_char, start_char + len(value)
            yield t
            return
        for pos, (word, start, end) in enumerate(analyzer.split_words(value)):
            t.text = word
            if keeporiginal:
                t.original = word
            t.pos = start_pos + pos
            t.startchar, t.endchar = start_char + start, start_char + end
            yield t


class TermFilter(Filter):
    """Normalize each word and expand compounds (`analyzer.expand_word`), renumbering
    positions so that a compound's parts take consecutive positions."""

    def __call__(self, tokens: Iterator[Token]) -> Iterator[Token]:
        position = None
        for t in tokens:
            if getattr(t, "whole", False):
                t.text = analyzer.normalize(t.text)
                if t.text:
                    yield t
                continue
            if position is None:
                position = t.pos
            for_query = t.mode == "query"
            expanded = analyzer.expand_word(t.text, t.startchar if t.chars else 0,
                                            for_query=for_query)
            for term, offset, start, end in expanded:
                t.text = term
                t.pos = position + offset
                if t.chars:
                    t.startchar, t.endchar = start, end
                yield t
            if expanded:
                position += 1 + max(offset for _, offset, _, _ in expanded)


class KeyTokenizer(Tokenizer):
    """Whitespace-separated keys (hashtags, mentions, handles), or the whole value."""

    def __call__(self, value: str, positions: bool = False, chars: bool = False,
                 keeporiginal: bool = False, removestops: bool = True, start_pos: int = 0,
                 start_char: int = 0, tokenize: bool = True, mode: str = "",
                 **kwargs: Any) -> Iterator[Token]:
        t = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        t.boost = 1.0
        t.stopped = False
        keys = value.split() if tokenize else [value]
        for pos, key in enumerate(keys):
            t.text = key
            t.pos = start_pos + pos
            yield t


class KeyFilter(Filter):
    """`analyzer.normalize_key`: normalized, without a leading `#` or `@`."""

    def __call__(self, tokens: Iterator[Token]) -> Iterator[Token]:
        for t in tokens:
            t.text = analyzer.normalize_key(t.text)
            if t.text:
                yield t


def text_analyzer() -> Any:
    """Words of any script, normalized, compounds expanded: the `text`-like fields."""
    return WordTokenizer() | TermFilter()


def key_analyzer() -> Any:
    """Exact keys, normalized: hashtags, mentions, author handles."""
    return KeyTokenizer() | KeyFilter()
