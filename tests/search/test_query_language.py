"""The query language without Whoosh (`query_language`, used by the PostgreSQL engine)
reads every query string as Whoosh's parser does (`whoosh_engine.parse_query`): the
same query tree, the same terms to highlight, the same refusals."""

from __future__ import annotations

import random
from typing import Any

import pytest
from whoosh import query as wq

from archiver.errors import InvalidRequest
from archiver.search import query_language as ql
from archiver.search import whoosh_engine

QUERIES = [
    "flood", "flood warning", "a b OR c d", "NOT x", "sandbags NOT ferry",
    '"mkutano wa hadhara"', '"a b c"~2', "poplav*", "po?lav*", "*", "*:*", "*lav", "x*y",
    "druž*", "DRUŽ*", "druž?bnih", "kind:reply lang:sw", "Kind:reply", "kind: reply", "a:b:c",
    "published_at:x", "published:5", "item_key:x", "seq:5", "seq:[1 TO 5]", "seq:abc",
    "seq:5*", "seq:*", "seq:-1", "seq:1.5", "seq:99999999999999999999", "seq:{3 TO}",
    "seq:[a TO b]", "text:[a TO c]", "platform:Mastodon", "hashtag:#Foo", "author:@Bob",
    'name:"John Smith"', "url:x.com", "کمک\u200cرسانی", "(a OR b", "a)", "flood^2", "a AND",
    "AND a", "NOT", '""', '"!!!"', "!!! flood", "marcusbell_wf", "چرا؟", "published_day:2024-03*",
    'account:"a b"', 'hashtag:"a b"', "'a b'", "a ANDNOT b", "a ANDMAYBE b", "a REQUIRE b",
    "http://x.com/a", "12:30", "東京", "kind:(reply post)", "a OR NOT b",
    "(a OR b) AND c OR d", "item_id:11206*", "lang:[a TO f]", "-flood", "+flood", "f~",
    'a"b c"d', 'kind:"reply"', "kind:re*", "text:*", "hashtag:*", "kind:*", "flood *",
    "NOT !!!", "flood OR !!!", "a ANDNOT !!!", "!!! ANDNOT a", "(!!!)", '"a"', "kind:",
    "x AND (y", "'it''s'", "a^", "^2 a", "a ^2", "(a)^2", "[a TO c]", "[TO c]", "{a TO c]",
    "kind:[a TO]", 'item_id:"x y"', "hashtag:a*", "author:@B*", "name:jo*", "platform:MAST*",
    "account:AB*", "hashtag:[a TO c]", '"a"~3', "NOT (a b)", "a ANDNOT b ANDNOT c",
    "a OR b ANDNOT c", "a AND b ANDMAYBE c OR d", "Every", '"a !!! b"', "ÉCOLE", "ﬁsh",
    "mention:@a@b.c", "x:y", "kind:[A TO Z]", "a* b?", "flood~2", "NOT a AND b",
    "item_id:[1 TO 2}", "lang:EN", "hashtags:a b", "x-abc:def", '"a b"*', "fl??d", "[TO]",
    "[a TO a]", "{a TO a}", "*:* flood", "NOT *:*", "(kind:reply OR kind:post) AND flood",
    "text:(flood warning)", "captured_day:[2026-02-01 TO 2026-02-05]", "10:\"\"druž",
    "مرکز کمک\u200cرسانی", "١٤٠٢", "hashtag:سیل_ورنفیلد", "kmk OR کمک*",
]
PIECES = ["flood", "Road", "druž", "کمک", "\u200c", "رسانی", "_", "'", '"', "(", ")", "*", "?",
          "؟", ":", "kind", "hashtag", "text", "seq", "name", "url", "AND", "OR", "NOT",
          "ANDNOT", "ANDMAYBE", "REQUIRE", " ", " ", " ", " ", "^2", "~2", "[", "]", "{", "}",
          " TO ", "5", "10", "#", "@", "-", "!", "東京", "a", "x.com", "*:*", "lang", "bogus"]
SCHEMA = whoosh_engine.build_schema()


def _unique(children: list[Any]) -> tuple[Any, ...]:
    return tuple(dict.fromkeys(children))  # Whoosh keeps `a a^2` twice: boosts only score


def whoosh_tree(q: Any) -> Any:
    if isinstance(q, wq.Every):
        return ("every", q.fieldname)
    if isinstance(q, wq.Phrase):
        return ("phrase", q.fieldname, tuple(q.words), q.slop)
    if isinstance(q, wq.Prefix):
        return ("prefix", q.fieldname, q.text)
    if isinstance(q, wq.Wildcard):
        return ("wild", q.fieldname, q.text)
    if isinstance(q, wq.TermRange | wq.NumericRange):
        return ("range", q.fieldname, q.start, q.end, q.startexcl, q.endexcl)
    if isinstance(q, wq.Term):
        value = SCHEMA[q.fieldname].from_bytes(q.text) if isinstance(q.text, bytes) else q.text
        return ("term", q.fieldname, value)
    if isinstance(q, wq.Not):
        return ("not", whoosh_tree(q.query))
    for cls, name in ((wq.AndNot, "andnot"), (wq.AndMaybe, "andmaybe"),
                      (wq.Require, "require")):
        if isinstance(q, cls):
            return (name, whoosh_tree(q.a), whoosh_tree(q.b))
    if isinstance(q, wq.And | wq.Or):
        children = _unique([whoosh_tree(c) for c in q.subqueries])
        if len(children) == 1:
            return children[0]
        return ("and" if isinstance(q, wq.And) else "or", children)
    raise AssertionError(repr(q))


def our_tree(q: ql.Query) -> Any:
    if isinstance(q, ql.Every):
        return ("every", q.field)
    if isinstance(q, ql.Phrase):
        return ("phrase", q.field, q.words, q.slop)
    if isinstance(q, ql.Prefix):
        return ("prefix", q.field, q.text)
    if isinstance(q, ql.Wildcard):
        return ("wild", q.field, q.pattern)
    if isinstance(q, ql.Range):
        return ("range", q.field, q.start, q.end, q.start_excl, q.end_excl)
    if isinstance(q, ql.Term):
        return ("term", q.field, q.text)
    if isinstance(q, ql.Not):
        return ("not", our_tree(q.child))
    for cls, name in ((ql.AndNot, "andnot"), (ql.AndMaybe, "andmaybe"),
                      (ql.Require, "require")):
        if isinstance(q, cls):
            return (name, our_tree(q.a), our_tree(q.b))  # type: ignore[attr-defined]
    if isinstance(q, ql.And | ql.Or):
        return ("and" if isinstance(q, ql.And) else "or",
                tuple(our_tree(c) for c in q.children))
    raise AssertionError(repr(q))


def readings(text: str) -> tuple[Any, Any]:
    try:
        parsed = whoosh_engine.parse_query(text)
        whoosh = (whoosh_tree(parsed), whoosh_engine.match_terms(parsed))
    except InvalidRequest:
        whoosh = "refused"
    try:
        ours = ql.parse(text)
        mine = (our_tree(ours), ql.match_terms(ours))
    except InvalidRequest:
        mine = "refused"
    return whoosh, mine


@pytest.mark.parametrize("text", QUERIES)
def test_the_query_language_reads_a_query_as_whoosh_does(text: str) -> None:
    whoosh, ours = readings(text)
    assert ours == whoosh


def test_the_query_language_reads_random_queries_as_whoosh_does() -> None:
    rng = random.Random(5)
    for _ in range(3000):
        text = "".join(rng.choice(PIECES) for _ in range(rng.randint(1, 9)))
        whoosh, ours = readings(text)
        assert ours == whoosh, text


def test_an_empty_query_matches_everything_and_errors_name_the_problem() -> None:
    assert ql.parse("  ") == ql.Every()
    with pytest.raises(InvalidRequest, match="unknown field 'nosuch'"):
        ql.parse("nosuch:x")
    with pytest.raises(InvalidRequest, match="no searchable words"):
        ql.parse("!!! ,,,")
    with pytest.raises(InvalidRequest, match="not a valid number"):
        ql.parse("seq:abc")
