"""One text normalization for every search engine: a query matches however the text was typed.

Pure functions, no search library: the Whoosh engine wraps them as a Tokenizer and a Filter
(`whoosh_analysis.py`); a PostgreSQL engine can build its `tsvector` from the same `terms`.

`normalize(text)` is the canonical spelling of a string:

- NFKC (compatibility forms: ligatures, full-width letters, Arabic presentation forms),
  then case folding (`ß` -> `ss`, Turkish `İ` -> `i`);
- accent folding: combining diacritics (U+0300-036F and the other generic combining
  blocks) are dropped after canonical decomposition, and the Latin letters that do not
  decompose are mapped (`ø` -> `o`, `ł` -> `l`, `đ` -> `d`, `æ` -> `ae`, ...), so
  `druzabnih` == `družabnih`;
- Arabic script: harakat (U+064B-065F), superscript alef (U+0670), Quranic annotation
  marks and tatweel (U+0640) are dropped; hamza and madda carriers fold to their base
  letter (`أ إ آ` -> `ا`, `ئ` -> `ی`, `ؤ` -> `و`); Arabic yeh and alef maksura `ي ى` ->
  Persian `ی`, Arabic kaf `ك` -> Persian `ک`; teh marbuta and the heh forms `ة ۀ ە ہ ۃ`
  -> `ه` (so `همهٔ`, `همۀ` and `همه` are one word);
- Hebrew points and cantillation are dropped;
- every decimal digit of any script (Arabic-Indic U+0660-0669, Persian U+06F0-06F9,
  Devanagari, ...) becomes its ASCII digit, so `۱۴۰۳` == `١٤٠٣` == `1403`;
- invisible format characters are removed: zero-width non-joiner and joiner, soft
  hyphen, word joiner, byte order mark and the bidirectional marks.

The result is a fixed point: `normalize(normalize(x)) == normalize(x)` for every string.

`terms(text)` cuts text into words of any script (letters, digits and combining marks,
`_`, and an apostrophe between letters), normalizes each, and drops nothing for being
short or common: there are no stop words and no stemming, because no single language's
rules are right for text in all of them. Two extra rules:

- *Compound words.* A word whose parts are joined by ZWNJ (Persian `می‌خواهیم`), an
  underscore (`#سيل_ورنفيلد`, `marcusbell_wf`) or an apostrophe (`don't`) is indexed
  both as its parts at consecutive positions and as the joined form at the first part's
  position. A query for the joined form (typed without the ZWNJ), for one part, for the
  parts separated by spaces, or for the word as written (its parts as a phrase) all
  find it. A query is analyzed into parts only (`for_query=True`).
- *Scripts written without spaces* (Han, Hiragana, Katakana, Thai, Lao, Khmer,
  Myanmar) are cut into single characters with their combining marks; a query for a
  word in them becomes a phrase of those characters.

Hashtags and mentions are ordinary words in the text (`#poplave` gives `poplave`);
`hashtags()` and `mentions()` extract them whole for their own fields.
"""

from __future__ import annotations

import functools
import re
import sys
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass

MAX_TERM_CHARS = 100  # longer "words" (base64 blobs, runs of digits) are not indexed

_SEPARATORS = "_'\u2019\u02bc\u200c"  # split a word into parts: _ ' ’ ʼ ZWNJ
_JOINERS = "\u200c\u200d\u00ad\u2060"  # inside a word: ZWNJ, ZWJ, soft hyphen, word joiner
_INVISIBLE = "\u200e\u200f\u061c\u202a-\u202e\u2066-\u2069\ufeff"  # bidi marks, BOM

# Scripts written without spaces between words: cut into characters.
_UNSPACED = ("\u0e00-\u0e7f\u0e80-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff"
             "\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f"
             "\U00020000-\U0003134f")

_DROP_RANGES = (
    (0x0300, 0x036F), (0x1AB0, 0x1AFF), (0x1DC0, 0x1DFF), (0x20D0, 0x20FF),
    (0xFE20, 0xFE2F),  # generic combining diacritics (Latin, Greek, Cyrillic)
    (0x0591, 0x05BD), (0x05C1, 0x05C2), (0x05C4, 0x05C5),  # Hebrew points, cantillation
    (0x0610, 0x061A), (0x064B, 0x065F), (0x06D6, 0x06DC), (0x06DF, 0x06E4),
    (0x06E7, 0x06E8), (0x06EA, 0x06ED), (0x08D3, 0x08E1), (0x08E3, 0x08FF),  # Arabic marks
    (0x202A, 0x202E), (0x2066, 0x2069),  # bidirectional embeddings and isolates
)
_DROP_CHARS = (0x05BF, 0x05C7, 0x0670, 0x0640,  # Hebrew rafe, qamats qatan; superscript
                                                # alef; tatweel
               0x00AD, 0x200C, 0x200D, 0x2060, 0xFEFF, 0x200E, 0x200F, 0x061C)
_MAP = {
    "\u064a": "\u06cc", "\u0649": "\u06cc",  # ي ى -> ی
    "\u0643": "\u06a9",  # ك -> ک
    "\u0629": "\u0647", "\u06c3": "\u0647", "\u06d5": "\u0647", "\u06c1": "\u0647",  # ة ۃ ە ہ
    "\u0671": "\u0627", "\u0672": "\u0627", "\u0673": "\u0627",  # alef wasla, wavy hamza
    "\u00f8": "o", "\u0111": "d", "\u0142": "l", "\u0127": "h", "\u0131": "i",
    "\u00e6": "ae", "\u0153": "oe", "\u00fe": "th", "\u00f0": "d", "\u0167": "t",
    "\u0180": "b", "\u0188": "c", "\u0192": "f", "\u01e5": "g", "\u0268": "i",
    "\u2019": "'", "\u02bc": "'",
}


@functools.cache
def _fold_table() -> dict[int, str | None]:
    """str.translate table for the step after decomposition (built once, on first use)."""
    table: dict[int, str | None] = {}
    for lo, hi in _DROP_RANGES:
        for cp in range(lo, hi + 1):
            table[cp] = None
    for cp in _DROP_CHARS:
        table[cp] = None
    for ch, to in _MAP.items():
        table[ord(ch)] = to
    for cp in range(0x80, sys.maxunicode + 1):
        ch = chr(cp)
        if unicodedata.category(ch) == "Nd":
            table[cp] = str(unicodedata.decimal(ch))
    return table


def _fold_once(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).casefold()
    text = unicodedata.normalize("NFD", text).translate(_fold_table())
    return unicodedata.normalize("NFC", text)


def normalize(text: str) -> str:
    """The canonical spelling of `text` for search; idempotent (see the module docstring)."""
    if text.isascii():
        return text.lower()
    for _ in range(8):
        folded = _fold_once(text)
        if folded == text:
            break
        text = folded
    return text


@functools.lru_cache(maxsize=200_000)
def normalize_term(part: str) -> str:
    """Normalize one word part, keeping only word characters (NFKC can add others: `½`)."""
    term = normalize(part)
    if not _is_word(term):
        term = normalize("".join(ch for ch in term if _is_word(ch)))
    return term if len(term) <= MAX_TERM_CHARS else ""


def _is_word(text: str) -> bool:
    return _patterns().word_only.fullmatch(text) is not None


@dataclass(frozen=True)
class _Patterns:
    word: re.Pattern[str]  # a word as it appears in text
    word_only: re.Pattern[str]  # a string made only of word characters (after folding)
    runs: re.Pattern[str]  # a word cut into unspaced characters and spaced runs
    parts: re.Pattern[str]  # a spaced run cut at separators
    hashtag: re.Pattern[str]
    mention: re.Pattern[str]


def _ranges(pred: object) -> str:
    """A regex character-class body for every code point whose category satisfies pred."""
    out, start, prev = [], None, None
    for cp in range(sys.maxunicode + 1):
        if pred(unicodedata.category(chr(cp))):  # type: ignore[operator]
            if start is None:
                start = cp
            prev = cp
        elif start is not None:
            out.append(re.escape(chr(start)) + ("-" + re.escape(chr(prev)) if prev != start
                                                else ""))  # type: ignore[arg-type]
            start = None
    if start is not None:
        out.append(re.escape(chr(start)) + "-" + re.escape(chr(prev)))  # type: ignore[arg-type]
    return "".join(out)


@functools.cache
def _patterns() -> _Patterns:
    """Compiled on first use: the combining-mark class is computed from unicodedata."""
    marks = _ranges(lambda cat: cat[0] == "M")
    inner = rf"\w{marks}{_JOINERS}{_INVISIBLE}"
    word = rf"[{inner}]+(?:['\u2019][{inner}]+)*"
    return _Patterns(
        word=re.compile(word),
        word_only=re.compile(rf"[\w{marks}]+"),
        runs=re.compile(rf"[{_UNSPACED}][{marks}]*|(?:(?![{_UNSPACED}]).)+", re.S),
        parts=re.compile(rf"[^{_SEPARATORS}]+"),
        hashtag=re.compile(rf"(?<![\w&/#])#([{inner}]+)"),
        mention=re.compile(r"(?<![\w@/])@([\w.\-]+(?:@[\w\-]+(?:\.[\w\-]+)+)?)"),
    )


@dataclass(frozen=True, slots=True)
class Term:
    """One indexed (or query) term: its text, position, and its span in the source text."""

    text: str
    position: int
    start: int
    end: int


def split_words(text: str) -> Iterator[tuple[str, int, int]]:
    """Raw words of `text` with their spans; unspaced scripts come out one character each."""
    p = _patterns()
    unspaced = re.compile(f"[{_UNSPACED}]")
    for m in p.word.finditer(text):
        word = m.group()
        if unspaced.search(word) is None:
            yield word, m.start(), m.end()
            continue
        for run in p.runs.finditer(word):
            yield run.group(), m.start() + run.start(), m.start() + run.end()


def expand_word(raw: str, start: int, *, for_query: bool = False
                ) -> list[tuple[str, int, int, int]]:
    """The terms of one raw word as (text, position offset, start, end); [] when none.

    A compound word (see the module docstring) gives its parts at offsets 0..n-1 and, when
    indexing, also the joined form at offset 0.
    """
    relative = _expand(raw, for_query)
    if not start:
        return list(relative)
    return [(term, offset, start + s, start + e) for term, offset, s, e in relative]


@functools.lru_cache(maxsize=200_000)
def _expand(raw: str, for_query: bool) -> tuple[tuple[str, int, int, int], ...]:
    """`expand_word` at offset 0, cached: words repeat (Zipf), so most are looked up."""
    parts = []
    for m in _patterns().parts.finditer(raw):
        term = normalize_term(m.group())
        if term:
            parts.append((term, m.start(), m.end()))
    if len(parts) <= 1:
        return ((parts[0][0], 0, 0, len(raw)),) if parts else ()
    out = [(term, i, s, e) for i, (term, s, e) in enumerate(parts)]
    if not for_query:
        joined = "".join(term for term, _, _ in parts)
        if len(joined) <= MAX_TERM_CHARS:
            out.insert(0, (joined, 0, 0, len(raw)))
    return tuple(out)


def terms(text: str, *, for_query: bool = False) -> Iterator[Term]:
    """Every term of `text` in order, with positions (compounds take one per part)."""
    position = 0
    for raw, start, _ in split_words(text):
        expanded = expand_word(raw, start, for_query=for_query)
        for term, offset, s, e in expanded:
            yield Term(term, position + offset, s, e)
        if expanded:
            position += 1 + max(offset for _, offset, _, _ in expanded)


def tokens(text: str, *, for_query: bool = False) -> list[str]:
    """The term texts of `text`, as an engine indexes them (or as a query looks for them)."""
    return [t.text for t in terms(text, for_query=for_query)]


def normalize_key(value: str) -> str:
    """A hashtag, mention or handle as one exact term: normalized, without its `#` or `@`."""
    return normalize(value.strip()).lstrip("#@")


def hashtags(text: str) -> list[str]:
    """The hashtags in `text`, normalized, without `#`, each once, in order."""
    found = (normalize_key(m.group(1)) for m in _patterns().hashtag.finditer(text))
    return list(dict.fromkeys(t for t in found if t))


def mentions(text: str) -> list[str]:
    """The @mentions in `text` (`@user` or `@user@server`), normalized, without `@`."""
    found = (normalize_key(m.group(1).rstrip(".-")) for m in _patterns().mention.finditer(text))
    return list(dict.fromkeys(t for t in found if t))


_URL = re.compile(r"https?://[^\s<>\"'`]+", re.I)


def urls(text: str) -> list[str]:
    """The http(s) URLs in `text`, without trailing punctuation, each once, in order."""
    found = (m.group().rstrip(".,;:!?)]}") for m in _URL.finditer(text))
    return list(dict.fromkeys(found))
