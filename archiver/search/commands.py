"""`archiver search`: query the index, follow the log, rebuild the index.

    archiver search QUERY [--json] [--platform P] [--from DATE] [--to DATE] [--collapse]
                          [--facets platform,year | --facets all] ...
    archiver search reindex       rebuild the index from the store
    archiver search catch-up      index what the log holds beyond the index
    archiver search status        high-water mark, documents, lag

(To search for the word "reindex" itself: `archiver search query reindex`.)
"""

from __future__ import annotations

import html
import json
import re
import sys
from typing import Any

import click

from archiver.search.engine import FACETS, ORDERS, IndexLocked
from archiver.search.engines import open_index
from archiver.search.query import SearchRequest, SearchResult, parse_facets, search


def _emit(obj: Any) -> None:
    click.echo(json.dumps(obj, ensure_ascii=False))


def index_after_ingest(archive: Any) -> None:
    """Index what an ingest just archived; when another process holds the index, say on
    stderr that indexing is deferred (the records are archived either way)."""
    index = open_index(archive.settings)
    try:
        index.catch_up(archive.appender)
    except IndexLocked as exc:
        click.echo(f"warning: search indexing deferred ({exc}); "
                   f"{index.lag(archive.appender)} records are not yet searchable", err=True)
    finally:
        index.close()


class _SearchGroup(click.Group):
    """A group whose first argument is a query unless it names a subcommand."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or args[0] in self.commands or args[0] in ("--help", "-h"):
            return super().parse_args(ctx, args)
        return super().parse_args(ctx, ["query", *args])


@click.group("search", cls=_SearchGroup)
def search_group() -> None:
    """Full-text search over every version of every item, in any language."""


@search_group.command("query")
@click.argument("query", required=False, default="")
@click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object.")
@click.option("--platform", multiple=True, help="Only this platform (repeatable).")
@click.option("--account", multiple=True, help="Only this account id (repeatable).")
@click.option("--kind", multiple=True, help="Only this kind: post, comment, reply, ...")
@click.option("--event", multiple=True, help="Only records of this event (created, edited, "
              "deleted, hidden, restored, observed).")
@click.option("--author", multiple=True, help="Only this author (id or handle).")
@click.option("--from", "date_from", default=None, help="From this date or RFC 3339 time.")
@click.option("--to", "date_to", default=None, help="To this date (inclusive) or time.")
@click.option("--captured", is_flag=True, help="--from/--to bound the capture time, not "
              "the publication time.")
@click.option("--has-edits/--no-edits", default=None, help="Items with (without) edits.")
@click.option("--deleted/--not-deleted", default=None, help="Items deleted (or not) at "
              "their source.")
@click.option("--hidden/--not-hidden", default=None, help="Items hidden (or not).")
@click.option("--sort", type=click.Choice(ORDERS), default="relevance", show_default=True)
@click.option("--collapse", is_flag=True, help="One result per item: its latest matching "
              "version, with the item's state and version count.")
@click.option("--limit", type=int, default=20, show_default=True)
@click.option("--cursor", default=None, help="Continue from a previous page.")
@click.option("--facets", "facet_names", multiple=True, help=f"Count every match per value "
              f"of these facets ({', '.join(FACETS)}; comma-separated or repeated; `all` "
              f"for every one).")
@click.pass_obj
def search_query(obj: Any, query: str, as_json: bool, platform: tuple[str, ...],
                 account: tuple[str, ...], kind: tuple[str, ...], event: tuple[str, ...],
                 author: tuple[str, ...], date_from: str | None, date_to: str | None,
                 captured: bool, has_edits: bool | None, deleted: bool | None,
                 hidden: bool | None, sort: str, collapse: bool, limit: int,
                 cursor: str | None, facet_names: tuple[str, ...]) -> None:
    """Search: Whoosh query language (AND, OR, NOT, "phrase", wild*, field:value)."""
    archive = obj.archive()
    request = SearchRequest(
        query=query, platforms=platform, accounts=account, kinds=kind, events=event,
        authors=author, date_field="captured" if captured else "published",
        date_from=date_from, date_to=date_to, has_edits=has_edits, deleted=deleted,
        hidden=hidden, sort=sort, collapse=collapse, limit=limit, cursor=cursor,
        facets=parse_facets([n for raw in facet_names for n in raw.split(",")]))
    index = open_index(archive.settings)
    try:
        result = search(index, archive, request)
    finally:
        index.close()
    if result.index_lag:
        click.echo(f"warning: {result.index_lag} records are not yet searchable "
                   f"(`archiver search catch-up` indexes them)", err=True)
    if as_json:
        _emit(result.as_dict())
    else:
        _print(result)


def _terminal(snippet: str) -> str:
    """A snippet for a terminal: matches in bold on a TTY, in [brackets] otherwise."""
    tty = sys.stdout.isatty()
    parts = re.split(r"<mark>(.*?)</mark>", snippet, flags=re.S)
    return "".join((click.style(html.unescape(p), bold=True, fg="yellow") if tty
                    else f"[{html.unescape(p)}]") if i % 2 else html.unescape(p)
                   for i, p in enumerate(parts)).replace("\n", " ")


def _print(result: SearchResult) -> None:
    noun = "items" if result.collapsed else "records"
    click.echo(f"{result.total} matching {noun}")
    for h in result.hits:
        when = (h.published_at or h.captured_at or "")[:16].replace("T", " ")
        who = (h.author.handle or h.author.name or h.author.id) if h.author else ""
        line = f"seq {h.seq}  {when}  {h.platform}  {who}  {h.kind} {h.event}"
        if h.item is not None:
            state = "" if h.item.state == "live" else f"{h.item.state}, "
            line += (f"  [{state}{h.item.versions} version(s), "
                     f"{h.item.matched} matching record(s)]")
        click.echo(line)
        if h.snippet:
            click.echo("    " + _terminal(h.snippet))
    if result.next_cursor:
        click.echo(f"more: --cursor {result.next_cursor}")
    for name, counts in (result.facets or {}).items():
        click.echo(f"{name}: " + (", ".join(f"{value} ({n})" for value, n in counts) or "-"))


@search_group.command("reindex")
@click.pass_obj
def search_reindex(obj: Any) -> None:
    """Rebuild the index from the store and the keys (searches use the old one meanwhile)."""
    archive = obj.archive()
    index = open_index(archive.settings)
    try:
        count = index.reindex(archive.appender)
        _emit({"reindexed": True, "documents": count, "lag": index.lag(archive.appender)})
    finally:
        index.close()


@search_group.command("catch-up")
@click.pass_obj
def search_catch_up(obj: Any) -> None:
    """Index every committed record the index does not hold yet."""
    archive = obj.archive()
    index = open_index(archive.settings)
    try:
        count = index.catch_up(archive.appender)
        _emit({"indexed": count, "lag": index.lag(archive.appender)})
    finally:
        index.close()


@search_group.command("status")
@click.pass_obj
def search_status(obj: Any) -> None:
    """The index's high-water mark, document count and lag behind the log."""
    archive = obj.archive()
    index = open_index(archive.settings)
    try:
        state = index.state()
        _emit({"indexed_through": state.indexed_through, "documents": state.documents,
               "lag": index.lag(archive.appender)})
    finally:
        index.close()


def register(cli: click.Group) -> None:
    """Add `archiver search` to the archiver command."""
    cli.add_command(search_group)
