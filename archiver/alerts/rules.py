"""Alert rules: what each kind watches, validated once when a rule is created.

Kinds:
- `item_deleted`, `item_edited`: a capture of an official account's item (posts by
  default) with that event; `accounts` limits it to some `platform:account_id`s.
- `comment_match`: a comment or reply whose text matches `terms` (word lists, profanity)
  or `patterns` (regular expressions) or `presets` (phone, email, national_id). Text and
  terms are compared after the search analyzer's normalisation (case, accents, Persian and
  Arabic letter forms, ZWNJ, digits in any script), so a term matches however it was typed.
- `collection_failed`: a collection run that failed, or a collector alert other than a
  credential about to expire (credentials rejected, a gap).
- `credential_expiring`: the collectors' `token_expiring` alerts.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import regex

from archiver.errors import InvalidRequest
from archiver.search.analyzer import normalize

KINDS = ("item_deleted", "item_edited", "comment_match", "collection_failed",
         "credential_expiring")
MAX_PATTERN = 500
MAX_TERMS = 5000
_WORD = regex.compile(r"\w+")
MATCH_TIMEOUT = 0.05  # seconds per pattern and text: a catastrophic pattern gives up
# Digits of every script are folded to ASCII before patterns run (Persian ۰۹۱۲ = 0912).
PRESETS = {
    "phone": r"(?<!\d)(?:\+?\d[\d \-().]{7,16}\d)(?!\d)",
    "email": r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+",
    "national_id": r"(?<!\d)(?:\d{3}-\d{2}-\d{4}|\d{10}|\d{3}-\d{6}-\d)(?!\d)",
}


def fold_digits(text: str) -> str:
    """Every decimal digit (Persian, Arabic-Indic, Devanagari, ...) as its ASCII digit."""
    return "".join(str(unicodedata.digit(c)) if c.isdigit() and not c.isascii()
                   and unicodedata.decimal(c, None) is not None else c for c in text)


def matchable(text: str) -> str:
    """The form terms and patterns are matched against: the analyzer's normalisation, then
    ASCII digits; ZWNJ and other joiners read as spaces so Persian words stay apart."""
    text = text.replace("\u200c", " ")
    return fold_digits(normalize(text))


@dataclass(frozen=True)
class CompiledRule:
    id: str
    name: str
    kind: str
    accounts: frozenset[str]
    kinds: frozenset[str]
    terms: tuple[str, ...] = ()
    patterns: tuple[Any, ...] = field(default=())

    def covers(self, platform: str, account: str, kind: str) -> bool:
        return ((not self.accounts or f"{platform}:{account}" in self.accounts)
                and kind in self.kinds)

    def matches(self, text: str) -> list[str]:
        """What of the text matched: the terms and the pattern sources, not the text."""
        folded = matchable(text)
        words = " " + " ".join(_WORD.findall(folded)) + " "
        hits = [t for t in self.terms if f" {t} " in words]
        for source, pattern in self.patterns:
            try:
                if pattern.search(folded, timeout=MATCH_TIMEOUT):
                    hits.append(source)
            except TimeoutError:
                hits.append(f"{source} (gave up after {MATCH_TIMEOUT}s)")
        return hits


def _strings(value: Any, name: str, limit: int) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > limit or not all(
            isinstance(v, str) and v.strip() for v in value):
        raise InvalidRequest(f"{name} is a list of at most {limit} non-empty strings")
    return [v.strip() for v in value]


def check_config(kind: str, config: Mapping[str, Any]) -> dict[str, Any]:
    """The normalised config of a rule of `kind`; InvalidRequest naming what is wrong."""
    if kind not in KINDS:
        raise InvalidRequest(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    allowed = {"accounts", "kinds"} | ({"terms", "patterns", "presets"}
                                       if kind == "comment_match" else set())
    extra = sorted(set(config) - allowed)
    if extra:
        raise InvalidRequest(f"unknown setting(s) for a {kind} rule: {', '.join(extra)}")
    accounts = _strings(config.get("accounts"), "accounts", 1000)
    for a in accounts:
        if ":" not in a:
            raise InvalidRequest(f"an account is PLATFORM:ACCOUNT_ID, not {a!r}")
    default_kinds = (["comment", "reply"] if kind == "comment_match" else ["post"])
    out: dict[str, Any] = {"accounts": accounts,
                           "kinds": _strings(config.get("kinds"), "kinds", 20) or default_kinds}
    if kind == "comment_match":
        out["terms"] = _strings(config.get("terms"), "terms", MAX_TERMS)
        out["patterns"] = _strings(config.get("patterns"), "patterns", 100)
        out["presets"] = _strings(config.get("presets"), "presets", len(PRESETS))
        for p in out["presets"]:
            if p not in PRESETS:
                raise InvalidRequest(f"unknown preset {p!r}; presets are "
                                     f"{', '.join(PRESETS)}")
        for p in out["patterns"]:
            _compile(p)
        if not (out["terms"] or out["patterns"] or out["presets"]):
            raise InvalidRequest("a comment_match rule needs terms, patterns or presets")
    return out


def _compile(source: str) -> Any:
    if len(source) > MAX_PATTERN:
        raise InvalidRequest(f"a pattern is at most {MAX_PATTERN} characters")
    try:
        return regex.compile(source, regex.IGNORECASE | regex.UNICODE)
    except (regex.error, ValueError, OverflowError, RecursionError) as exc:
        raise InvalidRequest(f"invalid pattern {source!r}: {exc}") from None


def compile_rule(rule_id: str, name: str, kind: str, config: Mapping[str, Any]
                 ) -> CompiledRule:
    patterns = [(p, _compile(p)) for p in config.get("patterns", [])]
    patterns += [(f"preset:{p}", _compile(PRESETS[p])) for p in config.get("presets", [])]
    terms = tuple(dict.fromkeys(" ".join(_WORD.findall(matchable(t)))
                                for t in config.get("terms", [])))
    return CompiledRule(rule_id, name, kind, frozenset(config.get("accounts", [])),
                        frozenset(config.get("kinds", [])), tuple(t for t in terms if t),
                        tuple(patterns))
