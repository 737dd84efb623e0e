"""Collection throughput: a replayed Mastodon account through collector -> capture -> log,
against `archiver ingest` of the same observations from a JSON Lines file, in one run.

The replayed instance (tests/replay/server.py, answering in the REST API's documented
shapes, built with tests/collectors/mastodon_replay.py's entities) holds --posts statuses
with --comments replies each from other servers' accounts; its answers are encoded once,
up front, so the server costs little per request. By default it runs in a second process
so it does not take the collector's core (--same-process to compare).

Prints records/s (median of --runs; each run into a fresh filesystem+SQLite archive):
  harvest   the collector alone: HTTP + parsing + observations (one run, nothing archived)
  file      `archiver ingest`'s work on a JSON Lines file of the observations the
            collector produced: read + validate + capture + log
  collect   `archiver collect --once`'s work: collect_account (harvest, run record,
            cursor, capture, log)
and the ratio the goal is stated in (issue 6: collect >= 70% of file). The search index
catch-up that both commands run afterwards is left out of both.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from archiver.collectors import accounts as acc  # noqa: E402
from archiver.collectors.mastodon import MastodonCollector  # noqa: E402
from archiver.collectors.runner import collect_account, observation_input  # noqa: E402
from archiver.collectors.transport import Transport  # noqa: E402
from archiver.config import load_settings  # noqa: E402
from archiver.ingest import read_jsonl  # noqa: E402
from archiver.wiring import Archive, init_archive  # noqa: E402
from benchmarks.ingest import WORDS  # noqa: E402
from tests.collectors.mastodon_replay import (  # noqa: E402
    ACCOUNT_ID,
    HOST,
    TOKEN,
    account_entity,
    public_account,
    snowflake,
    status_entity,
)
from tests.replay.server import ReplayServer, Reply, Request  # noqa: E402

COMMENTERS = [public_account(0, "dana_p", "Dana Price", "mstdn.example"),
              public_account(1, "rok_z", "Rok Žagar", "toot.example"),
              public_account(2, "amani_k", "Amani Kariuki", "mastodon.africa.example"),
              public_account(3, "navid", "نوید", "persiansphere.example")]
PAGE = 40                           # the API's maximum page size, the collector's default


def replayed_instance(posts: int, comments: int, seed: int) -> tuple[
        dict[str, Reply], dict[str, Reply], Reply]:
    """Pages of the account's statuses (by `max_id`, "" for the first), each status'
    context, and the account, all encoded once."""
    rng = random.Random(seed)
    owner = account_entity()
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=60)
    own, contexts = [], {}
    for i in range(posts):
        at = start + timedelta(minutes=5 * i)
        text = " ".join(rng.choice(WORDS) for _ in range(30))
        post = status_entity(snowflake(at), at, f"<p>{text}</p>", account=owner,
                             language="sl")
        post["replies_count"] = comments
        replies = []
        for k in range(comments):
            when = at + timedelta(seconds=10 + k)
            who = COMMENTERS[k % len(COMMENTERS)]
            words = " ".join(rng.choice(WORDS) for _ in range(12))
            replies.append(status_entity(snowflake(when, k + 1), when, f"<p>{words}</p>",
                                         account=who, in_reply_to=post["id"],
                                         in_reply_to_account=ACCOUNT_ID, language=None))
        own.append(post)
        contexts[post["id"]] = Reply.json({"ancestors": [], "descendants": replies})
    own.reverse()                   # newest first, as the listing answers
    pages: dict[str, Reply] = {}
    base = f"https://{HOST}/api/v1/accounts/{ACCOUNT_ID}/statuses"
    for n in range(0, max(len(own), 1), PAGE):
        rows = own[n:n + PAGE]
        links = []
        if len(rows) == PAGE:
            links.append(f'<{base}?limit={PAGE}&max_id={rows[-1]["id"]}>; rel="next"')
        if rows:
            links.append(f'<{base}?limit={PAGE}&min_id={rows[0]["id"]}>; rel="prev"')
        pages[own[n - 1]["id"] if n else ""] = Reply.json(
            rows, headers={"Link": ", ".join(links)} if links else {})
    return pages, contexts, Reply.json(owner)


def install(server: ReplayServer, posts: int, comments: int, seed: int) -> None:
    pages, contexts, owner = replayed_instance(posts, comments, seed)

    def listing(req: Request) -> Reply:
        return pages.get(req.arg("max_id") or "") or Reply.json([])

    server.route("GET", f"/api/v1/accounts/{ACCOUNT_ID}", owner)
    server.route("GET", f"/api/v1/accounts/{ACCOUNT_ID}/statuses", listing)
    for status_id, reply in contexts.items():
        server.route("GET", f"/api/v1/statuses/{status_id}/context", reply)


def serve(posts: int, comments: int, seed: int, conn: Connection) -> None:
    """The second process: build the instance, say where it is, serve until told."""
    with ReplayServer() as server:
        install(server, posts, comments, seed)
        conn.send(server.url)
        conn.recv()
        conn.send(len(server.requests))


def new_archive(home: Path) -> Archive:
    archive, _ = init_archive(load_settings(env={"ARCHIVER_HOME": str(home)}),
                              "bench.archiver/log")
    return archive


def add_account(archive: Archive, url: str, posts: int) -> str:
    return acc.add_account(archive.appender, platform="mastodon", platform_id=ACCOUNT_ID,
                           handle="city", base_url=url, credentials={"access_token": TOKEN},
                           options={"max_pages": posts // PAGE + 2}).id


def harvest_to_file(url: str, home: Path, posts: int, path: Path) -> tuple[float, int, int]:
    """One harvest (nothing archived): its rate, requests, and its observations written
    as `archiver ingest` input."""
    archive = new_archive(home)
    account = acc.get_account(archive.catalog, add_account(archive, url, posts))
    config = acc.account_config(archive.appender, account)
    with Transport() as http:
        start = time.perf_counter()
        harvest = MastodonCollector().harvest(config, http, {}, [])
        elapsed = time.perf_counter() - start
    with path.open("wb") as f:
        for obs in harvest.observations:
            f.write(json.dumps(observation_input(obs), ensure_ascii=False).encode() + b"\n")
    return len(harvest.observations) / elapsed, harvest.requests, len(harvest.observations)


def file_rate(home: Path, path: Path, expected: int) -> tuple[float, float]:
    """Records per second of wall time and per CPU second of this process."""
    archive = new_archive(home)
    cap = archive.settings.capture.max_text_bytes
    cpu = time.process_time()
    start = time.perf_counter()
    with path.open("rb") as f:
        summary = archive.ingestor.ingest(
            obs for _, obs in read_jsonl(f, max_text_bytes=cap,
                                         max_line_bytes=4 * cap + 1_000_000))
    elapsed = time.perf_counter() - start
    cpu = time.process_time() - cpu
    assert summary.archived == expected and not summary.rejected, summary.as_dict()
    return expected / elapsed, expected / cpu


def collect_rate(home: Path, url: str, posts: int, expected: int
                 ) -> tuple[float, float, int]:
    """Records per second of wall time, per CPU second of this process, requests made."""
    archive = new_archive(home)
    account_id = add_account(archive, url, posts)
    with Transport() as http:
        cpu = time.process_time()
        start = time.perf_counter()
        result = collect_account(archive, account_id, transport=http)
        elapsed = time.perf_counter() - start
        cpu = time.process_time() - cpu
    assert result.outcome == "ok", result.error
    assert result.archived == expected, (result.archived, expected)
    return expected / elapsed, expected / cpu, result.requests


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--posts", type=int, default=10_000)
    ap.add_argument("--comments", type=int, default=5, help="replies under each post")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--same-process", action="store_true",
                    help="serve the replay from a thread of this process")
    ap.add_argument("--profile", metavar="FILE",
                    help="cProfile one more collection run into FILE (pstats)")
    args = ap.parse_args()
    if args.posts < 1 or args.comments < 0 or args.runs < 1:
        ap.error("--posts and --runs must be at least 1, --comments at least 0")
    tmp = Path(tempfile.mkdtemp(prefix="archiver-bench-collect-"))

    local: ReplayServer | None = None
    child: Any = None
    if args.same_process:
        local = ReplayServer().__enter__()
        install(local, args.posts, args.comments, args.seed)
        url = local.url
    else:
        ctx = multiprocessing.get_context("spawn")
        ours, theirs = ctx.Pipe()
        child = ctx.Process(target=serve, args=(args.posts, args.comments, args.seed, theirs),
                            daemon=True)
        child.start()
        url = ours.recv()
    try:
        path = tmp / "observations.jsonl"
        h, requests, n = harvest_to_file(url, tmp / "harvest", args.posts, path)
        size = path.stat().st_size
        print(f"posts: {args.posts}, comments each: {args.comments}, observations per run: "
              f"{n} (mean {size // n} bytes), runs: {args.runs} (medians), replay server: "
              f"{'this process' if local else 'a second process'}")
        print(f"requests per collection: {requests} (1 account, "
              f"{-(-args.posts // PAGE)} listing pages, {args.posts} contexts)")
        print(f"harvest only (HTTP + parse)  {h:10.0f} observations/s   (one run)")
        files, collects = [], []
        for r in range(args.runs):     # interleaved, so a busy machine slows both alike
            files.append(file_rate(tmp / f"file{r}", path, n))
            *rates, made = collect_rate(tmp / f"collect{r}", url, args.posts, n)
            assert made == requests, (made, requests)
            collects.append(tuple(rates))
        f, fc = (statistics.median(x[i] for x in files) for i in (0, 1))
        c, cc = (statistics.median(x[i] for x in collects) for i in (0, 1))
        print(f"archiver ingest (file)       {f:10.0f} records/s   {fc:8.0f} per CPU second")
        print(f"collector -> capture -> log  {c:10.0f} records/s   {cc:8.0f} per CPU second")
        print(f"collect / file ingest        {c / f:10.1%}             {cc / fc:8.1%} by CPU"
              f"   goal >= 70%")
        if args.profile:
            import cProfile
            cProfile.runctx("collect_rate(home, url, posts, n)", globals(),
                            {"collect_rate": collect_rate, "home": tmp / "profiled",
                             "url": url, "posts": args.posts, "n": n}, args.profile)
            print(f"profile of one collection run: {args.profile}")
    finally:
        if local is not None:
            local.__exit__(None, None, None)
        if child is not None:
            ours.send("stop")
            ours.recv()
            child.join(5)


if __name__ == "__main__":
    main()
