"""Ingest and verification throughput, against the bare per-record work measured in the same run.

Prints records/s (median of --runs) for:
  bare      canonicalise + new data key + AES-GCM encrypt + wrap key + envelope + hash
  fs        observation line in -> durable and acknowledged (filesystem store, SQLite catalog)
  s3        the same into SeaweedFS with Object Lock (started here, on loopback)
  verify    `archiver verify` over the filesystem archive (decrypting every record)
and the ratios that the goals are stated in (issue 2: s3 >= 2,000/s, ingest >= 40% of bare,
verify >= 20,000/s).
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from archiver.config import load_settings  # noqa: E402
from archiver.ingest import read_jsonl  # noqa: E402
from archiver.log.crypto import LocalKek, new_kid, seal  # noqa: E402
from archiver.log.envelope import Envelope, canonical  # noqa: E402
from archiver.log.verify import verify_archive  # noqa: E402
from archiver.wiring import init_archive  # noqa: E402

WORDS = (
    "poplave", "občina", "družabnih", "cesta", "zaprta", "mvua", "mafuriko", "barabara",
    "mkutano", "می‌خواهیم", "سیل", "شهرداری", "جاده", "flood", "road", "closed", "park",
    "meeting", "council", "river", "water", "level", "residents", "update", "emergency",
    "shelter",
)


def observations(n: int, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        text = " ".join(rng.choice(WORDS) for _ in range(30))
        sid = str(10**17 + i)
        # A Mastodon Status entity in full, as the API returns it (docs.joinmastodon.org).
        raw = {"id": sid, "created_at": "2026-01-01T00:00:00.000Z", "in_reply_to_id": None,
               "in_reply_to_account_id": None, "sensitive": False, "spoiler_text": "",
               "visibility": "public", "language": "sl",
               "uri": f"https://social.example/users/city/statuses/{sid}",
               "url": f"https://social.example/@city/{sid}", "replies_count": rng.randint(0, 9),
               "reblogs_count": rng.randint(0, 50), "favourites_count": rng.randint(0, 99),
               "edited_at": None, "content": f"<p>{text}</p>", "reblog": None,
               "application": {"name": "Web", "website": None},
               "account": {"id": "42", "username": "city", "acct": "city",
                           "display_name": "City of Wrenfield", "locked": False, "bot": False,
                           "discoverable": True, "group": False,
                           "created_at": "2022-11-07T00:00:00.000Z",
                           "note": "<p>Official account of the City of Wrenfield.</p>",
                           "url": "https://social.example/@city",
                           "avatar": "https://files.social.example/accounts/avatars/42.png",
                           "avatar_static": "https://files.social.example/accounts/42.png",
                           "header": "https://files.social.example/accounts/headers/42.png",
                           "header_static": "https://files.social.example/headers/42.png",
                           "followers_count": 15234, "following_count": 87,
                           "statuses_count": 4021, "last_status_at": "2026-01-01",
                           "emojis": [], "fields": [{"name": "Web", "value": "wrenfield.example",
                                                     "verified_at": None}]},
               "media_attachments": [], "mentions": [],
               "tags": [{"name": "flood", "url": "https://social.example/tags/flood"}],
               "emojis": [], "card": None, "poll": None}
        obs = {"platform": "mastodon", "account": "42", "item_id": f"{seed}-{i}",
               "kind": "post", "text": text, "lang": "sl",
               "author": {"id": "42", "handle": "city", "name": "City of Wrenfield"},
               "published_at": "2026-01-01T00:00:00Z", "observed_at": "2026-01-01T00:00:05Z",
               "url": raw["url"], "raw": raw}
        out.append(json.dumps(obs, ensure_ascii=False).encode() + b"\n")
    return out


def bare(lines: list[bytes], kek: LocalKek) -> float:
    payloads = [json.loads(line) for line in lines]
    prev = "0" * 64
    start = time.perf_counter()
    for i, p in enumerate(payloads):
        kid, key, nonce = new_kid(), os.urandom(32), os.urandom(12)
        head = Envelope(seq=i, prev=prev, time="2026-01-01T00:00:00.000000Z", type="capture",
                        kid=kid, nonce=base64.b64encode(nonce).decode(), ct="")
        ct = seal(key, canonical(p), head.associated_data(), nonce)
        kek.wrap(kid, key)
        env = Envelope(seq=i, prev=prev, time=head.time, type="capture", kid=kid,
                       nonce=head.nonce, ct=ct)
        prev = env.record_hash().hex()
    return len(payloads) / (time.perf_counter() - start)


def ingest_rate(env: dict[str, str], lines: list[bytes]) -> tuple[float, object]:
    archive, _ = init_archive(load_settings(env=env), "bench.archiver/log")
    start = time.perf_counter()
    summary = archive.ingestor.ingest(
        o for _, o in read_jsonl(io.BytesIO(b"".join(lines)), max_text_bytes=100_000,
                                 max_line_bytes=1_000_000))
    elapsed = time.perf_counter() - start
    assert summary.archived == len(lines), summary.as_dict()
    return len(lines) / elapsed, archive


def median_of(runs: int, fn: Callable[[int], float]) -> float:
    return statistics.median(fn(r) for r in range(runs))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--records", type=int, default=10_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--no-s3", action="store_true")
    args = ap.parse_args()
    lines = observations(args.records, 1)
    print(f"records per run: {args.records}, mean observation {sum(map(len, lines)) // len(lines)}"
          f" bytes, runs: {args.runs} (medians)")
    tmp = Path(tempfile.mkdtemp(prefix="archiver-bench-"))
    kek = LocalKek.generate(tmp / "kek.json")
    b = median_of(args.runs, lambda r: bare(lines, kek))
    print(f"bare per-record work       {b:10.0f} records/s")

    archives = []

    def fs(r: int) -> float:
        rate, archive = ingest_rate({"ARCHIVER_HOME": str(tmp / f"fs{r}")}, lines)
        archives.append(archive)
        return rate

    f = median_of(args.runs, fs)
    print(f"ingest, filesystem+SQLite  {f:10.0f} records/s   {f / b:6.1%} of bare")

    def ver(r: int) -> float:
        start = time.perf_counter()
        report = verify_archive(archives[r].appender)
        assert report.ok
        return report.records / (time.perf_counter() - start)

    v = median_of(args.runs, ver)
    print(f"verify (decrypting all)    {v:10.0f} records/s   goal >= 20,000")

    if not args.no_s3:
        from archiver.storage import ensure_bucket
        from tests.fixtures.seaweed import SeaweedServer

        with SeaweedServer() as server:
            ensure_bucket(server.store("bench"), object_lock=True)

            def s3(r: int) -> float:
                rate, _ = ingest_rate({
                    "ARCHIVER_HOME": str(tmp / f"s3-{r}"), "ARCHIVER_STORE_KIND": "s3",
                    "ARCHIVER_STORE_ENDPOINT_URL": server.endpoint_url,
                    "ARCHIVER_STORE_BUCKET": "bench", "ARCHIVER_STORE_PREFIX": f"run{r}",
                    "ARCHIVER_STORE_ACCESS_KEY": server.access_key,
                    "ARCHIVER_STORE_SECRET_KEY": server.secret_key}, lines)
                return rate

            s = median_of(args.runs, s3)
        print(f"ingest, SeaweedFS+SQLite   {s:10.0f} records/s   {s / b:6.1%} of bare   "
              f"goal >= 2,000 and >= 40%")


if __name__ == "__main__":
    main()
