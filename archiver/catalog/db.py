"""The catalog database: engine, migrations, the writer lock, and the queries the log needs.

Concurrency between processes goes through the catalog: a write transaction takes
PostgreSQL's transaction-scoped advisory lock, or SQLite's RESERVED lock (BEGIN IMMEDIATE),
so exactly one appender at a time assigns sequence numbers.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, func, select, text
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from archiver.catalog import schema as t
from archiver.errors import ConfigError, StoreUnavailable

_WRITER_LOCK_ID = 0x61726368  # "arch": the advisory lock every appender takes
_MIGRATIONS = Path(__file__).parent / "migrations"


def _engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 60})

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            immediate = conn.get_execution_options().get("writer", False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine
    if url.startswith("postgresql"):
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url[len("postgresql://"):]
        return create_engine(url, pool_pre_ping=True)
    raise ConfigError(f"unsupported catalog URL scheme: {url.split(':', 1)[0]!r}")


class Catalog:
    """SQL catalog: where each record is, item state, tree hashes and checkpoints."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = _engine(url)
        self.dialect = self.engine.dialect.name

    def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision."""
        cfg = Config()
        cfg.set_main_option("script_location", str(_MIGRATIONS))
        with self.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")

    def check(self) -> None:
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except SQLAlchemyError as exc:
            raise StoreUnavailable(f"catalog {self.engine.url!r} is unreachable: "
                                   f"{exc.__class__.__name__}") from None

    @contextmanager
    def writer(self) -> Iterator[Connection]:
        """A write transaction holding the single-writer lock until it commits or rolls back."""
        with self.engine.connect().execution_options(writer=True) as conn, conn.begin():
            if self.dialect == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _WRITER_LOCK_ID})
            yield conn

    @contextmanager
    def reader(self) -> Iterator[Connection]:
        with self.engine.connect() as conn, conn.begin():
            yield conn

    def dispose(self) -> None:
        self.engine.dispose()


# Queries used by the log. They take a connection so the caller owns the transaction.

def head(conn: Connection) -> tuple[int, bytes | None]:
    """(number of records, hash of the last record or None)."""
    row = conn.execute(
        select(t.records.c.seq, t.records.c.record_hash).order_by(t.records.c.seq.desc()).limit(1)
    ).first()
    return (0, None) if row is None else (row.seq + 1, row.record_hash)


def read_tree_hashes(conn: Connection, indexes: Sequence[int]) -> list[bytes]:
    if not indexes:
        return []
    found: dict[int, bytes] = {}
    wanted = sorted(set(indexes))
    for i in range(0, len(wanted), 500):
        chunk = wanted[i:i + 500]
        for row in conn.execute(select(t.tree_hashes.c.idx, t.tree_hashes.c.hash)
                                .where(t.tree_hashes.c.idx.in_(chunk))):
            found[row.idx] = row.hash
    missing = [i for i in indexes if i not in found]
    if missing:
        raise LookupError(f"tree hashes missing from the catalog: {missing[:5]}")
    return [found[i] for i in indexes]


def insert_many(conn: Connection, table: Any, rows: Iterable[dict[str, Any]]) -> None:
    rows = list(rows)
    if rows:
        cols = list(rows[0])
        insert_tuples(conn, table, cols, [tuple(r[c] for c in cols) for r in rows])


def insert_tuples(conn: Connection, table: Any, cols: Sequence[str],
                  rows: Sequence[tuple[Any, ...]]) -> None:
    """Bulk insert through the driver's executemany: the hot path of every append.

    SQLAlchemy's per-row parameter processing costs more than the insert itself at
    thousands of rows per segment, so rows go to the DB-API cursor as plain tuples.
    """
    if not rows:
        return
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    names = ", ".join(f'"{c}"' for c in cols)
    sql = f'INSERT INTO "{table.name}" ({names}) VALUES ({", ".join([mark] * len(cols))})'
    conn.exec_driver_sql(sql, list(rows))


def latest_checkpoint(conn: Connection) -> tuple[int, bytes, bytes] | None:
    row = conn.execute(select(t.checkpoints).order_by(t.checkpoints.c.size.desc()).limit(1)).first()
    return None if row is None else (row.size, row.root, row.note)


def checkpoint_at(conn: Connection, size: int) -> tuple[int, bytes, bytes] | None:
    row = conn.execute(select(t.checkpoints).where(t.checkpoints.c.size == size)).first()
    return None if row is None else (row.size, row.root, row.note)


def get_meta(conn: Connection, key: str) -> str | None:
    return conn.execute(select(t.meta.c.value).where(t.meta.c.key == key)).scalar()


def set_meta(conn: Connection, key: str, value: str) -> None:
    if get_meta(conn, key) is None:
        conn.execute(t.meta.insert().values(key=key, value=value))
    else:
        conn.execute(t.meta.update().where(t.meta.c.key == key).values(value=value))


def count_records(conn: Connection) -> int:
    return conn.execute(select(func.count()).select_from(t.records)).scalar_one()


def is_unreachable(exc: BaseException) -> bool:
    return isinstance(exc, OperationalError)
