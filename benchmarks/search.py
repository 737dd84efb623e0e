"""Search: indexing throughput and query latency, against MEASUREMENTS.md's Whoosh figures.

Builds a synthetic multilingual corpus (English, Slovenian, Swahili, Persian words, Zipf
distributed, with edits and deletions), ingests it through the real pipeline (capture ->
log -> catalog, filesystem store + SQLite), indexes it with `SearchIndex.catch_up`, and
times each query type (top 20), both in the engine alone (`SearchIndex.run`) and end to end
(`archiver.search.query.search`: catalog filters, snippets, lag). Prints median and p95
in ms and the ratio to the plain-Whoosh figure measured on 100,000 posts (MEASUREMENTS.md;
ratio > 1 means faster than that figure).

    .venv/bin/python benchmarks/search.py                 # 20,000 records
    .venv/bin/python benchmarks/search.py --records 100000
    .venv/bin/python benchmarks/search.py --engine postgres   # PostgreSQL full-text search

`--engine postgres` puts the catalog in a fresh schema of the PostgreSQL database at
`--postgres-url` (dropped afterwards) and indexes with `PostgresIndex.catch_up`; the
corpus and the queries are the same, and the Whoosh reference figures stay as they are.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from archiver.config import load_settings  # noqa: E402
from archiver.ingest import read_jsonl  # noqa: E402
from archiver.search.engine import QueryPlan  # noqa: E402
from archiver.search.postgres_engine import PostgresIndex  # noqa: E402
from archiver.search.query import SearchRequest, search  # noqa: E402
from archiver.search.whoosh_engine import SearchIndex  # noqa: E402
from archiver.wiring import init_archive  # noqa: E402

# MEASUREMENTS.md, plain Whoosh 2.7.4 on 100,000 posts: median / p95 ms; indexing docs/s.
WHOOSH = {"common term": (11, 45), "phrase": (4.8, 38),
          "term + 1-year range + account": (1398, 1925), "top 20 by date": (6.8, 36)}
WHOOSH_INDEXING = 542

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


def vocabulary(size: int, rng: random.Random) -> list[str]:
    words = list(dict.fromkeys(SEED_WORDS))
    seen = set(words)
    while len(words) < size:
        w = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4)))
        if w not in seen:
            seen.add(w)
            words.append(w)
    return words


class Zipf:
    def __init__(self, words: list[str], s: float, rng: random.Random) -> None:
        self.words, self.rng = words, rng
        total, self.cum = 0.0, []
        for rank in range(1, len(words) + 1):
            total += 1 / rank**s
            self.cum.append(total)

    def sample(self, k: int) -> list[str]:
        return self.rng.choices(self.words, cum_weights=self.cum, k=k)


START = datetime(2023, 1, 1, tzinfo=UTC)
SPAN_DAYS = 3 * 365
ACCOUNTS = [f"acct{i:03d}" for i in range(50)]
PLATFORMS = ("mastodon", "x", "bluesky")


def corpus(n: int, seed: int) -> tuple[bytes, list[str]]:
    """JSON Lines observations: ~n records, 5% edited once, 1% deleted afterwards."""
    rng = random.Random(seed)
    words = vocabulary(30_000, rng)
    zipf = Zipf(words, 1.07, rng)
    lines: list[bytes] = []
    later: list[bytes] = []
    i = 0
    while len(lines) + len(later) < n:
        account = rng.choice(ACCOUNTS)
        platform = PLATFORMS[int(account[4:]) % 3]
        published = START + timedelta(seconds=rng.randrange(SPAN_DAYS * 86_400))
        text = " ".join(zipf.sample(rng.randint(12, 60)))
        obs = {"platform": platform, "account": account, "item_id": f"{seed}-{i}",
               "kind": rng.choice(("post", "post", "comment", "reply")), "text": text,
               "author": {"id": account, "handle": f"{account}@social.example",
                          "name": f"Account {account}"},
               "lang": rng.choice(("en", "sl", "sw", "fa")),
               "published_at": published.isoformat(),
               "observed_at": (published + timedelta(minutes=3)).isoformat()}
        lines.append(json.dumps(obs, ensure_ascii=False).encode() + b"\n")
        roll = rng.random()
        if roll < 0.05:
            edited = {**obs, "text": text + " " + " ".join(zipf.sample(5)),
                      "observed_at": (published + timedelta(hours=2)).isoformat()}
            later.append(json.dumps(edited, ensure_ascii=False).encode() + b"\n")
        elif roll < 0.06:
            gone = {k: obs[k] for k in ("platform", "account", "item_id", "kind")}
            gone.update(event="deleted", observed_at=(published + timedelta(days=1)).isoformat())
            later.append(json.dumps(gone).encode() + b"\n")
        i += 1
    return b"".join(lines + later), words


def timed(fn: Callable[[], Any], runs: int) -> tuple[float, float]:
    fn()  # warm: per-segment columns are loaded on first use
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.95))]


@contextmanager
def postgres_schema(url: str) -> Iterator[str]:
    """A fresh schema in the PostgreSQL database at `url`, dropped afterwards."""
    from sqlalchemy import create_engine, text

    schema = f"bench_{uuid.uuid4().hex[:12]}"
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


def analyze_catalog(archive: Any) -> None:
    """Planner statistics for the catalog just loaded, as autovacuum would gather them (a
    server may run without autovacuum; then the queries `lag` makes are planned blind)."""
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--records", type=int, default=20_000)
    ap.add_argument("--runs", type=int, default=50, help="timed runs per query type")
    ap.add_argument("--procs", type=int, default=1, help="Whoosh writer processes")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--engine", choices=("whoosh", "postgres"), default="whoosh")
    ap.add_argument("--postgres-url", default=os.environ.get(
        "ARCHIVER_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"),
        help="--engine postgres: the database (a fresh schema is made and dropped)")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="search-bench-") as tmp:
        if args.engine == "postgres":
            with postgres_schema(args.postgres_url) as url:
                run(args, tmp, {"ARCHIVER_CATALOG_URL": url, "ARCHIVER_SEARCH_ENGINE": "postgres"})
        else:
            run(args, tmp, {})


def run(args: argparse.Namespace, tmp: str, env: dict[str, str]) -> None:
    """One benchmark: ingest the corpus, index it with the chosen engine, time queries."""
    settings = load_settings(env={"ARCHIVER_HOME": str(Path(tmp) / "home"), **env})
    archive, _ = init_archive(settings, "bench.archiver/search")
    data, words = corpus(args.records, args.seed)
    t0 = time.perf_counter()
    summary = archive.ingestor.ingest(o for _, o in read_jsonl(
        io.BytesIO(data), max_text_bytes=100_000, max_line_bytes=1_000_000))
    ingest_s = time.perf_counter() - t0
    if args.engine == "postgres":
        analyze_catalog(archive)
    index: Any = (PostgresIndex.for_settings(settings) if args.engine == "postgres"
                  else SearchIndex(settings.index_dir, procs=args.procs))
    t0 = time.perf_counter()
    indexed = index.catch_up(archive.appender)
    index_s = time.perf_counter() - t0
    if args.engine == "postgres":
        size = _postgres_size(index)
    else:
        size = sum(p.stat().st_size for p in settings.index_dir.rglob("*") if p.is_file())

    rng = random.Random(args.seed + 1)
    common = words[40:80]  # Zipf ranks 40-80: each in a few percent of the records
    very_common = words[3:13]  # "and", "a", "in", ...: each in about half of them
    mid = words[20:80]
    texts = [json.loads(line)["text"] for line in data.splitlines()[:2000]
             if b'"text"' in line]
    rank = {w: i for i, w in enumerate(words)}
    phrases = [f'"{a} {b}"' for text in texts
               for a, b in zip(text.split(), text.split()[1:], strict=False)
               if 20 <= rank[a] <= 400 and 20 <= rank[b] <= 400]

    def year_bounds() -> tuple[str, str]:
        year = rng.choice((2023, 2024, 2025))
        return f"{year}-01-01", f"{year}-12-31"

    def request(kind: str) -> SearchRequest:
        if kind == "common term":
            return SearchRequest(query=rng.choice(common))
        if kind == "very common term":
            return SearchRequest(query=rng.choice(very_common))
        if kind == "phrase":
            return SearchRequest(query=rng.choice(phrases))
        if kind == "term + 1-year range + account":
            start, end = year_bounds()
            return SearchRequest(query=rng.choice(mid), accounts=(rng.choice(ACCOUNTS),),
                                 date_from=start, date_to=end, sort="newest")
        if kind == "top 20 by date":
            return SearchRequest(query=rng.choice(common), sort="newest")
        return SearchRequest(sort="newest")  # everything, newest first

    def plan(r: SearchRequest) -> QueryPlan:
        start, end = r.bounds()
        return QueryPlan(query=r.query, terms={"account": r.accounts} if r.accounts else {},
                         start_us=start, end_us=end, order=r.sort, limit=r.limit)

    print(f"corpus: {summary.archived} records archived ({summary.received} observations, "
          f"{dict(summary.events)}), ingest {summary.archived / ingest_s:,.0f} records/s")
    engine = ("PostgreSQL" if args.engine == "postgres"
              else f"Whoosh, procs={args.procs}")
    print(f"indexing: {indexed} records in {index_s:.1f} s = {indexed / index_s:,.0f} "
          f"records/s ({engine}); plain Whoosh {WHOOSH_INDEXING} docs/s -> "
          f"x{indexed / index_s / WHOOSH_INDEXING:.2f}; index size {size / 1e6:.1f} MB")
    if args.records != 100_000:
        print(f"(MEASUREMENTS.md figures are for 100,000 posts; this corpus has "
              f"{summary.archived:,} records)")
    print(f"{'query (top 20)':34} {'engine p50/p95 ms':>18} {'end-to-end p50/p95':>19}"
          f"   {'Whoosh p50/p95':>14}  ratio p50/p95 (e2e)")
    kinds = [*WHOOSH, "very common term", "everything, newest first"]
    for kind in kinds:
        alone = timed(lambda k=kind: index.run(plan(request(k))), args.runs)
        e2e = timed(lambda k=kind: search(index, archive, request(k)), args.runs)
        ref = WHOOSH.get(kind)
        ratio = (f"x{ref[0] / e2e[0]:.1f} / x{ref[1] / e2e[1]:.1f}" if ref else "-")
        ref_text = f"{ref[0]:g} / {ref[1]:g}" if ref else "-"
        print(f"{kind:34} {alone[0]:8.1f} / {alone[1]:6.1f}   {e2e[0]:8.1f} / "
              f"{e2e[1]:6.1f}   {ref_text:>14}  {ratio}")
    for label, group in (("common term", common), ("very common term", very_common)):
        counts = [search(index, archive, SearchRequest(query=w)).total for w in group]
        print(f"({label}: matches {min(counts):,} to {max(counts):,} records)")
    counts = [search(index, archive, SearchRequest(query=p)).total for p in phrases[:20]]
    print(f"(phrase: matches {min(counts):,} to {max(counts):,} records)")
    index.close()
    archive.close()

if __name__ == "__main__":
    main()
