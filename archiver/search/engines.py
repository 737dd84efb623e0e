"""Which search engine an archive uses: `[search] engine` in the settings.

    whoosh    the embedded default: files under $ARCHIVER_HOME/index, one machine
    postgres  PostgreSQL full-text search in the catalog (a PostgreSQL catalog only),
              shared by every API replica

Both implement `engine.SearchEngine` (with `state` and `close`); `search()` and the
commands need nothing else.
"""

from __future__ import annotations

from archiver.config import Settings
from archiver.errors import ConfigError
from archiver.search.engine import SearchEngine


def open_index(settings: Settings) -> SearchEngine:
    """The search index the settings name (opening it connects to nothing yet)."""
    engine = settings.search.engine
    if engine == "postgres":
        from archiver.search.postgres_engine import PostgresIndex

        return PostgresIndex.for_settings(settings)
    if engine == "whoosh":
        from archiver.search.whoosh_engine import SearchIndex

        return SearchIndex(settings.index_dir)
    raise ConfigError(f"[search] engine must be 'whoosh' or 'postgres', not {engine!r}")
