"""Retention throughput: the due set over a large catalog, and records destroyed per second.

Part 1, the due set. A SQLite catalog made by `Catalog(url).migrate()` gets --records
capture rows in `records` (plus their publication times in `retention_facts`, a deleted
event for 1 item in 50, and tags and a `closed` event for some accounts), written with
db.insert_tuples as the appender writes them, over 5 platforms, 2,000 accounts, 3 kinds
and 6 events: a 10^6-record archive through the whole pipeline would take too long, and
the due set reads nothing else. Then, --policies random policies (every trigger, unit and
cutoff, scopes over platforms, accounts, tags, kinds, events) and --holds random holds:
  load    archiver.disposal.load_facts: the catalog query and RecordFacts per record
  rules   retention.disposition.due over the loaded facts (pure code)
  total   both, what `archiver disposition create` spends before it writes the run
each the median of --rounds rounds.

Part 2, execution. A real archive (filesystem + SQLite, init_archive + ingestor.ingest) of
--destroy records, a 0-day policy covering all of them; one run created, approved by a
second person and executed: records destroyed per second of `execute_run` (shred in the
catalog with its key.destroyed record, key objects rewritten, de-indexed from Whoosh,
certificate signed), median of --rounds fresh archives.

    .venv/bin/python -m benchmarks.retention [--records 1000000] [--destroy 5000]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from archiver.catalog import db
from archiver.catalog import schema as t
from archiver.catalog.db import Catalog
from archiver.times import format_time
from retention.disposition import due
from retention.holds import Hold, HoldScope
from retention.policies import CUTOFFS, TRIGGERS, Period, Policy, Scope

PLATFORMS = ("mastodon", "bluesky", "x", "facebook", "instagram")
KINDS = ("post", "comment", "reply")
EVENTS = ("created", "edited", "deleted", "hidden", "restored", "observed")
START = datetime(2015, 1, 1, tzinfo=UTC)


def fill_catalog(url: str, n: int, rng: random.Random) -> None:
    catalog = Catalog(url)
    catalog.migrate()
    accounts = [f"acct-{i}" for i in range(2000)]
    rows, facts = [], []
    with catalog.writer() as conn:
        for seq in range(n):
            captured = START + timedelta(seconds=seq * 300)
            event = "deleted" if seq % 50 == 0 else rng.choice(EVENTS)
            platform = PLATFORMS[seq % len(PLATFORMS)]
            rows.append((seq, format_time(captured), "capture", f"{seq:032x}", b"\0" * 32, 0,
                         platform, rng.choice(accounts), f"item-{seq // 3}", rng.choice(KINDS),
                         event, None, None))
            published = captured - timedelta(hours=rng.randint(0, 24 * 30))
            facts.append((seq, format_time(published)))
            if len(rows) == 50_000:
                _flush(conn, rows, facts)
        _flush(conn, rows, facts)
        for i, a in enumerate(accounts[:400]):
            events = {"closed": format_time(START + timedelta(days=900 + i))} if i % 4 else {}
            conn.execute(t.retention_accounts.insert().values(
                platform=PLATFORMS[i % 5], account=a,
                tags=json.dumps(["executive"] if i % 2 else ["press"]),
                events=json.dumps(events)))
    catalog.dispose()


def _flush(conn: object, rows: list, facts: list) -> None:
    cols = ("seq", "time", "type", "kid", "record_hash", "segment_first", "platform",
            "account", "item_id", "kind", "event", "action", "destroyed_at")
    db.insert_tuples(conn, t.records, cols, rows)  # type: ignore[arg-type]
    db.insert_tuples(conn, t.retention_facts, ("seq", "published_at"), facts)  # type: ignore[arg-type]
    rows.clear()
    facts.clear()


def random_policies(n: int, rng: random.Random) -> list[Policy]:
    out = []
    for i in range(n):
        # Like real schedules: mostly temporary, clocks mostly on capture or publication.
        unit = "permanent" if i % 25 == 0 else rng.choice(("days", "months", "years"))
        trigger = TRIGGERS[i % 10] if i % 10 < 4 else rng.choice(TRIGGERS[:2])
        pick = lambda pool, k: frozenset(rng.sample(pool, k)) if rng.random() < 0.5 \
            else frozenset()  # noqa: E731
        out.append(Policy(
            id=f"pol_{i:04d}", name=f"policy {i}", schedule_code=f"GRS {i}",
            authority="DAA-GRS-0000", version=1,
            scope=Scope(platforms=frozenset(rng.sample(PLATFORMS, 2)),
                        kinds=pick(list(KINDS), 1), events=pick(list(EVENTS), 3),
                        accounts=frozenset(f"acct-{rng.randrange(2000)}" for _ in range(3))
                        if rng.random() < 0.2 else frozenset(),
                        account_tags=frozenset({"executive"}) if rng.random() < 0.1
                        else frozenset()),
            period=Period(0 if unit == "permanent" else rng.randint(1, 10), unit),
            trigger=trigger, account_event="closed" if trigger == "account_event" else None,
            action=rng.choice(("destroy", "destroy", "review", "transfer")),
            effective_from=START, cutoff=rng.choice(CUTOFFS)))
    return out


def random_holds(n: int, rng: random.Random) -> list[Hold]:
    out = []
    for i in range(n):
        start = START + timedelta(days=rng.randint(0, 3000))
        out.append(Hold(
            id=f"hold_{i:04d}", matter_name=f"matter {i}", matter_number=str(i),
            scope=HoldScope(accounts=frozenset(f"acct-{rng.randrange(2000)}"
                                               for _ in range(rng.randint(1, 20))),
                            platforms=frozenset(rng.sample(PLATFORMS, 2))
                            if rng.random() < 0.3 else frozenset(),
                            date_from=start, date_to=start + timedelta(days=180)),
            placed_by="counsel", placed_at=START))
    return out


def part1(args: argparse.Namespace) -> None:
    from archiver.disposal import bulk_work, load_facts

    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'catalog.sqlite'}"
        t0 = time.perf_counter()
        fill_catalog(url, args.records, rng)
        print(f"catalog: {args.records:,} capture records written in "
              f"{time.perf_counter() - t0:.1f} s")
        policies, holds = random_policies(args.policies, rng), random_holds(args.holds, rng)
        now = START + timedelta(days=4000)
        catalog = Catalog(url)
        loads, rules = [], []
        result = None
        for _ in range(args.rounds):
            with bulk_work():  # as create_run does
                t0 = time.perf_counter()
                with catalog.reader() as conn:
                    facts = list(load_facts(conn))
                t1 = time.perf_counter()
                result = due(facts, policies, holds, now)
                t2 = time.perf_counter()
            loads.append(t1 - t0)
            rules.append(t2 - t1)
            del facts
        catalog.dispose()
    assert result is not None
    load, rule = statistics.median(loads), statistics.median(rules)
    print(f"due set over {args.records:,} records, {args.policies} policies, "
          f"{args.holds} holds (median of {args.rounds}):")
    print(f"  load   {load:6.2f} s  ({args.records / load:,.0f} records/s)")
    print(f"  rules  {rule:6.2f} s  ({args.records / rule:,.0f} records/s)")
    print(f"  total  {load + rule:6.2f} s")
    print(f"  outcomes: {result.counts()}, uncovered {result.uncovered}, "
          f"overlapping pairs {len(result.overlaps)}")


def part2(args: argparse.Namespace) -> None:
    from archiver.config import load_settings
    from archiver.disposal import Actor, approve_run, create_run, execute_run
    from archiver.records import parse_observation
    from archiver.retention_store import create_policy
    from archiver.wiring import init_archive

    rates = []
    for r in range(args.rounds):
        with tempfile.TemporaryDirectory() as tmp:
            archive, _ = init_archive(load_settings(env={"ARCHIVER_HOME": tmp}),
                                      "bench.archiver/retention")
            obs = [parse_observation({"platform": "mastodon", "account": f"a{i % 20}",
                                      "item_id": f"{r}-{i}", "kind": "post",
                                      "text": f"Habari za mafuriko {i} — نظرات‌عمومی",
                                      "observed_at": "2026-01-01T00:00:00Z"},
                                     max_text_bytes=100_000) for i in range(args.destroy)]
            archive.ingestor.ingest(obs)
            from archiver.search.engines import open_index

            index = open_index(archive.settings)
            index.catch_up(archive.appender)
            index.close()
            create_policy(archive.appender, {
                "name": "all", "schedule_code": "TEST", "authority": "bench",
                "period": {"amount": 0, "unit": "days"}, "trigger": "captured",
                "action": "destroy"}, "alice")
            run = create_run(archive, Actor.cli("alice"))
            approve_run(archive, run["id"], Actor.cli("bob"))
            t0 = time.perf_counter()
            done = execute_run(archive, run["id"], Actor.cli("bob"))
            elapsed = time.perf_counter() - t0
            assert done["outcomes"] == {"destroyed": args.destroy}, done["outcomes"]
            rates.append(args.destroy / elapsed)
            archive.close()
    print(f"execution: {args.destroy:,} records destroyed per run, median of {args.rounds}: "
          f"{statistics.median(rates):,.0f} records/s (filesystem + SQLite, Whoosh)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--policies", type=int, default=50)
    ap.add_argument("--holds", type=int, default=20)
    ap.add_argument("--destroy", type=int, default=5000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--skip-due", action="store_true")
    ap.add_argument("--skip-execute", action="store_true")
    args = ap.parse_args()
    if not args.skip_due:
        part1(args)
    if not args.skip_execute:
        part2(args)


if __name__ == "__main__":
    main()
