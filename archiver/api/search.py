"""GET /api/v1/search: full-text search over every version of every item, in any language.

The query parameters are those of `archiver search` (archiver/search/query.py,
`SearchRequest.from_params`): `q` in the engine's query language (AND, OR, NOT,
"phrases", wild*cards, field:value), filters, sort, collapse, a page size and a cursor.
A filter of several values is comma-separated (`platform=x,bluesky`): a parameter given
twice is refused, as everywhere in this API. `facets=platform,year` (or `facets=true` for
all of platform, account, kind, event, year) adds counts per value over every match of
the search, for a UI to offer as filters; an unknown facet name is a 400.

Web workers only read the index (one per app, `ApiContext.index`); it is written by
`archiver search catch-up` / `reindex` (or a worker running them), never by a request.
Until the index is built, or while it holds no documents, a search answers 200 with no
hits, `index: "empty"` and `index_lag` counting the records that wait to be indexed; a
search of a built index that is behind says so in `index_lag` too.
"""

from __future__ import annotations

from typing import Any, Literal, get_args

from flask import Blueprint
from pydantic import BaseModel, ConfigDict, Field

from archiver.api.context import api
from archiver.api.routing import Strict, operation
from archiver.search.engine import DATE_FIELDS, FACETS, ORDERS
from archiver.search.query import FACET_VALUES, MAX_QUERY_CHARS, SearchRequest, search

MAX_PAGE = 100  # an API page; the command line allows more
_FILTER_CHARS = 8192  # a comma-separated list (SearchRequest bounds values and their count)


def _filter(description: str) -> Any:
    return Field(None, min_length=1, max_length=_FILTER_CHARS, description=description)


class SearchQuery(Strict):
    """The query parameters of a search (all optional)."""

    # `from` is a Python keyword: the field is `date_from`, the parameter `from`.
    model_config = ConfigDict(extra="forbid", serialize_by_alias=True)

    q: str = Field("", max_length=MAX_QUERY_CHARS,
                   description="Whoosh query language: words (all must match), AND, OR, NOT, "
                               '"a phrase", wild*cards, field:value (fields: text, '
                               "author, name, author_id, platform, account, kind, event, item_id, "
                               "parent_id, lang, hashtag, mention, url, published_day, "
                               "captured_day, seq). Empty: every record.")
    platform: str | None = _filter("Only these platforms (comma-separated)")
    account: str | None = _filter("Only these account ids (comma-separated)")
    kind: str | None = _filter("Only these kinds: post, comment, reply, ...")
    event: str | None = _filter("Only records of these events: created, edited, deleted, "
                                "hidden, restored, observed")
    author: str | None = _filter("Only these authors (id or handle, comma-separated)")
    date_field: Literal["published", "captured"] = Field(
        "published", description="Which time `from` and `to` bound")
    date_from: str | None = Field(None, alias="from", min_length=1, max_length=64,
                                  description="From this date (YYYY-MM-DD, UTC) or RFC 3339 "
                                              "time, inclusive")
    to: str | None = Field(None, min_length=1, max_length=64,
                           description="To this date (the whole UTC day) or RFC 3339 time, "
                                       "inclusive")
    has_edits: bool | None = Field(None, description="Items with (true) or without (false) "
                                                     "more than one version")
    deleted: bool | None = Field(None, description="Items deleted (or not) at their source")
    hidden: bool | None = Field(None, description="Items hidden (or not) by the account")
    sort: Literal["relevance", "newest", "oldest"] = Field(
        "relevance", description="relevance, newest or oldest first")
    collapse: bool = Field(False, description="One hit per item: its latest matching "
                                              "version, with the item's state and versions")
    limit: int = Field(20, ge=1, le=MAX_PAGE, description="Hits per page")
    cursor: str | None = Field(None, min_length=1, max_length=512,
                               pattern=r"^[A-Za-z0-9_-]+$",
                               description="`next_cursor` of the previous page of the same "
                                           "search")
    facets: str | None = Field(
        None, min_length=1, max_length=256, pattern=r"^[A-Za-z_, ]+$",
        description=f"Count every match per value of these facets (comma-separated: "
                    f"{', '.join(FACETS)}; `true` or `all` for all of them). The year is "
                    f"that of `date_field`. Counts are of records, also when collapsed.")

    def params(self) -> dict[str, str]:
        """The parameters as `SearchRequest.from_params` reads them."""
        out: dict[str, str] = {}
        for name, value in self.model_dump(by_alias=True, exclude_none=True).items():
            out[name] = ("true" if value else "false") if isinstance(value, bool) else str(value)
        return out


assert get_args(SearchQuery.model_fields["date_field"].annotation) == DATE_FIELDS
assert get_args(SearchQuery.model_fields["sort"].annotation) == ORDERS


class SearchAuthorOut(BaseModel):
    id: str | None
    handle: str | None
    name: str | None


class SearchItemOut(BaseModel):
    """The item of a collapsed hit, as the catalog has it now."""

    state: str = Field(description="live, deleted or hidden")
    versions: int = Field(description="Distinct contents the item has had")
    latest_seq: int | None = Field(description="Its latest content-carrying record")
    matched: int = Field(description="How many of its records matched the search")
    deleted: bool
    hidden: bool
    latest_shown: bool = Field(description="The hit is the item's latest version")


class SearchHitOut(BaseModel):
    seq: int = Field(description="The record (GET /api/v1/records/{seq})")
    platform: str
    account: str
    item_id: str = Field(description="GET /api/v1/items/{platform}/{item_id}")
    kind: str
    event: str = Field(description="created, edited, deleted, hidden, restored or observed")
    parent_id: str | None
    author: SearchAuthorOut | None
    published_at: str | None
    captured_at: str | None
    lang: str | None
    url: str | None
    hashtags: list[str]
    mentions: list[str]
    snippet: str = Field(description="HTML: the text, escaped, with matches in <mark>")
    score: float | None = Field(description="Relevance (sort=relevance only)")
    item: SearchItemOut | None = Field(description="Collapsed searches only")


class FacetCountOut(BaseModel):
    value: str = Field(description="A platform, account, kind or event (lowercased but "
                                   "for accounts) or a year")
    count: int = Field(description="Matching records with this value")


class SearchResultOut(BaseModel):
    total: int = Field(description="Matching records, or items when collapsed")
    collapsed: bool
    sort: str
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on "
                                                "the last")
    index: Literal["ready", "empty"] = Field(
        description="empty: the index holds no documents yet (not built, or nothing "
                    "archived), so nothing can match")
    index_lag: int = Field(description="Committed records not yet searchable (`archiver "
                                       "search catch-up` indexes them)")
    facets: dict[str, list[FacetCountOut]] | None = Field(
        description=f"Asked for with `facets`: per facet, up to {FACET_VALUES} values with "
                    f"their counts over every match, most frequent first (years: latest "
                    f"first); null when not asked")
    hits: list[SearchHitOut]


def run_search(query: SearchQuery) -> SearchResultOut:
    ctx = api()
    result = search(ctx.index, ctx.archive, SearchRequest.from_params(query.params()))
    out: dict[str, Any] = result.as_dict()
    out["index"] = "ready" if ctx.index.state().documents else "empty"
    return SearchResultOut.model_validate(out)


def blueprint() -> Blueprint:
    bp = Blueprint("search", __name__, url_prefix="/api/v1")

    @bp.get("/search", endpoint="search", provide_automatic_options=False)
    @operation(summary="Search every version of every item, in any language", tag="search",
               query=SearchQuery, response=SearchResultOut, description=__doc__ or "")
    def search_view(query: SearchQuery) -> SearchResultOut:
        return run_search(query)

    return bp
