"""An export killed half-way (the child process gets SIGKILL while it writes the bag)
leaves no package that looks complete: no output file, no zip, and a job that reads as
interrupted once it has stopped moving; a new export afterwards succeeds."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import update

from archiver.exports.jobs import exports, get_export
from archiver.records import parse_observation
from archiver.wiring import Archive
from tests.exports.conftest import run_cli


def _many(archive: Archive, n: int) -> None:
    archive.ingestor.ingest(parse_observation(
        {"platform": "mastodon", "account": "42", "item_id": f"m{i}", "kind": "post",
         "text": f"Mafuriko {i} — سیل شماره {i} — poplava {i}",
         "observed_at": "2026-11-21T10:00:00Z"}, max_text_bytes=100_000) for i in range(n))


@pytest.mark.slow
def test_a_killed_export_leaves_no_complete_looking_package(thread: Archive,
                                                            tmp_path: Path) -> None:
    if thread.settings.store.kind != "filesystem":
        pytest.skip("one backend is enough: the package is written on the local disk")
    _many(thread, 300)
    home = str(thread.settings.home)
    out = tmp_path / "out" / "killed.zip"
    out.parent.mkdir()
    env = {**os.environ, "ARCHIVER_HOME": home}
    script = Path(sys.executable).parent / "archiver"
    child = subprocess.Popen([str(script), "export", "--platform", "mastodon", "--out",
                              str(out), "--actor", "counsel"], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    staging = thread.settings.home / "exports" / "staging"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and child.poll() is None:
        if staging.exists() and any(p.suffix == ".json" for p in staging.rglob("*")):
            break
        time.sleep(0.01)
    assert child.poll() is None, "the export finished before it could be interrupted"
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)

    assert not out.exists()
    leftovers = [p for p in [*out.parent.iterdir(), *thread.settings.home.rglob("*")]
                 if p.is_file() and p.name.endswith(".zip")]
    assert leftovers == []
    with thread.catalog.reader() as conn:
        row = conn.execute(exports.select()).one()
    assert row.state == "running" and row.path is None and row.sha256 is None
    with thread.catalog.writer() as conn:  # as if it had not moved for an hour
        conn.execute(update(exports).values(updated_at="2000-01-01T00:00:00.000000Z"))
    assert get_export(thread, row.id).state == "interrupted"
    assert (staging / row.id).is_dir()  # what the killed export left: not a package

    again = run_cli(home, "export", "--item", "mastodon:p1", "--out", str(out), "--actor",
                    "counsel")
    assert again.exit_code == 0, again.output
    assert zipfile.ZipFile(out).testzip() is None
    assert not (staging / row.id).exists()  # swept by the next export
