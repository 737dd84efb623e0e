"""Evidence export throughput: records/s for an archive of --records records with media,
with the time split into read+decrypt (records, media, inclusion proofs), render (HTML,
PDF, load files) and packaging (manifests, tag files, zip).

The archive is built through the real pipeline (init_archive + ingestor.ingest with media
blobs, filesystem store + SQLite catalog in a temporary directory, as benchmarks/ingest.py
does): --records posts in threads of --thread records (a post and its comments), every
post with one of --images distinct PNG files. The scope is a legal hold over the platform
(resolved with the retention rules, no search index needed). The export runs once with
PDF renderings and once without (--no-pdf alone skips the first), so the PDF's share is
visible. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import shutil
import struct
import sys
import tempfile
import time
import zlib
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from archiver.config import load_settings  # noqa: E402
from archiver.exports.bag import ExportOptions, Timings  # noqa: E402
from archiver.exports.jobs import create_export, run_export  # noqa: E402
from archiver.exports.scope import ExportScope  # noqa: E402
from archiver.records import MediaBlob, parse_observation  # noqa: E402
from archiver.retention_store import place_hold  # noqa: E402
from archiver.wiring import Archive, init_archive  # noqa: E402

TEXTS = ("Mafuriko yamefika Mtaa wa Kinu {i}", "هشدار سیل شماره\u200cی {i} برای محله\u200cی رن",
         "Opozorilo pred poplavami {i}: čoln, šola, žerjav", "Flood warning {i}: move vehicles")


def _png(i: int) -> bytes:
    def chunk(tag: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + tag + data
                + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF))
    rgb = bytes([i % 256, (i * 7) % 256, (i * 13) % 256])
    rows = b"".join(b"\x00" + rgb * 64 for _ in range(64))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 64, 64, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def build(home: Path, records: int, thread: int, images: int) -> Archive:
    import hashlib

    env = {"ARCHIVER_HOME": str(home)}
    archive, _ = init_archive(load_settings(env=env), "bench.archiver/export")
    blobs = {}
    for i in range(images):
        data = _png(i)
        sha = hashlib.sha256(data).hexdigest()
        blobs[sha] = MediaBlob(sha, "image/png", data, f"https://files.example/{i}.png")
    shas = list(blobs)
    batch = []
    for n in range(records):
        post, k = divmod(n, thread)
        doc: dict[str, Any] = {
            "platform": "mastodon", "account": "42", "kind": "post" if k == 0 else "comment",
            "item_id": f"p{post}" if k == 0 else f"p{post}c{k}",
            "text": TEXTS[n % len(TEXTS)].format(i=n),
            "observed_at": "2026-11-21T10:00:00Z", "published_at": "2026-11-20T10:00:00Z",
            "author": {"id": str(k), "handle": f"user{k}", "name": f"User {k}"}}
        if k == 0:
            doc["media"] = [{"sha256": shas[post % images], "mime": "image/png"}]
        else:
            doc["parent_id"] = f"p{post}"
        batch.append(parse_observation(doc, max_text_bytes=100_000))
        if len(batch) == 1000:
            archive.ingestor.ingest(batch, media=blobs)
            batch = []
    if batch:
        archive.ingestor.ingest(batch, media=blobs)
    return archive


def run(archive: Archive, hold_id: str, out: Path, pdf: bool) -> dict[str, Any]:
    timings = Timings()
    job = create_export(archive, ExportScope(hold=hold_id), ExportOptions(pdf=pdf), "bench")
    started = time.perf_counter()
    done = run_export(archive, job.id, out, timings)
    total = time.perf_counter() - started
    n = done.summary["counts"]["records"] if done.summary else 0
    resolve = total - timings.read - timings.render - timings.package
    return {"pdf": pdf, "records": n, "items": done.summary["counts"]["items"],
            "media": done.summary["counts"]["media"], "seconds": round(total, 2),
            "records_per_s": round(n / total, 1), "zip_bytes": done.bytes,
            "split_s": {**timings.as_dict(), "scope+bookkeeping": round(resolve, 3)}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--thread", type=int, default=5, help="records per post + comments")
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--no-pdf", action="store_true", help="only the run without PDFs")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-export-"))
    try:
        t0 = time.perf_counter()
        archive = build(tmp / "home", args.records, args.thread, args.images)
        built = time.perf_counter() - t0
        hold = place_hold(archive.appender, {"matter_name": "Bench v. City",
                                             "matter_number": "B-1", "reason": "benchmark",
                                             "scope": {"platforms": ["mastodon"]}}, "bench")
        runs = [] if args.no_pdf else [run(archive, hold["id"], tmp / "pdf.zip", True)]
        runs.append(run(archive, hold["id"], tmp / "nopdf.zip", False))
        print(json.dumps({"archive_records": args.records, "build_s": round(built, 1),
                          "runs": runs}, ensure_ascii=False, indent=1))
        archive.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
