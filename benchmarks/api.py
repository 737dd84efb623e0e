"""The HTTP service under load: gunicorn with deploy/gunicorn.conf.py on a free loopback
port, over a temporary archive holding the demo data, driven from separate client
processes (threads with keep-alive http.client connections; wrk is not assumed).

Prints requests/s and p50/p95 latency for
  health    GET /api/v1/health: no token, no audit, no catalog; the server's ceiling
  record    GET /api/v1/records/{seq}: token check, catalog, store read, decrypt, audit
  ingest    POST /api/v1/ingest, 100 new observations per request (JSON Lines)
and each one's ratio to the ceiling, measured in the same run on the same server.
Each phase stops at --seconds or --requests, whichever comes first.

    python benchmarks/api.py [--seconds 5] [--requests 20000] [--clients 2] [--threads 4]
                             [--catalog-url postgresql://...]
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BATCH = 100


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Phase:
    """What one client process does: picklable, so it crosses to a spawned process."""

    kind: str  # health | record | ingest
    port: int
    token: str
    seconds: float
    requests: int  # this process's share
    threads: int
    process: int
    max_seq: int = 1


@dataclass
class Result:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    elapsed: float = 0.0


def _observations(tag: str, n: int) -> bytes:
    words = ("poplave", "mvua", "سیل", "flood", "road", "closed", "council", "river")
    lines = []
    for i in range(n):
        text = " ".join(random.choice(words) for _ in range(25))
        lines.append(json.dumps({
            "platform": "mastodon", "account": "bench", "item_id": f"{tag}-{i}", "kind": "post",
            "text": text, "observed_at": "2026-01-01T00:00:00Z",
            "published_at": "2026-01-01T00:00:00Z",
            "raw": {"id": f"{tag}-{i}", "content": f"<p>{text}</p>", "replies_count": i}},
            ensure_ascii=False))
    return ("\n".join(lines) + "\n").encode()


def _thread(phase: Phase, index: int, quota: int, deadline: float, out: Result,
            lock: threading.Lock) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", phase.port, timeout=60)
    auth = {"Authorization": f"Bearer {phase.token}"}
    rng = random.Random(phase.process * 1000 + index)
    latencies: list[float] = []
    errors = 0
    n = 0
    while n < quota and time.perf_counter() < deadline:
        if phase.kind == "health":
            method, path, body, headers = "GET", "/api/v1/health", None, {}
        elif phase.kind == "record":
            seq = rng.randrange(1, phase.max_seq)
            method, path, body, headers = "GET", f"/api/v1/records/{seq}", None, auth
        else:
            body = _observations(f"p{phase.process}t{index}n{n}", BATCH)
            method, path = "POST", "/api/v1/ingest"
            headers = {**auth, "Content-Type": "application/x-ndjson"}
        started = time.perf_counter()
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            ok = response.status == 200
        except (OSError, http.client.HTTPException):
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", phase.port, timeout=60)
            ok = False
        latencies.append(time.perf_counter() - started)
        errors += not ok
        n += 1
    conn.close()
    with lock:
        out.latencies.extend(latencies)
        out.errors += errors


def run_client(phase: Phase) -> Result:
    """One client process: `phase.threads` connections, each its share of the quota."""
    out, lock = Result(), threading.Lock()
    started = time.perf_counter()
    deadline = started + phase.seconds
    per_thread = max(1, phase.requests // phase.threads)
    threads = [threading.Thread(target=_thread, args=(phase, i, per_thread, deadline, out, lock))
               for i in range(phase.threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.elapsed = time.perf_counter() - started
    return out


def measure(pool: multiprocessing.pool.Pool, kind: str, args: argparse.Namespace, port: int,
            token: str, max_seq: int) -> dict[str, float]:
    phases = [Phase(kind, port, token, args.seconds, args.requests // args.clients, args.threads,
                    p, max_seq) for p in range(args.clients)]
    results = pool.map(run_client, phases)
    latencies = sorted(x for r in results for x in r.latencies)
    elapsed = max(r.elapsed for r in results)
    count = len(latencies)
    return {"requests": count, "errors": sum(r.errors for r in results),
            "rps": count / elapsed if elapsed else 0.0,
            "p50_ms": statistics.median(latencies) * 1000 if latencies else 0.0,
            "p95_ms": latencies[int(0.95 * (count - 1))] * 1000 if latencies else 0.0}


def _wait(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"gunicorn exited:\n{log.read_text()[-3000:]}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/api/v1/health")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    sys.exit("gunicorn did not answer within 60 s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="per phase, at most")
    parser.add_argument("--requests", type=int, default=20000, help="per phase, at most")
    parser.add_argument("--ingest-requests", type=int, default=300,
                        help="ingest batches per phase, at most")
    parser.add_argument("--clients", type=int, default=2, help="client processes")
    parser.add_argument("--threads", type=int, default=4, help="connections per client")
    parser.add_argument("--catalog-url", default="", help="PostgreSQL catalog (default SQLite)")
    args = parser.parse_args()

    bin_dir = Path(sys.executable).parent
    work = Path(tempfile.mkdtemp(prefix="archiver-bench-api-"))
    env = {**os.environ, "ARCHIVER_HOME": str(work / "home"), "PYTHONPATH": str(ROOT)}
    if args.catalog_url:
        env["ARCHIVER_CATALOG_URL"] = args.catalog_url
    process = None
    try:
        cli = [sys.executable, "-m", "archiver.cli"]
        subprocess.run([*cli, "demo"], env=env, check=True, capture_output=True)
        token = subprocess.run([*cli, "tokens", "create", "--name", "bench", "--role", "admin"],
                               env=env, check=True, capture_output=True, text=True).stdout.strip()
        port = free_port()
        log = work / "gunicorn.log"
        gunicorn_env = {**env, "ARCHIVER_BIND": f"127.0.0.1:{port}"}
        with log.open("wb") as out:
            process = subprocess.Popen(
                [str(bin_dir / "gunicorn"), "-c", str(ROOT / "deploy" / "gunicorn.conf.py"),
                 "--access-logfile", "/dev/null"],
                env=gunicorn_env, stdout=out, stderr=subprocess.STDOUT, cwd=work)
        _wait(port, process, log)
        workers = min(4, max(2, os.cpu_count() or 2))
        print(f"server: gunicorn {workers} workers x 4 threads (gthread) on 127.0.0.1:{port}, "
              f"{'PostgreSQL' if args.catalog_url else 'SQLite'} catalog, filesystem store; "
              f"client: {args.clients} processes x {args.threads} keep-alive connections; "
              f"{os.cpu_count()} CPUs shared by both")
        ctx = multiprocessing.get_context("spawn")
        with ctx.Pool(args.clients) as pool:
            measure(pool, "health", argparse.Namespace(**{**vars(args), "seconds": 1}), port,
                    token, 2)  # warm-up: imports, connections, first requests
            health = measure(pool, "health", args, port, token, 2)
            record = measure(pool, "record", args, port, token, 56)
            ingest_args = argparse.Namespace(**{**vars(args), "requests": args.ingest_requests})
            ingest = measure(pool, "ingest", ingest_args, port, token, 2)
        rows = [("health (ceiling)", health), ("GET /records/{seq}", record),
                (f"POST /ingest ({BATCH} obs)", ingest)]
        print(f"{'':24} {'req/s':>9} {'p50 ms':>8} {'p95 ms':>8} {'requests':>9} {'errors':>7}"
              f" {'vs ceiling':>10}")
        for name, r in rows:
            ratio = r["rps"] / health["rps"] if health["rps"] else 0.0
            print(f"{name:24} {r['rps']:9.1f} {r['p50_ms']:8.2f} {r['p95_ms']:8.2f} "
                  f"{r['requests']:9d} {r['errors']:7d} {ratio:10.3f}")
        print(f"ingest: {ingest['rps'] * BATCH:.0f} observations/s archived over HTTP")
        if any(r["errors"] for _, r in rows):
            sys.exit("some requests failed")
    finally:
        if process is not None:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
