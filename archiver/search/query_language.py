"""The search query language, parsed without a search library: for engines other than Whoosh.

The language is Whoosh's default query language as the Whoosh engine configures it
(`whoosh_engine.parse_query`), and this parser reproduces Whoosh 2.7.4's reading of a
query string step for step (tagging, groups, wildcards, field names, boosts, operators,
normalization), so that every engine finds the same records for the same string. A
test (`tests/search/test_query_language.py`) compares the two parsers on a corpus of
queries. In short:

- words (all must match), `AND`, `OR`, `NOT`, `ANDNOT`, `ANDMAYBE`, `REQUIRE`, parentheses;
  the operators are upper case and stand between spaces; `NOT` binds tightest, then
  `AND`, `OR`, `ANDNOT`, `ANDMAYBE`, `REQUIRE`, and words side by side are ANDed last;
- `"a phrase"` (`"a phrase"~3`: up to 3 positions between consecutive words),
  `'a single term'`, `wild*card?`, `prefix*`, ranges `[a TO b]` / `{a TO b}`, `term^2`;
- `field:value` and `field:(group)`, with the aliases of `FIELD_ALIASES`.

A word is analyzed as the field analyzes its text (`analyzer.terms` for the text-like
fields, `analyzer.normalize_key` for keys, lower case for some identifiers): a word
that gives several terms is a phrase of them (a key field: all of them), a word that
gives none is dropped, and a query left with nothing raises InvalidRequest.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from archiver.errors import InvalidRequest
from archiver.search import analyzer
from archiver.search.engine import MatchTerms

DEFAULT_FIELD = "text"
TEXT_FIELDS = frozenset({"text", "author_name", "urls"})  # analyzed words, with positions
KEY_FIELDS = frozenset({"hashtags", "mentions", "author_handle"})  # whole normalized keys
LOWER_ID_FIELDS = frozenset({"platform", "kind", "event", "lang"})  # one value, lower case
ID_FIELDS = LOWER_ID_FIELDS | {"account", "item_id", "parent_id", "item_key", "author_id",
                               "published_day", "captured_day"}
NUMERIC_FIELDS = frozenset({"seq"})
UNSEARCHABLE_FIELDS = frozenset({"published", "captured", "time", "published_at",
                                 "captured_at", "url"})  # stored or sort-only
FIELDS = TEXT_FIELDS | KEY_FIELDS | ID_FIELDS | NUMERIC_FIELDS | UNSEARCHABLE_FIELDS
FIELD_ALIASES = {"hashtags": ["hashtag", "tag"], "mentions": ["mention"], "urls": ["url"],
                 "author_handle": ["author", "handle"], "author_name": ["name"]}
QUERY_FIELDS = ("text", "author_name", "author_handle", "author_id", "platform", "account",
                "kind", "event", "item_id", "parent_id", "lang", "hashtags", "mentions",
                "urls", "published_day", "captured_day", "seq")
_ALIAS = {alias: name for name, aliases in FIELD_ALIASES.items() for alias in aliases}
_QMARKS = "?\u055e\u061f\u1367"  # marks the tagger takes for wildcards (Whoosh's list)


# -- the parsed query ----------------------------------------------------------------------

class Query:
    """A node of a parsed query. Leaves name a field; `Every(None)` matches everything."""


@dataclass(frozen=True)
class Term(Query):
    field: str
    text: str | int  # int for the numeric field


@dataclass(frozen=True)
class Phrase(Query):
    field: str
    words: tuple[str, ...]
    slop: int = 1  # consecutive words are 1..slop positions apart


@dataclass(frozen=True)
class Prefix(Query):
    field: str
    text: str


@dataclass(frozen=True)
class Wildcard(Query):
    field: str
    pattern: str  # `*` any run of characters, `?` one character


@dataclass(frozen=True)
class Range(Query):
    field: str
    start: str | int | None
    end: str | int | None
    start_excl: bool = False
    end_excl: bool = False


@dataclass(frozen=True)
class Every(Query):
    field: str | None = None  # None: every document; else those with a value in the field


@dataclass(frozen=True)
class And(Query):
    children: tuple[Query, ...]


@dataclass(frozen=True)
class Or(Query):
    children: tuple[Query, ...]


@dataclass(frozen=True)
class Not(Query):
    child: Query


@dataclass(frozen=True)
class AndNot(Query):
    a: Query
    b: Query


@dataclass(frozen=True)
class AndMaybe(Query):
    """Matches `a`; `b` only adds to the score."""

    a: Query
    b: Query


@dataclass(frozen=True)
class Require(Query):
    """Matches `a` and `b`, scored by `a` only."""

    a: Query
    b: Query


class _Null(Query):
    def __repr__(self) -> str:
        return "Null"


NULL = _Null()  # nothing searchable: dropped from groups


@dataclass(frozen=True)
class _Error(Query):
    message: str
    field: str | None = None


@dataclass(frozen=True)
class _Unknown(Query):
    field: str


def leaves(q: Query) -> Iterator[Query]:
    if isinstance(q, And | Or):
        for child in q.children:
            yield from leaves(child)
    elif isinstance(q, Not):
        yield from leaves(q.child)
    elif isinstance(q, AndNot | AndMaybe | Require):
        yield from leaves(q.a)
        yield from leaves(q.b)
    else:
        yield q


# -- tagging: the query string as a flat list of syntax nodes -------------------------------

@dataclass(eq=False)
class _Node:
    kind: str  # word wild prefix phrase range every field op open close boost ws group
    text: str = ""
    original: str = ""
    fieldname: str | None = None
    slop: int = 1
    start: str | None = None
    end: str | None = None
    start_excl: bool = False
    end_excl: bool = False
    op: str = ""  # operators: not and or andnot andmaybe require; groups: their type
    nodes: list[_Node] = field(default_factory=list)

    @property
    def is_text(self) -> bool:
        return self.kind in ("word", "wild", "prefix", "phrase")

    @property
    def has_fieldname(self) -> bool:
        return self.kind in ("word", "wild", "prefix", "phrase", "range", "field", "group")

    @property
    def has_boost(self) -> bool:
        return self.is_text or (self.kind == "group" and self.op in ("and", "or", "not"))

    def set_fieldname(self, name: str, override: bool = False) -> None:
        if not self.has_fieldname:
            return
        if self.fieldname is None or override:
            self.fieldname = name
        if self.kind == "group":
            for n in self.nodes:
                n.set_fieldname(name, override)


def _group(op: str = "and", nodes: list[_Node] | None = None) -> _Node:
    return _Node("group", op=op, nodes=list(nodes or []))


def _word(text: str) -> _Node:
    return _Node("word", text=text, original=text)


_RANGE = re.compile(r"""
    (?P<open>\{|\[)
    (?P<start>('[^']*?'\s+)|([^\]}]+?(?=[Tt][Oo])))?
    [Tt][Oo]
    (?P<end>(\s+'[^']*?')|([^\]}]+?))?
    (?P<close>}|])
    """, re.VERBOSE | re.UNICODE)


def _range_node(m: re.Match[str]) -> _Node:
    start, end = m.group("start"), m.group("end")
    if start:
        start = start.rstrip()
        if start.startswith("'") and start.endswith("'"):
            start = start[1:-1]
    if end:
        end = end.lstrip()
        if end.startswith("'") and end.endswith("'"):
            end = end[1:-1]
    return _Node("range", original=m.group(0), start=start, end=end,
                 start_excl=m.group("open") == "{", end_excl=m.group("close") == "}")


def _phrase_node(m: re.Match[str]) -> _Node:
    slop = m.group("slop")
    return _Node("phrase", text=m.group("text"), original=m.group(0),
                 slop=int(slop) if slop else 1)


def _boost_node(m: re.Match[str]) -> _Node:
    try:
        float(m.group("boost"))
    except ValueError:
        return _word(m.group(0))
    return _Node("boost", original=m.group(0))


_TAGGERS: list[tuple[re.Pattern[str], Callable[[re.Match[str]], _Node]]] = [
    (re.compile(r"(?<=\s)ANDNOT(?=\s)"), lambda m: _Node("op", op="andnot")),
    (re.compile(r"(?<=\s)ANDMAYBE(?=\s)"), lambda m: _Node("op", op="andmaybe")),
    (re.compile(r"[*]:[*]"), lambda m: _Node("every")),
    (re.compile(r"(^|(?<=\W))'(?P<text>.*?)'(?=\s|\]|[)}]|$)", re.UNICODE),
     lambda m: _word(m.group("text"))),
    (re.compile(f"(?P<text>[*{_QMARKS}])"),
     lambda m: _Node("wild", text=m.group("text"), original=m.group(0))),
    (re.compile(r'"(?P<text>.*?)"(~(?P<slop>[1-9][0-9]*))?'), _phrase_node),
    (re.compile(r"[(]"), lambda m: _Node("open")),
    (re.compile(r"[)]"), lambda m: _Node("close")),
    (re.compile(r"(^|(?<=(\s|[()])))NOT(?=\s)"), lambda m: _Node("op", op="not")),
    (re.compile(r"(?<=\s)AND(?=\s)"), lambda m: _Node("op", op="and")),
    (re.compile(r"(?<=\s)OR(?=\s)"), lambda m: _Node("op", op="or")),
    (re.compile(r"(^|(?<=\s))REQUIRE(?=\s)"), lambda m: _Node("op", op="require")),
    (re.compile(r"\^(?P<boost>[0-9]*(\.[0-9]+)?)($|(?=[ \t\r\n)]))"), _boost_node),
    (re.compile(r"(?P<text>\w+|[*]):", re.UNICODE),
     lambda m: _Node("field", fieldname=m.group("text"), original=m.group(0))),
    (_RANGE, _range_node),
    (re.compile(r"\s+"), lambda m: _Node("ws")),
]


def _tag(text: str) -> list[_Node]:
    out: list[_Node] = []
    prev = pos = 0
    while pos < len(text):
        for expr, make in _TAGGERS:
            m = expr.match(text, pos)
            if m is not None and m.end() > pos:
                if prev < pos:
                    out.append(_word(text[prev:pos]))
                out.append(make(m))
                prev = pos = m.end()
                break
        else:
            pos += 1
    if prev < len(text):
        out.append(_word(text[prev:]))
    return out


# -- the filters, in Whoosh's order ---------------------------------------------------------

def _to_word(n: _Node) -> _Node:
    return _word(n.original)


def _do_groups(nodes: list[_Node]) -> _Node:
    stack = [_group()]
    for n in nodes:
        if n.kind == "open":
            stack.append(_group())
        elif n.kind == "close":
            if len(stack) > 1:
                last = stack.pop()
                stack[-1].nodes.append(last)
        else:
            stack[-1].nodes.append(n)
    top = stack[0]
    for extra in stack[1:]:
        top.nodes.extend(extra.nodes)
    if len(top.nodes) == 1 and top.nodes[0].kind == "group":
        top = top.nodes[0]
    return top


def _clean_boost(group: _Node) -> None:  # the top level only, as Whoosh does
    for i, n in enumerate(group.nodes):
        if n.kind == "boost" and (not i or not group.nodes[i - 1].has_boost):
            group.nodes[i] = _to_word(n)


def _do_wildcards(group: _Node) -> None:
    nodes = group.nodes
    i = 0
    while i < len(nodes):
        n = nodes[i]
        if n.kind == "wild":
            if i < len(nodes) - 1 and nodes[i + 1].is_text:
                n.text += nodes.pop(i + 1).text
            if i > 0 and nodes[i - 1].is_text:
                n.text = nodes.pop(i - 1).text + n.text
            else:
                i += 1
        else:
            if n.kind == "group":
                _do_wildcards(n)
            i += 1
    for n in nodes:
        if (n.kind == "wild" and len(n.text) > 1 and not any(q in n.text for q in _QMARKS)
                and n.text.find("*") == len(n.text) - 1):
            n.kind, n.text = "prefix", n.text[:-1]


def _do_aliases(group: _Node) -> None:
    for n in group.nodes:
        if n.kind == "group":
            _do_aliases(n)
        elif n.has_fieldname and n.fieldname is not None and n.fieldname in _ALIAS:
            n.set_fieldname(_ALIAS[n.fieldname], override=True)


def _do_fieldnames(group: _Node) -> _Node:
    out: list[_Node] = []
    nodes = group.nodes
    i = len(nodes)
    while i > 0:
        i -= 1
        n = nodes[i]
        if n.kind == "field":
            n = _to_word(n)
        elif n.kind == "group":
            n = _do_fieldnames(n)
        if i > 0 and n.kind != "ws" and nodes[i - 1].kind == "field":
            n.set_fieldname(nodes[i - 1].fieldname or "", override=False)
            i -= 1
        out.append(n)
    out.reverse()
    group.nodes = out
    return group


def _remove_whitespace(group: _Node) -> None:
    group.nodes = [n for n in group.nodes if n.kind != "ws"]
    for n in group.nodes:
        if n.kind == "group":
            _remove_whitespace(n)


def _do_boost(group: _Node) -> None:
    out: list[_Node] = []
    for n in group.nodes:
        if n.kind == "group":
            _do_boost(n)
        elif n.kind == "boost":
            if out and out[-1].has_boost:
                continue  # the boost only weighs the score: not kept
            n = _to_word(n)
        out.append(n)
    group.nodes = out


_INFIX_ORDER = ("and", "or", "andnot", "andmaybe", "require")
_MERGING = frozenset({"and", "or"})


def _do_operators(group: _Node) -> _Node:
    nodes = group.nodes
    for op in ("not", *_INFIX_ORDER):
        i = 0
        while i < len(nodes):
            n = nodes[i]
            if n.kind == "op" and n.op == op:
                if op == "not":
                    length = len(nodes)
                    del nodes[i]
                    if i < length - 1:
                        nodes[i] = _group("not", [nodes[i]])
                elif 0 < i < len(nodes) - 1:
                    left, right = nodes[i - 1], nodes[i + 1]
                    if op in _MERGING and left.kind == "group" and left.op == op:
                        left.nodes.append(right)
                        del nodes[i:i + 2]
                    else:
                        nodes[i - 1:i + 2] = [_group(op, [left, right])]
                else:
                    del nodes[i]
            else:
                i += 1
    for i, n in enumerate(nodes):
        if n.kind == "group":
            nodes[i] = _do_operators(n)
    return group


# -- syntax nodes -> queries -------------------------------------------------------------

def _error(message: str) -> Query:
    return _Error(message)


def _terms(fieldname: str, text: str, *, tokenize: bool) -> list[str | int] | Query:
    """The field's analysis of a value: its terms, or a query for a special case."""
    if fieldname in NUMERIC_FIELDS:
        raise AssertionError("numeric fields parse themselves")
    if fieldname in TEXT_FIELDS:
        if not tokenize:
            norm = analyzer.normalize(text)
            return [norm] if norm else []
        return [t.text for t in analyzer.terms(text, for_query=True)]
    if fieldname in KEY_FIELDS:
        keys = text.split() if tokenize else [text]
        return [k for k in (analyzer.normalize_key(k) for k in keys) if k]
    if fieldname in LOWER_ID_FIELDS:
        return [text.lower()]
    return [text]


def _numeric(fieldname: str, text: str) -> Query:
    if text == "*":
        return Every(fieldname)
    value = _number(text)
    if value is None:
        return _Error(f"{text!r} is not a valid number")
    return Term(fieldname, value)


def _number(text: str | None) -> int | None:
    try:
        value = int(text)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return value if 0 <= value < 2**64 else None


def _text_query(n: _Node, default: str) -> Query | None:
    fieldname = n.fieldname or default
    if fieldname not in FIELDS:
        return NULL if n.kind == "phrase" and not n.text.split() else _Unknown(fieldname)
    if fieldname in UNSEARCHABLE_FIELDS:
        raise InvalidRequest(f"cannot parse the query: the field {fieldname!r} cannot be "
                             f"searched")
    if n.kind == "phrase":
        return _phrase_query(n, fieldname)
    text = n.text
    if fieldname in NUMERIC_FIELDS:
        return _numeric(fieldname, text)
    tokenize = n.kind == "word"
    terms = _terms(fieldname, text, tokenize=tokenize)
    assert isinstance(terms, list)
    if len(terms) > 1:
        if fieldname in TEXT_FIELDS:
            return Phrase(fieldname, tuple(str(t) for t in terms))
        return And(tuple(Term(fieldname, t) for t in terms))
    if not terms:
        return None
    term = str(terms[0])
    if n.kind == "prefix":
        return Prefix(fieldname, term)
    if n.kind == "wild":
        return _wildcard(fieldname, term)
    return Term(fieldname, term)


def _wildcard(fieldname: str, text: str) -> Query:
    if text == "*":
        return Every(fieldname)
    if "*" not in text and "?" not in text:
        return Term(fieldname, text)
    if "?" not in text and text.find("*") == len(text) - 1:
        return Prefix(fieldname, text[:-1])
    return Wildcard(fieldname, text)


def _phrase_query(n: _Node, fieldname: str) -> Query:
    text = n.text
    if fieldname in NUMERIC_FIELDS:
        return _numeric(fieldname, text)
    if fieldname in KEY_FIELDS:
        keys = [k for k in (analyzer.normalize_key(k) for k in text.split()) if k]
        if len(keys) > 1:
            raise InvalidRequest(f"cannot parse the query: a phrase cannot search the key "
                                 f"field {fieldname!r}")
        words: list[str] = keys
    elif fieldname in TEXT_FIELDS:
        words = [t.text for t in analyzer.terms(text, for_query=True)]
    else:
        words = [str(w) for w in _terms(fieldname, text, tokenize=True)]  # type: ignore[union-attr]
    if not words:
        return NULL
    if len(words) == 1:
        return Term(fieldname, words[0])
    return Phrase(fieldname, tuple(words), n.slop)


def _range_query(n: _Node, default: str) -> Query:
    fieldname = n.fieldname or default
    if fieldname not in FIELDS:
        empty = n.start == n.end and (n.start_excl or n.end_excl)
        return NULL if empty else _Unknown(fieldname)
    if fieldname in UNSEARCHABLE_FIELDS:
        raise InvalidRequest(f"cannot parse the query: the field {fieldname!r} cannot be "
                             f"searched")
    if fieldname in NUMERIC_FIELDS:
        bounds: list[int | None] = []
        for name, value in (("start", n.start), ("end", n.end)):
            number = None if value is None else _number(value)
            if value is not None and number is None:
                return _Error(f"Range {name} {value!r} is not a valid number")
            bounds.append(number)
        return _range(fieldname, bounds[0], bounds[1], n.start_excl, n.end_excl)
    start: str | None = n.start
    end: str | None = n.end
    if start:
        terms = _terms(fieldname, start, tokenize=False)
        start = str(terms[0]) if isinstance(terms, list) and terms else None
    if end:
        terms = _terms(fieldname, end, tokenize=False)
        end = str(terms[0]) if isinstance(terms, list) and terms else None
    return _range(fieldname, start, end, n.start_excl, n.end_excl)


def _range(fieldname: str, start: Any, end: Any, start_excl: bool, end_excl: bool) -> Query:
    if start in ("", None) and end in ("\uffff", None):
        return Every(fieldname)
    if start == end:
        if start_excl or end_excl:
            return NULL
        return Term(fieldname, start)
    return Range(fieldname, start, end, start_excl, end_excl)


def _to_query(n: _Node, default: str) -> Query | None:
    if n.kind == "group":
        if n.op in ("and", "or"):
            subs = [q for q in (_to_query(c, default) for c in n.nodes) if q is not None]
            return (And if n.op == "and" else Or)(tuple(subs))
        if n.op == "not":
            q = _to_query(n.nodes[0], default)
            return Not(q) if q is not None and q is not NULL else None
        a, b = (_to_query(c, default) for c in n.nodes)
        if a is None and b is None:
            return NULL
        if a is None or b is None:
            return a or b
        return {"andnot": AndNot, "andmaybe": AndMaybe, "require": Require}[n.op](a, b)
    if n.kind == "every":
        return Every()
    if n.kind == "range":
        return _range_query(n, default)
    if n.kind == "op":
        raise InvalidRequest("cannot parse the query: misplaced operator")
    return _text_query(n, default)


# -- normalization (Whoosh's Query.normalize) ------------------------------------------------

def _field_of(q: Query) -> str | None:
    if isinstance(q, Term | Phrase | Prefix | Wildcard | Range | Every | _Unknown):
        return q.field
    if isinstance(q, And | Or):
        names = {_field_of(c) for c in q.children}
        return names.pop() if len(names) == 1 else None
    if isinstance(q, AndNot | AndMaybe | Require):
        f = _field_of(q.a)
        return f if _field_of(q.b) == f else None
    return None


def normalize(q: Query) -> Query:
    if isinstance(q, And | Or):
        cls = type(q)
        subs: list[Query] = []
        for child in q.children:
            child = normalize(child)
            if isinstance(child, cls):
                subs.extend(child.children)
            else:
                subs.append(child)
        if all(s is NULL for s in subs):
            return NULL
        if any(isinstance(s, Every) and s.field is None for s in subs):
            return Every()
        every_fields: set[str | None] = set()
        kept: list[Query] = []
        for s in subs:
            if _field_of(s) in every_fields:
                continue
            if isinstance(s, Every):
                every_fields.add(s.field)
            kept.append(s)
        unique: list[Query] = []
        for s in kept:
            if not isinstance(s, Every) and _field_of(s) in every_fields:
                continue
            if s in unique:
                continue
            unique.append(s)
        unique = [s for s in unique if s is not NULL]
        if not unique:
            return NULL
        if len(unique) == 1:
            return unique[0]
        return cls(tuple(unique))
    if isinstance(q, Not):
        child = normalize(q.child)
        return NULL if child is NULL else Not(child)
    if isinstance(q, AndNot | AndMaybe):
        a, b = normalize(q.a), normalize(q.b)
        if a is NULL:
            return NULL
        return a if b is NULL else type(q)(a, b)
    if isinstance(q, Require):
        a, b = normalize(q.a), normalize(q.b)
        return NULL if a is NULL or b is NULL else Require(a, b)
    return q


# -- the entry points ----------------------------------------------------------------------

def parse(text: str) -> Query:
    """The query for `text` (Every() for an empty one); InvalidRequest naming the problem
    for an unknown field, a bad value, or a query with nothing searchable in it."""
    if not text.strip():
        return Every()
    top = _do_groups(_tag(text))
    _clean_boost(top)
    _do_wildcards(top)
    _do_aliases(top)
    top = _do_fieldnames(top)
    _remove_whitespace(top)
    _do_boost(top)
    top = _do_operators(top)
    try:
        q = _to_query(top, DEFAULT_FIELD)
    except (IndexError, AssertionError):
        raise InvalidRequest("cannot parse the query") from None
    q = NULL if q is None else normalize(q)
    for leaf in leaves(q):
        if isinstance(leaf, _Unknown):
            raise InvalidRequest(f"unknown field {leaf.field!r} in the query; fields are "
                                 f"{', '.join(QUERY_FIELDS)} (quote a value holding ':')")
        if isinstance(leaf, _Error):
            raise InvalidRequest(f"bad value in the query: {leaf.message}")
    if q is NULL:
        raise InvalidRequest("the query has no searchable words in it")
    return q


def match_terms(q: Query) -> MatchTerms:
    """The text terms and patterns a query looks for (not those under NOT), to highlight."""
    exact: set[str] = set()
    patterns: list[str] = []

    def visit(node: Query) -> None:
        if isinstance(node, Not):
            return
        if isinstance(node, AndNot):
            visit(node.a)
            return
        if isinstance(node, AndMaybe | Require):
            visit(node.a)
            visit(node.b)
        elif isinstance(node, And | Or):
            for child in node.children:
                visit(child)
        elif isinstance(node, Phrase):
            if node.field == "text":
                exact.update(node.words)
        elif isinstance(node, Prefix | Wildcard):
            if node.field == "text":
                patterns.append(node.text + "*" if isinstance(node, Prefix) else node.pattern)
        elif isinstance(node, Term) and node.field == "text" and isinstance(node.text, str):
            exact.add(node.text)

    visit(q)
    return MatchTerms(frozenset(exact), tuple(patterns))
