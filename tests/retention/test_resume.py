"""An interrupted run resumes: a child process executing a run is killed (after some
batches, or between the catalog commit and the key-object purge), the archive still
verifies, and executing again finishes the job without destroying anything twice or
skipping a record."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select

from archiver.catalog import schema as t
from archiver.disposal import _logged, approve_run, create_run, execute_run, get_run
from archiver.log.envelope import keys_key
from archiver.log.segments import decode_keys
from archiver.log.verify import verify_archive
from archiver.wiring import Archive
from tests.retention.conftest import (
    ALICE,
    BOB,
    add_hold,
    add_policy,
    capture_seqs,
    offline_verify,
    readable,
)

CHILD = """
import json, os, signal, sys
from archiver.config import load_settings
from archiver.wiring import open_archive
import archiver.disposal as disposal

env, run_id, mode = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
archive = open_archive(load_settings(env=env))

def die(*_a, **_k):
    os.kill(os.getpid(), signal.SIGKILL)

if mode == "window":  # the catalog has committed the first batch; the store not yet
    disposal.purge_store_keys = die
    after = None
else:
    after = lambda done: die() if done >= 4 else None
disposal.execute_run(archive, run_id, disposal.Actor.cli("bob"), batch=2, after_batch=after)
"""


def run_child(env: dict[str, str], run_id: str, mode: str) -> None:
    result = subprocess.run([sys.executable, "-c", CHILD, json.dumps(env), run_id, mode],
                            capture_output=True, text=True, timeout=300,
                            env={**os.environ, **env})
    assert result.returncode == -signal.SIGKILL, result.stderr[-3000:]


def approved_run(archive: Archive) -> str:
    add_policy(archive, scope={"platforms": ["bluesky", "x"]})
    add_hold(archive, platforms=["x"])
    run = create_run(archive, ALICE)
    approve_run(archive, run["id"], BOB)
    return run["id"]


def destroyed_in_log(archive: Archive, run_id: str) -> Counter[int]:
    return Counter(r["seq"] for _, _, d in _logged(archive.appender, "key.destroyed")
                   if d["run_id"] == run_id for r in d["records"])


@pytest.mark.slow
def test_a_run_killed_after_some_batches_resumes_without_double_work(
        demo: Archive, backend_env: dict[str, str], tmp_path: Path) -> None:
    run_id = approved_run(demo)
    bluesky = capture_seqs(demo, platform="bluesky")
    run_child(backend_env, run_id, "batches")
    assert get_run(demo, run_id)["state"] == "executing"
    part = destroyed_in_log(demo, run_id)
    assert 4 <= len(part) < len(bluesky)
    assert verify_archive(demo.appender).ok
    done = execute_run(demo, run_id, BOB)
    assert done["state"] == "done" and done["outcomes"]["destroyed"] == len(bluesky)
    assert destroyed_in_log(demo, run_id) == Counter({s: 1 for s in bluesky})
    assert [r["seq"] for r in done["certificate"]["records"]] == bluesky
    assert not any(readable(demo, s) for s in bluesky)
    assert all(readable(demo, s) for s in capture_seqs(demo, platform="x"))
    assert verify_archive(demo.appender).ok
    assert offline_verify(demo, tmp_path).returncode == 0


@pytest.mark.slow
def test_a_crash_between_catalog_and_store_verifies_and_the_rerun_purges_the_keys(
        demo: Archive, backend_env: dict[str, str], tmp_path: Path) -> None:
    run_id = approved_run(demo)
    run_child(backend_env, run_id, "window")
    first = sorted(destroyed_in_log(demo, run_id))
    assert len(first) == 2
    with demo.catalog.reader() as conn:
        seg = conn.execute(select(t.records.c.kid, t.records.c.segment_first, t.segments.c.last)
                           .join(t.segments, t.segments.c.first == t.records.c.segment_first)
                           .where(t.records.c.seq == first[0])).one()
    name = keys_key(seg.segment_first, seg.last)
    assert seg.kid in decode_keys(demo.store.get(name), where=name).keys  # still on the store
    assert not readable(demo, first[0])  # ...but no code path reads it any more
    report = verify_archive(demo.appender)
    assert report.ok, report.failures
    assert offline_verify(demo, tmp_path).returncode == 0
    execute_run(demo, run_id, BOB)
    assert seg.kid not in decode_keys(demo.store.get(name), where=name).keys
    assert max(destroyed_in_log(demo, run_id).values()) == 1
    assert verify_archive(demo.appender).ok
