"""Search: indexing throughput, index size and query latency of both engines and the
SQLite FTS5 reference, in one run over one synthetic multilingual archive.

Builds a synthetic corpus (English, Slovenian, Swahili, Persian words, Zipf distributed,
50 accounts on 3 platforms over 3 years, 5% edited once, 1% deleted afterwards), ingests
it through the real pipeline (capture -> log -> catalog; filesystem store, PostgreSQL
catalog in a fresh schema, dropped afterwards), then indexes the same committed records
with each engine, reading them from the log as a catch-up does:

- whoosh:   `SearchIndex.catch_up` (the embedded default; `--procs` writer processes);
- postgres: `PostgresIndex.catch_up` (full-text search in the catalog);
- fts5:     the reference: the same documents, the same normalized tokens
            (`analyzer.tokens`), in an SQLite FTS5 table with the filter columns beside
            it; queried with plain SQL (top 20 + an exact count, as the engines give).

Query times are end to end for the two engines (`archiver.search.query.search`: the
domain's catalog look-ups, snippets and lag included) and the SQL alone for FTS5; each
type is run with the same random sample of words on every engine; p50/p95 in ms. The
medians are what to quote on a shared machine.

    .venv/bin/python benchmarks/search.py                        # 20,000 records
    .venv/bin/python benchmarks/search.py --records 1000000 --runs 30 --out bench.json
    .venv/bin/python benchmarks/search.py --engines whoosh,fts5  # SQLite catalog

Without `postgres` among `--engines` the catalog is SQLite. A PostgreSQL catalog is
needed for the postgres engine (`--postgres-url`).

On a busy machine a 1,000,000-record run is long: `--workdir DIR --keep-schema` keeps the
archive (and prints the catalog URL); `--resume DIR --catalog-url URL` reuses it (corpus
and ingest skipped; a Whoosh index left half built by a killed run is caught up from its
mark, as after a crash), and `--parallel` builds the engines' indexes at the same time
in separate processes (each rate is then measured while the others run).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from archiver.config import load_settings  # noqa: E402
from archiver.ingest import read_jsonl  # noqa: E402
from archiver.search import analyzer, log_source  # noqa: E402
from archiver.search.engine import FACETS, QueryPlan  # noqa: E402
from archiver.search.postgres_engine import PostgresIndex  # noqa: E402
from archiver.search.query import SearchRequest, search  # noqa: E402
from archiver.search.whoosh_engine import SearchIndex  # noqa: E402
from archiver.wiring import init_archive, open_archive  # noqa: E402

_SEED_TEXT = (
    "the to of and a in is for on that with flood road closed park meeting council river "
    "water level residents update emergency shelter bridge street warning crews sandbags "
    "volunteers recycling centre works bus route school library "
    "in je na za se da v ne z so po ki bo cesta poplave občina zaprta družabnih omrežjih "
    "obvestilo prosimo promet most ulica reka prostovoljci "
    "na ya wa kwa ni la za mafuriko barabara mkutano taarifa maji soko mabasi shule "
    "asante jiji wakazi mvua daraja "
    "و در به از که این را با برای سیل شهرداری جاده کمک\u200cرسانی خیابان آب پارک "
    "می\u200cخواهیم خانواده\u200cها نوروز ۱۴۰۳ اطلاعیه مرکز"
)
SEED_WORDS = _SEED_TEXT.split()
_SYLLABLE_TEXT = "ka ri mo ne lu sa te vi do pa zo mi ha ku re no ba si to ma ra ze li po da ve ju"
SYLLABLES = _SYLLABLE_TEXT.split()
VOCABULARY = 30_000
START = datetime(2023, 1, 1, tzinfo=UTC)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
SPAN_DAYS = 3 * 365
ACCOUNTS = [f"acct{i:03d}" for i in range(50)]
PLATFORMS = ("mastodon", "x", "bluesky")


def vocabulary(size: int, rng: random.Random) -> list[str]:
    words = list(dict.fromkeys(SEED_WORDS))
    seen = set(words)
    while len(words) < size:
        w = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))
        if w not in seen:
            seen.add(w)
            words.append(w)
    return words


def write_corpus(path: Path, n: int, seed: int) -> tuple[list[str], list[str]]:
    """JSON Lines observations into `path`: ~n records (5% edited once, 1% deleted
    afterwards). Returns the vocabulary in Zipf rank order and the first 2,000 texts."""
    rng = random.Random(seed)
    words = vocabulary(VOCABULARY, rng)
    cum, total = [], 0.0
    for rank in range(1, len(words) + 1):
        total += 1 / rank**1.07
        cum.append(total)
    texts: list[str] = []
    later: list[str] = []
    kinds = ("post", "post", "comment", "reply")
    langs = ("en", "sl", "sw", "fa")
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    written = i = 0
    with path.open("w", encoding="utf-8") as out:
        while written + len(later) < n:
            account = ACCOUNTS[rng.randrange(50)]
            published = START + timedelta(seconds=rng.randrange(SPAN_DAYS * 86_400))
            text = " ".join(rng.choices(words, cum_weights=cum, k=rng.randint(12, 60)))
            if len(texts) < 2000:
                texts.append(text)
            obs = {"platform": PLATFORMS[int(account[4:]) % 3], "account": account,
                   "item_id": f"{seed}-{i}", "kind": kinds[rng.randrange(4)], "text": text,
                   "author": {"id": account, "handle": f"{account}@social.example",
                              "name": f"Account {account}"},
                   "lang": langs[rng.randrange(4)], "published_at": published.isoformat(),
                   "observed_at": (published + timedelta(minutes=3)).isoformat()}
            out.write(dumps(obs) + "\n")
            written += 1
            roll = rng.random()
            if roll < 0.05:
                extra = " ".join(rng.choices(words, cum_weights=cum, k=5))
                later.append(dumps({**obs, "text": f"{text} {extra}", "observed_at": (
                    published + timedelta(hours=2)).isoformat()}))
            elif roll < 0.06:
                gone = {k: obs[k] for k in ("platform", "account", "item_id", "kind")}
                gone.update(event="deleted",
                            observed_at=(published + timedelta(days=1)).isoformat())
                later.append(dumps(gone))
            i += 1
        for line in later:
            out.write(line + "\n")
    return words, texts


def timed(fn: Callable[[], Any], runs: int) -> tuple[float, float, float]:
    """(median, p95, first) in ms; the first (untimed for the figures) warms caches."""
    t0 = time.perf_counter()
    fn()
    first = (time.perf_counter() - t0) * 1000
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    samples.sort()
    return (statistics.median(samples),
            samples[min(len(samples) - 1, int(len(samples) * 0.95))], first)


@contextmanager
def postgres_schema(url: str, *, keep: bool = False) -> Iterator[str]:
    """A fresh schema in the PostgreSQL database at `url`, dropped afterwards (unless
    `keep`)."""
    from sqlalchemy import create_engine, text

    schema = f"bench_{uuid.uuid4().hex[:12]}"
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"
    finally:
        if not keep:
            with engine.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


def analyze_catalog(archive: Any) -> None:
    """Planner statistics for the catalog just loaded, as autovacuum would gather them."""
    from sqlalchemy import text

    with archive.catalog.engine.connect().execution_options(
            isolation_level="AUTOCOMMIT") as conn:
        for table in ("records", "items", "data_keys", "segments"):
            conn.execute(text(f"ANALYZE {table}"))


def _postgres_size(index: PostgresIndex) -> int:
    from sqlalchemy import text

    with index.catalog.reader() as conn:
        return int(conn.execute(text(
            "SELECT pg_total_relation_size('search_documents')")).scalar_one())


# -- the SQLite FTS5 reference ------------------------------------------------------------

class Fts5:
    """The reference: FTS5 over the analyzer's tokens, filter columns in a plain table."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.db = sqlite3.connect(path)
        self.db.executescript("""
            PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;
            CREATE VIRTUAL TABLE IF NOT EXISTS fts USING fts5(tokens,
                tokenize = 'unicode61 remove_diacritics 0');
            CREATE TABLE IF NOT EXISTS meta (seq INTEGER PRIMARY KEY, platform TEXT, account TEXT,
                kind TEXT, event TEXT, published INTEGER, day TEXT);""")

    def build(self, appender: Any, batch: int = 10_000) -> int:
        """Read every committed capture record from the log, as the engines do."""
        mark, added = -1, 0
        while True:
            rows = log_source.pending(appender, mark, batch)
            if not rows:
                break
            docs = list(log_source.read_documents(appender, rows))
            with self.db:
                self.db.executemany("INSERT INTO fts (rowid, tokens) VALUES (?, ?)", (
                    (d.seq, " ".join(analyzer.tokens(d.text or "", for_query=True)))
                    for d in docs))
                self.db.executemany("INSERT INTO meta VALUES (?, ?, ?, ?, ?, ?, ?)", (
                    (d.seq, d.platform.lower(), d.account, d.kind.lower(), d.event.lower(),
                     d.published_us, None if d.published_us is None else
                     (EPOCH + timedelta(microseconds=d.published_us)).strftime("%Y-%m-%d"))
                    for d in docs))
            mark, added = rows[-1].seq, added + len(docs)
        with self.db:
            self.db.execute("CREATE INDEX meta_account ON meta (account, published, seq)")
            self.db.execute("CREATE INDEX meta_published ON meta (published, seq)")
            self.db.execute("INSERT INTO fts (fts) VALUES ('optimize')")
        return added

    def size(self) -> int:
        return sum(p.stat().st_size for p in self.path.parent.glob(self.path.name + "*"))

    def run(self, r: SearchRequest) -> tuple[int, list[int], dict[str, dict[str, int]]]:
        """Top 20 and the exact count (and facets) of a request the benchmark makes."""
        match = " AND ".join(
            '"' + " ".join(analyzer.tokens(part.strip('"'), for_query=True)) + '"'
            for part in _parts(r.query))
        where, params = ["fts MATCH ?"], [match]
        if r.accounts:
            where.append("m.account = ?")
            params.append(r.accounts[0])
        start, end = r.bounds()
        if start is not None:
            where += ["m.published >= ?", "m.published <= ?"]
            params += [start, end]
        cond = " AND ".join(where)
        order = "f.rank" if r.sort == "relevance" else "m.published DESC, m.seq DESC"
        top = [row[0] for row in self.db.execute(
            f"SELECT f.rowid FROM fts f JOIN meta m ON m.seq = f.rowid WHERE {cond} "
            f"ORDER BY {order} LIMIT 20", params)]
        total = self.db.execute(f"SELECT count(*) FROM fts f JOIN meta m ON m.seq = f.rowid "
                                f"WHERE {cond}", params).fetchone()[0]
        facets: dict[str, dict[str, int]] = {}
        if r.facets:
            facets = {n: {} for n in FACETS}
            for *values, n in self.db.execute(
                    f"SELECT m.platform, m.account, m.kind, m.event, substr(m.day, 1, 4), "
                    f"count(*) FROM fts f JOIN meta m ON m.seq = f.rowid WHERE {cond} "
                    f"GROUP BY 1, 2, 3, 4, 5", params):
                for name, value in zip(FACETS, values, strict=True):
                    if value is not None:
                        facets[name][value] = facets[name].get(value, 0) + n
        return total, top, facets

    def close(self) -> None:
        self.db.close()


def _parts(query: str) -> list[str]:
    """A benchmark query's parts: one phrase, or words that must all match."""
    return [query] if query.startswith('"') else query.split()


# -- the run ------------------------------------------------------------------------------

def engine_name(name: str, args: argparse.Namespace) -> str:
    return {"whoosh": f"whoosh (procs={args.procs})", "postgres": "postgres",
            "fts5": "sqlite fts5 (reference)"}[name]


def open_engine(name: str, args: argparse.Namespace, archive: Any, tmp: Path) -> Engine:
    settings = archive.settings
    if name == "whoosh":
        w = SearchIndex(settings.index_dir, procs=args.procs)
        return Engine(engine_name(name, args),
                      lambda: w.catch_up(archive.appender, batch=args.batch),
                      lambda: sum(p.stat().st_size for p in settings.index_dir.rglob("*")
                                  if p.is_file()),
                      (lambda r: w.run(plan_of(r))) if args.query_only
                      else (lambda r: search(w, archive, r)), w.close,
                      lambda: w.state().documents)
    if name == "postgres":
        pg = PostgresIndex.for_settings(settings)
        return Engine(engine_name(name, args),
                      lambda: pg.catch_up(archive.appender, batch=args.batch),
                      lambda: _postgres_size(pg),
                      (lambda r: pg.run(plan_of(r))) if args.query_only
                      else (lambda r: search(pg, archive, r)), pg.close,
                      lambda: pg.state().documents)
    fts = Fts5(tmp / "fts5.db")
    return Engine(engine_name(name, args), lambda: fts.build(archive.appender, args.batch),
                  fts.size, fts.run, fts.close,
                  lambda: fts.db.execute("SELECT count(*) FROM meta").fetchone()[0])


def build(e: Engine) -> dict[str, Any]:
    """Index the archive with one engine; its figures."""
    t0 = time.perf_counter()
    indexed = e.build()
    seconds = time.perf_counter() - t0
    size = e.size()
    log(f"{e.name}: indexed {indexed:,} records in {seconds:.0f} s = "
        f"{indexed / max(seconds, 1e-9):,.0f} records/s; index {size / 1e6:,.1f} MB")
    return {"indexed": indexed, "seconds": round(seconds, 1),
            "per_s": round(indexed / max(seconds, 1e-9)), "size_mb": round(size / 1e6, 1)}


def _build_in_child(name: str, args: argparse.Namespace, tmp: str, env: dict[str, str],
                    queue: Any) -> None:
    settings = load_settings(env={"ARCHIVER_HOME": str(Path(tmp) / "home"), **env})
    archive = open_archive(settings)
    e = open_engine(name, args, archive, Path(tmp))
    figures = build(e)
    e.close()
    archive.close()
    queue.put((e.name, figures))

@dataclass
class Engine:
    name: str
    build: Callable[[], int]
    size: Callable[[], int]
    query: Callable[[SearchRequest], Any]
    close: Callable[[], None]
    documents: Callable[[], int]


def plan_of(r: SearchRequest) -> QueryPlan:
    """The engine's plan for a benchmark request (what `search` makes of it)."""
    start, end = r.bounds()
    return QueryPlan(query=r.query, terms={"account": r.accounts} if r.accounts else {},
                     start_us=start, end_us=end, order=r.sort, limit=r.limit,
                     facets=r.facets)


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--records", type=int, default=20_000)
    ap.add_argument("--runs", type=int, default=30, help="timed runs per query type")
    ap.add_argument("--procs", type=int, default=1, help="Whoosh writer processes")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--engines", default="whoosh,postgres,fts5")
    ap.add_argument("--out", help="also write the figures as JSON to this file")
    ap.add_argument("--batch", type=int, default=10_000, help="records per index commit")
    ap.add_argument("--workdir", help="work here and keep it (default: a temporary directory)")
    ap.add_argument("--keep-schema", action="store_true", help="keep the PostgreSQL schema")
    ap.add_argument("--resume", help="a kept workdir: reuse its corpus and archive")
    ap.add_argument("--catalog-url", help="with --resume: the kept archive's catalog URL")
    ap.add_argument("--query-only", action="store_true",
                    help="with --resume: time queries on the indexes as they are (engine "
                         "level: `run(plan)`, no catalog look-ups or lag count), no indexing")
    ap.add_argument("--parallel", action="store_true",
                    help="build the engines' indexes at the same time, one process each")
    ap.add_argument("--postgres-url", default=os.environ.get(
        "ARCHIVER_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"),
        help="the database for a PostgreSQL catalog (a fresh schema is made and dropped)")
    args = ap.parse_args()
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    unknown = set(engines) - {"whoosh", "postgres", "fts5"}
    if unknown or not engines:
        ap.error(f"--engines: whoosh, postgres, fts5 (not {', '.join(sorted(unknown))})")

    if args.resume:
        env = {"ARCHIVER_CATALOG_URL": args.catalog_url} if args.catalog_url else {}
        run(args, engines, Path(args.resume), env)
        return
    with (contextlib.nullcontext(args.workdir) if args.workdir
          else tempfile.TemporaryDirectory(prefix="search-bench-")) as tmp:
        Path(tmp).mkdir(parents=True, exist_ok=True)
        if "postgres" in engines:
            with postgres_schema(args.postgres_url, keep=args.keep_schema) as url:
                log(f"catalog: {url}")
                run(args, engines, Path(tmp), {"ARCHIVER_CATALOG_URL": url})
        else:
            run(args, engines, Path(tmp), {})


def log(message: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def run(args: argparse.Namespace, names: list[str], tmp: Path, env: dict[str, str]) -> None:
    """One benchmark: corpus, ingest, each engine's index, then the same queries on each."""
    results: dict[str, Any] = {"records": args.records, "engines": {}, "queries": {}}
    settings = load_settings(env={"ARCHIVER_HOME": str(tmp / "home"), **env})
    if args.resume:
        archive = open_archive(settings)
        words = vocabulary(VOCABULARY, random.Random(args.seed))
        with (tmp / "corpus.jsonl").open(encoding="utf-8") as f:
            texts = [json.loads(line)["text"] for line, _ in zip(f, range(2000), strict=False)]
        summary = None
        results["corpus"] = json.loads((tmp / "corpus.json").read_text())
        if not args.query_only:
            (tmp / "fts5.db").unlink(missing_ok=True)
    else:
        archive, _ = init_archive(settings, "bench.archiver/search")
        t0 = time.perf_counter()
        words, texts = write_corpus(tmp / "corpus.jsonl", args.records, args.seed)
        log(f"corpus written in {time.perf_counter() - t0:.0f} s")
        t0 = time.perf_counter()
        with (tmp / "corpus.jsonl").open("rb") as f:
            summary = archive.ingestor.ingest(o for _, o in read_jsonl(
                f, max_text_bytes=100_000, max_line_bytes=1_000_000))
        ingest_s = time.perf_counter() - t0
        if "ARCHIVER_CATALOG_URL" in env:
            analyze_catalog(archive)
        results["corpus"] = {"archived": summary.archived, "events": dict(summary.events),
                             "ingest_per_s": round(summary.archived / ingest_s)}
        (tmp / "corpus.json").write_text(json.dumps(results["corpus"]))
    log(f"corpus: {results['corpus']}")

    if args.parallel:
        ctx = multiprocessing.get_context("spawn")
        queue = ctx.Queue()
        children = [ctx.Process(target=_build_in_child, args=(
            name, args, str(tmp), env, queue)) for name in names]
        for child in children:
            child.start()
        for _ in children:
            name, figures = queue.get()
            results["engines"][name] = figures
        for child in children:
            child.join()
    engines = [open_engine(name, args, archive, tmp) for name in names]
    if args.query_only:
        for e in engines:
            results["engines"][e.name] = {"documents": e.documents(), "size_mb": round(
                e.size() / 1e6, 1)}
            log(f"{e.name}: {e.documents():,} documents, {e.size() / 1e6:,.1f} MB")
    elif not args.parallel:
        for e in engines:
            results["engines"][e.name] = build(e)
    if args.resume and "whoosh" in names and not args.query_only:
        results["engines"][engine_name("whoosh", args)]["note"] = (
            "resumed: the rate is of the records indexed in this run")
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=1, ensure_ascii=False))

    rng = random.Random(args.seed + 1)
    rank = {w: i for i, w in enumerate(words)}
    rare, common, very_common, mid = words[3000:20000], words[40:80], words[3:13], words[20:400]
    phrases = [f'"{a} {b}"' for text in texts
               for a, b in zip(text.split(), text.split()[1:], strict=False)
               if 20 <= rank[a] <= 400 and 20 <= rank[b] <= 400]

    def filtered(facets: tuple[str, ...] = ()) -> SearchRequest:
        year = rng.choice((2023, 2024, 2025))
        return SearchRequest(query=rng.choice(mid), accounts=(rng.choice(ACCOUNTS),),
                             date_from=f"{year}-01-01", date_to=f"{year}-12-31",
                             sort="newest", facets=facets)

    makers: dict[str, Callable[[], SearchRequest]] = {
        "rare term": lambda: SearchRequest(query=rng.choice(rare)),
        "common term": lambda: SearchRequest(query=rng.choice(common)),
        "two-term AND": lambda: SearchRequest(query=" ".join(rng.sample(mid, 2))),
        "phrase": lambda: SearchRequest(query=rng.choice(phrases)),
        "term + year + account, newest": filtered,
        "term + year + account + facets": lambda: filtered(FACETS),
        "common term + all five facets": lambda: SearchRequest(query=rng.choice(common),
                                                                facets=FACETS),
        "very common term (~half)": lambda: SearchRequest(query=rng.choice(very_common)),
    }
    header = f"{'query (top 20)':32}" + "".join(f"{e.name[:24]:>26}" for e in engines)
    print(f"\n{results['corpus']['archived']:,} records; p50 / p95 ms (first run)\n{header}")
    for kind, make in makers.items():
        runs = args.runs if "very common" not in kind else max(5, args.runs // 3)
        sample = [make() for _ in range(runs + 1)]
        cells, row = [], {}
        for e in engines:
            queue = iter(sample)
            p50, p95, first = timed(lambda e=e, q=queue: e.query(next(q)), runs)
            totals = [_total(e.query(r)) for r in sample[:5]]
            row[e.name] = {"p50_ms": round(p50, 1), "p95_ms": round(p95, 1),
                           "first_ms": round(first, 1), "matches": [min(totals), max(totals)]}
            cells.append(f"{p50:9.1f} / {p95:7.1f} ({first:,.0f})")
        results["queries"][kind] = row
        print(f"{kind:32}" + "".join(f"{c:>26}" for c in cells), flush=True)
    print("\nmatches (first 5 requests of each type, min to max):")
    for kind, row in results["queries"].items():
        spans = {tuple(v["matches"]) for v in row.values()}
        print(f"  {kind:32} " + "; ".join(f"{a:,}-{b:,}" for a, b in sorted(spans))
              + ("" if len(spans) == 1 else "  (engines differ)"))
    print()
    for name, e in results["engines"].items():
        if "per_s" in e:
            print(f"indexing {name}: {e['per_s']:,} records/s ({e['seconds']} s), "
                  f"index {e['size_mb']:,} MB")
        else:
            print(f"{name}: {e['documents']:,} documents, index {e['size_mb']:,} MB")
    print(f"ingest (capture -> log -> catalog): {results['corpus']['ingest_per_s']:,} "
          f"records/s")
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=1, ensure_ascii=False))
    for e in engines:
        e.close()
    archive.close()


def _total(result: Any) -> int:
    return result[0] if isinstance(result, tuple) else result.total


if __name__ == "__main__":
    main()
