"""Proof serving and whole-store verification throughput, with the reference rates measured
in the same run.

Part 1, proofs from the catalog. For each tree size (--sizes), a SQLite catalog made by
`Catalog(url).migrate()` gets its `tree_hashes` table filled the way the appender fills it
(merkle.BatchHasher over the leaves, db.insert_tuples, one commit per 50,000 leaves), over
random 32-byte leaves instead of real records: a 10^6-record archive through the whole
pipeline would take too long, and proofs read nothing else. A checkpoint row for the full
tree, and one at every old size a consistency proof is asked from, are added so the
product's own entry points accept the requests. Then, at random seqs
(the same seqs for every variant of one size):
  core    merkle.prove_inclusion / prove_consistency with db.read_tree_hashes on one open
          catalog connection: the log n part of the work
  served  archiver.log.proofs.inclusion_proof / consistency_proof, as the API calls them:
          a read transaction per proof, the checkpoint lookups and (inclusion) the leaf read
  one read  db.read_tree_hashes of one hash at a random stored index: the fixed cost of a
          query, from which the cost of each further hash a proof reads is derived
Rounds are interleaved across sizes and variants (round r times chunk r of each), so
noise from other processes falls on all of them alike.
Time per proof is the median over --rounds rounds of --proofs proofs each. The ratio of
the time at each size to the time at the smallest size is printed beside the ratio of
log2(n), so "grows no faster than log n" is the time ratio not exceeding the log2 ratio
(by much: SQLite's B-tree depth and the page cache change with the table's size too).
Hashes read and SQL statements per proof are counted in a separate, untimed pass.

Part 2, verification of a real archive of --records records built through the real
pipeline (init_archive + ingestor.ingest, like benchmarks/ingest.py), records/s of:
  raw sha256        read each segment file, SHA-256(0x00 || line) of every line: the floor
  archiver-verify   `python -m archiver.verify_offline store OBJECTS --vkey FILE` in a
                    subprocess (what an auditor runs, interpreter start-up included), and
                    the same `main([...])` in this process
  archiver verify   archiver.log.verify.verify_archive, which also decrypts every record
each as a median of --rounds runs, with the ratio to the raw SHA-256 rate.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import io
import json
import math
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import event  # noqa: E402

from archiver import verify_offline  # noqa: E402
from archiver.catalog import db  # noqa: E402
from archiver.catalog import schema as t  # noqa: E402
from archiver.config import load_settings  # noqa: E402
from archiver.ingest import read_jsonl  # noqa: E402
from archiver.log import merkle, proofs  # noqa: E402
from archiver.log.verify import verify_archive  # noqa: E402
from archiver.wiring import init_archive  # noqa: E402
from benchmarks.ingest import observations  # noqa: E402

COMMIT_EVERY = 50_000


# ---------------------------------------------------------------------------- part 1


class StatementCounter:
    """Counts SQL statements sent on an engine while `on` (off during timed rounds)."""

    def __init__(self, engine: Any) -> None:
        self.on = False
        self.count = 0
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, *_: Any) -> None:
        if self.on:
            self.count += 1


def build_tree(catalog: db.Catalog, n: int, seed: int) -> tuple[list[bytes], float]:
    """Fill tree_hashes for n random leaves as the appender does; (leaves, seconds)."""
    rng = random.Random(seed)
    leaves = [rng.randbytes(32) for _ in range(n)]
    start = time.perf_counter()
    for first in range(0, n, COMMIT_EVERY):
        with catalog.writer() as conn:
            hasher = merkle.BatchHasher(first, lambda ix, c=conn: db.read_tree_hashes(c, ix))
            for leaf in leaves[first:first + COMMIT_EVERY]:
                hasher.add(leaf)
            db.insert_tuples(conn, t.tree_hashes, ("idx", "hash"), sorted(hasher.new.items()))
    elapsed = time.perf_counter() - start
    with catalog.writer() as conn:
        root = merkle.tree_hash(n, lambda ix: db.read_tree_hashes(conn, ix))
        conn.execute(t.checkpoints.insert().values(size=n, root=root, note=b"benchmark"))
    return leaves, elapsed


class Tree:
    """One catalog holding the tree of n random leaves, and the requests made of it."""

    def __init__(self, tmp: Path, n: int, requests: int, seed: int) -> None:
        self.n = n
        self.catalog = db.Catalog(f"sqlite:///{tmp / f'tree-{n}.sqlite'}")
        self.catalog.migrate()
        self.leaves, self.build_s = build_tree(self.catalog, n, seed)
        self.counter = StatementCounter(self.catalog.engine)
        # All that archiver.log.proofs uses of an Appender is .p.catalog.
        self.appender: Any = SimpleNamespace(p=SimpleNamespace(catalog=self.catalog))
        rng = random.Random(seed + 1)
        self.seqs = [rng.randrange(n) for _ in range(requests)]
        self.olds = [rng.randrange(1, n) for _ in range(requests)]
        # The product serves consistency proofs only between sizes with a signed checkpoint
        # (one is signed after every commit), so every old size asked for gets a row.
        with self.catalog.writer() as conn:
            read = lambda ix: db.read_tree_hashes(conn, ix)  # noqa: E731
            self.old_roots = {o: merkle.tree_hash(o, read) for o in set(self.olds)}
            db.insert_tuples(conn, t.checkpoints, ("size", "root", "note"),
                             [(o, r, b"benchmark") for o, r in self.old_roots.items()])
        stored = merkle.stored_hash_count(n)
        self.indexes = [rng.randrange(stored) for _ in range(requests)]
        self.conn = self.catalog.engine.connect()  # the "core" variants' open connection
        self.read = lambda ix: db.read_tree_hashes(self.conn, ix)
        self.figures: dict[str, Any] = {"n": n, "build_s": self.build_s,
                                        "stored": merkle.stored_hash_count(n)}

    def variants(self) -> dict[str, tuple[Callable[[int], object], list[int]]]:
        n, read, app = self.n, self.read, self.appender
        return {
            "inc_core": (lambda s: merkle.prove_inclusion(n, s, read), self.seqs),
            "inc_served": (lambda s: proofs.inclusion_proof(app, s), self.seqs),
            "con_core": (lambda o: merkle.prove_consistency(o, n, read), self.olds),
            "con_served": (lambda o: proofs.consistency_proof(app, o), self.olds),
            "one_read": (lambda i: read([i]), self.indexes),
        }

    def check_and_count(self, sample: int) -> None:
        """Untimed: every proof verifies; hashes read and SQL statements per proof."""
        n, f, counter = self.n, self.figures, self.counter
        root = merkle.tree_hash(n, self.read)
        assert root == merkle.root_of(self.leaves), f"tree of {n}: stored root is wrong"
        seqs, olds = self.seqs[:sample], self.olds[:sample]
        old_roots = self.old_roots
        hashes_read = 0

        def read(ix: Sequence[int]) -> list[bytes]:
            nonlocal hashes_read
            hashes_read += len(ix)
            return self.read(ix)

        def count(kind: str, fn: Callable[[int], int], args: list[int]) -> None:
            nonlocal hashes_read
            hashes_read, counter.count, counter.on = 0, 0, True
            path_len = sum(fn(a) for a in args)
            counter.on = False
            f[f"{kind}_path"] = path_len / len(args)
            f[f"{kind}_hashes"] = hashes_read / len(args)
            f[f"{kind}_sql"] = counter.count / len(args)

        def inc(s: int) -> int:
            path = merkle.prove_inclusion(n, s, read)
            assert merkle.verify_inclusion(self.leaves[s], s, n, path, root), (n, s)
            return len(path)

        def con(o: int) -> int:
            path = merkle.prove_consistency(o, n, read)
            assert merkle.verify_consistency(o, n, old_roots[o], root, path), (n, o)
            return len(path)

        def inc_served(s: int) -> int:
            p = proofs.inclusion_proof(self.appender, s)
            path = [base64.b64decode(h) for h in p["hashes"]]
            assert merkle.verify_inclusion(self.leaves[s], s, p["tree_size"], path, root)
            return len(path)

        def con_served(o: int) -> int:
            p = proofs.consistency_proof(self.appender, o)
            path = [base64.b64decode(h) for h in p["hashes"]]
            assert merkle.verify_consistency(o, p["new_size"], old_roots[o], root, path)
            return len(path)

        count("inc", inc, seqs)
        count("con", con, olds)
        count("inc_served", inc_served, seqs)
        count("con_served", con_served, olds)

    def close(self) -> None:
        self.conn.close()
        self.catalog.dispose()
        self.leaves = []


def measure_proofs(tmp: Path, sizes: list[int], rounds: int, per_round: int
                   ) -> list[dict[str, Any]]:
    """Round r times chunk r of every variant at every size, back to back, so noise from
    other processes on the machine falls on all of them alike; medians over rounds."""
    trees = [Tree(tmp, n, rounds * per_round, seed=n) for n in sizes]
    times: dict[tuple[int, str], list[float]] = {}
    try:
        for tree in trees:
            tree.check_and_count(min(per_round, 500))
            for fn, args in tree.variants().values():  # warm page caches, statement caches
                for a in args[:200]:
                    fn(a)
        for r in range(rounds):
            for tree in trees:
                for name, (fn, args) in tree.variants().items():
                    chunk = args[r * per_round:(r + 1) * per_round]
                    start = time.perf_counter()
                    for a in chunk:
                        fn(a)
                    times.setdefault((tree.n, name), []).append(
                        (time.perf_counter() - start) / len(chunk))
        for tree in trees:
            for name in tree.variants():
                tree.figures[name] = statistics.median(times[(tree.n, name)])
        return [tree.figures for tree in trees]
    finally:
        for tree in trees:
            tree.close()


def print_proofs(results: list[dict[str, Any]], rounds: int, per_round: int) -> None:
    print(f"\n1. proofs from the catalog's tree hashes (SQLite), random seqs, "
          f"median of {rounds} rounds x {per_round} proofs")
    print(f"{'records':>10} {'stored hashes':>14} {'build s':>8} {'hashes/s':>10} {'log2 n':>7}")
    for r in results:
        print(f"{r['n']:>10} {r['stored']:>14} {r['build_s']:>8.1f} "
              f"{r['stored'] / r['build_s']:>10.0f} {math.log2(r['n']):>7.2f}")
    base = results[0]
    for kind, title in (("inc", "inclusion"), ("con", "consistency (old random, new = n)")):
        print(f"\n{title}")
        print(f"{'':>10} {'path':>5} {'hashes read':>11} {'SQL':>4} | {'core us':>8} "
              f"{'proofs/s':>9} | {'served us':>9} {'proofs/s':>9} {'SQL':>4} | "
              f"{'time ratio core/served':>22} {'log2 ratio':>10}")
        for r in results:
            core, served = r[f"{kind}_core"], r[f"{kind}_served"]
            ratio = (f"{core / base[f'{kind}_core']:.2f} / "
                     f"{served / base[f'{kind}_served']:.2f}")
            print(f"{r['n']:>10} {r[f'{kind}_path']:>5.1f} {r[f'{kind}_hashes']:>11.1f} "
                  f"{r[f'{kind}_sql']:>4.1f} | {core * 1e6:>8.1f} {1 / core:>9.0f} | "
                  f"{served * 1e6:>9.1f} {1 / served:>9.0f} {r[f'{kind}_served_sql']:>4.1f} | "
                  f"{ratio:>22} {math.log2(r['n']) / math.log2(base['n']):>10.2f}")
    print("\none stored hash at a random index (one query), and what each further hash "
          "read costs a core proof")
    print(f"{'':>10} {'one read us':>11} {'time ratio':>10} | {'us per further hash:':>20}"
          f" {'inclusion':>9} {'consistency':>11}")
    for r in results:
        one = r["one_read"]
        marginal = [(r[f"{k}_core"] - one) / (r[f"{k}_hashes"] - 1) * 1e6 for k in ("inc", "con")]
        print(f"{r['n']:>10} {one * 1e6:>11.1f} {one / base['one_read']:>10.2f} | {'':>20}"
              f" {marginal[0]:>9.1f} {marginal[1]:>11.1f}")
    print("(path: hashes in the proof; hashes read / SQL: tree hashes asked of the catalog "
          "and statements per proof;\n ratios: time per proof at n over time at the smallest "
          "n, beside log2(n) over log2(smallest n))")


# ---------------------------------------------------------------------------- part 2


def build_archive(home: Path, records: int) -> tuple[Any, float]:
    archive, _ = init_archive(load_settings(env={"ARCHIVER_HOME": str(home)}),
                              "bench.archiver/log")
    lines = observations(records, 7)
    start = time.perf_counter()
    summary = archive.ingestor.ingest(
        o for _, o in read_jsonl(io.BytesIO(b"".join(lines)), max_text_bytes=100_000,
                                 max_line_bytes=1_000_000))
    assert summary.archived == records, summary.as_dict()
    return archive, records / (time.perf_counter() - start)


def raw_sha256(objects: Path) -> tuple[int, int, float]:
    """(lines, bytes, seconds) to read every segment and hash each line as a leaf."""
    start = time.perf_counter()
    count = size = 0
    for seg in sorted((objects / "log").glob("*.jsonl")):
        data = seg.read_bytes()
        size += len(data)
        for line in data.split(b"\n")[:-1]:
            hashlib.sha256(b"\x00" + line).digest()
            count += 1
    return count, size, time.perf_counter() - start


def offline_subprocess(objects: Path, vkey: Path) -> tuple[dict[str, Any], float]:
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "archiver.verify_offline", "store",
                           str(objects), "--vkey", str(vkey)], capture_output=True, check=False)
    elapsed = time.perf_counter() - start
    summary = json.loads(proc.stdout.decode().strip().splitlines()[-1])
    assert proc.returncode == 0 and summary["ok"], proc.stdout[-2000:] + proc.stderr[-2000:]
    return summary, elapsed


def offline_in_process(objects: Path, vkey: Path) -> tuple[dict[str, Any], float]:
    out = io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stdout(out):
        status = verify_offline.main(["store", str(objects), "--vkey", str(vkey)])
    elapsed = time.perf_counter() - start
    summary = json.loads(out.getvalue().strip().splitlines()[-1])
    assert status == 0 and summary["ok"], out.getvalue()[-2000:]
    return summary, elapsed


def verification(tmp: Path, records: int, rounds: int) -> None:
    archive, ingest_rate = build_archive(tmp / "archive", records)
    objects = archive.settings.objects_dir
    vkey = tmp / "vkey.txt"
    vkey.write_text(archive.appender.p.signer.vkey() + "\n")

    n_lines, n_bytes, _ = raw_sha256(objects)
    summary, _ = offline_in_process(objects, vkey)
    assert summary["records"] == n_lines, (summary, n_lines)

    def startup() -> float:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import archiver.verify_offline"], check=True)
        return time.perf_counter() - start

    def full() -> float:
        start = time.perf_counter()
        report = verify_archive(archive.appender)
        elapsed = time.perf_counter() - start
        assert report.ok and report.records == n_lines, report.as_dict()
        return elapsed

    runs: dict[str, Callable[[], float]] = {
        "raw": lambda: raw_sha256(objects)[2],
        "sub": lambda: offline_subprocess(objects, vkey)[1],
        "startup": startup,
        "in": lambda: offline_in_process(objects, vkey)[1],
        "full": full,
    }
    times: dict[str, list[float]] = {k: [] for k in runs}
    for _ in range(rounds):  # interleaved, as in part 1
        for name, fn in runs.items():
            times[name].append(fn())
    med = {k: statistics.median(v) for k, v in times.items()}
    raw_rate, sub_rate, in_rate, full_rate = (n_lines / med[k] for k in ("raw", "sub", "in",
                                                                        "full"))
    startup_s = med["startup"]
    archive.close()

    print(f"\n2. verification of a real archive: {n_lines} records ({records} observations + "
          f"system), {summary['segments']} segments, {summary['checkpoints']} checkpoints, "
          f"{n_bytes / 1e6:.1f} MB of segments (built at {ingest_rate:.0f} records/s), "
          f"median of {rounds} runs")
    print(f"raw SHA-256(0x00 || line), read + split + hash {raw_rate:>10.0f} records/s")
    print(f"archiver-verify store, subprocess              {sub_rate:>10.0f} records/s   "
          f"{sub_rate / raw_rate:6.1%} of raw SHA-256   "
          f"(of which interpreter + import {startup_s:.2f} s)")
    print(f"archiver-verify store, main() in process       {in_rate:>10.0f} records/s   "
          f"{in_rate / raw_rate:6.1%} of raw SHA-256")
    print(f"archiver verify (decrypting all)               {full_rate:>10.0f} records/s   "
          f"{full_rate / raw_rate:6.1%} of raw SHA-256")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10000,100000,1000000",
                    help="tree sizes for the proofs, comma-separated")
    ap.add_argument("--rounds", type=int, default=5, help="rounds per median")
    ap.add_argument("--proofs", type=int, default=1000, help="proofs per round")
    ap.add_argument("--records", type=int, default=20_000,
                    help="observations in the archive that is verified")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    tmp = Path(tempfile.mkdtemp(prefix="archiver-proofs-"))
    try:
        results = measure_proofs(tmp, sizes, args.rounds, args.proofs)
        print_proofs(results, args.rounds, args.proofs)
        verification(tmp, args.records, args.rounds)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
